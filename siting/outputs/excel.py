"""Excel workbooks planners can hand on: bilingual headers, percentages, thousands separators, frozen header row.

:func:`write_excel` is the one writer every command uses (``report.xlsx`` of ``coverage`` / ``site`` /
``access``, ``comparison.xlsx`` of ``compare``). Values are written as they are in the CSVs (shares stay 0–1
and are *shown* as percentages by the cell format), so a sheet read back equals its CSV once the headers
are mapped back with :func:`csv_name` (the CSV column is the header's last word).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._lazy import lazy_module
from ..errors import OutputError

if TYPE_CHECKING:
    import openpyxl
else:  # imported when a workbook is written: the sheet definitions and readers do not need it
    openpyxl = lazy_module("openpyxl")

__all__ = ["HEADERS", "PERCENT_COLUMNS", "Sheet", "bilingual", "csv_name", "read_sheet", "write_excel"]

#: Chinese header of each CSV column (the sheet header is "中文 column").
HEADERS = {
    "district": "区", "subdistrict": "街道", "population": "人口", "covered": "覆盖人口", "coverage_rate": "覆盖率",
    "target": "目标", "gap_pp": "缺口(百分点)", "gap_residents": "缺口人口", "too_far_population": "离路网过远人口",
    "outside_population": "路网范围外人口", "points": "点数", "facility_id": "设施编号", "name": "名称", "type": "类型",
    "source": "来源", "snapped": "计入", "snap_m": "离路网(米)", "residents_within": "范围内人口",
    "residents": "人口", "max_walk_min": "最长步行(分钟)", "cell": "网格", "lon": "经度", "lat": "纬度",
    "order": "顺序", "candidate_id": "候选编号", "label": "标签", "gain": "单独新增", "assigned": "按顺序新增",
    "overloaded": "超负荷", "kind": "类别", "excluded": "排除原因", "share_of_gap": "占缺口比例", "rank": "排名",
    "chosen": "选中", "nearest_facility": "最近设施", "nearest_facility_m": "最近设施距离(米)",
    "near_street": "邻近道路", "covered_before": "原覆盖人口", "covered_after": "新覆盖人口",
    "rate_before": "原覆盖率", "rate_after": "新覆盖率", "new_sites": "新站点数", "item": "项目", "value": "数值",
    "unit": "单位", "walk_min": "步行(分钟)", "status": "状态",
    # comparison.xlsx (siting compare)
    "scenario": "情景", "level": "层级", "area": "区域", "mean_walk_min": "平均步行(分钟)",
    "delta_covered": "覆盖人口变化", "delta_pp": "覆盖率变化(百分点)", "mode": "方式", "minutes": "分钟",
    "facilities": "设施数",
    # report.xlsx of siting access
    "population_source": "人口来源", "supply_per_10k": "每万人供给", "gps_per_10k": "每万人全科医生",
    "gp_target_per_10k": "每万人标准", "below_gp_target": "低于标准", "gps_needed": "缺少全科医生",
    "median_min": "中位时间(分钟)", "p90_min": "90%时间(分钟)", "within_5_min": "5分钟内", "within_10_min": "10分钟内",
    "within_15_min": "15分钟内", "within_20_min": "20分钟内", "beyond_20_population": "20分钟外人口",
    "stations_below_200m2": "面积不足200㎡站点", "region": "区域", "subdistricts": "所含街道", "assumption": "假设",
    "gps": "全科医生", "floor_area_m2": "面积(平方米)", "capacity_source": "容量来源", "defaulted": "默认项",
    "demand_reached": "可达人口", "gps_per_10k_catchment": "服务范围每万人全科医生",
}
#: Columns holding shares (0–1), shown as percentages.
PERCENT_COLUMNS = frozenset({"coverage_rate", "target", "rate_before", "rate_after", "share_of_gap", "within_5_min",
                             "within_10_min", "within_15_min", "within_20_min"})
_WHOLE = frozenset({"population", "covered", "gap_residents", "too_far_population", "outside_population", "points",
                    "delta_covered", "facilities",
                    "residents_within", "residents", "gain", "assigned", "covered_before", "covered_after", "rank",
                    "order", "new_sites", "beyond_20_population", "demand_reached"})
_HEAD_FILL = "DDE7F0"


@dataclass
class Sheet:
    """One worksheet: a table and how to show it.

    Attributes
    ----------
    frame : DataFrame
        Columns named as in the CSVs; headers become "中文 column" (see :data:`HEADERS`).
    formats : mapping
        Number format per column (overrides the defaults: percentages for :data:`PERCENT_COLUMNS`,
        "#,##0" for whole-number columns, "#,##0.0" for other floats); a list gives one format per row.
    notes : sequence of str
        Lines written under the table (sources, limits), one per row, after a blank row.
    """

    frame: pd.DataFrame
    formats: Mapping[str, str | Sequence[str | None]] = field(default_factory=dict)
    notes: Sequence[str] = ()


def bilingual(column: str) -> str:
    """"coverage_rate" → "覆盖率 coverage_rate" (unknown columns stay as they are)."""
    zh = HEADERS.get(column)
    return f"{zh} {column}" if zh else column


def csv_name(header: object) -> str:
    """Return the CSV column of a sheet header: its last word."""
    return str(header).split()[-1] if str(header).split() else str(header)


def _default_format(name: str, values: pd.Series) -> str | None:
    if name in PERCENT_COLUMNS:
        return "0.0%"
    if values.dtype.kind in "iu" or name in _WHOLE:
        return "#,##0"
    if values.dtype.kind == "f":
        return "#,##0.0"
    return None


def _cell(value: object) -> object:
    """Return a value openpyxl can store: NaN/inf → empty, numpy scalars → Python, lists/dicts → text."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, dict | list | tuple | set):
        return str(value)
    return value


