"""The print-ready static map of :func:`siting.outputs.figures.map_figure` (geopandas + matplotlib, no tiles)."""

from __future__ import annotations

import math
import textwrap
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from .. import _labels
from ..engine._status import Status
from ..io._utm import utm_crs
from ._palette import COVERED_COLOR, FACILITY_STYLE, NO_DATA, STATUS_LABEL, TARGET_CLASSES, fill

#: A partly analysed 街道 (:data:`siting._labels.PARTIAL_BELOW`): pale fill, hatched, dashed outline.
PARTIAL_FILL, PARTIAL_EDGE = "#fee0b6", "#b35806"
MARKERS = {"center": "s", "subcenter": "D", "station": "o", "village_clinic": "^", "kiosk": "o", "hospital": "P"}


def _utm(gdf: Any, crs: Any) -> gpd.GeoDataFrame | None:
    if gdf is None or len(gdf) == 0:
        return None
    return gdf.to_crs(crs)


def nice_length(span_m: float) -> float:
    """Return a round scale-bar length near a fifth of ``span_m`` (100, 200, 500 m, 1, 2, 5 km ...)."""
    raw = span_m / 5
    base = 10 ** math.floor(math.log10(raw))
    return float(max(m * base for m in (1, 2, 5) if m * base <= raw))


def scale_bar(ax: Any, x0: float, y0: float, length: float, height: float) -> None:
    """Alternating black/white bar of ``length`` metres in 4 parts, labelled, at (x0, y0) (map units = m)."""
    for i in range(4):
        ax.add_patch(Rectangle((x0 + i * length / 4, y0), length / 4, height, facecolor="black" if i % 2 == 0
                               else "white", edgecolor="black", linewidth=0.8, zorder=20))
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x0, y0 + 2.2 * height, "0", fontsize=7, ha="center", zorder=20)
    ax.text(x0 + length, y0 + 2.2 * height, label, fontsize=7, ha="center", zorder=20)


def north_arrow(ax: Any) -> None:
    """Draw an arrow with "N 北" in the top-right corner (UTM grid north, within 1.5° of true north here)."""
    ax.annotate("N\n北", xy=(0.95, 0.95), xytext=(0.95, 0.86), xycoords="axes fraction", ha="center", va="top",
                fontsize=9, zorder=21,
                arrowprops={"facecolor": "black", "width": 4, "headwidth": 11, "headlength": 10})


def _draw_subdistricts(ax: Any, subs: gpd.GeoDataFrame, target: float | None) -> list[Any]:
    """Draw the 街道 coloured against the target, the partly analysed ones hatched; return their legend rows."""
    tgt = subs["target"].astype(float).fillna(np.nan if target is None else target)
    partial = np.array([_labels.is_partial(a) for a in _labels.analysed_shares(subs)], dtype=bool)
    colors = [fill(r, t) for r, t in zip(subs["coverage_rate"].astype(float), tgt, strict=True)]
    subs[~partial].plot(ax=ax, color=[c for c, p in zip(colors, partial, strict=True) if not p],
                        edgecolor="#444444", linewidth=0.7, alpha=0.6, zorder=1)
    if partial.any():  # partly analysed: hatched, dashed outline, never a pass/fail colour
        subs[partial].plot(ax=ax, facecolor=PARTIAL_FILL, edgecolor=PARTIAL_EDGE, hatch="////", linewidth=1.2,
                           linestyle="--", alpha=0.7, zorder=1)
    used = {c for c, p in zip(colors, partial, strict=True) if not p}
    handles: list[Any] = [Patch(facecolor=c, edgecolor="#444444", label=t) for _, _, c, t in TARGET_CLASSES
                          if c in used]
    if NO_DATA in used:
        handles.append(Patch(facecolor=NO_DATA, edgecolor="#444444", label="路网外 no residents in extract"))
    if partial.any():
        handles.append(Patch(facecolor=PARTIAL_FILL, edgecolor=PARTIAL_EDGE, hatch="////", linestyle="--",
                             label=f"部分分析 partly analysed (< {_labels.PARTIAL_BELOW:.0%} of its residents)"))
    return handles


