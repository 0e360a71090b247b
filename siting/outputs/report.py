"""Tables and exports: the per-街道 console table and the output directory (written atomically)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._labels import PARTIAL_BELOW, area_name, is_partial
from .._lazy import lazy_module
from ..engine._stats import sort_by_gap
from ..engine.catchments import facility_catchments
from ..io._checks import OUTSIDE_AREA
from ._basemaps import Tiles
from ._limits import headline_base
from ._outdir import generator, output_dir
from ._sites import format_siting as format_siting  # the console table of a site plan, here since the start
from ._sites import pad, sites_table
from ._text import write_csv
from ._workbook import coverage_sheets, rounded, site_sheets, with_analysed_share
from ._workbook import table as workbook_table
from ._writers import Writers, map_beside, reports_beside

if TYPE_CHECKING:  # the writers sit below coverage: they only read a result
    from ..engine.coverage import CoverageResult
    from . import excel
else:  # loaded when written: no openpyxl without xlsx
    excel = lazy_module("siting.outputs.excel")

#: Above this many counted facilities no per-facility catchments are written (they would swamp the map).
MAX_CATCHMENTS = 300
SUBDISTRICT_COLUMNS = ["district", "subdistrict", "population", "covered", "coverage_rate", "target", "gap_pp",
                       "gap_residents", "too_far_population", "outside_population", "analysed_share", "points",
                       "population_source"]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, np.floating):
        return _clean_float(float(value))
    return str(value)


def _clean_float(x: float) -> float | None:
    return None if math.isnan(x) else x


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float):
        return _clean_float(obj)
    return obj


def summary_json(summary: dict[str, Any]) -> str:
    """Return the summary as JSON (NaN → null; ``inf`` cannot occur in the summary)."""
    summary = {"generator": generator(), **summary}
    return json.dumps(_clean(summary), ensure_ascii=False, indent=2, default=_json_default)


def _writable(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return a copy GeoPackage can store.

    Dict/list cells become JSON text, other object columns text, except columns of booleans (kept boolean:
    not the text 'False').
    """
    out = frame.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        values = out[col].dropna()
        if out[col].dtype == object and len(values) and values.map(lambda v: isinstance(v, bool | np.bool_)).all():
            out[col] = out[col].astype(bool) if len(values) == len(out) else out[col].astype("boolean")
        elif out[col].dtype == object:
            out[col] = out[col].map(
                lambda v: None if v is None or (isinstance(v, float) and math.isnan(v))
                else json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, dict | list) else str(v)
            )
    return out


def atomic_dir(out_dir: str | Path, write: Callable[[Path], None], *, overwrite: bool = False,
               inputs: Iterable[Any] = ()) -> Path:
    """Run ``write(tmp)`` in a temporary folder beside ``out_dir``, then move it into place in one step.

    See :func:`siting.outputs._outdir.output_dir`: nothing is left at ``out_dir`` when ``write`` fails, and
    ``overwrite`` replaces only a folder siting wrote (never the current/home folder or one holding an input).
    """
    with output_dir(out_dir, overwrite=overwrite, inputs=inputs) as tmp:
        write(tmp)
    return Path(out_dir)


def catchments_of(result: CoverageResult) -> gpd.GeoDataFrame | None:
    """Each counted facility's own street area (see :func:`siting.engine.catchments.facility_catchments`).

    None above :data:`MAX_CATCHMENTS` counted facilities (they would swamp the map).
    """
    return facility_catchments(result) if int(result.facilities["snapped"].sum()) <= MAX_CATCHMENTS else None


def drawn_areas(result: CoverageResult) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """Return the service area (:meth:`~siting.engine.coverage.CoverageResult.service_area`) and :func:`catchments_of`.

    One after the other: dissolving them in two threads saved ~0.05 s of a 2.8 s run (under 5 %, see
    docs/performance.md), not worth the thread pool.
    """
    return result.service_area(), catchments_of(result)


