"""Scenario comparison results (:class:`Run`, :class:`Comparison`) and their outputs.

A comparison is its tables (r5py's habit: results that are their tables); its outputs are comparison.csv
and .xlsx, the map with one layer per scenario, the console table, and the output folder (written
through :func:`siting.outputs.report.atomic_dir`, like every other command).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import _display
from ..engine.coverage import OUTSIDE, CoverageResult
from ..outputs import excel
from ..outputs._basemaps import Tiles
from ..outputs._outdir import inside, unique_names
from ..outputs._text import write_csv
from ..outputs._workbook import rounded
from ..outputs.maps import save_map, scenarios_map
from ..outputs.report import _pad, analysed_area, atomic_dir, coverage_files, siting_files, summary_json
from ..plan.sites import SitePlan
from ..settings import Settings
from ._file import Scenario
from ._values import BASELINE

if TYPE_CHECKING:
    import folium

#: Columns of `Comparison.table` (and comparison.csv), in order.
TABLE_COLUMNS = ["scenario", "description", "level", "area", "population", "covered", "coverage_rate", "target",
                 "gap_residents", "mean_walk_min", "delta_covered"]
#: Decimals kept in the table: residents to 1e-6 (census shares are fractional), shares and minutes to 1e-12.
#: comparison.csv / .xlsx are rounded further, as every CSV (:func:`csv_table`).
ROUNDING = {"population": 6, "covered": 6, "gap_residents": 6, "delta_covered": 6, "coverage_rate": 12, "target": 12,
            "mean_walk_min": 12}
SHEETS = {"table": "comparison 对比", "wide": "wide 覆盖率", "overview": "overview 总览",
          "empty": "无居民街道 no residents"}
#: The description of the unedited run.
BASELINE_DESCRIPTION = "现状 as given (no edits)"
#: Columns of `Comparison.empty` (the 街道 without residents in every run, listed once).
EMPTY_COLUMNS = ["district", "subdistrict", "outside_population"]


@dataclass
class Run:
    """One scenario's outcome: its coverage, its site plan (when it sites stations), what changed."""

    name: str
    result: CoverageResult
    facilities: gpd.GeoDataFrame
    population: gpd.GeoDataFrame
    settings: Settings
    target: float | None
    types: tuple[str, ...]
    added: gpd.GeoDataFrame
    closed: gpd.GeoDataFrame
    plan: SitePlan | None = None
    scenario: Scenario | None = None
    seconds: float = 0.0


@dataclass
class Comparison:
    """What :func:`compare` returns.

    Attributes
    ----------
    name : str
        The file's ``name:`` (or its stem).
    runs : dict
        ``baseline`` then every scenario in file order → :class:`Run`.
    table : DataFrame
        One row per scenario × area (columns :data:`TABLE_COLUMNS`; ``level`` is ``district`` or
        ``subdistrict``; ``delta_covered`` versus the baseline, same area; baseline rows first). 街道 without
        residents in every run are left out: they are listed once in :attr:`empty`.
    seconds : dict
        ``load`` (inputs and networks), ``scenarios`` (all runs) and ``total``.
    """

    name: str
    runs: dict[str, Run]
    table: pd.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    @property
    def wide(self) -> pd.DataFrame:
        """Coverage rate per area (rows: districts, then 街道) and scenario (one column each, baseline first)."""
        t = self.table
        rows = pd.MultiIndex.from_frame(t[["level", "area"]].drop_duplicates())
        wide = t.set_index(["level", "area", "scenario"])["coverage_rate"].unstack("scenario")
        return wide.reindex(index=rows, columns=list(self.runs))

    @property
    def empty(self) -> pd.DataFrame:
        """The 街道 without residents in every run (columns :data:`EMPTY_COLUMNS`), listed once, not per scenario.

        ``outside_population``: the 街道's residents outside the street extract (the baseline's; 0 when none).
        """
        return empty_subdistricts(self.runs)

    @property
    def overview(self) -> pd.DataFrame:
        """One row per scenario: whole-area rate, gap in residents, covered and change versus the baseline."""
        base = self.runs[BASELINE].result.summary
        rows = []
        for name, run in self.runs.items():
            s = run.result.summary
            rows.append({"scenario": name, "description": description(name, run), "mode": s.mode, "minutes": s.minutes,
                         "facilities": s.n_facilities, "population": s.population_total,
                         "covered": s.population_covered, "coverage_rate": s.coverage_rate,
                         "target": s.target, "gap_pp": s.gap_pp, "gap_residents": s.gap_residents,
                         "delta_covered": s.population_covered - base.population_covered,
                         "delta_pp": 100 * (s.coverage_rate - base.coverage_rate)})
        return pd.DataFrame(rows)

    def explore(self, **kwargs: Any) -> Any:
        """Draw a folium map: one switchable layer per scenario (街道 coverage, facilities added / closed)."""
        return comparison_map(self, **kwargs)

    def to_excel(self, path: str | Path) -> Path:
        """Write comparison.xlsx: the table and the wide sheet, bilingual headers, percentages formatted."""
        return write_excel(self, path)

    def to_csv(self, path: str | Path) -> Path:
        """Write comparison.csv (UTF-8 with BOM, so Excel reads the Chinese names), rounded (:func:`csv_table`)."""
        write_csv(csv_table(self.table), path)
        return Path(path)

    def headlines(self) -> list[dict[str, Any]]:
        """Return the headline of every run, baseline first, as ``summary.json`` lists it under ``scenarios``.

        Each: ``scenario``, ``description``, ``mode``, ``minutes``, ``coverage_rate``, ``covered``,
        ``population`` (the residents counted), ``target``, ``gap_residents`` (short of the target),
        ``gap_pp`` and the change versus the baseline (``delta_covered``, ``delta_pp``), rounded as the CSVs.
        """
        ov = rounded_overview(self.overview)
        keys = ["scenario", "description", "mode", "minutes", "coverage_rate", "covered", "population", "target",
                "gap_residents", "gap_pp", "delta_covered", "delta_pp"]
        return [{k: (None if pd.isna(r[k]) else r[k].item() if hasattr(r[k], "item") else r[k]) for k in keys}
                for r in ov.to_dict("records")]

    __repr__ = _display.comparison_repr  # one line (the console table: format_comparison)
    _repr_html_ = _display.comparison_html

    def write(self, out: str | Path, *, overwrite: bool = False, map_html: bool = True, tiles: Tiles = True,
              reports: bool = True) -> Path:
        """Write the output folder (see :func:`write_comparison`), atomically.

        ``overwrite`` never replaces a folder holding one of the comparison's input files.
        """
        return write_comparison(self, out, overwrite=overwrite, map_html=map_html, tiles=tiles, inputs=self.files,
                                reports=reports)


