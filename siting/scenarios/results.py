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

from ..engine.coverage import OUTSIDE, CoverageResult
from ..outputs import excel
from ..outputs.maps import save_map, scenarios_map
from ..outputs.report import _pad, atomic_dir, coverage_files, siting_files
from ..plan.sites import SitePlan
from ..settings import Settings
from ._file import Scenario
from ._values import BASELINE, folder_name

if TYPE_CHECKING:
    import folium

#: Columns of `Comparison.table` (and comparison.csv), in order.
TABLE_COLUMNS = ["scenario", "level", "area", "population", "covered", "coverage_rate", "target", "gap_residents",
                 "mean_walk_min", "delta_covered"]
#: Decimals kept in the table: residents to 1e-6 (census shares are fractional), shares and minutes to 1e-12.
ROUNDING = {"population": 6, "covered": 6, "gap_residents": 6, "delta_covered": 6, "coverage_rate": 12, "target": 12,
            "mean_walk_min": 12}
SHEETS = {"table": "comparison 对比", "wide": "wide 覆盖率", "overview": "overview 总览"}


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
        ``subdistrict``; ``delta_covered`` versus the baseline, same area; baseline rows first).
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
    def overview(self) -> pd.DataFrame:
        """One row per scenario: whole-area rate, gap in residents, covered and change versus the baseline."""
        base = self.runs[BASELINE].result.summary
        rows = []
        for name, run in self.runs.items():
            s = run.result.summary
            rows.append({"scenario": name, "mode": s.mode, "minutes": s.minutes,
                         "facilities": s.n_facilities, "population": s.population_total,
                         "covered": s.population_covered, "coverage_rate": s.coverage_rate,
                         "target": s.target, "gap_residents": s.gap_residents,
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
        """Write comparison.csv (UTF-8 with BOM, so Excel reads the Chinese names)."""
        self.table.to_csv(path, index=False, encoding="utf-8-sig")
        return Path(path)

    def __repr__(self) -> str:
        """Show the console comparison table."""
        return format_comparison(self)

    def write(self, out: str | Path, *, overwrite: bool = False, map_html: bool = True, tiles: bool = True,
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

    Values are the CSV's, so the first sheet read back (:func:`read_excel_table`) equals comparison.csv.
    """
    percent = {name: "0.0%" for name in comp.runs}
    return excel.write_excel(path, {
        SHEETS["table"]: excel.Sheet(comp.table, {"mean_walk_min": "0.0"}),
        SHEETS["wide"]: excel.Sheet(comp.wide.reset_index(), percent),
        SHEETS["overview"]: excel.Sheet(comp.overview, {"delta_pp": "+0.0;-0.0;0.0", "minutes": "0"}),
    })


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
    base = comp.runs[BASELINE].result.summary
    lines.append(f"\n{unit} counted: {base.population_total:,.0f} (baseline); gap = {unit} short of the target")
    return "\n".join(lines)


def comparison_map(comp: Comparison, *, tiles: bool = True, title: str | None = None) -> folium.Map:
    """Build one switchable layer per scenario.

    Each shows 街道 coloured by coverage against the target, facilities added and closed (moved facilities
    appear as closed at the old place and added at the new one).
    """
    layers = []
    for name, run in comp.runs.items():
        s = run.result.summary
        layers.append({"name": name, "subdistricts": run.result.subdistricts, "added": run.added,
                       "closed": run.closed, "summary": s.to_dict(), "facilities": run.result.facilities})
    return scenarios_map(layers, title=title or f"{comp.name}: 情景对比 scenarios", tiles=tiles)


def write_comparison(comp: Comparison, out: str | Path, *, overwrite: bool = False, map_html: bool = True,
                     tiles: bool = True, inputs: Iterable[Any] = (), reports: bool = True) -> Path:
    """Write the comparison into ``out`` atomically.

    The folder holds comparison.csv, comparison.xlsx, map.html and one sub-folder per run (``baseline/``
    and each scenario) with the usual ``siting coverage`` files, or the ``siting site`` files where the
    scenario sites stations. ``reports=False`` leaves out comparison.xlsx and each run's figures and
    report files (see :func:`siting.outputs.report.coverage_files`).
    """

    def write(tmp: Path) -> None:
        comp.to_csv(tmp / "comparison.csv")
        if reports:
            write_excel(comp, tmp / "comparison.xlsx")
        if map_html:
            save_map(comparison_map(comp, tiles=tiles), tmp / "map.html")
        used: set[str] = set()
        for name, run in comp.runs.items():
            folder = folder_name(name)
            while folder.lower() in used:
                folder += "_"
            used.add(folder.lower())
            (tmp / folder).mkdir()
            if run.plan is not None:
                siting_files(run.plan, tmp / folder, map_html=map_html, tiles=tiles, reports=reports)
            else:
                coverage_files(run.result, tmp / folder, map_html=map_html, tiles=tiles, reports=reports)

    return atomic_dir(out, write, overwrite=overwrite, inputs=inputs)


def comparison_table(runs: Mapping[str, Run]) -> pd.DataFrame:
    """Return the long table (:data:`TABLE_COLUMNS`): every run × (district, 街道), deltas versus the baseline."""
    frames = [_area_rows(name, run.result) for name, run in runs.items()]
    table = pd.concat(frames, ignore_index=True)
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
