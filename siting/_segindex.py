"""Private: exact nearest street segment for many points at once, on a bucket grid (numpy; GEOS for near ties).

Snapping used to ask shapely's ``STRtree.query_nearest`` point by point (~13 µs each, 14.6 s for a
million homes). This index answers the same question with a few vectorised passes and leaves to the
STRtree only the points it cannot decide *provably* the same way:

* Every segment is registered in every cell (of size ``c = 2 r``) that its bounding box, widened by
  ``r`` (plus a small margin), touches — long segments piece by piece. So a cell's list holds every
  segment lying within ``r`` of any point of that cell.
* For a point in a cell, the exact distance to each listed segment is computed; if the smallest, ``U``,
  is ≤ ``r``, no unlisted segment can be nearer (it would lie within ``r`` and hence be listed), so the
  nearest segment is certified. With a snapping limit below ``r``, ``U > r`` is certified as well
  (nothing within the limit).
* Equidistant segments (a tie: a second segment within ``TOL`` metres of the best). The STRtree
  picks among exactly equidistant segments by its internal traversal order, which nothing else
  reproduces, so such ties are settled by a rule instead, on both paths: when every tied segment's
  nearest spot is the same end node (a point beyond a street corner or a dead end: nearly all
  ties), the point is the same distance from that node whichever segment carries it, and snapping
  takes the lowest segment index among the segments whose nearest spot is that node
  (:func:`siting.routing.snap`, also applied to the STRtree's pick). Other near ties, and
  distances within ``TOL`` of the snapping limit, are measured again by GEOS (as the STRtree
  measures them): a single nearest segment settles them. Only exact ties between different
  spots (a point exactly between two streets) are reported as undecided, with the points beyond
  ``MAX_RADIUS`` and the rare overflow of long cell lists; the caller asks the STRtree about those.
* Points farther than ``r`` from every street go to a grid of radius ``4 r``, and so on
  (:class:`SegmentIndex`), each built when first needed and cached with the network.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import shapely

#: Two distances closer than this (metres) are treated as a tie.
TOL = 1e-6
#: GEOS distances this many units in the last place apart are an exact tie to the STRtree (see ``_settle``).
ULPS = 4
#: Most cells the grid may have (memory: 4 bytes each); coarser cells beyond that.
MAX_CELLS = 16_000_000
#: Beyond this radius (m) the few remaining points go to the STRtree.
MAX_RADIUS = 1_000.0
#: (point, segment) pairs handled per vectorised pass (keeps the temporary arrays in cache).
CHUNK_PAIRS = 1 << 19
#: Cells listing more segments than this are long: their points are decided here up to ``LONG_PAIRS``
#: (point, segment) pairs in all (far points in coarse cells), the rest are left to the STRtree.
MAX_LIST = 400
LONG_PAIRS = 20_000_000


def fraction(px: np.ndarray, py: np.ndarray, x0: np.ndarray, y0: np.ndarray, dx: np.ndarray, dy: np.ndarray,
             ll: np.ndarray) -> np.ndarray:
    """Return where the nearest spot of each point lies along its segment: 0 at its start, 1 at its end.

    The one formula of snapping (:func:`siting.routing.snap` projects with it): the orthogonal
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


