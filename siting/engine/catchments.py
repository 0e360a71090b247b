"""Street areas reached within a walking time, by all facilities together or each on its own.

All facilities together give the service area; each on its own gives per-facility catchments, optionally
in 5 / 10 / 15-minute bands (the ArcGIS service-area habit).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

from . import routing
from ._reach import reached_area

if TYPE_CHECKING:  # annotations only: catchments read a result; coverage imports nothing of them
    from .coverage import CoverageResult

__all__ = ["BANDS", "facility_catchments"]

#: Default band limits (minutes) of :func:`facility_catchments`, capped at the run's threshold.
BANDS = (5.0, 10.0, 15.0)


def facility_catchments(result: CoverageResult, minutes: Iterable[float] | None = None, *, buffer_m: float = 50.0,
                        simplify_m: float = 5.0) -> gpd.GeoDataFrame:
    """Return each counted facility's own street area within each of ``minutes``.

    ``minutes`` defaults to :data:`BANDS` up to the run's threshold, and the threshold itself; walks are
    measured as coverage measures them (homes → facility).

    Returns
    -------
    GeoDataFrame (WGS84)
        One row per facility and band: ``facility_id``, ``name``, ``minutes`` (largest band first, so
        smaller bands draw on top); facilities off the street network have none.
    """
    settings, net = result.settings, result._network
    limit = float(settings.minutes)
    bands = sorted({float(m) for m in (minutes if minutes is not None else [b for b in BANDS if b <= limit])}
                   | ({limit} if minutes is None else set()), reverse=True)
    fac = result.facilities
    used = fac[fac["snapped"].astype(bool)] if "snapped" in fac.columns else fac
    xy = used.geometry.to_crs(net.crs).get_coordinates().to_numpy()
    snaps = routing.snap(net, xy[:, 0], xy[:, 1], settings.max_snap_m)
    jobs: list[tuple[str, str, float, np.ndarray]] = []
    names = used["name"].astype(str).to_numpy() if "name" in used.columns else used["facility_id"].astype(str)
    for i, (fid, name) in enumerate(zip(used["facility_id"].astype(str), names, strict=True)):
        one = snaps.subset(np.arange(len(used)) == i)
        if one.ok.any():
            dist, _ = routing.node_distances(net, one, limit=max(bands) * settings.metres_per_minute)
            jobs += [(fid, name, m, dist) for m in bands]

    def area(job: tuple[str, str, float, np.ndarray]) -> shapely.Geometry:
        return reached_area(net, job[3], job[2] * settings.metres_per_minute, buffer_m=buffer_m, simplify_m=simplify_m)

    areas = [area(job) for job in jobs]  # two threads saved under 5 % of a run (docs/performance.md)
    rows = [(fid, name, m, a) for (fid, name, m, _), a in zip(jobs, areas, strict=True) if not a.is_empty]
    frame = gpd.GeoDataFrame({"facility_id": [r[0] for r in rows], "name": [r[1] for r in rows],
                              "minutes": [r[2] for r in rows]}, geometry=[r[3] for r in rows], crs=net.crs)
    return frame.sort_values("minutes", ascending=False, kind="stable").reset_index(drop=True).to_crs("EPSG:4326")
