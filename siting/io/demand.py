"""Demand: population as weighted points, 街道/district boundaries, and census weighting."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .._validate import RANGES, district_key, subdistrict_key
from ..errors import AreaWarning, ColumnError, InputFileError, SitingError
from . import _checks
from ._areas import assign_areas
from ._buildings import population_from_buildings
from ._checks import in_district
from ._osm import read_osm_features
from ._tables import read_points, read_table

#: Population column names tried in order (case-insensitive).
POPULATION_COLUMNS = ("population", "pop", "人口", "常住人口", "residents")
#: 街道/镇 name columns tried in order (case-insensitive).
SUBDISTRICT_COLUMNS = (
    "osm_name", "official_control_name_2023", "name:zh", "name", "街道", "街道名称", "乡镇街道", "街镇",
    "subdistrict", "jiedao", "town",
)
#: District name columns tried in order (case-insensitive).
DISTRICT_COLUMNS = ("district", "district_zh", "区", "区县", "区名", "county")
#: Area-name columns of a control-totals table, tried in order (case-insensitive).
AREA_COLUMNS = ("area", "district_zh", "district", "区", "subdistrict", "街道", "name")
#: ``building=*`` values counted as homes (explicit residential types only; ``building=yes`` is not).
BOUNDARY_COLUMNS = ["subdistrict", "district", "geometry"]


def _find_column(frame: pd.DataFrame, candidates: tuple[str, ...], given: str | None, path: object,
                 what: str, required: bool = True) -> str | None:
    if given is not None:
        if given not in frame.columns:
            raise ColumnError(f"{path}: no {what} column {given!r}; found: {', '.join(map(str, frame.columns))}")
        return given
    lower = {str(c).strip().lower(): c for c in frame.columns if c != "geometry"}
    for name in candidates:
        if name.lower() in lower:
            return str(lower[name.lower()])
    if required:
        raise ColumnError(
            f"{path}: no {what} column; expected one of {', '.join(candidates)}; "
            f"found: {', '.join(map(str, frame.columns))}"
        )
    return None


def _check_counts(values: pd.Series, rows: pd.Series, path: object, column: str, row_label: str) -> np.ndarray:
    """Return ``values`` as floats; ColumnError naming the first empty, non-numeric, negative or too large rows.

    Too large: above the span of ``population`` in :data:`siting._validate.RANGES` (more residents than any city
    holds; such numbers overflowed the sums and the whole-number columns of the outputs).
    """
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    top = RANGES["population"].high
    bad = (numbers.isna() | ~np.isfinite(numbers) | (numbers < 0) | (numbers > top)).to_numpy()
    if bad.any():
        first = [int(r) for r in rows.to_numpy()[bad][:5]]
        shown = [str(v) for v in values.to_numpy()[bad][:5]]
        raise ColumnError(
            f"{path}: column {column!r} has {int(bad.sum())} empty, non-numeric, negative or too large (over "
            f"{top:,.0f}) value(s), first at {row_label} {first}: {shown}"
        )
    return numbers.to_numpy()


def read_population(path: str | Path, crs: str = "wgs84", *, population_column: str | None = None,
                    dedupe: bool = False, spread_polygons: bool = False) -> gpd.GeoDataFrame:
    """Read a planner's population file (points or polygons) as WGS84 points with a ``population``.

    Parameters
    ----------
    path
        CSV / Excel / JSON list of objects (``lon``/``lat`` columns...) or GeoJSON / GeoPackage /
        Shapefile, read by :func:`siting.io._tables.read_points`.
    crs
        Coordinate system of the file: ``wgs84``, ``gcj02`` (Amap) or ``bd09`` (Baidu).
    population_column
        Column holding residents; by default the first of :data:`POPULATION_COLUMNS` present.
    dedupe
        Drop rows that repeat an earlier row exactly (always warned about).
    spread_polygons
        Spread each polygon over 0.25 km² over grid points 200 m apart inside it (always warned about).

    Returns
    -------
    geopandas.GeoDataFrame
        ``population`` (float; NaN everywhere when the file has no population column), every planner
        column, ``source_row`` (1-based data row) and Point geometry in EPSG:4326. Polygons become
        their representative point (always inside the polygon, unlike the centroid). ``attrs``:
        ``weighted`` (True when residents were read) and ``unit`` (``"residents"`` or None until the
        points are weighted by :func:`weight_by_census` or counted by :func:`as_locations`).

    Raises
    ------
    ColumnError
        When the population column has empty, non-numeric or negative values (names file, column, rows).
    """
    gdf = _checks.duplicate_rows(read_points(path, crs, what="population"), path, drop=dedupe)
    big = _checks.big_polygons(gdf, path)
    column = _find_column(gdf, POPULATION_COLUMNS, population_column, path, "population", required=False)
    tabular = Path(path).suffix.lower() in {".csv", ".txt", ".tsv", ".xlsx", ".xls"}
    if column is None:
        gdf["population"] = np.nan
    else:
        rows = gdf["source_row"] + 1 if tabular else gdf["source_row"]
        label = "row(s) (counting the header as row 1)" if tabular else "record(s) (1-based)"
        gdf["population"] = _check_counts(gdf[column], rows, path, column, label)
    if spread_polygons and big.any():
        gdf = _checks.spread_over_grid(gdf, big)
    elif not gdf.geom_type.isin(["Point"]).all():
        gdf = gdf.set_geometry(gdf.geometry.representative_point())
    cols = ["population"] + [c for c in gdf.columns if c not in ("population", "geometry")] + ["geometry"]
    out = gpd.GeoDataFrame(gdf[cols], geometry="geometry", crs="EPSG:4326")
    out.attrs.update(source=str(path), weighted=column is not None, unit="residents" if column else None)
    return out


def read_boundaries(path: str | Path, *, name_column: str | None = None,
                    district_column: str | None = None) -> gpd.GeoDataFrame:
    """Read 街道/镇 polygons (GeoJSON / GeoPackage / Shapefile) as ``subdistrict``, ``district``, geometry.

    The name comes from ``name_column`` or the first of :data:`SUBDISTRICT_COLUMNS`; the district from
    ``district_column`` or the first of :data:`DISTRICT_COLUMNS` (None when there is none). Geometry is
    WGS84; invalid polygons are repaired keeping all their area, and repairs and overlapping pairs are warned
    about (see :func:`siting.io._checks.check_boundaries`).
    """
    gdf = read_points(path, "wgs84", what="boundaries")
    if not gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        bad = [int(r) for r in gdf.loc[~gdf.geom_type.isin(["Polygon", "MultiPolygon"]), "source_row"][:5]]
        raise InputFileError(f"{path}: boundary feature(s) {bad} are not polygons")
    name = _find_column(gdf, SUBDISTRICT_COLUMNS, name_column, path, "街道/subdistrict name")
    district = _find_column(gdf, DISTRICT_COLUMNS, district_column, path, "district", required=False)
    geometry = _checks.check_boundaries(gdf, gdf[name].astype(str), path)
    return gpd.GeoDataFrame({
        "subdistrict": gdf[name].astype(object).where(gdf[name].notna(), None),
        "district": gdf[district].astype(object).where(gdf[district].notna(), None) if district else None,
    }, geometry=geometry.values, crs="EPSG:4326")


def _empty_boundaries() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"subdistrict": pd.Series(dtype=object), "district": pd.Series(dtype=object)},
                            geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")


def boundaries_from_osm(path: str | Path) -> gpd.GeoDataFrame:
    """街道/镇 polygons (``boundary=administrative`` + ``admin_level=8``) from an .osm / .osm.pbf file.

    ``district`` is the name of the ``admin_level=6`` polygon containing each 街道's representative
    point (None when the file has none). Returns an empty frame with the same columns when the extract
    holds no level-8 boundaries (street-only extracts such as the central Shanghai file).
    """
    def keep(tags: dict[str, str]) -> bool:
        return tags.get("boundary") == "administrative" and tags.get("admin_level") in ("6", "8")

    feats = read_osm_features(path, keep, areas=True)
    if feats.empty:
        return _empty_boundaries()
    feats = feats[feats.geom_type.isin(["Polygon", "MultiPolygon"])]
    level = feats["tags"].map(lambda t: t.get("admin_level"))
    names = feats["tags"].map(lambda t: t.get("name:zh") or t.get("name"))
    subs, dists = feats[level == "8"], feats[level == "6"]
    if subs.empty:
        return _empty_boundaries()
    out = gpd.GeoDataFrame({"subdistrict": names[level == "8"].to_numpy(), "district": None},
                           geometry=subs.geometry.to_numpy(), crs="EPSG:4326")
    if not dists.empty:
        parents = gpd.GeoDataFrame({"parent": names[level == "6"].to_numpy()},
                                   geometry=dists.geometry.to_numpy(), crs="EPSG:4326")
        pts = gpd.GeoDataFrame(geometry=out.representative_point(), crs="EPSG:4326")
        hit = gpd.sjoin(pts, parents, predicate="within", how="left")
        hit = hit[~hit.index.duplicated(keep="first")]
        out["district"] = hit["parent"].astype(object).where(hit["parent"].notna(), None).to_numpy()
    return out.reset_index(drop=True)


def _key_function(level: str) -> Callable[[object], str | None]:
    return district_key if level == "district" else subdistrict_key


def read_census(path: str | Path, *, column: str = "pop_census_2020") -> pd.DataFrame:
    """Read a control-totals table (e.g. the Shanghai district census CSV) as ``area``, ``population``.

    Read like every table input (:func:`siting.io._tables.read_table`: UTF-8 or GBK, commas, semicolons or
    tabs, Excel sheets).

    ``area`` comes from the first of :data:`AREA_COLUMNS`, ``population`` from ``column`` (default the
    2020 census) or else :data:`POPULATION_COLUMNS`. Other columns are kept. Empty, non-numeric or
    negative totals raise ColumnError naming the file, column and rows.
    """
    return _totals_frame(read_table(path, what="census"), column, path)


def _totals_frame(frame: pd.DataFrame, column: str, source: object) -> pd.DataFrame:
    """Normalise a totals table to ``area``, ``population``; a table that has both is used as is."""
    if {"area", "population"} <= set(frame.columns):
        column = "population"
    area = _find_column(frame, AREA_COLUMNS, None, source, "area name")
    pop = column if column in frame.columns else _find_column(frame, POPULATION_COLUMNS, None, source,
                                                               f"population ({column!r} or)")
    assert area is not None and pop is not None
    rows = pd.Series(np.arange(len(frame)) + 2)
    values = _check_counts(frame[pop], rows, source, pop, "row(s) (counting the header as row 1)")
    out = frame.drop(columns=[c for c in ("area", "population") if c in frame.columns and c not in (area, pop)])
    out = out.assign(area=frame[area].astype(str).str.strip(), population=values)
    return out[["area", "population"] + [c for c in out.columns if c not in ("area", "population")]]


def _spread(points: gpd.GeoDataFrame, totals: pd.DataFrame, level: str, column: str,
            weight_column: str | None) -> gpd.GeoDataFrame:
    """Spread each area's total over its points, in proportion to ``weight_column`` (equal if None)."""
    if level not in points.columns:
        raise ColumnError(f"points have no {level!r} column: call assign_areas(points, boundaries) first")
    if weight_column is not None and weight_column not in points.columns:
        raise ColumnError(f"points have no weight column {weight_column!r}")
    table = _totals_frame(totals, column, "control totals")
    key = _key_function(level)
    table_keys = table["area"].map(key)
    if table_keys.duplicated().any():
        twice = sorted(set(table["area"][table_keys.duplicated()]))
        raise InputFileError(f"control totals list an area twice: {twice}")
    total_by_key = pd.Series(table["population"].to_numpy(), index=table_keys.to_numpy())
    point_keys = points[level].map(key)
    matched = point_keys.isin(total_by_key.index)
    if not matched.any():
        raise InputFileError(
            f"no {level} name of the points matches the control totals: points have "
            f"{sorted(points[level].dropna().unique())[:10]}, totals have {list(table['area'])[:10]}"
        )
    w = pd.Series(np.where(matched, 1.0, np.nan), index=points.index)
    if weight_column is not None:  # weights must be valid wherever a total is spread
        rows = points["source_row"] if "source_row" in points else pd.Series(np.arange(1, len(points) + 1))
        w[matched.to_numpy()] = _check_counts(points.loc[matched, weight_column], rows[matched.to_numpy()],
                                              "points", weight_column, "source_row(s)")
    share_sum = w.groupby(point_keys.to_numpy()).transform("sum")
    out = points.copy()
    out["population"] = (point_keys.map(total_by_key) * w / share_sum).astype(float)
    if (matched & (share_sum == 0)).any():
        zero = sorted(set(points.loc[matched & (share_sum == 0), level]))
        raise ColumnError(f"weights in {weight_column!r} sum to 0 in {level}(s) {zero}: cannot spread totals")
    report: dict[str, object] = {}
    empty = table[~table_keys.isin(point_keys)].sort_values("area")
    missing = list(empty["area"])
    if missing:
        report["areas_without_points"] = missing
        report["residents_without_points"] = float(empty["population"].sum())
        listed = ", ".join(f"{a} ({p:,.0f})" for a, p in zip(empty["area"], empty["population"], strict=True))
        warnings.warn(f"{len(missing)} area(s) of the control totals contain no point, so their "
                      f"{empty['population'].sum():,.0f} residents have nowhere to go and are left out (never "
                      f"moved to another area): {listed}", AreaWarning, stacklevel=3)
    unmatched = points.loc[point_keys.notna() & ~matched, level].value_counts()
    if len(unmatched):
        report["areas_without_total"] = unmatched.to_dict()
        listed = ", ".join(f"{k} ({v})" for k, v in unmatched.items())
        warnings.warn(f"{int(unmatched.sum())} point(s) lie in area(s) without a control total "
                      f"(population NaN): {listed}", AreaWarning, stacklevel=3)
    outside = int(point_keys.isna().sum())
    if outside:
        report["points_outside"] = outside
        warnings.warn(f"{outside} point(s) lie outside every {level} (population NaN)",
                      AreaWarning, stacklevel=3)
    out.attrs = {**points.attrs, **report, "weighted": True, "unit": "residents", "level": level}
    return out