def _box_cells(base: np.ndarray, owner: np.ndarray, wx: np.ndarray, wy: np.ndarray, ny: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Return (cell, owner) pairs of boxes of ``(wx + 1) × (wy + 1)`` cells from cell ``base`` (grid ``ny`` high).

    Boxes of one shape are filled by one broadcast sum (most are 3 × 3 or smaller), shape by shape,
    into arrays allocated once.
    """
    shape = wx * (int(wy.max()) + 1) + wy
    cell = np.empty(int(((wx + 1) * (wy + 1)).sum()), base.dtype)
    seg = np.empty(len(cell), owner.dtype)
    at = 0
    for kind in np.unique(shape).tolist():
        hit = np.flatnonzero(shape == kind)
        a, b = int(wx[hit[0]]) + 1, int(wy[hit[0]]) + 1
        offsets = (np.arange(a)[:, None] * ny + np.arange(b)[None, :]).ravel().astype(base.dtype)
        size = len(hit) * a * b
        np.add(base[hit][:, None], offsets[None, :], out=cell[at:at + size].reshape(len(hit), a * b))
        seg[at:at + size] = np.repeat(owner[hit], a * b)
        at += size
    return cell, seg


class SegmentIndex:
    """Nearest segment of many points: grids of growing radius, built when first needed.

    Level ``L`` has radius ``r0 · 4^L`` (``r0``: half the median segment length, 5–100 m); a point
    not certified at one level (farther than its radius from every street) goes to the next, up to
    the snapping limit; ties (except at one node, given the segments' nodes ``u`` and ``v``) and
    points beyond ``MAX_RADIUS`` are left undecided.
    """

    def __init__(self, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray,
                 u: np.ndarray | None = None, v: np.ndarray | None = None) -> None:
        self.x0, self.y0, self.x1, self.y1 = (np.asarray(a, float) for a in (x0, y0, x1, y1))
        self.u, self.v = u, v
        length = np.hypot(self.x1 - self.x0, self.y1 - self.y0)
        self.r0 = float(np.clip(np.median(length) / 2, 5.0, 100.0)) if len(length) else 5.0
        self.levels: list[SegmentGrid] = []

    def level(self, k: int) -> SegmentGrid:
        while len(self.levels) <= k:
            radius = self.r0 * 4 ** len(self.levels)
            like = self.levels[0] if self.levels else None
            self.levels.append(SegmentGrid(self.x0, self.y0, self.x1, self.y1, radius=radius, u=self.u, v=self.v,
                                           like=like))
        return self.levels[k]

    def nearest(self, x: np.ndarray, y: np.ndarray, max_dist: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
        """Nearest segment of every point (-1: none within ``max_dist``) and the undecided mask.

        Undecided points (ties not at one node, at the limit, beyond ``MAX_RADIUS``; see the module
        notes) have segment -1 here and must be asked of the STRtree. A tie at one node gets one of
        its tied segments (snapping then takes the rule's).
        """
        x, y = np.asarray(x, float), np.asarray(y, float)
        seg = np.full(len(x), -1, np.int64)
        todo = np.arange(len(x))
        undecided = np.zeros(len(x), bool)
        k = 0
        while len(todo):
            grid = self.level(k)
            s, tie, uncertain = grid.decide(x[todo], y[todo], max_dist)
            seg[todo] = s
            undecided[todo[tie]] = True
            todo = todo[uncertain & ~tie]
            if grid.radius >= min(max_dist, MAX_RADIUS):
                undecided[todo] = True
                break
            k += 1
        return seg, undecided


class SegmentGrid:
    """Segments ``(x0, y0) → (x1, y1)`` bucketed on a square grid for exact nearest-segment queries.

    Parameters
    ----------
    x0, y0, x1, y1 : ndarray
        Segment end coordinates (projected metres).
    radius : float
        Certification radius ``r`` (metres); the cell size is ``2 r`` (coarser if the grid would
        exceed ``MAX_CELLS``).
    u, v : ndarray, optional
        The segments' end nodes, to settle ties at one node; without them every tie is undecided.
    like : SegmentGrid, optional
        A grid of the same segments (another level), whose per-segment arrays are reused.
    """

    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    ll: np.ndarray
    inv_ll: np.ndarray
    bounds: tuple[float, float, float, float]

    def __init__(self, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, radius: float,
                 u: np.ndarray | None = None, v: np.ndarray | None = None, like: SegmentGrid | None = None) -> None:
        self.u, self.v = u, v
        if like is not None:  # another level of the same segments: their arrays once for all levels
            self.x0, self.y0, self.x1, self.y1 = like.x0, like.y0, like.x1, like.y1
            self.dx, self.dy, self.ll, self.inv_ll, self.bounds = like.dx, like.dy, like.ll, like.inv_ll, like.bounds
        else:
            self.x0, self.y0 = np.asarray(x0, float), np.asarray(y0, float)
            self.x1, self.y1 = np.asarray(x1, float), np.asarray(y1, float)
            self.dx, self.dy = self.x1 - self.x0, self.y1 - self.y0
            self.ll = self.dx * self.dx + self.dy * self.dy
            self.inv_ll = np.divide(1.0, self.ll, out=np.zeros_like(self.ll), where=self.ll > 0)
            self.bounds = (float(min(self.x0.min(), self.x1.min())), float(max(self.x0.max(), self.x1.max())),
                           float(min(self.y0.min(), self.y1.min())), float(max(self.y0.max(), self.y1.max())))
        length = np.sqrt(self.ll)
        xmin, xmax, ymin, ymax = self.bounds
        self.radius = float(radius)
        cell = 2.0 * self.radius
        span = max(xmax - xmin, ymax - ymin) + 2 * cell
        cell = max(cell, span / np.sqrt(MAX_CELLS))
        self.radius = cell / 2.0
        self.cell = cell
        self.ox, self.oy = xmin - cell, ymin - cell
        self.nx = int((xmax - self.ox) // cell) + 2
        self.ny = int((ymax - self.oy) // cell) + 2
        self.lists = self._register(length)

    def _register(self, length: np.ndarray) -> sp.csr_matrix:
        """(cells × segments) 0/1 matrix: cell → the segments within ``radius`` of any of its points.

        A segment is registered in every cell its bounding box, widened by ``radius``, touches;
        segments longer than ``4 c`` are cut into pieces first (a long diagonal's box is mostly
        empty), and the cells such a segment gets twice are listed once.
        """
        c, n = self.cell, len(length)
        pieces = np.maximum(np.ceil(length / (4 * c)).astype(np.int64), 1)
        multi = pieces > 1
        if multi.any():
            owner = np.repeat(np.arange(n), pieces)
            k = np.arange(len(owner)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
            fa, fb = k / pieces[owner], (k + 1) / pieces[owner]
        else:
            owner, fa, fb = np.arange(n), np.zeros(n), np.ones(n)
        ax, bx = self.x0[owner] + fa * self.dx[owner], self.x0[owner] + fb * self.dx[owner]
        ay, by = self.y0[owner] + fa * self.dy[owner], self.y0[owner] + fb * self.dy[owner]
        grow = self.radius * (1 + 1e-9) + 2 * TOL  # ties within TOL are listed too; the margin covers rounding
        gx0 = np.floor((np.minimum(ax, bx) - grow - self.ox) / c).astype(np.int64)
        gx1 = np.floor((np.maximum(ax, bx) + grow - self.ox) / c).astype(np.int64)
        gy0 = np.floor((np.minimum(ay, by) - grow - self.oy) / c).astype(np.int64)
        gy1 = np.floor((np.maximum(ay, by) + grow - self.oy) / c).astype(np.int64)
        wx, wy = gx1 - gx0, gy1 - gy0
        itype = np.int32 if max(self.nx * self.ny, n) < 2**31 - 1 else np.int64
        base = (gx0 * self.ny + gy0).astype(itype)
        owner = owner.astype(itype)
        cell, seg = _box_cells(base, owner, wx, wy, self.ny)
        if multi.any():  # a cell reached by two pieces of one segment lists it once
            twice = multi[seg]
            key = np.unique(cell[twice].astype(np.int64) * n + seg[twice])
            cell = np.concatenate([cell[~twice], (key // n).astype(itype)])
            seg = np.concatenate([seg[~twice], (key % n).astype(itype)])
        lists = sp.coo_matrix((np.ones(len(cell), np.int8), (cell, seg)), shape=(self.nx * self.ny, n))
        lists.has_canonical_format = True  # no pair twice (see above): no sorting of every cell's list
        return lists.tocsr()

    def decide(
        self, x: np.ndarray, y: np.ndarray, max_dist: float = np.inf
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest segment of every point: (segment index or -1, tie mask, uncertain mask).

        The index is -1 beyond ``max_dist``, for non-finite points, and where the point is a tie
        (equidistant segments not all ending at one node, or at ``max_dist`` within ``TOL``: only
        the STRtree can say) or uncertain (not certified at this radius: ask a coarser grid).
        """
        n = len(x)
        seg = np.full(n, -1, np.int64)
        tie, uncertain = np.zeros(n, bool), np.zeros(n, bool)
        finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        gx = np.floor((x[finite] - self.ox) / self.cell)
        gy = np.floor((y[finite] - self.oy) / self.cell)
        on_grid = (gx >= 0) & (gx < self.nx) & (gy >= 0) & (gy < self.ny)
        if self.radius < max_dist:  # off the grid: farther than ``radius`` from every segment
            uncertain[finite[~on_grid]] = True
        idx = finite[on_grid]
        cell = gx[on_grid].astype(np.int64) * self.ny + gy[on_grid].astype(np.int64)
        order = np.argsort(cell)  # neighbours together: the gathers stay in cache (each point on its own)
        idx, cell = idx[order], cell[order]
        count = np.diff(self.lists.indptr)[cell]
        long = count > MAX_LIST  # a few far points in coarse cells: here; many (odd data): the STRtree
        long[long] = np.cumsum(count[long]) > LONG_PAIRS
        tie[idx[long]] = True
        idx, cell = idx[~long], cell[~long]
        csum = np.cumsum(count[~long])
        total = int(csum[-1]) if len(csum) else 0
        cuts = np.searchsorted(csum, np.arange(1, total // CHUNK_PAIRS + 1) * CHUNK_PAIRS, side="right")
        bounds = np.unique(np.concatenate([[0], cuts, [len(idx)]]))
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            i = idx[a:b]
            seg[i], tie[i], uncertain[i] = self._decide(x[i], y[i], cell[a:b], max_dist)
        return seg, tie, uncertain

    def _decide(
        self, px: np.ndarray, py: np.ndarray, cell: np.ndarray, max_dist: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        indptr, indices = self.lists.indptr, self.lists.indices
        lo = indptr[cell]
        count = indptr[cell + 1] - lo
        n = len(px)
        first = np.cumsum(count) - count
        pt = np.repeat(np.arange(n), count)
        s = indices[np.arange(int(count.sum())) - np.repeat(first - lo, count)]
        wx, wy = px[pt] - self.x0[s], py[pt] - self.y0[s]
        dx, dy = self.dx[s], self.dy[s]
        t = np.clip((wx * dx + wy * dy) * self.inv_ll[s], 0.0, 1.0)
        ex, ey = wx - t * dx, wy - t * dy
        d = np.sqrt(ex * ex + ey * ey)
        has = count > 0
        best = np.full(n, np.inf)
        if len(d):
            best[has] = np.minimum.reduceat(d, first[has])
        near = d <= best[pt] + TOL
        n_near = np.bincount(pt[near], minlength=n)
        hit = np.flatnonzero(near)
        winner = np.full(n, -1, np.int64)
        winner[pt[hit]] = s[hit]  # meaningful where the point has a single near segment, or one tie node
        certified = best <= self.radius
        if self.radius >= max_dist:  # nothing listed within the limit: nothing at all within it
            certified |= best > max_dist + TOL
        at_limit = np.abs(best - max_dist) <= TOL if np.isfinite(max_dist) else np.zeros(n, bool)
        multi = hit[n_near[pt[hit]] > 1]
        tie = (n_near > 1) & ~self._one_node(px, py, pt[multi], s[multi], n)
        tie = certified & (best <= max_dist + TOL) & (tie | at_limit)
        chosen = np.where(certified & ~tie & (best <= max_dist), winner, -1)
        if tie.any():  # exact distances for the few near ties and points at the limit
            settled, exact = self._settle(px, py, pt[hit], s[hit], tie, max_dist)
            chosen[settled] = exact[settled]
            tie &= ~settled
        return chosen, tie, ~certified

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
        lines = shapely.linestrings(np.stack([np.column_stack([self.x0[seg], self.y0[seg]]),
                                              np.column_stack([self.x1[seg], self.y1[seg]])], axis=1))
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
        if self.u is None or self.v is None or len(pt) == 0:
            return np.zeros(n, bool)
        f = fraction(px[pt], py[pt], self.x0[s], self.y0[s], self.dx[s], self.dy[s], self.ll[s])
        node = np.where(f == 0.0, self.u[s], np.where(f == 1.0, self.v[s], -1)).astype(np.int64)
        lo = np.full(n, np.iinfo(np.int64).max)
        hi = np.full(n, -1, np.int64)
        np.minimum.at(lo, pt, node)
        np.maximum.at(hi, pt, node)
        return (lo == hi) & (lo >= 0)
