"""The steps of :func:`siting.engine.coverage.compute_coverage`, each testable alone.

:func:`prepare` (counted facilities, population with areas) → :func:`route` (snap to the network,
shortest walks) → :func:`aggregate` (per 街道 / district) → :func:`summarise` (one `CoverageSummary`).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import SitingError
from ..io.ages import weighting
from ..io.demand import assign_areas
from ..io.facilities import DEFAULT_TYPES, select_types, type_names
from ..settings import Settings
from . import routing
from ._reproject import points_xy, to_crs, transform_xy
from ._stats import walk_time_stats
from ._status import NONE, Status
from .network import Network
from .targets import gap, target_for

__all__ = ["TARGET_GIVEN", "CoverageSummary", "Prepared", "Routed", "aggregate", "prepare", "route", "summarise"]

#: Set as ``target_source`` when the caller passed ``target`` (not taken from data/targets.csv).
TARGET_GIVEN = "target"
#: The status texts by code (0 ok, 1 too far, 2 outside): a million statuses by one take, not one each.
_STATUS_TEXT = np.array([Status.OK.value, Status.TOO_FAR.value, Status.OUTSIDE.value], dtype=object)


@dataclass(frozen=True)
class CoverageSummary:
    """Whole-area figures of a coverage run; ``to_dict()`` is what ``summary.json`` holds.

    The coverage rate counts residents inside the network extent only; ``target`` / ``gap_*`` /
    ``meets_target`` come from :func:`siting.engine.targets.gap` (None without a target); ``walk_min_*`` /
    ``share_*`` from :func:`siting.engine._stats.walk_time_stats`. ``population_sources`` (街道 per kind of
    population figure), ``notes`` (what the data cannot show), ``sources`` (the input files), ``seconds``
    and ``network_cache`` (run metadata) are added by :func:`siting.pipeline.run_coverage` and the CLI,
    ``sensitivity`` (rate and sites per population method, :mod:`siting.outputs.sensitivity`) by
    ``siting coverage`` when asked, and all are left out of ``to_dict()`` until set.
    """

    population_total: float
    population_covered: float
    coverage_rate: float
    target: float | None
    gap_pp: float | None
    gap_residents: float | None
    meets_target: bool | None
    target_source: str | None
    unit: str
    mode: str
    speed_kmh: float
    minutes: float
    limit_m: float
    max_snap_m: float
    n_facilities: int
    n_facilities_unusable: int
    facilities_by_type: dict[str, int]
    n_points: int
    n_points_outside_network: int
    population_outside_network: float
    n_points_too_far: int
    population_too_far: float
    n_network_nodes: int
    n_network_edges: int
    network_km: float
    network_source: str | None
    network_warning: str | None
    districts: tuple[str, ...]
    walk_min_mean: float
    walk_min_median: float | None
    share_unreachable: float
    share_within: dict[str, float]
    population_weighting: str | None = None  # what the rates count: all residents, or those aged 60+ (and how)
    population_sources: dict[str, int] | None = None
    areas_without_facility: dict[str, list[str]] | None = None
    notes: tuple[str, ...] | None = None
    sources: tuple[dict[str, Any], ...] | None = None
    seconds: float | None = None
    network_cache: str | None = None
    sensitivity: tuple[dict[str, Any], ...] | None = None  # rows of siting.outputs.sensitivity, when asked

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-ready dict (lists for tuples; run metadata only when set)."""
        out = asdict(self)
        out["districts"] = list(self.districts)
        for name in ("population_sources", "areas_without_facility", "notes", "sources", "sensitivity"):
            if out[name] is None:
                del out[name]
            elif isinstance(out[name], tuple):
                out[name] = list(out[name])
        if self.seconds is None:
            del out["seconds"], out["network_cache"]
        return out

    @classmethod
    def field_names(cls) -> list[str]:
        """Return the keys of `to_dict`, in order."""
        return [f.name for f in fields(cls)]


@dataclass
class Prepared:
    """Inputs checked and labelled by :func:`prepare`: counted facilities, population and its unit."""

    facilities: gpd.GeoDataFrame
    population: gpd.GeoDataFrame
    unit: str


