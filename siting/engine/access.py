"""Supply per resident beyond yes/no coverage.

2SFCA / E2SFCA on network walking times, travel-time distributions per 街道, GPs against the
4.5-per-10,000 line, regional balance.

Travel times come from the tiled sparse reach sets of :func:`siting.engine.routing.reach_matrix` (facility →
every place within the catchment), never from a dense places × facilities matrix.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import _display
from ..errors import ColumnError, InputFileError, SitingError
from ..io._tables import read_table
from ..io.demand import assign_areas
from ..io.facilities import DEFAULT_TYPES
from ..io.totals import name_keys
from ..settings import MODES, Settings
from . import routing
from ._fca import DECAYS, DEFAULT_SOURCE, read_capacity, two_step, weighted_quantile
from .coverage import OUTSIDE, CoverageResult, compute_coverage
from .network import Network

#: General practitioners per 10,000 residents (长宁区 plan: 每万常住人口全科医生 4.5 名).
GP_TARGET_PER_10K = 4.5
#: Smallest station floor area in the plans (m²).
MIN_STATION_AREA_M2 = 200.0
#: Travel-time thresholds (minutes) of the distributions.
THRESHOLDS = (5, 10, 15, 20)
#: Optional columns with older residents per point, measured again at the ``elderly`` speed.
AGE_COLUMNS = ("pop_60plus", "pop_65plus")
CAPACITY_CHOICES = ("gps", "floor_area_m2")


@dataclass
class AccessResult:
    """What :func:`access` returns.

    Attributes
    ----------
    points : GeoDataFrame
        Coverage points plus ``supply_per_10k`` (chosen capacity per 10,000 residents reached, 2SFCA or
        E2SFCA), ``gps_per_10k``, ``floor_m2_per_10k`` and, with age columns, ``gps_per_10k_elderly``.
    facilities : GeoDataFrame
        Counted facilities with ``gps``, ``floor_area_m2``, ``standardised``, ``capacity_source``,
        ``defaulted``, ``demand_reached`` and ``gps_per_10k_catchment`` (the step-1 ratio).
    by_subdistrict : DataFrame
        One row per 街道 (``access.csv``): population, population_source, coverage, supply per 10k,
        GPs needed to reach 4.5 per 10k, travel-time median / p90 / shares within 5–20 min.
    regions : DataFrame or None
        The same measures per region (``--regions``), with the grouping's stated assumption.
    beyond_20 : GeoDataFrame
        500 m cells holding residents more than 20 minutes from any facility.
    summary : dict
    """

    points: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    by_subdistrict: pd.DataFrame
    regions: pd.DataFrame | None
    beyond_20: gpd.GeoDataFrame
    summary: dict[str, Any]
    coverage: CoverageResult = field(repr=False)
    __repr__ = _display.access_repr  # one line; a notebook shows the headline and the 街道 table
    _repr_html_ = _display.access_html


def access(net: Network, facilities: gpd.GeoDataFrame, population: gpd.GeoDataFrame,
           settings: Settings | None = None, *, types: Iterable[str] | str | None = DEFAULT_TYPES,
           boundaries: gpd.GeoDataFrame | None = None, capacity_column: str = "gps", decay: str = "none",
           regions: pd.DataFrame | str | Path | None = None) -> AccessResult:
    """Coverage (:func:`siting.engine.coverage.coverage`) plus supply per resident; see :func:`access_from_coverage`."""
    result = compute_coverage(net, facilities, population, settings, types=types, boundaries=boundaries)
    return access_from_coverage(result, capacity_column=capacity_column, decay=decay, regions=regions)


def access_from_coverage(result: CoverageResult, *, capacity_column: str = "gps", decay: str = "none",
                         regions: pd.DataFrame | str | Path | None = None) -> AccessResult:
    """Supply per resident, travel-time distributions and regional balance for a coverage result.

    Parameters
    ----------
    capacity_column : {"gps", "floor_area_m2"}
        The capacity behind ``supply_per_10k`` (GPs per 10k are always computed for the 4.5 line).
    decay : {"none", "gaussian", "stepped"}
        ``none`` = 2SFCA; ``gaussian`` / ``stepped`` = E2SFCA (see :data:`siting.engine._fca.DECAYS`). The
        catchment is the coverage threshold (15 min at the mode's speed).
    regions
        Table or CSV of ``region``, ``subdistrict`` (see :func:`read_regions`).
    """
    check_options(capacity_column=capacity_column, decay=decay)
    s = result.settings
    fac = result.facilities.copy()
    cap = read_capacity(fac)
    fac[cap.columns] = cap
    pts = result.points.copy()
    j, i, metres = _reach(result, fac, pts)
    pop = np.where(pts["status"] == OUTSIDE, 0.0, pts["population"].fillna(0).to_numpy(float))
    if not (pop > 0).any():  # no one to share the supply among: every per-resident figure would be 0 / 0
        inside = int((pts["status"] != OUTSIDE).sum())
        raise SitingError(f"no residents to measure access for: the {inside:,} point(s) inside the street extent "
                          "all have population 0 (check the population column)")
    minutes = metres / s.metres_per_minute
    for attr, name in (("gps", "gps_per_10k"), ("floor_area_m2", "floor_m2_per_10k")):
        fca = two_step(j, i, minutes, fac[attr].to_numpy(float), pop, s.minutes, decay)
        pts[name] = np.where(pts["status"] == OUTSIDE, np.nan, fca.access * 1e4)
        if attr == "gps":
            fac["demand_reached"] = fca.demand_reached
            fac["gps_per_10k_catchment"] = fca.ratio * 1e4
    pts["supply_per_10k"] = pts["gps_per_10k" if capacity_column == "gps" else "floor_m2_per_10k"]
    ages = [c for c in AGE_COLUMNS if c in pts.columns and s.network_type == "walk"]
    elderly = Settings(mode="elderly", minutes=s.minutes)
    if ages:
        fca = two_step(j, i, metres / elderly.metres_per_minute, fac["gps"].to_numpy(float), pop, s.minutes, decay)
        pts["gps_per_10k_elderly"] = np.where(pts["status"] == OUTSIDE, np.nan, fca.access * 1e4)
        pts["elderly_min"] = pts["walk_min"] * s.metres_per_minute / elderly.metres_per_minute
    if result.subdistricts is not None and len(result.subdistricts):
        fac = assign_areas(fac, result.subdistricts[["subdistrict", "district", "geometry"]])
    by_sub = _by_subdistrict(pts, fac, result, ages)
    table = None
    if regions is not None:
        table = _by_region(pts, read_regions(regions) if not isinstance(regions, pd.DataFrame) else regions,
                           result, ages)
    far = pts.assign(covered=(pts["walk_min"] <= 20 + 1e-9) & (pts["status"] == "ok"))
    beyond = dataclasses.replace(result, points=far).uncovered_places()
    summary = _summary(pts, fac, result, capacity_column, decay, ages, table)
    return AccessResult(pts, fac, by_sub, table, beyond, summary, result)


def check_options(*, capacity_column: str = "gps", decay: str = "none") -> None:
    """Refuse an unknown ``capacity_column`` or ``decay`` (SitingError naming the choices), before any work."""
    if capacity_column not in CAPACITY_CHOICES:
        raise SitingError(f"unknown `capacity_column` {capacity_column!r}; choose one of {', '.join(CAPACITY_CHOICES)}")
    if decay not in DECAYS:
        raise SitingError(f"unknown `decay` {decay!r}; choose one of {', '.join(DECAYS)}")


def _reach(result: CoverageResult, fac: gpd.GeoDataFrame, pts: gpd.GeoDataFrame) -> tuple[np.ndarray, ...]:
    """Sparse reach set (facility, point, metres) within the catchment, from the tiled exact search."""
    net, s = result._network, result.settings
    fxy = fac.geometry.to_crs(net.crs).get_coordinates().to_numpy()
    pxy = pts.geometry.to_crs(net.crs).centroid.get_coordinates().to_numpy()
    fsnap = routing.snap(net, fxy[:, 0], fxy[:, 1], s.max_snap_m)
    psnap = routing.snap(net, pxy[:, 0], pxy[:, 1], s.max_snap_m)
    psnap.seg[(pts["status"] == OUTSIDE).to_numpy()] = -1
    coo = routing.reach_matrix(net, fsnap, psnap, s.limit_m).tocoo()
    return coo.row, coo.col, np.maximum(coo.data - 1e-9, 0.0)  # reach_matrix stores d + 1e-9


def _measures(frame: pd.DataFrame, weight: str, minutes: str, supply: str, gps: str) -> dict[str, float]:
    """Population-weighted supply and travel-time measures of one group of points."""
    w = frame[weight].fillna(0).to_numpy(float)
    total = float(w.sum())
    t = frame[minutes].to_numpy(float)
    out: dict[str, float] = {"population": total}
    if total <= 0:
        return out
    gps_sum = float((w * frame[gps].fillna(0)).sum()) / 1e4
    out.update({
        "coverage_rate": float(w[(t <= 15 + 1e-9) & (frame["status"] == "ok").to_numpy()].sum()) / total,
        "supply_per_10k": float((w * frame[supply].fillna(0)).sum()) / total,
        "gps_per_10k": gps_sum / total * 1e4,
        "gps_needed": max(0.0, GP_TARGET_PER_10K * total / 1e4 - gps_sum),
        "median_min": weighted_quantile(t, w, 0.5), "p90_min": weighted_quantile(t, w, 0.9),
    })
    for k in THRESHOLDS:
        out[f"within_{k}_min"] = float(w[t <= k + 1e-9].sum()) / total
    out["beyond_20_population"] = float(w[t > 20 + 1e-9].sum())
    return out


def _group_table(pts: gpd.GeoDataFrame, keys: list[str], ages: list[str]) -> pd.DataFrame:
    rows = []
    for key, group in pts.groupby(keys, dropna=False, sort=True):
        part = group[group["status"] != OUTSIDE]
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        row.update(_measures(part, "population", "walk_min", "supply_per_10k", "gps_per_10k"))
        row["outside_population"] = float(group.loc[group["status"] == OUTSIDE, "population"].fillna(0).sum())
        for age in ages:
            m = _measures(part, age, "elderly_min", "gps_per_10k_elderly", "gps_per_10k_elderly")
            row.update({f"{age}_{k}": m.get(k) for k in ("population", "coverage_rate", "median_min",
                                                           "within_15_min", "gps_per_10k")})
        rows.append(row)
    return pd.DataFrame(rows)


def _by_subdistrict(pts: gpd.GeoDataFrame, fac: gpd.GeoDataFrame, result: CoverageResult,
                    ages: list[str]) -> pd.DataFrame:
    table = _group_table(pts, ["district", "subdistrict"], ages)
    if table.empty:
        return table
    table["gp_target_per_10k"] = GP_TARGET_PER_10K
    table["below_gp_target"] = (table["gps_per_10k"] < GP_TARGET_PER_10K).where(table["gps_per_10k"].notna())
    if "population_source" in pts:
        src = pts.dropna(subset=["population_source"]).groupby("subdistrict")["population_source"].first()
        table.insert(2, "population_source", table["subdistrict"].map(src))
    small = fac[_small_stations(fac)]
    if "subdistrict" in small:
        table["stations_below_200m2"] = table["subdistrict"].map(small.groupby("subdistrict").size()).fillna(0)
    return table


def _small_stations(fac: gpd.GeoDataFrame) -> pd.Series:
    """Stations / 分中心 whose floor area *from the file* is under 200 m² (a defaulted area is not evidence)."""
    if "type" not in fac:
        return pd.Series(False, index=fac.index)
    known = ~fac["defaulted"].astype(str).str.contains("floor_area_m2")
    return fac["type"].isin(["station", "subcenter"]) & known & (fac["floor_area_m2"] < MIN_STATION_AREA_M2)


def read_regions(path: str | Path) -> pd.DataFrame:
    """Read a regions file into ``region``, ``subdistrict``, ``assumption`` columns.

    Any table :func:`siting.io._tables.read_table` reads (CSV in UTF-8 or GBK, Excel, JSON) with ``region``
    and ``subdistrict`` (one row per 街道) and optional ``assumption``; in a CSV, text after ``#`` is a
    comment.
    """
    frame = read_table(path, what="regions", dtype=str, comment="#")
    missing = {"region", "subdistrict"} - set(frame.columns)
    if missing:
        raise ColumnError(f"{path}: regions file needs columns region, subdistrict; missing {sorted(missing)}")
    twice = frame["subdistrict"].duplicated()
    if twice.any():
        raise InputFileError(f"{path}: 街道 in two regions: {sorted(set(frame.loc[twice, 'subdistrict']))}")
    if "assumption" not in frame:
        frame["assumption"] = None
    frame.attrs["source"] = str(path)
    return frame[["region", "subdistrict", "assumption"]]


def _by_region(pts: gpd.GeoDataFrame, regions: pd.DataFrame, result: CoverageResult,
               ages: list[str]) -> pd.DataFrame:
    """Measures per region; 街道 names matched with or without 街道/镇/路 (warning for the rest)."""
    names = sorted({str(n) for n in pts["subdistrict"].dropna()})
    lookup: dict[str, str] = {}
    unmatched = []
    for region, sub in zip(regions["region"], regions["subdistrict"], strict=True):
        keys = name_keys(sub)
        hit = next((n for tier in range(3) for n in names if name_keys(n)[tier] == keys[tier]), None)
        if hit is None:
            unmatched.append(str(sub))
        else:
            lookup[hit] = str(region)
    if unmatched:
        warnings.warn(f"regions: {len(unmatched)} 街道 match no population 街道 and are left out: "
                      f"{', '.join(unmatched)}", UserWarning, stacklevel=3)
    labelled = pts.assign(region=pts["subdistrict"].map(lookup))
    table = _group_table(labelled[labelled["region"].notna()], ["region"], ages)
    members = pd.Series(lookup).groupby(pd.Series(lookup).to_numpy()).apply(lambda s: "、".join(s.index))
    if not table.empty:
        table.insert(1, "subdistricts", table["region"].map(members))
        notes = regions["assumption"].dropna()
        table["assumption"] = notes.iloc[0] if len(notes) else "grouping given by the regions file"
    return table


def _summary(pts: gpd.GeoDataFrame, fac: gpd.GeoDataFrame, result: CoverageResult, capacity_column: str,
             decay: str, ages: list[str], regions: pd.DataFrame | None) -> dict[str, Any]:
    whole = _measures(pts[pts["status"] != OUTSIDE], "population", "walk_min", "supply_per_10k", "gps_per_10k")
    used = fac[fac["snapped"]]
    reached = used[used["demand_reached"] > 0]
    pop = pts["population"].fillna(0).to_numpy(float)
    defaults = int((used["capacity_source"] == "default").sum())
    notes = []
    if defaults:
        missing = int((fac["capacity_source"] == "default").sum())
        notes.append(f"{missing} of {len(fac)} facilities ({defaults} of the {len(used)} used) lack GP counts or floor "
                     f"areas: per-type defaults used "
                     f"({DEFAULT_SOURCE}); minimums understate staffed centres, so supply is a lower bound")
    if regions is not None and "assumption" in regions and len(regions):
        notes.append(f"regions: {regions['assumption'].iloc[0]}")
    return {
        "method": "2SFCA" if decay == "none" else f"E2SFCA ({decay})", "decay": decay,
        "catchment_min": result.settings.minutes, "mode": result.settings.mode,
        "speed_kmh": result.settings.speed_kmh, "capacity_column": capacity_column,
        **{k: v for k, v in whole.items()}, "gp_target_per_10k": GP_TARGET_PER_10K,
        "gps_total_reaching_residents": float(reached["gps"].sum()),
        "gps_allocated": float(np.nansum(pop * pts["gps_per_10k"].fillna(0).to_numpy(float)) / 1e4),
        "facilities_with_default_capacity": defaults, "capacity_default_source": DEFAULT_SOURCE,
        "stations_below_200m2": int(_small_stations(fac).sum()),
        "standardised_facilities": int((fac["standardised"] == True).sum()),  # noqa: E712 - None stays unknown
        "elderly_columns": ages, "elderly_speed_kmh": float(MODES["elderly"]["speed_kmh"]) if ages else None,  # type: ignore[arg-type]
        "elderly_weighting": (result.points.attrs.get("age_weighting") or "the population file's own columns")
        if ages else None,  # where the 60+ figures come from (siting.io.ages)
        "population_weighting": result.summary.population_weighting,
        "coverage_rate_nearest": result.summary.coverage_rate,
        "population_sources": result.summary.population_sources,
        "notes": list(result.summary.notes or []) + notes,
    }
