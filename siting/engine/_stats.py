"""Population-weighted walking-time figures planners quote: mean, median, share within 5/10/15/20 min."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

#: Thresholds (minutes) of the "share of residents within" figures.
WITHIN_MINUTES = (5, 10, 15, 20)


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """Return the value below which half the weight lies (``inf`` when half is at ``inf``; NaN if no weight)."""
    keep = weights > 0
    values, weights = values[keep], weights[keep]
    if not len(values):
        return float("nan")
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, 0.5 * cum[-1])])


def walk_time_stats(walk_min: Iterable[float], weights: Iterable[float],
                    within: Iterable[float] = WITHIN_MINUTES) -> dict[str, Any]:
    """Walking-time figures of the residents in the rated area (``inf`` = no facility reachable).

    Parameters
    ----------
    walk_min : array-like
        Minutes to the nearest counted facility per point (``inf`` when unreachable or too far from the
        network); points outside the network extent must be left out by the caller.
    weights : array-like
        Residents per point (NaN counts as 0).
    within : iterable of float
        Thresholds of the ``share_within`` figures.

    Returns
    -------
    dict
        ``walk_min_mean`` (mean over the residents who can reach a facility; NaN if none can),
        ``walk_min_median`` (over all residents; ``None`` when half of them reach no facility),
        ``share_unreachable`` and ``share_within`` (``{"5": share, ...}``, shares of all residents).
    """
    t = np.asarray(list(walk_min) if not isinstance(walk_min, np.ndarray) else walk_min, dtype=float)
    w = np.nan_to_num(np.asarray(list(weights) if not isinstance(weights, np.ndarray) else weights, dtype=float))
    total = float(w.sum())
    finite = np.isfinite(t)
    reach = float(w[finite].sum())
    mean = float((t[finite] * w[finite]).sum() / reach) if reach > 0 else float("nan")
    median = weighted_median(np.where(np.isnan(t), np.inf, t), w)
    share = {f"{m:g}": (float(w[finite & (t <= m + 1e-9)].sum()) / total if total > 0 else float("nan"))
             for m in within}
    return {"walk_min_mean": mean, "walk_min_median": median if np.isfinite(median) or np.isnan(median) else None,
            "share_unreachable": (total - reach) / total if total > 0 else float("nan"), "share_within": share}


def sort_by_gap(table: pd.DataFrame) -> pd.DataFrame:
    """Sort 街道 rows by gap in residents, largest first, then those with no residents (by name).

    Without a target the rows go by uncovered residents; "no residents" means none inside the street
    extract.
    """
    empty = table["population"] <= 0
    behind = table["gap_residents"].fillna(table["population"] - table["covered"])
    key = pd.DataFrame({"empty": empty, "behind": -behind, "name": table["subdistrict"].astype(str)})
    return table.loc[key.sort_values(["empty", "behind", "name"]).index].reset_index(drop=True)