def prepare(
    facilities: gpd.GeoDataFrame, population: gpd.GeoDataFrame, *, types: Iterable[str] | str | None = DEFAULT_TYPES,
    boundaries: gpd.GeoDataFrame | None = None,
) -> Prepared:
    """Return the counted facilities (with ids) and the population (with areas and numbers).

    Parameters
    ----------
    facilities : GeoDataFrame
        Points with ``name``, ``type`` (only ``types`` count), optional ``facility_id``; any CRS.
    population : GeoDataFrame
        Points or polygons with ``population``; NaN everywhere means each point counts once.
    types : iterable of str, str or None
        Facility types that count (``"all"``: every type).
    boundaries : GeoDataFrame, optional
        街道 polygons, joined when the population has no ``subdistrict`` column.

    Returns
    -------
    Prepared
        ``unit`` is "residents", or "locations" when the population has no numbers.
    """
    fac = select_types(facilities, types) if "type" in facilities.columns else facilities.copy()
    if fac.empty:
        have = sorted(facilities["type"].dropna().astype(str).unique()) if "type" in facilities.columns else []
        raise SitingError(f"no facilities of the counted type(s) {', '.join(type_names(types))} to compute coverage "
                          f"from; the facilities have type(s): {', '.join(have) or 'none'} (`facility_types`)")
    if "facility_id" not in fac.columns:
        fac["facility_id"] = [f"row:{i + 1}" for i in range(len(fac))]
    pop = population.copy()
    if boundaries is not None and "subdistrict" not in pop.columns:
        pop = assign_areas(pop, boundaries)
    unit = str(population.attrs.get("unit", "residents"))
    if "population" not in pop.columns or pop["population"].isna().all():
        pop["population"], unit = 1.0, "locations"
    if pop["population"].isna().any():
        n_nan = int(pop["population"].isna().sum())
        warnings.warn(f"{n_nan} population point(s) have no population (NaN) and are left out", stacklevel=3)
    for col in ("subdistrict", "district"):
        if col not in pop.columns:
            pop[col] = None
    return Prepared(fac, pop, unit)


@dataclass
class Routed:
    """What :func:`route` measured: points and facilities with their columns, usable facilities, node distances."""

    points: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    usable: np.ndarray
    node_dist: np.ndarray


#: Key under which a network holds a memo of population snaps while one is installed (siting.compare).
SNAP_MEMO = "_population_snaps"


def snap_population(net: Network, pxy: np.ndarray, max_snap_m: float) -> routing.Snap:
    """:func:`siting.engine.routing.snap` of the population points, memoised while the network holds a memo.

    :func:`siting.compare` installs one (a dict in ``net.__dict__[SNAP_MEMO]``) for its runs, so that
    scenarios sharing the network and the population snap them once; the key is the points' exact
    coordinates and the limit, and each call gets its own copy (the caller edits it).
    """
    memo = net.__dict__.get(SNAP_MEMO)
    if memo is None:
        return routing.snap(net, pxy[:, 0], pxy[:, 1], max_snap_m)
    key = (hashlib.blake2b(np.ascontiguousarray(pxy).tobytes(), digest_size=16).digest(), pxy.shape, max_snap_m)
    if key not in memo:
        memo[key] = routing.snap(net, pxy[:, 0], pxy[:, 1], max_snap_m)
    hit = memo[key]
    return routing.Snap(hit.seg.copy(), hit.t.copy(), hit.off.copy())