def weight_by_census(points: gpd.GeoDataFrame, totals: pd.DataFrame, *, level: str = "district",
                     column: str = "pop_census_2020", weight_column: str | None = None) -> gpd.GeoDataFrame:
    """Give each point a share of its area's control total (census residents).

    By default the shares are equal: **each 小区 gets an equal share of its district's residents**
    (a 小区 with 3,000 flats counts as much as one with 30; no household counts are available).
    With ``weight_column`` the shares are proportional to that column instead.

    Parameters
    ----------
    points
        Points with a ``level`` column (``district`` or ``subdistrict``), e.g. from :func:`assign_areas`.
        Matching uses this spatially joined name, normalised by :func:`district_key` (徐汇区 = 徐汇,
        浦东新区 = 浦东, 闸北 → 静安), never a file's own labels.
    totals
        Table with ``area`` and ``population`` (:func:`read_census`), or a raw table whose ``column``
        holds the totals and whose area names sit in one of :data:`AREA_COLUMNS` (``column`` is
        ignored when the table already has ``area`` and ``population``).

    Returns
    -------
    geopandas.GeoDataFrame
        Copy of ``points`` with ``population`` set; NaN for points outside every area or in an area
        without a total. Warnings list table areas without points and point areas without totals (also
        in ``attrs``); ``attrs["unit"] == "residents"``. InputFileError when no name matches at all.
    """
    return _spread(points, totals, level, column, weight_column)


