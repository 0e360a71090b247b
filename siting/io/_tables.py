"""Read a planner's table of points (CSV / Excel / JSON / GeoJSON / GeoPackage) into WGS84 GeoDataFrames."""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._validate import check_file
from ..errors import ColumnError, CRSError, DataWarning, InputFileError
from .coords import normalize_crs, to_wgs84

#: Coordinate column pairs tried in order (case-insensitive), each also with a ``_wgs84``/``_gcj02``/``_bd09``
#: suffix; the values are in the reader's declared ``crs``. 经度/纬度 are how Chinese offices head them.
COORD_COLUMNS = [
    ("lon", "lat"), ("lng", "lat"), ("longitude", "latitude"), ("经度", "纬度"), ("x", "y"),
]
TABULAR = {".csv", ".txt", ".tsv", ".xlsx", ".xls", ".json"}
VECTOR = {".geojson", ".gpkg", ".shp", ".fgb", ".parquet"}


EXCEL = {".xlsx", ".xls"}


def split_sheet(path: str | Path) -> tuple[Path, str | None]:
    """``book.xlsx#Sheet2`` → (``book.xlsx``, ``"Sheet2"``); any other path → (path, None)."""
    text = str(path)
    head, sep, sheet = text.rpartition("#")
    if sep and Path(head).suffix.lower() in EXCEL and not Path(text).exists():
        return Path(head), sheet
    return Path(text), None


def read_table(path: str | Path, *, what: str = "table", dtype: type | None = None,
               comment: str | None = None) -> pd.DataFrame:
    """Read any table input: the one reader of every table file.

    Reads CSV/TXT/TSV (UTF-8 or GB18030/GBK; commas, semicolons or tabs), Excel (``book.xlsx#sheet`` picks
    a sheet) or a JSON list of objects. InputFileError names the file. ``comment``: in text tables, the
    rest of a line after it is ignored (``"#"`` for commented files).
    """
    path, sheet = split_sheet(path)
    path = check_file(path, what)
    try:
        frame = _read_frame(path, sheet, comment)
    except _GeoJSON:
        raise InputFileError(f"{path}: a GeoJSON file, not a {what} table") from None
    return frame.astype(dtype).where(frame.notna(), None) if dtype is not None else frame


def _read_excel(path: Path, sheet: str | None) -> pd.DataFrame:
    """One sheet (the named one, else the first); warns when other sheets have the same coordinate columns."""
    # .xls (Excel 97–2003) through python-calamine: pandas' own reader for it (xlrd) is not a dependency
    sheets = pd.read_excel(path, sheet_name=None, engine="calamine" if path.suffix.lower() == ".xls" else "openpyxl")
    sheets = {name: _below_title(f, path, name) for name, f in sheets.items()}
    names = list(sheets)
    if sheet is not None and sheet not in sheets:
        raise InputFileError(f"{path}: no sheet {sheet!r}; the workbook has: {', '.join(names)}")
    chosen = sheet if sheet is not None else names[0]
    frame = sheets[chosen]

    def coords(f: pd.DataFrame) -> tuple[str, str] | None:
        lower = {str(c).lower() for c in f.columns}
        return next((pair for pair in COORD_COLUMNS if set(pair) <= lower), None)

    mine = coords(frame)
    alike = [n for n in names if n != chosen and mine is not None and coords(sheets[n]) == mine]
    if alike:
        warnings.warn(f"{path}: read sheet {chosen!r} only; sheet(s) {', '.join(map(repr, alike))} also have "
                      f"{'/'.join(mine or ())} columns (pick one with {path.name}#SHEET)",
                      stacklevel=4)
    return frame


