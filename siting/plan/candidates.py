"""Candidate sites for new stations, each with its 街道 and a reason when it cannot be used.

Candidates come from a planner's file, OSM community / elderly-care / public buildings, or points spread
along the street network.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.spatial import cKDTree

from .._validate import check_generated, check_site_options
from ..engine import routing
from ..engine._status import Status
from ..engine.network import Network
from ..errors import ColumnError, SitingError
from ..io._osm import read_osm_features
from ..io._tables import read_points
from ..io._utm import utm_crs
from ..io.demand import assign_areas
from ..io.facilities import NAME_COLUMNS, NOT_A_FACILITY, _ids, _points

if TYPE_CHECKING:  # candidates sit below coverage: they only read a result's tables and engine state
    from ..engine.coverage import CoverageResult

__all__ = [
    "CANDIDATE_COLUMNS", "EXCLUSION_REASONS", "build_candidates", "candidate_reach", "candidates_from_osm",
    "exclude_candidates", "generate_candidates", "label_candidates", "named_streets", "read_candidates",
]

#: Columns every candidate table has (plus the planner's own columns, kept as they are).
CANDIDATE_COLUMNS = ["candidate_id", "name", "kind", "source"]
#: Why a candidate cannot be used, in the order they are checked (the first that applies is given).
EXCLUSION_REASONS = ("outside_area", "unreachable", "too_close")
ID_COLUMNS = ("candidate_id", "id", "编号")

#: Names of places where a station could co-locate (Shanghai's 15-minute life-circle community services).
ELDERLY_NAME = re.compile(r"为老服务|养老院|养老服务|敬老院|日间照料|长者照护")
COMMUNITY_NAME = re.compile(r"邻里汇|社区服务中心|党群服务中心|社区事务受理")
SOCIAL_FOR_ELDERLY = frozenset({"senior", "elderly", "senior;disabled"})
ELDERLY_FACILITIES = frozenset({"nursing_home", "assisted_living", "day_care"})
COMMUNITY_AMENITIES = frozenset({"community_centre", "social_facility", "social_centre"})
PUBLIC_AMENITIES = frozenset({"townhall", "library"})
PUBLIC_BUILDINGS = frozenset({"public", "civic", "government"})


# ---------------------------------------------------------------------------------------------- sources
def read_candidates(path: str | Path, crs: str | None = "wgs84") -> gpd.GeoDataFrame:
    """Read a planner's candidate sites (CSV / Excel / JSON / GeoJSON / GeoPackage; wgs84, gcj02 or bd09).

    Returns
    -------
    GeoDataFrame (EPSG:4326, points; polygons become their centroid)
        The file's own columns plus ``candidate_id`` (from a ``candidate_id`` / ``id`` / ``编号`` column,
        else ``"row:N"`` with N the 1-based data row), ``name`` (from a name column, else None),
        ``kind`` (the file's ``kind`` column, else ``"planner"``) and ``source`` (``"file"``).
    """
    path = Path(path)
    frame = read_points(path, crs, what="candidates")
    out = frame.set_geometry(_points(frame.geometry))
    lower = {str(c).strip().lower(): c for c in out.columns}
    id_col = next((lower[c] for c in ID_COLUMNS if c in lower), None)
    rows = out["source_row"].to_numpy()
    if id_col is not None:
        ids = _ids(out[id_col], rows, path, str(id_col))
    else:
        ids = [f"row:{r}" for r in rows]
    name_col = next((lower[c] for c in NAME_COLUMNS if c in lower), None)
    out["candidate_id"] = ids
    out["name"] = out[name_col].astype(object).where(out[name_col].notna(), None) if name_col else None
    out["kind"] = out["kind"].astype(str) if "kind" in out.columns else "planner"
    out["source"] = "file"
    out.attrs["source"] = str(path)
    return out


def _osm_kind(tags: dict[str, str]) -> str | None:
    """``elderly_care`` / ``community`` / ``public`` for a feature where a station could go, else None."""
    if any(k in tags for k in NOT_A_FACILITY):
        return None  # streets, stops, boundaries named after a centre (为老服务中心路...)
    name = tags.get("name") or ""
    amenity = tags.get("amenity")
    if (tags.get("social_facility:for") in SOCIAL_FOR_ELDERLY or tags.get("social_facility") in ELDERLY_FACILITIES
            or ELDERLY_NAME.search(name)):
        return "elderly_care"
    if amenity in COMMUNITY_AMENITIES or COMMUNITY_NAME.search(name):
        return "community"
    if amenity in PUBLIC_AMENITIES or tags.get("building") in PUBLIC_BUILDINGS:
        return "public"
    return None


def candidates_from_osm(path: str | Path) -> gpd.GeoDataFrame:
    """Places in an OSM file where a station could go or co-locate (areas → centroid).

    ``kind`` is ``elderly_care`` (``social_facility:for=senior``, nursing homes, names with 为老服务中心,
    养老院, 敬老院, 日间照料, 长者照护之家), ``community`` (``amenity=community_centre|social_facility``,
    names with 邻里汇, 社区服务中心, 党群服务中心, 社区事务受理) or ``public`` (``amenity=townhall|library``,
    ``building=public|civic|government``), checked in that order. Streets, stops and boundaries named
    after such a place are left out.

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        ``candidate_id`` (``"osm:way/123"``), ``name``, ``kind``, ``source`` (``"osm"``), ``osm_type``,
        ``osm_id``, ``tags`` and Point geometry.
    """
    feats = read_osm_features(path, lambda tags: _osm_kind(tags) is not None, areas=True)
    out = gpd.GeoDataFrame({
        "candidate_id": [f"osm:{t}/{i}" for t, i in zip(feats["osm_type"], feats["osm_id"], strict=True)],
        "name": feats["name"].to_numpy(dtype=object),
        "kind": [_osm_kind(t) for t in feats["tags"]],
        "source": "osm",
        "osm_type": feats["osm_type"].to_numpy(dtype=object),
        "osm_id": feats["osm_id"].to_numpy(dtype=np.int64),
        "tags": feats["tags"].to_numpy(dtype=object),
    }, geometry=_points(feats.geometry).to_numpy(), crs="EPSG:4326")
    out.attrs.update(feats.attrs)
    return out


def _area_geometry(area: Any, crs: str) -> shapely.Geometry | None:
    """One (Multi)Polygon in ``crs`` from a GeoDataFrame / GeoSeries (any CRS), or None."""
    if area is None:
        return None
    geoms = area.geometry if isinstance(area, gpd.GeoDataFrame) else area
    if len(geoms) == 0:
        return None
    return shapely.union_all(geoms.to_crs(crs).buffer(0).to_numpy())


def _check_count(net: Network, spacing_m: float, region: shapely.Geometry | None,
                 segments: tuple[np.ndarray, ...]) -> int:
    """Refuse a grid with too many points before making any: area and streets of ``region`` (or the extent)."""
    where = net.extent() if region is None else shapely.intersection(region, net.extent())
    x0, y0, x1, y1 = segments
    inside = shapely.intersects_xy(where, x0, y0) | shapely.intersects_xy(where, x1, y1)
    street = float(np.sum(np.abs(x1 - x0)[inside] + np.abs(y1 - y0)[inside]))
    return check_generated(spacing_m, area_m2=float(where.area), street_m=street, segments=int(inside.sum()))


def check_grid(net: Network, spacing_m: float, *, area: gpd.GeoDataFrame | gpd.GeoSeries | None = None) -> int:
    """Refuse what :func:`generate_candidates` would refuse for these arguments, before making anything.

    Returns the estimated number of points (:func:`siting._validate.check_generated`); raises
    ModelError for a spacing that is not positive or too fine for the area and its streets.
    """
    check_site_options(spacing_m=spacing_m)
    return _check_count(net, spacing_m, _area_geometry(area, net.crs), net.segments_xy())


def generate_candidates(
    net: Network,
    spacing_m: float = 200.0,
    *,
    area: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    near: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    near_m: float = 1000.0,
) -> gpd.GeoDataFrame:
    """Points on the street network about every ``spacing_m`` metres.

    Nodes and points every ``spacing_m / 4`` along each segment are thinned with a square grid of
    ``spacing_m``: one point per cell, the one nearest the cell's centre (so points are spread and
    always on a street). ``area`` keeps only points inside those polygons (default: the network's
    extent); ``near`` keeps only points within ``near_m`` metres (straight line) of one of its points
    — with the uncovered residents and the walking threshold this drops no useful site, since a
    walk is never shorter than the straight line.

    Raises
    ------
    ModelError
        Before any point is made, when the grid would have more than
        :data:`siting._validate.MAX_GENERATED` points (:func:`siting._validate.check_generated`).

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        ``candidate_id`` (``"gen:1"`` …, west to east, south to north), ``name`` (None), ``kind`` and
        ``source`` (``"generated"``).
    """
    check_site_options(spacing_m=spacing_m)
    x0, y0, x1, y1 = net.segments_xy()
    region = _area_geometry(area, net.crs)
    _check_count(net, spacing_m, region, (x0, y0, x1, y1))
    step = spacing_m / 4.0
    seg_len = np.hypot(x1 - x0, y1 - y0)
    counts = np.floor(seg_len / step).astype(np.int64)
    seg = np.repeat(np.arange(len(seg_len)), counts)
    k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    frac = k * step / np.where(seg_len[seg] > 0, seg_len[seg], 1.0)
    inner = frac < 1.0
    seg, frac = seg[inner], frac[inner]
    x = np.concatenate([net.x, x0[seg] + frac * (x1[seg] - x0[seg])])
    y = np.concatenate([net.y, y0[seg] + frac * (y1[seg] - y0[seg])])
    keep = shapely.intersects_xy(region if region is not None else net.extent(), x, y)
    if near is not None:
        nxy = near.geometry.to_crs(net.crs).centroid.get_coordinates().to_numpy() if len(near) else np.empty((0, 2))
        if len(nxy):
            d, _ = cKDTree(nxy).query(np.column_stack([x, y]), distance_upper_bound=near_m)
            keep &= np.isfinite(d)
        else:
            keep[:] = False
    x, y = x[keep], y[keep]
    ix, iy = np.floor(x / spacing_m), np.floor(y / spacing_m)
    d_centre = np.hypot(x - (ix + 0.5) * spacing_m, y - (iy + 0.5) * spacing_m)
    order = np.lexsort((d_centre, iy, ix))
    first = np.ones(len(order), dtype=bool)
    first[1:] = (ix[order][1:] != ix[order][:-1]) | (iy[order][1:] != iy[order][:-1])
    pick = order[first]
    out = gpd.GeoDataFrame({
        "candidate_id": [f"gen:{i}" for i in range(1, len(pick) + 1)],
        "name": pd.Series([None] * len(pick), dtype=object),
        "kind": "generated",
        "source": "generated",
    }, geometry=gpd.points_from_xy(x[pick], y[pick], crs=net.crs)).to_crs("EPSG:4326")
    out.attrs.update(spacing_m=spacing_m)
    return out


# ---------------------------------------------------------------------------------------------- checks
def exclude_candidates(
    candidates: gpd.GeoDataFrame,
    net: Network,
    *,
    facilities: gpd.GeoDataFrame | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
    min_distance_m: float = 300.0,
    max_snap_m: float = 500.0,
) -> gpd.GeoDataFrame:
    """Add each candidate's 街道 and whether it can be used.

    Adds ``subdistrict`` / ``district`` (from ``boundaries`` via :func:`siting.io.demand.assign_areas`;
    the file's own labels are kept as ``subdistrict_input``), ``snap_m`` (straight line to the
    nearest usable street), ``nearest_facility`` / ``nearest_facility_m`` (existing counted facility,
    straight line) and ``excluded``: None for usable sites, else the first reason that applies —
    ``outside_area`` (outside the union of ``boundaries``, or of the network extent without them),
    ``unreachable`` (farther than ``max_snap_m`` from the network) or ``too_close`` (less than
    ``min_distance_m`` from an existing facility).

    Raises
    ------
    ColumnError
        When ``candidate_id`` values repeat (the message lists them).
    """
    cand = candidates.to_crs("EPSG:4326")
    dup = cand["candidate_id"].astype(str).duplicated(keep=False)
    if dup.any():
        repeated = sorted(set(cand.loc[dup, "candidate_id"].astype(str)))
        raise ColumnError(f"candidate ids are not unique: {', '.join(repeated[:10])}")
    if boundaries is not None and len(boundaries):
        cand = assign_areas(cand, boundaries)
    for col in ("subdistrict", "district"):
        if col not in cand.columns:
            cand[col] = None
    xy = cand.geometry.to_crs(net.crs).get_coordinates().to_numpy()
    region = _area_geometry(boundaries, net.crs) if boundaries is not None and len(boundaries) else net.extent()
    outside = ~shapely.intersects_xy(region, xy[:, 0], xy[:, 1])
    snap = routing.snap(net, xy[:, 0], xy[:, 1], max_snap_m)
    near_d = np.full(len(cand), np.inf)
    near_name = np.full(len(cand), None, dtype=object)
    if facilities is not None and len(facilities) and len(cand):
        fxy = facilities.geometry.to_crs(net.crs).get_coordinates().to_numpy()
        near_d, near_i = cKDTree(fxy).query(xy)
        label = "name" if "name" in facilities else "facility_id"
        near_name = facilities[label].astype(str).to_numpy(dtype=object)[near_i]
    too_close = near_d < float(min_distance_m)
    cand["snap_m"] = np.where(snap.ok, snap.off, np.nan)
    cand["nearest_facility"] = near_name
    cand["nearest_facility_m"] = np.where(np.isfinite(near_d), near_d, np.nan)
    reason = np.select([outside, ~snap.ok, too_close], list(EXCLUSION_REASONS), default="")
    cand["excluded"] = pd.Series(reason, index=cand.index, dtype=object).replace("", None)
    cand.attrs.update(candidates.attrs, min_distance_m=float(min_distance_m), max_snap_m=float(max_snap_m))
    return cand


def build_candidates(
    result: CoverageResult,
    *,
    path: str | Path | None = None,
    crs: str | None = "wgs84",
    osm: str | Path | None = None,
    generate: bool | None = None,
    spacing_m: float = 200.0,
    only_uncovered: bool = True,
    boundaries: gpd.GeoDataFrame | None = None,
    min_distance_m: float = 300.0,
    streets_from: str | Path | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites for a coverage result: any mix of a planner's file, OSM features and a generated grid.

    ``generate`` defaults to True when no ``path`` is given. Generated points lie inside ``boundaries``
    (else the network extent) and, with ``only_uncovered``, within the walking threshold (straight
    line) of an uncovered resident. Exclusions use the result's counted facilities and snapping limit
    (see :func:`exclude_candidates`). Rows keep their source's columns; ``candidate_id`` is unique.
    Every candidate gets a readable ``label`` (:func:`label_candidates`), naming its nearest street
    when ``streets_from`` (an OSM file; default ``osm``) is given.
    """
    frames: list[gpd.GeoDataFrame] = []
    if generate or (generate is None and path is None):  # first: a too fine grid is refused before files are read
        near = None
        if only_uncovered:
            pts = result.points
            open_pts = (pts["status"] == Status.OK) & ~pts["covered"].astype(bool) & (pts["population"].fillna(0) > 0)
            near = pts.loc[open_pts]
        frames.append(generate_candidates(result._network, spacing_m, area=boundaries, near=near,
                                          near_m=result.settings.limit_m))
    if osm is not None:
        frames.insert(0, candidates_from_osm(osm))
    if path is not None:
        frames.insert(0, read_candidates(path, crs))
    if not frames:
        raise SitingError("no candidate sites: give a candidates file, an OSM file, or generate them")
    merged = pd.concat([f for f in frames], ignore_index=True) if len(frames) > 1 else frames[0]
    merged = gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:4326")
    merged["candidate_id"] = merged["candidate_id"].astype(str)
    out = exclude_candidates(merged, result._network, facilities=result.facilities, boundaries=boundaries,
                             min_distance_m=min_distance_m, max_snap_m=result.settings.max_snap_m)
    source = streets_from if streets_from is not None else osm
    return label_candidates(out, named_streets(source) if source is not None else None)


