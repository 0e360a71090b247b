"""The app's map layers as GeoJSON: homes (or 100 m cells of them), 街道 outlines, facilities, service area, catchment.

The layers an edit redraws come from :meth:`siting.Workbench.homes` and :meth:`~siting.Workbench.state` (a few
milliseconds); only the notes, the counted facilities and the service area need the whole
:attr:`~siting.Workbench.result`, asked for separately. Everything is plain JSON-ready Python (finite floats
or None); names stay text, the page renders them as text only. The simplified 街道 outlines never change
under edits and are kept after the first call.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from ..engine import routing
from ..engine.catchments import reached_area
from ..engine.coverage import CoverageResult
from ..errors import SitingError
from ..io._utm import utm_crs, zone_crs
from ..workbench import Workbench

__all__ = ["CELL_M", "MAX_POINTS", "Layers", "catchment", "finite", "notes", "service_area", "walk"]

#: Above this many homes the map gets ``CELL_M`` cells instead (the page never draws a million dots).
MAX_POINTS = 20_000
CELL_M = 100.0
#: Tolerance of the 街道 and service-area outlines (m): invisible at district zoom, a fraction of the bytes.
SIMPLIFY_M = 10.0


def finite(x: Any, digits: int | None = None) -> float | None:
    """Return ``x`` as a float (rounded to ``digits``), or None when missing or not finite."""
    if x is None:
        return None
    v = float(x)
    if not math.isfinite(v):
        return None
    return round(v, digits) if digits is not None else v


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _point(lon: float, lat: float, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "Point", "coordinates": [round(float(lon), 6), round(float(lat), 6)]}}


def _outline(gdf: gpd.GeoDataFrame) -> list[dict[str, Any] | None]:
    """Return the geometries simplified by :data:`SIMPLIFY_M` and rounded to 6 decimals, as GeoJSON dicts."""
    geoms = gdf.geometry.to_crs(4326)
    if len(gdf):
        geoms = geoms.to_crs(utm_crs(geoms)).simplify(SIMPLIFY_M, preserve_topology=True).to_crs(4326)
    rounded = shapely.transform(np.asarray(geoms.values), lambda c: np.round(c, 6))
    return [shapely.geometry.mapping(g) if g is not None and not g.is_empty else None for g in rounded]


def homes(frame: pd.DataFrame) -> tuple[dict[str, Any], float | None]:
    """Return the homes (``walk_min`` to 0.1, ``covered``, ``population``, ``status``) and the cell size used.

    ``frame``: :meth:`siting.Workbench.homes` (``lon``, ``lat``, ``population``, ``status``, ``walk_min``,
    ``covered``; WGS84), the rows of the result's points without building the result. Up to
    :data:`MAX_POINTS` points each is a feature; above, 100 m cells (:func:`cells`).
    """
    if len(frame) > MAX_POINTS:
        return cells(frame, CELL_M), CELL_M
    walk = np.round(frame["walk_min"].to_numpy(float), 1)
    pop = np.round(frame["population"].to_numpy(float), 1)
    feats = [_point(x, y, {"walk_min": w if math.isfinite(w) else None, "covered": c,
                           "population": p if math.isfinite(p) else None, "status": s})
             for x, y, w, c, p, s in zip(frame["lon"].to_numpy(float).tolist(), frame["lat"].to_numpy(float).tolist(),
                                         walk.tolist(), frame["covered"].to_numpy(bool).tolist(), pop.tolist(),
                                         frame["status"].astype(str).tolist(), strict=True)]
    return _collection(feats), None


def walk(frame: pd.DataFrame) -> dict[str, Any] | None:
    """Return the homes' ``walk_min`` (to 0.1, None when unreached) and ``covered`` as lists, in :func:`homes` order.

    What changes under an edit that keeps the settings (add, move, close...): a page holding the homes
    restyles them from these. None above :data:`MAX_POINTS` homes (the page then holds cells: ask for ``homes``).
    """
    if len(frame) > MAX_POINTS:
        return None
    minutes = np.round(frame["walk_min"].to_numpy(float), 1)
    return {"walk_min": [w if math.isfinite(w) else None for w in minutes.tolist()],
            "covered": frame["covered"].to_numpy(bool).tolist()}


def cells(frame: pd.DataFrame, cell_m: float) -> dict[str, Any]:
    """Aggregate the homes (``frame`` as in :func:`homes`) to ``cell_m`` squares, each a point at its centre.

    The centre is population-weighted; ``population`` and ``covered_population`` are sums; ``walk_min`` is
    the population-weighted mean over the homes the network reaches (None when it reaches none); ``status``
    is ``ok`` when any home is reached.
    """
    lon0, lat0 = frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)
    utm = zone_crs(float(np.nanmean(lon0)), float(np.nanmean(lat0)))
    to_utm = Transformer.from_crs("EPSG:4326", utm, always_xy=True)
    x, y = to_utm.transform(lon0, lat0)
    pop = np.clip(frame["population"].fillna(0).to_numpy(float), 0, None)
    w = pop + 1e-9
    walk = frame["walk_min"].to_numpy(float)
    reached = np.isfinite(walk) & (frame["status"].astype(str).to_numpy() == "ok")
    key = np.stack([np.floor(x / cell_m), np.floor(y / cell_m)], axis=1)
    _, group = np.unique(key, axis=0, return_inverse=True)
    group = group.ravel()
    n = int(group.max()) + 1 if len(group) else 0

    def total(v: np.ndarray) -> np.ndarray:
        return np.bincount(group, v, minlength=n)

    sw = total(w)
    lon, lat = to_utm.transform(total(x * w) / sw, total(y * w) / sw, direction="INVERSE")
    rw = total(np.where(reached, w, 0.0))
    mean_walk = np.divide(total(np.where(reached, walk * w, 0.0)), rw, out=np.full(n, np.nan), where=rw > 0)
    pops, cov = total(pop), total(np.where(frame["covered"].to_numpy(bool), pop, 0.0))
    count = np.bincount(group, minlength=n)
    feats = [_point(lo, la, {"walk_min": finite(m, 1), "covered_population": finite(c, 1),
                             "population": finite(p, 1), "n": int(k), "status": "ok" if r > 0 else "unreached"})
             for lo, la, m, c, p, k, r in zip(lon, lat, mean_walk, cov, pops, count, rw, strict=True)]
    return _collection(feats)


def facilities(state: dict[str, Any]) -> dict[str, Any]:
    """Return the facilities of a workbench state (open, closed and added ones) as points."""
    return _collection([_point(f["lon"], f["lat"], {k: f[k] for k in ("id", "name", "type", "open", "added")})
                        for f in state["facilities"]])


def service_area(result: CoverageResult) -> dict[str, Any]:
    """Return ``result.service_area()`` (the area within the threshold of an open facility) as GeoJSON."""
    area = result.service_area()
    geoms = _outline(area) if area is not None and len(area) else []
    return _collection([{"type": "Feature", "properties": {"minutes": finite(result.summary.minutes)},
                         "geometry": g} for g in geoms if g is not None])


class Layers:
    """Build the map layers of a workbench's state; keeps the simplified 街道 outlines between calls."""

    def __init__(self) -> None:
        self._outlines: dict[tuple[str, ...], list[dict[str, Any] | None]] = {}

    def subdistricts(self, subs: gpd.GeoDataFrame | None, state: dict[str, Any]) -> dict[str, Any] | None:
        """Return the 街道 polygons with ``name``, ``district``, ``rate``, ``analysed_share``, ``gap``, ``target``.

        ``subs``: the boundaries (``subdistrict``, ``district``); those of the 街道 in ``state["subdistricts"]``
        are drawn (the result's), with the panel's figures, so map and table agree.
        """
        if subs is None or not len(subs):
            return None
        names = subs["subdistrict"].astype(str).tolist()
        districts = (subs["district"].astype(str) if "district" in subs else subs["subdistrict"].map(str)).tolist()
        key = tuple(names) + tuple(districts)
        if key not in self._outlines:
            self._outlines[key] = _outline(subs)
        rows = {(r["district"], r["subdistrict"]): r for r in state["subdistricts"]}
        with_rows = {r["subdistrict"] for r in state["subdistricts"]}  # as the result's: 街道 with residents
        feats = []
        for name, district, geom in zip(names, districts, self._outlines[key], strict=True):
            if geom is None or name not in with_rows:
                continue
            r = rows.get((district, name), {})
            feats.append({"type": "Feature", "geometry": geom, "properties": {
                "name": name, "district": district, "rate": finite(r.get("coverage_rate")),
                "analysed_share": finite(r.get("analysed_share")), "gap": finite(r.get("gap_residents")),
                "target": finite(r.get("target")), "population": finite(r.get("population"), 1)}})
        return _collection(feats)

    def build(self, wb: Workbench, state: dict[str, Any], parts: set[str]) -> dict[str, Any]:
        """Return the layers named in ``parts`` (homes or walk, subdistricts, facilities) of the current state.

        Built from :meth:`~siting.Workbench.homes` and ``state`` (:meth:`~siting.Workbench.state`) only: no
        :attr:`~siting.Workbench.result` is assembled (the notes and counted facilities: :func:`notes`).
        """
        out: dict[str, Any] = {"minutes": finite(state["minutes"]), "edits": state["edits"]}
        if "homes" in parts:
            out["homes"], out["cell_m"] = homes(wb.homes())
        elif "walk" in parts:
            out["walk"] = walk(wb.homes())
        if "subdistricts" in parts:
            out["subdistricts"] = self.subdistricts(wb.inputs.boundaries, state)
        if "facilities" in parts:
            out["facilities"] = facilities(state)
        return out


