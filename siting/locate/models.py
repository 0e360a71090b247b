"""Where to build new sites: marginal gains, lazy greedy, and exact maximal-covering / minimum-sites models.

In spopt's shape: a model is built from numbers only — ``Model.from_sparse(reach, weights, ...)`` with
``reach`` a scipy.sparse candidates × points 0/1 matrix and ``weights`` the residents per point (or
``Model(problem, ...)`` from a `SitingProblem`) — then ``.solve()`` fills ``.objective``, ``.chosen``,
``.bound``, ``.mip_gap``, ``.status``, ``.solution`` and ``.greedy_solution``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .._validate import check_rate
from ..errors import ModelError
from .base import LocateModel
from .certify import certify_coverage, certify_sites, final_status, sites_mip
from .greedy import (
    Spec,
    describe,
    make_spec,
    needs_of,
    order_sites,
    run_greedy,
    shortfalls,
    targets,
    tolerance,
)
from .mip import coverage_bound, sites_lower_bound
from .problem import SitingProblem, SitingSolution, make_solution

__all__ = [
    "SitingProblem",
    "SitingSolution",
    "marginal_gain",
    "score_candidates",
    "greedy",
    "MaximalCoverage",
    "MinimumSites",
]


def marginal_gain(problem: SitingProblem) -> np.ndarray:
    """Residents newly covered by each candidate alone, given the existing facilities (shape n_candidates)."""
    return problem.gains.copy()


def score_candidates(problem: SitingProblem, target: float | None = None) -> pd.DataFrame:
    """Ranked candidate table: candidate, candidate_id, group, gain, share_of_gap, rank.

    ``share_of_gap`` is the gain divided by the residents still missing to reach ``target`` (a share,
    default 1.0 = everyone); NaN when the target is already met.
    """
    gap = (1.0 if target is None else check_rate(target, "target")) * problem.total - problem.covered_before
    gains = problem.gains
    df = pd.DataFrame(
        {
            "candidate": np.arange(problem.n_candidates),
            "candidate_id": problem.candidate_ids,
            "group": problem.candidate_groups,
            "gain": gains,
            "share_of_gap": gains / gap if gap > 0 else np.nan,
        }
    )
    df = df.sort_values(["gain", "candidate"], ascending=[False, True], kind="stable").reset_index(drop=True)
    df["rank"] = np.arange(1, len(df) + 1)
    return df

def greedy(
    problem: SitingProblem,
    k: int | None = None,
    *,
    target: float | None = None,
    per_group_target: float | Mapping[str, float] | None = None,
    locked: Iterable[Any] = (),
    forbidden: Iterable[Any] = (),
    quotas: Mapping[str, int] | None = None,
    capacity: float | None = None,
) -> SitingSolution:
    """Lazy greedy (CELF) siting: choose-k, or add sites until a coverage target is met.

    Parameters
    ----------
    problem : SitingProblem
    k : int, optional
        Number of new sites (locked ones included); defaults to the sum of ``quotas``. With a target,
        an optional budget.
    target : float, optional
        District-wide share of residents to cover (existing + new), e.g. 0.9. Stops once reached.
    per_group_target : float or mapping, optional
        Share per 街道 (one number for all, or ``{街道: share}``).
    locked, forbidden : iterable of candidate ids
        Sites that must / must not be chosen.
    quotas : mapping, optional
        Exact number of sites per candidate 街道 (``{"虹桥街道": 2, ...}``); the remaining
        ``k - sum(quotas)`` go to candidates in other 街道.
    capacity : float, optional
        Residents per site above which a site is flagged ``overloaded``.

    Returns
    -------
    SitingSolution
        ``method="greedy"``, ``gap=None``; in target mode ``feasible`` tells whether the targets were met.
    """
    t0 = time.perf_counter()
    target_mode = target is not None or per_group_target is not None
    spec = make_spec(problem, k, locked, forbidden, quotas, need_k=not target_mode)
    if target_mode:
        return _greedy_target(problem, spec, *targets(problem, target, per_group_target), t0, capacity)
    order = run_greedy(problem, spec)
    return make_solution(
        problem, order, method="greedy", status="heuristic", seconds=time.perf_counter() - t0,
        message=f"{len(order)} sites chosen greedily", capacity=capacity,
        bound=coverage_bound(problem, spec, order),
    )


def _greedy_target(
    problem: SitingProblem,
    spec: Spec,
    t_tot: float | None,
    t_grp: np.ndarray | None,
    t0: float,
    capacity: float | None,
) -> SitingSolution:
    """Greedy set cover towards absolute targets ``t_tot`` / ``t_grp`` (covered residents)."""
    n_tot, n_grp = needs_of(problem, t_tot, t_grp)
    tol = tolerance(problem)
    if (n_tot is None or n_tot <= tol) and (n_grp is None or not (n_grp > tol).any()):
        order = [int(j) for j in spec.locked]
    else:
        order = run_greedy(problem, spec, n_tot, n_grp)
    short = shortfalls(problem, problem.covered_by(order), t_tot, t_grp, tol)
    msg = describe(short, "not met", len(order), "") if short else f"{len(order)} sites reach the target"
    return make_solution(
        problem, order, method="greedy", status="heuristic", seconds=time.perf_counter() - t0,
        feasible=not short, message=msg, capacity=capacity,
    )

class MaximalCoverage(LocateModel):
    r"""Maximal covering location problem (Church & ReVelle 1974) with existing coverage, quotas, locks.

    With :math:`I` the points not yet covered (weights :math:`w_i`), :math:`J` the candidates,
    :math:`N_i \subseteq J` the candidates reaching :math:`i`, :math:`C_0` the residents already
    covered, :math:`J_g` the candidates in 街道 :math:`g`, :math:`L` / :math:`F` the locked /
    forbidden sites:

    .. math::

        \max\; C_0 + \sum_{i \in I} w_i y_i \quad\text{s.t.}\quad
        y_i \le \sum_{j \in N_i} x_j \;\; \forall i \in I, \qquad
        \sum_{j \in J} x_j = k, \qquad
        \sum_{j \in J_g} x_j = q_g \;\; \forall g \in Q,

        x_j = 1 \;(j \in L), \quad x_j = 0 \;(j \in F), \quad
        x_j \in \{0, 1\}, \quad 0 \le y_i \le 1.

    Solved on a reduced model — candidates adding no one are left out, points reached by the same
    candidate set are merged into one :math:`y` — with ``≤`` for the cardinality and quota rows;
    left-over places are then filled greedily (they add no one at the optimum), so exactly :math:`k`
    sites and :math:`q_g` per 街道 are returned. Sites outside the quota 街道 take the remaining
    :math:`k - \sum_g q_g`. The lazy-greedy answer, improved by swaps, is certified by the greedy
    bound or a Lagrangian bound; if the gap asked for is not reached, candidates are fixed by that
    bound, dominated ones dropped, and HiGHS (``highspy``) solves what is left when it is small
    enough (see `siting.locate.certify`). The result is never worse than greedy, and ``bound`` is
    proven whenever the time limit stops the search.

    Attributes (after `solve`)
    --------------------------
    solution : SitingSolution
        The exact (or best incumbent) answer; ``gap`` is its proven relative gap on residents added.
    greedy_solution : SitingSolution
        The lazy-greedy answer, for comparison.
    objective, bound, gap, bound_source, status, solve_seconds, chosen
        Shortcuts to ``solution`` fields (``bound``: proven upper bound on covered residents;
        ``gap`` (also ``mip_gap``): ``(bound - objective) / residents added``; ``bound_source``:
        ``"submodular"``, ``"lagrangian"`` or ``"highs"``; ``status``: ``"optimal"``, ``"gap_limit"``
        (``gap ≤ mip_rel_gap``), ``"time_limit"`` or ``"feasible"`` (bound stalled, model too large
        for HiGHS); ``solve_seconds`` is the HiGHS run time).
    """

    def __init__(
        self,
        problem: SitingProblem,
        k: int | None = None,
        *,
        locked: Iterable[Any] = (),
        forbidden: Iterable[Any] = (),
        quotas: Mapping[str, int] | None = None,
        capacity: float | None = None,
    ) -> None:
        super().__init__(problem, locked=locked, forbidden=forbidden, capacity=capacity)
        self.k, self.quotas = k, quotas
        self.spec = make_spec(problem, k, self.locked, self.forbidden, quotas, need_k=True)

    def solve(
        self, time_limit: float = 60.0, mip_rel_gap: float = 0.0, options: Mapping[str, Any] | None = None
    ) -> MaximalCoverage:
        """Solve within ``time_limit`` seconds (all steps, HiGHS included).

        Stop early at relative gap ``mip_rel_gap``; ``options`` go to HiGHS as they are (e.g.
        ``{"threads": 1}``).
        """
        t0 = time.perf_counter()
        prob, spec = self.problem, self.spec
        self.greedy_solution = greedy(
            prob, spec.k, locked=self.locked, forbidden=self.forbidden, quotas=self.quotas,
            capacity=self.capacity,
        )
        chosen, status, run_s = list(self.greedy_solution.chosen), "optimal", 0.0
        bound, source = coverage_bound(prob, spec, chosen), "submodular"
        if prob.gains.any() and bound > self.greedy_solution.objective + tolerance(prob):
            cert = certify_coverage(prob, spec, chosen, deadline=t0 + time_limit, mip_rel_gap=mip_rel_gap,
                                    options=options)
            fill = Spec(spec.k, np.array(cert.chosen, dtype=np.int64), spec.allowed, spec.pool, spec.caps,
                        spec.quota_groups)
            exact = run_greedy(prob, fill)
            if prob.weights[prob.covered_by(exact)].sum() >= self.greedy_solution.objective:
                chosen = exact
            bound, source = prob.covered_before + cert.bound, cert.source
            status, run_s = cert.status, cert.highs_seconds
        order = order_sites(prob, chosen, spec.locked)
        sol = make_solution(prob, order, method="highs", status=status, seconds=0.0, capacity=self.capacity)
        sol.bound, sol.bound_source = max(bound, sol.objective), source
        slack = sol.bound - sol.objective
        sol.gap = 0.0 if slack <= tolerance(prob) else slack / max(sol.added_residents, tolerance(prob))
        status = final_status(sol.gap, mip_rel_gap, status)
        sol.seconds, sol.status = time.perf_counter() - t0, status
        sol.message = f"{sol.k} sites cover {100 * sol.coverage_rate:.1f} % ({status}, gap {sol.gap or 0:.3%})"
        return self.keep(sol, sol.objective, run_s)


class MinimumSites(LocateModel):
    r"""Fewest new sites lifting coverage to a target, district-wide and/or in every 街道.

    With the notation of `MaximalCoverage`, :math:`W` all residents, :math:`W_g` / :math:`C_{0,g}`
    the residents / already covered residents of 街道 :math:`g`, and target shares :math:`\tau`,
    :math:`\tau_g`:

    .. math::

        \min \sum_{j \in J} x_j \quad\text{s.t.}\quad
        y_i \le \sum_{j \in N_i} x_j \;\; \forall i \in I, \qquad
        C_0 + \sum_{i \in I} w_i y_i \ge \tau W, \qquad
        C_{0,g} + \sum_{i \in I_g} w_i y_i \ge \tau_g W_g \;\; \forall g,

        x_j = 1 \;(j \in L), \quad x_j = 0 \;(j \in F), \quad
        x_j \in \{0, 1\}, \quad 0 \le y_i \le 1.

    When a target exceeds what all usable candidates together reach, it is lowered to that maximum
    and the answer is the fewest sites reaching it, with ``feasible=False`` and a ``message`` saying
    how close it gets — no exception. The greedy set-cover answer is the warm start.

    The lower bound on the number of sites comes from the sites' own gains, from Lagrangian bounds on
    the coverage ``k`` sites can reach (`siting.locate.certify.certify_sites`), or from HiGHS when the
    model is small enough.

    Attributes (after `solve`): ``solution``, ``greedy_solution``, ``objective`` (number of sites),
    ``bound`` (proven lower bound on the number of sites), ``gap``/``mip_gap`` (relative, on the
    number of sites), ``bound_source`` (``"gains"``, ``"lagrangian"`` or ``"highs"``), ``status``,
    ``solve_seconds``, ``chosen``, ``feasible``, ``message``.
    """

    def __init__(
        self,
        problem: SitingProblem,
        target: float | None = None,
        per_group_target: float | Mapping[str, float] | None = None,
        *,
        locked: Iterable[Any] = (),
        forbidden: Iterable[Any] = (),
        capacity: float | None = None,
    ) -> None:
        if target is None and per_group_target is None:
            raise ModelError("give a target share (district-wide) and/or per_group_target")
        super().__init__(problem, locked=locked, forbidden=forbidden, capacity=capacity)
        self.target, self.per_group_target = target, per_group_target
        self.spec = make_spec(problem, None, self.locked, self.forbidden, None, need_k=False)
        self.targets = targets(problem, target, per_group_target)

    def solve(
        self, time_limit: float = 60.0, mip_rel_gap: float = 0.0, options: Mapping[str, Any] | None = None
    ) -> MinimumSites:
        """Solve as `MaximalCoverage.solve` does."""
        t0 = time.perf_counter()
        prob, spec, tol = self.problem, self.spec, tolerance(self.problem)
        t_tot, t_grp = self.targets
        best = prob.covered_by(np.flatnonzero(spec.allowed))
        short = shortfalls(prob, best, t_tot, t_grp, tol)
        if t_tot is not None:  # lower unreachable targets to the reachable maximum
            t_tot = min(t_tot, float(prob.weights[best].sum()))
        if t_grp is not None:
            t_grp = np.minimum(t_grp, prob.group_sums(np.where(best, prob.weights, 0.0)))
        n_tot, n_grp = needs_of(prob, t_tot, t_grp)
        self.greedy_solution = _greedy_target(prob, spec, t_tot, t_grp, t0, self.capacity)
        if short:  # greedy aimed at the reachable maximum: it must not claim the (unreachable) target
            g = self.greedy_solution
            g.feasible = False
            g.message = describe(short, f"unreachable with these {int(spec.allowed.sum())} candidates", g.k, "best")
        chosen, status, gap, run_s = list(self.greedy_solution.chosen), "optimal", 0.0, 0.0
        rows_needed = (n_tot is not None and n_tot > tol) or (n_grp is not None and (n_grp > tol).any())
        lb = max(sites_lower_bound(prob, spec, n_tot, n_grp, tol), spec.locked.size)
        source = "gains"
        if rows_needed and lb < len(chosen):
            deadline = t0 + time_limit
            if n_tot is not None and n_tot > tol:
                lag_lb, raised = certify_sites(prob, spec, len(chosen), lb, n_tot - 2 * tol, deadline=deadline)
                lb, source = (lag_lb, "lagrangian") if raised else (lb, source)
            if lb < len(chosen):
                found, mip_lb, status, run_s = sites_mip(prob, spec, chosen, n_tot, n_grp, deadline=deadline,
                                                         mip_rel_gap=mip_rel_gap, options=options)
                if found is not None and len(found) <= len(chosen):
                    chosen = found
                lb, source = (mip_lb, "highs") if mip_lb > lb else (lb, source)
            gap = max(len(chosen) - lb, 0) / len(chosen) if chosen else 0.0
            status = "time_limit" if time.perf_counter() >= deadline and gap > mip_rel_gap else status
        status = final_status(gap, mip_rel_gap, status)
        order = order_sites(prob, chosen, spec.locked)
        sol = make_solution(prob, order, method="highs", status=status, seconds=0.0, gap=gap, capacity=self.capacity)
        sol.seconds, sol.feasible, sol.bound = time.perf_counter() - t0, not short, float(lb)
        sol.bound_source = source
        if short:
            verb = f"unreachable with these {int(spec.allowed.sum())} candidates"
            sol.message = describe(short, verb, sol.k, "best")
        else:
            sol.message = f"{sol.k} sites reach the target ({status}, gap {gap or 0:.3%})"
        return self.keep(sol, sol.k, run_s)