def rescale_to_totals(points: gpd.GeoDataFrame, totals: pd.DataFrame, *, level: str = "district",
                      column: str = "pop_census_2020") -> gpd.GeoDataFrame:
    """Scale the points' ``population`` so that each area sums to its control total (proportional shares)."""
    return weight_by_census(points, totals, level=level, column=column, weight_column="population")


def as_locations(points: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Count every point once (``population`` = 1, ``attrs["unit"] = "locations"``): no totals known."""
    out = points.copy()
    out["population"] = 1.0
    out.attrs = {**points.attrs, "weighted": False, "unit": "locations"}
    return out


def prepare_population(points: gpd.GeoDataFrame, totals: pd.DataFrame | None = None, *,
                       boundaries: gpd.GeoDataFrame | None = None, level: str = "district",
                       column: str = "pop_census_2020") -> gpd.GeoDataFrame:
    """Make demand weights from read residents, from ``totals``, or by counting locations.

    Read residents are kept (rescaled when ``totals`` are given), unweighted points are weighted by
    ``totals``, or, with no totals at all, locations are counted (see :func:`as_locations`).
    """
    if boundaries is not None:
        points = assign_areas(points, boundaries)
    weighted = bool(points.attrs.get("weighted")) and points["population"].notna().all()
    if totals is None:
        return points if weighted else as_locations(points)
    if weighted:
        return rescale_to_totals(points, totals, level=level, column=column)
    return weight_by_census(points, totals, level=level, column=column)


def restrict_to_district(points: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame,
                         district: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Keep the points and 街道 of one district (徐汇区 / 徐汇 / Xuhui); SitingError lists the choices.

    Points are matched on their spatially joined ``district`` (joined here when absent; the rule of
    :func:`siting.io._checks.in_district`, which the duplicate-row warning of a district run follows too).
    """
    keys = boundaries["district"].map(district_key)
    wanted = district_key(district)
    if wanted is None or not (keys == wanted).any():
        available = ", ".join(sorted(boundaries["district"].dropna().unique()))
        raise SitingError(f"unknown district {district!r}; the boundaries have: {available or 'none'}")
    points, inside = in_district(points, boundaries, district)
    kept = points[inside].copy()
    kept.attrs = dict(points.attrs)
    return kept, boundaries[keys == wanted].copy()


__all__ = [
    "as_locations", "assign_areas", "boundaries_from_osm", "district_key", "population_from_buildings",
    "prepare_population", "read_boundaries", "read_census", "read_population", "rescale_to_totals",
    "restrict_to_district", "subdistrict_key", "weight_by_census",
]
