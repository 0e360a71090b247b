"""Scenarios: one file of plans → the same coverage figures for each, side by side.

A plan closes / adds / moves facilities, changes mode, speed or threshold, sites new stations or adds new
residents; the network is loaded once per travel mode.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..engine.network import Network
from ..errors import ScenarioError, SitingError
from ..io import demand
from ..io.coords import to_wgs84
from ..io.facilities import DEFAULT_TYPES, facilities_from_osm, facilities_from_place, read_facilities
from ..pipeline import Inputs, load_inputs, run_coverage
from ..plan.candidates import build_candidates
from ..plan.sites import plan_sites
from ..settings import Settings
from ._file import Baseline, Edits, Scenario, ScenarioFile, check_names, read_scenario_file, resolve_ids
from ._networks import check_grids, network_for, osm_file, scenario_settings, snap_memo
from ._values import BASELINE, FileSpec, NewFacility, NewResidents
from .results import Comparison, Run, comparison_table

__all__ = ["BASELINE", "Baseline", "Comparison", "Run", "Scenario", "compare", "prepare", "read_scenario_file"]

@dataclass
class Prepared:
    """A checked comparison, before any network work.

    It holds the baseline, the scenarios (parents first), the baseline facilities, each scenario's added
    facilities / residents and resolved close / move ids.
    """

    name: str
    baseline: Baseline | Inputs
    scenarios: list[Scenario]
    order: list[Scenario]
    facilities: gpd.GeoDataFrame
    added: dict[str, gpd.GeoDataFrame]
    residents: dict[str, gpd.GeoDataFrame]
    edits: dict[str, Edits]
    settings: Settings
    target: float | None
    types: tuple[str, ...]
    files: list[Path] = field(default_factory=list)
    warned: set[str] = field(default_factory=set)


# ------------------------------------------------------------------------------------------------ preparing
def prepare(source: str | Path | Baseline | Inputs | Mapping[str, Any],
            scenarios: Sequence[Scenario | Mapping[str, Any]] | None = None, *,
            settings: Settings | None = None, target: float | None = None,
            facility_types: Sequence[str] | None = None) -> Prepared:
    """Check everything that can be checked without the network.

    That is the file, every key and value, the files it names, ``from`` chains, and each ``close`` /
    ``move`` id or name against the facilities.

    ``source`` is a scenario file, a :class:`Baseline` (or its mapping), or loaded :class:`Inputs`
    (with ``settings`` / ``target`` / ``facility_types`` for the baseline run).
    """
    name = "scenarios"
    base: Baseline | Inputs
    if isinstance(source, str | Path):
        spec: ScenarioFile = read_scenario_file(source)
        name, base, items = spec.name, spec.baseline, list(spec.scenarios)
        if scenarios is not None:
            raise ScenarioError("give a scenario file, or a baseline and a list of scenarios, not both")
    else:
        base = Baseline.from_dict(source, base_dir=Path.cwd()) if isinstance(source, Mapping) else source
        items = [s if isinstance(s, Scenario) else Scenario.from_dict(s, index=i)
                 for i, s in enumerate(scenarios or [])]
    order = check_names(items)
    if isinstance(base, Baseline):
        settings = base.settings() if settings is None else settings
        target = base.target if target is None else target
        facility_types = base.facility_types if facility_types is None else facility_types
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # shown again when the inputs are loaded
            fac_file = base.facilities_source()  # the file, with its sheet
            if base.facilities is not None and fac_file is not None:
                fac = read_facilities(fac_file, crs=base.facilities.crs)
            elif base.osm is not None:
                fac = facilities_from_osm(base.osm)
            else:
                fac = facilities_from_place(str(base.place), buffer_m=settings.limit_m,
                                            overpass_url=base.overpass_url, nominatim_url=base.nominatim_url)
    else:
        fac = base.facilities
    added = {s.name: _added_facilities(s) for s in items if s.add}
    residents = {s.name: _added_residents(s) for s in items if s.add_population}
    pairs = list(zip(fac["facility_id"].astype(str), fac["name"].astype(str), strict=True))
    new = {n: list(zip(f["facility_id"], f["name"].astype(str), strict=True)) for n, f in added.items()}
    edits = resolve_ids(order, pairs, new)
    types = tuple(facility_types) if facility_types is not None else DEFAULT_TYPES
    path = Path(source) if isinstance(source, str | Path) else None
    files = ScenarioFile(name, base if isinstance(base, Baseline) else Baseline(), tuple(items), path).files()
    return Prepared(name, base, items, order, fac, added, residents, edits, settings or Settings(), target, types,
                    files)


def _added_facilities(s: Scenario) -> gpd.GeoDataFrame:
    frames = []
    for i, item in enumerate(s.add, start=1):
        if isinstance(item, FileSpec):
            f = read_facilities(item.path, crs=item.crs)
            auto = f["facility_id"].astype(str).str.startswith("row:")
            f.loc[auto, "facility_id"] = s.name + ":" + f.loc[auto, "facility_id"].astype(str)
            frames.append(f)
        else:
            assert isinstance(item, NewFacility)
            frames.append(_point_frame(item, {"facility_id": item.id, "name": item.name or f"{s.name} {i}",
                                              "type": item.type, "source": f"scenario {s.name}"}))
    out = pd.concat(frames, ignore_index=True)
    ids = out["facility_id"].astype(str)
    if ids.duplicated().any():
        raise s.where().error("add", f"facility id {ids[ids.duplicated()].iloc[0]!r} is added twice")
    return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")


def _added_residents(s: Scenario) -> gpd.GeoDataFrame:
    frames = []
    for i, item in enumerate(s.add_population, start=1):
        if isinstance(item, FileSpec):
            f = demand.read_population(item.path, item.crs)
            if not f.attrs.get("weighted"):
                raise s.where().error(f"add_population[{i}]", f"{item.path} has no population column: added "
                                                               "residents need their numbers")
            frames.append(f)
        else:
            assert isinstance(item, NewResidents)
            frames.append(_point_frame(item, {"population": item.population, "name": item.name or s.name}))
    out = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326")
    out["added_by"] = s.name
    return out


def _point_frame(item: NewFacility | NewResidents, columns: dict[str, Any]) -> gpd.GeoDataFrame:
    lon, lat = to_wgs84(np.array([item.lon]), np.array([item.lat]), item.crs)
    return gpd.GeoDataFrame({k: [v] for k, v in columns.items()}, geometry=gpd.points_from_xy(lon, lat),
                            crs="EPSG:4326")


# ------------------------------------------------------------------------------------------------ running
def compare(source: str | Path | Baseline | Inputs | Mapping[str, Any],
            scenarios: Sequence[Scenario | Mapping[str, Any]] | None = None, *,
            settings: Settings | None = None, target: float | None = None,
            facility_types: Sequence[str] | None = None, cache_dir: str | Path | None = None,
            networks: Mapping[str, Network] | None = None, progress: bool = False) -> Comparison:
    """Run the baseline and every scenario; the network is built once per travel mode (walk / bike).

    ``siting.compare("scenarios.yaml")`` or ``siting.compare(inputs, [Scenario(...), ...])``: see
    :func:`prepare` for the sources. Everything is checked before the network is loaded, and every
    scenario's candidate grid right after it (:func:`siting.scenarios._networks.check_grids`), before the
    first run. Networks are taken from ``networks`` (``{"walk": Network, "bike": Network}``, keyed by network
    type; batch workers pass the ones they keep), else built from the baseline's OSM file (or place).
    """
    t0 = time.perf_counter()
    prep = prepare(source, scenarios, settings=settings, target=target, facility_types=facility_types)
    if cache_dir is None and isinstance(prep.baseline, Baseline):
        cache_dir = prep.baseline.cache_dir  # the baseline's `cache_dir` key; the argument wins
    networks = dict(networks or {})
    inputs = prep.baseline if isinstance(prep.baseline, Inputs) else load_inputs(
        osm=prep.baseline.osm, place=prep.baseline.place, settings=prep.settings, cache_dir=cache_dir,
        network=networks.get(prep.settings.network_type), **prep.baseline.load_kwargs())
    networks[prep.settings.network_type] = inputs.network
    check_grids(prep.order, prep.settings, prep.baseline, inputs, networks, cache_dir)  # before the first run
    t_load = time.perf_counter() - t0
    with snap_memo(networks):  # scenarios sharing a network and the residents snap them once
        base = _run(BASELINE, inputs, inputs.network, inputs.facilities, inputs.population, prep.settings,
                    prep.target, prep.types, prep.warned)
        runs: dict[str, Run] = {BASELINE: base}
        for s in _progress(prep.order, progress):
            t1 = time.perf_counter()
            parent = runs[s.from_] if s.from_ is not None else base
            try:
                runs[s.name] = _scenario(s, parent, prep, inputs, networks, cache_dir)
            except SitingError as exc:  # say which scenario failed (same error class)
                raise type(exc)(f"scenario {s.name!r}: {exc}") from exc
            runs[s.name].seconds = time.perf_counter() - t1
    runs = {BASELINE: base, **{s.name: runs[s.name] for s in prep.scenarios}}
    t_total = time.perf_counter() - t0
    return Comparison(prep.name, runs, comparison_table(runs), {
        "load": round(t_load, 3), "scenarios": round(t_total - t_load, 3), "total": round(t_total, 3)}, prep.files)


def _progress(items: list[Scenario], on: bool) -> Any:
    if not on:
        return items
    return tqdm(items, desc="scenarios", unit="scenario")


def _run(name: str, inputs: Inputs, net: Network, fac: gpd.GeoDataFrame, pop: gpd.GeoDataFrame,
         settings: Settings, target: float | None, types: tuple[str, ...], seen: set[str]) -> Run:
    """Compute coverage exactly as ``siting coverage`` does on these (edited) inputs.

    A warning the baseline already gave is not repeated for every scenario.
    """
    edited = dataclasses.replace(inputs, network=net, facilities=fac, population=pop)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_coverage(edited, settings, types=list(types), target=target)
    for w in caught:
        if str(w.message) not in seen:
            seen.add(str(w.message))
            # its own category: what the console ignores (an unclosed file's ResourceWarning) stays ignored
            warnings.warn(str(w.message) if name == BASELINE else f"scenario {name!r}: {w.message}", w.category,
                          stacklevel=3)
    empty = fac.iloc[:0]
    return Run(name, result, fac, pop, settings, target, types, empty, empty)


def _scenario(s: Scenario, parent: Run, prep: Prepared, inputs: Inputs, networks: dict[str, Network],
              cache_dir: str | Path | None) -> Run:
    """Apply ``s``'s edits to ``parent``'s end state, then cover (and site, when asked)."""
    edits = prep.edits[s.name]
    ids = parent.facilities["facility_id"].astype(str)
    closed = parent.facilities[ids.isin(edits.close) | ids.isin(list(edits.move))]
    fac = parent.facilities[~ids.isin(edits.close)].reset_index(drop=True)
    moved = []
    for fid, pos in edits.move.items():
        row = (fac["facility_id"].astype(str) == fid).to_numpy()
        lon, lat = to_wgs84(np.array([pos.lon]), np.array([pos.lat]), pos.crs)
        fac.loc[row, "geometry"] = gpd.points_from_xy(lon, lat)[0]
        if pos.name is not None:
            fac.loc[row, "name"] = pos.name
        moved.append(fac[row])
    new = prep.added.get(s.name)
    if new is not None:
        fac = gpd.GeoDataFrame(pd.concat([fac, new], ignore_index=True), geometry="geometry", crs="EPSG:4326")
    pop = parent.population
    if s.name in prep.residents:
        pop = _with_residents(pop, prep.residents[s.name], inputs, s)
    settings = scenario_settings(parent.settings, s)
    target = s.target if s.target is not None else parent.target
    types = s.facility_types if s.facility_types is not None else parent.types
    net = network_for(settings, prep.baseline, inputs, networks, cache_dir, s)
    run = _run(s.name, inputs, net, fac.reset_index(drop=True), pop, settings, target, types, prep.warned)
    if s.site is not None:
        run = _site_stations(run, s, prep, inputs)
    added = [f for f in (*moved, new, run.added) if f is not None and len(f)]
    run.added = gpd.GeoDataFrame(pd.concat(added, ignore_index=True), crs="EPSG:4326") if added else fac.iloc[:0]
    run.closed, run.scenario = closed, s
    return run


def _with_residents(pop: gpd.GeoDataFrame, extra: gpd.GeoDataFrame, inputs: Inputs, s: Scenario) -> gpd.GeoDataFrame:
    """``pop`` plus the scenario's residents (areas joined; those outside the analysed 街道 dropped, said)."""
    if inputs.boundaries is not None:
        extra = demand.assign_areas(extra, inputs.boundaries)
        outside = extra["subdistrict"].isna()
        if outside.any():
            warnings.warn(f"scenario {s.name!r}: {int(outside.sum())} added resident point(s) lie outside the "
                          "analysed 街道 and are left out", stacklevel=3)
            extra = extra[~outside]
    out = gpd.GeoDataFrame(pd.concat([pop, extra], ignore_index=True), geometry="geometry", crs=pop.crs)
    out.attrs = dict(pop.attrs)
    return out


