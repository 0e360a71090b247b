"""Static figures (matplotlib) for reports and notebooks: coverage by 街道, walking times, a print-ready map.

Every function returns a :class:`matplotlib.figure.Figure` (no pyplot state, safe in scripts and
threads; a notebook shows it inline); :func:`save_figure` writes PNG/PDF/SVG. Chinese text needs a
CJK font: :func:`cjk_font` picks an installed one, which figures put first in matplotlib's sans-serif list while
they are made and drawn only (:func:`cjk_style`): the caller's ``rcParams`` are never changed.
"""

from __future__ import annotations

import functools
import io
import os
import textwrap
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import _labels
from ..engine._stats import WITHIN_MINUTES, sort_by_gap, walk_time_stats
from ..engine._status import Status
from ._fonts import CJK_FONTS, CJK_HINT, CJKFont, find_cjk_font
from ._palette import NO_DATA, TARGET_CLASSES, fill
from ._staticmap import draw_map

__all__ = ["CJK_FONTS", "cjk_font", "cjk_style", "map_figure", "save_figure", "subdistrict_figure", "walk_time_figure"]

_state: dict[str, Any] = {"font": None, "warned": False, "file": None}


def cjk_font() -> str | None:
    """Return the CJK font family figures use (:func:`siting.outputs._fonts.find_cjk_font`), or None (warned once).

    Found among the fonts matplotlib knows, else among the system's font files its cache lacks (added to its
    font list), else the pip-installed Noto Sans CJK. No rcParams change: :func:`cjk_style` uses it for a block.
    """
    if _state["font"] is None:
        found = find_cjk_font()
        _state["font"], _state["file"] = (found.name, found) if found else ("", None)
    font = str(_state["font"])
    if not font:
        if not _state["warned"]:
            warnings.warn(CJK_HINT, stacklevel=2)
            _state["warned"] = True
        return None
    return font


def cjk_font_file() -> CJKFont | None:
    """Return the file of :func:`cjk_font` (name, path, face, where it was found), to embed it (None: no font)."""
    cjk_font()
    return _state["file"]


@contextmanager
def cjk_style() -> Iterator[None]:
    """Inside the block, the default sans-serif family starts with :func:`cjk_font` (rcParams restored after).

    ``axes.unicode_minus`` is off too, as CJK fonts often lack U+2212. No CJK font: nothing changes but
    matplotlib's "Glyph … missing" warnings, silenced: :func:`cjk_font` said it once for the run.
    """
    font = cjk_font()
    rc: dict[str, Any] = {}
    if font:
        rc = {"font.sans-serif": [font] + [f for f in matplotlib.rcParams["font.sans-serif"] if f != font],
              "font.family": ["sans-serif"], "axes.unicode_minus": False}
    with matplotlib.rc_context(rc), warnings.catch_warnings():  # type: ignore[arg-type]  # (rcParams names)
        if not font:
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
        yield


def _styled(make: Callable[..., Figure]) -> Callable[..., Figure]:
    """Run a figure function inside :func:`cjk_style` (its text is made with the CJK font)."""

    @functools.wraps(make)
    def styled(*args: Any, **kwargs: Any) -> Figure:
        with cjk_style():
            return make(*args, **kwargs)

    return styled


class SitingFigure(Figure):
    """A matplotlib Figure that shows itself inline in notebooks (PNG), whatever the backend.

    It draws (on screen, to PNG/PDF/SVG) inside :func:`cjk_style`: fonts are looked up when drawing, and the
    caller's ``rcParams`` stay theirs.
    """

    def draw(self, renderer: Any) -> None:
        """Draw with the CJK font first in the sans-serif list."""
        with cjk_style():
            super().draw(renderer)

    def _repr_png_(self) -> bytes:
        return png_bytes(self, dpi=100)


def _figure(width_in: float, height_in: float) -> Figure:
    return SitingFigure(figsize=(width_in, height_in), layout="constrained")


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 200) -> Path:
    """Write ``fig`` (format from the suffix: .png, .pdf, .svg) at ``dpi``; returns the path."""
    path = Path(path)
    fig.savefig(path, dpi=dpi, facecolor="white")
    return path


