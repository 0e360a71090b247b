"""Private: a planner's own road lines (GeoPackage, shapefile, GeoJSON, GeoParquet) → projected network segments.

Each LineString (or part of a MultiLineString) is split at every vertex, as OSM ways are split at every node;
lines connect where they share a vertex (exactly, or within ``tolerance_m``), so lines that cross without one
(a bridge over a street) do not connect, as in OSM. Optional columns: ``oneway`` (yes/true/1 along the line's
drawing direction, -1/reverse against it; cycling only: walking is two-way, as osmnx has it), ``walk`` / ``bike``
(false/no/0: not usable by that mode) and ``speed_kmh`` (the speed on that line: slower lines cost more time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .._validate import check_file
from ..errors import ColumnError, CRSError, InputFileError, NetworkError
from ._utm import utm_crs
from .coords import CRS_ALIASES, to_wgs84

__all__ = ["LINE_SUFFIXES", "LineSegments", "lines_to_segments", "read_lines"]

#: The files a line layer may be (GeoPackage, shapefile, GeoJSON, GeoParquet).
LINE_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".parquet", ".geoparquet", ".zip")
_TRUE = {"1", "yes", "y", "true", "t", "是"}
_FALSE = {"0", "no", "n", "false", "f", "否"}
_REVERSE = {"-1", "reverse"}


@dataclass
class LineSegments:
    """Projected nodes and segments of a line layer (the input of ``Network.from_projected``).

    ``factor`` multiplies each segment's length: the reference speed over the line's own ``speed_kmh``.
    """

    x: np.ndarray
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    oneway: np.ndarray
    factor: np.ndarray | None
    crs: str
    stats: dict[str, Any] = field(default_factory=dict)


def read_lines(path: str | Path, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a line layer as it is (its own CRS), naming the file when it cannot be read."""
    path = check_file(path, "network")
    try:  # GeoParquet through geopandas and pyarrow (GDAL's Parquet driver is often missing)
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            gdf = gpd.read_parquet(path)
        else:
            gdf = gpd.read_file(path, layer=layer) if layer is not None else gpd.read_file(path)
    except Exception as exc:  # pyogrio raises its own DataSourceError family; pyarrow its own
        raise InputFileError(f"{path}: cannot read the network as a line layer (GeoPackage, shapefile, GeoJSON, "
                             f"GeoParquet): {exc}") from exc
    gdf.attrs["source"] = str(path)
    return gdf


