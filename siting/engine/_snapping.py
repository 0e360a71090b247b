"""Private: snap points to their nearest street segment (:func:`snap`), the record of a snap (:class:`Snap`).

Split from :mod:`siting.engine.routing`, which exports these names (``siting.engine.routing.snap`` and so on) and
searches the network from the snapped points. The nearest segment comes from the bucket grid of
:mod:`siting.engine._segindex`, with shapely's STRtree for what it leaves undecided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from ._reproject import points_xy
from ._segindex import SegmentIndex, fraction

if TYPE_CHECKING:  # annotations only: snapping sits below the network it is given
    from .network import Network


@dataclass
class Snap:
    """Points snapped to segments. ``seg`` is -1 for points farther than the snapping limit.

    ``t`` is the distance along the segment from its ``u`` end (m), ``off`` the off-network leg (m).
    """

    seg: np.ndarray
    t: np.ndarray
    off: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        """Mask of the points snapped to a segment."""
        return self.seg >= 0

    def __len__(self) -> int:
        """Return the number of points."""
        return int(len(self.seg))

    def subset(self, mask: np.ndarray) -> Snap:
        """Return the snaps of the points selected by ``mask``."""
        return Snap(self.seg[mask], self.t[mask], self.off[mask])

    def exits(self, net: Network) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Leaving the point: (node_a, cost_a, node_b, cost_b); cost inf where that way is closed.

        Along a one-way segment (u → v) a point can only leave towards ``v``.
        """
        seg = np.where(self.ok, self.seg, 0)
        length = net.length[seg]
        cost_u = np.where(net.oneway[seg] & (self.t > 1e-9), np.inf, self.off + self.t)  # at u: no one-way leg
        cost_v = self.off + (length - self.t)
        bad = ~self.ok
        return net.u[seg], np.where(bad, np.inf, cost_u), net.v[seg], np.where(bad, np.inf, cost_v)

    def entries(self, net: Network) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Arriving at the point: (node_a, cost_a, node_b, cost_b); along a one-way only from ``u``."""
        seg = np.where(self.ok, self.seg, 0)
        length = net.length[seg]
        cost_u = self.off + self.t
        cost_v = np.where(net.oneway[seg] & (length - self.t > 1e-9), np.inf, self.off + (length - self.t))
        bad = ~self.ok
        return net.u[seg], np.where(bad, np.inf, cost_u), net.v[seg], np.where(bad, np.inf, cost_v)


def centre_xy(geometry: Any, crs: Any) -> np.ndarray:
    """(n, 2) coordinates in ``crs`` of a GeoSeries: points as they are, other shapes' centroids.

    The same numbers as ``geometry.to_crs(crs).centroid.get_coordinates()`` without building a
    centroid for every point (0.6 s for a million homes), nor a reprojected copy of every point
    (:func:`siting.engine._reproject.points_xy`).
    """
    xy = points_xy(geometry, crs)
    if xy is not None:
        return xy
    geoms = np.asarray(geometry.to_crs(crs).array, dtype=object)
    point = shapely.get_type_id(geoms) == 0
    if not point.all():
        geoms = geoms.copy()
        geoms[~point] = shapely.centroid(geoms[~point])
    return np.column_stack([shapely.get_x(geoms), shapely.get_y(geoms)])


def snap(net: Network, x: np.ndarray, y: np.ndarray, max_dist: float = np.inf) -> Snap:
    """Snap projected points (same CRS as ``net``) to their nearest segment within ``max_dist`` metres.

    The nearest segment is found on a bucket grid cached with the network (:mod:`siting.engine._segindex`);
    the few points it cannot decide provably (equidistant segments, the limit itself, far from every
    street) are asked of shapely's STRtree, so the answer is exactly :func:`snap_strtree`'s (same
    segment, same offsets; tested on the real extract and on random grids). The position along the
    segment is the orthogonal projection, clamped to the segment.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) == 0:
        return _project(net, x, y, np.full(0, -1, np.int64))
    seg, undecided, ruled = _segment_grid(net).nearest(x, y, max_dist)
    if undecided.any():
        ask = np.flatnonzero(undecided)
        seg[ask] = _strtree_nearest(net, x[ask], y[ask], max_dist)
    return _project(net, x, y, seg, ruled)


