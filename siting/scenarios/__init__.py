"""Scenario files and their comparison: what-if runs against a baseline.

``siting.scenarios`` owns the scenario file (``_file``: reading and checking YAML; ``_values``: the
values of its keys), the networks a comparison needs per mode (``_networks``), the runs themselves
(``comparison``: :func:`compare`) and their results and outputs (``results``: :class:`Run`,
:class:`Comparison`, the comparison table, map and workbook). It may import everything below it
(``outputs``, ``pipeline``, ``plan``, ``locate``, ``engine``, ``io``, the top-level leaves); only ``cli`` sits
above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .comparison import BASELINE, Baseline, Comparison, Run, Scenario, compare, prepare, read_scenario_file

__all__ = ["BASELINE", "Baseline", "Comparison", "Run", "Scenario", "compare", "prepare", "read_scenario_file"]
# re-exported on first use: importing one module of this stage does not run the others
__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(__all__, "comparison"))
