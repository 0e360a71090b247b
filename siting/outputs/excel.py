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

from .._labels import GLOSSARY
from .._lazy import lazy_module
from ..errors import OutputError

if TYPE_CHECKING:
    import openpyxl
else:  # imported when a workbook is written: the sheet definitions and readers do not need it
    openpyxl = lazy_module("openpyxl")

__all__ = ["HEADERS", "PERCENT_COLUMNS", "Sheet", "bilingual", "csv_name", "read_sheet", "write_excel"]

#: Chinese header of each CSV column (the sheet header is "中文 column"): the glossary of :mod:`siting._labels`.
HEADERS = {column: zh for column, (zh, _) in GLOSSARY.items()}
#: Columns holding shares (0–1), shown as percentages.
PERCENT_COLUMNS = frozenset({"coverage_rate", "target", "rate_before", "rate_after", "share_of_gap", "analysed_share",
                             "within_5_min",
                             "within_10_min", "within_15_min", "within_20_min"})
#: Columns of whole numbers (residents, counts), shown with thousands separators.
WHOLE_COLUMNS = frozenset({"population", "covered", "gap_residents", "too_far_population", "outside_population",
                           "points",
                    "delta_covered", "facilities",
                    "residents_within", "residents", "gain", "assigned", "covered_before", "covered_after", "rank",
                    "order", "new_sites", "beyond_20_population", "demand_reached", "subdistrict_total"})
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


#: Coordinate columns, shown with 6 decimals (about 0.1 m; "#,##0.0" would show 121.460087 as 121.5, ~10 km off).
COORDINATE_COLUMNS = frozenset({"lon", "lat"})


def _default_format(name: str, values: pd.Series) -> str | None:
    if name in PERCENT_COLUMNS:
        return "0.0%"
    if name in COORDINATE_COLUMNS:
        return "0.000000"
    if values.dtype.kind in "iu" or name in WHOLE_COLUMNS:
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
        _no_formulas(ws)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        wb.save(path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the workbook ({exc})") from exc
    return path


def _no_formulas(ws: openpyxl.worksheet.worksheet.Worksheet) -> None:
    """Store every cell openpyxl took for a formula (text starting with ``=``) as the text it is.

    siting writes no formulas: such a text is a name from an input file (``=HYPERLINK(...)`` in a
    facility list), and it must reach Excel as that name, not run (see :mod:`siting.outputs._text`).
    """
    for row in ws.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def read_sheet(path: str | os.PathLike[str], sheet: str) -> pd.DataFrame:
    """Read a sheet back with the CSV's column names (the table part only: notes below it are dropped)."""
    frame = pd.read_excel(path, sheet_name=sheet, engine="openpyxl")
    frame = frame.rename(columns=csv_name)
    blank = frame.isna().all(axis=1).to_numpy()
    return frame.iloc[: int(np.argmax(blank))] if blank.any() else frame
