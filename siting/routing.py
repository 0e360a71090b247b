"""Snap points to the nearest street segment; multi-source bounded shortest paths; sparse reach matrices.

Times are computed door to door: the off-network leg (point → its nearest point on a segment, as the
crow flies), the partial segment to one of its end nodes, the network path, and the same on the
facility side. Distances are in metres; divide by ``Settings.metres_per_minute`` for minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

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
        return self.seg >= 0

    def __len__(self) -> int:
        return int(len(self.seg))

    def subset(self, mask: np.ndarray) -> Snap:
        return Snap(self.seg[mask], self.t[mask], self.off[mask])

    def exits(self, net: Network) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Leaving the point: (node_a, cost_a, node_b, cost_b); cost inf where that way is closed.

        Along a one-way segment (u → v) a point can only leave towards ``v``.
        """
        seg = np.where(self.ok, self.seg, 0)
        length = net.length[seg]
        cost_u = np.where(net.oneway[seg], np.inf, self.off + self.t)
        cost_v = self.off + (length - self.t)
        bad = ~self.ok
        return net.u[seg], np.where(bad, np.inf, cost_u), net.v[seg], np.where(bad, np.inf, cost_v)

    def entries(self, net: Network) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Arriving at the point: (node_a, cost_a, node_b, cost_b); along a one-way only from ``u``."""
        seg = np.where(self.ok, self.seg, 0)
        length = net.length[seg]
        cost_u = self.off + self.t
        cost_v = np.where(net.oneway[seg], np.inf, self.off + (length - self.t))
        bad = ~self.ok
        return net.u[seg], np.where(bad, np.inf, cost_u), net.v[seg], np.where(bad, np.inf, cost_v)


def snap(net: Network, x: np.ndarray, y: np.ndarray, max_dist: float = np.inf) -> Snap:
    """Snap projected points (same CRS as ``net``) to their nearest segment within ``max_dist`` metres.

    Uses shapely's STRtree nearest query (in C); the position along the segment is the orthogonal
    projection, clamped to the segment.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    seg = np.full(n, -1, np.int64)
    t = np.zeros(n)
    off = np.full(n, np.inf)
    if n == 0:
        return Snap(seg, t, off)
    tree = _segment_tree(net)
    finite = np.isfinite(x) & np.isfinite(y)
    pts = shapely.points(x[finite], y[finite])
    max_d = None if not np.isfinite(max_dist) else float(max_dist)
    pi, si = tree.query_nearest(pts, max_distance=max_d, all_matches=False)
    idx = np.flatnonzero(finite)[pi]
    x0, y0, x1, y1 = (a[si] for a in net.segments_xy())
    dx, dy = x1 - x0, y1 - y0
    ll = dx * dx + dy * dy
    frac = np.clip(((x[idx] - x0) * dx + (y[idx] - y0) * dy) / np.where(ll > 0, ll, 1.0), 0.0, 1.0)
    px, py = x0 + frac * dx, y0 + frac * dy
    seg[idx] = si
    t[idx] = frac * net.length[si]
    off[idx] = np.hypot(x[idx] - px, y[idx] - py)
    return Snap(seg, t, off)


def _segment_tree(net: Network) -> shapely.STRtree:
    tree = getattr(net, "_tree", None)
    if tree is None:
        tree = shapely.STRtree(net.edges().geometry.values)
        object.__setattr__(net, "_tree", tree)
    return tree


def _augmented(net: Network, sources: Snap, reverse: bool) -> tuple[sp.csr_matrix, np.ndarray]:
    """Adjacency with one virtual node per (snapped) source linked to its segment's end nodes.

    ``reverse=True`` builds the transposed graph so that a search *from* the sources gives times
    *to* them (homes → facility), which matters only on one-way segments.
    """
    n = net.n_nodes
    ok = np.flatnonzero(sources.ok)
    virt = n + np.arange(len(ok))
    sub = sources.subset(ok)
    a, ca, b, cb = sub.entries(net) if reverse else sub.exits(net)
    two = ~net.oneway
    src = [net.u, net.v[two], virt, virt]
    dst = [net.v, net.u[two], a, b]
    w = [net.length, net.length[two], ca, cb]
    src_all, dst_all, w_all = np.concatenate(src), np.concatenate(dst), np.concatenate(w)
    if reverse:  # arcs of the original graph reversed; virtual arcs already point source → node
        m = len(net.length) + int(two.sum())
        src_all[:m], dst_all[:m] = dst_all[:m].copy(), src_all[:m].copy()
    fin = np.isfinite(w_all)
    from .network import _csr_min

    graph = _csr_min(src_all[fin], dst_all[fin], w_all[fin], n + len(ok))
    return graph, virt