def write_layers(result: CoverageResult, folder: Path, area: gpd.GeoDataFrame,
                 catchments: gpd.GeoDataFrame | None) -> None:
    """Write the GeoPackages of a result.

    ``points``, ``facilities``, ``subdistricts`` (when any), ``service_area`` (``area``) and ``catchments``
    (unless None: see :func:`catchments_of`; what ``siting map`` re-draws from).
    """
    _writable(result.points).to_file(folder / "points.gpkg", driver="GPKG")
    _writable(result.facilities).to_file(folder / "facilities.gpkg", driver="GPKG")
    if result.subdistricts is not None and len(result.subdistricts):
        _writable(result.subdistricts).to_file(folder / "subdistricts.gpkg", driver="GPKG")
    area.to_file(folder / "service_area.gpkg", driver="GPKG")
    if catchments is not None:
        catchments.to_file(folder / "catchments.gpkg", driver="GPKG")


#: What ``reports=False`` leaves out: the figures, report.html / .pdf and report.xlsx (the analysis outputs
#: for reading; the CSVs, GeoPackages, summary.json and map.html are still written).
#: (The figure names are those of :data:`siting.outputs.figures.FIGURE_FILES`, tested equal.)
REPORT_FILES = ("coverage_by_subdistrict.png", "walking_times.png", "map.png", "map.pdf", "report.xlsx", "report.html",
                "report.pdf")


def write_coverage(
    result: CoverageResult, out_dir: str | Path, *, overwrite: bool = False, map_html: bool = True,
    self_contained: bool = True, tiles: Tiles = True, inputs: Iterable[Any] = (), reports: bool = True,
    writers: Writers | None = None,
) -> Path:
    """Write a coverage result into ``out_dir``, atomically (the files: see :func:`coverage_files`).

    ``writers``: children forked beforehand that write ``map.html`` and the report chain while this
    process writes the rest (:class:`siting.outputs.report.Writers`); None writes everything here.
    """
    return atomic_dir(out_dir, lambda tmp: coverage_files(result, tmp, map_html=map_html, self_contained=self_contained,
                                                          tiles=tiles, reports=reports, writers=writers),
                      overwrite=overwrite, inputs=inputs)


def skipped_files(*, map_html: bool, reports: bool) -> list[str]:
    """Return the output files left out by ``map_html=False`` / ``reports=False`` (for ``summary.json``)."""
    return ([] if map_html else ["map.html"]) + ([] if reports else list(REPORT_FILES))


def coverage_files(result: CoverageResult, folder: Path, *, map_html: bool = True, self_contained: bool = True,
                   tiles: Tiles = True, reports: bool = True, writers: Writers | None = None) -> None:
    """Write a coverage result's files into an existing (temporary) ``folder``.

    Files: ``summary.json``, ``subdistricts.csv`` (one row per 街道), ``districts.csv``,
    ``points.gpkg`` (every population point: ``population``, ``subdistrict``, ``walk_min``,
    ``facility_id``, ``covered``, ``status``; WGS84), ``facilities.gpkg``, ``subdistricts.gpkg``
    (polygons with rates, when boundaries were given), ``service_area.gpkg``, ``uncovered_places.csv``,
    ``map.html`` (self-contained: works offline) and, unless ``reports=False``, the figures, ``report.xlsx``,
    ``report.html`` and ``report.pdf`` (printed by Chromium while the other files are written).
    ``summary.json`` lists what was left out under ``skipped``. ``writers``: see :func:`write_coverage`.
    With ``summary.sensitivity`` set, ``sensitivity.csv`` too (:mod:`siting.outputs.sensitivity`).
    """
    extent = analysed_area(result)
    summary = with_run_facts(result.summary.to_dict(), extent)
    skipped = skipped_files(map_html=map_html, reports=reports)
    if skipped:
        summary["skipped"] = skipped
    table = rounded(subdistrict_table(result))
    area, catchments = drawn_areas(result)
    drawn = {"points": result.points, "facilities": result.facilities, "subdistricts": result.subdistricts,
             "service_area": area, "extent": extent}
    layers = {"points": result.points, "facilities": result.facilities, "subdistricts": result.subdistricts,
              "summary": summary, "service_area": area, "catchments": catchments, "tiles": tiles}
    with (reports_beside(writers, folder, summary, table, drawn, enabled=reports),
          map_beside(writers, folder / "map.html", layers, enabled=map_html, self_contained=self_contained)):
        (folder / "summary.json").write_text(summary_json(summary), encoding="utf-8")
        write_csv(table, folder / "subdistricts.csv")
        write_csv(rounded(result.by_district), folder / "districts.csv")
        places = workbook_table(result.uncovered_places())
        write_csv(places, folder / "uncovered_places.csv")
        if result.summary.sensitivity:  # rate and sites per population method (siting.outputs.sensitivity)
            write_csv(pd.DataFrame(list(result.summary.sensitivity)), folder / "sensitivity.csv")
        write_layers(result, folder, area, catchments)
        if reports:
            excel.write_excel(folder / "report.xlsx", coverage_sheets(summary, table, result.facilities, places))


