"""Text from input files made safe for what siting writes: HTML (maps, report.html), spreadsheets and CSVs.

Names in siting's outputs come from files others wrote (a facility list, an OSM extract, a boundaries
file, a scenario file), so they are data, never markup or formulas:

- :func:`html_text` is the one escaping path of every text that becomes HTML: the maps' tooltips, popups,
  layer names, titles and boxes (folium puts tooltip and popup content into ``innerHTML`` and some of it
  inside JavaScript template literals) and ``report.html``.
- :func:`sheet_text` / :func:`neutralise` keep a CSV text cell from being read as a formula by a
  spreadsheet (OWASP "CSV injection": a leading ``'`` before ``=``, ``+``, ``-``, ``@``, tab or CR);
  numbers are untouched. In ``.xlsx`` files text cells are stored as text (:func:`siting.outputs.excel.write_excel`),
  so a name starting with ``=`` stays that name there, character for character.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["FORMULA_START", "html_text", "neutralise", "sheet_text", "write_csv"]

#: The first characters that make a spreadsheet read a CSV cell as a formula (OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def html_text(value: Any) -> str:
    """Return ``value`` as text that shows as itself in HTML and inside a JavaScript template literal.

    ``& < > " '`` become entities, and so do the backtick and ``$`` (folium writes tooltip and popup
    content into JavaScript template literals, where ``${`` would start an expression).
    """
    return html.escape(str(value)).replace("`", "&#96;").replace("$", "&#36;")


def sheet_text(value: Any) -> Any:
    """Prefix a text that a spreadsheet would read as a formula with ``'``; anything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with :func:`sheet_text` applied to its text cells (a copy when one changes)."""
    out = frame
    for col in frame.columns:
        if frame[col].dtype.kind not in "OSU" and not isinstance(frame[col].dtype, pd.StringDtype):
            continue
        values = frame[col]
        hit = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_START)).astype(bool)
        if hit.any():
            if out is frame:
                out = frame.copy()
            out[col] = values.where(~hit, "'" + values[hit].astype(str))
    renamed = {c: sheet_text(c) for c in out.columns if isinstance(c, str) and c.startswith(FORMULA_START)}
    return out.rename(columns=renamed) if renamed else out


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as siting's CSVs are written (UTF-8 with BOM, no index), text cells neutralised."""
    neutralise(frame).to_csv(path, index=False, encoding="utf-8-sig")
    return Path(path)