def _site_stations(run: Run, s: Scenario, prep: Prepared, inputs: Inputs) -> Run:
    """Site new stations as ``siting site`` chooses them (same candidate defaults), then compute coverage."""
    spec = s.site
    assert spec is not None
    generate = spec.candidates is None
    osm = osm_file(prep.baseline, inputs) if generate else None
    cands = build_candidates(
        run.result, path=None if spec.candidates is None else spec.candidates.path,
        crs="wgs84" if spec.candidates is None else spec.candidates.crs, osm=osm, generate=generate,
        spacing_m=spec.spacing_m, only_uncovered=True, boundaries=inputs.boundaries,
        min_distance_m=spec.min_distance_m)
    plan = plan_sites(run.result, cands, k=spec.k, target=spec.target, per_subdistrict=spec.per_subdistrict,
                      time_limit=spec.time_limit)
    cho = plan.chosen
    names = [n if isinstance(n, str) and n else f"{s.name} site {o}" for n, o in zip(cho["name"], cho["order"],
                                                                                     strict=True)]
    new = gpd.GeoDataFrame({"facility_id": cho["candidate_id"].astype(str).to_numpy(), "name": names,
                            "type": "station", "source": f"new site ({s.name})"},
                           geometry=cho.geometry.to_numpy(), crs=cho.crs)
    fac = gpd.GeoDataFrame(pd.concat([run.facilities, new], ignore_index=True), geometry="geometry", crs="EPSG:4326")
    after = _run(s.name, inputs, run.result._network, fac, run.population, run.settings, run.target, run.types,
                 prep.warned)
    if "station" in run.types:
        plan.__dict__["after"] = after.result  # the same coverage SitePlan.after would recompute
    after.plan, after.added = plan, new
    return after