def analysed_area(result: CoverageResult) -> shapely.Geometry:
    """Return the analysed area in WGS84: the street extract (its hull) ∩ the 街道 of the run.

    Without boundaries it is the extract alone.
    """
    net = result._network
    area = net.extent()
    if result.subdistricts is not None and len(result.subdistricts):
        area = area.intersection(shapely.union_all(result.subdistricts.to_crs(net.crs).geometry.buffer(0).to_numpy()))
    return gpd.GeoSeries([area], crs=net.crs).to_crs(4326).iloc[0]


def with_run_facts(summary: dict[str, Any], extent: shapely.Geometry | None) -> dict[str, Any]:
    """Add ``date`` (of the run) and ``analysed_bounds`` (west, south, east, north of ``extent``) to a summary."""
    out = {**summary, "date": summary.get("date") or dt.date.today().isoformat()}
    if extent is not None and not extent.is_empty:
        out["analysed_bounds"] = [round(float(v), 6) for v in extent.bounds]
    return out


def subdistrict_table(result: CoverageResult) -> pd.DataFrame:
    """One row per 街道: subdistrict, population, covered, coverage_rate, target, gaps, ``analysed_share``.

    ``analysed_share``: residents analysed ÷ the 街道's total (:func:`siting.outputs._workbook.with_analysed_share`).
    """
    table = with_analysed_share(result.by_subdistrict)
    cols = [c for c in SUBDISTRICT_COLUMNS if c in table.columns]
    return table[cols].copy()


