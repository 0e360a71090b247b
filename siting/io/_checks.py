"""Checks of input geometry and rows that would otherwise change the answer silently (issue 10).

MultiPoint facilities, duplicate population rows, population polygons too large for one point,
invalid or overlapping 街道 polygons: each is said out loud (a warning naming rows, pairs, areas) or
handled in the way the warning states.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._validate import district_key
from ._areas import assign_areas
from ._utm import utm_crs

#: Prefix of the notes that hold warnings about data outside the analysed area (summary.json only; the
#: console says how many there are).
OUTSIDE_AREA = "outside the analysed area: "
#: Population polygons larger than this (km²) are poorly represented by one point.
BIG_POLYGON_KM2 = 0.25


def _rows(frame: pd.DataFrame, mask: np.ndarray, limit: int = 8) -> str:
    rows = frame["source_row"].to_numpy()[mask] if "source_row" in frame else np.flatnonzero(mask) + 1
    text = ", ".join(str(int(r)) for r in rows[:limit])
    return text + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _metric(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gdf.to_crs(utm_crs(gdf))


def explode_multipoints(gdf: gpd.GeoDataFrame, path: object, id_columns: Sequence[str],
                        name_columns: Sequence[str]) -> gpd.GeoDataFrame:
    """One row per part of each MultiPoint (a centre and its branch are two places, not their midpoint).

    The parts' ids get ``-1``, ``-2``... (an ``id`` column ``row:N-k`` is made when the file has none)
    and their names `` (1)``, `` (2)``...; warns with the rows.
    """
    multi = (gdf.geom_type == "MultiPoint").to_numpy()
    if not multi.any():
        return gdf
    counts = shapely.get_num_geometries(gdf.geometry.to_numpy()[multi])
    warnings.warn(f"{path}: {int(multi.sum())} MultiPoint feature(s) (row(s) {_rows(gdf, multi)}) split into "
                  f"{int(counts.sum())} facilities, one per part; their ids are suffixed -1, -2, ...",
                  stacklevel=3)
    out = gdf.copy()
    if not any(c in out.columns for c in id_columns):
        out["id"] = [f"row:{r}" for r in out["source_row"]]
    out["_multi"] = multi
    out = out.explode(index_parts=True)
    part = out.index.get_level_values(-1).to_numpy() + 1
    is_multi = out["_multi"].to_numpy(bool)
    for col in [c for c in (*id_columns, "id") if c in out.columns][:1]:
        out[col] = np.where(is_multi, out[col].astype(str) + "-" + part.astype(str), out[col])
    for col in [c for c in name_columns if c in out.columns][:1]:
        out[col] = np.where(is_multi, out[col].astype(str) + " (" + part.astype(str) + ")", out[col])
    return out.drop(columns="_multi").reset_index(drop=True)


class DuplicateRowsWarning(UserWarning):
    """The duplicate-row warning, carrying the repeated rows so a district run can count only its own.

    Attributes
    ----------
    path : object
        The population file.
    rows : GeoDataFrame
        The repeated rows (``source_row``, ``population`` when read, geometry in the file's reading).
    drop : bool
        Whether they were dropped (``dedupe``).
    """

    def __init__(self, path: object, rows: gpd.GeoDataFrame, drop: bool) -> None:
        super().__init__(duplicate_message(path, rows, drop))
        self.path, self.rows, self.drop = path, rows, drop

    def __reduce__(self) -> tuple[type, tuple[object, gpd.GeoDataFrame, bool]]:
        """Pickle as the arguments it was made of (the prepared-inputs cache keeps the warnings of a run)."""
        return type(self), (self.path, self.rows, self.drop)


def duplicate_message(path: object, rows: gpd.GeoDataFrame, drop: bool, where: str = "", more: str = "") -> str:
    """Say how many ``rows`` repeat an earlier row (``where``: e.g. " in 徐汇区"), which, and what was done.

    ``more`` is appended to the action (e.g. "; 40 more outside 徐汇区").
    """
    extra = ""
    if "population" in rows and drop is False:
        extra = f" ({np.nansum(rows['population'].to_numpy(float)):,.0f} residents counted twice)"
    action = "dropped (dedupe=True)" if drop else "counted again; give dedupe=True to drop them"
    every = np.ones(len(rows), dtype=bool)
    return (f"{path}: {len(rows)} row(s){where} repeat an earlier row exactly (row(s) {_rows(rows, every)})"
            f"{extra}: {action}{more}")


def duplicate_rows(gdf: gpd.GeoDataFrame, path: object, *, drop: bool = False) -> gpd.GeoDataFrame:
    """Warn about exact duplicate rows (same columns and position); with ``drop``, keep the first of each.

    The warning is a :class:`DuplicateRowsWarning` (see :func:`duplicates_in_district`).
    """
    # Only a row whose position repeats can repeat a row: the text key of every column is made for those alone
    # (points narrowed by x and y first, cheaper than their WKB: equal WKB means equal x and y).
    geoms = gdf.geometry.to_numpy()
    candidates = np.arange(len(gdf))
    if (shapely.get_type_id(geoms) == 0).all():
        xy = pd.DataFrame({"x": shapely.get_x(geoms), "y": shapely.get_y(geoms)})
        candidates = candidates[xy.duplicated(keep=False).to_numpy()]
    wkb = shapely.to_wkb(geoms[candidates])
    same_place = pd.Series(wkb).duplicated(keep=False).to_numpy()
    candidates, wkb = candidates[same_place], wkb[same_place]
    dup = np.zeros(len(gdf), dtype=bool)
    if len(candidates):
        alike = gdf.iloc[candidates]
        columns = [c for c in gdf.columns if c not in ("source_row", gdf.geometry.name)]
        key = pd.DataFrame({c: alike[c].astype(str) for c in columns}).assign(_wkb=wkb)
        dup[candidates] = key.duplicated(keep="first").to_numpy()
    if not dup.any():
        return gdf
    rows = gdf[dup].copy()
    warnings.warn(DuplicateRowsWarning(path, rows, drop), stacklevel=3)
    return gdf[~dup].copy() if drop else gdf


def district_keys(values: pd.Series) -> np.ndarray:
    """:func:`~siting._validate.district_key` of every value (an object array), worked out once per distinct name.

    A city-wide file repeats a few names on ~12,000 points. Only for text (and missing) values: others are
    keyed one by one (factorizing would take 1 and 1.0 for one name).
    """
    array = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(array, skipna=True) not in ("string", "empty"):
        return values.map(district_key).to_numpy(dtype=object)
    codes, names = pd.factorize(array)
    return np.array([district_key(n) for n in names] + [None], dtype=object)[codes]  # code -1 (missing): None


def in_district(points: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame,
                district: str) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Return ``points`` with their areas and which of them lie in ``district`` (the rule of every district run).

    The areas are joined by :func:`siting.io._areas.assign_areas` unless they already are. A point is in
    the district when the first polygon containing it (in ``boundaries`` order) is one of the
    district's; names are compared by :func:`siting._validate.district_key` (徐汇区 / 徐汇 / Xuhui).
    """
    if not points.attrs.get("areas_joined") or "district" not in points.columns:
        points = assign_areas(points, boundaries)
    wanted = district_key(district)
    keys = district_keys(points["district"])  # once per distinct name, not per point
    return points, (keys == wanted) if wanted is not None else np.zeros(len(keys), dtype=bool)


@contextmanager
def duplicates_in_district(district: str | None, boundaries: gpd.GeoDataFrame | None,
                           notes: list[str]) -> Iterator[None]:
    """Inside the block, the duplicate-row warning counts and lists only the rows inside ``district``.

    Inside is what the district run keeps (:func:`siting.io.demand.restrict_to_district`): the row's point
    (a polygon's representative point) lies first in one of the district's polygons
    (:func:`in_district`).

    The rows outside it (the rest of a city-wide file) become one note prefixed :data:`OUTSIDE_AREA`
    (for ``summary.json``), and the warning says how many there were; with none inside there is no
    warning. Other warnings pass unchanged. Without a ``district`` (or ``boundaries``) nothing changes.
    """
    if district is None or boundaries is None or "district" not in boundaries:
        yield
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        if not isinstance(w.message, DuplicateRowsWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            continue
        rows, drop = w.message.rows, w.message.drop
        # where the run reads each row (polygons: their representative point), placed as the run places it
        _, inside = in_district(gpd.GeoDataFrame(geometry=rows.geometry.representative_point()), boundaries, district)
        n_out = int((~inside).sum())
        if n_out:
            notes.append(OUTSIDE_AREA + duplicate_message(w.message.path, rows[~inside], drop, f" outside {district}"))
        if inside.any():
            more = f"; {n_out} more outside {district} (in the notes)" if n_out else ""
            warnings.warn(duplicate_message(w.message.path, rows[inside], drop, f" in {district}", more), stacklevel=3)


def big_polygons(gdf: gpd.GeoDataFrame, path: object, limit_km2: float = BIG_POLYGON_KM2) -> np.ndarray:
    """Warn about polygons larger than ``limit_km2`` (their residents would sit on one point); their mask."""
    polygonal = gdf.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if not polygonal.any():
        return polygonal
    area = np.zeros(len(gdf))
    area[polygonal] = _metric(gdf[polygonal]).area.to_numpy() / 1e6
    big = area > limit_km2
    if big.any():
        warnings.warn(
            f"{path}: {int(big.sum())} population polygon(s) exceed {limit_km2:g} km² (largest {area.max():.2f} km²; "
            f"row(s) {_rows(gdf, big)}): one point each misplaces their residents; "
            "spread_polygons=True spreads them over a grid inside each polygon", stacklevel=3)
    return big


def spread_over_grid(gdf: gpd.GeoDataFrame, mask: np.ndarray, spacing_m: float = 200.0) -> gpd.GeoDataFrame:
    """Replace each masked polygon by grid points ``spacing_m`` apart inside it.

    The points share the polygon's ``population`` equally (its representative point when the grid misses
    it); other rows become their representative point.
    """
    metric = _metric(gdf)
    rows = []
    for i, (geom, big) in enumerate(zip(metric.geometry, mask, strict=True)):
        points = [geom.representative_point()] if not big else []
        if big:
            x0, y0, x1, y1 = geom.bounds
            xs, ys = np.meshgrid(np.arange(x0 + spacing_m / 2, x1, spacing_m), np.arange(y0 + spacing_m / 2, y1,
                                                                                          spacing_m))
            grid = shapely.points(xs.ravel(), ys.ravel())
            points = list(grid[shapely.contains(geom, grid)]) or [geom.representative_point()]
        rows += [(i, p, len(points)) for p in points]
    index, geoms, parts = (np.array(v, dtype=object) for v in zip(*rows, strict=True))
    out = gdf.iloc[index.astype(int)].copy()
    out["population"] = out["population"].to_numpy(float) / parts.astype(float)
    out = out.set_geometry(gpd.GeoSeries(list(geoms), crs=metric.crs).to_crs(gdf.crs).to_numpy())
    return out.reset_index(drop=True)


def check_boundaries(gdf: gpd.GeoDataFrame, names: pd.Series, path: object) -> gpd.GeoSeries:
    """Return the polygons repaired, area kept, with a warning about each repair and each overlapping pair.

    A self-intersecting ring becomes its polygonal parts (nothing dropped); an overlap warning names the
    shared area.
    """
    geoms = gdf.geometry.to_numpy()
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        fixed = shapely.make_valid(geoms[invalid])
        # keep polygonal parts only (make_valid may add stray lines)
        fixed = np.array([shapely.union_all([p for p in shapely.get_parts(g)
                                             if p.geom_type in ("Polygon", "MultiPolygon")]) for g in fixed])
        geoms = geoms.copy()
        geoms[invalid] = fixed
        listed = ", ".join(str(n) for n in names.to_numpy()[invalid][:8])
        warnings.warn(f"{path}: {int(invalid.sum())} invalid (e.g. self-intersecting) polygon(s) repaired, "
                      f"keeping all their area: {listed}", stacklevel=3)
    series = gpd.GeoSeries(geoms, crs=gdf.crs)
    metric = series.to_crs(utm_crs(series)).to_numpy()
    left, right = shapely.STRtree(metric).query(metric)  # bounding boxes only (cheap) ...
    once = left < right  # ... then the predicate once per pair, never a polygon against itself
    left, right = left[once], right[once]
    overlap = shapely.overlaps(metric[left], metric[right])
    left, right = left[overlap], right[overlap]
    shared = shapely.area(shapely.intersection(metric[left], metric[right]))
    found = [(s, names.iloc[a], names.iloc[b]) for s, a, b in zip(shared, left, right, strict=True)
             if s > 1.0]  # m²: more than touching edges
    if found:
        found.sort(reverse=True)
        listed = "; ".join(f"{a} / {b} {s / 1e6:.3f} km²" for s, a, b in found[:6])
        warnings.warn(f"{path}: {len(found)} pair(s) of 街道 polygons overlap ({listed}); a point in an overlap "
                      "is counted once, in the first polygon of the file", stacklevel=3)
    return series
