"""Nearest-facility distances kept up to date under edits: add, close, reopen and move one facility.

Hand-written because no library keeps a multi-source shortest-path forest under insertions and
deletions of sources; each step is still one ``scipy.sparse.csgraph.dijkstra`` call, on as little of the
graph as the edit can change:

* **add** a source ``s``: a single-source search from ``s``, bounded and widened until no node it
  improves lies on the edge of the searched area; the nodes it reaches sooner than their current source
  change (``min(old, new)`` is what a multi-source search would give, float for float, because
  rounding is monotone);
* **close** a source ``s``: only the nodes whose nearest source was ``s`` change; they are searched
  again from a super-source whose arcs carry the (unchanged) distances of their other neighbours and of
  the other sources' own arcs, so the same float sums come out as in a search from scratch.

Distances are those of :func:`siting.engine.routing.node_distances` (node → source, on the reversed
graph with a virtual node per source); homes are then placed as :func:`siting.engine.routing.nearest`
places them, for the homes whose nodes or segment changed only.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from ..engine import routing
from ..engine._coverage import snap_population
from ..engine._reproject import points_xy, transform_xy
from ..engine.network import Network
from ..engine.routing import Snap

__all__ = ["Forest", "State"]


class Forest:
    """Node distances to the nearest open source and the homes' nearest source, kept under edits.

    Parameters
    ----------
    net : Network
        The (projected) street network.
    homes : Snap
        The homes' snaps (``seg`` -1 for homes off the network or outside its extent).
    """

    def __init__(self, net: Network, homes: Snap) -> None:
        self.net, self.homes = net, homes
        self.n = net.n_nodes
        self.rev = net.adjacency(reverse=True)  # searches run node <- source: arcs reversed
        self.fwd = net.adjacency(reverse=False)  # row v: the arcs arriving at v in the reversed graph
        self.dist = np.full(self.n, np.inf)
        self.src = np.full(self.n, -1, np.int64)
        self.seg = np.zeros(0, np.int64)  # per source slot: segment (-1 closed or off the network)
        self.t = np.zeros(0)
        self.off = np.zeros(0)
        self.ha, self.hca, self.hb, self.hcb = homes.exits(net)
        ok = homes.ok
        nodes = np.concatenate([self.ha[ok], self.hb[ok]])
        who = np.concatenate([np.flatnonzero(ok)] * 2)
        order = np.argsort(nodes, kind="stable")
        self._by_node = sp.csr_matrix((np.ones(len(order), bool), (nodes[order], who[order])),
                                      shape=(self.n, len(homes)))
        self.home_dist = np.full(len(homes), np.inf)
        self.home_src = np.full(len(homes), -1, np.int64)

    # -------------------------------------------------------------------------------------------- sources
    @property
    def sources(self) -> Snap:
        """Every slot's snap; closed slots have ``seg`` -1."""
        return Snap(self.seg, self.t, self.off)

    def new_slot(self, snap: Snap) -> int:
        """Append a (closed) slot holding ``snap``'s one point; return its index."""
        self.seg = np.append(self.seg, -1)
        self.t, self.off = np.append(self.t, snap.t[:1]), np.append(self.off, snap.off[:1])
        self._snaps = getattr(self, "_snaps", []) + [snap]
        return len(self.seg) - 1

    def rebuild(self, open_slots: np.ndarray) -> None:
        """Set the open slots and compute everything from scratch (what a fresh run does)."""
        self.seg[:] = -1
        for s in open_slots:
            self.seg[s] = self._snaps[s].seg[0]
        self.dist, self.src = routing.node_distances(self.net, self.sources)
        self.home_dist, self.home_src = routing.nearest(self.net, self.sources, self.homes,
                                                       nodes=(self.dist, self.src))

    def _virtual_arcs(self, slot: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the arcs leaving slot ``slot``'s virtual node: (nodes, lengths), finite ones only."""
        one = self._snaps[slot]
        a, ca, b, cb = one.entries(self.net)
        nodes, w = np.array([a[0], b[0]]), np.array([ca[0], cb[0]])
        fin = np.isfinite(w) & one.ok[0]
        return nodes[fin], np.maximum(w[fin], 1e-9)

    # -------------------------------------------------------------------------------------------- edits
    def open(self, slot: int, start_m: float) -> np.ndarray:
        """Open ``slot``; return the homes whose nearest source or distance may have changed."""
        self.seg[slot] = self._snaps[slot].seg[0]
        if self.seg[slot] < 0:
            return np.zeros(0, np.int64)
        nodes, w = self._virtual_arcs(slot)
        rev = self.rev  # plus one row: the new source's virtual node and its arcs
        graph = sp.csr_matrix((np.concatenate([rev.data, w]), np.concatenate([rev.indices, nodes]),
                               np.append(rev.indptr, rev.indptr[-1] + len(w))), shape=(self.n + 1, self.n + 1))
        limit = max(float(start_m), 1.0)
        while True:
            d = dijkstra(graph, directed=True, indices=self.n, limit=limit)[: self.n]
            better = np.flatnonzero(d < self.dist)
            rows = self.rev[better]
            via = np.repeat(d[better], np.diff(rows.indptr)) + rows.data  # an arc out of an improved node ...
            beyond = np.isinf(d[rows.indices]) & (via < self.dist[rows.indices])  # ... to an unsearched gain
            if not np.isfinite(limit) or not beyond.any():
                break
            limit = limit * 4 if limit < 1e7 else np.inf  # an improved node borders the unsearched: widen
        self.dist[better], self.src[better] = d[better], slot
        return self._homes_near(better, slot)

    def close(self, slot: int) -> np.ndarray:
        """Close ``slot``; return the homes whose nearest source or distance may have changed."""
        if self.seg[slot] < 0:
            return np.zeros(0, np.int64)
        seg = self.seg[slot]
        self.seg[slot] = -1
        lost = np.flatnonzero(self.src == slot)
        if len(lost):
            self._search_again(lost)
        homes = self._homes_near(lost, slot)
        on_seg = np.flatnonzero(self.homes.seg == seg)
        return np.union1d(homes, on_seg)

    def _search_again(self, lost: np.ndarray) -> None:
        """Search the ``lost`` nodes again, from their other neighbours and the other open sources."""
        k = len(lost)
        pos = np.full(self.n, -1, np.int64)
        pos[lost] = np.arange(k)
        # seeds: arcs x -> v (reversed graph) from a node x that keeps its distance, into a lost node v
        inc = self.fwd[lost]
        row = np.repeat(np.arange(k), np.diff(inc.indptr))
        x = inc.indices
        outside = pos[x] < 0
        seed = np.full(k, np.inf)
        seed_src = np.full(k, -1, np.int64)
        cand = self.dist[x[outside]] + inc.data[outside]
        _min_into(seed, seed_src, row[outside], cand, self.src[x[outside]])
        for s in np.flatnonzero(self.seg >= 0):  # the other open sources' own arcs (their virtual node: 0 m)
            nodes, w = self._virtual_arcs(int(s))
            hit = pos[nodes] >= 0
            _min_into(seed, seed_src, pos[nodes[hit]], w[hit], np.full(int(hit.sum()), int(s)))
        sub = self.rev[lost][:, lost].tocsr()
        fin = np.isfinite(seed)
        sup = sp.csr_matrix((seed[fin], (np.zeros(int(fin.sum()), np.int64), np.flatnonzero(fin))), shape=(1, k))
        graph = sp.vstack([sp.hstack([sub, sp.csr_matrix((k, 1))]),
                           sp.hstack([sup, sp.csr_matrix((1, 1))])], format="csr")
        d, pred = dijkstra(graph, directed=True, indices=k, return_predecessors=True)
        d, pred = d[:k], pred[:k]
        me = np.arange(k)
        entry = np.where((pred == k) | (pred < 0), me, pred)  # each node's parent, a seeded node its own
        while not np.array_equal(entry[entry], entry):  # pointer jumping: log(depth) rounds
            entry = entry[entry]
        self.dist[lost] = d
        self.src[lost] = np.where(np.isfinite(d), seed_src[entry], -1)

    def _homes_near(self, nodes: np.ndarray, slot: int) -> np.ndarray:
        """Homes leaving through one of ``nodes`` or snapped to ``slot``'s segment."""
        homes = self._by_node[nodes].indices if len(nodes) else np.zeros(0, np.int64)
        seg = self._snaps[slot].seg[0]
        if seg >= 0:
            homes = np.concatenate([homes, np.flatnonzero(self.homes.seg == seg)])
        return np.unique(homes)

    def place(self, homes: np.ndarray) -> np.ndarray:
        """Place ``homes`` on their nearest open source again; return those whose answer changed."""
        if not len(homes):
            return homes
        sub = self.homes.subset(homes)
        d, who = routing.nearest(self.net, self.sources, sub, nodes=(self.dist, self.src))
        changed = (d != self.home_dist[homes]) | (who != self.home_src[homes])
        self.home_dist[homes], self.home_src[homes] = d, who
        return homes[changed]


def _min_into(best: np.ndarray, best_src: np.ndarray, at: np.ndarray, value: np.ndarray, src: np.ndarray) -> None:
    """``best[at] = min(best[at], value)`` elementwise, keeping the source of the minimum (first on ties)."""
    if not len(at):
        return
    order = np.lexsort((value, at))
    at, value, src = at[order], value[order], src[order]
    first = np.ones(len(at), bool)
    first[1:] = at[1:] != at[:-1]
    at, value, src = at[first], value[first], src[first]
    take = value < best[at]
    best[at[take]], best_src[at[take]] = value[take], src[take]


class State:
    """Everything that depends on the network and the snapping limit: the forest and the residents' snaps."""

    def __init__(self, net: Network, population: gpd.GeoDataFrame, max_snap_m: float) -> None:
        own = points_xy(population.geometry, population.crs)
        pxy = routing.centre_xy(population.geometry, net.crs) if own is None else transform_xy(own, population.crs,
                                                                                               net.crs)
        extent = net.extent()
        if extent.area == 0:
            extent = extent.buffer(max_snap_m)
        homes = snap_population(net, pxy, max_snap_m)
        homes.seg[~shapely.intersects_xy(extent, pxy[:, 0], pxy[:, 1])] = -1
        self.net, self.forest = net, Forest(net, homes)
        self.slot_of: dict[int, int] = {}  # table row -> slot of its current position
        self.reach: dict[tuple[int, float], float] = {}  # (slot, limit m) -> residents within