def route(net: Network, prepared: Prepared, settings: Settings) -> Routed:
    """Snap facilities and points to the network and walk from every point to its nearest facility.

    Parameters
    ----------
    net : Network
        The street network (projected).
    prepared : Prepared
        From :func:`prepare`.
    settings : Settings
        Speed, threshold and snapping limit.

    Returns
    -------
    Routed
        Points (WGS84) with ``walk_min``, ``facility_id``, ``status``, ``snap_m``, ``covered``;
        facilities (WGS84) with ``snapped``, ``snap_m``, ``residents_within``.

    Raises
    ------
    SitingError
        When no facility lies within ``settings.max_snap_m`` of the network.
    """
    fac, pop = prepared.facilities.copy(), prepared.population.copy()
    fxy = fac.geometry.to_crs(net.crs).get_coordinates().to_numpy()
    own = points_xy(pop.geometry, pop.crs)  # plain points' coordinates, read once (None for other layers)
    pxy = routing.centre_xy(pop.geometry, net.crs) if own is None else transform_xy(own, pop.crs, net.crs)
    fsnap = routing.snap(net, fxy[:, 0], fxy[:, 1], settings.max_snap_m)
    if not fsnap.ok.any():
        raise SitingError(
            f"none of the {len(fac)} facilities lies within {settings.max_snap_m:.0f} m of the network "
            f"({net.info.get('source', 'network')}); check their coordinate system (`facility_crs`)"
        )
    if (~fsnap.ok).any():
        names = fac.loc[~fsnap.ok, "name"].astype(str).tolist() if "name" in fac else []
        warnings.warn(
            f"{int((~fsnap.ok).sum())} of {len(fac)} facilities are farther than {settings.max_snap_m:.0f} m "
            f"from the network and are not used: {', '.join(names[:10])}", stacklevel=3,
        )
    extent = net.extent()
    if extent.area == 0:  # a single straight street: its hull is a line
        extent = extent.buffer(settings.max_snap_m)
    inside = shapely.intersects_xy(extent, pxy[:, 0], pxy[:, 1])
    psnap = snap_population(net, pxy, settings.max_snap_m)
    psnap.seg[~inside] = -1
    graph = routing.search_graph(net, fsnap)
    nodes = routing.node_distances(net, fsnap, graph=graph)
    dist, who = routing.nearest(net, fsnap, psnap, nodes=nodes)
    walk_min = dist / settings.metres_per_minute
    pop["walk_min"] = walk_min
    pop["facility_id"] = np.where(who >= 0, fac["facility_id"].to_numpy()[np.maximum(who, 0)], None)
    status = np.where(~inside, 2, np.where(psnap.ok, 0, 1))
    pop["status"] = pd.array(_STATUS_TEXT[status], dtype="str")  # the column the Status members gave, built faster
    pop["snap_m"] = np.where(np.isfinite(psnap.off), psnap.off, np.nan)
    pop["covered"] = (walk_min <= settings.minutes + 1e-9) & (status == 0)
    pop = to_crs(pop, "EPSG:4326", xy=own)

    reach = routing.reach_matrix(net, fsnap, psnap, settings.limit_m, graph=graph)
    weights = pop["population"].fillna(0).to_numpy(float)
    fac["snapped"] = fsnap.ok
    fac["snap_m"] = np.where(fsnap.ok, fsnap.off, np.nan)
    fac["residents_within"] = np.asarray(reach.astype(bool) @ weights).ravel()
    return Routed(pop, fac.to_crs("EPSG:4326"), fsnap.ok, nodes[0])


def summarise(net: Network, routed: Routed, settings: Settings, unit: str, target: float | None = None
              ) -> CoverageSummary:
    """Return the whole-area figures of a routed run.

    Parameters
    ----------
    net : Network
        The network routed on (for its size and source).
    routed : Routed
        From :func:`route`.
    settings : Settings
        How travel was measured.
    unit : str
        "residents" or "locations".
    target : float, optional
        The target given by the caller; otherwise the one district's own target, if any.

    Returns
    -------
    CoverageSummary
        Rates count residents inside the network extent only.
    """
    pop, fac = routed.points, routed.facilities
    _, too_far, outside = status_masks(pop)
    rated = ~outside  # masks of single columns: no filtered copy of the whole table
    people = pop["population"].fillna(0)
    total = float(people[rated].sum())
    covered_pop = float(people[rated & pop["covered"].to_numpy(bool)].sum())
    districts = [d for d in pop["district"][rated].dropna().unique()]
    area_target = target
    target_source = TARGET_GIVEN if target is not None else None
    if target is None and len(districts) == 1:
        area_target, target_source = target_for(districts[0])
    return CoverageSummary(
        population_total=total,
        population_covered=covered_pop,
        **gap(total, covered_pop, area_target),  # type: ignore[arg-type]
        target_source=target_source,
        unit=unit,
        mode=settings.mode,
        speed_kmh=float(settings.speed_kmh),  # type: ignore[arg-type]
        minutes=settings.minutes,
        limit_m=settings.limit_m,
        max_snap_m=settings.max_snap_m,
        n_facilities=int(routed.usable.sum()),
        n_facilities_unusable=int((~routed.usable).sum()),
        facilities_by_type=fac.loc[fac["snapped"], "type"].value_counts().to_dict() if "type" in fac else {},
        n_points=int(len(pop)),
        n_points_outside_network=int(outside.sum()),
        population_outside_network=float(people[outside].sum()),
        n_points_too_far=int(too_far.sum()),
        population_too_far=float(people[too_far].sum()),
        n_network_nodes=net.n_nodes,
        n_network_edges=net.n_edges,
        network_km=round(float(net.length.sum()) / 1000, 2),
        network_source=net.info.get("source"),
        network_warning=net.info.get("warning"),
        districts=tuple(districts),
        **walk_time_stats(pop["walk_min"].to_numpy(float)[rated], pop["population"].to_numpy(float)[rated]),
        population_weighting=weighting(pop, unit),
    )


