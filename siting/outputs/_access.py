"""Outputs of ``siting access``: the output folder (written atomically) and the terminal tables."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from ..engine.access import GP_TARGET_PER_10K, AccessResult
from ._maplayers import supply_layer
from ._workbook import access_sheets
from .excel import write_excel
from .maps import coverage_map, save_map
from .report import _pad, _writable, atomic_dir, summary_json

#: Columns of access.csv, in order (those present; age columns follow).
ACCESS_COLUMNS = ["district", "subdistrict", "population_source", "population", "outside_population", "coverage_rate",
                  "supply_per_10k", "gps_per_10k", "gp_target_per_10k", "below_gp_target", "gps_needed", "median_min",
                  "p90_min", "within_5_min", "within_10_min", "within_15_min", "within_20_min",
                  "beyond_20_population", "stations_below_200m2"]


def access_table(result: AccessResult) -> pd.DataFrame:
    """Return the per-街道 table of ``access.csv`` (documented columns first, then the older-resident ones)."""
    table = result.by_subdistrict
    first = [c for c in ACCESS_COLUMNS if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]].copy()


def write_access(result: AccessResult, out_dir: str | Path, *, overwrite: bool = False, map_html: bool = True,
                 tiles: bool = True, inputs: Iterable[Any] = (), reports: bool = True) -> Path:
    """Write the access output folder into ``out_dir``, atomically.

    The folder holds ``summary.json``, ``access.csv`` (per 街道), ``regions.csv`` (with ``--regions``),
    ``points.gpkg`` (input columns kept, plus ``supply_per_10k``, ``gps_per_10k``, ``walk_min``...),
    ``facilities.gpkg`` (capacity and where it came from), ``subdistricts.gpkg``, ``beyond_20min_places.csv``
    ``map.html`` (coverage map plus a supply-per-10k layer) and, unless ``reports=False``, ``report.xlsx``
    (sheets 概要 Summary, 可达 Access, 区域 Regions, 设施 Facilities, 20分钟外 Beyond 20 min: the CSVs' tables
    with bilingual headers; ``summary.json`` lists it under ``skipped`` when left out).
    """
    cov = result.coverage
    summary = dict(result.summary, skipped=["report.xlsx"]) if not reports else result.summary

    def write(tmp: Path) -> None:
        (tmp / "summary.json").write_text(summary_json(summary), encoding="utf-8")
        table = access_table(result)
        table.to_csv(tmp / "access.csv", index=False, encoding="utf-8-sig")
        if result.regions is not None:
            result.regions.to_csv(tmp / "regions.csv", index=False, encoding="utf-8-sig")
        _writable(result.points).to_file(tmp / "points.gpkg", driver="GPKG")
        _writable(result.facilities).to_file(tmp / "facilities.gpkg", driver="GPKG")
        subs = None
        if cov.subdistricts is not None and len(cov.subdistricts):
            extra = result.by_subdistrict.drop(columns=[c for c in cov.subdistricts.columns
                                                        if c in result.by_subdistrict and c != "subdistrict"])
            subs = cov.subdistricts.merge(extra, on="subdistrict", how="left")
            _writable(subs).to_file(tmp / "subdistricts.gpkg", driver="GPKG")
        pts = result.beyond_20.geometry
        far = pd.DataFrame(result.beyond_20.drop(columns="geometry")).assign(lon=pts.x.round(6), lat=pts.y.round(6))
        far.to_csv(tmp / "beyond_20min_places.csv", index=False, encoding="utf-8-sig")
        if reports:
            write_excel(tmp / "report.xlsx", access_sheets(result.summary, table, result.regions,
                                                                 result.facilities, far))
        if map_html:
            fmap = coverage_map(cov.points, cov.facilities, subdistricts=cov.subdistricts,
                                summary=cov.summary.to_dict(), service_area=cov.service_area(), tiles=tiles)
            gps = result.summary.get("capacity_column") == "gps"
            label = (f"每万人全科医生 GPs per 10,000 ({result.summary['method']})" if gps
                     else f"每万人面积 m² per 10,000 ({result.summary['method']})")
            supply_layer(result.points, "supply_per_10k", target=GP_TARGET_PER_10K if gps else None,
                         label=label, show=True).add_to(fmap)
            save_map(fmap, tmp / "map.html")

    return atomic_dir(out_dir, write, overwrite=overwrite, inputs=inputs)


def _cell(value: object, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    return fmt.format(value)


def format_access(result: AccessResult) -> str:
    """Per-街道 supply and travel times, the whole-area line, regions and notes, for the terminal."""
    s = result.summary
    lines = [_pad("街道 / subdistrict", 14) + f"{'residents':>11}{'outside':>10}  {'source':<12}{'GPs/10k':>8}"
             f"{'needed':>8}{'median':>8}{'p90':>7}{'≤15min':>8}"]
    table = access_table(result)
    table = table.sort_values(["population", "gps_per_10k"], ascending=[False, True], key=lambda c: c.fillna(-1)) \
        if "gps_per_10k" in table else table
    for _, r in table.iterrows():
        lines.append(_pad(str(r["subdistrict"]), 14) + f"{r['population']:>11,.0f}{r['outside_population']:>10,.0f}  "
                     f"{str(r.get('population_source')):<12}{_cell(r.get('gps_per_10k'), '{:.2f}'):>8}"
                     f"{_cell(r.get('gps_needed'), '{:.1f}'):>8}{_cell(r.get('median_min'), '{:.1f}'):>8}"
                     f"{_cell(r.get('p90_min'), '{:.1f}'):>7}{_cell(r.get('within_15_min'), '{:.0%}'):>8}")
    lines += ["", f"All ({s['method']}, {s['catchment_min']:g}-min catchment, {s['mode']}): "
              f"{_cell(s.get('gps_per_10k'), '{:.2f}')} GPs per 10,000 residents against {GP_TARGET_PER_10K:g}; "
              f"{_cell(s.get('gps_needed'), '{:,.0f}')} more GPs needed; median walk "
              f"{_cell(s.get('median_min'), '{:.1f}')} min, p90 {_cell(s.get('p90_min'), '{:.1f}')} min; "
              f"{_cell(s.get('beyond_20_population'), '{:,.0f}')} residents beyond 20 min"]
    if result.regions is not None and not result.regions.empty:
        lines.append("")
        for _, r in result.regions.iterrows():
            lines.append(f"region {r['region']}: {r['population']:,.0f} residents, coverage "
                         f"{_cell(r.get('coverage_rate'), '{:.1%}')}, {_cell(r.get('gps_per_10k'), '{:.2f}')} GPs/10k, "
                         f"median {_cell(r.get('median_min'), '{:.1f}')} min ({r.get('subdistricts')})")
    lines += [f"Note: {n}" for n in s.get("notes", [])]
    return "\n".join(lines)
