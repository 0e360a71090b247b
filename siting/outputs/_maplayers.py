"""Map layer builders of :mod:`siting.outputs.maps`, one per layer (private: the API is in ``maps.py``).

Each ``add_*`` function adds its layer(s) to a folium map and returns the legend rows it needs.
"""

from __future__ import annotations

import math
import re
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from .._labels import PARTIAL_BELOW, analysed_shares, is_partial
from ..engine._status import Status
from ._mapstyle import (
    ATTRIBUTION,
    BOX_STYLE,
    OSM_TILES,
    PAGE_CSS,
    Attribution,
    choropleth_legend,
    collection,
    geometry,
    grid,
    legend_html,
    num,
    pct,
    popup,
    radii,
    summary_html,
    tooltip,
)
from ._palette import (
    ABSOLUTE_CLASSES,
    COVERED_COLOR,
    FACILITY_STYLE,
    MODE_LABEL,
    NO_DATA,
    STATUS_LABEL,
    TARGET_CLASSES,
    fill,
)
from ._text import html_text

__all__ = [
    "ABSOLUTE_CLASSES", "ATTRIBUTION", "BOX_STYLE", "COVERED_COLOR", "FACILITY_STYLE", "MODE_LABEL", "NO_DATA",
    "OSM_TILES", "PAGE_CSS", "STATUS_LABEL", "TARGET_CLASSES", "Attribution", "add_candidates", "add_catchments",
    "add_chosen", "add_facilities", "add_residents", "add_service_area", "add_subdistricts", "choropleth_legend",
    "scenario_layer", "supply_layer",
    "collection", "fill", "geometry", "grid", "legend_html", "num", "pct", "radii", "summary_html", "tooltip",
]

STAR = ('<svg width="20" height="20" viewBox="0 0 20 20"><path d="M10 1L12.6 7.2L19.5 7.6L14.2 12L15.9 18.6L10 15L4.1 '
        '18.6L5.8 12L0.5 7.6L7.4 7.2Z" fill="#ffd700" stroke="#000" stroke-width="1"/></svg>')
SWATCH = '<i style="display:inline-block;width:14px;height:10px;background:{};opacity:{}"></i> '
BAND_COLORS = {5: "#08519c", 10: "#3182bd", 15: "#9ecae1"}


def add_subdistricts(m: folium.Map, subs: gpd.GeoDataFrame | None, target: float | None,
                     simplify_m: float) -> tuple[list[tuple[str, str]], str]:
    """Add the 街道 choropleth (coloured against the target); return its legend classes and break text."""
    if subs is None or subs.empty:
        return [], ""
    subdistrict_layer(subs, target, simplify_m).add_to(m)
    classes, text = choropleth_legend(subs, target)
    if any(is_partial(a) for a in analysed_shares(subs)):
        classes.append((str(PARTIAL_STYLE["fillColor"]),
                        f"部分分析 partly analysed (< {PARTIAL_BELOW:.0%} of its residents inside the extract; "
                        "dashed)"))
    return classes, text


def add_service_area(m: folium.Map, area: gpd.GeoDataFrame | None, minutes: float, simplify_m: float) -> list[str]:
    """Add the area reached within the threshold (all facilities together)."""
    if area is None or area.empty:
        return []
    service_area_layer(area, minutes, simplify_m).add_to(m)
    return [SWATCH.format("#4393c3", ".5") + f"{minutes:g} 分钟服务范围 service area"]


def add_catchments(m: folium.Map, catch: gpd.GeoDataFrame | None, simplify_m: float) -> list[str]:
    """Each facility's own street area, one layer per threshold (5/10/15 min bands), off by default."""
    if catch is None or catch.empty:
        return []
    rows = []
    for minutes in sorted(catch["minutes"].astype(float).unique(), reverse=True):
        sub = catch[catch["minutes"].astype(float) == minutes]
        color = BAND_COLORS.get(int(minutes), "#6baed6")
        group = folium.FeatureGroup(name=f"各设施 {minutes:g} 分钟范围 Catchment per facility, {minutes:g} min",
                                    show=False)
        props = pd.DataFrame({"name": sub["name"].fillna("").astype(str).to_numpy(),
                              "minutes": f"{minutes:g} min",
                              "style": [{"color": color, "weight": 1.5, "fillColor": color, "fillOpacity": 0.2}]
                              * len(sub)})
        folium.GeoJson(collection(geometry(sub, simplify_m), props),
                       tooltip=tooltip(["name", "minutes"], ["设施 Facility", "步行 Walk"])).add_to(group)
        group.add_to(m)
        rows.append(SWATCH.format(color, ".6") + f"各设施 {minutes:g} 分钟范围 per facility, {minutes:g} min (off)")
    return rows


