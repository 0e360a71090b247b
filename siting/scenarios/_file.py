"""Scenario files: the YAML schema, its checks and the `Scenario` / `Baseline` objects (no network work here).

Every check runs before anything is loaded: an unknown key, a bad value, a missing file or a ``from``
loop raises `ScenarioError` naming the file, the scenario, the key and the closest valid key or name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .._yaml import read_yaml
from ..errors import OutputError, ScenarioError
from ..outputs._outdir import unique_names
from ._baseline import BASELINE_KEYS, Baseline  # noqa: F401  (BASELINE_KEYS: re-exported, read by tests)
from ._values import (
    BASELINE,
    FileSpec,
    NewFacility,
    NewResidents,
    Position,
    SiteSpec,
    Where,
    closest,
    facilities_value,
    moves_value,
    residents_value,
    settings_fields,
    site_value,
)

TOP_KEYS = ("name", "baseline", "scenarios")
SCENARIO_KEYS = ("name", "description", "from", "close", "add", "move", "mode", "speed_kmh", "minutes", "target",
                 "facility_types", "site", "add_population")
#: The longest ``description`` accepted (a sentence or two for the planner; the map shows its start).
DESCRIPTION_MAX = 300

@dataclass(frozen=True)
class Scenario:
    """One edit of the baseline, built from a scenario file entry or in code.

    Parameters
    ----------
    name : str
        Unique; names the rows of the comparison and the output sub-folder.
    from_ : str, optional
        Start from another scenario's end state (its facilities, sited stations, added residents and
        settings) instead of the baseline (``from:`` in the file).
    close : list of str
        Facility ids or names to remove.
    add : list
        Inline facilities ``{name, type, lon, lat, crs, id}`` (type defaults to ``station``) and/or files
        (``"new.csv"`` or ``{path, crs}``, read like ``--facilities``).
    move : mapping
        Facility id or name → new position ``{lon, lat, crs, name}`` (or ``[lon, lat]`` in WGS84).
    mode, speed_kmh, minutes, target, facility_types
        Settings replacing the baseline's (a new ``mode`` without ``speed_kmh`` takes the mode's speed).
    site : mapping
        ``{k}`` or ``{target}``, optional ``candidates`` file (generated on the network otherwise),
        ``spacing_m``, ``min_distance_m``, ``per_subdistrict``, ``time_limit``: new stations chosen by
        the optimiser after the other edits, then counted in this scenario's coverage.
    add_population : list
        Inline ``{lon, lat, population, crs, name}`` and/or files (``{path, crs}``, read like
        ``--population``, with a population column) of residents added to the baseline's.
    description : str, optional
        What the scenario means, for the planner (one line, at most :data:`DESCRIPTION_MAX` characters):
        shown in the console table, comparison.csv / .xlsx, summary.json and the map's layer names.

    Relative paths are resolved against the current folder (in a file: against the file's folder).
    """

    name: str
    from_: str | None = None
    close: tuple[str, ...] = ()
    add: tuple[NewFacility | FileSpec, ...] = ()
    move: tuple[tuple[str, Position], ...] = ()
    mode: str | None = None
    speed_kmh: float | None = None
    minutes: float | None = None
    target: float | None = None
    facility_types: tuple[str, ...] | None = None
    site: SiteSpec | None = None
    add_population: tuple[NewResidents | FileSpec, ...] = ()
    description: str | None = None
    base_dir: Path | None = field(default=None, repr=False, compare=False)
    file: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str | int) or not str(self.name).strip():
            raise Where(self.file, None).error("name", f"every scenario needs a name, got {self.name!r}")
        put = object.__setattr__
        put(self, "name", str(self.name).strip())
        if self.name == BASELINE:
            raise self.where().error("name", f"{BASELINE!r} is the name of the unedited run; choose another")
        w = self.where()
        put(self, "description", _description(w, self.description))
        if self.from_ is not None:
            put(self, "from_", str(self.from_))
        close = [self.close] if isinstance(self.close, str | int) else self.close if self.close is not None else ()
        if not isinstance(close, Sequence):
            raise w.error("close", f"expected a list of facility ids or names, got {self.close!r}")
        odd = [c for c in close if isinstance(c, bool) or not isinstance(c, str | int)]
        if odd:
            raise w.error("close", f"expected facility ids or names (text), got {str(odd[0])[:80]!r}")
        put(self, "close", tuple(str(c).strip() for c in close))
        twice = sorted({c for c in self.close if self.close.count(c) > 1})
        if twice:
            raise w.error("close", f"lists {twice[0]!r} twice; name each facility once")
        put(self, "add", facilities_value(w, self.add) if self.add else ())
        put(self, "move", moves_value(w, self.move) if self.move else ())
        put(self, "add_population", residents_value(w, self.add_population) if self.add_population else ())
        if self.site is not None:
            put(self, "site", site_value(w, self.site))
        settings_fields(w, self)

    def where(self) -> Where:
        return Where(self.file, str(self.name), self.base_dir or Path.cwd())

    @classmethod
    def from_dict(cls, data: object, *, base_dir: Path | None = None, file: str | None = None,
                  index: int = 0) -> Scenario:
        """Parse one entry of a file's ``scenarios:`` list (keys checked, closest key named)."""
        label = str(data.get("name", f"#{index + 1}")) if isinstance(data, Mapping) else f"#{index + 1}"
        entry = Where(file, label).keys(data, SCENARIO_KEYS, None, "a scenario")
        if "name" not in entry:
            raise Where(file, label).error("name", "every scenario needs a name")
        kwargs = {("from_" if k == "from" else str(k)): v for k, v in entry.items()}
        return cls(**kwargs, base_dir=base_dir, file=file)


def _description(w: Where, value: object) -> str | None:
    """Return a scenario's ``description``: one line of text (spaces and line breaks run together), or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise w.error("description", f"expected text (one line for the planner), got {str(value)[:80]!r}")
    text = " ".join(value.split())
    if len(text) > DESCRIPTION_MAX:
        raise w.error("description", f"is {len(text)} characters long; keep it to {DESCRIPTION_MAX} (one or two "
                                     "sentences: the map and the console show it beside the name)")
    return text or None


@dataclass(frozen=True)
class ScenarioFile:
    """A parsed scenario file: its title, baseline and scenarios (in file order)."""

    name: str
    baseline: Baseline
    scenarios: tuple[Scenario, ...]
    path: Path | None = None

    def files(self) -> list[Path]:
        """Every input file (and the cache folder) the scenario file names: an output folder must never replace one."""
        b = self.baseline
        out = [p for p in (self.path, b.osm, b.network_file, b.census, b.boundaries, *b.subdistrict_totals,
                           b.age_shares, b.cache_dir) if p is not None]
        out += [f.path for f in (b.facilities, b.population) if f is not None]
        for s in self.scenarios:
            specs = [*s.add, *s.add_population, *([s.site.candidates] if s.site and s.site.candidates else [])]
            out += [f.path for f in specs if isinstance(f, FileSpec)]
        return list(dict.fromkeys(out))


def read_scenario_file(path: str | Path) -> ScenarioFile:
    """Parse and check a scenario file (YAML); paths inside are relative to the file's folder.

    Raises
    ------
    ScenarioError
        Unreadable YAML (with its line; see :func:`siting._yaml.read_yaml` for the size cap, the alias
        budget and duplicate keys), unknown keys, bad values, missing files, unknown or looping ``from``,
        duplicate names — each naming the scenario, the key and the closest valid one.
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"scenario file not found: {path}")
    data = read_yaml(path, ScenarioError, bad="not a readable YAML file")
    file = str(path)
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{path}: expected a mapping with keys {', '.join(TOP_KEYS)}")
    for k in data:
        if str(k) not in TOP_KEYS:
            raise ScenarioError(f"{path}: unknown top-level key {str(k)!r}{closest(k, TOP_KEYS)}; "
                                f"valid keys: {', '.join(TOP_KEYS)}")
    if "baseline" not in data:
        raise ScenarioError(f"{path}: missing `baseline:` (what `siting coverage` takes)")
    base_dir = path.resolve().parent
    baseline = Baseline.from_dict(data["baseline"], base_dir=base_dir, file=file)
    entries = data.get("scenarios") or []
    if not isinstance(entries, list):
        raise ScenarioError(f"{path}: `scenarios:` must be a list of scenarios (each starting with `- name:`)")
    scenarios = tuple(Scenario.from_dict(e, base_dir=base_dir, file=file, index=i) for i, e in enumerate(entries))
    check_names(scenarios)
    title = str(data.get("name") or path.stem)
    return ScenarioFile(title, baseline, scenarios, path)


