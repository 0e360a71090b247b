"""Older residents: a population's ``pop_60plus`` column, or 60+ shares per district / 街道 (e.g. the 2020 census).

The elderly measures count residents aged 60+: ``siting coverage --mode elderly`` then rates the 60+ residents
(within 15 minutes at 3 km/h), and :func:`siting.access` adds its elderly columns. The 60+ figure of a point is
its own ``pop_60plus`` (a population file that has one), else ``population × share`` of its 街道's row of an
age-share table, else of its district's row. A district's share applied to each of its 街道 is an assumption
(the census publishes no 街道 age table online), and every output says which weighting was used.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .._validate import district_key, subdistrict_key
from ..errors import AreaWarning, ColumnError, InputFileError
from ._tables import read_table
from .demand import DISTRICT_COLUMNS, SUBDISTRICT_COLUMNS, _find_column

__all__ = ["AGE_COLUMN", "ALL_RESIDENTS", "apply_age_shares", "for_mode", "read_age_shares", "weighting"]

#: The column of residents aged 60+ per point (a population file's own, or population × share).
AGE_COLUMN = "pop_60plus"
#: What a run counts without age weighting.
ALL_RESIDENTS = "all residents"
#: Share columns tried in order: a fraction (0–1), a percentage, or counts to divide.
SHARE_COLUMNS = ("share_60plus", "share_60plus_pct", "60岁及以上占比")
_PERCENT = {"share_60plus_pct", "60岁及以上占比"}


def read_age_shares(path: str | Path) -> pd.DataFrame:
    """Read a table of 60+ shares per district (and optionally per 街道).

    Parameters
    ----------
    path : str or Path
        CSV / Excel with a district column (``district``, ``区``...), optionally a 街道 column, and the share
        as ``share_60plus`` (0–1), ``share_60plus_pct`` (percent, as the 2020 census file has it) or the counts
        ``pop_60plus`` and ``pop_total``.

    Returns
    -------
    DataFrame
        ``district``, ``subdistrict`` (None on district rows), ``share_60plus`` (0–1); ``attrs["source"]``.

    Raises
    ------
    ColumnError
        No district column, no share, or a share outside 0–100 % (naming the file, column and rows).
    """
    frame = read_table(path, what="age shares")
    name = Path(path).name
    dist = _find_column(frame, DISTRICT_COLUMNS, None, path, "district")
    sub = _find_column(frame, SUBDISTRICT_COLUMNS, None, path, "subdistrict", required=False)
    col = next((c for c in SHARE_COLUMNS if c in frame.columns), None)
    if col is not None:
        share = pd.to_numeric(frame[col], errors="coerce") / (100.0 if col in _PERCENT else 1.0)
    elif {"pop_60plus", "pop_total"} <= set(frame.columns):
        col = "pop_60plus / pop_total"
        share = pd.to_numeric(frame["pop_60plus"], errors="coerce") / pd.to_numeric(frame["pop_total"], errors="coerce")
    else:
        raise ColumnError(f"{path}: no 60+ share column; expected one of {', '.join(SHARE_COLUMNS)} or pop_60plus "
                          f"with pop_total; found: {', '.join(map(str, frame.columns))}")
    bad = ~share.between(0, 1)
    if bad.any():
        rows = [int(r) + 2 for r in np.flatnonzero(bad.to_numpy())[:5]]
        raise ColumnError(f"{path}: column {col!r}, row(s) {rows} (counting the header as row 1): not a share "
                          f"between 0 and {'100' if col in _PERCENT else '1'}")
    out = pd.DataFrame({"district": frame[dist].astype(str).str.strip(),
                        "subdistrict": frame[sub].where(frame[sub].notna(), None) if sub else None,
                        "share_60plus": share.to_numpy(float)})
    out.attrs["source"] = name
    return out


def apply_age_shares(points: gpd.GeoDataFrame, shares: pd.DataFrame) -> gpd.GeoDataFrame:
    """Add ``pop_60plus`` = ``population`` × the share of each point's 街道, else of its district.

    Points with their own ``pop_60plus`` keep it. Points of a district the table does not list get none (NaN)
    and are named in an :class:`~siting.errors.AreaWarning`. ``attrs["age_weighting"]`` says what was done.
    """
    if "district" not in points.columns:
        raise InputFileError("`age_shares` needs each point's district: give 街道 `boundaries` (or a population "
                             "file with a district column)")
    source = shares.attrs.get("source", "the age-share table")
    by_dist = shares[shares["subdistrict"].isna()]
    share = points["district"].map(district_key, na_action="ignore").map(
        dict(zip(by_dist["district"].map(district_key), by_dist["share_60plus"], strict=True))).astype(float)
    level = "district"
    by_sub = shares[shares["subdistrict"].notna()]
    if len(by_sub) and "subdistrict" in points.columns:
        table = dict(zip(zip(by_sub["district"].map(district_key), by_sub["subdistrict"].map(subdistrict_key),
                             strict=True), by_sub["share_60plus"], strict=True))  # 街道 names repeat across districts
        keys = zip(points["district"].map(district_key, na_action="ignore"),
                   points["subdistrict"].map(subdistrict_key, na_action="ignore"), strict=True)
        own = pd.Series([table.get(k, np.nan) for k in keys], index=points.index, dtype=float)
        share = own.fillna(share)
        level = "街道, else district" if len(by_dist) else "街道"
    out = points.copy()
    has_own = out[AGE_COLUMN].notna() if AGE_COLUMN in out.columns else pd.Series(False, index=out.index)
    out[AGE_COLUMN] = np.where(has_own, out[AGE_COLUMN] if AGE_COLUMN in out else np.nan,
                               out["population"].astype(float) * share)
    missing = ~has_own & share.isna() & (out["population"].fillna(0) > 0)
    if missing.any():
        names = sorted({str(d) for d in out.loc[missing, "district"].dropna()})
        warnings.warn(f"{source}: no 60+ share for {int(missing.sum()):,} point(s) ("
                      f"{out.loc[missing, 'population'].sum():,.0f} residents) in {', '.join(names) or 'no district'}"
                      ": they count no residents aged 60+ with mode='elderly'", AreaWarning, stacklevel=2)
    own_text = f"; {int(has_own.sum()):,} point(s) with their own {AGE_COLUMN}" if has_own.any() else ""
    out.attrs["age_weighting"] = f"population × the 60+ share per {level} of {source}{own_text}"
    return out


def for_mode(points: gpd.GeoDataFrame, mode: str) -> gpd.GeoDataFrame:
    """Return the points a run at ``mode`` counts: at ``elderly`` the 60+ residents, when the points have them.

    The original ``population`` is kept as ``population_all``; ``attrs["population_weighting"]`` says which
    weighting applies (:func:`weighting`). Other modes, and points without ``pop_60plus``, are returned as given.
    """
    if mode != "elderly" or AGE_COLUMN not in points.columns or "population_all" in points.columns:
        return points
    out = points.copy()
    out["population_all"] = out["population"]
    out["population"] = out[AGE_COLUMN].astype(float)
    source = points.attrs.get("age_weighting") or f"the population file's {AGE_COLUMN} column"
    if "district" in out.columns:  # the share each analysed district comes to
        g = out.groupby("district")[["population", "population_all"]].sum()
        g = g[g["population_all"] > 0].head(6)
        shares = ", ".join(f"{d} {p / a:.2%}" for d, p, a in zip(g.index, g["population"], g["population_all"],
                                                                  strict=True))
        source += f" ({shares})" if shares else ""
    out.attrs["population_weighting"] = f"residents aged 60+: {source}"
    return out


def weighting(points: pd.DataFrame, unit: str) -> str:
    """Say what a run's rates count: the 60+ residents (and how they were found), all residents, or locations."""
    if "population_all" in points.columns:
        return str(points.attrs.get("population_weighting") or f"residents aged 60+ ({AGE_COLUMN})")
    return ALL_RESIDENTS if unit == "residents" else "locations (no population figures)"