def add_residents(m: folium.Map, pts: gpd.GeoDataFrame, max_points: int, grid_m: float) -> list[str]:
    """Covered (off by default), outside-the-extract (off) and uncovered residents (on)."""
    extras = []
    covered = pts["covered"].astype(bool)
    if covered.any():
        dots_layer(pts[covered], "已覆盖居民 Covered residents", covered=True, max_points=max_points,
                   cell_m=grid_m).add_to(m)
        extras.append(f'<span style="color:{COVERED_COLOR}">●</span> 已覆盖居民 covered (layer off by default)')
    outside = (pts["status"] == Status.OUTSIDE).to_numpy()
    if outside.any():
        dots_layer(pts[outside], "路网范围外居民（不计入）Residents outside the street extract", covered=True,
                   max_points=max_points, cell_m=grid_m, color="#969696").add_to(m)
        extras.append('<span style="color:#969696">●</span> 路网范围外居民 outside the street extract (layer off)')
    if (~covered & ~outside).any():
        dots_layer(pts[~covered & ~outside], "未覆盖居民 Uncovered residents", covered=False, max_points=max_points,
                   cell_m=grid_m).add_to(m)
        extras.append(f'<span style="color:{STATUS_LABEL[Status.OK][0]}">●</span> 未覆盖居民 uncovered '
                      "(area ∝ residents)")
        if (pts.loc[~covered & ~outside, "status"] != Status.OK).any():
            extras.append(f'<span style="color:{STATUS_LABEL[Status.TOO_FAR][0]}">●</span> '
                          "离路网过远 too far from the street network (uncovered)")
    return extras


def add_facilities(m: folium.Map, fac: gpd.GeoDataFrame, minutes: float) -> list[str]:
    """One layer per facility type; facilities off the street network hollow, in their own layer."""
    used = fac["snapped"].astype(bool) if "snapped" in fac.columns else pd.Series(True, index=fac.index)
    groups = facility_layers(fac[used], minutes)
    extras = []
    if (~used).any():
        groups += facility_layers(fac[~used], minutes, off_network=True)
        extras.append("□ 空心：路网外未计入的设施 hollow: facility off the street network, not counted")
    for group in groups:
        group.add_to(m)
    return extras


def _site_label(gdf: gpd.GeoDataFrame) -> pd.Series:
    for col in ("label", "name", "candidate_id"):
        if col in gdf.columns:
            text = gdf[col].astype(object).where(gdf[col].notna(), None)
            if col != "candidate_id" and "candidate_id" in gdf.columns:
                text = text.fillna(gdf["candidate_id"].astype(str))
            if text.notna().all():
                return text.astype(str)
    return pd.Series([str(i) for i in gdf.index], index=gdf.index)


def add_candidates(m: folium.Map, cand: gpd.GeoDataFrame | None) -> list[str]:
    """Candidate sites as dots sized by their solo gain; the layer is off by default (it hides the result)."""
    if cand is None or cand.empty:
        return []
    group = folium.FeatureGroup(name="候选点 Candidate sites", show=False)
    sub = cand["subdistrict"].astype(str) if "subdistrict" in cand.columns else pd.Series("", index=cand.index)
    props = pd.DataFrame({"name": _site_label(cand).to_numpy(), "gain": [num(g) for g in cand["gain"]],
                          "subdistrict": sub.to_numpy(),
                          "style": [{"radius": float(r)} for r in radii(cand["gain"].astype(float), 6)]})
    marker = folium.CircleMarker(radius=4, color="#7f3b08", weight=1.5, fill=True, fill_color="#fdb863",
                                 fill_opacity=0.8)
    tip = tooltip(["name", "gain", "subdistrict"], ["候选点 Candidate", "单独新增 Gain alone", "街道 Subdistrict"])
    folium.GeoJson(collection(geometry(cand, 0), props), marker=marker, tooltip=tip).add_to(group)
    group.add_to(m)
    return ['<span style="color:#fdb863">●</span> 候选点 candidate site (layer off by default)']


