"""Shared helpers for the benchmark scripts: a best-of-n timer and peak memory."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "shanghai"


def best_of(n: int, func: Callable[[], Any]) -> tuple[float, Any]:
    """Fastest wall time of ``n`` runs (these machines are noisy; the minimum is the stable figure)."""
    best, result = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t0)
    return best, result


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
