"""The workbench: what-if edits of a coverage run, answered in milliseconds.

``siting.workbench`` owns :class:`Workbench` (``core``: add / move / close / reopen facilities, change mode,
speed or threshold, undo / redo, the current :class:`~siting.engine.coverage.CoverageResult`), the
incremental nearest-facility forest it keeps (``_reach``) and its scenario files (``_scenario``: save the
state as a scenario that ``siting compare`` runs to the same figures). It may import every stage below it
(``scenarios``, ``outputs``, ``pipeline``, ``plan``, ``locate``, ``engine``, ``io``, the top-level leaves);
only ``app`` and ``cli`` sit above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .core import Workbench

__all__ = ["Workbench"]
# re-exported on first use: importing one module of this stage does not run the others
__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(__all__, "core"))
