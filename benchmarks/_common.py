"""Shared helpers of the benchmark cases: the result record, a best-of-n timer, peak memory, data paths."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: The real data (``../shared`` beside the checkout; ``SITING_SHARED_DATA`` points elsewhere).
#: A git worktree in ``<repo>/../wt/<name>`` finds the same folder one level up (as tests/conftest.py does).
SHARED = Path(os.environ.get("SITING_SHARED_DATA") or next(
    (p / "shared" / "data" / "shanghai" for p in REPO.parents[:2] if (p / "shared" / "data" / "shanghai").is_dir()),
    REPO.parent / "shared" / "data" / "shanghai"))
CENTRAL_OSM = SHARED / "osm" / "shanghai_center_overpass_roads.osm"
SIZES = ("ci", "full")


@dataclass
class Result:
    """One row of the table: our time and the peer's, measured side by side in one process.

    ``check`` says what was compared and ``ok`` whether it held (None: nothing to compare, e.g. the
    peer is not installed). ``rss_mb`` is the process's peak resident memory after our run (ours
    runs first, so the peer's memory is not counted).
    """

    case: str
    ours_s: float
    peer: str
    peer_s: float | None
    rss_mb: float
    check: str
    ok: bool | None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """peer time ÷ our time (> 1: we are faster)."""
        return self.peer_s / self.ours_s if self.peer_s and self.ours_s > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def best_of(n: int, func: Callable[[], Any]) -> tuple[float, Any]:
    """Fastest wall time of ``n`` runs (the machine is shared and noisy; the minimum is the stable figure)."""
    best, result = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t0)
    return best, result


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