def write_excel(comp: Comparison, path: str | Path) -> Path:
    """Write comparison.xlsx through :func:`siting.outputs.excel.write_excel`.

    Sheets: the long table, the wide rate sheet (one column per scenario) and an overview; bilingual
    headers, rates shown as percentages.

    Values are the CSV's (rounded: :func:`csv_table`), so the first sheet read back (:func:`read_excel_table`)
    equals comparison.csv. The 街道 without residents (:attr:`Comparison.empty`) get a sheet of their own.
    """
    percent = {name: "0.0%" for name in comp.runs}
    sheets = {
        SHEETS["table"]: excel.Sheet(csv_table(comp.table), {"mean_walk_min": "0.0"}),
        SHEETS["wide"]: excel.Sheet(comp.wide.round(4).reset_index(), percent),
        SHEETS["overview"]: excel.Sheet(rounded_overview(comp.overview), {"delta_pp": "+0.0;-0.0;0.0",
                                                                          "minutes": "0"}),
    }
    empty = comp.empty
    if len(empty):
        sheets[SHEETS["empty"]] = excel.Sheet(rounded(empty), {})
    return excel.write_excel(path, sheets)


def csv_table(table: pd.DataFrame) -> pd.DataFrame:
    """Round the comparison table as every CSV (:func:`siting.outputs._workbook.rounded`).

    Residents whole, shares 4 decimals, minutes 0.1; ``delta_covered`` is the difference of the rounded
    ``covered`` values, so that the file's own numbers add up.
    """
    out = rounded(table)
    if "delta_covered" in out.columns:
        base = out[out["scenario"] == BASELINE].set_index(["level", "area"])["covered"]
        key = pd.MultiIndex.from_frame(out[["level", "area"]])
        out["delta_covered"] = (out["covered"].to_numpy(dtype=float, na_value=np.nan)
                                - base.reindex(key).astype(float).fillna(0.0).to_numpy())
        out["delta_covered"] = out["delta_covered"].round(0).astype("Int64")
    return out


def rounded_overview(overview: pd.DataFrame) -> pd.DataFrame:
    """Round :attr:`Comparison.overview` as the CSVs (changes from the rounded values, points to 0.01)."""
    out = rounded(overview)
    base = out["covered"].astype(float).iloc[0] if len(out) else np.nan
    out["delta_covered"] = (out["covered"].astype(float) - base).round(0).astype("Int64")
    return out.round({"delta_pp": 2, "minutes": 2})


