r"""Certificates at city scale: a Lagrangian upper bound, swap local search, bound-based fixing, dominance.

The maximal-covering model (see `MaximalCoverage`) relaxed on its coverage rows ``y_i ≤ Σ_{j ∈ N_i} x_j``
with multipliers ``0 ≤ λ_i ≤ w_i`` gives, for every such ``λ``, the upper bound

.. math::

    L(\lambda) = \sum_i (w_i - \lambda_i) + \max_{S \text{ feasible}} \sum_{j \in S} v_j, \qquad
    v_j = \sum_{i \in N_j} \lambda_i,

where a feasible ``S`` holds every locked site and at most the free places of each quota pool — so
the inner maximum takes the largest ``v_j`` per pool. Its minimum over ``λ`` equals the LP relaxation
bound; it is approached by projected subgradient steps (Polyak step towards the incumbent, deflected
directions, step halving when the bound stalls). Each step costs one sparse product, so the bound
scales to millions of pairs where an LP solver does not (HiGHS: > 300 s on 5 M pairs). Fixing and
dominance shrink the model handed to HiGHS; see `fix_by_bound` and `dominated`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["Pools", "Lagrange", "lagrangian", "swap_search", "fix_by_bound", "dominated", "covered_weight"]

SAFETY = 1e-9  # relative margin added to every bound, far above float64 summation error


@dataclass
class Pools:
    """Which sets of model columns are feasible.

    A feasible set holds every ``locked`` column, plus at most ``free[p]`` other columns of pool ``p``
    (``pool[j]`` per column).
    """

    pool: np.ndarray
    free: np.ndarray
    locked: np.ndarray

    def best(self, v: np.ndarray) -> np.ndarray:
        """Bool mask of the feasible set maximising ``Σ v`` (``v ≥ 0``): the largest ``v`` per pool."""
        chosen = self.locked.copy()
        for p, m in enumerate(self.free.tolist()):
            idx = np.flatnonzero((self.pool == p) & ~self.locked)
            if m <= 0 or idx.size == 0:
                continue
            if idx.size > m:
                idx = idx[np.argpartition(-v[idx], m - 1)[:m]]
            chosen[idx] = True
        return chosen


@dataclass
class Lagrange:
    """A Lagrangian bound, with its multipliers and the best answer met on the way.

    ``bound`` is the upper bound on ``Σ w y``, ``lam`` the multipliers, ``v`` the column values (float64),
    ``chosen`` the subproblem's choice; with the steps taken, and the best of the subproblem's choices met
    on the way as an answer (``primal``, worth ``primal_value``).
    """

    bound: float
    lam: np.ndarray
    v: np.ndarray
    chosen: np.ndarray
    iterations: int
    primal: list[int] | None = None
    primal_value: float = -np.inf


def covered_weight(reach: sp.csr_matrix, w: np.ndarray, cols: np.ndarray | list[int]) -> float:
    """``Σ w`` over the points reached by columns ``cols``."""
    hit = np.zeros(reach.shape[1], dtype=bool)
    hit[reach[np.asarray(cols, dtype=np.int64)].indices] = True
    return float(w[hit].sum())


def evaluate(reach: sp.csr_matrix, w: np.ndarray, lam: np.ndarray, pools: Pools) -> Lagrange:
    """Return the bound ``L(λ)`` in float64 (any ``λ ≥ 0`` is valid), with a small safety margin."""
    lam = np.clip(np.asarray(lam, dtype=float), 0.0, w)
    v = np.asarray(reach @ lam, dtype=float).ravel()
    chosen = pools.best(v)
    value = float((w - lam).sum() + v[chosen].sum())
    return Lagrange(value + SAFETY * max(abs(value), 1.0), lam, v, chosen, 0)


def lagrangian(
    reach: sp.csr_matrix,
    w: np.ndarray,
    pools: Pools,
    incumbent: float,
    *,
    deadline: float,
    stop_above: float,
    stop_below: float = -np.inf,
    lam0: np.ndarray | None = None,
    max_iter: int = 4000,
    handover_nnz: int = 0,
) -> Lagrange:
    """Minimise ``L(λ)`` over ``0 ≤ λ ≤ w`` by subgradient steps; return the best ``λ``'s exact bound.

    Parameters
    ----------
    reach : csr_matrix, shape (n_columns, n_points)
        0/1 model (candidates × merged points).
    w : array, shape (n_points,)
        Point weights.
    pools : Pools
        Feasible choices.
    incumbent : float
        Value ``Σ w y`` of a known feasible choice (the Polyak step aims at it).
    deadline : float
        ``time.perf_counter()`` value at which to stop.
    stop_above : float
        Stop once the bound is at most this (the gap asked for is reached).
    stop_below : float, optional
        Also stop once the bound falls below this (used to prove that ``k`` sites cannot reach a need).
    lam0 : array, optional
        Starting multipliers (default ``w / 2``).
    max_iter : int
        Most steps.
    handover_nnz : int, optional
        Also stop once fixing by the bound (`fix_by_bound`) would leave a model of at most this many
        pairs, small enough for an exact solver.
    """
    a32 = reach.astype(np.float32)
    w32 = w.astype(np.float32)
    lam = (w32 / 2) if lam0 is None else np.clip(lam0, 0, w).astype(np.float32)
    best, best_lam = np.inf, lam
    theta, stall, steps = 1.0, 0, 0
    d = np.zeros_like(lam)
    aim = min(incumbent, stop_below) if np.isfinite(stop_below) else incumbent
    primal, primal_value = None, -np.inf
    row_nnz = np.diff(reach.indptr)
    while steps < max_iter:
        steps += 1
        v = a32 @ lam
        chosen = pools.best(v)
        value = float((w32 - lam).sum(dtype=np.float64) + v[chosen].sum(dtype=np.float64))
        if steps % 20 == 0:  # the subproblem's choice is an answer too
            cols = np.flatnonzero(chosen)
            f = covered_weight(reach, w, cols)
            if f > primal_value:
                primal, primal_value = cols.tolist(), f
                aim = max(aim, f) if not np.isfinite(stop_below) else aim
        if value < best - 1e-7 * abs(value):
            best, best_lam, stall = value, lam.copy(), 0
            if handover_nnz and steps % 10 == 0:
                drop = fix_by_bound(Lagrange(value, lam, v, chosen, 0), pools, max(incumbent, primal_value))[0]
                if row_nnz[~drop].sum() <= handover_nnz:
                    break
        else:
            stall += 1
            if stall >= 30:
                theta, stall = theta / 2, 0
        if best <= stop_above or best < stop_below or theta < 1e-5 or time.perf_counter() > deadline:
            break
        g = np.bincount(reach[np.flatnonzero(chosen)].indices, minlength=w.size).astype(np.float32) - 1
        d = g + np.float32(0.7) * d
        d[((lam <= 0) & (d > 0)) | ((lam >= w32) & (d < 0))] = 0
        norm = float(d @ d)
        if norm == 0.0:
            break  # λ is optimal: the subproblem's choice covers every point exactly once
        step = theta * max(value - aim, 1e-9 * abs(value)) / norm
        lam = np.clip(lam - np.float32(step) * d, 0, w32)
    out = evaluate(reach, w, best_lam, pools)
    out.iterations, out.primal, out.primal_value = steps, primal, primal_value
    return out


def swap_search(
    reach: sp.csr_matrix, w: np.ndarray, cols: list[int], pools: Pools, *, deadline: float, tol: float
) -> list[int]:
    """Best-improvement 1-swap local search from the feasible choice ``cols``.

    For the current set ``S`` with cover counts ``c``: a column ``j`` outside ``S`` adds ``g_j`` (weight of
    the uncovered points it reaches); dropping ``s`` loses ``loss_s`` (points only ``s`` covers) except
    those ``j`` also reaches, ``M[j, s]``. The best ``g_j - loss_s + M[j, s]`` over same-pool, unlocked
    pairs is taken while it gains more than ``tol`` and time remains. ``M`` is one sparse product.
    """
    cols = [int(j) for j in cols]
    n_p = reach.shape[1]
    movable = ~pools.locked
    while cols and time.perf_counter() < deadline:
        rows = reach[np.asarray(cols)]
        c = np.bincount(rows.indices, minlength=n_p)
        g = np.asarray(reach @ np.where(c == 0, w, 0.0)).ravel()
        pos = np.repeat(np.arange(len(cols)), np.diff(rows.indptr))
        once = c[rows.indices] == 1
        owner = np.full(n_p, -1)
        owner[rows.indices[once]] = pos[once]
        uniq = np.flatnonzero(c == 1)
        loss = np.bincount(owner[uniq], weights=w[uniq], minlength=len(cols))
        m = (reach @ sp.csr_matrix((w[uniq], (uniq, owner[uniq])), shape=(n_p, len(cols)))).tocoo()
        inside = np.zeros(reach.shape[0], dtype=bool)
        inside[cols] = True
        s_pool = pools.pool[cols]
        s_ok = movable[cols]
        # pairs (j, s) where j also reaches some of s's own points
        jj, ss = m.row, m.col
        ok = ~inside[jj] & s_ok[ss] & (pools.pool[jj] == s_pool[ss])
        best_val, best_pair = tol, None
        if ok.any():
            vals = g[jj[ok]] - loss[ss[ok]] + m.data[ok]
            i = int(np.argmax(vals))
            if vals[i] > best_val:
                best_val, best_pair = float(vals[i]), (int(jj[ok][i]), int(ss[ok][i]))
        # any other pair: j against the cheapest movable s of its pool (M[j, s] ≥ 0 only adds)
        for p in np.unique(s_pool[s_ok]).tolist():
            sp_idx = np.flatnonzero(s_ok & (s_pool == p))
            s = int(sp_idx[np.argmin(loss[sp_idx])])
            cand = np.flatnonzero(~inside & movable & (pools.pool == p))
            if cand.size:
                j = int(cand[np.argmax(g[cand])])
                if g[j] - loss[s] > best_val:
                    best_val, best_pair = float(g[j] - loss[s]), (j, s)
        if best_pair is None:
            break
        cols[best_pair[1]] = best_pair[0]
    return cols


def fix_by_bound(lag: Lagrange, pools: Pools, incumbent: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Columns that cannot be in (``drop``) or out of (``force``) any choice better than ``incumbent``.

    With ``x_j`` forced to 1, the subproblem swaps ``j`` in for the smallest chosen ``v`` of its pool: the
    bound becomes ``L - v_min + v_j``; forced to 0, ``L - v_j + v_max`` (largest unchosen of the pool).
    When that is at most ``incumbent`` no better answer has ``x_j`` so set. Returns the masks and the
    largest such bound (``-inf`` when none): any answer breaking a fixing is worth at most that.
    """
    v, chosen, n = lag.v, lag.chosen, lag.v.size
    drop, force = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    worst = -np.inf
    for p in range(len(pools.free)):
        in_p = (pools.pool == p) & ~pools.locked
        sel, out = np.flatnonzero(in_p & chosen), np.flatnonzero(in_p & ~chosen)
        if sel.size and out.size:
            if_in = lag.bound - v[sel].min() + v[out]
            drop[out] = if_in <= incumbent
            worst = max(worst, float(if_in[drop[out]].max(initial=-np.inf)))
        if sel.size:
            if_out = lag.bound - v[sel] + (v[out].max() if out.size else 0.0)
            force[sel] = if_out <= incumbent
            worst = max(worst, float(if_out[force[sel]].max(initial=-np.inf)))
    return drop, force, worst


def dominated(reach: sp.csr_matrix, pools: Pools) -> np.ndarray:
    """Unlocked columns whose points are a subset of another column's in the same pool.

    Any choice holding such a column ``j`` does at least as well with its dominating column ``j'``
    instead (or with ``j`` left out when ``j'`` is already there), so ``j`` can be removed from a model
    whose pool rows are ``≤``. Among columns with identical sets the lowest index is kept; ``j'`` ranks
    above ``j`` by (set size, lower index), a strict order, so the maximal column of every chain stays.
    """
    r = sp.csr_matrix(reach, dtype=np.int32)
    size = np.diff(r.indptr)
    overlap = (r @ r.T).tocoo()
    i, j, o = overlap.row, overlap.col, overlap.data
    above = (size[j] > size[i]) | ((size[j] == size[i]) & (j < i))
    hit = (i != j) & (o == size[i]) & above & (pools.pool[i] == pools.pool[j]) & ~pools.locked[i]
    out = np.zeros(r.shape[0], dtype=bool)
    out[i[hit]] = True
    return out
