"""Layer builders and HTML boxes for :mod:`siting.maps` (private: the API is in ``maps.py``)."""

from __future__ import annotations

import html
import math
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from jinja2 import Template

ATTRIBUTION = '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors (ODbL)'
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

#: Facility types: (Chinese label, English label, colour, SVG path in a 14×14 box, icon size in px).
FACILITY_STYLE: dict[str, tuple[str, str, str, str, int]] = {
    "center": ("社区卫生服务中心", "centre", "#1f3a93", "M1 1H13V13H1Z", 18),
    "subcenter": ("分中心", "sub-centre", "#6a3d9a", "M7 0L14 7L7 14L0 7Z", 16),
    "station": ("社区卫生服务站", "station", "#1f78b4", "M2 7A5 5 0 1 0 12 7A5 5 0 1 0 2 7Z", 13),
    "village_clinic": ("村卫生室", "village clinic", "#b15928", "M7 1L13 13H1Z", 14),
    "kiosk": ("健康驿站", "health kiosk", "#ff7f00", "M3 7A4 4 0 1 0 11 7A4 4 0 1 0 3 7Z", 11),
    "hospital": ("医院", "hospital", "#e31a1c", "M5 1H9V5H13V9H9V13H5V9H1V5H5Z", 16),
    "other": ("其他", "other", "#555555", "M3 3H11V11H3Z", 11),
}
STATUS_LABEL = {
    "ok": ("#c51b7d", "步行超时 beyond threshold"),
    "too_far_from_network": ("#636363", "离路网过远 too far from network"),
    "outside_network_area": ("#636363", "路网范围外 outside network area"),
}
#: Choropleth classes relative to the target (percentage points below it) and absolute classes (no target).
TARGET_CLASSES = [(-1e9, -0.20, "#b2182b", "低于目标 >20 pp below target"),
                  (-0.20, -0.10, "#ef8a62", "低于目标 10–20 pp below"),
                  (-0.10, -1e-9, "#fddbc7", "低于目标 0–10 pp below"),
                  (-1e-9, 1e9, "#5aae61", "达标 at/above target")]
ABSOLUTE_CLASSES = [(0.0, 0.5, "#eff3ff", "< 50 %"), (0.5, 0.7, "#bdd7e7", "50–70 %"),
                    (0.7, 0.85, "#6baed6", "70–85 %"), (0.85, 0.95, "#3182bd", "85–95 %"),
                    (0.95, 1e9, "#08519c", "≥ 95 %")]
NO_DATA = "#cccccc"
COVERED_COLOR = "#1a9850"
MODE_LABEL = {"walk": "步行 walk", "elderly": "老年步行 elderly walk", "bike": "骑行 bike"}

#: CSS of the title, summary and legend boxes (fixed over the map).
BOX_STYLE = ("position:fixed;z-index:1000;background:rgba(255,255,255,.92);border:1px solid #888;border-radius:4px;"
             "padding:6px 9px;font:12px/1.35 'Noto Sans CJK SC','Microsoft YaHei',sans-serif;")


class Attribution(MacroElement):
    """Adds an attribution to the map's attribution control (drawn even without a basemap)."""

    _template = Template("""{% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
    {% endmacro %}""")

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Attribution"
        self.text = text


def geometry(gdf: gpd.GeoDataFrame, simplify_m: float) -> np.ndarray:
    """Geometries simplified by ``simplify_m`` metres (polygons/lines) and rounded to 6 decimals (~0.1 m)."""
    geoms = gdf.geometry
    if simplify_m > 0 and not geoms.geom_type.isin(["Point", "MultiPoint"]).all() and len(gdf):
        utm = gdf.estimate_utm_crs()
        geoms = geoms.to_crs(utm).simplify(simplify_m, preserve_topology=True).to_crs(4326)
    return shapely.transform(np.asarray(geoms.values), lambda c: np.round(c, 6))


def collection(geoms: np.ndarray, props: pd.DataFrame) -> dict[str, Any]:
    """A GeoJSON FeatureCollection dict; property values must already be JSON-friendly."""
    records = props.to_dict("records")
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": rec, "geometry": shapely.geometry.mapping(g)}
        for rec, g in zip(records, geoms, strict=True)]}