def node_distances(net: Network, sources: Snap, limit: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Distance (m) from every network node to its nearest source, and that source's index (-1: none).

    One multi-source Dijkstra (``scipy.sparse.csgraph.dijkstra(min_only=True)``) on the reversed
    graph plus one virtual node per source, so the distance is node → source (homes walk to the
    facility; this matters on one-way segments only).
    """
    ok_src = np.flatnonzero(sources.ok)
    dist = np.full(net.n_nodes, np.inf)
    origin_src = np.full(net.n_nodes, -1, np.int64)
    if len(ok_src) == 0:
        return dist, origin_src
    graph, virt = _augmented(net, sources, reverse=True)
    lim = np.inf if not np.isfinite(limit) else float(limit)
    d, _, origin = dijkstra(graph, directed=True, indices=virt, min_only=True, return_predecessors=True, limit=lim)
    dist = d[: net.n_nodes]
    hit = origin[: net.n_nodes] >= 0
    origin_src[hit] = ok_src[origin[: net.n_nodes][hit] - net.n_nodes]
    return dist, origin_src


def nearest(
    net: Network, sources: Snap, targets: Snap, limit: float = np.inf,
    nodes: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """For every target, the network distance (m) to its nearest source and that source's index.

    Targets add their own exit legs to :func:`node_distances` (pass ``nodes`` to reuse a search),
    and targets on the same segment as a source are also checked directly. Unreached targets (or
    beyond ``limit``) get ``inf`` and -1.
    """
    dist, origin_src = node_distances(net, sources, limit) if nodes is None else nodes
    if len(targets) == 0:
        return np.zeros(0), np.zeros(0, np.int64)
    a, ca, b, cb = targets.exits(net)
    via_a, via_b = ca + dist[a], cb + dist[b]
    best = np.minimum(via_a, via_b)
    who = np.where(via_a <= via_b, origin_src[a], origin_src[b])
    s_i, t_i, cost = same_segment_pairs(net, sources, targets)
    for k in np.flatnonzero(cost < best[t_i]):  # few: sources sharing a segment with targets
        if cost[k] < best[t_i[k]]:
            best[t_i[k]], who[t_i[k]] = cost[k], s_i[k]
    who = np.where(np.isfinite(best) & (best <= limit), who, -1)
    best = np.where(who >= 0, best, np.inf)
    return best, who


def same_segment_pairs(net: Network, sources: Snap, targets: Snap) -> tuple[np.ndarray, ...]:
    """(source, target, distance) for every pair snapped onto one segment, walking target → source.

    The path through the segment's end nodes is found by Dijkstra; this direct walk along the shared
    segment can be shorter and is added separately (one-way segments only allow u → v).
    """
    src_ok = np.flatnonzero(sources.ok)
    tgt_ok = np.flatnonzero(targets.ok)
    order = tgt_ok[np.argsort(targets.seg[tgt_ok], kind="stable")]
    segs = targets.seg[order]
    lo = np.searchsorted(segs, sources.seg[src_ok], side="left")
    counts = np.searchsorted(segs, sources.seg[src_ok], side="right") - lo
    total = int(counts.sum())
    src = np.repeat(src_ok, counts)
    pos = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(lo, counts)
    tgt = order[pos]
    along = sources.t[src] - targets.t[tgt]  # > 0: the source lies further towards v
    allowed = ~net.oneway[sources.seg[src]] | (along >= 0)
    cost = np.where(allowed, targets.off[tgt] + np.abs(along) + sources.off[src], np.inf)
    return src, tgt, cost


def reach_matrix(
    net: Network, sources: Snap, targets: Snap, limit: float, *, chunk: int | None = None,
    progress: bool = False,
) -> sp.csr_matrix:
    """Sparse (n_sources × n_targets) matrix of distances ≤ ``limit`` metres (stored as d + 1e-9).

    Sources are searched in chunks of bounded Dijkstras (``limit``) so memory stays at
    chunk × n_nodes; only hits within the limit are kept, never a dense sources × targets array.
    """
    n_src, n_tgt = len(sources), len(targets)
    graph, virt = _augmented(net, sources, reverse=True)
    ok_src = np.flatnonzero(sources.ok)
    a, ca, b, cb = targets.exits(net)
    if chunk is None:
        chunk = max(1, min(256, int(2e7 // max(graph.shape[0], 1))))
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    starts = range(0, len(ok_src), chunk)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="reach sets", unit="chunk")
    for s0 in starts:
        idx = virt[s0:s0 + chunk]
        dist = dijkstra(graph, directed=True, indices=idx, limit=limit)
        d = np.minimum(dist[:, a] + ca, dist[:, b] + cb)
        r, c = np.nonzero(d <= limit)
        rows.append(ok_src[s0 + r])
        cols.append(c)
        vals.append(d[r, c] + 1e-9)
    mat = sp.csr_matrix(
        (np.concatenate(vals) if vals else np.zeros(0),
         (np.concatenate(rows) if rows else np.zeros(0, int), np.concatenate(cols) if cols else np.zeros(0, int))),
        shape=(n_src, n_tgt),
    )
    return _add_same_segment(net, sources, targets, mat, limit)


def _add_same_segment(
    net: Network, sources: Snap, targets: Snap, mat: sp.csr_matrix, limit: float
) -> sp.csr_matrix:
    """Merge direct along-segment distances into ``mat``, keeping the smaller of two entries."""
    s_i, t_i, cost = same_segment_pairs(net, sources, targets)
    keep = cost <= limit
    coo = mat.tocoo()
    r = np.concatenate([coo.row, s_i[keep]])
    c = np.concatenate([coo.col, t_i[keep]])
    v = np.concatenate([coo.data, cost[keep] + 1e-9])
    order = np.lexsort((v, c, r))
    r, c, v = r[order], c[order], v[order]
    first = np.ones(len(r), bool)
    first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    return sp.csr_matrix((v[first], (r[first], c[first])), shape=mat.shape)
