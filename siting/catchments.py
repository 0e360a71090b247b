"""Street areas reached within a walking time, by all facilities together or each on its own.

All facilities together give the service area; each on its own gives per-facility catchments, optionally
in 5 / 10 / 15-minute bands (the ArcGIS service-area habit).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

from . import routing
from .network import Network

if TYPE_CHECKING:
    from .coverage import CoverageResult

__all__ = ["BANDS", "facility_catchments", "reached_area"]

#: Default band limits (minutes) of :func:`facility_catchments`, capped at the run's threshold.
BANDS = (5.0, 10.0, 15.0)


def reached_area(net: Network, node_dist: np.ndarray, limit_m: float, *, buffer_m: float = 50.0,
                 simplify_m: float = 5.0) -> shapely.Geometry:
    """Return the (parts of) segments within ``limit_m`` of a source, buffered and dissolved.

    ``node_dist`` is each node's distance to the source (m, ``inf`` = not reached); the segments are
    buffered by ``buffer_m`` (the lots along the street); the area is in the network's CRS (an empty
    polygon when nothing is reached).
    """
    d, limit = node_dist, limit_m
    x0, y0, x1, y1 = net.segments_xy()
    length = net.length
    from_u = np.clip(limit - d[net.u], 0, None)
    from_v = np.clip(limit - d[net.v], 0, None)
    from_u = np.where(net.oneway, 0.0, from_u)  # home → facility: a one-way is walked u → v only
    whole = from_u + from_v >= length
    pieces = []
    for lo, hi in ((np.zeros_like(length), np.minimum(from_u, length)),
                   (np.maximum(length - from_v, 0), length)):
        part = ~whole & (hi > lo)
        pieces.append(_sub_lines(x0, y0, x1, y1, length, lo, hi, part))
    pieces.append(_sub_lines(x0, y0, x1, y1, length, np.zeros_like(length), length, whole))
    lines = np.concatenate(pieces)
    if len(lines) == 0:
        return shapely.Polygon()
    return shapely.union_all(shapely.buffer(lines, buffer_m, quad_segs=4)).simplify(simplify_m)


def _sub_lines(
    x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, length: np.ndarray, lo: np.ndarray,
    hi: np.ndarray, mask: np.ndarray,
) -> np.ndarray:
    """Straight sub-segments [lo, hi] (metres from u) of the segments selected by ``mask``."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return np.empty(0, dtype=object)
    safe = np.where(length[idx] > 0, length[idx], 1.0)  # a zero-length segment is its start point
    f0 = np.clip(lo[idx] / safe, 0.0, 1.0)
    f1 = np.clip(hi[idx] / safe, 0.0, 1.0)
    dx, dy = x1[idx] - x0[idx], y1[idx] - y0[idx]
    a = np.column_stack([x0[idx] + f0 * dx, y0[idx] + f0 * dy])
    b = np.column_stack([x0[idx] + f1 * dx, y0[idx] + f1 * dy])
    return shapely.linestrings(np.stack([a, b], axis=1))


def facility_catchments(result: CoverageResult, minutes: Iterable[float] | None = None, *, buffer_m: float = 50.0,
                        simplify_m: float = 5.0) -> gpd.GeoDataFrame:
    """Return each counted facility's own street area within each of ``minutes``.

    ``minutes`` defaults to :data:`BANDS` up to the run's threshold, and the threshold itself; walks are
    measured as coverage measures them (homes → facility).

    Returns
    -------
    GeoDataFrame (WGS84)
        One row per facility and band: ``facility_id``, ``name``, ``minutes`` (largest band first, so
        smaller bands draw on top); facilities off the street network have none.
    """
    settings, net = result.settings, result._network
    limit = float(settings.minutes)
    bands = sorted({float(m) for m in (minutes if minutes is not None else [b for b in BANDS if b <= limit])}
                   | ({limit} if minutes is None else set()), reverse=True)
    fac = result.facilities
    used = fac[fac["snapped"].astype(bool)] if "snapped" in fac.columns else fac
    xy = used.geometry.to_crs(net.crs).get_coordinates().to_numpy()
    snaps = routing.snap(net, xy[:, 0], xy[:, 1], settings.max_snap_m)
    jobs: list[tuple[str, str, float, np.ndarray]] = []
    names = used["name"].astype(str).to_numpy() if "name" in used.columns else used["facility_id"].astype(str)
    for i, (fid, name) in enumerate(zip(used["facility_id"].astype(str), names, strict=True)):
        one = snaps.subset(np.arange(len(used)) == i)
        if one.ok.any():
            dist, _ = routing.node_distances(net, one, limit=max(bands) * settings.metres_per_minute)
            jobs += [(fid, name, m, dist) for m in bands]

    def area(job: tuple[str, str, float, np.ndarray]) -> shapely.Geometry:
        return reached_area(net, job[3], job[2] * settings.metres_per_minute, buffer_m=buffer_m, simplify_m=simplify_m)

    # GEOS dissolves without holding the GIL: two threads use both cores when one is free (the same time otherwise)
    with ThreadPoolExecutor(max_workers=2) as pool:
        areas = list(pool.map(area, jobs))
    rows = [(fid, name, m, a) for (fid, name, m, _), a in zip(jobs, areas, strict=True) if not a.is_empty]
    frame = gpd.GeoDataFrame({"facility_id": [r[0] for r in rows], "name": [r[1] for r in rows],
                              "minutes": [r[2] for r in rows]}, geometry=[r[3] for r in rows], crs=net.crs)
    return frame.sort_values("minutes", ascending=False, kind="stable").reset_index(drop=True).to_crs("EPSG:4326")