def snap_strtree(net: Network, x: np.ndarray, y: np.ndarray, max_dist: float = np.inf) -> Snap:
    """:func:`snap` by shapely's ``STRtree.query_nearest`` alone (the reference; ~13 µs a point)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return _project(net, x, y, _strtree_nearest(net, x, y, max_dist))


def _strtree_nearest(net: Network, x: np.ndarray, y: np.ndarray, max_dist: float) -> np.ndarray:
    """Index of the nearest segment (-1: none within ``max_dist`` or non-finite point), by the STRtree.

    ``query_nearest(max_distance=d)`` only prescreens by bounding box and then filters the same
    unbounded nearest search by distance; filtering here gives the same matches, faster.
    """
    seg = np.full(len(x), -1, np.int64)
    finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if len(finite) == 0:
        return seg
    (pi, si), dist = _segment_tree(net).query_nearest(
        shapely.points(x[finite], y[finite]), all_matches=False, return_distance=True
    )
    keep = dist <= max_dist
    seg[finite[pi[keep]]] = si[keep]
    return seg


def _project(net: Network, x: np.ndarray, y: np.ndarray, si: np.ndarray, ruled: np.ndarray | None = None) -> Snap:
    """Return the snap record of points on their chosen segments ``si`` (-1: not snapped), ties at a node settled.

    A point whose nearest spot is an end node of ``si`` is as near to every segment meeting there
    whose own nearest spot is that node; it is recorded on the lowest-indexed of them
    (:func:`_at_node_rule`, except where ``ruled`` says the search applied it already), so the record
    does not depend on which of them a search returned.
    """
    n = len(x)
    seg = np.full(n, -1, np.int64)
    t = np.zeros(n)
    off = np.full(n, np.inf)
    idx = np.flatnonzero(si >= 0)
    si = si[idx]
    rule = np.flatnonzero(~ruled[idx]) if ruled is not None else np.arange(len(idx))
    si[rule] = _at_node_rule(net, x[idx[rule]], y[idx[rule]], si[rule])
    x0, y0, x1, y1 = net.x[net.u[si]], net.y[net.u[si]], net.x[net.v[si]], net.y[net.v[si]]
    dx, dy = x1 - x0, y1 - y0
    frac = fraction(x[idx], y[idx], x0, y0, dx, dy, dx * dx + dy * dy)
    px, py = x0 + frac * dx, y0 + frac * dy
    seg[idx] = si
    t[idx] = frac * net.length[si]
    off[idx] = np.hypot(x[idx] - px, y[idx] - py)
    return Snap(seg, t, off)


def _at_node_rule(net: Network, x: np.ndarray, y: np.ndarray, si: np.ndarray) -> np.ndarray:
    """Return the segments ``si`` of points with the rule for ties at a node applied.

    Where a point's nearest spot on ``si`` is an end node ``N``, the segment is replaced by the lowest
    index among the segments at ``N`` whose nearest spot (:func:`fraction`) is ``N`` too. These
    segments are all exactly as far from the point (its distance to ``N``): a tie that the STRtree
    settles by its traversal order. The rule makes the answer the same whichever of them
    was found, by the bucket grid or by the STRtree.
    """
    x0, y0 = net.x[net.u[si]], net.y[net.u[si]]
    dx, dy = net.x[net.v[si]] - x0, net.y[net.v[si]] - y0
    frac = fraction(x, y, x0, y0, dx, dy, dx * dx + dy * dy)
    end = np.flatnonzero((frac == 0.0) | (frac == 1.0))
    if len(end) == 0:
        return si
    node = np.where(frac[end] == 0.0, net.u[si[end]], net.v[si[end]])
    touched = np.zeros(net.n_nodes, bool)
    touched[node] = True
    cand = np.flatnonzero(touched[net.u] | touched[net.v])  # the segments meeting at any such node
    ends, cseg = np.concatenate([net.u[cand], net.v[cand]]), np.concatenate([cand, cand])
    order = np.lexsort((cseg, ends))
    ends, cseg = ends[order], cseg[order]
    lo = np.searchsorted(ends, node, "left")
    count = np.searchsorted(ends, node, "right") - lo
    pt = np.repeat(np.arange(len(end)), count)
    e = cseg[np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count - lo, count)]
    ex0, ey0 = net.x[net.u[e]], net.y[net.u[e]]
    edx, edy = net.x[net.v[e]] - ex0, net.y[net.v[e]] - ey0
    f = fraction(x[end][pt], y[end][pt], ex0, ey0, edx, edy, edx * edx + edy * edy)
    at = ((net.u[e] == node[pt]) & (f == 0.0)) | ((net.v[e] == node[pt]) & (f == 1.0))
    lowest = si[end].copy()  # the segment found is among them
    np.minimum.at(lowest, pt[at], e[at])
    out = si.copy()
    out[end] = lowest
    return out


def _segment_tree(net: Network) -> shapely.STRtree:
    """Shapely STRtree of the segments (in segment order), cached with the network."""
    tree = net.__dict__.get("_tree")
    if tree is None:
        x0, y0, x1, y1 = net.segments_xy()
        lines = shapely.linestrings(np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1))
        tree = net.__dict__["_tree"] = shapely.STRtree(lines)
    return tree


def _segment_grid(net: Network) -> SegmentIndex:
    """Return the bucket grid of the segments (:class:`~siting.engine._segindex.SegmentIndex`), kept with the net."""
    grid = net.__dict__.get("_grid")
    if grid is None:
        grid = net.__dict__["_grid"] = SegmentIndex(*net.segments_xy(), u=net.u, v=net.v)
    return grid
