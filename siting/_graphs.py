"""Array kernels of the network: the CSR matrix of arcs and the points that may bound its hull.

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
