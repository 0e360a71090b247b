"""What the models share (spopt's ``locate/base.py`` role): the plain-instance constructor and the answer.

A model is built from a `SitingProblem` (or ``from_sparse``), and ``solve`` keeps its answer with
:meth:`LocateModel.keep`, which sets the same shortcuts on every model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self

from .problem import SitingProblem, SitingSolution

__all__ = ["LocateModel"]

#: Keyword arguments of ``from_sparse`` that describe the instance (the rest go to the model).
PROBLEM_KEYWORDS = ("covered0", "groups", "candidate_groups", "candidate_ids")


class LocateModel:
    """Base of the models: the instance, the fixed sites and, after ``solve``, the answer.

    Attributes (after ``solve``)
    ----------------------------
    solution, greedy_solution : SitingSolution
        The exact (or best proven) answer and the lazy-greedy one.
    objective, bound, gap, mip_gap, bound_source, status, solve_seconds, chosen, feasible, message
        Shortcuts to the answer (``objective`` and ``bound`` are in the model's own unit: covered
        residents, or a number of sites; ``mip_gap`` is ``gap``).
    """

    solution: SitingSolution
    greedy_solution: SitingSolution

    def __init__(self, problem: SitingProblem, *, locked: Iterable[Any] = (), forbidden: Iterable[Any] = (),
                 capacity: float | None = None) -> None:
        self.problem, self.capacity = problem, capacity
        self.locked, self.forbidden = list(locked), list(forbidden)

    @classmethod
    def from_sparse(cls, reach: Any, weights: Any, *args: Any, **kwargs: Any) -> Self:
        """Build the model from a sparse reach matrix and residents per point.

        Parameters
        ----------
        reach : scipy.sparse matrix, shape (n_candidates, n_points)
            ``reach[j, i]`` is 1 when candidate ``j`` reaches point ``i``.
        weights : array, shape (n_points,)
            Residents at each point.
        *args, **kwargs
            ``covered0``, ``groups``, ``candidate_groups`` and ``candidate_ids`` go to `SitingProblem`, the
            rest to the model (``k`` or ``target`` first, then its keywords: ``locked``, ``quotas``...).

        Returns
        -------
        LocateModel
            The model, not yet solved.
        """
        problem = SitingProblem(reach, weights, **{f: kwargs.pop(f) for f in PROBLEM_KEYWORDS if f in kwargs})
        return cls(problem, *args, **kwargs)

    from_reach = from_sparse  # the name used before siting.locate

    def keep(self, solution: SitingSolution, objective: float, solve_seconds: float) -> Self:
        """Keep ``solution`` and set the shortcuts to it; return the model (what ``solve`` returns)."""
        self.solution, self.objective, self.chosen = solution, objective, solution.chosen
        self.bound, self.bound_source = solution.bound, solution.bound_source
        self.gap = self.mip_gap = solution.gap
        self.status, self.solve_seconds = solution.status, solve_seconds
        self.feasible, self.message = solution.feasible, solution.message
        return self
