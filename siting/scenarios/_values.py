"""Values inside a scenario file: files, added facilities / residents, new positions, siting.

Each is checked with a message naming the file, the scenario, the key and the closest valid key or value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .. import _validate
from ..errors import ColumnError, ModelError, ScenarioError
from ..io.coords import CRS_ALIASES
from ..io.facilities import FACILITY_TYPES, normalize_type
from ..settings import MODES

SITE_KEYS = ("k", "target", "candidates", "spacing_m", "min_distance_m", "per_subdistrict", "time_limit")
FILE_KEYS = ("path", "crs")
FACILITY_KEYS = ("id", "name", "type", "lon", "lat", "crs")
RESIDENT_KEYS = ("name", "population", "lon", "lat", "crs")
POSITION_KEYS = ("lon", "lat", "crs", "name")
T = TypeVar("T")  # the inline point type of `_points`

#: The name of the unedited run in every table.
BASELINE = "baseline"


def closest(name: object, known: Iterable[object]) -> str:
    """`` (closest: 'x')`` — the most similar of ``known`` (always one when ``known`` is not empty)."""
    hit = _validate.closest(name, known, cutoff=0.0)
    return f" (closest: {hit!r})" if hit else ""


@dataclass(frozen=True)
class Where:
    """Where a value comes from, for messages: file, scenario (None = the baseline), key."""

    file: str | None = None
    scenario: str | None = None
    base_dir: Path = field(default_factory=Path.cwd)

    def error(self, key: str | None, message: str) -> ScenarioError:
        parts = [self.file] if self.file else []
        parts.append(f"scenario {self.scenario!r}" if self.scenario is not None else BASELINE)
        if key is not None:
            parts.append(f"key {key!r}")
        return ScenarioError(": ".join(parts + [message]))

    def keys(self, data: object, allowed: Sequence[str], key: str | None, what: str) -> Mapping[str, Any]:
        """Return ``data`` as a mapping whose keys are all in ``allowed`` (the unknown one named, with the closest)."""
        if not isinstance(data, Mapping):
            raise self.error(key, f"{what} must be a mapping of {', '.join(allowed)}; got {data!r}")
        for k in data:
            if str(k) not in allowed:
                at = f"{key}.{k}" if key else str(k)
                raise self.error(at, f"unknown key{closest(k, allowed)}; valid keys: {', '.join(allowed)}")
        return data

    def ranged(self, key: str, value: object, name: str | None = None) -> float:
        """``value`` checked against its span of :data:`siting._validate.RANGES` (``name``, else ``key``'s last part).

        The spans the CLI, batch files and the library check, so all accept and refuse the same values.
        """
        problem = _validate.range_problem(name or key.rsplit(".", 1)[-1], value)
        if problem is not None:
            raise self.error(key, problem)
        return float(value)  # type: ignore[arg-type]

    def crs(self, key: str, value: object) -> str:
        text = str(value or "wgs84").strip().lower()
        if text not in CRS_ALIASES:
            raise self.error(key, f"unknown coordinate system {value!r}{closest(text, ('wgs84', 'gcj02', 'bd09'))}")
        return CRS_ALIASES[text]

    def path(self, key: str, value: object) -> Path:
        """Return an existing, non-empty file (relative paths against the scenario file's folder)."""
        if not isinstance(value, str | Path) or not str(value).strip():
            raise self.error(key, f"expected a file path, got {value!r}")
        path = Path(value)
        path = path if path.is_absolute() else self.base_dir / path
        if not path.is_file():
            folder = path.parent
            near = closest(path.name, sorted(p.name for p in folder.iterdir())) if folder.is_dir() else ""
            where = "" if folder.is_dir() else f" (folder {folder} does not exist either)"
            raise self.error(key, f"file not found: {path}{where}{near}")
        if path.stat().st_size == 0:
            raise self.error(key, f"file is empty: {path}")
        return path.resolve()


@dataclass(frozen=True)
class FileSpec:
    """A file named in a scenario (absolute path) and the coordinate system of its points."""

    path: Path
    crs: str = "wgs84"


@dataclass(frozen=True, kw_only=True)
class Position:
    """Where a moved facility goes (``name`` optionally renames it, e.g. its new address).

    Also the place of the other inline points of a scenario file: ``lon``/``lat`` in ``crs``, and a ``name``.
    """

    lon: float
    lat: float
    crs: str = "wgs84"
    name: str | None = None


@dataclass(frozen=True, kw_only=True)
class NewFacility(Position):
    """One facility added inline (``id`` defaults to ``<scenario>:<n>``)."""

    type: str = "station"
    id: str | None = None


@dataclass(frozen=True, kw_only=True)
class NewResidents(Position):
    """Residents added at one point (a new housing estate)."""

    population: float


@dataclass(frozen=True)
class SiteSpec:
    """New stations chosen by the optimiser: ``k`` sites, or the fewest reaching ``target``."""

    k: int | None = None
    target: float | None = None
    candidates: FileSpec | None = None
    spacing_m: float = 200.0
    min_distance_m: float = 300.0
    per_subdistrict: bool = False
    time_limit: float = 60.0


def file_value(w: Where, key: str, value: object) -> FileSpec:
    if isinstance(value, FileSpec):
        return FileSpec(w.path(key, value.path), w.crs(key, value.crs))
    if isinstance(value, Mapping):
        data = w.keys(value, FILE_KEYS, key, "a file")
        if "path" not in data:
            raise w.error(key, "a file needs `path` (and optionally `crs`)")
        return FileSpec(w.path(f"{key}.path", data["path"]), w.crs(f"{key}.crs", data.get("crs")))
    return FileSpec(w.path(key, value))


def _place(w: Where, key: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the checked ``lon``, ``lat``, ``crs`` and ``name`` of an inline point (the fields of `Position`)."""
    for k in ("lon", "lat"):
        if k not in data:
            raise w.error(key, f"missing `{k}` (each point needs lon, lat and optionally crs)")
    lon, lat = w.ranged(f"{key}.lon", data["lon"]), w.ranged(f"{key}.lat", data["lat"])
    name = None if data.get("name") is None else str(data["name"])
    return {"lon": lon, "lat": lat, "crs": w.crs(f"{key}.crs", data.get("crs")), "name": name}


def _as_dict(obj: object) -> Mapping[str, Any] | object:
    """Already parsed objects back to their mapping form (parsing is idempotent)."""
    if isinstance(obj, Position):
        return {k: v for k, v in obj.__dict__.items() if v is not None}
    return obj


def _items(value: object) -> list[Any]:
    """Return a list of entries: one file spec (text or {path}) or a list of them / of inline points."""
    if isinstance(value, str | Path | FileSpec) or (isinstance(value, Mapping) and "path" in value):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return [value]


def _points(w: Where, value: object, name: str, allowed: Sequence[str], what: str,
            build: Callable[[int, str, Mapping[str, Any], dict[str, Any]], T]) -> tuple[T | FileSpec, ...]:
    """Return the entries of ``value``: checked files, and inline points made by ``build(n, key, data, place)``."""
    out: list[T | FileSpec] = []
    for i, item in enumerate(_items(value), start=1):
        item = _as_dict(item)
        key = f"{name}[{i}]"
        if isinstance(item, str | Path | FileSpec) or (isinstance(item, Mapping) and "path" in item):
            out.append(file_value(w, key, item))
        else:
            data = w.keys(item, allowed, key, what)
            out.append(build(i, key, data, _place(w, key, data)))
    return tuple(out)


def facilities_value(w: Where, value: object) -> tuple[NewFacility | FileSpec, ...]:
    def facility(i: int, key: str, data: Mapping[str, Any], place: dict[str, Any]) -> NewFacility:
        try:
            kind = normalize_type(data.get("type", "station"))
        except ColumnError:
            raise w.error(f"{key}.type", f"unknown facility type {data.get('type')!r}"
                                         f"{closest(data.get('type'), FACILITY_TYPES)}") from None
        fid = data.get("id")
        return NewFacility(**place, type=kind, id=f"{w.scenario}:{i}" if fid is None else str(fid))

    return _points(w, value, "add", FACILITY_KEYS, "an added facility", facility)


def residents_value(w: Where, value: object) -> tuple[NewResidents | FileSpec, ...]:
    def residents(_: int, key: str, data: Mapping[str, Any], place: dict[str, Any]) -> NewResidents:
        if "population" not in data:
            raise w.error(key, "missing `population` (residents at this point)")
        return NewResidents(**place, population=w.ranged(f"{key}.population", data["population"]))

    return _points(w, value, "add_population", RESIDENT_KEYS, "added residents", residents)


def moves_value(w: Where, value: object) -> tuple[tuple[str, Position], ...]:
    if isinstance(value, Sequence) and not isinstance(value, str) and all(
            isinstance(v, tuple) and len(v) == 2 for v in value):
        ids = [str(fid).strip() for fid, _ in value]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise w.error("move", f"moves {twice[0]!r} twice; give one new position per facility")
        value = dict(value)
    if not isinstance(value, Mapping):
        raise w.error("move", f"expected a mapping facility id or name → {{lon, lat, crs}}; got {value!r}")
    out = []
    ids = [str(fid).strip() for fid in value]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise w.error("move", f"moves {twice[0]!r} twice (keys that read alike); give one new position per facility")
    for fid, pos in value.items():
        key = f"move.{fid}"
        pos = _as_dict(pos)
        if isinstance(pos, Sequence) and not isinstance(pos, str) and len(pos) == 2:
            pos = {"lon": pos[0], "lat": pos[1]}
        data = w.keys(pos, POSITION_KEYS, key, "a new position")
        out.append((str(fid), Position(**_place(w, key, data))))
    return tuple(out)


def site_value(w: Where, value: object) -> SiteSpec:
    if isinstance(value, SiteSpec):
        value = {k: v for k, v in value.__dict__.items() if v is not None}
    data = w.keys(value, SITE_KEYS, "site", "`site`")
    if ("k" in data) == ("target" in data):
        raise w.error("site", "give exactly one of `k` (the best k new sites) or `target` (the fewest reaching it)")
    k = int(w.ranged("site.k", data["k"])) if "k" in data else None
    target = w.ranged("site.target", data["target"]) if "target" in data else None
    cand = file_value(w, "site.candidates", data["candidates"]) if data.get("candidates") is not None else None
    per = data.get("per_subdistrict", False)
    if not isinstance(per, bool):
        raise w.error("site.per_subdistrict", f"expected true or false, got {per!r}")
    spec = SiteSpec(k, target, cand, w.ranged("site.spacing_m", data.get("spacing_m", 200.0)),
                    w.ranged("site.min_distance_m", data.get("min_distance_m", 300.0)), per,
                    w.ranged("site.time_limit", data.get("time_limit", 60.0)))
    try:  # the options against each other, as `siting site` checks them (the grid's fineness needs the network)
        _validate.check_site_options(k=k, target=target, per_subdistrict=per, time_limit=spec.time_limit,
                                     spacing_m=spec.spacing_m, min_distance_m=spec.min_distance_m)
    except ModelError as exc:
        raise w.error("site", str(exc)) from None
    return spec


def _types(w: Where, value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not items:
        raise w.error("facility_types", f"expected a list of types, got {value!r}")
    out = tuple(str(t).strip() for t in items if str(t).strip())
    if out == ("all",):
        return tuple(FACILITY_TYPES)
    for t in out:
        if t not in FACILITY_TYPES:
            raise w.error("facility_types", f"unknown type {t!r}{closest(t, FACILITY_TYPES)}; "
                                            f"valid: {', '.join(FACILITY_TYPES)} or all")
    return out


def _mode(w: Where, value: object) -> str:
    if str(value) not in MODES:
        raise w.error("mode", f"unknown mode {value!r}{closest(value, MODES)}; valid: {', '.join(MODES)}")
    return str(value)


def settings_fields(w: Where, obj: Any) -> None:
    """Check and normalise mode / speed_kmh / minutes / target / facility_types in place (frozen dataclass)."""
    put = object.__setattr__
    if obj.mode is not None:
        put(obj, "mode", _mode(w, obj.mode))
    if obj.speed_kmh is not None:
        put(obj, "speed_kmh", w.ranged("speed_kmh", obj.speed_kmh))
    if obj.minutes is not None:
        put(obj, "minutes", w.ranged("minutes", obj.minutes))
    if obj.target is not None:
        put(obj, "target", w.ranged("target", obj.target))
    if obj.facility_types is not None:
        put(obj, "facility_types", _types(w, obj.facility_types))

