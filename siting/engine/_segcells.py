"""Private: the cell lists of a bucket grid of street segments (:class:`siting.engine._segindex.SegmentIndex`).

Every segment is registered in every cell that its bounding box, widened by ``grow``, touches; long
segments piece by piece. The result is a (cells × segments) CSR matrix whose row ``c`` lists the
segments lying within ``grow`` of any point of cell ``c``. Built in slices of segments into arrays
allocated once: a first call in a fresh process pays for every new megabyte it touches (page
faults), so the temporaries stay small.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: Segments handled per slice of the per-segment work.
SLICE = 1 << 18

#: A grid: origin x and y, cell size, columns and rows.
Grid = tuple[float, float, float, int, int]


def slices(n: int) -> list[tuple[int, int]]:
    """Return the ``[a, b)`` bounds of ``n`` items in slices of ``SLICE``."""
    return [(a, min(a + SLICE, n)) for a in range(0, n, SLICE)]


def cell_lists(x0: np.ndarray, y0: np.ndarray, dx: np.ndarray, dy: np.ndarray, grid: Grid, grow: float
               ) -> sp.csr_matrix:
    """Return the (cells × segments) 0/1 matrix: cell → the segments within ``grow`` of any of its points.

    Parameters
    ----------
    x0, y0, dx, dy : ndarray
        Segment starts and directions (end - start), projected metres.
    grid : tuple
        ``(ox, oy, cell, nx, ny)``: origin, cell size and shape; cell ``(i, j)`` is row ``i * ny + j``.
        The grid must reach ``cell`` beyond every segment (its origin ``cell`` below the lowest).
    grow : float
        Registration distance (< ``cell``).

    Returns
    -------
    scipy.sparse.csr_matrix
        Segments longer than ``4 cell`` are cut into pieces first (a long diagonal's box is mostly
        empty); a cell reached by two pieces of one segment lists it once.
    """
    ox, oy, c, nx, ny = grid
    n = len(x0)
    itype = np.int32 if max(nx * ny, n) < 2**31 - 1 else np.int64
    base, wx, wy = np.empty(n, itype), np.empty(n, np.int32), np.empty(n, np.int32)
    long = [np.zeros(0, np.int64)]
    for a, b in slices(n):
        sx, sy, sdx, sdy = x0[a:b], y0[a:b], dx[a:b], dy[a:b]
        long.append(a + np.flatnonzero(sdx * sdx + sdy * sdy > (4 * c) ** 2))
        base[a:b], wx[a:b], wy[a:b] = _boxes(sx, sx + sdx, sy, sy + sdy, grid, grow)
    owner = np.arange(n, dtype=itype)
    cut = np.concatenate(long)
    pieces = np.ceil(np.hypot(dx[cut], dy[cut]) / (4 * c)).astype(np.int64)
    cut, pieces = cut[pieces > 1], pieces[pieces > 1]
    multi = np.zeros(n, bool)
    if len(cut):  # long segments: the boxes of their pieces instead
        multi[cut] = True
        whole = np.flatnonzero(~multi)
        piece, per = np.repeat(cut, pieces), np.repeat(pieces, pieces)
        k = np.arange(len(piece)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        fa, fb = k / per, (k + 1) / per
        ax, bx = x0[piece] + fa * dx[piece], x0[piece] + fb * dx[piece]
        ay, by = y0[piece] + fa * dy[piece], y0[piece] + fb * dy[piece]
        extra = _boxes(ax, bx, ay, by, grid, grow)
        base, wx, wy = (np.concatenate([arr[whole], more.astype(arr.dtype)])
                        for arr, more in zip((base, wx, wy), extra, strict=True))
        owner = np.concatenate([owner[whole], piece.astype(itype)])
    cell, seg = box_cells(base, owner, wx, wy, ny)
    if len(cut):  # a cell reached by two pieces of one segment lists it once
        twice = multi[seg]
        key = np.unique(cell[twice].astype(np.int64) * n + seg[twice])
        cell = np.concatenate([cell[~twice], (key // n).astype(itype)])
        seg = np.concatenate([seg[~twice], (key % n).astype(itype)])
    lists = sp.coo_matrix((np.ones(len(cell), np.int8), (cell, seg)), shape=(nx * ny, n))
    lists.has_canonical_format = True  # no pair twice (see above): no sorting of every cell's list
    return lists.tocsr()


def _boxes(ax: np.ndarray, bx: np.ndarray, ay: np.ndarray, by: np.ndarray, grid: Grid, grow: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the first cell and the width and height (in cells, less one) of the boxes of ``a → b``, widened."""
    ox, oy, c, _, ny = grid
    # cell numbers by truncation: every box lies ``c - grow > 0`` inside the grid's origin
    gx = ((np.minimum(ax, bx) - grow - ox) / c).astype(np.int64)
    wx = ((np.maximum(ax, bx) + grow - ox) / c).astype(np.int64) - gx
    gy = ((np.minimum(ay, by) - grow - oy) / c).astype(np.int64)
    wy = ((np.maximum(ay, by) + grow - oy) / c).astype(np.int64) - gy
    return gx * ny + gy, wx, wy


def box_cells(base: np.ndarray, owner: np.ndarray, wx: np.ndarray, wy: np.ndarray, ny: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Return (cell, owner) pairs of boxes of ``(wx + 1) × (wy + 1)`` cells from cell ``base`` (grid ``ny`` high).

    Boxes of one shape are filled by one broadcast sum (most are 3 × 3 or smaller), shape by shape,
    into arrays allocated once; offset by offset, so that the long axis is the inner one and the
    cells written follow the boxes' order.
    """
    shape = wx * (int(wy.max()) + 1) + wy
    groups = np.argsort(shape.astype(np.int16) if shape.max() < 2**15 else shape, kind="stable")
    sizes = np.bincount(shape)
    cell = np.empty(int(((wx + 1) * (wy + 1)).sum()), base.dtype)
    seg = np.empty(len(cell), owner.dtype)
    at = start = 0
    for kind in np.flatnonzero(sizes).tolist():
        hit = groups[start:start + sizes[kind]]
        start += int(sizes[kind])
        a, b = int(wx[hit[0]]) + 1, int(wy[hit[0]]) + 1
        offsets = (np.arange(a)[:, None] * ny + np.arange(b)[None, :]).ravel().astype(base.dtype)
        size = len(hit) * a * b
        np.add(offsets[:, None], base[hit][None, :], out=cell[at:at + size].reshape(a * b, len(hit)))
        seg[at:at + size].reshape(a * b, len(hit))[...] = owner[hit]
        at += size
    return cell, seg