def format_table(result: CoverageResult) -> str:
    """Format a readable per-街道 table and the whole-area line, for the terminal."""
    s = result.summary.to_dict()
    unit = "residents" if s.get("unit") == "residents" else "locations"
    t = sort_by_gap(subdistrict_table(result))
    lines = [f"{'街道 / subdistrict':<14}{unit:>12}{'covered':>12}{'rate':>8}{'target':>8}{'gap':>10}{'outside':>10}"
             f"{'analysed':>10}  source"]
    empty = t["population"] <= 0
    for i, (_, r) in enumerate(t.iterrows()):
        if empty.iloc[i] and (i == 0 or not empty.iloc[i - 1]):
            lines.append(f"-- no {unit} inside the street extract (all outside it) --")
        rate = "—" if pd.isna(r["coverage_rate"]) else f"{r['coverage_rate']:.1%}"
        tgt = "—" if pd.isna(r["target"]) else f"{r['target']:.0%}"
        g = "—" if pd.isna(r["gap_residents"]) else f"{r['gap_residents']:,.0f}"
        share = r.get("analysed_share")
        seen = "—" if share is None or pd.isna(share) else f"{share:.0%}" + ("*" if is_partial(share) else "")
        lines.append(f"{pad(str(r['subdistrict']), 14)}{r['population']:>12,.0f}{r['covered']:>12,.0f}{rate:>8}"
                     f"{tgt:>8}{g:>10}{r['outside_population']:>10,.0f}{seen:>10}  "
                     f"{_text_or_blank(r.get('population_source'))}")
    if "analysed_share" in t and any(is_partial(a) for a in t["analysed_share"]):
        lines.append(f"* partly analysed: under {PARTIAL_BELOW:.0%} of the 街道's residents inside the street extract "
                     "(its rate speaks for that part only)")
    rate = s["coverage_rate"]
    lines.append("")
    if rate == rate:
        lines.append(f"All: {s['population_covered']:,.0f} of {s['population_total']:,.0f} {unit} within "
                     f"{s['minutes']:g} min ({s['mode']}, {s['speed_kmh']:g} km/h) = {rate:.1%}")
        if s.get("population_weighting") and str(s["population_weighting"]).startswith("residents aged 60+"):
            lines.append(f"Counted: {s['population_weighting']}")  # whom the figures above count
    elif s.get("n_points", 0) > s.get("n_points_outside_network", 0) + s.get("n_points_too_far", 0):
        lines.append(f"All: no residents to count: the {s['n_points'] - s.get('n_points_outside_network', 0):,} "
                     "point(s) inside the street extent all have population 0")
    else:
        lines.append("All: no residents in the analysed area (none inside the street network's extent)")
    if s.get("target") is not None and (s.get("gap_pp") is None or rate != rate):
        lines.append(f"Target {s['target']:.0%}: cannot be judged, no residents in the analysed area")
    elif s.get("target") is not None:
        met = "meets" if s.get("meets_target") else "misses"
        lines.append(f"Target {s['target']:.0%} ({s.get('target_source') or 'given'}): {met} it; gap "
                     f"{s['gap_pp']:.1f} points = {s['gap_residents']:,.0f} {unit}")
    if s.get("population_outside_network"):
        lines.append(f"Left out of the rate: {s['population_outside_network']:,.0f} {unit} outside the network extent "
                     f"({s['n_points_outside_network']} points)")
        base = headline_base(s, area_name(s))
        if base is not None:
            lines.append(f"So: {base[1]}")
    if s.get("n_points_too_far"):
        lines.append(f"Counted uncovered: {s['population_too_far']:,.0f} {unit} farther than {s['max_snap_m']:g} m "
                     "from any usable way")
    walk = walk_time_line(s)
    if walk:
        lines.append(walk)
    notes = s.get("notes", [])
    outside = [n for n in notes if str(n).startswith(OUTSIDE_AREA)]
    lines += [f"Note: {n}" for n in notes if n not in outside]
    if outside:
        lines.append(f"{len(outside)} note(s) about data outside the analysed area, see summary.json")
    return "\n".join(lines)