def draw_map(fig: Figure, points: Any, facilities: Any, *, subdistricts: Any, summary: dict[str, Any],
             service_area: Any, chosen: Any, extent: Any) -> None:
    """Draw the map into ``fig``: one axes in UTM metres (true scale bar), legend, title, credits."""
    crs = utm_crs(points)
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    target = summary.get("target")
    target = None if target is None or pd.isna(target) else float(target)
    handles: list[Any] = []
    subs = _utm(subdistricts, crs)
    if subs is not None:
        handles += _draw_subdistricts(ax, subs, target)
    area = _utm(service_area, crs)
    minutes = float(summary.get("minutes") or 15)
    if area is not None and not area.geometry.is_empty.all():  # nothing within reach: no area (geopandas warns)
        area.plot(ax=ax, facecolor="#4393c3", edgecolor="#2166ac", linewidth=0.4, alpha=0.3, zorder=2)
        handles.append(Patch(facecolor="#4393c3", alpha=0.5, label=f"{minutes:g} 分钟服务范围 service area"))
    view = None
    if extent is not None and not shapely.is_empty(extent):
        view = gpd.GeoSeries([extent], crs=4326).to_crs(crs)
        view.boundary.plot(ax=ax, color="#333333", linewidth=1.0, linestyle="--", zorder=3)
        handles.append(Line2D([], [], color="#333333", linestyle="--",
                              label="分析范围 analysed area (extract ∩ district)"))
    pts = points.to_crs(crs)
    open_ = ~pts["covered"].astype(bool) & (pts["status"] != Status.OUTSIDE)
    if open_.any():
        sel = pts[open_]
        size = 4 + 60 * np.sqrt(sel["population"].fillna(0).clip(lower=0) / 5000.0)
        ax.scatter(sel.geometry.x, sel.geometry.y, s=size, color=STATUS_LABEL[Status.OK][0], alpha=0.65, linewidth=0.3,
                   edgecolor="white", zorder=4)
        handles.append(Line2D([], [], marker="o", linestyle="", color=STATUS_LABEL[Status.OK][0], alpha=0.7,
                              label="未覆盖居民 uncovered residents (area ∝ residents)"))
    cov = pts[pts["covered"].astype(bool)]
    if len(cov):
        ax.scatter(cov.geometry.x, cov.geometry.y, s=3, color=COVERED_COLOR, alpha=0.5, linewidth=0, zorder=4)
        handles.append(Line2D([], [], marker="o", markersize=3, linestyle="", color=COVERED_COLOR,
                              label="已覆盖居民 covered residents"))
    fac = facilities.to_crs(crs)
    used_fac = fac["snapped"].astype(bool) if "snapped" in fac else pd.Series(True, index=fac.index)
    new = fac["source"].astype(str).eq("new site") if "source" in fac else pd.Series(False, index=fac.index)
    for ftype in [t for t in FACILITY_STYLE if (fac["type"] == t).any()]:
        zh, en, color, _, _ = FACILITY_STYLE[ftype]
        for counted in (True, False):
            sel = fac[(fac["type"] == ftype) & (used_fac == counted) & ~new]
            if sel.empty:
                continue
            ax.scatter(sel.geometry.x, sel.geometry.y, marker=MARKERS.get(ftype, "o"), s=55,
                       facecolor=color if counted else "white", edgecolor="white" if counted else color,
                       linewidth=1.0 if counted else 1.6, zorder=6)
            handles.append(Line2D([], [], marker=MARKERS.get(ftype, "o"), linestyle="", markersize=7,
                                  markerfacecolor=color if counted else "white", markeredgecolor=color,
                                  label=f"{zh} {en}" + ("" if counted else " — 路网外未计入 not counted")))
    cho = _utm(chosen, crs)
    if cho is not None:
        ax.scatter(cho.geometry.x, cho.geometry.y, marker="*", s=260, color="#ffd700", edgecolor="black",
                   linewidth=0.8, zorder=7)
        for i, (x, y) in enumerate(zip(cho.geometry.x, cho.geometry.y, strict=True), 1):
            ax.annotate(str(i), (x, y), xytext=(6, 4), textcoords="offset points", fontsize=8,
                        zorder=8)
        handles.append(Line2D([], [], marker="*", linestyle="", markersize=13, markerfacecolor="#ffd700",
                              markeredgecolor="black", label="新站点 new site (order of choice)"))
    frame = view if view is not None else (subs if subs is not None else pts)
    x0, y0, x1, y1 = frame.total_bounds
    pad = 0.06 * max(x1 - x0, y1 - y0, 500.0)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    if subs is not None:
        shares = pd.Series(_labels.analysed_shares(subs), index=subs.index)
        inside = subs[subs.representative_point().within(shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad))]
        for name, share, p in zip(inside["subdistrict"].astype(str), shares[inside.index],
                                  inside.representative_point(), strict=True):
            text = f"{name}\n已分析 {100 * share:.0f} % analysed" if _labels.is_partial(share) else name
            ax.annotate(text, (p.x, p.y), xytext=(0, -12), textcoords="offset points", fontsize=7, ha="center",
                        color="#222222", zorder=5,
                        bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.6, "linewidth": 0})
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    span = (x1 - x0) + 2 * pad
    scale_bar(ax, x0 - pad + 0.04 * span, y0 - pad + 0.04 * span, nice_length(span), 0.008 * span)
    north_arrow(ax)
    _titles(fig, ax, summary, subdistricts, handles)


def _titles(fig: Figure, ax: Any, summary: dict[str, Any], subdistricts: Any, handles: list[Any]) -> None:
    rate, target = summary.get("coverage_rate"), summary.get("target")
    head = _labels.title(summary)
    line = _labels.subtitle(summary)
    if rate is not None and not pd.isna(rate):
        line += f" — {100 * float(rate):.1f} % covered"
        if target is not None and not pd.isna(target):
            line += f", target {100 * float(target):g} %"
    ax.set_title(f"{head}\n{line}", fontsize=11, loc="left")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.01), ncol=2, fontsize=7, frameon=False)
    note = _labels.extent_note(summary, subdistricts)
    credits = textwrap.fill("; ".join(_labels.source_lines(summary)), 190)
    text = (f"{note}\n" if note else "") + credits
    fig.supxlabel(text, x=0.01, ha="left", fontsize=6, color="#444444")
