"""The limits of a run, in Chinese then English, ordered by how much they move the headline.

Every note of ``summary.json`` becomes one :class:`Limit` (its English text kept word for word, a Chinese
line beside it), plus the residents left out of the rate; :func:`limits` sorts them by their rough effect on
the headline rate (residents left out, facilities not counted, missing streets or stations first; data
outside the analysed area, which moves nothing, last).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..io._checks import OUTSIDE_AREA

__all__ = ["Limit", "headline_base", "limits"]


@dataclass(frozen=True)
class Limit:
    """One limit: ``zh`` (Chinese), ``en`` (the note as in summary.json) and ``weight`` (effect on the headline)."""

    zh: str
    en: str
    weight: float


# (pattern on the English note, Chinese text (``{0}`` … the pattern's groups), weight). First match wins.
_KNOWN: tuple[tuple[re.Pattern[str], str, float], ...] = tuple((re.compile(p), zh, w) for p, zh, w in (
    (r"^no population figures", "没有人口数据：覆盖率是地点的比例，不是居民的比例", 90.0),
    (r"^(\d+) facilities lie off the street extract",
     "{0} 个设施位于路网范围外，未计入：路网边缘的居民实际可能由它们服务（边缘效应）", -1.0),
    (r"^(\d+) of (\d+) facilities \((\d+) of the (\d+) used\) lack GP counts",
     "{1} 个设施中 {0} 个（计入的 {3} 个中 {2} 个）缺少全科医生数或面积：采用按类型的默认值，供给为下限", 70.0),
    (r"^the street network has no footways",
     "路网没有人行道、小路和小区内部道路（只有 residential 至 primary 级道路）：步行时间偏保守", 30.0),
    (r"^the facility list has no 社区卫生服务站", "设施清单没有社区卫生服务站：覆盖率只反映社区卫生服务中心", 25.0),
    (r"^no facility at all in the facility file",
     "部分区域在设施文件中没有任何设施：其覆盖率不说明当地服务（设施文件是否完整？）", 20.0),
    (r"^residents estimated from OSM residential buildings", "居民由 OSM 住宅建筑估算（占地 × 层数 ÷ 人均面积）", 15.0),
    (r"^population per 街道: .*(estimate|equal share)", "各街道人口为估算或按点平均分配（非普查）", 12.0),
    (r"^population per 街道", "各街道人口来源", 5.0),
    (r"^facilities taken from", "设施取自 OpenStreetMap", 8.0),
    (r"^regions: ", "区域划分为假设", 6.0),
))


def _limit(note: str) -> Limit:
    if note.startswith(OUTSIDE_AREA):
        return Limit("分析范围外的数据问题（不影响覆盖率）", note, 0.0)
    for pattern, zh, weight in _KNOWN:
        hit = pattern.search(note)
        if hit:
            return Limit(zh.format(*hit.groups()), note, weight)
    return Limit("其他说明（见英文）", note, 10.0)


def _share(part: float, whole: float) -> float:
    return part / whole if whole > 0 else 0.0


def limits(summary: dict[str, Any]) -> list[Limit]:
    """Return the run's limits, largest effect on the headline first.

    Each note of ``summary["notes"]``, the residents left out of the rate (``population_outside_network``)
    and the network warning. Weights: residents left out 100 × their share of all residents; facilities not
    counted 60 × their share of the facilities; the others fixed by kind (see :data:`_KNOWN`); notes about
    data outside the analysed area 0. Ties keep the order of summary.json.
    """
    out: list[Limit] = []
    inside = float(summary.get("population_total") or 0)
    outside = float(summary.get("population_outside_network") or 0)
    if outside > 0:
        unit_zh, unit_en = ("名居民", "residents") if summary.get("unit") == "residents" else ("个地点", "locations")
        share = _share(outside, inside + outside)
        out.append(Limit(f"路网范围外 {outside:,.0f} {unit_zh}（占 {100 * share:.0f} %）不计入覆盖率",
                         f"{outside:,.0f} {unit_en} outside the street extract ({100 * share:.0f} % of all) are left "
                         "out of the rate", 100.0 * share))
    used = int(summary.get("n_facilities") or 0)
    unusable = int(summary.get("n_facilities_unusable") or 0)
    for note in summary.get("notes") or []:
        limit = _limit(str(note))
        if limit.weight < 0:  # the facilities not counted: by their share
            limit = Limit(limit.zh, limit.en, 60.0 * _share(unusable, used + unusable))
        out.append(limit)
    if summary.get("network_warning"):
        out.append(Limit("路网：删除了不连通的小片段", f"street network: {summary['network_warning']}", 3.0))
    return sorted(out, key=lambda lim: -lim.weight)


def headline_base(summary: dict[str, Any], area: str) -> tuple[str, str] | None:
    """Name the base of the headline rate, in Chinese and English (None without a rate).

    "53.9 % of the 254,388 residents inside the street extract — 23 % of 徐汇区's 1,113,078 (2020 census)":
    the whole is the residents inside plus those left out of the rate, which the control totals (the census
    file) fix.
    """
    rate, inside = summary.get("coverage_rate"), float(summary.get("population_total") or 0)
    if rate is None or rate != rate or inside <= 0:
        return None
    residents = summary.get("unit") == "residents"
    unit_zh, unit_en = ("名居民", "residents") if residents else ("个地点", "locations")
    outside = float(summary.get("population_outside_network") or 0)
    pct = f"{100 * float(rate):.1f} %"
    if outside <= 0:
        return (f"{area} {inside:,.0f} {unit_zh}中 {pct} 可达", f"{pct} of the {inside:,.0f} {unit_en} of {area}")
    whole = inside + outside
    census = next((s for s in summary.get("sources") or [] if "control totals" in str(s.get("what"))), None)
    year = census.get("year") if census else None
    src_zh = f"（{year} 年普查）" if residents and year else ""
    src_en = f" ({year} census)" if residents and year else ""
    share = f"{100 * inside / whole:.0f} %"
    return (f"路网范围内 {inside:,.0f} {unit_zh}中 {pct} 可达 —— 仅占{area} {whole:,.0f} {unit_zh}{src_zh}的 {share}",
            f"{pct} of the {inside:,.0f} {unit_en} inside the street extract — {share} of {area}'s "
            f"{whole:,.0f}{src_en}")
