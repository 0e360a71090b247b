"""A workbench's state as a scenario file, and a workbench started from one.

The file is the one ``siting compare`` reads (see docs/scenarios.md): the baseline as given, and one
scenario holding the edits (``close``, ``add``, ``move``, ``mode`` / ``speed_kmh`` / ``minutes``), so that
``siting compare FILE`` gives the same figures as the workbench shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..errors import ScenarioError
from ..io.facilities import DEFAULT_TYPES
from ..pipeline import load_inputs
from ..scenarios._file import Baseline, Scenario, read_scenario_file
from ..scenarios._values import FileSpec, NewFacility
from ..settings import Settings

# ``wb`` is a :class:`siting.workbench.core.Workbench` (typed ``Any``: core imports this module).
Workbench = Any

__all__ = ["baseline_from_arguments", "baseline_mapping", "from_scenario_file", "to_scenario"]


def baseline_mapping(base: Baseline) -> dict[str, Any]:
    """Return a :class:`Baseline` as the ``baseline:`` mapping of a scenario file (absolute paths)."""
    out: dict[str, Any] = {}
    for key in ("osm", "census", "boundaries"):
        if getattr(base, key) is not None:
            out[key] = str(getattr(base, key))
    if base.place is not None:
        out["place"] = base.place
    if base.network_file is not None:  # the planner's own road lines
        out["network"] = str(base.network_file)
    for key in ("facilities", "population"):
        spec = getattr(base, key)
        if spec is not None:
            out[key] = {"path": str(spec.path), "crs": spec.crs}
    if base.subdistrict_totals:
        out["subdistrict_totals"] = [str(p) for p in base.subdistrict_totals]
    for key in ("census_column", "district", "mode", "speed_kmh", "minutes", "target", "max_snap_m", "overpass_url",
                "nominatim_url"):
        value = getattr(base, key)
        if value is not None:
            out[key] = value
    if base.facility_types:
        out["facility_types"] = list(base.facility_types)
    for key in ("facility_sheet", "age_shares"):
        if getattr(base, key) is not None:
            out[key] = str(getattr(base, key))
    out.update({key: True for key in ("dedupe", "spread_polygons", "allow_broken_network") if getattr(base, key)})
    return out


def baseline_from_arguments(args: dict[str, Any], settings: Settings, *, target: float | None = None,
                            types: tuple[str, ...] | None = None) -> Baseline | None:
    """Return the :class:`Baseline` of :func:`siting.pipeline.load_inputs` arguments (every input option has a key).

    ``book.xlsx#Sheet`` facilities become ``facilities`` + ``facility_sheet``. None for a run without files
    (nothing to name: a network given as an object).
    """
    if args.get("network") is not None and not any(args.get(k) for k in ("osm", "place", "network_file")):
        return None
    sheet = None
    if args.get("facilities") is not None and "#" in str(args["facilities"]):
        book, sheet = str(args["facilities"]).rsplit("#", 1)
        args = {**args, "facilities": book}

    def path(value: Any) -> Path | None:
        return Path(value).resolve() if value is not None else None

    def spec(value: Any, crs: str) -> FileSpec | None:
        return FileSpec(Path(value).resolve(), crs) if value is not None else None

    totals = args.get("subdistrict_totals") or ()
    return Baseline(osm=path(args.get("osm")), place=args.get("place"), network_file=path(args.get("network_file")),
                    facilities=spec(args.get("facilities"), args.get("facility_crs", "wgs84")),
                    population=spec(args.get("population"), args.get("population_crs", "wgs84")),
                    census=path(args.get("census")), census_column=args.get("census_column", "pop_census_2020"),
                    subdistrict_totals=tuple(Path(p).resolve() for p in ([totals] if isinstance(totals, str | Path)
                                                                          else totals)),
                    boundaries=path(args.get("boundaries")), district=args.get("district"), mode=settings.mode,
                    speed_kmh=settings.speed_kmh, minutes=float(settings.minutes), target=target,
                    facility_types=tuple(types) if types else None, max_snap_m=float(settings.max_snap_m),
                    overpass_url=args.get("overpass_url"), nominatim_url=args.get("nominatim_url"),
                    facility_sheet=sheet, dedupe=bool(args.get("dedupe")),
                    spread_polygons=bool(args.get("spread_polygons")),
                    allow_broken_network=bool(args.get("allow_broken_network")),
                    age_shares=path(args.get("age_shares")))


def to_scenario(wb: Workbench, name: str) -> dict[str, Any]:
    """Return the scenario file (a mapping) holding ``wb``'s baseline and its edits as scenario ``name``.

    Raises
    ------
    ScenarioError
        When the workbench was not started from files (there is no baseline to write).
    """
    if not isinstance(wb.source, Baseline):
        raise ScenarioError("this workbench was started from loaded inputs, not from files: start it from files "
                            "(`siting app`, or Workbench.from_scenario_file) to save a scenario")
    tab = wb._table
    original = ~wb._added
    scenario: dict[str, Any] = {"name": str(name)}
    closed = tab.loc[original & ~wb._open, "facility_id"].astype(str).tolist()
    if closed:
        scenario["close"] = closed
    first = wb.inputs.facilities.to_crs("EPSG:4326").geometry.reset_index(drop=True)
    moved = {}
    for r in np.flatnonzero(original & wb._open).tolist():
        geom = tab.geometry.iloc[r]
        if not geom.equals_exact(first.iloc[r], 0):
            moved[str(tab["facility_id"].iloc[r])] = {"lon": float(geom.x), "lat": float(geom.y), "crs": "wgs84"}
    if moved:
        scenario["move"] = moved
    added = [{"id": str(tab["facility_id"].iloc[r]), "name": str(tab["name"].iloc[r]), "type": str(tab["type"].iloc[r]),
              "lon": float(tab.geometry.iloc[r].x), "lat": float(tab.geometry.iloc[r].y), "crs": "wgs84"}
             for r in np.flatnonzero(wb._added & wb._open).tolist()]
    if added:
        scenario["add"] = added
    s, b = wb.settings, wb.source.settings()
    if (s.mode, s.speed_kmh, s.minutes) != (b.mode, b.speed_kmh, b.minutes):
        scenario.update(mode=s.mode, speed_kmh=float(s.speed_kmh), minutes=float(s.minutes))
    if wb.target != wb.source.target:
        scenario["target"] = wb.target
    if set(wb.types) != set(wb.source.facility_types or DEFAULT_TYPES):
        scenario["facility_types"] = list(wb.types)
    return {"name": f"workbench {name}", "baseline": baseline_mapping(wb.source), "scenarios": [scenario]}


def from_scenario_file(cls: type[Workbench], path: str | Path, scenario: str | None = None) -> Workbench:
    """Return a workbench on a scenario file's baseline, with scenario ``scenario``'s edits applied (if given)."""
    spec = read_scenario_file(path)
    base = spec.baseline
    settings = base.settings()
    inputs = load_inputs(osm=base.osm, place=base.place, settings=settings, cache_inputs=True, **base.load_kwargs())
    chain: list[Scenario] = []
    if scenario is not None:
        by_name = {s.name: s for s in spec.scenarios}
        if scenario not in by_name:
            raise ScenarioError(f"{path}: no scenario {scenario!r}; the file has: {', '.join(by_name)}")
        item: Scenario | None = by_name[scenario]
        while item is not None:
            chain.insert(0, item)
            item = by_name.get(item.from_) if item.from_ else None
    types, target = base.facility_types, base.target  # a scenario's own (the last in its chain) replace them
    for s in chain:
        types = s.facility_types if s.facility_types is not None else types
        target = s.target if s.target is not None else target
    wb = cls(inputs, settings, types=types or DEFAULT_TYPES, target=target, source=base)
    for s in chain:
        _apply(wb, s, path)
    wb._done.clear()  # the file's edits are the starting point, not steps to undo
    return wb


def _apply(wb: Workbench, s: Scenario, path: str | Path) -> None:
    if s.site or s.add_population:
        raise ScenarioError(f"{path}: scenario {s.name!r} sites stations or adds residents; the workbench starts "
                            "from close / add / move / mode edits only")
    for key in s.close:
        wb.close(_resolve(wb, key))
    for key, pos in s.move:
        wb.move(_resolve(wb, key), pos.lon, pos.lat, crs=pos.crs)
    for item in s.add:
        if isinstance(item, FileSpec) or not isinstance(item, NewFacility):
            raise ScenarioError(f"{path}: scenario {s.name!r} adds facilities from a file; inline ones only here")
        wb.add(item.lon, item.lat, crs=item.crs, name=item.name, type=item.type, facility_id=item.id)
    if s.mode is not None or s.speed_kmh is not None or s.minutes is not None:
        wb.configure(mode=s.mode, speed_kmh=s.speed_kmh, minutes=s.minutes)


def _resolve(wb: Workbench, key: str) -> str:
    tab = wb._table
    ids = tab["facility_id"].astype(str)
    if (ids == str(key)).any():
        return str(key)
    hit = ids[tab["name"].astype(str) == str(key)] if "name" in tab else ids.iloc[0:0]
    if len(hit) != 1:
        raise ScenarioError(f"facility {key!r} is neither an id nor a unique name")
    return str(hit.iloc[0])


def save(wb: Workbench, path: str | Path, name: str, *, overwrite: bool = False) -> Path:
    """Write :func:`to_scenario` to ``path`` (YAML); an existing file is replaced only with ``overwrite``."""
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise ScenarioError(f"{path}: a scenario file ends in .yaml or .yml")
    if path.exists() and not overwrite:
        raise ScenarioError(f"{path} exists; choose another name or pass overwrite=True")
    text = yaml.safe_dump(to_scenario(wb, name), allow_unicode=True, sort_keys=False)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
