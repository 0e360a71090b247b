"""Candidate sites and site plans on a coverage result: the fourth stage (after ``siting.locate``).

``siting.plan`` owns the candidate sites (a grid, the planner's file, or OSM features: ``candidates``) and
the site plans (``sites``: :func:`plan_sites`, :class:`SitePlan`, per-街道 quotas) that put a
``siting.locate`` model to work on a :class:`~siting.engine.coverage.CoverageResult`. It may import
``siting.locate``, ``siting.engine``, ``siting.io`` and the top-level leaves; nothing above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .sites import SitePlan, plan_sites, problem_from_result, read_quotas

__all__ = ["SitePlan", "plan_sites", "problem_from_result", "read_quotas"]
# re-exported on first use: importing one module of this stage does not run the others
__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(__all__, "sites"))
