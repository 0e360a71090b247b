"""15-minute coverage: nearest facility and walking time per resident; shares per 街道 and district."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import routing
from ._stats import walk_time_stats
from ._validate import check_rate
from .catchments import reached_area
from .demand import assign_areas
from .errors import SitingError
from .facilities import DEFAULT_TYPES, select_types, type_names
from .maps import coverage_map
from .network import Network
from .settings import Settings
from .targets import gap, target_for

#: Status of a population point.
OK, TOO_FAR, OUTSIDE = "ok", "too_far_from_network", "outside_network_area"
NONE = "(none)"  # the 街道 / district label of points outside every boundary


@dataclass
class CoverageResult:
    """What :func:`coverage` returns.

    Attributes
    ----------
    points : GeoDataFrame (WGS84)
        The population points (input index and columns kept) plus ``walk_min`` (minutes to the
        nearest counted facility; ``inf`` when unreachable or not on the network), ``facility_id``,
        ``covered`` (bool), ``status`` (``ok`` / ``too_far_from_network`` / ``outside_network_area``),
        ``snap_m`` (off-network leg, m).
    facilities : GeoDataFrame (WGS84)
        The counted facilities with ``snapped`` (bool), ``snap_m`` and ``residents_within``.
    by_subdistrict, by_district : DataFrame
        ``population``, ``covered``, ``coverage_rate``, ``target``, ``gap_pp``, ``gap_residents``,
        plus ``outside_population`` (residents outside the network extent, excluded from the rate).
    summary : dict
        Whole-area figures (see :meth:`summary`).
    """

    points: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    by_subdistrict: pd.DataFrame
    by_district: pd.DataFrame
    summary: dict[str, Any]
    settings: Settings
    network: Network = field(repr=False)
    node_dist: np.ndarray = field(repr=False)
    subdistricts: gpd.GeoDataFrame | None = None

    def against_target(self, target: float | None = None) -> dict[str, Any]:
        """Rate, target, gap in percentage points and residents for the whole area (target overridable)."""
        s = self.summary
        t = s["target"] if target is None else float(target)
        return {"population_total": s["population_total"], "population_covered": s["population_covered"],
                **gap(s["population_total"], s["population_covered"], t)}

    def uncovered_places(self, cell_m: float = 500.0) -> gpd.GeoDataFrame:
        """Where the uncovered residents live: ``cell_m`` square cells (projected metres) that hold any.

        A fixed grid rather than chained clusters: in dense Shanghai, chaining 小区 that lie a few
        hundred metres apart merges whole 街道 into one "place", which tells a planner nothing.
        Columns: ``residents``, ``points``, ``subdistrict`` (the most common), ``max_walk_min``, ``cell``
        (grid indices); geometry is the residents-weighted centre (WGS84). Largest first.
        """
        pts = self.points[(self.points["status"] != OUTSIDE) & ~self.points["covered"]]
        cols = ["residents", "points", "subdistrict", "max_walk_min", "cell", "geometry"]
        if pts.empty:
            return gpd.GeoDataFrame(columns=cols, geometry="geometry", crs="EPSG:4326")
        xy = pts.geometry.to_crs(self.network.crs).get_coordinates().to_numpy()
        w = pts["population"].fillna(0).to_numpy(float)
        gx, gy = np.floor(xy[:, 0] / cell_m).astype(int), np.floor(xy[:, 1] / cell_m).astype(int)
        frame = pd.DataFrame({"gx": gx, "gy": gy, "w": w, "x": xy[:, 0] * w, "y": xy[:, 1] * w,
                              "x0": xy[:, 0], "y0": xy[:, 1], "sub": pts["subdistrict"].to_numpy(),
                              "walk": pts["walk_min"].to_numpy(float)})
        g = frame.groupby(["gx", "gy"])
        out = pd.DataFrame({
            "residents": g["w"].sum(), "points": g.size(),
            "subdistrict": g["sub"].agg(lambda s: s.mode().iloc[0] if s.notna().any() else None),
            "max_walk_min": g["walk"].max(),
        })
        out["cell"] = [f"{gx},{gy}" for gx, gy in out.index]
        heavy = out["residents"] > 0
        cx = np.where(heavy, g["x"].sum() / out["residents"].where(heavy, 1.0), g["x0"].mean())
        cy = np.where(heavy, g["y"].sum() / out["residents"].where(heavy, 1.0), g["y0"].mean())
        res = gpd.GeoDataFrame(out.reset_index(drop=True), geometry=gpd.points_from_xy(cx, cy, crs=self.network.crs))
        return res.to_crs("EPSG:4326").sort_values("residents", ascending=False).reset_index(drop=True)

    def service_area(self, buffer_m: float = 50.0, simplify_m: float = 5.0) -> gpd.GeoDataFrame:
        """The street-following area reached within the threshold: reached (parts of) segments,
        buffered by ``buffer_m`` (the lots along the street) and dissolved; one WGS84 polygon row."""
        net = self.network
        area = reached_area(net, self.node_dist, self.settings.limit_m, buffer_m=buffer_m, simplify_m=simplify_m)
        return gpd.GeoDataFrame(
            {"minutes": [self.settings.minutes], "mode": [self.settings.mode]}, geometry=[area], crs=net.crs
        ).to_crs("EPSG:4326")

    def explore(self, **kwargs: Any) -> Any:
        """An interactive folium map of this result (see :func:`siting.maps.coverage_map`)."""
        return coverage_map(
            self.points, self.facilities, subdistricts=self.subdistricts, summary=self.summary,
            service_area=self.service_area(), **kwargs,
        )


def coverage(
    net: Network,
    facilities: gpd.GeoDataFrame,
    population: gpd.GeoDataFrame,
    settings: Settings | None = None,
    *,
    types: Iterable[str] | str | None = DEFAULT_TYPES,
    boundaries: gpd.GeoDataFrame | None = None,
    target: float | None = None,
    minutes: float | None = None,
) -> CoverageResult:
    """Walking time from every population point to its nearest counted facility, and coverage shares.

    Parameters
    ----------
    net : Network
    facilities : GeoDataFrame
        Points with ``facility_id``, ``name``, ``type`` (only ``types`` count), any CRS.
    population : GeoDataFrame
        Points with ``population`` (NaN everywhere: each point counts once, "share of locations"),
        and ``subdistrict``/``district`` columns (added from ``boundaries`` when given).
    settings : Settings
        Mode, speed, threshold, snapping limit. ``minutes`` overrides the threshold.
    target : float, optional
        Overrides the district targets from ``data/targets.csv``.

    Notes
    -----
    Points outside the network's extent are reported (``status``, ``outside_population``) and left
    out of every rate; points inside it but farther than ``settings.max_snap_m`` from any usable way
    count as uncovered with status ``too_far_from_network``.
    """
    settings = settings or Settings()
    if target is not None:
        target = check_rate(target, "target")
    if minutes is not None:
        settings = settings.with_(minutes=minutes)
    fac = select_types(facilities, types) if "type" in facilities.columns else facilities.copy()
    if fac.empty:
        have = sorted(facilities["type"].dropna().astype(str).unique()) if "type" in facilities.columns else []
        raise SitingError(f"no facilities of the counted type(s) {', '.join(type_names(types))} to compute coverage "
                          f"from; the facilities have type(s): {', '.join(have) or 'none'} (--facility-types)")
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
        warnings.warn(f"{n_nan} population point(s) have no population (NaN) and are left out", stacklevel=2)
    for col in ("subdistrict", "district"):
        if col not in pop.columns:
            pop[col] = None

    fxy = fac.geometry.to_crs(net.crs).get_coordinates().to_numpy()
    pxy = routing.centre_xy(pop.geometry, net.crs)
    fsnap = routing.snap(net, fxy[:, 0], fxy[:, 1], settings.max_snap_m)
    if not fsnap.ok.any():
        raise SitingError(
            f"none of the {len(fac)} facilities lies within {settings.max_snap_m:.0f} m of the network "
            f"({net.info.get('source', 'network')}); check their coordinate system (--facility-crs)"
        )
    if (~fsnap.ok).any():
        names = fac.loc[~fsnap.ok, "name"].astype(str).tolist() if "name" in fac else []
        warnings.warn(
            f"{int((~fsnap.ok).sum())} of {len(fac)} facilities are farther than {settings.max_snap_m:.0f} m "
            f"from the network and are not used: {', '.join(names[:10])}", stacklevel=2,
        )
    extent = net.extent()
    if extent.area == 0:  # a single straight street: its hull is a line
        extent = extent.buffer(settings.max_snap_m)
    inside = shapely.intersects_xy(extent, pxy[:, 0], pxy[:, 1])
    psnap = routing.snap(net, pxy[:, 0], pxy[:, 1], settings.max_snap_m)
    psnap.seg[~inside] = -1
    nodes = routing.node_distances(net, fsnap)
    dist, who = routing.nearest(net, fsnap, psnap, nodes=nodes)
    walk_min = dist / settings.metres_per_minute
    pop["walk_min"] = walk_min
    pop["facility_id"] = np.where(who >= 0, fac["facility_id"].to_numpy()[np.maximum(who, 0)], None)
    pop["status"] = np.where(~inside, OUTSIDE, np.where(psnap.ok, OK, TOO_FAR))
    pop["snap_m"] = np.where(np.isfinite(psnap.off), psnap.off, np.nan)
    pop["covered"] = (walk_min <= settings.minutes + 1e-9) & (pop["status"] == OK)
    pop = pop.to_crs("EPSG:4326")

    reach = routing.reach_matrix(net, fsnap, psnap, settings.limit_m)
    weights = pop["population"].fillna(0).to_numpy(float)
    fac["snapped"] = fsnap.ok
    fac["snap_m"] = np.where(fsnap.ok, fsnap.off, np.nan)
    fac["residents_within"] = np.asarray(reach.astype(bool) @ weights).ravel()
    fac = fac.to_crs("EPSG:4326")

    by_sub = _aggregate(pop, ["district", "subdistrict"], target)
    by_dist = _aggregate(pop, ["district"], target)
    rated = pop[pop["status"] != OUTSIDE]
    total = float(rated["population"].fillna(0).sum())
    covered_pop = float(rated.loc[rated["covered"], "population"].fillna(0).sum())
    districts = [d for d in rated["district"].dropna().unique()]
    area_target = target
    target_source = "--target" if target is not None else None
    if target is None and len(districts) == 1:
        area_target, target_source = target_for(districts[0])
    summary: dict[str, Any] = {
        "population_total": total,
        "population_covered": covered_pop,
        **gap(total, covered_pop, area_target),
        "target_source": target_source,
        "unit": unit,
        "mode": settings.mode,
        "speed_kmh": settings.speed_kmh,
        "minutes": settings.minutes,
        "limit_m": settings.limit_m,
        "max_snap_m": settings.max_snap_m,
        "n_facilities": int(fsnap.ok.sum()),
        "n_facilities_unusable": int((~fsnap.ok).sum()),
        "facilities_by_type": fac.loc[fac["snapped"], "type"].value_counts().to_dict() if "type" in fac else {},
        "n_points": int(len(pop)),
        "n_points_outside_network": int((pop["status"] == OUTSIDE).sum()),
        "population_outside_network": float(pop.loc[pop["status"] == OUTSIDE, "population"].fillna(0).sum()),
        "n_points_too_far": int((pop["status"] == TOO_FAR).sum()),
        "population_too_far": float(pop.loc[pop["status"] == TOO_FAR, "population"].fillna(0).sum()),
        "n_network_nodes": net.n_nodes,
        "n_network_edges": net.n_edges,
        "network_km": round(float(net.length.sum()) / 1000, 2),
        "network_source": net.info.get("source"),
        "network_warning": net.info.get("warning"),
        "districts": districts,
    }
    summary.update(walk_time_stats(rated["walk_min"].to_numpy(float), rated["population"].to_numpy(float)))
    subs = None
    if boundaries is not None:
        subs = boundaries.merge(by_sub.drop(columns=["district"]), on="subdistrict", how="inner")
        subs = gpd.GeoDataFrame(subs, geometry="geometry", crs=boundaries.crs).to_crs("EPSG:4326")
    return CoverageResult(pop, fac, by_sub, by_dist, summary, settings, net, nodes[0], subs)


def _aggregate(pop: gpd.GeoDataFrame, keys: list[str], target: float | None) -> pd.DataFrame:
    """Population, covered and gap per group; outside-extent residents are reported separately."""
    frame = pd.DataFrame({k: pop[k].fillna(NONE) for k in keys})
    w = pop["population"].fillna(0).to_numpy(float)
    outside = (pop["status"] == OUTSIDE).to_numpy()
    frame["population"] = np.where(outside, 0.0, w)
    frame["covered"] = np.where(pop["covered"].to_numpy(), w, 0.0)
    frame["too_far_population"] = np.where((pop["status"] == TOO_FAR).to_numpy(), w, 0.0)
    frame["outside_population"] = np.where(outside, w, 0.0)
    frame["points"] = (~outside).astype(int)
    out = frame.groupby(keys, sort=True).sum().reset_index()
    rows = []
    for _, row in out.iterrows():
        t = target if target is not None else target_for(row["district"])[0]
        rows.append(gap(row["population"], row["covered"], t))
    out = pd.concat([out, pd.DataFrame(rows, index=out.index)], axis=1)
    out = out[out["population"] + out["outside_population"] > 0]
    return out.sort_values(keys).reset_index(drop=True)
