"""Private: exact nearest street segment for many points at once, on a bucket grid (numpy; GEOS for near ties).

Snapping used to ask shapely's ``STRtree.query_nearest`` point by point (~13 µs each, 14.6 s for a
million homes). This index answers the same question with a few vectorised passes and leaves to the
STRtree only the points it cannot decide *provably* the same way:

* Every segment is registered in every cell (of size ``c = 2 r``) that its bounding box, widened by
  ``r`` (plus a small margin), touches — long segments piece by piece. So a cell's list holds every
  segment lying within ``r`` of any point of that cell.
* A point is measured against the lists of a square block of cells around its own, ``k`` cells each
  way (first ``k = 0``: its own cell). The block covers the disc of radius ``ρ = e + k c`` around the
  point (``e``: its distance to its own cell's border), so every segment within ``R = ρ + r`` of the
  point is listed there (the spot ``max(D - r, 0)`` from the point towards the segment's nearest spot
  lies in the block and within ``r`` of the segment). If the nearest listed segment, at ``U``, is
  ≤ ``R``, it is certified; with a snapping limit ≤ ``R``, ``U`` beyond the limit certifies that
  nothing lies within it.
* A point its own cell does not certify (far from every street: 16 % of a clustered city's homes lie
  more than 40 m from one) is measured again on the block that ``U`` calls for (``R ≥ U``: one more
  pass); a point whose own cell lists nothing first looks for the nearest non-empty block on a
  summed-area table of the list lengths. One grid serves every distance.
* Equidistant segments (a tie: a second segment within ``TOL`` metres of the best). The STRtree
  picks among exactly equidistant segments by its internal traversal order, which nothing else
  reproduces, so such ties are settled by a rule instead, on both paths: when every tied segment's
  nearest spot is the same end node (a point beyond a street corner or a dead end: nearly all
  ties), the point is the same distance from that node whichever segment carries it, and snapping
  takes the lowest segment index among the segments whose nearest spot is that node
  (:func:`siting.engine.routing.snap`, also applied to the STRtree's pick). Other near ties, and
  distances within ``TOL`` of the snapping limit, are measured again by GEOS (as the STRtree
  measures them): a single nearest segment settles them. Only exact ties between different
  spots (a point exactly between two streets) are reported as undecided, with the points beyond
  ``MAX_RADIUS`` and the rare overflow of long blocks; the caller asks the STRtree about those.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import shapely

from ._segcells import cell_lists, slices

#: Two distances closer than this (metres) are treated as a tie.
TOL = 1e-6
#: GEOS distances this many units in the last place apart are an exact tie to the STRtree (see ``_settle``).
ULPS = 4
#: Most cells the grid may have (memory: 4 bytes each, 4 more for the summed-area table); coarser beyond that.
MAX_CELLS = 16_000_000
#: Points farther than this (m) from every street go to the STRtree (when the limit is beyond it).
MAX_RADIUS = 1_000.0
#: (point, segment) pairs handled per vectorised pass (keeps the temporary arrays in cache).
CHUNK_PAIRS = 1 << 16
#: Blocks listing more segments than this are long: their points are decided here up to ``LONG_PAIRS``
#: (point, segment) pairs in all (far points beside dense streets), the rest are left to the STRtree.
MAX_LIST = 400
LONG_PAIRS = 20_000_000


def fraction(px: np.ndarray, py: np.ndarray, x0: np.ndarray, y0: np.ndarray, dx: np.ndarray, dy: np.ndarray,
             ll: np.ndarray) -> np.ndarray:
    """Return where the nearest spot of each point lies along its segment: 0 at its start, 1 at its end.

    The one formula of snapping (:func:`siting.engine.routing.snap` projects with it): the orthogonal
    projection clamped to the segment, so a point beyond an end gets exactly 0 or 1.

    Parameters
    ----------
    px, py : ndarray
        The points.
    x0, y0, dx, dy, ll : ndarray
        Their segments: start, direction (end - start) and squared length.

    Returns
    -------
    ndarray
        Fractions in [0, 1].
    """
    return np.clip(((px - x0) * dx + (py - y0) * dy) / np.where(ll > 0, ll, 1.0), 0.0, 1.0)


class SegmentIndex:
    """Segments ``(x0, y0) → (x1, y1)`` bucketed on one square grid for exact nearest-segment queries.

    Parameters
    ----------
    x0, y0, x1, y1 : ndarray
        Segment end coordinates (projected metres).
    u, v : ndarray, optional
        The segments' end nodes, to settle ties at one node; without them every tie is undecided.
    radius : float, optional
        Certification radius ``r`` of a cell (metres; the cell size is ``2 r``, coarser if the grid
        would exceed ``MAX_CELLS``). Default: half the median segment length, within 5–100 m.
    """

    def __init__(self, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray,
                 u: np.ndarray | None = None, v: np.ndarray | None = None, radius: float | None = None) -> None:
        # per-segment work in slices into arrays allocated once: a first call in a fresh process pays for
        # every new megabyte it touches (page faults), so the temporaries stay small
        x0, y0, x1, y1 = self._ends = tuple(np.asarray(a, float) for a in (x0, y0, x1, y1))
        self._u, self._v = u, v  # the caller's, in the caller's order (``order`` maps ours to theirs)
        n = len(x0)
        if radius is None and n:
            length = np.empty(n)
            for a, b in slices(n):
                np.hypot(x1[a:b] - x0[a:b], y1[a:b] - y0[a:b], out=length[a:b])
            radius = float(np.clip(np.median(length, overwrite_input=True) / 2, 5.0, 100.0))
        self._sat: np.ndarray | None = None
        self.radius = float(radius) if radius is not None else 5.0
        self.cell, self.ox, self.oy, self.nx, self.ny = 2.0 * self.radius, 0.0, 0.0, 0, 0
        self.order = np.arange(n)
        if n:
            xmin, xmax = float(min(x0.min(), x1.min())), float(max(x0.max(), x1.max()))
            ymin, ymax = float(min(y0.min(), y1.min())), float(max(y0.max(), y1.max()))
            span = max(xmax - xmin, ymax - ymin) + 4 * self.radius
            self.cell = max(2.0 * self.radius, span / np.sqrt(MAX_CELLS))
            self.radius = self.cell / 2.0
            self.ox, self.oy = xmin - self.cell, ymin - self.cell
            self.nx = int((xmax - self.ox) // self.cell) + 2
            self.ny = int((ymax - self.oy) // self.cell) + 2
            # segments numbered in grid order inside (cell by cell, as the points are taken): the per-pair
            # gathers then read nearby memory
            key = np.empty(n, np.int64)
            for a, b in slices(n):
                key[a:b] = (np.floor(((x0[a:b] + x1[a:b]) / 2 - self.ox) / self.cell) * self.ny
                            + np.floor(((y0[a:b] + y1[a:b]) / 2 - self.oy) / self.cell))
            self.order = np.argsort(key)
        self.rank = np.empty_like(self.order)  # the inverse: our number of each of the caller's segments
        self.rank[self.order] = np.arange(n)
        self.x0, self.y0 = x0[self.order], y0[self.order]
        self.dx, self.dy, self.inv_ll = np.empty(n), np.empty(n), np.zeros(n)
        for a, b in slices(n):
            dx = np.subtract(x1[self.order[a:b]], self.x0[a:b], out=self.dx[a:b])
            dy = np.subtract(y1[self.order[a:b]], self.y0[a:b], out=self.dy[a:b])
            ll = dx * dx + dy * dy
            np.divide(1.0, ll, out=self.inv_ll[a:b], where=ll > 0)
        grow = self.radius * (1 + 1e-9) + 4 * TOL  # ties within TOL are listed too; the margin covers rounding
        self.lists = (cell_lists(self.x0, self.y0, self.dx, self.dy, (self.ox, self.oy, self.cell, self.nx, self.ny),
                                 grow) if n else sp.csr_matrix((0, 0), dtype=np.int8))

    def nearest(self, x: np.ndarray, y: np.ndarray, max_dist: float = np.inf
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest segment of every point (-1: none within ``max_dist``), the undecided and the ruled masks.

        Undecided points (ties not at one node, at the limit, beyond ``MAX_RADIUS``; see the module
        notes) have segment -1 here and must be asked of the STRtree. Ruled points have the segment
        the rule for ties at a node picks (:func:`siting.engine._snapping._at_node_rule`: a point whose nearest
        spot is a node gets the lowest-indexed of the segments whose nearest spot is that node, all of
        them near and listed); the others (decided by GEOS distances) may have another of their tied
        segments. Non-finite points get -1.
        """
        x, y = np.asarray(x, float), np.asarray(y, float)
        seg = np.full(len(x), -1, np.int64)
        undecided, ruled = np.zeros(len(x), bool), np.zeros(len(x), bool)
        idx = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        if len(idx) == 0 or self.nx == 0:
            return seg, undecided, ruled
        gx, gy, e = self._cells(x[idx], y[idx])
        order = np.argsort(np.clip(gx, 0, self.nx - 1) * self.ny + np.clip(gy, 0, self.ny - 1))
        idx, gx, gy, e = idx[order], gx[order], gy[order], e[order]
        reach = min(max_dist + 2 * TOL, MAX_RADIUS)  # the farthest any point is searched
        kcap = np.maximum(np.ceil((reach - self.radius - e) / self.cell), 0).astype(np.int64)
        k = np.zeros(len(idx), np.int64)
        budget = [LONG_PAIRS]
        while len(idx):
            s, tie, done, best, ruled[idx] = self._pass(x[idx], y[idx], gx, gy, e, k, max_dist, budget)
            seg[idx] = s
            undecided[idx[tie]] = True
            left = ~done
            idx, gx, gy, e, k, kcap, best = (a[left] for a in (idx, gx, gy, e, k, kcap, best))
            step = np.ceil((np.minimum(best, max_dist + 2 * TOL) - self.radius - e) / self.cell)
            nxt = np.maximum(np.nan_to_num(step, posinf=2.0**62), k + 1).astype(np.int64)
            empty = ~np.isfinite(best)  # its block listed nothing: the next block that lists anything
            nxt[empty] = self._first_listing(gx[empty], gy[empty], k[empty] + 1, kcap[empty])
            none = empty & (nxt > kcap) & (reach < MAX_RADIUS)  # nothing listed within the limit
            stuck = ((k >= kcap) | (nxt > kcap)) & ~none  # searched as far as allowed: the STRtree's
            undecided[idx[stuck]] = True
            go = ~(none | stuck)
            idx, gx, gy, e, kcap = idx[go], gx[go], gy[go], e[go], kcap[go]
            k = np.minimum(nxt[go], kcap)
        return np.where(seg >= 0, self.order[np.maximum(seg, 0)], -1), undecided, ruled

    def _cells(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return each point's cell (column, row; may lie off the grid) and its distance to the cell's border.

        The distance is lessened by ``TOL`` (rounding), and 0 for points too far off for exact cell numbers.
        """
        fx, fy = (x - self.ox) / self.cell, (y - self.oy) / self.cell
        wild = (np.abs(fx) > 2.0**40) | (np.abs(fy) > 2.0**40)
        gx, gy = np.floor(np.clip(fx, -2.0**40, 2.0**40)), np.floor(np.clip(fy, -2.0**40, 2.0**40))
        left, bottom = self.ox + gx * self.cell, self.oy + gy * self.cell
        e = np.minimum(np.minimum(x - left, left + self.cell - x), np.minimum(y - bottom, bottom + self.cell - y))
        e = np.where(wild, 0.0, np.maximum(e - TOL, 0.0))
        return gx.astype(np.int64), gy.astype(np.int64), e

    def _block(self, gx: np.ndarray, gy: np.ndarray, k: np.ndarray | int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return the block of ``k`` cells each way around each cell, cut to the grid: columns and rows, [lo, hi)."""
        return (np.clip(gx - k, 0, self.nx), np.clip(gx + k + 1, 0, self.nx),
                np.clip(gy - k, 0, self.ny), np.clip(gy + k + 1, 0, self.ny))

    def _first_listing(self, gx: np.ndarray, gy: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Return the least ``k`` in [lo, hi] whose block lists any segment (``hi + 1``: none), by bisection.

        Block sums come from a summed-area table of the list lengths, built once.
        """
        if self._sat is None:
            counts = np.diff(self.lists.indptr).reshape(self.nx, self.ny)
            sat = np.zeros((self.nx + 1, self.ny + 1), np.int64 if self.lists.nnz >= 2**31 else np.int32)
            np.cumsum(np.cumsum(counts, axis=0, dtype=sat.dtype), axis=1, out=sat[1:, 1:])
            self._sat = sat
        sat = self._sat

        def listed(i: np.ndarray, k: np.ndarray) -> np.ndarray:
            a, b, c, d = self._block(gx[i], gy[i], k)
            return (sat[b, d] - sat[a, d] - sat[b, c] + sat[a, c]) > 0

        lo, hi = lo.copy(), hi.copy()
        found = np.zeros(len(gx), bool)
        can = np.flatnonzero(lo <= hi)
        found[can] = listed(can, hi[can])
        while (act := np.flatnonzero(found & (lo < hi))).size:
            mid = (lo[act] + hi[act]) // 2
            yes = listed(act, mid)
            hi[act] = np.where(yes, mid, hi[act])
            lo[act] = np.where(yes, lo[act], mid + 1)
        return np.where(found, lo, hi + 1)

    def _pass(self, px: np.ndarray, py: np.ndarray, gx: np.ndarray, gy: np.ndarray, e: np.ndarray, k: np.ndarray,
              max_dist: float, budget: list[int]) -> tuple[np.ndarray, ...]:
        """Measure each point against its block of ``k`` cells each way: (segment, tie, done, distance, ruled).

        ``done`` marks the points decided (certified, or left to the STRtree as ties or over the
        ``budget`` of long blocks' pairs); the others need a larger block.
        """
        n, indptr = len(px), self.lists.indptr
        c0, c1, r0, r1 = self._block(gx, gy, k)
        rows = np.where(r1 > r0, np.maximum(c1 - c0, 0), 0)  # one run of consecutive cells per grid column
        run_pt = np.repeat(np.arange(n), rows)
        col = c0[run_pt] + np.arange(len(run_pt)) - np.repeat(np.cumsum(rows) - rows, rows)
        lo, hi = indptr[col * self.ny + r0[run_pt]], indptr[col * self.ny + r1[run_pt]]
        count = np.bincount(run_pt, hi - lo, minlength=n).astype(np.int64)
        over = np.zeros(n, bool)
        long = np.flatnonzero(count > MAX_LIST)
        if len(long):  # a few far points beside dense streets: here; many (odd data): the STRtree
            over[long] = np.cumsum(count[long]) > budget[0]
            budget[0] -= int(count[long][~over[long]].sum())
            hi[over[run_pt]] = lo[over[run_pt]]
            count[over] = 0
        seg, tie = np.full(n, -1, np.int64), over.copy()
        certified, best, ruled = over.copy(), np.full(n, np.inf), np.zeros(n, bool)
        csum = np.cumsum(count)
        cuts = np.searchsorted(csum, np.arange(1, int(csum[-1]) // CHUNK_PAIRS + 1) * CHUNK_PAIRS, side="right")
        bounds = np.unique(np.concatenate([[0], cuts, [n]]))
        first_run = np.cumsum(rows) - rows
        ends = np.append(first_run, len(run_pt))
        reach = e + k * self.cell + self.radius  # every segment this near is listed in the block
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            ra, rb = int(ends[a]), int(ends[b])
            out = self._decide(px[a:b], py[a:b], count[a:b], lo[ra:rb], hi[ra:rb], reach[a:b], max_dist,
                               dedupe=bool(k[a:b].any()))
            seg[a:b], t, certified[a:b], best[a:b], ruled[a:b] = out
            tie[a:b] |= t
        return seg, tie, certified | tie, best, ruled

    def _decide(self, px: np.ndarray, py: np.ndarray, count: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                reach: np.ndarray, max_dist: float, dedupe: bool) -> tuple[np.ndarray, ...]:
        """Nearest listed segment from runs ``[lo, hi)`` of the lists: (segment, tie, certified, distance, ruled).

        The segment is -1 beyond ``max_dist`` and where the point is a tie (equidistant segments not
        all ending at one node, or at ``max_dist`` within ``TOL``: only the STRtree can say) or not
        certified (segments beyond ``reach`` may be nearer: ask a larger block).
        """
        n = len(px)
        length = hi - lo  # the runs of consecutive cells of each point's block (``count`` pairs a point)
        total = int(length.sum())
        pt = np.repeat(np.arange(n), count)
        s = self.lists.indices[np.arange(total) - np.repeat(np.cumsum(length) - length - lo, length)]
        wx, wy = px[pt] - self.x0[s], py[pt] - self.y0[s]
        dx, dy = self.dx[s], self.dy[s]
        t = np.clip((wx * dx + wy * dy) * self.inv_ll[s], 0.0, 1.0)
        ex, ey = wx - t * dx, wy - t * dy
        d2 = ex * ex + ey * ey  # squared: one root per point (the root is monotonic: the same nearest)
        first = np.cumsum(count) - count
        has = count > 0
        best = np.full(n, np.inf)
        if total:
            best[has] = np.sqrt(np.minimum.reduceat(d2, first[has]))
        hit = np.flatnonzero(d2 <= ((best + TOL) ** 2)[pt])
        hp, hs = pt[hit], s[hit]
        if dedupe:  # blocks of several cells list a segment once per cell
            keep = np.unique(hp.astype(np.int64) * len(self.x0) + hs, return_index=True)[1]
            hp, hs = hp[keep], hs[keep]
        n_near = np.bincount(hp, minlength=n)
        winner = np.full(n, -1, np.int64)
        winner[hp] = hs  # meaningful where the point has a single near segment, or one tie node
        certified = (best <= reach) | ((reach >= max_dist) & (best > max_dist + TOL))
        at_limit = np.abs(best - max_dist) <= TOL if np.isfinite(max_dist) else np.zeros(n, bool)
        multi = n_near[hp] > 1
        one = self._one_node(px, py, hp[multi], hs[multi], n)
        if one.any():  # the rule: the lowest number (the caller's) among the segments at the node, all near
            lowest = np.full(n, len(self.order))
            np.minimum.at(lowest, hp[multi], self.order[hs[multi]])
            winner[one] = self.rank[lowest[one]]
        tie = certified & (best <= max_dist + TOL) & ((n_near > 1) & ~one | at_limit)
        chosen = np.where(certified & ~tie & (best <= max_dist), winner, -1)
        ruled = chosen >= 0
        if tie.any():  # exact distances for the few near ties and points at the limit
            settled, exact = self._settle(px, py, hp, hs, tie, max_dist)
            chosen[settled] = exact[settled]
            tie &= ~settled
        return chosen, tie, certified, best, ruled

    def _settle(self, px: np.ndarray, py: np.ndarray, pt: np.ndarray, s: np.ndarray, tie: np.ndarray,
                max_dist: float) -> tuple[np.ndarray, np.ndarray]:
        """Return which tied points exact distances settle, and their segment (-1: beyond ``max_dist``).

        The pairs (``pt``, ``s``) are each point's near segments (within ``TOL`` of its nearest, so
        they hold the STRtree's answer). Their distances are measured by GEOS, as the STRtree
        measures them: a single nearest segment, or nearest segments that all end at one node
        (the rule), settle the point; so does the limit, compared with that distance.
        """
        n = len(px)
        k = np.flatnonzero(tie[pt])
        p, seg = pt[k], s[k]
        theirs = self.order[seg]
        lines = shapely.linestrings(np.stack([np.column_stack([self.x0[seg], self.y0[seg]]),
                                              np.column_stack([self._ends[2][theirs], self._ends[3][theirs]])], axis=1))
        dist = shapely.distance(shapely.points(px[p], py[p]), lines)
        low = np.full(n, np.inf)
        np.minimum.at(low, p, dist)
        # within a few units in the last place of the nearest: the STRtree may return any of them (its search
        # stops at the first whose distance meets the bounding-box bound), so only it can say which
        win = np.flatnonzero(dist <= low[p] * (1 + ULPS * np.finfo(float).eps))
        single = np.bincount(p[win], minlength=n) == 1
        settled = tie & (single | self._one_node(px, py, p[win], seg[win], n))
        exact = np.full(n, -1, np.int64)
        exact[p[win]] = seg[win]
        exact[low > max_dist] = -1
        return settled, exact

    def _one_node(self, px: np.ndarray, py: np.ndarray, pt: np.ndarray, s: np.ndarray, n: int) -> np.ndarray:
        """Return whether each point's near segments all have their nearest spot at one end node.

        The pairs (``pt``, ``s``) list the segments near each point; the nearest spot is found by the
        snapping formula (:func:`fraction`). All False when the grid has no node numbers.
        """
        if self._u is None or self._v is None or len(pt) == 0:
            return np.zeros(n, bool)
        dx, dy, theirs = self.dx[s], self.dy[s], self.order[s]
        f = fraction(px[pt], py[pt], self.x0[s], self.y0[s], dx, dy, dx * dx + dy * dy)
        node = np.where(f == 0.0, self._u[theirs], np.where(f == 1.0, self._v[theirs], -1)).astype(np.int64)
        lo = np.full(n, np.iinfo(np.int64).max)
        hi = np.full(n, -1, np.int64)
        np.minimum.at(lo, pt, node)
        np.maximum.at(hi, pt, node)
        return (lo == hi) & (lo >= 0)