def check_names(scenarios: Sequence[Scenario]) -> list[Scenario]:
    """Check unique names, every ``from`` known and no ``from`` loop; return the scenarios parents first."""
    by_name: dict[str, Scenario] = {}
    for s in scenarios:
        if s.name in by_name:
            raise s.where().error("name", "the name is used twice; scenario names must be unique")
        by_name[s.name] = s
        try:  # each name is an output folder too
            unique_names([BASELINE, *by_name], "scenario", "scenario")
        except OutputError as exc:
            raise s.where().error("name", str(exc)) from None
    for s in scenarios:
        if s.from_ is not None and s.from_ not in by_name:
            raise s.where().error("from", f"no scenario named {s.from_!r}{closest(s.from_, by_name)}")
    ordered: list[Scenario] = []
    done: set[str] = set()
    for s in scenarios:
        chain: list[str] = []
        cur: Scenario | None = s
        while cur is not None and cur.name not in done:
            if cur.name in chain:
                loop = " → ".join(chain[chain.index(cur.name):] + [cur.name])
                raise cur.where().error("from", f"`from` loops: {loop}")
            chain.append(cur.name)
            cur = by_name[cur.from_] if cur.from_ is not None else None
        for name in reversed(chain):
            ordered.append(by_name[name])
            done.add(name)
    return ordered