def add_chosen(m: folium.Map, cho: gpd.GeoDataFrame | None) -> list[str]:
    """Add the chosen sites (stars) labelled "#1 +49,682".

    Each label is the site's gain given the sites chosen before it, so the labels add up to the plan's
    total (named in the layer and the legend); the solo gain is in the popup.
    """
    if cho is None or cho.empty:
        return []
    step = cho["assigned"] if "assigned" in cho.columns else cho["gain"]
    total = float(step.sum())
    group = folium.FeatureGroup(name=f"选址方案 Chosen sites (+{num(total)} in total)", show=True)
    for (rank, row), name, inc in zip(enumerate(cho.itertuples(), 1), _site_label(cho), step, strict=True):
        svg = STAR + f'<span class="siting-gain" data-gain="{float(inc):.0f}">#{rank} +{num(inc)}</span>'
        hover = html_text(f"#{rank} {name} · 新增 +{num(inc)}（按选择顺序 in order of choice）")
        text = (f"<b>#{rank} {html_text(name)}</b><br>按选择顺序新增 gain in order of choice: +{num(inc)}<br>"
                f"单独新增 gain on its own (not additive): {num(row.gain)}<br>"
                f"方案合计 plan total: +{num(total)}")
        folium.Marker([round(row.geometry.y, 6), round(row.geometry.x, 6)], tooltip=folium.Tooltip(hover),
                      popup=folium.Popup(text, max_width=320),
                      icon=folium.DivIcon(html=svg, icon_size=(20, 20), icon_anchor=(10, 10),
                                          class_name="siting-chosen")).add_to(group)
    group.add_to(m)
    return [f'<span style="color:#d4af00">★</span> 选址方案 chosen site: #order +residents added given the '
            f'sites before it; <span class="siting-total">total 合计 +{num(total)}</span>']


#: A partly analysed 街道 (:data:`siting._labels.PARTIAL_BELOW`): dashed orange outline, pale hatch-like fill,
#: never a pass/fail colour.
PARTIAL_STYLE = {"fillColor": "#fdb863", "color": "#b35806", "weight": 2.5, "dashArray": "6 5", "fillOpacity": 0.18}


def partial_text(share: float) -> str:
    """" · 部分分析 partial: 14 % analysed" for a partly analysed 街道, else ""."""
    return f" · 部分分析 partial: {100 * share:.0f} % analysed" if is_partial(share) else ""


def subdistrict_layer(subs: gpd.GeoDataFrame, target: float | None, simplify_m: float) -> folium.FeatureGroup:
    """街道 choropleth; per-feature style in ``properties.style`` (folium applies it without a style_function).

    A partly analysed 街道 (:func:`is_partial`) is drawn dashed and pale (:data:`PARTIAL_STYLE`), its rate
    followed by the share analysed.
    """
    group = folium.FeatureGroup(name="街道覆盖率 Subdistrict coverage", show=True)
    tgt = subs["target"].astype(float).fillna(np.nan if target is None else target)
    share = analysed_shares(subs)
    props = pd.DataFrame({
        "subdistrict": subs["subdistrict"].astype(str).to_numpy(), "district": subs["district"].astype(str).to_numpy(),
        "rate": [pct(r) + partial_text(a) for r, a in zip(subs["coverage_rate"], share, strict=True)],
        "target": [pct(t) for t in tgt],
        "gap": [num(g) for g in subs["gap_residents"]], "population": [num(p) for p in subs["population"]],
        "style": [PARTIAL_STYLE if is_partial(a) else
                  {"fillColor": fill(r, t), "color": "#444444", "weight": 1, "fillOpacity": 0.5}
                  for r, t, a in zip(subs["coverage_rate"].astype(float), tgt, share, strict=True)]})
    tip = tooltip(["subdistrict", "district", "rate", "target", "gap", "population"],
                  ["街道 Subdistrict", "区 District", "覆盖率 Coverage", "目标 Target", "缺口 Gap", "人口 Population"])
    folium.GeoJson(collection(geometry(subs, simplify_m), props), tooltip=tip).add_to(group)
    return group


