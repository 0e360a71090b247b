"""Snap points to the nearest street segment; multi-source bounded shortest paths; sparse reach matrices.

Snapping itself (:func:`snap`, :class:`Snap`) lives in :mod:`siting.engine._snapping`; its names are exported here.

Times are computed door to door: the off-network leg (point → its nearest point on a segment, as the
crow flies), the partial segment to one of its end nodes, the network path, and the same on the
facility side. Distances are in metres; divide by ``Settings.metres_per_minute`` for minutes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from tqdm.auto import tqdm

from ._graphs import Buckets
from ._snapping import Snap, centre_xy, snap, snap_strtree
from .network import Network

#: Most cells of one search's dense (sources × window nodes) distance array: 128 MB; more sources are split.
DENSE_CELLS = 1 << 24


def _augmented(net: Network, sources: Snap, reverse: bool) -> tuple[sp.csr_matrix, np.ndarray]:
    """Adjacency with one virtual node per (snapped) source linked to its segment's end nodes.

    ``reverse=True`` uses the transposed graph so that a search *from* the sources gives times *to*
    them (homes → facility), which matters only on one-way segments. The network's own CSR is
    cached; the virtual nodes are appended as extra rows (their arcs only leave them).
    """
    n = net.n_nodes
    ok = np.flatnonzero(sources.ok)
    sub = sources.subset(ok)
    a, ca, b, cb = sub.entries(net) if reverse else sub.exits(net)
    base = net.adjacency(reverse=reverse)
    k = len(ok)
    cols = np.stack([a, b], axis=1)
    w = np.stack([ca, cb], axis=1)
    fin = np.isfinite(w)
    counts = fin.sum(axis=1)
    indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(counts)])
    graph = sp.csr_matrix(
        (np.concatenate([base.data, np.maximum(w[fin], 1e-9)]), np.concatenate([base.indices, cols[fin]]), indptr),
        shape=(n + k, n + k),
    )
    return graph, n + np.arange(k)


#: The reversed graph with one virtual node per snapped source, and those nodes (:func:`search_graph`).
Augmented = tuple[sp.csr_matrix, np.ndarray]


def search_graph(net: Network, sources: Snap) -> Augmented:
    """Return the graph :func:`node_distances` and :func:`reach_matrix` search from ``sources`` (to build once)."""
    return _augmented(net, sources, reverse=True)


def node_distances(net: Network, sources: Snap, limit: float = np.inf, graph: Augmented | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Distance (m) from every network node to its nearest source, and that source's index (-1: none).

    One multi-source Dijkstra (``scipy.sparse.csgraph.dijkstra(min_only=True)``) on the reversed
    graph plus one virtual node per source (``graph``, from :func:`search_graph` when given), so the
    distance is node → source (homes walk to the facility; this matters on one-way segments only).
    """
    ok_src = np.flatnonzero(sources.ok)
    dist = np.full(net.n_nodes, np.inf)
    origin_src = np.full(net.n_nodes, -1, np.int64)
    if len(ok_src) == 0:
        return dist, origin_src
    adj, virt = graph if graph is not None else search_graph(net, sources)
    lim = np.inf if not np.isfinite(limit) else float(limit)
    d, _, origin = dijkstra(adj, directed=True, indices=virt, min_only=True, return_predecessors=True, limit=lim)
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
    shared = np.zeros(net.n_edges, bool)
    shared[sources.seg[src_ok]] = True
    tgt_ok = np.flatnonzero(targets.ok)
    tgt_ok = tgt_ok[shared[targets.seg[tgt_ok]]]  # only targets on a source's segment: few to sort
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


def positions(net: Network, snapped: Snap) -> tuple[np.ndarray, np.ndarray]:
    """Projected x/y of the snapped points on their segments (NaN where not snapped)."""
    seg = np.where(snapped.ok, snapped.seg, 0)
    frac = snapped.t / np.where(net.length[seg] > 0, net.length[seg], 1.0)
    u, v = net.u[seg], net.v[seg]
    x0, y0, x1, y1 = net.x[u], net.y[u], net.x[v], net.y[v]
    x, y = x0 + frac * (x1 - x0), y0 + frac * (y1 - y0)
    return np.where(snapped.ok, x, np.nan), np.where(snapped.ok, y, np.nan)


