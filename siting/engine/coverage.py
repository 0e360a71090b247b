"""15-minute coverage: nearest facility and walking time per resident; shares per 街道 and district.

`compute_coverage` runs four steps, each a function of its own: :func:`prepare` (counted facilities,
population with areas), :func:`route` (snap to the network, shortest walks), :func:`aggregate` (per
街道 / district) and :func:`summarise` (one `CoverageSummary`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import _display
from .._lazy import lazy_module
from .._validate import check_rate
from ..errors import NetworkError
from ..io.ages import for_mode
from ..io.facilities import DEFAULT_TYPES
from ..settings import MODES, Settings
from ._coverage import TARGET_GIVEN, CoverageSummary, Prepared, Routed, aggregate, prepare, route, summarise
from ._reach import reached_area
from ._status import NONE, Status
from .network import Network
from .targets import gap

if TYPE_CHECKING:
    from ..outputs import maps
else:  # folium only when a map is drawn
    maps = lazy_module("siting.outputs.maps")

__all__ = ["DEFAULT_TYPES", "NONE", "Status", "CoverageResult", "CoverageSummary", "Prepared", "Routed",
           "TARGET_GIVEN", "aggregate", "assemble", "check_mode", "compute_coverage", "prepare", "route", "summarise"]

#: Point statuses under their former names (``Status.OK`` etc. are the same values).
OK, TOO_FAR, OUTSIDE = Status.OK, Status.TOO_FAR, Status.OUTSIDE


@dataclass
class CoverageResult:
    """What :func:`compute_coverage` returns.

    Attributes
    ----------
    points : GeoDataFrame (WGS84)
        The population points (input index and columns kept) plus ``walk_min`` (minutes to the
        nearest counted facility; ``inf`` when unreachable or not on the network), ``facility_id``,
        ``covered`` (bool), ``status`` (a `Status` value), ``snap_m`` (off-network leg, m).
    facilities : GeoDataFrame (WGS84)
        The counted facilities with ``snapped`` (bool), ``snap_m`` and ``residents_within``.
    by_subdistrict, by_district : DataFrame
        ``population``, ``covered``, ``coverage_rate``, ``target``, ``gap_pp``, ``gap_residents``,
        plus ``outside_population`` (residents outside the network extent, excluded from the rate).
    summary : CoverageSummary
        Whole-area figures.
    settings : Settings
        How travel was measured.
    subdistricts : GeoDataFrame, optional
        The 街道 polygons with their figures (when boundaries were given).

    The network and the facilities' node distances are engine state, kept private (``_network``,
    ``_node_dist``) for the service area, uncovered places and candidate reach sets.
    """

    points: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    by_subdistrict: pd.DataFrame
    by_district: pd.DataFrame
    summary: CoverageSummary
    settings: Settings
    subdistricts: gpd.GeoDataFrame | None = None
    _network: Network = field(default=None, repr=False)  # type: ignore[assignment]
    _node_dist: np.ndarray = field(default=None, repr=False)  # type: ignore[arg-type]
    __repr__ = _display.coverage_repr  # one line; a notebook shows the headline and the 街道 table
    _repr_html_ = _display.coverage_html

    def against_target(self, target: float | None = None) -> dict[str, Any]:
        """Rate, target, gap in percentage points and residents for the whole area (target overridable)."""
        s = self.summary
        t = s.target if target is None else float(target)
        return {"population_total": s.population_total, "population_covered": s.population_covered,
                **gap(s.population_total, s.population_covered, t)}

    def uncovered_places(self, cell_m: float = 500.0) -> gpd.GeoDataFrame:
        """Where the uncovered residents live: ``cell_m`` square cells (projected metres) that hold any.

        A fixed grid rather than chained clusters: in dense Shanghai, chaining 小区 that lie a few
        hundred metres apart merges whole 街道 into one "place", which tells a planner nothing.
        Columns: ``residents``, ``points``, ``subdistrict`` (the most common), ``max_walk_min``, ``cell``
        (grid indices); geometry is the residents-weighted centre (WGS84). Largest first.
        """
        pts = self.points[(self.points["status"] != Status.OUTSIDE) & ~self.points["covered"]]
        cols = ["residents", "points", "subdistrict", "max_walk_min", "cell", "geometry"]
        if pts.empty:
            return gpd.GeoDataFrame(columns=cols, geometry="geometry", crs="EPSG:4326")
        xy = pts.geometry.to_crs(self._network.crs).get_coordinates().to_numpy()
        w = pts["population"].fillna(0).to_numpy(float)
        gx, gy = np.floor(xy[:, 0] / cell_m).astype(int), np.floor(xy[:, 1] / cell_m).astype(int)
        frame = pd.DataFrame({"gx": gx, "gy": gy, "w": w, "x": xy[:, 0] * w, "y": xy[:, 1] * w,
                              "x0": xy[:, 0], "y0": xy[:, 1], "sub": pts["subdistrict"].to_numpy(),
                              "walk": pts["walk_min"].to_numpy(float)})
        g = frame.groupby(["gx", "gy"])
        out = pd.DataFrame({
            "residents": g["w"].sum(), "points": g.size(),
            "subdistrict": g["sub"].agg(lambda s: s.mode().iloc[0] if s.notna().any() else None),
            "max_walk_min": g["walk"].max(),
        })
        out["cell"] = [f"{gx},{gy}" for gx, gy in out.index]
        heavy = out["residents"] > 0
        cx = np.where(heavy, g["x"].sum() / out["residents"].where(heavy, 1.0), g["x0"].mean())
        cy = np.where(heavy, g["y"].sum() / out["residents"].where(heavy, 1.0), g["y0"].mean())
        res = gpd.GeoDataFrame(out.reset_index(drop=True), geometry=gpd.points_from_xy(cx, cy, crs=self._network.crs))
        return res.to_crs("EPSG:4326").sort_values("residents", ascending=False).reset_index(drop=True)

    def service_area(self, buffer_m: float = 50.0, simplify_m: float = 5.0) -> gpd.GeoDataFrame:
        """Return the street-following area reached within the threshold, as one WGS84 polygon row.

        The reached (parts of) segments are buffered by ``buffer_m`` (the lots along the street) and
        dissolved.
        """
        net = self._network
        area = reached_area(net, self._node_dist, self.settings.limit_m, buffer_m=buffer_m, simplify_m=simplify_m)
        return gpd.GeoDataFrame(
            {"minutes": [self.settings.minutes], "mode": [self.settings.mode]}, geometry=[area], crs=net.crs
        ).to_crs("EPSG:4326")

    def explore(self, **kwargs: Any) -> Any:
        """Draw an interactive folium map of this result (see :func:`siting.outputs.maps.coverage_map`)."""
        return maps.coverage_map(
            self.points, self.facilities, subdistricts=self.subdistricts, summary=self.summary.to_dict(),
            service_area=self.service_area(), **kwargs,
        )


def check_mode(net: Network, settings: Settings) -> None:
    """Refuse settings whose mode needs another network than ``net`` was built for.

    ``walk`` and ``elderly`` (walking at 3 km/h) share the walking network; ``bike`` needs the
    cycling one (one-way streets, no footways). A network that does not record its type (built
    by hand from segments) is accepted as it is.

    Raises
    ------
    NetworkError
        Naming both modes and the network type each needs.
    """
    built_for = net.info.get("network_type")
    if built_for is not None and built_for != settings.network_type:
        fits = [m for m, spec in MODES.items() if spec["network"] == built_for]
        raise NetworkError(
            f"the network was built for {built_for!r} ({net.info.get('source', 'network')}) but the settings' "
            f"mode {settings.mode!r} needs a {settings.network_type!r} network; build the network with "
            f"mode={settings.mode!r}, or use a mode this network serves: {', '.join(fits)}"
        )


def compute_coverage(
    network: Network,
    facilities: gpd.GeoDataFrame,
    population: gpd.GeoDataFrame,
    settings: Settings | None = None,
    *,
    types: Iterable[str] | str | None = DEFAULT_TYPES,
    boundaries: gpd.GeoDataFrame | None = None,
    target: float | None = None,
) -> CoverageResult:
    """Compute the walking time from every population point to its nearest counted facility, and coverage.

    Parameters
    ----------
    network : Network
        The street network; it must serve the settings' mode (see :func:`check_mode`).
    facilities : GeoDataFrame
        Points with ``facility_id``, ``name``, ``type`` (only ``types`` count), any CRS.
    population : GeoDataFrame
        Points with ``population`` (NaN everywhere: each point counts once, "share of locations"),
        and ``subdistrict``/``district`` columns (added from ``boundaries`` when given). With mode ``elderly``
        a ``pop_60plus`` column is what counts (:func:`siting.io.ages.for_mode`; ``summary.population_weighting``).
    settings : Settings, optional
        Mode, speed, threshold, snapping limit: the only place they are given (default walking 15 min).
    types : iterable of str, str or None
        Facility types that count.
    boundaries : GeoDataFrame, optional
        街道 polygons, for the areas and the ``subdistricts`` layer.
    target : float, optional
        Overrides the district targets from ``data/targets.csv``.

    Returns
    -------
    CoverageResult
        Points, facilities, per-街道 / per-district tables and the summary.

    Notes
    -----
    Points outside the network's extent are reported (``status``, ``outside_population``) and left
    out of every rate; points inside it but farther than ``settings.max_snap_m`` from any usable way
    count as uncovered with status ``too_far_from_network``.
    """
    settings = settings or Settings()
    check_mode(network, settings)
    if target is not None:
        target = check_rate(target, "target")
    prepared = prepare(facilities, for_mode(population, settings.mode), types=types, boundaries=boundaries)
    routed = route(network, prepared, settings)
    return assemble(network, routed, settings, prepared.unit, boundaries=boundaries, target=target)


def assemble(network: Network, routed: Routed, settings: Settings, unit: str, *,
             boundaries: gpd.GeoDataFrame | None = None, target: float | None = None) -> CoverageResult:
    """Return the :class:`CoverageResult` of routed points and facilities: tables per 街道 / district, summary.

    The last step of :func:`compute_coverage`, shared with :class:`siting.Workbench`, which routes
    incrementally and must give the very same result.
    """
    pop = routed.points
    by_sub = aggregate(pop, ["district", "subdistrict"], target)
    by_dist = aggregate(pop, ["district"], target)
    summary = summarise(network, routed, settings, unit, target)
    subs = None
    if boundaries is not None:
        subs = boundaries.merge(by_sub.drop(columns=["district"]), on="subdistrict", how="inner")
        subs = gpd.GeoDataFrame(subs, geometry="geometry", crs=boundaries.crs).to_crs("EPSG:4326")
    return CoverageResult(pop, routed.facilities, by_sub, by_dist, summary, settings, subs, network, routed.node_dist)