def _below_title(frame: pd.DataFrame, path: Path, sheet: str) -> pd.DataFrame:
    """Return the table under a title row: most headers blank (``Unnamed: n``) → the header is the first full row.

    Offices often put a title (``徐汇区社区卫生服务中心一览表``) in the first row(s), above the real header; the
    sheet is then read from the first row that has as many filled cells as any row, with a warning naming it.
    """
    blank = sum(str(c).startswith("Unnamed:") for c in frame.columns)
    if len(frame.columns) < 2 or blank <= len(frame.columns) // 2 or frame.empty:
        return frame
    filled = frame.head(20).notna().sum(axis=1).to_numpy()
    row = int(np.argmax(filled >= filled.max()))
    header = [str(v).strip() if v == v and v is not None else f"column_{i + 1}"
              for i, v in enumerate(frame.iloc[row].tolist())]
    table = frame.iloc[row + 1:].reset_index(drop=True)
    table.columns = header
    warnings.warn(f"{path}: sheet {sheet!r} has a title above its header (row 1 reads "
                  f"{' '.join(str(c) for c in frame.columns if not str(c).startswith('Unnamed:'))!r}); the header "
                  f"was read from row {row + 2}: {', '.join(header)}. If that is wrong, delete the title rows",
                  DataWarning, stacklevel=5)
    return table.infer_objects()


def _read_frame(path: Path, sheet: str | None = None, comment: str | None = None) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in {".csv", ".txt", ".tsv"}:
            return _read_text_table(path, comment)
        if suffix in EXCEL:
            return _read_excel(path, sheet)
        with open(path, encoding="utf-8-sig") as fh:
            data = json.load(fh)
    except (UnicodeDecodeError, ValueError, OSError, ImportError, zipfile.BadZipFile, KeyError) as exc:
        raise InputFileError(f"{path}: cannot read as {suffix[1:]} table: {exc}") from exc
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        raise _GeoJSON()
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), None)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputFileError(f"{path}: expected a JSON list of objects (one per point) or GeoJSON")
    return pd.DataFrame.from_records(data)


def _read_text_table(path: Path, comment: str | None = None) -> pd.DataFrame:
    """Read a delimited text table as Chinese offices write them.

    The text is UTF-8 (with or without BOM) or GB18030/GBK (Excel's "CSV" on a Chinese Windows), separated
    by commas, semicolons or tabs (guessed from the header); text after ``comment`` on a line is ignored.
    """
    raw = path.read_bytes()
    try:
        text, encoding = raw.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError:
        text, encoding = raw.decode("gb18030"), "gb18030"  # raises UnicodeDecodeError if neither
    lines = [line for line in text.splitlines() if not (comment and line.startswith(comment))]
    header = lines[0] if lines else ""
    sep = max([",", ";", "\t"], key=header.count) if header else ","
    return pd.read_csv(path, encoding=encoding, sep=sep, comment=comment)


class _GeoJSON(Exception):
    """Internal signal: a .json file is GeoJSON, read it as a vector file."""


SUFFIXES = ("", "_wgs84", "_gcj02", "_bd09")
#: The parameter (of `siting.pipeline.load_inputs`, `siting.plan.candidates.build_candidates`) that sets each
#: reader's coordinate system, named in messages; the CLI shows its own flag instead.
CRS_PARAMS = {"facilities": "facility_crs", "population": "population_crs", "candidates": "candidate_crs"}


def find_coord_columns(frame: pd.DataFrame, path: Path | str, crs: str | None = None) -> tuple[str, str]:
    """Return the (lon, lat) column names of ``frame``; ColumnError naming what was found otherwise.

    Columns suffixed with the declared ``crs`` (``lon_bd09`` for bd09) are preferred, then plain ones.
    """
    lower = {str(c).strip().lower(): c for c in frame.columns}
    first = ("_" + normalize_crs(crs),) if crs is not None else ()
    for suffix in first + SUFFIXES:
        for lon, lat in COORD_COLUMNS:
            if lon + suffix in lower and lat + suffix in lower:
                return lower[lon + suffix], lower[lat + suffix]
    expected = ", ".join(f"{a}/{b}" for a, b in COORD_COLUMNS)
    raise ColumnError(
        f"{path}: no coordinate columns; expected one of {expected}; found: {', '.join(map(str, frame.columns))}"
    )