def _text_or_blank(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def walk_time_line(s: dict[str, Any]) -> str:
    """Format "Walking time: mean 15.5 min, median 14.2 min; within 5/10/15/20 min: 6.0 % / ..." (or "")."""
    within = s.get("share_within") or {}
    mean, median = s.get("walk_min_mean"), s.get("walk_min_median")
    if not within or mean is None or mean != mean:  # NaN: no residents to time
        return ""
    med = "over the limit (half reach no facility)" if median is None or median != median else f"{median:.1f} min"
    mean_s = f"{mean:.1f} min"
    shares = " / ".join("—" if v is None or v != v else f"{100 * v:.1f} %" for v in within.values())
    unit = "residents" if s.get("unit") == "residents" else "locations"
    return (f"Walking time ({unit}, weighted): mean {mean_s}, median {med}; within {'/'.join(within)} min: {shares}"
            + (f"; {100 * s['share_unreachable']:.1f} % reach no facility" if s.get("share_unreachable") else ""))


def write_siting(plan: Any, out_dir: str | Path, *, overwrite: bool = False, map_html: bool = True,
                 tiles: Tiles = True, self_contained: bool = True, inputs: Iterable[Any] = (),
                 reports: bool = True, writers: Writers | None = None) -> Path:
    """Write a site plan (:class:`siting.plan.sites.SitePlan`) into ``out_dir``, atomically (see :func:`siting_files`).

    ``writers``: see :func:`write_coverage`.
    """
    return atomic_dir(out_dir, lambda tmp: siting_files(plan, tmp, map_html=map_html, tiles=tiles,
                                                        self_contained=self_contained, reports=reports,
                                                        writers=writers),
                      overwrite=overwrite, inputs=inputs)


def siting_files(plan: Any, folder: Path, *, map_html: bool = True, tiles: Tiles = True,
                 self_contained: bool = True, reports: bool = True, writers: Writers | None = None) -> None:
    """Write a site plan's files into an existing (temporary) ``folder``.

    Files: ``candidates.gpkg`` (every candidate: ``gain``, ``share_of_gap``, ``rank``, ``excluded``,
    ``chosen``, ``order``), ``chosen.gpkg`` (chosen sites in build order: ``order``, ``gain``,
    ``assigned``, ``overloaded``), ``before_after.csv`` (per 街道: ``population``, ``covered_before``,
    ``covered_after``, ``rate_before``, ``rate_after``, ``target``, ``new_sites``, ``population_source``),
    ``summary.json`` (the "after" coverage summary plus the plan's: before/after, exact vs greedy objective, gap,
    status, seconds, feasible, message) and, for ``siting map``, the "after" ``points.gpkg``,
    ``facilities.gpkg`` (new sites have ``source`` "new site"), ``subdistricts.gpkg``,
    ``service_area.gpkg``, and ``map.html`` (self-contained); unless ``reports=False``, the figures and
    ``report.xlsx`` / ``.html`` / ``.pdf`` as for :func:`coverage_files`.
    """
    after = plan.after
    before = plan.result.summary
    summary = {**after.summary.to_dict(), **plan.summary, "notes": list(before.notes or []),
               "before": {k: getattr(before, k) for k in (
                   "coverage_rate", "population_covered", "gap_pp", "gap_residents", "meets_target", "n_facilities")},
               "sources": list(before.sources or [])}
    extent = analysed_area(after)
    summary = with_run_facts(summary, extent)
    skipped = skipped_files(map_html=map_html, reports=reports)
    if skipped:
        summary["skipped"] = skipped
    chosen = plan.chosen
    sites = sites_table(chosen, after.points)
    chosen = chosen.assign(serves=sites["serves"].to_numpy(dtype=object))
    (folder / "summary.json").write_text(summary_json(summary), encoding="utf-8")
    before_after = rounded(plan.before_after)
    write_csv(before_after, folder / "before_after.csv")
    table = rounded(subdistrict_table(after))
    area, catchments = drawn_areas(after)
    drawn = {"points": after.points, "facilities": after.facilities, "subdistricts": after.subdistricts,
             "service_area": area, "chosen": chosen, "extent": extent, "tables": {"sites": sites}}
    usable = plan.candidates[plan.candidates["excluded"].isna() & ~plan.candidates["chosen"]]
    layers = {"points": after.points, "facilities": after.facilities, "subdistricts": after.subdistricts,
              "summary": summary, "service_area": area, "candidates": usable, "chosen": chosen,
              "catchments": catchments, "tiles": tiles}
    with (reports_beside(writers, folder, summary, table, drawn, enabled=reports),
          map_beside(writers, folder / "map.html", layers, enabled=map_html, self_contained=self_contained)):
        _writable(plan.candidates).to_file(folder / "candidates.gpkg", driver="GPKG")
        _writable(chosen).to_file(folder / "chosen.gpkg", driver="GPKG")
        write_layers(after, folder, area, catchments)
        if reports:
            places = workbook_table(after.uncovered_places())
            excel.write_excel(folder / "report.xlsx", {**coverage_sheets(summary, table, after.facilities, places),
                                                       **site_sheets(chosen, plan.candidates, before_after, sites)})


_pad = pad  # the name the scenario and access tables import
