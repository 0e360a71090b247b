"""What goes into ``report.xlsx`` (and the rounded CSVs): the sheets of a coverage run and of a site plan."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import _labels
from .excel import PERCENT_COLUMNS, Sheet

#: Sheet names (Chinese, English) of report.xlsx.
SHEET_NAMES = {"summary": "概要 Summary", "subdistricts": "街道 Subdistricts", "facilities": "设施 Facilities",
               "uncovered": "未覆盖 Uncovered places", "chosen": "选址 Chosen", "candidates": "候选 Candidates",
               "before_after": "前后 Before-after", "access": "可达 Access", "regions": "区域 Regions",
               "beyond_20": "20分钟外 Beyond 20 min"}
#: Per-facility columns of the access workbook (as in facilities.gpkg).
ACCESS_FACILITY_COLUMNS = ("facility_id", "name", "type", "subdistrict", "snapped", "snap_m", "gps", "floor_area_m2",
                           "capacity_source", "defaulted", "residents_within", "demand_reached",
                           "gps_per_10k_catchment")
_WHOLE = ("population", "covered", "gap_residents", "too_far_population", "outside_population", "residents_within",
          "residents", "gain", "assigned", "covered_before", "covered_after", "subdistrict_total",
          "beyond_20_population", "demand_reached", "stations_below_200m2")
_MINUTES = ("walk_min", "max_walk_min", "mean_walk_min", "median_min", "p90_min")
_METRES = ("snap_m", "nearest_facility_m")


def rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Round a table to CSV precision.

    Residents whole (nullable integers), shares 4 decimals, minutes 0.1, metres 0.1, percentage points
    0.01, coordinates 6 decimals (about 0.1 m).
    """
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype.kind not in "fi":
            continue
        if col in _WHOLE:
            values = out[col].astype(float)
            finite = np.isfinite(values)
            out[col] = values.where(finite).round(0).astype("Int64")
        elif col in PERCENT_COLUMNS:
            out[col] = out[col].round(4)
        elif col in _MINUTES or col in _METRES:
            out[col] = out[col].round(1)
        elif col == "gap_pp" or col.endswith("_per_10k"):
            out[col] = out[col].round(2 if col == "gap_pp" else 3)
        elif col == "gps_needed":
            out[col] = out[col].round(1)
        elif col in ("lon", "lat"):
            out[col] = out[col].round(6)
    return out