def write_excel(path: str | os.PathLike[str], sheets: Mapping[str, Sheet | pd.DataFrame]) -> Path:
    """Write ``sheets`` (sheet name → :class:`Sheet` or DataFrame) as one ``.xlsx`` workbook.

    Every sheet: bilingual bold header row, frozen (the first column too), percentages as Excel
    percentages, thousands separators, widths fitted to the text (CJK characters count double).
    """
    path = Path(path)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, sheet in sheets.items():
        sheet = sheet if isinstance(sheet, Sheet) else Sheet(sheet)
        ws = wb.create_sheet(title[:31])
        frame = sheet.frame.reset_index(drop=True)
        headers = [bilingual(str(c)) for c in frame.columns]
        ws.append(headers)
        for row in frame.itertuples(index=False):
            ws.append([_cell(v) for v in row])
        for j, col in enumerate(frame.columns, start=1):
            letter = openpyxl.utils.get_column_letter(j)
            head = ws.cell(row=1, column=j)
            head.font = openpyxl.styles.Font(bold=True)
            head.fill = openpyxl.styles.PatternFill("solid", fgColor=_HEAD_FILL)
            head.alignment = openpyxl.styles.Alignment(wrap_text=True, vertical="top")
            fmt = sheet.formats.get(str(col), _default_format(str(col), frame[col]))
            per_row = [fmt] * len(frame) if fmt is None or isinstance(fmt, str) else list(fmt)
            for i, f in enumerate(per_row, start=2):
                if f is not None:
                    ws.cell(row=i, column=j).number_format = f
            texts = [headers[j - 1]] + [str(v) for v in frame[col].head(500)]
            ws.column_dimensions[letter].width = max(8, min(48, max(_width(t) for t in texts) + 2))
        ws.freeze_panes = "B2" if len(frame.columns) > 1 else "A2"
        if sheet.notes:
            start = len(frame) + 3
            for k, note in enumerate(sheet.notes):
                ws.cell(row=start + k, column=1, value=note)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        wb.save(path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the workbook ({exc})") from exc
    return path


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def read_sheet(path: str | os.PathLike[str], sheet: str) -> pd.DataFrame:
    """Read a sheet back with the CSV's column names (the table part only: notes below it are dropped)."""
    frame = pd.read_excel(path, sheet_name=sheet)
    frame = frame.rename(columns=csv_name)
    blank = frame.isna().all(axis=1).to_numpy()
    return frame.iloc[: int(np.argmax(blank))] if blank.any() else frame