def read_excel_table(path: str | Path) -> pd.DataFrame:
    """Read the long table of a comparison.xlsx with the CSV's column names (for checks and notebooks)."""
    return excel.read_sheet(path, SHEETS["table"])


def format_comparison(comp: Comparison) -> str:
    """Scenarios as rows: rate, change versus the baseline, gap to the target, for the terminal."""
    ov = comp.overview
    unit = "residents" if comp.runs[BASELINE].result.summary.unit == "residents" else "locations"
    lines = [f"{_pad('scenario 情景', 24)}{'mode':>8}{'min':>5}{'rate':>8}{'Δ pp':>7}{'Δ covered':>11}"
             f"{'gap to target':>15}"]
    for _, r in ov.iterrows():
        rate = "—" if pd.isna(r["coverage_rate"]) else f"{r['coverage_rate']:.1%}"
        gap = "—" if pd.isna(r["gap_residents"]) else f"{r['gap_residents']:,.0f}"
        lines.append(f"{_pad(str(r['scenario'])[:22], 24)}{r['mode']:>8}{r['minutes']:>5g}{rate:>8}"
                     f"{r['delta_pp']:>+7.1f}{r['delta_covered']:>+11,.0f}{gap:>15}")
        if isinstance(r["description"], str) and r["description"]:
            lines.append(f"  ↳ {r['description']}")
    base = comp.runs[BASELINE].result.summary
    lines.append(f"\n{unit} counted: {base.population_total:,.0f} (baseline); gap = {unit} short of the target")
    empty = comp.empty
    if len(empty):
        lines.append(f"{len(empty)} 街道 without residents in the analysed area (in brackets: their residents outside "
                     "the street extract), left out of every scenario's rows: "
                     + ", ".join(_empty_label(r) for r in empty.to_dict("records")))
    return "\n".join(lines)


def _empty_label(row: Mapping[str, Any]) -> str:
    outside = row.get("outside_population")
    far = f" ({outside:,.0f})" if outside == outside and outside else ""
    return f"{row['subdistrict']}{far}"


def description(name: str, run: Run) -> str | None:
    """Return a run's description: the scenario's own, :data:`BASELINE_DESCRIPTION` for the baseline."""
    if name == BASELINE:
        return BASELINE_DESCRIPTION
    return run.scenario.description if run.scenario is not None else None


def layer_name(name: str, run: Run, width: int = 40) -> str:
    """Return a map layer's name: the scenario and the start of its description (``close_hunan · 湖南中心关闭``)."""
    text = description(name, run)
    if not text:
        return name
    return f"{name} · {text if len(text) <= width else text[:width - 1] + '…'}"


def comparison_map(comp: Comparison, *, tiles: Tiles = True, title: str | None = None) -> folium.Map:
    """Build one switchable layer per scenario.

    Each shows 街道 coloured by coverage against the target, facilities added and closed (moved facilities
    appear as closed at the old place and added at the new one).
    """
    layers = []
    for name, run in comp.runs.items():
        s = run.result.summary
        layers.append({"name": layer_name(name, run), "subdistricts": run.result.subdistricts, "added": run.added,
                       "closed": run.closed, "summary": s.to_dict(), "facilities": run.result.facilities})
    base = comp.runs[BASELINE].result
    bounds = [round(float(v), 6) for v in analysed_area(base).bounds] if base._network is not None else None
    return scenarios_map(layers, title=title or f"{comp.name}: 情景对比 scenarios", tiles=tiles,
                         analysed_bounds=bounds)


def write_comparison(comp: Comparison, out: str | Path, *, overwrite: bool = False, map_html: bool = True,
                     tiles: Tiles = True, inputs: Iterable[Any] = (), reports: bool = True) -> Path:
    """Write the comparison into ``out`` atomically.

    The folder holds summary.json (:func:`comparison_summary`: the headline of every run), comparison.csv,
    comparison.xlsx, map.html and one sub-folder per run (``baseline/`` and each scenario) with the usual
    ``siting coverage`` files, or the ``siting site`` files where the scenario sites stations. ``reports=False``
    leaves out comparison.xlsx and each run's figures and report files (see
    :func:`siting.outputs.report.coverage_files`); summary.json lists what was left out under ``skipped``.
    """

    def write(tmp: Path) -> None:
        skipped = ([] if map_html else ["map.html"]) + ([] if reports else ["comparison.xlsx"])
        (tmp / "summary.json").write_text(summary_json(comparison_summary(comp, skipped)), encoding="utf-8")
        comp.to_csv(tmp / "comparison.csv")
        if reports:
            write_excel(comp, tmp / "comparison.xlsx")
        if map_html:
            save_map(comparison_map(comp, tiles=tiles), tmp / "map.html")
        folders = unique_names(comp.runs, "scenario", "scenario")  # refused before writing a run's folder
        for name, run in comp.runs.items():
            folder = inside(tmp, folders[name])
            folder.mkdir()
            if run.plan is not None:
                siting_files(run.plan, folder, map_html=map_html, tiles=tiles, reports=reports)
            else:
                coverage_files(run.result, folder, map_html=map_html, tiles=tiles, reports=reports)

    return atomic_dir(out, write, overwrite=overwrite, inputs=inputs)