def with_analysed_share(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``analysed_share`` per 街道: residents analysed ÷ the 街道's total (analysed + outside the extract).

    NaN for a 街道 without residents at all; below :data:`siting._labels.PARTIAL_BELOW` a 街道 is drawn
    as partly analysed. A frame without ``population`` / ``outside_population`` is returned as it is.
    """
    if not {"population", "outside_population"} <= set(frame.columns):
        return frame
    out = frame.copy()
    share = pd.Series(_labels.analysed_shares(frame.drop(columns="analysed_share", errors="ignore")),
                      index=frame.index).round(4)
    if "analysed_share" in out.columns:
        out["analysed_share"] = share
    else:
        out.insert(list(out.columns).index("outside_population") + 1, "analysed_share", share)
    return out


def table(gdf: gpd.GeoDataFrame, drop: tuple[str, ...] = ()) -> pd.DataFrame:
    """Return a GeoDataFrame of points as a plain table with ``lon``/``lat`` (rounded as in the CSVs)."""
    frame = pd.DataFrame(gdf.drop(columns=[gdf.geometry.name, *[c for c in drop if c in gdf.columns]]))
    pts = gdf.geometry.representative_point() if not gdf.geom_type.eq("Point").all() else gdf.geometry
    return rounded(frame.assign(lon=pts.x.to_numpy(), lat=pts.y.to_numpy()))


def _rows(summary: dict[str, Any]) -> list[tuple[str, Any, str, str | None]]:
    """(item, value, unit, number format) of the summary sheet."""
    unit = "居民 residents" if summary.get("unit") == "residents" else "地点 locations"
    used, unusable = int(summary.get("n_facilities") or 0), int(summary.get("n_facilities_unusable") or 0)
    mode = summary.get("mode")
    rows: list[tuple[str, Any, str, str | None]] = [
        ("区域 Area", _labels.area_name(summary), "", None),
        ("日期 Date of the run", _labels.run_date(summary), "", None),
        ("方式 Mode", f"{_labels.MODE_ZH.get(str(mode), mode)} {mode}, {summary.get('speed_kmh'):g} km/h", "", None),
        ("时间门槛 Threshold", summary.get("minutes"), "min", "0"),
        ("覆盖率 Coverage rate", summary.get("coverage_rate"), "", "0.0%"),
        ("目标 Target", summary.get("target"), summary.get("target_source") or "", "0.0%"),
        ("缺口 Gap (percentage points)", summary.get("gap_pp"), "pp", "0.0"),
        ("缺口人口 Gap", summary.get("gap_residents"), unit, "#,##0"),
        ("路网范围内 In the street extract", summary.get("population_total"), unit, "#,##0"),
        ("已覆盖 Covered", summary.get("population_covered"), unit, "#,##0"),
        ("路网范围外（不计入）Outside the extract, not in the rate", summary.get("population_outside_network"), unit,
         "#,##0"),
        ("平均步行时间 Mean walking time (those who reach one)", summary.get("walk_min_mean"), "min", "0.0"),
        ("中位步行时间 Median walking time", summary.get("walk_min_median"), "min", "0.0"),
    ]
    within = summary.get("share_within") or {}
    rows += [(f"{k} 分钟内 Share within {k} min", v, "", "0.0%") for k, v in within.items()]
    rows.append(("计入设施 Facilities counted", f"{used} / {used + unusable}", "", None))
    if summary.get("sites") is not None:
        rows += [("新站点 New sites", summary.get("sites"), "", "0"),
                 ("原覆盖率 Rate before", summary.get("rate_before"), "", "0.0%"),
                 ("新覆盖率 Rate after", summary.get("rate_after"), "", "0.0%"),
                 ("新增覆盖 Residents added",
                  (summary.get("covered_after") or 0) - (summary.get("covered_before") or 0), unit, "#,##0"),
                 ("求解 Solver", f"{summary['exact']['status']}, gap {summary['exact']['mip_gap']}"
                  if isinstance(summary.get("exact"), dict) else "", "", None)]
    return rows


def summary_sheet(summary: dict[str, Any], subdistricts: pd.DataFrame | None) -> Sheet:
    """Item / value / unit rows, then the partial-coverage line, the data sources and the limits."""
    rows = _rows(summary)
    frame = pd.DataFrame({"item": [r[0] for r in rows], "value": [r[1] for r in rows],
                          "unit": [r[2] for r in rows]})
    notes = []
    extent = _labels.extent_note(summary, subdistricts)
    if extent:
        notes.append(f"范围 Coverage of the analysis: {extent}")
    notes += ["数据来源 Data sources:"] + [f"  {line}" for line in _labels.source_lines(summary)]
    limits = list(summary.get("notes") or [])
    if summary.get("network_warning"):
        limits.append(str(summary["network_warning"]))
    if limits:
        notes += ["局限 Limits:"] + [f"  {line}" for line in limits]
    return Sheet(frame, formats={"value": [r[3] for r in rows]}, notes=notes)


def coverage_sheets(summary: dict[str, Any], subdistricts: pd.DataFrame, facilities: gpd.GeoDataFrame,
                    uncovered: pd.DataFrame) -> dict[str, Sheet | pd.DataFrame]:
    """概要, 街道, 设施, 未覆盖 (tables as in the CSVs)."""
    fac_cols = [c for c in ("facility_id", "name", "type", "source", "snapped", "snap_m", "residents_within")
                if c in facilities.columns]
    return {SHEET_NAMES["summary"]: summary_sheet(summary, subdistricts),
            SHEET_NAMES["subdistricts"]: subdistricts,
            SHEET_NAMES["facilities"]: table(facilities[[*fac_cols, facilities.geometry.name]]),
            SHEET_NAMES["uncovered"]: uncovered}


def _access_rows(summary: dict[str, Any]) -> list[tuple[str, Any, str, str | None]]:
    """(item, value, unit, number format) of the access summary sheet."""
    gps = summary.get("capacity_column") == "gps"
    supply = ("每万人全科医生可达指数 GP access index per 10,000 residents", summary.get("gps_per_10k"), "index",
              "0.00") if gps else \
        ("每万人面积可达指数 Floor-area access index per 10,000 residents", summary.get("supply_per_10k"), "m²",
         "#,##0.0")
    head = summary.get("headline")
    return [
        *([("结论 Headline", f"{head[0]} · {head[1]}", "", None)] if head else []),
        ("方法 Method", f"{summary.get('method')} ({summary.get('decay')})", "", None),
        ("方式 Mode", f"{summary.get('mode')}, {summary.get('speed_kmh'):g} km/h", "", None),
        ("服务范围 Catchment", summary.get("catchment_min"), "min", "0"),
        ("人口 Residents", summary.get("population"), "居民 residents", "#,##0"),
        ("覆盖率 Coverage rate", summary.get("coverage_rate"), "", "0.0%"),
        supply,
        ("标准 Standard", summary.get("gp_target_per_10k"), "GPs per 10,000", "0.0"),
        ("缺少全科医生 GPs needed", summary.get("gps_needed"), "GPs", "#,##0.0"),
        ("中位时间 Median travel time", summary.get("median_min"), "min", "0.0"),
        ("90% 时间 90th percentile travel time", summary.get("p90_min"), "min", "0.0"),
        *[(f"{k} 分钟内 Share within {k} min", summary.get(f"within_{k}_min"), "", "0.0%") for k in (5, 10, 15, 20)],
        ("20分钟外 Residents beyond 20 min", summary.get("beyond_20_population"), "居民 residents", "#,##0"),
        ("默认容量设施 Facilities with default capacity", summary.get("facilities_with_default_capacity"), "", "0"),
    ]


def access_sheets(summary: dict[str, Any], by_subdistrict: pd.DataFrame, regions: pd.DataFrame | None,
                  facilities: gpd.GeoDataFrame, beyond_20: pd.DataFrame) -> dict[str, Sheet | pd.DataFrame]:
    """概要, 可达 (per 街道, as access.csv), 区域 (as regions.csv), 设施 (per facility), 20分钟外.

    The tables are the frames the CSVs are written from, so a sheet read back equals its CSV; the
    facilities sheet has the capacity and catchment columns of ``facilities.gpkg`` plus ``lon``/``lat``.
    """
    rows = _access_rows(summary)
    frame = pd.DataFrame({"item": [r[0] for r in rows], "value": [r[1] for r in rows], "unit": [r[2] for r in rows]})
    notes = ["局限 Limits:"] + [f"  {line}" for line in summary.get("notes") or []] if summary.get("notes") else []
    fac_cols = [c for c in ACCESS_FACILITY_COLUMNS if c in facilities.columns]
    sheets: dict[str, Sheet | pd.DataFrame] = {
        SHEET_NAMES["summary"]: Sheet(frame, formats={"value": [r[3] for r in rows]}, notes=notes),
        SHEET_NAMES["access"]: by_subdistrict}
    if regions is not None:
        sheets[SHEET_NAMES["regions"]] = regions
    sheets[SHEET_NAMES["facilities"]] = table(facilities[[*fac_cols, facilities.geometry.name]])
    sheets[SHEET_NAMES["beyond_20"]] = beyond_20
    return sheets


def site_sheets(chosen: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, before_after: pd.DataFrame,
                sites: pd.DataFrame | None = None) -> dict[str, Sheet | pd.DataFrame]:
    """选址 (in order of choice, with the gain in that order and alone), 候选, 前后.

    ``sites``: the chosen-sites table of the report (:func:`siting.outputs._sites.sites_table`); the 选址 sheet
    is it, then the candidates' other columns (id, overloaded, kind, nearest facility).
    """
    cols = [c for c in ("order", "candidate_id", "label", "subdistrict", "assigned", "gain", "overloaded", "kind",
                        "near_street", "nearest_facility", "nearest_facility_m") if c in chosen.columns]
    if sites is not None:
        more = [c for c in ("candidate_id", "overloaded", "kind", "near_street", "nearest_facility",
                            "nearest_facility_m") if c in chosen.columns]
        first = pd.concat([sites.reset_index(drop=True),
                           rounded(pd.DataFrame(chosen.sort_values("order")[more])).reset_index(drop=True)], axis=1)
    cand_cols = [c for c in ("candidate_id", "label", "kind", "source", "subdistrict", "excluded", "gain",
                             "share_of_gap", "rank", "chosen", "order", "near_street", "nearest_facility",
                             "nearest_facility_m", "snap_m") if c in candidates.columns]
    ranked = candidates.sort_values(["rank", "candidate_id"], na_position="last")
    if sites is None:
        first = table(chosen[[*cols, chosen.geometry.name]])
    return {SHEET_NAMES["chosen"]: first,
            SHEET_NAMES["candidates"]: table(ranked[[*cand_cols, ranked.geometry.name]]),
            SHEET_NAMES["before_after"]: before_after}