def dots_layer(pts: gpd.GeoDataFrame, name: str, *, covered: bool, max_points: int,
               cell_m: float, color: str | None = None) -> folium.FeatureGroup:
    """Build the population dots (area ∝ residents); above ``max_points`` aggregated to a ``cell_m`` grid.

    Covered dots are green; uncovered ones magenta when on the network (``status == "ok"``), grey when
    too far from it or outside the network area.
    """
    aggregated = len(pts) > max_points
    if aggregated:
        pts = grid(pts, cell_m)
        name += f" ({cell_m:g} m grid 网格)"
    group = folium.FeatureGroup(name=name, show=not covered)
    # smaller dots when there are many of them, so a whole district stays readable at low zoom
    # a fixed scale (4 px per 1,000 residents, area ∝ residents) so equal 小区 shares give equal, small dots
    radius = radii(pts["population"].astype(float), 11.0 if len(pts) <= 500 else 7.0 if len(pts) <= 3000 else 5.0,
                   per=1000.0)
    if covered or aggregated:
        colors = None
        color = color or (COVERED_COLOR if covered else STATUS_LABEL[Status.OK][0])
    else:
        colors = [STATUS_LABEL.get(s, STATUS_LABEL[Status.OUTSIDE])[0] for s in pts["status"]]
        color = color or STATUS_LABEL[Status.OK][0]
    styles: list[dict[str, Any]] = [{"radius": float(r)} for r in radius]
    if colors is not None and len(set(colors)) > 1:
        styles = [{"radius": st["radius"], "color": c, "fillColor": c} for st, c in zip(styles, colors, strict=True)]
    props = pd.DataFrame({"population": [num(p) for p in pts["population"]], "style": styles})
    if aggregated:
        props["where"] = [f"{int(n)} points · {cell_m:g} m cell 网格" for n in pts["n"]]
        fields, aliases = ["population", "where"], ["人口 Residents", "网格 Grid"]
    else:
        props["walk"] = [num(w, "{:.1f} min") if math.isfinite(w) else "不可达 unreachable"
                         for w in pts["walk_min"].astype(float)]
        props["subdistrict"] = pts["subdistrict"].astype(str).to_numpy()
        fields, aliases = ["population", "walk", "subdistrict"], ["人口 Residents", "步行时间 Walk", "街道 Subdistrict"]
        if not covered:
            props["status"] = [STATUS_LABEL.get(s, ("", str(s)))[1] for s in pts["status"]]
            fields, aliases = fields + ["status"], aliases + ["状态 Status"]
    marker = folium.CircleMarker(radius=3, color=color, weight=1, opacity=0.9, fill=True, fill_opacity=0.55)
    folium.GeoJson(collection(geometry(pts, 0), props), marker=marker, tooltip=tooltip(fields, aliases)).add_to(group)
    return group