def named_streets(path: str | Path) -> gpd.GeoDataFrame:
    """Read the named ``highway`` ways of an OSM file (``name``, line geometry, WGS84), to name places by."""
    ways = read_osm_features(path, lambda t: "highway" in t and bool(t.get("name")), areas=False)
    return ways[ways.geom_type.isin(["LineString", "MultiLineString"])][["name", "geometry"]]


def short_id(candidate_id: object) -> str:
    """``gen:37`` → ``G37``, ``osm:way/123`` → ``OSM way 123``, anything else as given."""
    text = str(candidate_id)
    if text.startswith("gen:"):
        return "G" + text[4:]
    if text.startswith("osm:"):
        return "OSM " + text[4:].replace("/", " ")
    return text


def label_candidates(cand: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None = None,
                     max_m: float = 300.0) -> gpd.GeoDataFrame:
    """Add ``label`` ("候选 G37 · 徐家汇街道 · 近 漕溪北路") and ``near_street``.

    The label holds the name or short id, the 街道, and the nearest named street within ``max_m`` metres
    when ``streets`` are given.
    """
    out = cand.copy()
    near = pd.Series([None] * len(out), index=out.index, dtype=object)
    if streets is not None and len(streets) and len(out):
        utm = utm_crs(out)
        lines = streets.to_crs(utm)
        tree = shapely.STRtree(lines.geometry.to_numpy())
        pts = out.geometry.to_crs(utm).to_numpy()
        (i_pt, i_line), _ = tree.query_nearest(pts, max_distance=max_m, return_distance=True, all_matches=False)
        near.iloc[i_pt] = lines["name"].to_numpy(dtype=object)[i_line]
    names = out["name"] if "name" in out else pd.Series(None, index=out.index, dtype=object)
    subs = out["subdistrict"] if "subdistrict" in out else pd.Series(None, index=out.index, dtype=object)
    labels = []
    for cid, name, sub, street in zip(out["candidate_id"], names, subs, near, strict=True):
        parts = [str(name) if isinstance(name, str) and name.strip() else f"候选 {short_id(cid)}"]
        if isinstance(sub, str) and sub and sub != "(none)":
            parts.append(sub)
        if street:
            parts.append(f"近 {street}")
        labels.append(" · ".join(parts))
    out["near_street"] = near.to_numpy()
    out["label"] = labels
    return out