def lines_to_segments(
    gdf: gpd.GeoDataFrame, network_type: str, *, reference_kmh: float, crs: str | None = None,
    oneway: str | None = "oneway", walk: str | None = "walk", bike: str | None = "bike",
    speed: str | None = "speed_kmh", tolerance_m: float = 0.0, source: str = "lines",
) -> LineSegments:
    """Split the lines of ``gdf`` into projected segments for ``network_type`` ("walk" or "bike").

    The column parameters name optional columns; a default name that is absent is ignored, a name given
    and absent is an error. ``crs`` overrides (or supplies) the layer's CRS; ``gcj02`` / ``bd09`` convert
    Amap / Baidu coordinates to WGS84 first. The segments are projected to the local UTM zone.
    """
    what = f"{source}: " if source else ""
    gdf = _with_crs(gdf, crs, what)
    cols = _columns(gdf, {"oneway": (oneway, "oneway"), "walk": (walk, "walk"), "bike": (bike, "bike"),
                          "speed": (speed, "speed_kmh")}, what)
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    kind = shapely.get_type_id(geoms)
    wrong = ~missing & ~np.isin(kind, [1, 5])  # LineString, MultiLineString
    if wrong.any():
        rows = np.flatnonzero(wrong)[:5]
        types = sorted({shapely.get_type_id(g) for g in geoms[rows]})
        raise InputFileError(f"{what}feature(s) {', '.join(str(int(r) + 1) for r in rows)} are not lines "
                             f"(geometry type id(s) {types}): the network must be LineStrings or MultiLineStrings")
    usable = ~missing
    mode_col = cols["walk"] if network_type == "walk" else cols["bike"]
    if mode_col is not None:
        usable &= _flags(gdf[mode_col], mode_col, what, default=True)
    n_flagged = int((~missing).sum() - usable.sum())
    if not usable.any():
        raise NetworkError(f"{what}no line is usable by the {network_type} network ({int(missing.sum())} without "
                           f"geometry, {n_flagged} marked not usable in column {mode_col!r})")
    rows = np.flatnonzero(usable)
    direction = np.zeros(len(gdf), np.int8)
    if cols["oneway"] is not None and network_type != "walk":
        direction = _directions(gdf[cols["oneway"]], cols["oneway"], what)
    kmh = np.full(len(gdf), float(reference_kmh))
    if cols["speed"] is not None:
        kmh = _speeds(gdf[cols["speed"]], cols["speed"], what, float(reference_kmh))
    parts, line_of = shapely.get_parts(geoms[rows], return_index=True)
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    line_of = rows[line_of[part_of]]  # the feature of every vertex
    pcrs = utm_crs(gdf.iloc[rows])
    x, y = Transformer.from_crs(gdf.crs, pcrs, always_xy=True).transform(coords[:, 0], coords[:, 1])
    x, y = np.asarray(x, float), np.asarray(y, float)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        bad = line_of[~(np.isfinite(x) & np.isfinite(y))][:5]
        raise CRSError(f"{what}feature(s) {', '.join(str(int(r) + 1) for r in bad)} have coordinates outside "
                       f"{gdf.crs.name}")
    a = np.flatnonzero(part_of[1:] == part_of[:-1])  # consecutive vertices of the same part
    node = _merge(x, y, tolerance_m)
    feature = line_of[a]
    u = np.where(direction[feature] < 0, node[a + 1], node[a])
    v = np.where(direction[feature] < 0, node[a], node[a + 1])
    factor = float(reference_kmh) / kmh[feature] if cols["speed"] is not None else None
    stats = {"lines": len(gdf), "lines_used": int(usable.sum()), "lines_without_geometry": int(missing.sum()),
             "lines_not_usable": n_flagged, "segments_raw": int(len(u)),
             "columns": {k: c for k, c in cols.items() if c}}
    if cols["oneway"] is not None and network_type == "walk":
        stats["oneway_ignored"] = "walking is two-way on every street (as in osmnx)"
    return LineSegments(x, y, u, v, direction[feature] != 0, factor, pcrs.to_string(), stats)


def _with_crs(gdf: gpd.GeoDataFrame, crs: str | None, what: str) -> gpd.GeoDataFrame:
    """Return ``gdf`` with a usable CRS: ``crs`` when given (GCJ-02 / BD-09 converted to WGS84), else its own."""
    if crs is not None and CRS_ALIASES.get(str(crs).strip().lower()) in ("gcj02", "bd09"):
        coords = shapely.get_coordinates(gdf.geometry.array)
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], crs)
        geoms = shapely.set_coordinates(np.asarray(gdf.geometry.array, dtype=object).copy(),
                                        np.column_stack([lon, lat]))
        return gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name), geometry=geoms, crs="EPSG:4326")
    if crs is not None:
        named = "EPSG:4326" if CRS_ALIASES.get(str(crs).strip().lower()) == "wgs84" else crs
        try:
            return gdf.set_crs(CRS.from_user_input(named), allow_override=True)
        except Exception as exc:  # pyproj's CRSError
            raise CRSError(f"{what}unknown CRS {crs!r}: {exc}") from None
    if gdf.crs is None:
        x0, y0, x1, y1 = gdf.total_bounds
        if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
            raise CRSError(f"{what}the network declares no CRS and its coordinates (x {x0:.0f}…{x1:.0f}, y "
                           f"{y0:.0f}…{y1:.0f}) are not longitude/latitude degrees; add the CRS (a .prj file) or "
                           "give `crs`")
        return gdf.set_crs("EPSG:4326")
    return gdf


