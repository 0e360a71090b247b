"""The siting instance (`SitingProblem`) and its answer (`SitingSolution`), shared by every model.

Pure numbers: a sparse candidates × points reach matrix and residents per point (no geodata).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import ModelError

__all__ = ["ALL", "SitingProblem", "SitingSolution", "make_solution"]

ALL = "(all)"


@dataclass
class SitingProblem:
    """One siting instance: who each candidate site reaches, residents per point, existing coverage.

    Parameters
    ----------
    reach : scipy.sparse matrix or array, shape (n_candidates, n_points)
        ``reach[j, i]`` is true when candidate ``j`` reaches point ``i`` within the threshold.
        Stored as CSR bool; never densified.
    weights : array of float, shape (n_points,)
        Residents at each point (≥ 0).
    covered0 : array of bool, shape (n_points,), optional
        Points already covered by existing facilities; they count as covered and add nothing when a
        new site reaches them.
    groups : array, shape (n_points,), optional
        街道 (subdistrict) of each point, for per-街道 tables and targets.
    candidate_groups : array, shape (n_candidates,), optional
        街道 of each candidate, for quotas.
    candidate_ids : array, shape (n_candidates,), optional
        Ids of the candidates (default ``0 … n_candidates-1``); ``locked`` / ``forbidden`` take ids.
    """

    reach: Any
    weights: Any
    covered0: Any = None
    groups: Any = None
    candidate_groups: Any = None
    candidate_ids: Any = None

    def __post_init__(self) -> None:
        """Check the shapes and values; store ``reach`` as sorted boolean CSR and the arrays as numpy."""
        reach = sp.csr_matrix(self.reach, dtype=bool)
        reach.eliminate_zeros()
        reach.sort_indices()
        self.reach = reach
        n_c, n_p = reach.shape
        w = np.asarray(self.weights, dtype=float)
        if w.shape != (n_p,):
            raise ModelError(f"weights has shape {w.shape}, expected ({n_p},) — one per column of reach")
        if not np.isfinite(w).all() or (w < 0).any():
            bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
            raise ModelError(f"weights must be finite and ≥ 0; bad at points {bad[:5].tolist()}")
        self.weights = w
        c0 = np.zeros(n_p, dtype=bool) if self.covered0 is None else np.asarray(self.covered0, dtype=bool)
        if c0.shape != (n_p,):
            raise ModelError(f"covered0 has shape {c0.shape}, expected ({n_p},)")
        self.covered0 = c0
        for name, n in (("groups", n_p), ("candidate_groups", n_c), ("candidate_ids", n_c)):
            val = getattr(self, name)
            if val is not None:
                arr = np.asarray(val, dtype=object)
                if arr.shape != (n,):
                    raise ModelError(f"{name} has shape {arr.shape}, expected ({n},)")
                if pd.isna(arr).any():
                    raise ModelError(f"{name} has missing values at {np.flatnonzero(pd.isna(arr))[:5].tolist()}")
                setattr(self, name, arr)
        if self.candidate_ids is None:
            self.candidate_ids = np.arange(n_c)
        elif len(set(self.candidate_ids.tolist())) != n_c:
            raise ModelError("candidate_ids are not unique")

    @property
    def n_candidates(self) -> int:
        """Number of candidate sites (rows of ``reach``)."""
        return int(self.reach.shape[0])

    @property
    def n_points(self) -> int:
        """Number of population points (columns of ``reach``)."""
        return int(self.reach.shape[1])

    @property
    def total(self) -> float:
        """All residents."""
        return float(self.weights.sum())

    @property
    def covered_before(self) -> float:
        """Residents covered by the existing facilities."""
        return float(self.weights[self.covered0].sum())

    @cached_property
    def open_weights(self) -> np.ndarray:
        """Residents per point that a new site could still add (0 where already covered)."""
        return np.where(self.covered0, 0.0, self.weights)

    @cached_property
    def gains(self) -> np.ndarray:
        """Residents newly covered by each candidate alone (see `marginal_gain`)."""
        return np.asarray(self.reach.astype(float) @ self.open_weights).ravel()

    @cached_property
    def group_codes(self) -> np.ndarray | None:
        """Integer code of each point's 街道 (index into `group_names`), or None without groups."""
        if self.groups is None:
            return None
        return np.searchsorted(np.array(self.group_names, dtype=object), self.groups.astype(str))

    @cached_property
    def group_names(self) -> list[str]:
        """Sorted 街道 names of the points (empty without groups)."""
        return [] if self.groups is None else sorted(set(self.groups.astype(str).tolist()))

    def group_sums(self, values: np.ndarray) -> np.ndarray:
        """Sum ``values`` (one per point) per 街道; one total when there are no groups."""
        if self.group_codes is None:
            return np.array([values.sum()])
        return np.bincount(self.group_codes, weights=values, minlength=len(self.group_names))

    def covered_by(self, chosen: Iterable[int]) -> np.ndarray:
        """Bool mask of points covered by the existing facilities plus candidate positions ``chosen``."""
        mask = self.covered0.copy()
        rows = np.asarray(list(chosen), dtype=np.int64)
        if rows.size:
            mask[self.reach[rows].indices] = True
        return mask


