"""Scenario files: the YAML schema, its checks and the `Scenario` / `Baseline` objects (no network work here).

Every check runs before anything is loaded: an unknown key, a bad value, a missing file or a ``from``
loop raises `ScenarioError` naming the file, the scenario, the key and the closest valid key or name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ScenarioError
from ..settings import Settings
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
    file_value,
    moves_value,
    residents_value,
    settings_fields,
    site_value,
)

TOP_KEYS = ("name", "baseline", "scenarios")
BASELINE_KEYS = ("osm", "place", "facilities", "population", "census", "census_column", "subdistrict_totals",
                 "boundaries", "district", "mode", "speed_kmh", "minutes", "target", "facility_types", "max_snap_m")
SCENARIO_KEYS = ("name", "from", "close", "add", "move", "mode", "speed_kmh", "minutes", "target", "facility_types",
                 "site", "add_population")

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
        if self.from_ is not None:
            put(self, "from_", str(self.from_))
        close = [self.close] if isinstance(self.close, str | int) else self.close if self.close is not None else ()
        if not isinstance(close, Sequence):
            raise w.error("close", f"expected a list of facility ids or names, got {self.close!r}")
        put(self, "close", tuple(str(c).strip() for c in close))
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


@dataclass(frozen=True)
class Baseline:
    """What ``siting coverage`` takes (file paths absolute), read from a file's ``baseline:`` mapping."""

    osm: Path | None = None
    place: str | None = None
    facilities: FileSpec | None = None
    population: FileSpec | None = None
    census: Path | None = None
    census_column: str = "pop_census_2020"
    subdistrict_totals: tuple[Path, ...] = ()
    boundaries: Path | None = None
    district: str | None = None
    mode: str = "walk"
    speed_kmh: float | None = None
    minutes: float = 15.0
    target: float | None = None
    facility_types: tuple[str, ...] | None = None
    max_snap_m: float = 500.0

    @classmethod
    def from_dict(cls, data: object, *, base_dir: Path, file: str | None = None) -> Baseline:
        w = Where(file, None, base_dir)
        d = w.keys(data, BASELINE_KEYS, None, "`baseline`")
        if ("osm" in d) == ("place" in d):
            raise w.error("osm", "give exactly one of `osm` (a file) or `place` (a name to download)")
        if "place" in d and "population" not in d:
            raise w.error("population", "a population file is needed with `place`")
        if "census" in d and "population" not in d:
            raise w.error("census", "`census` totals weight a `population` file; give one")
        base = cls(
            osm=w.path("osm", d["osm"]) if "osm" in d else None,
            place=str(d["place"]) if "place" in d else None,
            facilities=file_value(w, "facilities", d["facilities"]) if "facilities" in d else None,
            population=file_value(w, "population", d["population"]) if "population" in d else None,
            census=w.path("census", d["census"]) if "census" in d else None,
            census_column=str(d.get("census_column", "pop_census_2020")),
            subdistrict_totals=tuple(w.path(f"subdistrict_totals[{i}]", p) for i, p in enumerate(
                [d["subdistrict_totals"]] if isinstance(d.get("subdistrict_totals"), str) else
                d.get("subdistrict_totals") or [], start=1)),
            boundaries=w.path("boundaries", d["boundaries"]) if "boundaries" in d else None,
            district=str(d["district"]) if d.get("district") is not None else None,
            mode=str(d.get("mode", "walk")), speed_kmh=d.get("speed_kmh"), minutes=d.get("minutes", 15.0),
            target=d.get("target"), facility_types=d.get("facility_types"),
            max_snap_m=w.number("max_snap_m", d.get("max_snap_m", 500.0)),
        )
        settings_fields(w, base)
        return base

    def settings(self) -> Settings:
        return Settings(mode=self.mode, speed_kmh=self.speed_kmh, minutes=float(self.minutes),
                        max_snap_m=self.max_snap_m)

    def load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`siting.pipeline.load_inputs` (network and settings excluded)."""
        return {"facilities": self.facilities.path if self.facilities else None,
                "facility_crs": self.facilities.crs if self.facilities else "wgs84",
                "population": self.population.path if self.population else None,
                "population_crs": self.population.crs if self.population else "wgs84",
                "census": self.census, "census_column": self.census_column,
                "subdistrict_totals": list(self.subdistrict_totals) or None, "boundaries": self.boundaries,
                "district": self.district}


@dataclass(frozen=True)
class ScenarioFile:
    """A parsed scenario file: its title, baseline and scenarios (in file order)."""

    name: str
    baseline: Baseline
    scenarios: tuple[Scenario, ...]
    path: Path | None = None

    def files(self) -> list[Path]:
        """Every input file the scenario file names (an output folder must never replace one of them)."""
        b = self.baseline
        out = [p for p in (self.path, b.osm, b.census, b.boundaries, *b.subdistrict_totals) if p is not None]
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
        Unreadable YAML (with its line), unknown keys, bad values, missing files, unknown or looping
        ``from``, duplicate names — each naming the scenario, the key and the closest valid one.
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"scenario file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not a readable YAML file: {exc}") from None
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
        move = {_facility_id(w, f"move.{token}", token, have): pos for token, pos in s.move}
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
