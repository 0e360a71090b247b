"""Street area within a walking time of a set of sources: the segments (and parts of segments) reached.

Below both :mod:`siting.engine.coverage` (a result's service area) and :mod:`siting.engine.catchments`
(each facility's own area), so that neither imports the other for it.
"""

from __future__ import annotations

import numpy as np
import shapely

from .network import Network

__all__ = ["reached_area"]


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
