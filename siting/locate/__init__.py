"""Siting models on numbers alone: who each candidate reaches, residents per point, existing coverage.

Imports only numpy, scipy, pandas and highspy (plus the leaves `siting.errors` and `siting._validate`):
no geodata, no routing. Build a model from a sparse reach matrix and solve it, as in spopt::

    from siting.locate import MaximalCoverage
    model = MaximalCoverage.from_sparse(reach, weights, k=3, covered0=covered).solve()
    model.objective, model.chosen, model.bound, model.mip_gap, model.status

The bridge from a coverage result and candidate sites to a `SitingProblem` is
:func:`siting.plan.sites.problem_from_result`.
"""

from __future__ import annotations

from .models import MaximalCoverage, MinimumSites, greedy, marginal_gain, score_candidates
from .problem import SitingProblem, SitingSolution

__all__ = ["MaximalCoverage", "MinimumSites", "SitingProblem", "SitingSolution", "greedy", "marginal_gain",
           "score_candidates"]
