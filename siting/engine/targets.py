"""Coverage targets from the district health plans (``data/targets.csv``) and the gap to them."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from .._validate import district_key
from ..errors import ColumnError, InputFileError

#: The project's own targets table, written from the district plans (source and quote per row).
TARGETS_FILE = Path(__file__).resolve().parents[2] / "data" / "targets.csv"


def load_targets(path: str | Path | None = None) -> pd.DataFrame:
    """Read a targets table: columns ``district``, ``target`` (0–1), plus ``source``/``quote`` if given.

    Without ``path``: the project's table, read once per process (a copy is returned).
    """
    return _read_targets(Path(path)) if path else _project_targets().copy()


@functools.cache
def _project_targets() -> pd.DataFrame:
    """Return the project's table, read once per process (``target_for`` asks it for every district)."""
    return _read_targets(TARGETS_FILE)


def _read_targets(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputFileError(f"targets file not found: {path}")
    table = pd.read_csv(path, encoding="utf-8-sig")
    missing = {"district", "target"} - set(table.columns)
    if missing:
        raise ColumnError(f"{path}: missing column(s) {sorted(missing)}; found {list(table.columns)}")
    target = pd.to_numeric(table["target"], errors="coerce")
    bad = target.isna() | (target <= 0) | (target > 1)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        value = table["target"][row - 2]
        hint = f" — did you mean {float(target.iloc[row - 2]) / 100:g}?" if 1 < target.iloc[row - 2] <= 100 else ""
        raise ColumnError(f"{path}: column 'target' must be a share > 0 and ≤ 1 (0.9 for 90 %), row {row}: "
                          f"{value!r}{hint}")
    table["target"] = target
    return table


def target_for(district: str | None, targets: pd.DataFrame | None = None) -> tuple[float | None, str | None]:
    """(target, source) for a district name, or (None, None) when the plans set none."""
    if district is None:
        return None, None
    table = _project_targets() if targets is None else targets
    rows = _project_rows() if targets is None else _rows_by_key(table)
    key = district_key(district)
    position = rows.get(key) if key is not None else None
    if position is None:
        return None, None
    row = table.iloc[position]
    return float(row["target"]), str(row.get("source", "")) or None


def _rows_by_key(table: pd.DataFrame) -> dict[str, int]:
    """Row position by district key: the first row naming the district (``district`` or ``district_en``)."""
    keys = table["district"].map(district_key)
    en = table["district_en"].map(district_key) if "district_en" in table else keys
    rows: dict[str, int] = {}
    for position, pair in enumerate(zip(keys, en, strict=True)):
        for key in pair:
            if isinstance(key, str):
                rows.setdefault(key, position)
    return rows


@functools.cache
def _project_rows() -> dict[str, int]:
    """:func:`_rows_by_key` of the project's table, once per process (a run asks for ~15 districts)."""
    return _rows_by_key(_project_targets())


def gap(population: float, covered: float, target: float | None) -> dict[str, float | None]:
    """Rate, target, gap in percentage points and in residents (0 when the target is met)."""
    rate = covered / population if population > 0 else float("nan")
    if target is None or not np.isfinite(rate):
        return {"coverage_rate": rate, "target": target, "gap_pp": None, "gap_residents": None, "meets_target": None}
    short = max(0.0, target * population - covered)
    return {
        "coverage_rate": rate,
        "target": target,
        "gap_pp": max(0.0, (target - rate) * 100.0),
        "gap_residents": float(max(0.0, np.ceil(short - 1e-9))),
        "meets_target": bool(rate >= target - 1e-12),
    }
