"""Styles, helpers and HTML boxes of :mod:`siting.outputs.maps` (the layer builders are in ``_maplayers.py``)."""

from __future__ import annotations

import math
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from jinja2 import Template

from ..io._utm import utm_crs
from ._palette import ABSOLUTE_CLASSES, FACILITY_STYLE, MODE_LABEL, NO_DATA, TARGET_CLASSES
from ._text import html_text

ATTRIBUTION = '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors (ODbL)'
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


#: Page CSS: marker icons without Leaflet's white box, chosen-site labels, a compact layer panel.
PAGE_CSS = ("<style>.siting-fac,.siting-chosen{background:none;border:none}"
            ".siting-chosen span{font:bold 11px sans-serif;"
            "position:absolute;left:20px;top:3px;white-space:nowrap;text-shadow:0 0 2px #fff,0 0 2px #fff}"
            ".leaflet-control-layers{font-size:12px}</style>")

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
        utm = utm_crs(gdf)
        geoms = geoms.to_crs(utm).simplify(simplify_m, preserve_topology=True).to_crs(4326)
    return shapely.transform(np.asarray(geoms.values), lambda c: np.round(c, 6))


def collection(geoms: np.ndarray, props: pd.DataFrame) -> dict[str, Any]:
    """Return a GeoJSON FeatureCollection dict; property values must already be JSON-friendly.

    Every text property is escaped (:func:`siting.outputs._text.html_text`): folium's tooltips and popups
    write properties into ``innerHTML``, and the names in them come from input files.
    """
    records = [{k: html_text(v) if isinstance(v, str) else v for k, v in rec.items()}
               for rec in props.to_dict("records")]
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": rec, "geometry": shapely.geometry.mapping(g)}
        for rec, g in zip(records, geoms, strict=True)]}


def num(x: Any, fmt: str = "{:,.0f}") -> str:
    """``x`` formatted with ``fmt``; "—" for None, NaN and infinities."""
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) or pd.isna(x) else fmt.format(x)


def pct(x: Any) -> str:
    """Format a 0–1 share as "87.3 %" ("—" when missing)."""
    return num(None if x is None or pd.isna(x) else 100.0 * float(x), "{:.1f} %")


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
    utm = points.to_crs(utm_crs(points))
    w = utm["population"].clip(lower=0).to_numpy(float) + 1e-9
    df = pd.DataFrame({"x": utm.geometry.x * w, "y": utm.geometry.y * w, "w": w,
                       "population": utm["population"].to_numpy(float), "n": 1,
                       "gx": np.floor(utm.geometry.x / cell_m), "gy": np.floor(utm.geometry.y / cell_m)})
    agg = df.groupby(["gx", "gy"], sort=False).sum()
    geom = gpd.points_from_xy(agg["x"] / agg["w"], agg["y"] / agg["w"], crs=utm.crs)
    out = gpd.GeoDataFrame({"population": agg["population"].to_numpy(), "n": agg["n"].to_numpy()}, geometry=geom)
    return out.to_crs(4326)


def tooltip(fields: list[str], aliases: list[str]) -> folium.GeoJsonTooltip:
    """Hover tooltip listing feature properties (no jQuery needed, unlike ``folium.Popup``).

    The properties are escaped by :func:`collection`; the ``aliases`` are escaped here.
    """
    return folium.GeoJsonTooltip(fields=fields, aliases=[html_text(a) for a in aliases], sticky=True)


def popup(fields: list[str], aliases: list[str]) -> folium.GeoJsonPopup:
    """Click popup listing feature properties (escaped by :func:`collection`; ``aliases`` escaped here)."""
    return folium.GeoJsonPopup(fields=fields, aliases=[html_text(a) for a in aliases])


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


def summary_html(s: dict[str, Any], note: str | None = None) -> str:
    """Build the info box.

    It shows the rate, target, gap (pp and residents, or locations when ``unit == "locations"``), mode,
    walking-time figures, what a partial analysis covers (``note``) and the data sources with years.
    """
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
    mode = MODE_LABEL.get(str(s.get("mode")), html_text(s.get("mode", "")))
    if s.get("mode") is not None or s.get("minutes") is not None:
        lines.append(f"{mode} · {num(s.get('speed_kmh'), '{:g} km/h')} · {num(s.get('minutes'), '{:g} min')}")
    within = s.get("share_within") or {}
    if within:
        lines.append(f"步行时间 walk: 平均 mean {num(s.get('walk_min_mean'), '{:.1f}')} · 中位 median "
                     f"{num(s.get('walk_min_median'), '{:.1f}')} min<br>"
                     + " · ".join(f"≤{html_text(k)} min {pct(v)}" for k, v in within.items()))
    if note:
        lines.append(f'<span class="siting-partial" style="color:#b35806">⚠ {html_text(note)}</span>')
    sources = [f"{html_text(r.get('what'))}: {html_text(r.get('source'))}, "
               f"{html_text(r.get('year') or '年份未注明 year not stated')}" for r in s.get("sources") or []]
    if sources:
        lines.append('<details class="siting-sources"><summary>数据来源 Data sources</summary>'
                     + "<br>".join(sources) + "</details>")
    return (f'<div class="siting-summary" style="{BOX_STYLE}top:80px;left:10px;max-width:330px">'
            + "<br>".join(lines) + "</div>")


def legend_html(classes: list[tuple[str, str]], target_text: str, types: list[str], extras: list[str]) -> str:
    """Legend box: choropleth classes (with the break), facility symbols, then the ``extras`` rows."""
    rows = [f"<b>街道覆盖率 Coverage</b> {target_text}"] if classes else []
    rows += [f'<i style="display:inline-block;width:14px;height:10px;background:{c};border:1px solid #444"></i> '
             f"{html_text(t)}" for c, t in classes]
    rows += ["<b>设施 Facilities</b>"] + [
        f'<svg width="12" height="12" viewBox="0 0 14 14"><path d="{FACILITY_STYLE[t][3]}" '
        f'fill="{FACILITY_STYLE[t][2]}"/></svg> {FACILITY_STYLE[t][0]} {FACILITY_STYLE[t][1]}' for t in types]
    rows += extras
    return f'<div class="siting-legend" style="{BOX_STYLE}bottom:28px;right:10px;">' + "<br>".join(rows) + "</div>"


