"""Certified answers for `MaximalCoverage` and `MinimumSites`: greedy start, swap search, bounds, HiGHS.

The order is the same at every size: the lazy-greedy answer is improved by swaps, certified by the
greedy (submodular) bound or a Lagrangian bound (`siting.locate.lagrange`); only when the gap asked for
is not reached yet are candidates fixed by that bound, dominated ones removed, and the reduced model
handed to HiGHS for what remains of the time limit — and only when it is small enough for HiGHS's
presolve to respect that limit (measured: 10,000 × 100,000 sites × points, 5 M pairs, HiGHS spent
405 s in presolve under a 30 s limit). Every step checks the clock, so the time limit holds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .greedy import Spec, run_greedy, tolerance
from .lagrange import SAFETY, Lagrange, Pools, covered_weight, dominated, fix_by_bound, lagrangian, swap_search
from .mip import aggregate_points, coverage_bound, mip_columns, solve_mip
from .problem import SitingProblem

__all__ = ["MAX_HIGHS_NNZ", "Certificate", "certify_coverage", "certify_sites", "covering_model", "final_status",
           "sites_mip"]

MAX_HIGHS_NNZ = 250_000  # pairs in the (reduced) model above which HiGHS is not called
# (measured: a 900,000-pair model under a 16 s limit never finished HiGHS's root LP, overshot by 6 %)
HIGHS_SHARE = 0.9  # HiGHS checks its clock between steps: it gets this share of the time left
HANDOVER_NNZ = 20_000  # the Lagrangian stops early once fixing leaves a model this small for HiGHS
SEARCH_SHARE = 0.25  # most of the time limit the swap search may take


@dataclass
class Model:
    """The covering model over usable candidates.

    ``cols`` are the candidate positions of its rows, ``reach`` is rows × merged open points, ``w`` the
    weights of the merged points; it also holds the feasible choices.
    """

    cols: np.ndarray
    reach: sp.csr_matrix
    w: np.ndarray
    pools: Pools


def covering_model(prob: SitingProblem, spec: Spec, k: int | None = None) -> Model:
    """Build the model of `prob` under `spec`.

    Its rows are the candidates that add someone (and locked ones), its columns the merged points not yet
    covered; ``k`` overrides the number of sites (one pool) for the minimum-sites bound.
    """
    cols = mip_columns(prob, spec)
    open_pts = np.flatnonzero(prob.open_weights > 0)
    mat, w, _ = aggregate_points(prob.reach[cols][:, open_pts], prob.open_weights[open_pts], None)
    locked = np.isin(cols, spec.locked)
    if k is None:
        pool, caps = spec.pool[cols], spec.caps
    else:
        pool, caps = np.zeros(cols.size, dtype=np.int64), np.array([k])
    free = caps - np.bincount(pool[locked], minlength=len(caps))
    return Model(cols, mat.tocsr(), w, Pools(pool, free, locked))


@dataclass
class Certificate:
    """A choice and its proven bound on residents added, with what proved it and how the search ended.

    The choice is candidate positions, before the left-over places are filled.
    """

    chosen: list[int]
    bound: float
    source: str
    status: str
    highs_seconds: float = 0.0


def certify_coverage(
    prob: SitingProblem, spec: Spec, start: list[int], *, deadline: float, mip_rel_gap: float,
    options: Mapping[str, Any] | None = None,
) -> Certificate:
    """Best choice found from ``start`` (the greedy answer) and an upper bound on residents added."""
    tol = tolerance(prob)
    m = covering_model(prob, spec)
    cur = np.flatnonzero(np.isin(m.cols, start)).tolist()
    now = time.perf_counter()
    cur = swap_search(m.reach, m.w, cur, m.pools, deadline=now + SEARCH_SHARE * (deadline - now), tol=tol)
    inc = covered_weight(m.reach, m.w, cur)
    bound = coverage_bound(prob, spec, m.cols[cur].tolist()) - prob.covered_before
    source, status, highs_s = "submodular", "", 0.0

    def enough(b: float) -> bool:
        return b - inc <= max(tol, mip_rel_gap * inc)

    if not enough(bound) and time.perf_counter() < deadline:
        lag = lagrangian(m.reach, m.w, m.pools, inc, deadline=deadline, stop_above=inc + max(tol, mip_rel_gap * inc),
                         handover_nnz=HANDOVER_NNZ)
        if lag.bound < bound:
            bound, source = lag.bound, "lagrangian"
        if lag.primal is not None and lag.primal_value > inc + tol:  # improve the Lagrangian's best choice
            now = time.perf_counter()
            cur = swap_search(m.reach, m.w, lag.primal, m.pools, deadline=now + SEARCH_SHARE * (deadline - now),
                              tol=tol)
            inc = covered_weight(m.reach, m.w, cur)
        if not enough(bound) and time.perf_counter() < deadline:
            cur, inc, bound, source, status, highs_s = _reduced_mip(
                m, lag, spec, cur, inc, bound, source, deadline, mip_rel_gap, options)
    if not status:
        status = "time_limit" if time.perf_counter() >= deadline and not enough(bound) else "done"
    return Certificate(m.cols[cur].tolist(), bound, source, status, highs_s)


def _reduced_mip(m: Model, lag: Lagrange, spec: Spec, cur: list[int], inc: float, bound: float, source: str,
                 deadline: float, mip_rel_gap: float, options: Mapping[str, Any] | None) -> tuple:
    """Fix columns by the Lagrangian bound, drop dominated ones, and let HiGHS solve what is left."""
    drop, force, worst = fix_by_bound(lag, m.pools, inc)
    keep = np.flatnonzero(~drop)
    locked = m.pools.locked[keep] | force[keep]
    pool = m.pools.pool[keep]
    caps = m.pools.free + np.bincount(m.pools.pool[m.pools.locked], minlength=len(m.pools.free))
    reduced = Pools(pool, caps - np.bincount(pool[locked], minlength=len(caps)), locked)
    if m.reach[keep].nnz > MAX_HIGHS_NNZ:
        return cur, inc, bound, source, "too_large", 0.0
    dom = dominated(m.reach[keep], reduced)
    keep, locked, pool = keep[~dom], locked[~dom], pool[~dom]
    mat, w, _ = aggregate_points(m.reach[keep], m.w, None)
    pools = [(np.ones(keep.size, dtype=bool), float(spec.k or 0))]
    if spec.quota_groups:
        pools += [(pool == p, float(c)) for p, c in enumerate(caps)]
    out = solve_mip(mat, w, sense="max", locked=np.flatnonzero(locked), start=np.isin(keep, cur), pools=pools,
                    mip_rel_gap=mip_rel_gap, options=options, deadline=deadline,
                    time_limit=HIGHS_SHARE * (deadline - time.perf_counter()))
    if out.chosen is not None:
        found = keep[out.chosen].tolist()
        value = covered_weight(m.reach, m.w, found)
        if value > inc:
            cur, inc = found, value
    if out.bound is not None and max(out.bound, worst) < bound:
        bound, source = max(out.bound, worst, inc), "highs"
    return cur, inc, bound, source, out.status, out.seconds


def certify_sites(prob: SitingProblem, spec: Spec, n_chosen: int, lb: int, need: float, *,
                  deadline: float) -> tuple[int, bool]:
    """Return a lower bound on the number of sites reaching ``need`` residents added, from Lagrangian bounds.

    ``k`` sites cannot reach the need when some ``L(λ)`` for ``k`` sites is below it. ``λ`` is optimised
    for ``k = n_chosen - 1`` first (proving the answer optimal), then by bisection above ``lb``; each
    ``λ`` also bounds every other ``k`` at once (the largest ``v`` summed, `SAFETY` margin included), and
    the largest ``k`` it proves short raises the bound. Returns the bound and whether it was raised.
    """
    m = covering_model(prob, spec, k=max(n_chosen - 1, 0))
    locked = m.pools.locked
    n_locked = int(locked.sum())
    lo, hi, lam = lb, n_chosen - 1, None  # fewer than lo sites are short; find the largest k proven short
    k = hi
    while lo <= k and time.perf_counter() < deadline:
        pools = Pools(m.pools.pool, np.array([k - n_locked]), locked)
        lag = lagrangian(m.reach, m.w, pools, need, deadline=deadline, stop_above=-np.inf,
                         stop_below=need, lam0=lam, max_iter=1500)
        lam = lag.lam
        base = float((m.w - lam).sum() + lag.v[locked].sum())
        curve = base + np.concatenate([[0.0], np.cumsum(np.sort(lag.v[~locked])[::-1])])
        proven = int((curve * (1 + SAFETY) + SAFETY < need).sum()) - 1 + n_locked  # most sites proven short
        lo = max(lo, proven + 1)
        if lag.bound >= need:
            hi = k - 1
        k = (lo + hi) // 2 if lo <= hi else lo - 1
    return lo, lo > lb


def sites_mip(prob: SitingProblem, spec: Spec, chosen: list[int], n_tot: float | None, n_grp: np.ndarray | None, *,
              deadline: float, mip_rel_gap: float, options: Mapping[str, Any] | None
              ) -> tuple[list[int] | None, int, str, float]:
    """Solve the minimum-sites model with HiGHS from ``chosen`` until ``deadline``.

    Only a model small enough (`MAX_HIGHS_NNZ`) is solved. Returns (answer or None, lower bound, HiGHS
    status, HiGHS seconds).
    """
    tol = tolerance(prob)
    cols = mip_columns(prob, spec)
    open_pts = np.flatnonzero(prob.open_weights > 0)
    gc = prob.group_codes
    codes = None if n_grp is None or gc is None else gc[open_pts]
    sub = prob.reach[cols][:, open_pts]
    if sub.nnz > MAX_HIGHS_NNZ or time.perf_counter() >= deadline:
        return None, 0, "too_large" if sub.nnz > MAX_HIGHS_NNZ else "time_limit", 0.0
    mat, wa, ca = aggregate_points(sub, prob.open_weights[open_pts], codes)
    needs = [(wa, n_tot - 2 * tol)] if n_tot is not None and n_tot > tol else []
    if n_grp is not None and ca is not None:
        needs += [(np.where(ca == g, wa, 0.0), n_grp[g] - 2 * tol) for g in np.flatnonzero(n_grp > tol)]
    out = solve_mip(mat, wa, sense="min", locked=np.flatnonzero(np.isin(cols, spec.locked)),
                    start=np.isin(cols, chosen), needs=needs, deadline=deadline, mip_rel_gap=mip_rel_gap,
                    options=options, time_limit=HIGHS_SHARE * (deadline - time.perf_counter()))
    if out.chosen is None:
        return None, 0, out.status, out.seconds
    # repair tolerance-level shortfalls greedily
    fill = Spec(None, cols[out.chosen], spec.allowed, spec.pool, spec.caps, [])
    lb = math.ceil(out.bound - 1e-6) if out.bound is not None else 0
    return run_greedy(prob, fill, n_tot, n_grp), lb, out.status, out.seconds


def final_status(gap: float, mip_rel_gap: float, search: str) -> str:
    """Name how the search ended.

    ``"optimal"`` (gap 0), ``"gap_limit"`` (gap ≤ ``mip_rel_gap``), ``"time_limit"`` (stopped by the
    clock) or ``"feasible"`` (a proven gap, but the bound stalled and the model is too large for HiGHS).
    """
    if gap <= 0.0:
        return "optimal"
    if gap <= mip_rel_gap:
        return "gap_limit"
    return "time_limit" if search == "time_limit" else "feasible"