def num(x: Any, fmt: str = "{:,.0f}") -> str:
    """``x`` formatted with ``fmt``; "—" for None, NaN and infinities."""
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) or pd.isna(x) else fmt.format(x)


def pct(x: Any) -> str:
    """A 0–1 share as "87.3 %" ("—" when missing)."""
    return num(None if x is None or pd.isna(x) else 100.0 * float(x), "{:.1f} %")


def fill(rate: float, target: float | None) -> str:
    """Choropleth colour: classes of (rate − target) when there is a target, absolute classes otherwise."""
    if rate is None or pd.isna(rate):
        return NO_DATA
    if target is None or pd.isna(target):
        return next(c for lo, hi, c, _ in ABSOLUTE_CLASSES if lo <= rate < hi)
    return next(c for lo, hi, c, _ in TARGET_CLASSES if lo <= rate - target < hi)


def radii(pop: pd.Series, largest: float = 11.0, per: float | None = None) -> pd.Series:
    """Dot radii in px: area proportional to population, 2 px minimum, ``largest`` + 2 px maximum.

    ``per``: the population drawn at 4 px extra radius (a fixed scale, so equal residents give equal,
    modest dots whatever the largest value); default: the largest value gets ``largest``.
    """
    pop = pop.fillna(0.0).clip(lower=0)
    if per is not None:
        return (2.0 + np.minimum(largest, 4.0 * np.sqrt(pop / per))).round(1)
    top = float(pop.max()) if len(pop) and pop.max() > 0 else 1.0
    return (2.0 + largest * np.sqrt(pop / top)).round(1)


def grid(points: gpd.GeoDataFrame, cell_m: float) -> gpd.GeoDataFrame:
    """Aggregate points to ``cell_m`` square cells: population sum at the population-weighted centroid."""
    utm = points.to_crs(points.estimate_utm_crs())
    w = utm["population"].clip(lower=0).to_numpy(float) + 1e-9
    df = pd.DataFrame({"x": utm.geometry.x * w, "y": utm.geometry.y * w, "w": w,
                       "population": utm["population"].to_numpy(float), "n": 1,
                       "gx": np.floor(utm.geometry.x / cell_m), "gy": np.floor(utm.geometry.y / cell_m)})
    agg = df.groupby(["gx", "gy"], sort=False).sum()
    geom = gpd.points_from_xy(agg["x"] / agg["w"], agg["y"] / agg["w"], crs=utm.crs)
    out = gpd.GeoDataFrame({"population": agg["population"].to_numpy(), "n": agg["n"].to_numpy()}, geometry=geom)
    return out.to_crs(4326)


def tooltip(fields: list[str], aliases: list[str]) -> folium.GeoJsonTooltip:
    """Hover tooltip listing feature properties (no jQuery needed, unlike ``folium.Popup``)."""
    return folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True)


def subdistrict_layer(subs: gpd.GeoDataFrame, target: float | None, simplify_m: float) -> folium.FeatureGroup:
    """街道 choropleth; per-feature style in ``properties.style`` (folium applies it without a style_function)."""
    group = folium.FeatureGroup(name="街道覆盖率 Subdistrict coverage", show=True)
    tgt = subs["target"].astype(float).fillna(np.nan if target is None else target)
    props = pd.DataFrame({
        "subdistrict": subs["subdistrict"].astype(str).to_numpy(), "district": subs["district"].astype(str).to_numpy(),
        "rate": [pct(r) for r in subs["coverage_rate"]], "target": [pct(t) for t in tgt],
        "gap": [num(g) for g in subs["gap_residents"]], "population": [num(p) for p in subs["population"]],
        "style": [{"fillColor": fill(r, t), "color": "#444444", "weight": 1, "fillOpacity": 0.5}
                  for r, t in zip(subs["coverage_rate"].astype(float), tgt, strict=True)]})
    tip = tooltip(["subdistrict", "district", "rate", "target", "gap", "population"],
                  ["街道 Subdistrict", "区 District", "覆盖率 Coverage", "目标 Target", "缺口 Gap", "人口 Population"])
    folium.GeoJson(collection(geometry(subs, simplify_m), props), tooltip=tip).add_to(group)
    return group


