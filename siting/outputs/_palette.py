"""Colours, classes and labels shared by the interactive map and the static figures (no folium, no matplotlib)."""

from __future__ import annotations

import pandas as pd

from ..engine._status import Status

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
    Status.OK: ("#c51b7d", "步行超时 beyond threshold"),
    Status.TOO_FAR: ("#636363", "离路网过远 too far from network"),
    Status.OUTSIDE: ("#636363", "路网范围外 outside network area"),
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


def fill(rate: float, target: float | None) -> str:
    """Return the choropleth colour: classes of (rate − target) with a target, absolute classes otherwise."""
    if rate is None or pd.isna(rate):
        return NO_DATA
    if target is None or pd.isna(target):
        return next(c for lo, hi, c, _ in ABSOLUTE_CLASSES if lo <= rate < hi)
    return next(c for lo, hi, c, _ in TARGET_CLASSES if lo <= rate - target < hi)
