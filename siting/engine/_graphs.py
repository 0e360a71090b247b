"""Array kernels of the network: the CSR matrix of arcs, the points that may bound its hull, point buckets.

Hand-written because scipy sums parallel arcs where a street network needs the shortest one, and shapely
hulls all points where a cheap octagon test (Akl–Toussaint) discards most of them first.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def hull_candidates(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the mask of the points that may be convex-hull vertices (Akl–Toussaint).

    That is all but those lying strictly inside (by 1 mm) the octagon of the extreme points in 8 directions.
    """
    keep = np.ones(len(x), bool)
    if len(x) < 16:
        return keep
    s, d = x + y, x - y
    corners = [np.argmin(y), np.argmax(d), np.argmax(x), np.argmax(s), np.argmax(y), np.argmin(d),
               np.argmin(x), np.argmin(s)]  # counter-clockwise, from the south
    inside = np.ones(len(x), bool)
    for a, b in zip(corners, corners[1:] + corners[:1], strict=True):
        ex, ey = x[b] - x[a], y[b] - y[a]
        norm = float(np.hypot(ex, ey))
        if norm == 0:
            continue
        inside &= ex * (y - y[a]) - ey * (x - x[a]) > 1e-3 * norm
    keep[inside] = False
    keep[corners] = True
    return keep


def csr_min(src: np.ndarray, dst: np.ndarray, w: np.ndarray, n: int) -> sp.csr_matrix:
    """CSR matrix keeping the *shortest* of parallel arcs (scipy would sum duplicates).

    scipy's counting-sort conversion builds it; the few parallel arcs (a one-way and a two-way street
    between the same nodes), found because the matrix has fewer entries than arcs, then get their
    shortest length instead of the sum.
    """
    # csgraph treats stored zeros as edges; keep a tiny positive length so nothing is lost either way.
    w = np.maximum(w, 1e-9)
    mat = sp.csr_matrix((w, (src, dst)), shape=(n, n))
    if mat.nnz < len(src):
        count = sp.csr_matrix((np.ones(len(src), np.int32), (src, dst)), shape=(n, n))  # same layout as mat
        where = np.flatnonzero(count.data > 1)
        row = np.searchsorted(mat.indptr, where, side="right") - 1
        pairs = row.astype(np.int64) * n + mat.indices[where]  # sorted, as the matrix is
        key = src.astype(np.int64) * n + dst
        par = np.flatnonzero(np.isin(key, pairs))
        shortest = np.full(len(pairs), np.inf)
        np.minimum.at(shortest, np.searchsorted(pairs, key[par]), w[par])
        mat.data[where] = shortest
    return mat


class Buckets:
    """Points bucketed on a square grid of ``cell`` metres: who lies in the 3 × 3 cells around a cell.

    Parameters
    ----------
    x, y : ndarray
        The points (non-finite ones are left out).
    cell : float
        Cell size (m).
    centres : tuple of ndarray, optional
        Columns and rows of the only cells that will be asked about: the points outside their 3 × 3
        windows are left out before sorting (``around`` answers the same for those cells).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, cell: float,
                 centres: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.cell = cell
        idx = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        gx, gy = np.floor(x[idx] / cell).astype(np.int64), np.floor(y[idx] / cell).astype(np.int64)
        rank = None
        if centres is not None and len(centres[0]):
            keep, rank = _in_windows(gx, gy, *centres)
            idx, gx, gy = idx[keep], gx[keep], gy[keep]
        self.key = gx * 1_000_003 + gy
        order = np.argsort(self.key if rank is None else rank, kind="stable")  # the same order (see _in_windows)
        self.idx, self.key = idx[order], self.key[order]

    def around(self, gx: int, gy: int) -> np.ndarray:
        """Return the points in the 3 × 3 cells around cell (``gx``, ``gy``), cell by cell, in input order."""
        keys = np.array([(gx + dx) * 1_000_003 + gy + dy for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
        lo, hi = np.searchsorted(self.key, keys, "left"), np.searchsorted(self.key, keys, "right")
        return np.concatenate([self.idx[i:j] for i, j in zip(lo, hi, strict=True)])


def _in_windows(gx: np.ndarray, gy: np.ndarray, cx: np.ndarray, cy: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """Return the mask of the cells (``gx``, ``gy``) within the 3 × 3 windows of the cells (``cx``, ``cy``).

    With it, when the windows hold fewer than 65,536 cells, the kept cells' numbers among them in
    the order of the buckets' keys (column, then row): 16-bit keys, which numpy sorts in linear time.
    """
    x0, y0 = int(cx.min()) - 1, int(cy.min()) - 1
    w, h = int(cx.max()) - x0 + 2, int(cy.max()) - y0 + 2
    if w * h > 1 << 26:  # centres spread too far for one mask: keep everything
        return np.ones(len(gx), bool), None
    mask = np.zeros((w, h), bool)
    for dx in (0, 1, 2):
        for dy in (0, 1, 2):
            mask[cx - x0 - 1 + dx, cy - y0 - 1 + dy] = True
    rx, ry = gx - x0, gy - y0
    inside = np.flatnonzero((rx >= 0) & (rx < w) & (ry >= 0) & (ry < h))
    keep = np.zeros(len(gx), bool)
    keep[inside] = mask[rx[inside], ry[inside]]
    number = np.cumsum(mask.ravel(), dtype=np.int64).reshape(w, h) - 1
    if number[-1, -1] >= 1 << 16 or h >= 1_000_003:
        return keep, None
    kept = np.flatnonzero(keep)
    return keep, number[rx[kept], ry[kept]].astype(np.uint16)