def dots_layer(pts: gpd.GeoDataFrame, name: str, *, covered: bool, max_points: int,
               cell_m: float, color: str | None = None) -> folium.FeatureGroup:
    """Population dots (area ∝ residents); above ``max_points`` aggregated to a ``cell_m`` grid.

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
        color = color or (COVERED_COLOR if covered else STATUS_LABEL["ok"][0])
    else:
        colors = [STATUS_LABEL.get(s, STATUS_LABEL["outside_network_area"])[0] for s in pts["status"]]
        color = color or STATUS_LABEL["ok"][0]
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
                              class_name=f"siting-fac siting-fac-{ftype}")
        popup = folium.GeoJsonPopup(fields=["name", "type", "source", "within"],
                                    aliases=["名称 Name", "类型 Type", "来源 Source",
                                             f"{minutes:g} 分钟内居民 Residents within {minutes:g} min"])
        name = f"设施：{zh} Facilities: {en}"
        group = folium.FeatureGroup(name=name + (" — 路网外未计入 off network, not counted" if off_network else ""),
                                    show=True)
        folium.GeoJson(collection(geometry(sub, 0), props), marker=folium.Marker(icon=icon), popup=popup,
                       tooltip=tooltip(["name"], ["名称 Name"])).add_to(group)
        groups.append(group)
    return groups


def sites_layers(cand: gpd.GeoDataFrame | None, chosen: gpd.GeoDataFrame | None) -> list[folium.FeatureGroup]:
    """Candidate sites (dots sized by gain; off by default above 500) and chosen sites (star + "+gain" label)."""
    groups = []
    for gdf, chosen_layer in ((cand, False), (chosen, True)):
        if gdf is None or gdf.empty:
            continue
        label = (gdf["name"] if "name" in gdf.columns else gdf.get("candidate_id", pd.Series(gdf.index))).astype(str)
        sub = gdf["subdistrict"].astype(str) if "subdistrict" in gdf.columns else pd.Series("", index=gdf.index)
        if not chosen_layer:
            group = folium.FeatureGroup(name="候选点 Candidate sites", show=len(gdf) <= 500)
            props = pd.DataFrame({"name": label.to_numpy(), "gain": [num(g) for g in gdf["gain"]],
                                  "subdistrict": sub.to_numpy(),
                                  "style": [{"radius": float(r)} for r in radii(gdf["gain"].astype(float), 6)]})
            marker = folium.CircleMarker(radius=4, color="#7f3b08", weight=1.5, fill=True, fill_color="#fdb863",
                                         fill_opacity=0.8)
            tip = tooltip(["name", "gain", "subdistrict"], ["候选点 Candidate", "新增覆盖 Gain", "街道 Subdistrict"])
            folium.GeoJson(collection(geometry(gdf, 0), props), marker=marker, tooltip=tip).add_to(group)
        else:
            group = folium.FeatureGroup(name="选址方案 Chosen sites (+gain)", show=True)
            for (rank, row), name, sd in zip(enumerate(gdf.itertuples(), 1), label, sub, strict=True):
                text = f"+{num(row.gain)}"
                svg = ('<svg width="20" height="20" viewBox="0 0 20 20"><path d="M10 1L12.6 7.2L19.5 7.6L14.2 12L15.9 '
                       '18.6L10 15L4.1 18.6L5.8 12L0.5 7.6L7.4 7.2Z" fill="#ffd700" stroke="#000" stroke-width="1"/>'
                       f'</svg><span class="siting-gain">{html.escape(text)}</span>')
                # folium puts tooltip text in a JS template literal: no backticks or ${ in it
                hover = html.escape(f"#{rank} {name} · 新增覆盖 gain {text} · {sd}")
                hover = hover.replace("`", "&#96;").replace("$", "&#36;")
                folium.Marker([round(row.geometry.y, 6), round(row.geometry.x, 6)], tooltip=folium.Tooltip(hover),
                              icon=folium.DivIcon(html=svg, icon_size=(20, 20), icon_anchor=(10, 10),
                                                  class_name="siting-chosen")).add_to(group)
        groups.append(group)
    return groups


def service_area_layer(area: gpd.GeoDataFrame, minutes: float, simplify_m: float) -> folium.FeatureGroup:
    """The area reached within the threshold, drawn as given (translucent blue)."""
    group = folium.FeatureGroup(name=f"{minutes:g} 分钟服务范围 Service area", show=True)
    props = pd.DataFrame({"style": [{"color": "#2166ac", "weight": 1, "fillColor": "#4393c3", "fillOpacity": 0.3}]
                          * len(area)})
    folium.GeoJson(collection(geometry(area, simplify_m), props)).add_to(group)
    return group


def choropleth_legend(subs: gpd.GeoDataFrame, target: float | None) -> tuple[list[tuple[str, str]], str]:
    """Legend rows (colour, label) of the 街道 choropleth and the text naming its colour break."""
    text = f"(break 分界 = target {pct(target)})" if target is not None else ""
    classes: list[tuple[str, str]] = []
    has_target = subs["target"].astype(float).fillna(np.nan if target is None else target).notna()
    if has_target.any():
        classes += [(c, t) for _, _, c, t in TARGET_CLASSES]
        if target is None or (subs["target"].notna() & (subs["target"] != target)).any():
            text = "(break 分界 = district target 区目标)"
    if (~has_target).any():
        classes += [(c, t) for _, _, c, t in ABSOLUTE_CLASSES]
    return classes + [(NO_DATA, "无数据 no data")], text


def summary_html(s: dict[str, Any]) -> str:
    """Summary box: rate, target, gap (pp and residents, or locations when ``unit == "locations"``), mode."""
    locations = s.get("unit") == "locations"
    unit = "地点 locations" if locations else "居民 residents"
    share = "地点占比 share of locations" if locations else "居民覆盖率 share of residents"
    rate, target = s.get("coverage_rate"), s.get("target")
    lines = [f"<b>{share}</b>: {pct(rate)} ({num(s.get('population_covered'))} / "
             f"{num(s.get('population_total'))} {unit})"]
    if target is not None and not pd.isna(target):
        gap_pp = max(float(target) - float(rate), 0.0) * 100 if rate is not None and not pd.isna(rate) else math.nan
        lines += [f"<b>目标 Target</b>: {pct(target)}",
                  f"<b>缺口 Gap</b>: {num(gap_pp, '{:.1f} pp')} · {num(s.get('gap_residents'))} {unit}"]
    mode = MODE_LABEL.get(str(s.get("mode")), html.escape(str(s.get("mode", ""))))
    if s.get("mode") is not None or s.get("minutes") is not None:
        lines.append(f"{mode} · {num(s.get('speed_kmh'), '{:g} km/h')} · {num(s.get('minutes'), '{:g} min')}")
    return f'<div class="siting-summary" style="{BOX_STYLE}top:80px;left:10px;">' + "<br>".join(lines) + "</div>"


def legend_html(classes: list[tuple[str, str]], target_text: str, types: list[str], extras: list[str]) -> str:
    """Legend box: choropleth classes (with the break), facility symbols, then the ``extras`` rows."""
    rows = [f"<b>街道覆盖率 Coverage</b> {target_text}"] if classes else []
    rows += [f'<i style="display:inline-block;width:14px;height:10px;background:{c};border:1px solid #444"></i> '
             f"{html.escape(t)}" for c, t in classes]
    rows += ["<b>设施 Facilities</b>"] + [
        f'<svg width="12" height="12" viewBox="0 0 14 14"><path d="{FACILITY_STYLE[t][3]}" '
        f'fill="{FACILITY_STYLE[t][2]}"/></svg> {FACILITY_STYLE[t][0]} {FACILITY_STYLE[t][1]}' for t in types]
    rows += extras
    return f'<div class="siting-legend" style="{BOX_STYLE}bottom:28px;right:10px;">' + "<br>".join(rows) + "</div>"




def scenario_layer(name: str, subs: gpd.GeoDataFrame | None, facilities: gpd.GeoDataFrame,
                   added: gpd.GeoDataFrame, closed: gpd.GeoDataFrame, summary: dict[str, Any], *,
                   simplify_m: float, show: bool) -> folium.FeatureGroup:
    """One scenario as one base layer (radio button): 街道 coverage, counted facilities (small dots), facilities
    added (green ✚) and closed (red ✖; a moved facility is closed at its old place and added at the new one)."""
    rate = pct(summary.get("coverage_rate"))
    group = folium.FeatureGroup(name=f"{html.escape(name)} — {rate}", overlay=False, show=show)
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
            text = html.escape(f"{label}: {getattr(row, 'name', '')}").replace("`", "&#96;").replace("$", "&#36;")
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