@dataclass(frozen=True)
class Edits:
    """A scenario's facility edits with names resolved to ids: ``close`` ids, ``move`` id → position."""

    close: tuple[str, ...]
    move: dict[str, Position]


def resolve_ids(ordered: Sequence[Scenario], baseline: Iterable[tuple[str, str]],
                added: Mapping[str, Iterable[tuple[str, str]]]) -> dict[str, Edits]:
    """Resolve each scenario's ``close`` / ``move`` entries (ids or names) against its facilities.

    A scenario starts from the baseline's ``(id, name)`` pairs, or from its ``from`` scenario's end state
    (closed ones gone, ``added[name]`` pairs in). Parents must come first (see :func:`check_names`).

    Raises
    ------
    ScenarioError
        An unknown id/name (with the closest id or name), a name shared by several facilities (with
        their ids), a facility both closed and moved, an added id already in use.
    """
    start = dict(baseline)
    end: dict[str, dict[str, str]] = {}
    out: dict[str, Edits] = {}
    for s in ordered:
        w = s.where()
        have = dict(end[s.from_]) if s.from_ is not None else dict(start)
        close = tuple(_facility_id(w, "close", token, have) for token in s.close)
        _once(w, "close", s.close, close)
        moved = [_facility_id(w, f"move.{token}", token, have) for token, _ in s.move]
        _once(w, "move", [token for token, _ in s.move], moved)
        move = {fid: pos for fid, (_, pos) in zip(moved, s.move, strict=True)}
        both = sorted(set(close) & set(move))
        if both:
            raise w.error("move", f"facility {both[0]!r} is both closed and moved")
        for fid in close:
            del have[fid]
        for fid, name in added.get(s.name, ()):
            if fid in have:
                raise w.error("add", f"facility id {fid!r} is already in use ({have[fid]}); give the new one "
                                     "another `id`")
            have[fid] = name
        end[s.name] = have
        out[s.name] = Edits(close, move)
    return out


def _once(w: Where, key: str, tokens: Sequence[str], ids: Sequence[str]) -> None:
    """Refuse one facility named twice in ``close`` / ``move`` (e.g. once by id and once by name)."""
    first: dict[str, str] = {}
    for token, fid in zip(tokens, ids, strict=True):
        if fid in first:
            same = f"{first[fid]!r} and {token!r} are" if first[fid] != token else f"{token!r} is"
            raise w.error(key, f"{same} the same facility (id {fid!r}), named twice; name it once")
        first[fid] = token


def _facility_id(w: Where, key: str, token: str, have: Mapping[str, str]) -> str:
    """Return the id of ``token`` (an id, else a unique exact name) among ``have`` (id → name)."""
    if token in have:
        return token
    ids = [fid for fid, name in have.items() if name == token]
    if len(ids) == 1:
        return ids[0]
    if ids:
        raise w.error(key, f"{len(ids)} facilities are named {token!r} (ids {', '.join(ids)}); give the id")
    hint = closest(token, list(have) + list(have.values()))
    raise w.error(key, f"no facility with id or name {token!r} in this scenario's starting facilities{hint}")
