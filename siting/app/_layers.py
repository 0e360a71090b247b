"""The app's map layers as GeoJSON: homes (or 100 m cells of them), 街道 outlines, facilities, service area.

Everything is plain JSON-ready Python (finite floats or None); names stay text, the page renders them as
text only. The simplified 街道 outlines never change under edits and are kept after the first call.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from ..engine.coverage import CoverageResult
from ..io._utm import utm_crs

__all__ = ["CELL_M", "MAX_POINTS", "Layers", "finite", "service_area"]

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


def homes(points: gpd.GeoDataFrame) -> tuple[dict[str, Any], float | None]:
    """Return the homes (``walk_min`` to 0.1, ``covered``, ``population``, ``status``) and the cell size used.

    Up to :data:`MAX_POINTS` points each is a feature; above, 100 m cells (:func:`cells`).
    """
    if len(points) > MAX_POINTS:
        return cells(points, CELL_M), CELL_M
    xy = points.geometry.to_crs(4326).get_coordinates().to_numpy()
    walk = points["walk_min"].to_numpy(float)
    feats = [_point(x, y, {"walk_min": finite(w, 1), "covered": bool(c), "population": finite(p, 1),
                           "status": str(s)})
             for (x, y), w, c, p, s in zip(xy, walk, points["covered"].to_numpy(bool),
                                           points["population"].to_numpy(float), points["status"].astype(str),
                                           strict=True)]
    return _collection(feats), None


def cells(points: gpd.GeoDataFrame, cell_m: float) -> dict[str, Any]:
    """Aggregate the homes to ``cell_m`` squares, each a point at its population-weighted centre.

    ``population`` and ``covered_population`` are sums; ``walk_min`` is the population-weighted mean over the
    homes the network reaches (None when it reaches none); ``status`` is ``ok`` when any home is reached.
    """
    utm = points.geometry.to_crs(utm_crs(points))
    x, y = utm.x.to_numpy(), utm.y.to_numpy()
    pop = np.clip(points["population"].fillna(0).to_numpy(float), 0, None)
    w = pop + 1e-9
    walk = points["walk_min"].to_numpy(float)
    reached = np.isfinite(walk) & (points["status"].astype(str).to_numpy() == "ok")
    key = np.stack([np.floor(x / cell_m), np.floor(y / cell_m)], axis=1)
    _, group = np.unique(key, axis=0, return_inverse=True)
    group = group.ravel()
    n = int(group.max()) + 1 if len(group) else 0

    def total(v: np.ndarray) -> np.ndarray:
        return np.bincount(group, v, minlength=n)

    sw = total(w)
    cx, cy = total(x * w) / sw, total(y * w) / sw
    lon, lat = gpd.GeoSeries(gpd.points_from_xy(cx, cy), crs=utm.crs).to_crs(4326).get_coordinates().to_numpy().T
    rw = total(np.where(reached, w, 0.0))
    mean_walk = np.divide(total(np.where(reached, walk * w, 0.0)), rw, out=np.full(n, np.nan), where=rw > 0)
    pops, cov = total(pop), total(np.where(points["covered"].to_numpy(bool), pop, 0.0))
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
    """Build the map layers of a workbench's result; keeps the simplified 街道 outlines between calls."""

    def __init__(self) -> None:
        self._outlines: dict[tuple[str, ...], list[dict[str, Any] | None]] = {}

    def subdistricts(self, subs: gpd.GeoDataFrame | None, state: dict[str, Any]) -> dict[str, Any] | None:
        """Return the 街道 polygons with ``name``, ``district``, ``rate``, ``analysed_share``, ``gap``, ``target``.

        The figures are the panel's (``state["subdistricts"]``), so map and table agree; a 街道 without any
        resident in the data has ``analysed_share`` None.
        """
        if subs is None or not len(subs):
            return None
        names = subs["subdistrict"].astype(str).tolist()
        districts = (subs["district"].astype(str) if "district" in subs else subs["subdistrict"].map(str)).tolist()
        key = tuple(names) + tuple(districts)
        if key not in self._outlines:
            self._outlines[key] = _outline(subs)
        rows = {(r["district"], r["subdistrict"]): r for r in state["subdistricts"]}
        feats = []
        for name, district, geom in zip(names, districts, self._outlines[key], strict=True):
            if geom is None:
                continue
            r = rows.get((district, name), {})
            feats.append({"type": "Feature", "geometry": geom, "properties": {
                "name": name, "district": district, "rate": finite(r.get("coverage_rate")),
                "analysed_share": finite(r.get("analysed_share")), "gap": finite(r.get("gap_residents")),
                "target": finite(r.get("target")), "population": finite(r.get("population"), 1)}})
        return _collection(feats)

    def build(self, result: CoverageResult, state: dict[str, Any], parts: set[str]) -> dict[str, Any]:
        """Return the layers named in ``parts`` (homes, subdistricts, facilities), the notes and the counted ids.

        ``counted``: the ids of the open facilities that count (of a counted type, on the street extract).
        """
        fac = result.facilities
        counted = fac.loc[fac["snapped"].astype(bool), "facility_id"] if "snapped" in fac else fac["facility_id"]
        out: dict[str, Any] = {"notes": [str(n) for n in result.summary.notes or ()],
                               "minutes": finite(result.summary.minutes), "counted": counted.astype(str).tolist()}
        if "homes" in parts:
            out["homes"], out["cell_m"] = homes(result.points)
        if "subdistricts" in parts:
            out["subdistricts"] = self.subdistricts(result.subdistricts, state)
        if "facilities" in parts:
            out["facilities"] = facilities(state)
        return out