# ---------------------------------------------------------------------------------------------- reach
def candidate_reach(
    result: CoverageResult, candidates: gpd.GeoDataFrame, *, points: Sequence[bool] | np.ndarray | None = None,
    progress: bool = False,
) -> sp.csr_matrix:
    """Sparse (candidates × points) walking distances (m) within the threshold, as coverage measures them.

    Candidates and ``result.points`` (only those where ``points`` is true, default all) are snapped
    like facilities and residents in :func:`siting.engine.coverage.coverage` (same network, CRS, snapping
    limit; residents outside the network extent are never reached), then
    :func:`siting.engine.routing.reach_matrix` runs chunked bounded searches: never dense.
    """
    net, settings = result._network, result.settings
    pts = result.points if points is None else result.points[np.asarray(points, dtype=bool)]
    cxy = candidates.geometry.to_crs(net.crs).get_coordinates().to_numpy()
    pxy = routing.centre_xy(pts.geometry, net.crs)
    csnap = routing.snap(net, cxy[:, 0], cxy[:, 1], settings.max_snap_m)
    psnap = routing.snap(net, pxy[:, 0], pxy[:, 1], settings.max_snap_m)
    psnap.seg[(pts["status"] == Status.OUTSIDE).to_numpy()] = -1
    return routing.reach_matrix(net, csnap, psnap, settings.limit_m, progress=progress)