def reach_matrix(
    net: Network, sources: Snap, targets: Snap, limit: float, *, chunk: int | None = None,
    progress: bool = False, graph: Augmented | None = None,
) -> sp.csr_matrix:
    """Sparse (n_sources × n_targets) matrix of distances ≤ ``limit`` metres (stored as d + 1e-9).

    Hand-written tiling because scipy's bounded Dijkstra still allocates and scans a dense
    (sources × all nodes) array per call: sources are grouped on a grid of cells of size ``limit``,
    and each cell's sources are searched on the subgraph of nodes in the 3×3 cells around it. A
    path no longer than ``limit`` never leaves that window (network distance ≥ straight-line
    distance), so the result is exact, and the work is local: 10,000 candidates on a
    1,000,000-node grid stay in seconds and memory in megabytes (``benchmarks/``). ``chunk`` caps
    the sources per search (default: a cell's sources, fewer when their dense distance array would
    exceed ``DENSE_CELLS``). Only hits within the limit are stored; ``graph``: :func:`search_graph`'s.
    """
    n_src, n_tgt = len(sources), len(targets)
    adj, virt = graph if graph is not None else search_graph(net, sources)
    ok_src = np.flatnonzero(sources.ok)
    sx, sy = positions(net, sources)
    cell = max(float(limit), 1.0)
    gx, gy = np.floor(sx[ok_src] / cell).astype(np.int64), np.floor(sy[ok_src] / cell).astype(np.int64)
    nodes = Buckets(np.concatenate([net.x, sx[ok_src]]), np.concatenate([net.y, sy[ok_src]]), cell, (gx, gy))
    tbuck = Buckets(*positions(net, targets), cell, (gx, gy))
    a, ca, b, cb = targets.exits(net)
    pos = np.full(adj.shape[0], -1, np.int64)
    cells: dict[tuple[int, int], list[int]] = {}
    for k, key in enumerate(zip(gx.tolist(), gy.tolist(), strict=True)):
        cells.setdefault(key, []).append(k)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    items: Iterable[tuple[tuple[int, int], list[int]]] = cells.items()
    if progress:
        items = tqdm(items, desc="reach sets", unit="cell", total=len(cells))
    for (cx, cy), members in items:
        window = nodes.around(cx, cy)
        pos[window] = np.arange(len(window))
        sub = adj[window]
        col = pos[sub.indices]
        keep = col >= 0
        row = np.repeat(np.arange(len(window)), np.diff(sub.indptr))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(row[keep], minlength=len(window)))])
        local = sp.csr_matrix((sub.data[keep], col[keep], indptr), shape=(len(window), len(window)))
        cand_t = tbuck.around(cx, cy)
        ta, tb = pos[a[cand_t]], pos[b[cand_t]]
        members_arr = np.asarray(members)
        step = chunk or max(1, min(len(members_arr), DENSE_CELLS // max(len(window), len(cand_t), 1)))
        for s0 in range(0, len(members_arr), step):
            srcs = members_arr[s0:s0 + step]
            dist = dijkstra(local, directed=True, indices=pos[virt[srcs]], limit=limit)
            da = np.where(ta >= 0, dist[:, np.maximum(ta, 0)], np.inf) + ca[cand_t]
            db = np.where(tb >= 0, dist[:, np.maximum(tb, 0)], np.inf) + cb[cand_t]
            d = np.minimum(da, db)
            r, c = np.nonzero(d <= limit)
            rows.append(ok_src[srcs[r]])
            cols.append(cand_t[c])
            vals.append(d[r, c] + 1e-9)
        pos[window] = -1
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


__all__ = [
    "DENSE_CELLS", "Augmented", "Snap", "centre_xy", "nearest", "node_distances", "positions", "reach_matrix",
    "same_segment_pairs", "search_graph", "snap", "snap_strtree",
]
