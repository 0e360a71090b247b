"""Labels shared by the coverage tables and the maps (a leaf; spelled once, used as `siting.engine.coverage.Status`)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["NONE", "Status"]


class Status(StrEnum):
    """Status of a population point (``points["status"]``); members compare equal to their text."""

    OK = "ok"  #: on the network: ``walk_min`` is its time to the nearest facility
    TOO_FAR = "too_far_from_network"  #: farther than ``max_snap_m`` from any usable way: uncovered
    OUTSIDE = "outside_network_area"  #: outside the network's extent: left out of every rate


#: The 街道 / district label of points outside every boundary.
NONE = "(none)"
