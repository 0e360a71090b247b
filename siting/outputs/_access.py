"""Outputs of ``siting access``: the output folder (written atomically) and the terminal tables."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..engine.access import GP_TARGET_PER_10K, AccessResult
from . import htmlreport
from ._basemaps import Tiles
from ._maplayers import SUPPLY_COLORS, supply_layer
from ._palette import FACILITY_STYLE
from ._text import html_text, write_csv
from ._workbook import access_sheets, rounded
from .excel import write_excel
from .maps import coverage_map, save_map
from .report import _pad, _writable, analysed_area, atomic_dir, subdistrict_table, summary_json, with_run_facts

#: Columns of access.csv, in order (those present; age columns follow).
ACCESS_COLUMNS = ["district", "subdistrict", "population_source", "population", "outside_population", "coverage_rate",
                  "supply_per_10k", "gps_per_10k", "gp_target_per_10k", "below_gp_target", "gps_needed", "median_min",
                  "p90_min", "within_5_min", "within_10_min", "within_15_min", "within_20_min",
                  "beyond_20_population", "stations_below_200m2"]


def access_table(result: AccessResult) -> pd.DataFrame:
    """Return the per-街道 table of ``access.csv`` (documented columns first, then the older-resident ones).

    One column per measure: with GPs as the capacity ``supply_per_10k`` is ``gps_per_10k`` and is left out.
    Rounded as the other CSVs (:func:`siting.outputs._workbook.rounded`).
    """
    table = result.by_subdistrict
    if result.summary.get("capacity_column") == "gps":
        table = table.drop(columns=["supply_per_10k"], errors="ignore")
    first = [c for c in ACCESS_COLUMNS if c in table.columns]
    return rounded(table[first + [c for c in table.columns if c not in first]].copy())


def assumption(result: AccessResult) -> tuple[str, str] | None:
    """"assuming 6 GPs per centre" (Chinese, English) when counted facilities use default capacities, else None.

    The per-type defaults (:data:`siting.engine._fca.DEFAULT_CAPACITY`) of the counted facilities that lack
    their own figure *of the capacity in use* (``defaulted`` names it: a file's GP count with a defaulted floor
    area is no assumption of the GP index), named first in every headline: the index then measures the
    assumption as much as the data.
    """
    fac = result.facilities
    if "capacity_source" not in fac or not result.summary.get("facilities_with_default_capacity"):
        return None
    column = "gps" if result.summary.get("capacity_column") == "gps" else "floor_area_m2"
    if "defaulted" in fac:
        assumed = fac["defaulted"].fillna("").astype(str).str.split(",").map(lambda d: column in d).astype(bool)
    else:
        assumed = fac["capacity_source"] == "default"
    used = fac[assumed & fac["snapped"].astype(bool)]
    zh, en = [], []
    for ftype, group in used.groupby("type"):
        value = float(group[column].iloc[0])
        name_zh, name_en = FACILITY_STYLE.get(str(ftype), (str(ftype), str(ftype)))[:2]
        zh.append(f"每个{name_zh} {value:g} 名全科医生" if column == "gps" else f"每个{name_zh} {value:g} m²")
        en.append(f"{value:g} GPs per {name_en}" if column == "gps" else f"{value:g} m² per {name_en}")
    if not en:
        return None
    return "假设" + "、".join(zh) + "（默认值）", "assuming " + ", ".join(en) + " (defaults)"


def headline(result: AccessResult) -> tuple[str, str]:
    """Return the access headline, Chinese and English: the assumption first, the measure called an index."""
    s = result.summary
    gps = s.get("capacity_column") == "gps"
    value = s.get("gps_per_10k") if gps else s.get("supply_per_10k")
    what_zh, what_en = ("全科医生可达指数", "GP access index") if gps else ("面积可达指数", "floor-area access index")
    unit = "" if gps else " m²"
    en = (f"{what_en} ({s['method']}): {_cell(value, '{:.2f}')}{unit} per 10,000 residents"
          + (f" against the standard of {GP_TARGET_PER_10K:g} GPs; {_cell(s.get('gps_needed'), '{:,.0f}')} GPs short"
             if gps else ""))
    zh = (f"{what_zh}（{s['method']}）：每万人 {_cell(value, '{:.2f}')}{unit}"
          + (f"，标准 {GP_TARGET_PER_10K:g}；缺 {_cell(s.get('gps_needed'), '{:,.0f}')} 名" if gps else ""))
    assumed = assumption(result)
    if assumed is not None:
        zh, en = f"{assumed[0]}：{zh}", f"{assumed[1][0].upper()}{assumed[1][1:]}: {en}"
    return zh, en + " (an index of access to staff within reach, not the staff working in a 街道)"


#: Columns of the access section of report.html.
SECTION_COLUMNS = ("subdistrict", "population", "gps_per_10k", "supply_per_10k", "gps_needed", "median_min",
                   "within_15_min")


def write_report_page(result: AccessResult, folder: Path, table: pd.DataFrame) -> Path:
    """Write ``report.html`` of ``siting access``: the coverage page with the access headline and section."""
    cov = result.coverage
    summary = with_run_facts({**cov.summary.to_dict(), "notes": result.summary.get("notes", [])}, analysed_area(cov))
    summary["headlines"] = [headline(result)]
    section = table[[c for c in SECTION_COLUMNS if c in table.columns]]
    return htmlreport.write_html(folder, summary, rounded(subdistrict_table(cov)), {}, {"access": section})


def write_access(result: AccessResult, out_dir: str | Path, *, overwrite: bool = False, map_html: bool = True,
                 tiles: Tiles = True, inputs: Iterable[Any] = (), reports: bool = True) -> Path:
    """Write the access output folder into ``out_dir``, atomically.

    The folder holds ``summary.json``, ``access.csv`` (per 街道), ``regions.csv`` (with ``--regions``),
    ``points.gpkg`` (input columns kept, plus ``supply_per_10k``, ``gps_per_10k``, ``walk_min``...),
    ``facilities.gpkg`` (capacity and where it came from), ``subdistricts.gpkg``, ``beyond_20min_places.csv``
    ``map.html`` (:func:`access_map`: the coverage map plus the supply layer, its legend and the headline) and,
    unless ``reports=False``, ``report.html`` (the access headline, assumption first, and the per-街道 index:
    :func:`write_report_page`), ``report.pdf`` printed from it by Chromium while the map is drawn (as
    ``siting coverage`` does; ``SITING_PDF=0`` skips it) and ``report.xlsx`` (sheets 概要 Summary, 可达 Access,
    区域 Regions, 设施 Facilities, 20分钟外 Beyond 20 min: the CSVs' tables with bilingual headers);
    ``summary.json`` lists what was left out under ``skipped``.
    """
    cov = result.coverage
    left_out = ([] if map_html else ["map.html"]) + ([] if reports else ["report.xlsx", "report.html", "report.pdf"])
    summary = dict(result.summary, skipped=left_out) if left_out else result.summary

    def write(tmp: Path) -> None:
        (tmp / "summary.json").write_text(summary_json(summary), encoding="utf-8")
        table = access_table(result)
        write_csv(table, tmp / "access.csv")
        if result.regions is not None:
            write_csv(result.regions, tmp / "regions.csv")
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
        write_csv(far, tmp / "beyond_20min_places.csv")
        page = None
        if reports:
            write_excel(tmp / "report.xlsx", access_sheets({**result.summary, "headline": headline(result)}, table,
                                                           result.regions, result.facilities, far))
            page = write_report_page(result, tmp, table)
        with htmlreport.printing(page) if page is not None else contextlib.nullcontext():  # the PDF prints meanwhile
            if map_html:
                save_map(access_map(result, tiles=tiles), tmp / "map.html")

    return atomic_dir(out_dir, write, overwrite=overwrite, inputs=inputs)


def supply_scale(result: AccessResult) -> tuple[str, float, bool]:
    """Return the supply layer's label, its top break and whether that is the GP standard.

    With GPs the top break is the standard (:data:`GP_TARGET_PER_10K`); otherwise the upper quartile of the
    positive values (what :func:`siting.outputs._maplayers.supply_layer` would take), given to the layer so that
    the legend states the same breaks.
    """
    method = result.summary["method"]
    if result.summary.get("capacity_column") == "gps":
        return f"每万人全科医生可达指数 GP access index per 10,000 ({method})", GP_TARGET_PER_10K, True
    values = result.points["supply_per_10k"].astype(float).to_numpy()
    positive = values[np.isfinite(values) & (values > 0)]
    top = float(np.quantile(positive, 0.75)) if len(positive) else 1.0
    return f"每万人面积可达指数 floor-area index per 10,000 ({method})", top, False


def supply_legend(label: str, top: float, standard: bool) -> list[str]:
    """Return the legend rows (HTML) of the supply layer: its name, grey for none in reach, the classes."""
    cuts = [top / 3, 2 * top / 3, top]
    fmt = "{:.1f}" if top >= 3 else "{:.2f}"

    def row(color: str, text: str) -> str:
        return (f'<i style="display:inline-block;width:10px;height:10px;border-radius:50%;background:{color};'
                f'border:1px solid #666"></i> {html_text(text)}')

    return [f"<b>{html_text(label)}</b>", row(SUPPLY_COLORS[0], "0 · 范围内无设施 no facility within reach"),
            row(SUPPLY_COLORS[1], f"< {fmt.format(cuts[0])}"),
            row(SUPPLY_COLORS[2], f"{fmt.format(cuts[0])}–{fmt.format(cuts[1])}"),
            row(SUPPLY_COLORS[3], f"{fmt.format(cuts[1])}–{fmt.format(cuts[2])}"),
            row(SUPPLY_COLORS[4], f"≥ {fmt.format(top)}" + (" 标准 standard" if standard
                                                            else " (upper quartile 上四分位)"))]


def access_map(result: AccessResult, *, tiles: Tiles = True) -> Any:
    """Draw the access map: the coverage map, the supply layer (shown) with its legend, the headline under the title.

    The headline (:func:`headline`) names the assumption first when capacities are defaults ("assuming 6 GPs per
    centre (defaults)"), so the map is never read without it.
    """
    cov = result.coverage
    label, top, standard = supply_scale(result)
    supply = supply_layer(result.points, "supply_per_10k", target=top, label=label, show=True)
    return coverage_map(cov.points, cov.facilities, subdistricts=cov.subdistricts,
                        summary=with_run_facts(cov.summary.to_dict(), analysed_area(cov)),
                        service_area=cov.service_area(), tiles=tiles, overlays=[supply],
                        legend=supply_legend(label, top, standard), headline=list(headline(result)))


def _cell(value: object, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    return fmt.format(value)


def format_access(result: AccessResult) -> str:
    """Per-街道 supply and travel times, the whole-area line, regions and notes, for the terminal."""
    s = result.summary
    lines = [_pad("街道 / subdistrict", 14) + f"{'residents':>11}{'outside':>10}  {'source':<12}{'index':>8}"
             f"{'needed':>8}{'median':>8}{'p90':>7}{'≤15min':>8}"]
    table = access_table(result)
    table = table.sort_values(["population", "gps_per_10k"], ascending=[False, True], key=lambda c: c.fillna(-1)) \
        if "gps_per_10k" in table else table
    for _, r in table.iterrows():
        lines.append(_pad(str(r["subdistrict"]), 14) + f"{r['population']:>11,.0f}{r['outside_population']:>10,.0f}  "
                     f"{str(r.get('population_source')):<12}{_cell(r.get('gps_per_10k'), '{:.2f}'):>8}"
                     f"{_cell(r.get('gps_needed'), '{:.1f}'):>8}{_cell(r.get('median_min'), '{:.1f}'):>8}"
                     f"{_cell(r.get('p90_min'), '{:.1f}'):>7}{_cell(r.get('within_15_min'), '{:.0%}'):>8}")
    lines += ["", f"All: {headline(result)[1]}.",
              f"{s['catchment_min']:g}-min catchment ({s['mode']}): median walk "
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