def _columns(gdf: gpd.GeoDataFrame, wanted: dict[str, tuple[str | None, str]], what: str) -> dict[str, str | None]:
    """Return the column of each optional role: the name given, or None when a default name is absent."""
    out: dict[str, str | None] = {}
    for role, (name, default) in wanted.items():
        if name is not None and name not in gdf.columns:
            if name != default:
                raise ColumnError(f"{what}column {name!r} (`{role}`) not found; found: "
                                  f"{', '.join(map(str, gdf.columns))}")
            name = None
        out[role] = name
    return out


def _text(values: pd.Series) -> pd.Series:
    """Return the values as lower-case text, missing values as None (1.0 → "1", True → "true")."""
    def one(v: Any) -> str | None:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return None
        if isinstance(v, bool | np.bool_):
            return "true" if v else "false"
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        return str(v).strip().lower()
    return values.map(one)


def _bad_values(text: pd.Series, ok: set[str], column: str, what: str, expected: str) -> None:
    bad = text.notna() & ~text.isin(ok)
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:5]
        raise ColumnError(f"{what}column {column!r}, row(s) {', '.join(str(int(r) + 1) for r in rows)}: "
                          f"{', '.join(repr(text.iloc[r]) for r in rows)} is not {expected}")


def _flags(values: pd.Series, column: str, what: str, *, default: bool) -> np.ndarray:
    """Return a yes/no column as booleans (empty: ``default``)."""
    text = _text(values)
    _bad_values(text, _TRUE | _FALSE, column, what, "yes/no (true/false, 1/0)")
    return np.where(text.isna(), default, text.isin(_TRUE)).astype(bool)


def _directions(values: pd.Series, column: str, what: str) -> np.ndarray:
    """Return the one-way column as 0 (two-way), 1 (along the line) or -1 (against it)."""
    text = _text(values)
    _bad_values(text, _TRUE | _FALSE | _REVERSE, column, what, "yes/no/-1 (one-way along, two-way, against)")
    return np.where(text.isin(_REVERSE), -1, np.where(text.isin(_TRUE), 1, 0)).astype(np.int8)


def _shown(value: Any) -> str:
    """Show a cell as the message names it: text quoted, numbers plain (0, not np.int64(0))."""
    return repr(value) if isinstance(value, str) else str(value)


def _speeds(values: pd.Series, column: str, what: str, default: float) -> np.ndarray:
    """Return the speed column in km/h (empty: ``default``); refuse values that are not positive numbers."""
    kmh = pd.to_numeric(values, errors="coerce").to_numpy(float)
    bad = (values.notna().to_numpy() & ~np.isfinite(kmh)) | (np.isfinite(kmh) & ~(kmh > 0))
    if bad.any():
        rows = np.flatnonzero(bad)[:5]
        raise ColumnError(f"{what}column {column!r}, row(s) {', '.join(str(int(r) + 1) for r in rows)}: "
                          f"{', '.join(_shown(values.iloc[r]) for r in rows)} is not a speed in km/h above 0")
    return np.where(np.isfinite(kmh), kmh, default)


def _merge(x: np.ndarray, y: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Return a node index per vertex: vertices at the same place (or within ``tolerance_m``) share one."""
    _, first, inverse = np.unique(np.column_stack([x, y]), axis=0, return_index=True, return_inverse=True)
    node = first[np.ravel(inverse)]
    if tolerance_m > 0:
        points = shapely.points(x, y)  # shapely's tree (scipy.spatial costs every run's start 0.05 s to import)
        a, b = shapely.STRtree(points).query(points, predicate="dwithin", distance=tolerance_m)
        graph = coo_matrix((np.ones(len(a)), (node[a], node[b])), shape=(len(x),) * 2)
        _, label = connected_components(graph, directed=False)
        lowest = np.full(len(x), len(x))
        np.minimum.at(lowest, label[node], node)
        node = lowest[label[node]]
    return node
