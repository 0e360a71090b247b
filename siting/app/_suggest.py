"""The optimiser run from the page: :meth:`siting.Workbench.suggest` in a worker thread, polled, cancellable.

Private to :mod:`siting.app.server`. One job at a time per app; while it runs the workbench is not edited
(the server answers edits with 409), so the plan is made on the state the page shows. Cancelling discards
the answer; the solver itself stops at its ``time_limit`` (at most :data:`MAX_TIME_LIMIT` seconds).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

import numpy as np

from ..errors import SitingError
from ..plan.sites import SitePlan
from ..workbench import Workbench
from ._layers import finite

__all__ = ["MAX_TIME_LIMIT", "SuggestJob", "options", "signature"]

log = logging.getLogger("siting.app")

#: Longest solver time a page may ask for (seconds): what a cancelled job can keep the workbench busy.
MAX_TIME_LIMIT = 30.0
#: Most sites a page may ask for at once.
MAX_K = 50


def signature(state: dict[str, Any]) -> tuple[Any, ...]:
    """Return what a plan depends on in a workbench state: the facilities (place, open) and the settings."""
    return (tuple((f["id"], f["lon"], f["lat"], f["open"]) for f in state["facilities"]),
            state["mode"], state["minutes"], state["speed_kmh"])


def options(body: dict[str, Any]) -> tuple[int | None, float | None, float]:
    """Return ``k``, ``target`` and ``time_limit`` of a ``POST /api/suggest`` body (exactly one of k, target)."""
    k, target, limit = body.get("k"), body.get("target"), body.get("time_limit", 10.0)
    if (k is None) == (target is None):
        raise SitingError("give either k (the number of sites) or target (a share between 0 and 1), not both")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K):
        raise SitingError(f"k must be a whole number of sites from 1 to {MAX_K}, got {k!r}")
    if target is not None and (isinstance(target, bool) or not isinstance(target, int | float)
                               or not 0 < target <= 1):
        raise SitingError(f"target must be a share above 0 and at most 1 (0.9 for 90 %), got {target!r}")
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not 0 < limit <= MAX_TIME_LIMIT:
        raise SitingError(f"time_limit must be above 0 and at most {MAX_TIME_LIMIT:g} seconds, got {limit!r}")
    return k, None if target is None else float(target), float(limit)


class SuggestJob:
    """One :meth:`~siting.Workbench.suggest` call running in a daemon thread.

    Parameters
    ----------
    wb : Workbench
        The workbench (its result computed already: the thread only reads).
    k, target, time_limit
        As :meth:`siting.Workbench.suggest` takes them.
    state : dict
        The workbench's state when the job started (:func:`signature` checks that accepting is on it).
    """

    def __init__(self, wb: Workbench, k: int | None, target: float | None, time_limit: float,
                 state: dict[str, Any]) -> None:
        self.wb, self.k, self.target, self.time_limit = wb, k, target, time_limit
        self.signature = signature(state)
        self.cancelled = False
        self.plan: SitePlan | None = None
        self.error: str | None = None
        self.seconds: float | None = None
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True, name="siting-suggest")
        self.thread.start()

    def _run(self) -> None:
        try:
            self.plan = self.wb.suggest(k=self.k, target=self.target, time_limit=self.time_limit)
        except SitingError as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug: logged in full on the console, named briefly on the page
            log.exception("siting app: suggest failed")
            self.error = f"internal error ({type(exc).__name__}); see the server's console"
        finally:
            self.seconds = time.monotonic() - self.t0

    @property
    def running(self) -> bool:
        """Whether the solver is still working (cancelled or not)."""
        return self.thread.is_alive()

    def status(self) -> dict[str, Any]:
        """Return the job as the page polls it: running, elapsed seconds, and the chosen sites once done.

        ``sites``: GeoJSON points with ``candidate_id``, ``label``, ``gain`` (residents newly covered by the
        site alone), ``order`` and ``subdistrict``; ``summary``: the rate before and after, the residents
        added and the solver's word (None while running, after a cancel or an error).
        """
        running = self.running
        elapsed = (time.monotonic() - self.t0) if self.seconds is None else self.seconds
        out: dict[str, Any] = {"running": running, "cancelled": self.cancelled, "elapsed": round(elapsed, 1),
                               "time_limit": self.time_limit, "k": self.k, "target": self.target,
                               "error": None if self.cancelled else self.error, "sites": None, "summary": None}
        if not running and not self.cancelled and self.plan is not None:
            out["sites"], out["summary"] = sites(self.plan), plan_summary(self.plan)
        return out


def sites(plan: SitePlan) -> dict[str, Any]:
    """Return a plan's chosen sites as GeoJSON points (WGS84) with their label and gain."""
    chosen = plan.chosen.to_crs("EPSG:4326")
    labels = chosen["label"] if "label" in chosen else chosen["candidate_id"]
    subs = chosen["subdistrict"] if "subdistrict" in chosen else [None] * len(chosen)
    feats = []
    for geom, cid, label, gain, order, sub in zip(chosen.geometry, chosen["candidate_id"], labels, chosen["gain"],
                                                  chosen["order"], subs, strict=True):
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(geom.x, 6),
                                                                                         round(geom.y, 6)]},
                      "properties": {"candidate_id": str(cid), "label": str(label), "gain": finite(gain, 1),
                                     "order": int(order), "subdistrict": None if _missing(sub) else str(sub)}})
    return {"type": "FeatureCollection", "features": feats}


def plan_summary(plan: SitePlan) -> dict[str, Any]:
    """Return the figures the page shows under the chosen sites."""
    s = plan.summary
    return {"sites": int(s["sites"]), "rate_before": finite(s["rate_before"]), "rate_after": finite(s["rate_after"]),
            "added": finite(float(s["covered_after"]) - float(s["covered_before"]), 1),
            "feasible": bool(s["feasible"]), "message": str(s["message"] or ""),
            "method": str(s["exact"]["method"]), "status": str(s["exact"]["status"])}


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float | np.floating) and math.isnan(x))