def _check_named_crs(lon_col: str, kind: str, path: Path, what: str) -> None:
    """Columns named for one system (``lon_bd09``) must not be read as another (silently ~1 km off)."""
    named = next((k for k in ("wgs84", "gcj02", "bd09") if str(lon_col).lower().endswith("_" + k)), None)
    if named is not None and named != kind:
        param = CRS_PARAMS.get(what, "crs")
        raise CRSError(f"{path}: coordinate column {lon_col!r} is named {named} but {param}={kind!r} was given; "
                       f"pass {param}={named!r} or choose other columns")


def _numeric(frame: pd.DataFrame, column: str, path: Path | str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        rows = [int(i) + 2 for i in np.flatnonzero(bad.to_numpy())[:5]]  # +2: header line, 1-based
        raise ColumnError(
            f"{path}: column {column!r} has {int(bad.sum())} empty or non-numeric value(s), "
            f"first at row(s) {rows} (counting the header as row 1)"
        )
    return values.to_numpy(dtype=float)


def check_lonlat(lon: np.ndarray, lat: np.ndarray, path: Path | str) -> None:
    """Raise CRSError when values cannot be longitude/latitude, or look swapped (China: lon > lat)."""
    if len(lon) == 0:
        return
    if (np.abs(lat) > 90).any() or (np.abs(lon) > 180).any():
        if (np.abs(lon) <= 90).all() and (np.abs(lat) <= 180).all():
            raise CRSError(f"{path}: latitude values exceed 90°: longitude and latitude look swapped")
        raise CRSError(
            f"{path}: coordinates are not degrees (max |x| {np.abs(lon).max():.0f}); "
            "projected coordinates are not supported in tables, give lon/lat"
        )
    in_china_swapped = (lon > 0.8) & (lon < 56) & (lat > 72) & (lat < 138)
    if in_china_swapped.mean() > 0.5:
        raise CRSError(
            f"{path}: {int(in_china_swapped.sum())} of {len(lon)} points have lon < lat inside China's "
            "range: the longitude and latitude columns look swapped"
        )


def usual_mode(path: Path) -> None:
    """Give a file or folder the modes the umask allows (tempfile makes them owner-only; outputs are shared)."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def read_points(path: str | Path, crs: str | None = "wgs84", *, what: str = "points",
                lon_col: str | None = None, lat_col: str | None = None) -> gpd.GeoDataFrame:
    """Read a table or vector file of points (or polygons) and return it in WGS84 (EPSG:4326).

    Tabular files (CSV, Excel, a JSON list of objects) take coordinates from ``lon``/``lat`` (also ``lng``,
    ``longitude``/``latitude``, ``经度``/``纬度``, ``x``/``y``, optionally suffixed ``_wgs84``/``_gcj02``/``_bd09``)
    given in ``crs`` (``wgs84``, ``gcj02`` or ``bd09``); every other column is kept. Vector files
    (GeoJSON, GeoPackage, Shapefile...) keep their geometry; a declared projected CRS is transformed,
    and ``crs`` gcj02/bd09 shifts their WGS84-labelled coordinates. The source row number is kept as
    ``source_row`` (1-based data row) so errors later can name it. ``lon_col``/``lat_col`` name the
    coordinate columns explicitly (both or neither) instead of the automatic detection.
    """
    path, sheet = split_sheet(path)
    path = check_file(path, what)
    kind = normalize_crs(crs)
    suffix = path.suffix.lower()
    frame: pd.DataFrame | None = None
    if suffix in TABULAR:
        try:
            frame = _read_frame(path, sheet)
        except _GeoJSON:
            frame = None
    elif suffix not in VECTOR:
        raise InputFileError(
            f"{path}: unsupported {what} file type {suffix!r}; use CSV, Excel, JSON, GeoJSON or GeoPackage"
        )
    if frame is not None:
        if frame.empty:
            raise InputFileError(f"{path}: the {what} table has no rows")
        if lon_col is None and lat_col is None:
            lon_col, lat_col = find_coord_columns(frame, path, kind)
            _check_named_crs(str(lon_col), kind, path, what)
        elif lon_col is None or lat_col is None or lon_col not in frame.columns or lat_col not in frame.columns:
            raise ColumnError(f"{path}: coordinate columns {lon_col!r}/{lat_col!r} not found; "
                              f"found: {', '.join(map(str, frame.columns))}")
        lon, lat = _numeric(frame, lon_col, path), _numeric(frame, lat_col, path)
        check_lonlat(lon, lat, path)
        lon, lat = to_wgs84(lon, lat, kind)
        out = gpd.GeoDataFrame(frame.copy(), geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    else:
        out = _read_vector(path, kind, what)
    out["source_row"] = np.arange(1, len(out) + 1)
    out.attrs["source"] = str(path)
    return out


def _read_vector(path: Path, kind: str, what: str) -> gpd.GeoDataFrame:
    try:  # GeoParquet through geopandas and pyarrow (GDAL's Parquet driver is often missing)
        gdf = gpd.read_parquet(path) if path.suffix.lower() == ".parquet" else gpd.read_file(path)
    except ValueError as exc:
        if "geo metadata" not in str(exc):
            raise InputFileError(f"{path}: cannot read {what} as a vector file: {exc}") from exc
        raise InputFileError(f"{path}: a Parquet file without geometry, not GeoParquet; write it with "
                             "GeoDataFrame.to_parquet, or as CSV with lon/lat columns") from exc
    except Exception as exc:  # pyogrio raises its own DataSourceError family
        raise InputFileError(f"{path}: cannot read {what} as a vector file: {exc}") from exc
    if gdf.empty:
        raise InputFileError(f"{path}: the {what} file has no features")
    if gdf.geometry.isna().any() or gdf.geometry.is_empty.any():
        rows = [int(i) + 1 for i in np.flatnonzero((gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy())[:5]]
        raise InputFileError(f"{path}: {what} feature(s) {rows} have no geometry")
    if gdf.crs is None:
        x0, y0, x1, y1 = gdf.total_bounds
        if min(x0, y0) < -180 or max(x1, y1) > 180 or min(y0, y1) < -90 or max(y0, y1) > 90:
            raise CRSError(
                f"{path}: the {what} file declares no CRS and its coordinates (x {x0:.0f}…{x1:.0f}, "
                f"y {y0:.0f}…{y1:.0f}) are not longitude/latitude degrees; add the CRS (e.g. a .prj file) "
                "or export it in WGS84"
            )
        gdf = gdf.set_crs("EPSG:4326")
    elif not gdf.crs.equals("EPSG:4326") and not gdf.crs.is_geographic:
        gdf = gdf.to_crs("EPSG:4326")
    elif gdf.crs.is_geographic and gdf.crs.to_epsg() not in (4326, 4490, None):
        raise CRSError(f"{path}: geographic CRS {gdf.crs.name} is not WGS84; reproject it first")
    else:
        gdf = gdf.to_crs("EPSG:4326")
    xy = gdf.geometry.representative_point().get_coordinates().to_numpy()
    check_lonlat(xy[:, 0], xy[:, 1], path)  # swapped lon/lat in GeoJSON/GPKG too (declared CRS or not)
    if kind != "wgs84":
        def shift(xy: np.ndarray) -> np.ndarray:
            x, y = to_wgs84(xy[:, 0], xy[:, 1], kind)
            return np.column_stack([x, y])

        gdf = gdf.set_geometry(shapely.transform(gdf.geometry.values, shift))
    return gdf