def facility_layers(fac: gpd.GeoDataFrame, minutes: float, *, off_network: bool = False) -> list[folium.FeatureGroup]:
    """One layer per facility type; inline-SVG DivIcons (no marker images), popup with residents within.

    ``off_network``: facilities too far from the street network to be counted, drawn hollow in one layer.
    """
    groups = []
    within = fac["residents_within"] if "residents_within" in fac.columns else pd.Series(np.nan, index=fac.index)
    for ftype in [t for t in FACILITY_STYLE if (fac["type"] == t).any()] + sorted(
            set(fac["type"].astype(str)) - set(FACILITY_STYLE)):
        zh, en, color, path, size = FACILITY_STYLE.get(ftype, FACILITY_STYLE["other"])
        sel = fac["type"].astype(str) == ftype
        sub = fac[sel]
        props = pd.DataFrame({"name": sub["name"].fillna("").astype(str).to_numpy(),
                              "type": f"{zh} {en}" if ftype in FACILITY_STYLE else ftype,
                              "source": sub["source"].fillna("").astype(str).to_numpy() if "source" in sub else "",
                              "within": [num(w) for w in within[sel]]})
        paint = f'fill="#ffffff" stroke="{color}" stroke-width="2"' if off_network else (
            f'fill="{color}" stroke="#ffffff" stroke-width="1.2"')
        svg = f'<svg width="{size}" height="{size}" viewBox="0 0 14 14"><path d="{path}" {paint}/></svg>'
        if off_network:
            props["within"] = "未计入：离路网 > 500 m not counted: off the street network"
        icon = folium.DivIcon(html=svg, icon_size=(size, size), icon_anchor=(size // 2, size // 2),
                              class_name=f"siting-fac siting-fac-{re.sub(r'[^A-Za-z0-9_-]', '_', ftype)}")
        box = popup(["name", "type", "source", "within"], ["名称 Name", "类型 Type", "来源 Source",
                                                            f"{minutes:g} 分钟内居民 Residents within {minutes:g} min"])
        name = f"设施：{zh} Facilities: {en}"
        group = folium.FeatureGroup(name=name + (" — 路网外未计入 off network, not counted" if off_network else ""),
                                    show=True)
        folium.GeoJson(collection(geometry(sub, 0), props), marker=folium.Marker(icon=icon), popup=box,
                       tooltip=tooltip(["name"], ["名称 Name"])).add_to(group)
        groups.append(group)
    return groups


def service_area_layer(area: gpd.GeoDataFrame, minutes: float, simplify_m: float) -> folium.FeatureGroup:
    """Build the area reached within the threshold, drawn as given (translucent blue)."""
    group = folium.FeatureGroup(name=f"{minutes:g} 分钟服务范围 Service area", show=True)
    props = pd.DataFrame({"style": [{"color": "#2166ac", "weight": 1, "fillColor": "#4393c3", "fillOpacity": 0.3}]
                          * len(area)})
    folium.GeoJson(collection(geometry(area, simplify_m), props)).add_to(group)
    return group


def scenario_layer(name: str, subs: gpd.GeoDataFrame | None, facilities: gpd.GeoDataFrame,
                   added: gpd.GeoDataFrame, closed: gpd.GeoDataFrame, summary: dict[str, Any], *,
                   simplify_m: float, show: bool) -> folium.FeatureGroup:
    """Build one scenario as one base layer (radio button).

    The layer shows 街道 coverage, counted facilities (small dots), facilities added (green ✚) and closed
    (red ✖; a moved facility is closed at its old place and added at the new one).
    """
    rate = pct(summary.get("coverage_rate"))
    group = folium.FeatureGroup(name=f"{html_text(name)} — {rate}", overlay=False, show=show)
    target = summary.get("target")
    if subs is not None and not subs.empty:
        for child in subdistrict_layer(subs, None if target is None or pd.isna(target) else float(target),
                                       simplify_m)._children.values():
            group.add_child(child)
    used = facilities[facilities["snapped"].astype(bool)] if "snapped" in facilities else facilities
    for frame, color, mark, label in ((used, "#1f3a93", "", "设施 facility"), (added, "#1a9850", "✚", "新增 added"),
                                      (closed, "#d73027", "✖", "关闭 closed")):
        if frame is None or frame.empty:
            continue
        for row in frame.itertuples():
            text = html_text(f"{label}: {getattr(row, 'name', '')}")
            at = [round(row.geometry.y, 6), round(row.geometry.x, 6)]
            if mark:
                svg = (f'<span style="color:{color};font:bold 18px sans-serif;text-shadow:0 0 2px #fff,0 0 2px #fff">'
                       f"{mark}</span>")
                folium.Marker(at, tooltip=folium.Tooltip(text), icon=folium.DivIcon(
                    html=svg, icon_size=(18, 18), icon_anchor=(9, 11), class_name="siting-fac")).add_to(group)
            else:
                folium.CircleMarker(at, radius=5, color="#ffffff", weight=1, fill=True, fill_color=color,
                                    fill_opacity=0.9, tooltip=folium.Tooltip(text)).add_to(group)
    return group


SUPPLY_COLORS = ("#bdbdbd", "#fee5d9", "#fcae91", "#fb6a4a", "#2c7fb8")


def supply_layer(pts: gpd.GeoDataFrame, column: str = "supply_per_10k", *, target: float | None = 4.5,
                 label: str = "每万人全科医生 GPs per 10,000 (2SFCA)", show: bool = False) -> folium.FeatureGroup:
    """Build the population points coloured by supply per 10,000 residents (:mod:`siting.engine.access`).

    Grey means no facility within the catchment, reds below ``target`` (thirds of it), blue at or above it
    (quartiles without a target).
    """
    pts = pts[pts[column].notna()]
    values = pts[column].astype(float).to_numpy()
    positive = values[values > 0]
    top = float(target) if target else float(np.quantile(positive, 0.75)) if len(positive) else 1.0
    breaks = [0.0, top / 3, 2 * top / 3, top]
    cls = np.where(values <= 0, 0, np.searchsorted(breaks, values, side="right"))
    group = folium.FeatureGroup(name=html_text(label), show=show)
    props = pd.DataFrame({
        "supply": [num(v, "{:.2f}") for v in values], "walk": [num(w, "{:.1f} min") if math.isfinite(w) else "—"
                                                                for w in pts["walk_min"].astype(float)],
        "subdistrict": pts["subdistrict"].astype(str).to_numpy(),
        "style": [{"radius": 4.0, "color": SUPPLY_COLORS[c], "fillColor": SUPPLY_COLORS[c]} for c in cls]})
    marker = folium.CircleMarker(radius=4, weight=1, opacity=0.9, fill=True, fill_opacity=0.8)
    tip = tooltip(["supply", "walk", "subdistrict"], [label, "步行时间 Walk", "街道 Subdistrict"])
    folium.GeoJson(collection(geometry(pts, 0), props), marker=marker, tooltip=tip).add_to(group)
    return group