@dataclass(repr=False)
class SitingSolution:
    """A set of new sites and what it achieves.

    ``chosen`` are candidate positions in build order (locked first, then by marginal gain);
    ``assigned[s]`` are the residents newly covered by site ``chosen[s]`` and by no site before it in
    that order — each newly covered point is assigned to the first chosen site that reaches it — so
    ``assigned.sum() == added_residents``. ``overloaded`` flags sites with ``assigned > capacity``.
    ``gap`` is the proven relative optimality gap (0 when proven optimal, None for greedy):
    ``(bound - value) / value`` on residents *added* (maximal coverage) or on sites (minimum sites).
    ``bound`` is the proven bound itself (upper bound on covered residents, or lower bound on the number
    of sites) and ``bound_source`` what proved it: ``"highs"`` (HiGHS's dual bound, on the model reduced
    by `siting.locate.lagrange`), ``"lagrangian"`` (Lagrangian relaxation), ``"submodular"`` (the greedy
    bound of `coverage_bound`) or ``"gains"`` (sites' own gains, `sites_lower_bound`).
    """

    chosen: np.ndarray
    candidate_ids: np.ndarray
    objective: float
    coverage_rate: float
    added_residents: float
    gap: float | None
    method: str
    status: str
    seconds: float
    feasible: bool
    message: str
    per_group: pd.DataFrame
    assigned: np.ndarray
    overloaded: np.ndarray
    bound: float | None = None
    bound_source: str | None = None
    capacity: float | None = None
    candidate_groups: np.ndarray | None = field(default=None)

    @property
    def k(self) -> int:
        """Number of chosen sites."""
        return len(self.chosen)

    def table(self) -> pd.DataFrame:
        """One row per chosen site: order, candidate, candidate_id, group, assigned, overloaded."""
        return pd.DataFrame(
            {
                "order": np.arange(1, self.k + 1),
                "candidate": self.chosen,
                "candidate_id": self.candidate_ids,
                "group": self.candidate_groups if self.candidate_groups is not None else None,
                "assigned": self.assigned,
                "overloaded": self.overloaded,
            }
        )

    def __repr__(self) -> str:
        """Show the method, status, size, rate, residents added and gap on one line."""
        gap = "None" if self.gap is None else f"{self.gap:.3%}"
        return (
            f"SitingSolution(method={self.method!r}, status={self.status!r}, k={self.k}, "
            f"coverage_rate={self.coverage_rate:.4f}, added_residents={self.added_residents:.1f}, "
            f"gap={gap}, feasible={self.feasible}, seconds={self.seconds:.3f})"
        )

def make_solution(
    problem: SitingProblem,
    order: list[int],
    *,
    method: str,
    status: str,
    seconds: float,
    gap: float | None = None,
    bound: float | None = None,
    feasible: bool = True,
    message: str = "",
    capacity: float | None = None,
) -> SitingSolution:
    """Build the solution of ``problem`` for sites in build ``order``: residents each one adds, rates per 街道."""
    w, idx = problem.weights, problem.reach.indices
    covered = problem.covered0.copy()
    assigned = np.zeros(len(order))
    for s, j in enumerate(order):
        pts = idx[problem.reach.indptr[j] : problem.reach.indptr[j + 1]]
        new = pts[~covered[pts]]
        assigned[s] = w[new].sum()
        covered[new] = True
    pop = problem.group_sums(w)
    before = problem.group_sums(np.where(problem.covered0, w, 0.0))
    after = problem.group_sums(np.where(covered, w, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        per_group = pd.DataFrame(
            {
                "group": problem.group_names or [ALL],
                "population": pop,
                "covered_before": before,
                "covered_after": after,
                "rate_before": np.where(pop > 0, before / pop, np.nan),
                "rate_after": np.where(pop > 0, after / pop, np.nan),
            }
        )
    objective = float(w[covered].sum())
    chosen = np.asarray(order, dtype=np.int64)
    cg = problem.candidate_groups
    return SitingSolution(
        chosen=chosen,
        candidate_ids=problem.candidate_ids[chosen],
        objective=objective,
        coverage_rate=objective / problem.total if problem.total > 0 else float("nan"),
        added_residents=objective - problem.covered_before,
        gap=gap,
        method=method,
        status=status,
        seconds=seconds,
        feasible=feasible,
        message=message,
        per_group=per_group,
        assigned=assigned,
        overloaded=assigned > capacity if capacity is not None else np.zeros(len(order), dtype=bool),
        bound=bound,
        capacity=capacity,
        candidate_groups=cg[chosen] if cg is not None else None,
    )