def aggregate(pop: gpd.GeoDataFrame, keys: list[str], target: float | None) -> pd.DataFrame:
    """Return population, covered and gap per group of ``keys``; outside-extent residents separately.

    Parameters
    ----------
    pop : GeoDataFrame
        Routed points (see :func:`route`), with ``district`` / ``subdistrict`` labels.
    keys : list of str
        The grouping columns (``["district", "subdistrict"]`` or ``["district"]``).
    target : float, optional
        One target for every group; otherwise each district's own (``data/targets.csv``).

    Returns
    -------
    DataFrame
        One row per group: ``population``, ``covered``, ``too_far_population``, ``outside_population``,
        ``points`` and the gap columns of :func:`siting.engine.targets.gap`.
    """
    group, first = _group_codes(pop, keys)
    w = pop["population"].fillna(0).to_numpy(float)
    _, too_far, outside = status_masks(pop)
    sums = pd.DataFrame({
        "population": np.where(outside, 0.0, w),
        "covered": np.where(pop["covered"].to_numpy(bool), w, 0.0),
        "too_far_population": np.where(too_far, w, 0.0),
        "outside_population": np.where(outside, w, 0.0),
        "points": (~outside).astype(int),
    }).groupby(group, sort=False).sum()  # integer codes; per group the same rows in the same order as by name
    frame = pd.DataFrame({k: pop[k].iloc[first].fillna(NONE).reset_index(drop=True) for k in keys})
    frame = pd.concat([frame, sums.reset_index(drop=True)], axis=1)
    out = frame.groupby(keys, sort=True).sum().reset_index()  # one row per group: the labels' dtypes and order
    rows = []
    for _, row in out.iterrows():
        t = target if target is not None else target_for(row["district"])[0]
        rows.append(gap(row["population"], row["covered"], t))
    out = pd.concat([out, pd.DataFrame(rows, index=out.index)], axis=1)
    out = out[out["population"] + out["outside_population"] > 0]
    return out.sort_values(keys).reset_index(drop=True)


def status_masks(pop: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the (ok, too far, outside) masks of the ``status`` column, comparing the texts once each.

    Parameters
    ----------
    pop : DataFrame
        Routed points (see :func:`route`).

    Returns
    -------
    tuple of ndarray
        Boolean arrays aligned with ``pop``.
    """
    status = pop["status"].to_numpy(dtype=object)
    return status == Status.OK.value, status == Status.TOO_FAR.value, status == Status.OUTSIDE.value


def _group_codes(pop: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's group (by the ``keys`` labels, missing ones as ``NONE``) and each group's first row.

    Groups are numbered in order of first appearance; a missing label and the text ``NONE`` are one
    group, as they are once ``fillna(NONE)`` has run.
    """
    code = np.zeros(len(pop), np.int64)
    for k in keys:
        codes, uniques = pd.factorize(pop[k], use_na_sentinel=True)
        labels = np.append(np.asarray(uniques, dtype=object), NONE)
        merged, distinct = pd.factorize(labels)  # NONE given as text and NONE for missing: one label
        code = code * (len(distinct) + 1) + merged[np.where(codes < 0, len(labels) - 1, codes)]
    group, groups = pd.factorize(code)
    first = np.zeros(len(groups), np.int64)
    first[group[::-1]] = np.arange(len(pop))[::-1]  # the last write per group is its first row
    return group, first
