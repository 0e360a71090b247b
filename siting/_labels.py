"""Words shared by the map, the figures and the reports: title, partial-coverage line, data sources."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pandas as pd

MODE_ZH = {"walk": "步行", "elderly": "老年步行", "bike": "骑行"}
MODE_EN = {"walk": "walking", "elderly": "elderly walking", "bike": "cycling"}
OSM_CREDIT = "© OpenStreetMap contributors (ODbL)"
_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20[0-4]\d)(?!\d)")


def area_name(summary: dict[str, Any]) -> str:
    """Return the analysed district(s), "徐汇区" or "徐汇区、长宁区"; "研究区" when unknown."""
    names = [str(d) for d in summary.get("districts") or [] if d and str(d) != "(none)"]
    return "、".join(names) if names else "研究区"


def run_date(summary: dict[str, Any]) -> str:
    """Return the date the analysis was run (``summary["date"]``, else today), ISO format."""
    return str(summary.get("date") or dt.date.today().isoformat())


def title(summary: dict[str, Any]) -> str:
    """"徐汇区 · 15 分钟步行可达 · 2026-11-29" (plus "· 3 个新站点" for a site plan)."""
    minutes = float(summary.get("minutes") or 15)
    mode = str(summary.get("mode") or "walk")
    parts = [area_name(summary), f"{minutes:g} 分钟{MODE_ZH.get(mode, mode)}可达"]
    if summary.get("sites") is not None:
        parts.append(f"{int(summary['sites'])} 个新站点")
    return " · ".join(parts + [run_date(summary)])


def subtitle(summary: dict[str, Any]) -> str:
    """Return the English line under the title: "15-minute walking access to community health facilities"."""
    minutes = float(summary.get("minutes") or 15)
    mode = str(summary.get("mode") or "walk")
    extra = f", with {int(summary['sites'])} new site(s)" if summary.get("sites") is not None else ""
    return f"{minutes:g}-minute {MODE_EN.get(mode, mode)} access to community health facilities{extra}"


def extent_note(summary: dict[str, Any], subdistricts: pd.DataFrame | None) -> str | None:
    """Say what a partial analysis covers: "street extract covers 5 of 13 街道; 3 of 13 centres counted".

    ``None`` when every 街道 has residents inside the street extract and every facility is counted.
    """
    parts_zh, parts_en = [], []
    if subdistricts is not None and len(subdistricts) and "population" in subdistricts:
        n_all = int(len(subdistricts))
        n_in = int((subdistricts["population"].astype(float) > 0).sum())
        if n_in < n_all:
            parts_zh.append(f"路网范围含 {n_all} 个街道中的 {n_in} 个")
            parts_en.append(f"street extract covers {n_in} of {n_all} 街道")
    used = int(summary.get("n_facilities") or 0)
    unusable = int(summary.get("n_facilities_unusable") or 0)
    if unusable:
        types = set((summary.get("facilities_by_type") or {}).keys())
        what_en = "centres" if types == {"center"} else "facilities"
        parts_zh.append(f"{used + unusable} 个设施中 {used} 个计入")
        parts_en.append(f"{used} of {used + unusable} {what_en} counted")
    if not parts_en:
        return None
    return "；".join(parts_zh) + " · " + "; ".join(parts_en)


def osm_year(path: str | Path) -> str | None:
    """Return the year of an OSM file's data: Overpass ``osm_base``, else the newest ``timestamp`` in its head."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64_000).decode("utf-8", "replace")
    except OSError:
        return None
    hit = re.search(r'osm_base="(\d{4})', head) or re.search(r'<bounds[^>]*\btimestamp="(\d{4})', head)
    if hit:
        return hit.group(1)
    stamps = re.findall(r'timestamp="(\d{4})', head)
    return max(stamps) if stamps else None


def file_year(path: str | Path | None, column: str | None = None) -> str | None:
    """Return a year named in a file (or column) name: ``lianjia_xiaoqu_shanghai_2018_bd09.json`` → "2018"."""
    for text in (column, Path(path).name if path is not None else None):
        hit = _YEAR.search(str(text or ""))
        if hit:
            return hit.group(1)
    return None


def describe_sources(*, osm: str | Path | None = None, place: str | None = None,
                     facilities: str | Path | None = None, population: str | Path | None = None,
                     census: str | Path | None = None, census_column: str | None = None,
                     boundaries: str | Path | None = None) -> list[dict[str, str | None]]:
    """Return one row per input: ``what`` (bilingual), ``source`` (file name or description) and ``year``.

    The year comes from the OSM header or the file/column name (None when nothing states it).
    """
    rows: list[dict[str, str | None]] = []
    if osm is not None:
        rows.append({"what": "路网 streets", "source": f"OpenStreetMap ({Path(osm).name})", "year": osm_year(osm)})
    elif place is not None:
        rows.append({"what": "路网 streets", "source": f"OpenStreetMap ({place}, online)",
                     "year": str(dt.date.today().year)})
    fac_src = Path(facilities).name if facilities is not None else "OpenStreetMap"
    rows.append({"what": "设施 facilities", "source": fac_src,
                 "year": file_year(facilities) if facilities is not None else rows[0]["year"] if rows else None})
    if population is not None:
        rows.append({"what": "人口 population", "source": Path(population).name, "year": file_year(population)})
    else:
        rows.append({"what": "人口 population", "source": "OSM residential buildings (estimate)",
                     "year": rows[0]["year"] if rows else None})
    if census is not None:
        rows.append({"what": "人口总数 control totals", "source": f"{Path(census).name} ({census_column})",
                     "year": file_year(census, census_column)})
    if boundaries is not None:
        rows.append({"what": "街道边界 boundaries", "source": Path(boundaries).name, "year": file_year(boundaries)})
    return rows


def source_lines(summary: dict[str, Any]) -> list[str]:
    """"路网 streets: OpenStreetMap (x.osm), 2025" for each source in the summary, then the OSM credit."""
    out = [f"{s.get('what')}: {s.get('source')}, {s.get('year') or '年份未注明 year not stated'}"
           for s in summary.get("sources") or []]
    return out + [f"地图数据 Map data {OSM_CREDIT}"]
