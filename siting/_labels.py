"""Words shared by the map, the figures and the reports: title, partial-coverage line, data sources."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MODE_ZH = {"walk": "步行", "elderly": "老年步行", "bike": "骑行"}
MODE_EN = {"walk": "walking", "elderly": "elderly walking", "bike": "cycling"}
OSM_CREDIT = "© OpenStreetMap contributors (ODbL)"
#: A 街道 with less than this share of its residents inside the street extract is shown as partly analysed
#: (outlined and hatched on the maps, its share in the label), never as a plain pass/fail colour.
PARTIAL_BELOW = 0.9
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


#: The one glossary of column names: CSV column → (Chinese, English). The CSVs use the key, report.xlsx
#: "中文 key" (:func:`siting.outputs.excel.bilingual`), report.html and the console "中文 English" / the English.
GLOSSARY: dict[str, tuple[str, str]] = {
    "district": ("区", "district"), "subdistrict": ("街道", "subdistrict"), "population": ("人口", "residents"),
    "covered": ("覆盖人口", "covered"), "coverage_rate": ("覆盖率", "rate"), "target": ("目标", "target"),
    "gap_pp": ("缺口(百分点)", "gap (points)"), "gap_residents": ("缺口人口", "gap"),
    "too_far_population": ("离路网过远人口", "too far from streets"),
    "outside_population": ("路网范围外人口", "outside extract"), "points": ("点数", "points"),
    "analysed_share": ("已分析比例", "analysed"), "subdistrict_total": ("街道总人口", "街道 total"),
    "facility_id": ("设施编号", "facility id"), "name": ("名称", "name"), "type": ("类型", "type"),
    "source": ("来源", "source"), "snapped": ("计入", "counted"), "snap_m": ("离路网(米)", "to street (m)"),
    "residents_within": ("范围内人口", "residents within"), "residents": ("人口", "residents"),
    "max_walk_min": ("最长步行(分钟)", "longest walk (min)"), "cell": ("网格", "cell"),
    "lon": ("经度", "lon"), "lat": ("纬度", "lat"),
    "order": ("顺序", "order"), "candidate_id": ("候选编号", "candidate"), "label": ("标签", "site"),
    "gain": ("单独新增", "residents on its own"), "assigned": ("按顺序新增", "residents added in order of choice"),
    "serves": ("主要服务街道", "serves 街道"),
    "overloaded": ("超负荷", "overloaded"), "kind": ("类别", "kind"), "excluded": ("排除原因", "excluded"),
    "share_of_gap": ("占缺口比例", "share of gap"), "rank": ("排名", "rank"), "chosen": ("选中", "chosen"),
    "nearest_facility": ("最近设施", "nearest facility"), "nearest_facility_m": ("最近设施距离(米)", "to it (m)"),
    "near_street": ("邻近道路", "nearest street"), "covered_before": ("原覆盖人口", "covered before"),
    "covered_after": ("新覆盖人口", "covered after"), "rate_before": ("原覆盖率", "rate before"),
    "rate_after": ("新覆盖率", "rate after"), "new_sites": ("新站点数", "new sites"), "item": ("项目", "item"),
    "value": ("数值", "value"), "unit": ("单位", "unit"), "walk_min": ("步行(分钟)", "walk (min)"),
    "status": ("状态", "status"),
    # comparison (siting compare)
    "scenario": ("情景", "scenario"), "description": ("说明", "description"), "level": ("层级", "level"),
    "area": ("区域", "area"), "mean_walk_min": ("平均步行(分钟)", "mean walk (min)"),
    "delta_covered": ("覆盖人口变化", "change in covered"), "delta_pp": ("覆盖率变化(百分点)", "change (points)"),
    "mode": ("方式", "mode"), "minutes": ("分钟", "minutes"), "facilities": ("设施数", "facilities"),
    # access (siting access)
    "population_source": ("人口来源", "population source"),
    "supply_per_10k": ("每万人面积指数", "floor-area index per 10k"),
    "gps_per_10k": ("每万人全科医生可达指数", "GP access index per 10k"),
    "gp_target_per_10k": ("每万人标准", "standard per 10k"), "below_gp_target": ("低于标准", "below standard"),
    "gps_needed": ("缺少全科医生", "GPs short"), "median_min": ("中位时间(分钟)", "median (min)"),
    "p90_min": ("90%时间(分钟)", "90th pct (min)"), "within_5_min": ("5分钟内", "within 5 min"),
    "within_10_min": ("10分钟内", "within 10 min"), "within_15_min": ("15分钟内", "within 15 min"),
    "within_20_min": ("20分钟内", "within 20 min"), "beyond_20_population": ("20分钟外人口", "beyond 20 min"),
    "stations_below_200m2": ("面积不足200㎡站点", "stations < 200 m²"), "region": ("区域", "region"),
    "subdistricts": ("所含街道", "街道"), "assumption": ("假设", "assumption"), "gps": ("全科医生", "GPs"),
    "floor_area_m2": ("面积(平方米)", "floor area (m²)"), "capacity_source": ("容量来源", "capacity source"),
    "defaulted": ("默认项", "defaulted"), "demand_reached": ("可达人口", "residents reached"),
    "gps_per_10k_catchment": ("服务范围每万人全科医生", "GPs per 10k in catchment"),
}


def header(column: str) -> str:
    """"coverage_rate" → "覆盖率 rate" (report.html and the console; unknown columns as they are)."""
    zh, en = GLOSSARY.get(column, ("", column))
    return f"{zh} {en}".strip()


def analysed_shares(subs: pd.DataFrame) -> np.ndarray:
    """Residents analysed ÷ the 街道's total (``analysed_share``, else from ``population`` / ``outside_population``).

    NaN where unknown (no ``outside_population`` column) or where the 街道 has no residents at all.
    """
    if "analysed_share" in subs.columns:
        return subs["analysed_share"].astype(float).to_numpy()
    if "outside_population" not in subs.columns:
        return np.full(len(subs), np.nan)
    inside = subs["population"].astype(float).to_numpy()
    whole = inside + subs["outside_population"].astype(float).fillna(0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(whole > 0, inside / whole, np.nan)


def is_partial(share: float) -> bool:
    """Return True for a 街道 with some, but under :data:`PARTIAL_BELOW`, of its residents analysed.

    (None analysed: no data, drawn as such; unknown (NaN): not partial.)
    """
    return bool(share == share and 0 < share < PARTIAL_BELOW)