def png_bytes(fig: Figure, dpi: int = 150) -> bytes:
    """Return the figure as PNG bytes (for embedding in HTML)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def _target_of(table: pd.DataFrame, target: float | None) -> float | None:
    if target is not None and not pd.isna(target):
        return float(target)
    t = table["target"].dropna() if "target" in table else pd.Series(dtype=float)
    return float(t.iloc[0]) if len(t) and (t == t.iloc[0]).all() else None


@_styled
def subdistrict_figure(table: pd.DataFrame, target: float | None = None, *, title: str | None = None,
                       unit: str = "residents") -> Figure:
    """Coverage rate per 街道 against the target, largest gap at the top.

    Parameters
    ----------
    table : DataFrame
        One row per 街道: ``subdistrict``, ``population``, ``covered``, ``coverage_rate``, ``target``
        (0–1 or NaN) and ``gap_residents`` (``subdistricts.csv`` or ``CoverageResult.by_subdistrict``).
        街道 without residents inside the street extract are listed under the chart, not drawn.
    target : float, optional
        The line drawn (default: the table's target when all rows share one).
    title : str, optional
    unit : str
        "residents" or "locations" (wording of the axis).
    """
    rows = sort_by_gap(table)
    empty = rows[rows["population"] <= 0]
    rows = rows[rows["population"] > 0].iloc[::-1]  # barh draws bottom-up: largest gap on top
    tgt = _target_of(table, target)
    fig = _figure(7.5, 1.4 + 0.38 * max(len(rows), 1) + (0.3 if len(empty) else 0))
    ax = fig.add_subplot()
    rate = rows["coverage_rate"].astype(float).to_numpy()
    tgts = rows["target"].astype(float).fillna(np.nan if tgt is None else tgt).to_numpy() if "target" in rows else (
        np.full(len(rows), np.nan if tgt is None else tgt))
    colors = [fill(r, None if np.isnan(t) else t) for r, t in zip(rate, tgts, strict=True)]
    y = np.arange(len(rows))
    share = _labels.analysed_shares(rows)
    bars = ax.barh(y, 100 * np.nan_to_num(rate), color=colors, edgecolor="#444444", linewidth=0.6, height=0.7)
    for bar, a in zip(bars, share, strict=True):
        if _labels.is_partial(a):  # partly analysed: hatched, its share said beside it
            bar.set_hatch("////")
            bar.set_edgecolor("#b35806")
    labels = [f"{n}  ({p:,.0f})" for n, p in zip(rows["subdistrict"].astype(str), rows["population"], strict=True)]
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_xlim(0, 112)
    ax.set_xticks(range(0, 101, 20), [f"{v} %" for v in range(0, 101, 20)])
    word = "居民 residents" if unit == "residents" else "地点 locations"
    xlabel = f"覆盖率 coverage (share of {word.split()[1]})  ·  括号内 in brackets: 路网范围内{word} in the extract"
    if len(empty):
        names = "、".join(empty["subdistrict"].astype(str))
        xlabel += "\n" + textwrap.fill(f"路网范围内无居民、未绘出 not drawn, no {word.split()[1]} inside the street "
                                        f"extract ({len(empty)}): {names}", 95)
    ax.set_xlabel(xlabel, fontsize=8)
    for yi, r, g, a in zip(y, rate, rows["gap_residents"].astype(float), share, strict=True):
        text = f"{100 * r:.1f} %" + (f"  缺口 gap {g:,.0f}" if g > 0 else "")
        text += f"  · 仅分析 {100 * a:.0f} % analysed" if _labels.is_partial(a) else ""
        ax.text(100 * r + 1, float(yi), text, va="center", fontsize=8)
    if tgt is not None:
        ax.axvline(100 * tgt, color="#b2182b", linestyle="--", linewidth=1.3)
        ax.text(100 * tgt + 0.8, len(rows) - 0.4, f"目标 target {100 * tgt:g} %", color="#b2182b", ha="left",
                va="bottom", fontsize=8)
        ax.set_ylim(-0.6, len(rows) + 0.2)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title or "各街道覆盖率（按缺口排序）Coverage by 街道, largest gap first", fontsize=11, loc="left")
    return fig


@_styled
def walk_time_figure(points: pd.DataFrame, minutes: float = 15.0, *, target: float | None = None,
                     title: str | None = None, unit: str = "residents") -> Figure:
    """Population-weighted cumulative distribution of walking times, with the threshold marked.

    Parameters
    ----------
    points : DataFrame
        ``walk_min`` (``inf`` = no facility reachable), ``population`` and ``status`` (points with
        status ``outside_network_area`` are left out, as in the rate).
    minutes : float
        The coverage threshold (vertical line); the curve's height there is the coverage rate.
    target : float, optional
        Drawn as a horizontal line (the gap to it is the vertical distance at the threshold).
    """
    keep = (points["status"] != Status.OUTSIDE).to_numpy() if "status" in points else slice(None)
    t = points["walk_min"].to_numpy(float)[keep]
    w = np.nan_to_num(points["population"].to_numpy(float)[keep])
    total = w.sum()
    xmax = max(2.0 * minutes, 30.0)
    fig = _figure(7.0, 4.2)
    ax = fig.add_subplot()
    if total > 0:
        order = np.argsort(t, kind="stable")
        ts, cum = t[order], 100 * np.cumsum(w[order]) / total
        fin = ts <= xmax
        end = cum[fin][-1] if fin.any() else 0.0
        xs = np.concatenate([[0.0], ts[fin], [xmax]])
        ys = np.concatenate([[0.0], cum[fin], [end]])
        ax.step(xs, ys, where="post", color="#2166ac", linewidth=2, label="累计居民 cumulative share")
        at = 100 * w[t <= minutes + 1e-9].sum() / total
        ax.axvline(minutes, color="#333333", linestyle="--", linewidth=1.2)
        ax.text(minutes, 2, f" {minutes:g} 分钟 threshold", fontsize=8, va="bottom")
        ax.plot([minutes], [at], "o", color="#2166ac")
        ax.annotate(f"{at:.1f} % ≤ {minutes:g} min", (minutes, at), xytext=(8, -14), textcoords="offset points",
                    fontsize=9, color="#2166ac")
        for m in WITHIN_MINUTES:
            if m != minutes and m <= xmax:
                v = 100 * w[t <= m + 1e-9].sum() / total
                ax.plot([m], [v], ".", color="#555555")
                ax.annotate(f"{v:.0f} %", (m, v), xytext=(-4, 6), textcoords="offset points", fontsize=7,
                            color="#555555", ha="right")
        stats = walk_time_stats(t, w)
        lost = 100 * w[~np.isfinite(t)].sum() / total
        median = stats["walk_min_median"]
        lines = [f"平均 mean {stats['walk_min_mean']:.1f} min" + (" (of those who reach one)" if lost > 0 else ""),
                 "中位数 median " + ("—" if median is None else f"{median:.1f} min")]
        if end < 99.95:
            none = f" ({lost:.1f} % 无可达设施 reach none)" if lost else ""
            lines.append(f"{100 - end:.1f} % > {xmax:g} min{none}")
        ax.text(0.98, 0.04, "\n".join(lines), transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "#999999", "boxstyle": "round,pad=0.4"})
    if target is not None and not pd.isna(target):
        ax.axhline(100 * target, color="#b2182b", linestyle=":", linewidth=1.2)
        ax.text(0.5, 100 * target + 1, f"目标 target {100 * target:g} %", color="#b2182b", fontsize=8)
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, 103)
    ax.set_yticks(range(0, 101, 20), [f"{v} %" for v in range(0, 101, 20)])
    word = "居民 residents" if unit == "residents" else "地点 locations"
    ax.set_xlabel("到最近设施的步行时间（分钟）walking time to the nearest facility (min)")
    ax.set_ylabel(f"累计{word.split()[0]}占比 share of {word.split()[1]}")
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title or "步行时间分布（人口加权）Walking time, population-weighted", fontsize=11, loc="left")
    return fig


@_styled
def map_figure(points: Any, facilities: Any, *, subdistricts: Any = None, summary: dict[str, Any] | None = None,
               service_area: Any = None, chosen: Any = None, extent: Any = None) -> Figure:
    """Draw a print-ready static map (no web tiles).

    It shows 街道 against the target, service area, uncovered residents, facilities and chosen sites, with
    title, legend, scale bar, north arrow and credits.

    Arguments as :func:`siting.outputs.maps.coverage_map`; ``extent`` (a WGS84 geometry, e.g. the street
    extract ∩ the district) sets the view. Save it with :func:`save_figure` as PNG or PDF.
    """
    fig = _figure(8.27, 8.6)
    draw_map(fig, points, facilities, subdistricts=subdistricts, summary=dict(summary or {}),
             service_area=service_area, chosen=chosen, extent=extent)
    return fig


def legend_classes(subdistricts: pd.DataFrame, target: float | None) -> list[tuple[str, str]]:
    """(colour, label) of the choropleth classes present (with the target as the break)."""
    out = []
    rates = subdistricts["coverage_rate"].astype(float)
    used = {fill(r, target) for r in rates}
    for _, _, c, label in TARGET_CLASSES:
        if c in used:
            out.append((c, label))
    if NO_DATA in used:
        out.append((NO_DATA, "路网范围内无居民 no residents in the extract"))
    return out


#: File names :func:`write_figures` writes.
FIGURE_FILES = {"subdistricts": "coverage_by_subdistrict.png", "walk_times": "walking_times.png", "map": "map.png"}


def write_figures(folder: str | os.PathLike[str], points: Any, facilities: Any, *, summary: dict[str, Any],
                  table: pd.DataFrame | None = None, subdistricts: Any = None, service_area: Any = None,
                  chosen: Any = None, extent: Any = None, dpi: int = 200, map_pdf: bool = True) -> dict[str, Figure]:
    """Write the standard figures into ``folder``; return them by key (``subdistricts``, ``walk_times``, ``map``).

    Files: ``coverage_by_subdistrict.png`` (when there is a per-街道 ``table`` with residents),
    ``walking_times.png``, ``map.png`` and, unless ``map_pdf=False`` (the caller saves ``figs["map"]``
    later), ``map.pdf`` (print map). Each figure is drawn once per file.
    """
    folder = Path(folder)
    unit = str(summary.get("unit") or "residents")
    figs: dict[str, Figure] = {}
    if table is not None and len(table) and (table["population"] > 0).any():
        figs["subdistricts"] = subdistrict_figure(table, summary.get("target"), unit=unit)
    figs["walk_times"] = walk_time_figure(points, float(summary.get("minutes") or 15), target=summary.get("target"),
                                          unit=unit)
    figs["map"] = map_figure(points, facilities, subdistricts=subdistricts, summary=summary,
                             service_area=service_area, chosen=chosen, extent=extent)
    for key, fig in figs.items():
        save_figure(fig, folder / FIGURE_FILES[key], dpi=dpi)
    if map_pdf:
        save_figure(figs["map"], folder / "map.pdf")
    return figs
