"""The current state's output bundle as a zip: what ``siting coverage`` writes, made in a temporary folder.

Private to :mod:`siting.app.server`. The files are :func:`siting.outputs.report.coverage_files`' (``map.html``,
``report.xlsx``, ``report.html``, ``report.pdf`` when Chromium prints it, the figures, tables and
GeoPackages); they are written into a new temporary folder, zipped in memory, and the folder is removed:
nothing is written anywhere else.
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from pathlib import Path

from ..engine.coverage import CoverageResult
from ..outputs import report

__all__ = ["bundle_name", "export_zip"]


def bundle_name(scenario: str, edits: int) -> str:
    """Return the zip's name: ``siting-SCENARIO-N-edits`` with only letters, digits, '-', '_' and '.'."""
    safe = re.sub(r"[^\w.-]+", "_", scenario).strip("._") or "workbench"
    return f"siting-{safe[:48]}-{edits}-edits"


def export_zip(result: CoverageResult, name: str) -> bytes:
    """Return the zip (bytes) of ``result``'s output files, inside the folder ``name/``.

    Written like ``siting coverage`` writes its folder (:func:`siting.outputs.report.coverage_files`, the
    map self-contained), into a temporary folder that is removed afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="siting-export-") as tmp:
        folder = Path(tmp) / name
        folder.mkdir()
        report.coverage_files(result, folder, map_html=True, self_contained=True, tiles=True, reports=True)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                z.write(path, f"{name}/{path.relative_to(folder).as_posix()}")
        return buffer.getvalue()