def comparison_summary(comp: Comparison, skipped: list[str] | None = None) -> dict[str, Any]:
    """Return the ``summary.json`` of a comparison: its name, the headline of every run, the empty 街道.

    ``scenarios``: :meth:`Comparison.headlines` (rate, covered, total, target and gap per run, baseline first);
    ``subdistricts_without_residents``: :attr:`Comparison.empty`, listed once; ``seconds``; ``skipped``.
    """
    base = comp.runs[BASELINE].result.summary
    empty = rounded(comp.empty).astype(object).where(comp.empty.notna(), None)
    out: dict[str, Any] = {"name": comp.name, "unit": base.unit, "scenarios": comp.headlines(),
                           "subdistricts_without_residents": empty.to_dict("records"), "seconds": dict(comp.seconds)}
    if skipped:
        out["skipped"] = list(skipped)
    return out


def empty_subdistricts(runs: Mapping[str, Run]) -> pd.DataFrame:
    """Return the 街道 without residents in every run (:data:`EMPTY_COLUMNS`, the baseline's order)."""
    frames = [run.result.by_subdistrict for run in runs.values()]
    if not frames or any("subdistrict" not in f.columns for f in frames):
        return pd.DataFrame(columns=EMPTY_COLUMNS)
    lived = set().union(*(set(f.loc[f["population"].fillna(0) > 0, "subdistrict"]) for f in frames))
    base = frames[0]
    out = base[~base["subdistrict"].isin(lived)].reset_index(drop=True)
    if "outside_population" not in out.columns:
        out = out.assign(outside_population=np.nan)
    if "district" not in out.columns:
        out = out.assign(district=None)
    return out[EMPTY_COLUMNS].assign(outside_population=out["outside_population"].astype(float).fillna(0.0))


def comparison_table(runs: Mapping[str, Run]) -> pd.DataFrame:
    """Return the long table (:data:`TABLE_COLUMNS`): every run × (district, 街道), deltas versus the baseline.

    街道 without residents in every run (:func:`empty_subdistricts`) are left out (listed once, apart).
    """
    frames = [_area_rows(name, run.result).assign(description=description(name, run)) for name, run in runs.items()]
    table = pd.concat(frames, ignore_index=True)
    empty = set(empty_subdistricts(runs)["subdistrict"])
    table = table[~((table["level"] == "subdistrict") & table["area"].isin(empty))].reset_index(drop=True)
    base = table[table["scenario"] == BASELINE].set_index(["level", "area"])["covered"]
    key = pd.MultiIndex.from_frame(table[["level", "area"]])
    table["delta_covered"] = table["covered"].to_numpy() - base.reindex(key).fillna(0.0).to_numpy()
    # at most 15 significant digits, so that CSV and Excel (which keeps 16) hold exactly the same numbers
    for col, decimals in ROUNDING.items():
        table[col] = table[col].astype(float).round(decimals)
    return table[TABLE_COLUMNS]


def _area_rows(name: str, result: CoverageResult) -> pd.DataFrame:
    pts = result.points
    rated = (pts["status"] != OUTSIDE).to_numpy()
    walk = pts["walk_min"].to_numpy(float)
    w = pts["population"].fillna(0).to_numpy(float)
    timed = rated & np.isfinite(walk)
    frames = []
    for level, by in (("district", result.by_district), ("subdistrict", result.by_subdistrict)):
        keys = pts[level].fillna("(none)").to_numpy(dtype=object)
        sums = pd.DataFrame({"area": keys, "w": np.where(timed, w, 0.0), "wt": np.where(timed, w * walk, 0.0)})
        g = sums.groupby("area")[["w", "wt"]].sum()
        mean = (g["wt"] / g["w"].where(g["w"] > 0)).rename("mean_walk_min")
        rows = by.rename(columns={level: "area"})[["area", "population", "covered", "coverage_rate", "target",
                                                   "gap_residents"]]
        rows = rows.merge(mean, left_on="area", right_index=True, how="left")
        rows.insert(0, "level", level)
        frames.append(rows)
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "scenario", name)
    out["target"] = out["target"].astype(float)
    out["gap_residents"] = out["gap_residents"].astype(float)
    return out