def notes(result: CoverageResult) -> dict[str, Any]:
    """Return the result's ``notes`` and the ``counted`` facility ids (open, of a counted type, on the streets)."""
    fac = result.facilities
    counted = fac.loc[fac["snapped"].astype(bool), "facility_id"] if "snapped" in fac else fac["facility_id"]
    return {"notes": [str(n) for n in result.summary.notes or ()], "counted": counted.astype(str).tolist()}


def catchment(wb: Workbench, facility_id: str) -> dict[str, Any]:
    """Return the street area within the threshold of one facility alone (its catchment) as GeoJSON.

    Walked as coverage walks (home → facility, :func:`siting.engine.routing.node_distances` from the
    facility's snap); the area is :func:`siting.engine.catchments.reached_area`. A facility farther than
    ``max_snap_m`` from the streets has none (no feature).
    """
    state = wb.state()
    found = [f for f in state["facilities"] if f["id"] == str(facility_id)]
    if not found:
        raise SitingError(f"no facility with id {facility_id!r}")
    fac, s = found[0], wb.settings
    net = wb.networks[s.network_type]
    xy = gpd.GeoSeries(gpd.points_from_xy([fac["lon"]], [fac["lat"]]), crs=4326).to_crs(net.crs).get_coordinates()
    snap = routing.snap(net, xy["x"].to_numpy(), xy["y"].to_numpy(), s.max_snap_m)
    props = {"id": fac["id"], "name": fac["name"], "open": fac["open"], "minutes": finite(s.minutes)}
    if not snap.ok.any():
        return _collection([])
    dist, _ = routing.node_distances(net, snap, limit=s.limit_m)
    area = reached_area(net, dist, s.limit_m, simplify_m=SIMPLIFY_M)
    geom = gpd.GeoSeries([area], crs=net.crs).to_crs(4326)
    rounded = shapely.transform(np.asarray(geom.values), lambda c: np.round(c, 6))[0]
    if rounded is None or rounded.is_empty:
        return _collection([])
    return _collection([{"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(rounded)}])
