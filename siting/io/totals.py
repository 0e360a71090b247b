"""Control totals top-down: district census → 街道 totals where a table has them → population points.

A district's census total is the control; 街道 (subdistrict) totals, where a table gives them, are kept
exactly inside it; the rest of the district total is spread over the points of the 街道 without one.
Every point and every 街道 carries a ``population_source``: ``census``, ``estimate``, ``equal share``
(a share of the district total, equal per point), ``input`` (the population file's own figures,
rescaled to the totals) or ``locations`` (no figures at all: each point counts once).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .._validate import closest
from ..errors import ColumnError, InputFileError
from ._checks import district_keys
from ._tables import read_table
from .demand import DISTRICT_COLUMNS, POPULATION_COLUMNS, _check_counts, _find_column, district_key

CENSUS, ESTIMATE, EQUAL, INPUT, LOCATIONS = "census", "estimate", "equal share", "input", "locations"
#: Values of ``population_source``, from the best to the weakest figure.
SOURCES = (CENSUS, ESTIMATE, INPUT, EQUAL, LOCATIONS)
#: Name columns of a 街道 totals table, tried in order (the official name first).
NAME_COLUMNS = ("official_control_name_2023", "subdistrict", "街道", "街道名称", "乡镇街道", "街镇",
                "subdistrict_as_in_source", "name", "town")
#: Total columns tried in order: the 2020 census, the 徐汇 estimate scaled to it, then population names.
TOTAL_COLUMNS = ("pop_census_2020", "persons_est_scaled_to_census_2020", *POPULATION_COLUMNS)
#: Optional columns of older residents per point, carried through (and rescaled with ``population``).
AGE_COLUMNS = ("pop_60plus", "pop_65plus")
#: Administrative suffixes removed, in tiers, when matching a table's names to the boundaries.
_UNIT_SUFFIX = re.compile(r"(街道办事处|办事处|街道|地区|镇|乡)$")
_STEM_SUFFIX = re.compile(r"(路|新村)$")


def name_keys(name: object) -> tuple[str, str, str]:
    """Return the matching keys of a 街道/镇 name, from strict to loose: 天平路街道 → (天平路街道, 天平路, 天平).

    Whitespace is removed first; then the unit suffix (街道 / 镇 / 乡 / 地区 / 办事处); then a trailing
    路 or 新村 (康健新村街道 → 康健), never leaving fewer than two characters.
    """
    full = re.sub(r"\s+", "", "" if name is None else str(name))
    unit = _UNIT_SUFFIX.sub("", full)
    unit = unit if len(unit) >= 2 else full
    stem = _STEM_SUFFIX.sub("", unit)
    return full, unit, stem if len(stem) >= 2 else unit


def read_subdistrict_totals(path: str | Path, *, column: str | None = None, source: str | None = None) -> pd.DataFrame:
    """Read a 街道 totals CSV as ``district``, ``subdistrict``, ``population``, ``population_source``, ``file``.

    Parameters
    ----------
    path
        CSV with a district column (:data:`siting.io.demand.DISTRICT_COLUMNS`; optional), a 街道 name
        column (:data:`NAME_COLUMNS`) and a totals column (``column`` or the first of :data:`TOTAL_COLUMNS`).
    source
        ``census`` or ``estimate``. By default a ``population_source`` column of the file, else
        ``census`` when the totals column says so (``census``/``普查`` without ``est``), else ``estimate``:
        a figure is never called census unless the table says it is.

    Raises
    ------
    InputFileError, ColumnError
        Unreadable file, missing columns, empty/non-numeric/negative totals (rows named), a 街道 listed twice.
    """
    frame = read_table(path, what="街道 totals")
    name = _find_column(frame, NAME_COLUMNS, None, path, "街道/subdistrict name")
    pop = _find_column(frame, TOTAL_COLUMNS, column, path, "population total")
    dist = _find_column(frame, DISTRICT_COLUMNS, None, path, "district", required=False)
    assert name is not None and pop is not None
    keep = frame[pop].notna() | frame[name].notna()
    frame = frame[keep].reset_index(drop=True)
    values = _check_counts(frame[pop], pd.Series(np.arange(len(frame)) + 2), path, pop,
                           "row(s) (counting the header as row 1)")
    if source is None and "population_source" in frame.columns:
        labels = frame["population_source"].astype(str).str.strip().str.lower()
    else:
        guess = CENSUS if re.search(r"census|普查", pop, re.I) and not re.search(r"est", pop, re.I) else ESTIMATE
        labels = pd.Series([source or guess] * len(frame))
    bad = ~labels.isin([CENSUS, ESTIMATE])
    if bad.any():
        raise ColumnError(f"{path}: population_source must be 'census' or 'estimate', got {sorted(set(labels[bad]))}")
    out = pd.DataFrame({
        "district": frame[dist].astype(str).str.strip() if dist else None,
        "subdistrict": frame[name].astype(str).str.strip(),
        "population": values, "population_source": labels.to_numpy(), "file": Path(path).name,
    })
    twice = out.duplicated(["district", "subdistrict"], keep=False)
    if twice.any():
        raise InputFileError(f"{path}: 街道 listed twice: {sorted(set(out.loc[twice, 'subdistrict']))}")
    return out


def match_subdistricts(table: pd.DataFrame, boundaries: gpd.GeoDataFrame) -> pd.Series:
    """Return the boundary 街道 name for every row of a totals table (None where nothing matches).

    Matching is within the row's district (when the table has one) and tries the keys of
    :func:`name_keys` from strict to loose, accepting a key only when exactly one boundary has it.
    Rows of districts the boundaries do not cover are skipped with one warning; names that match
    nothing are listed in a warning with the closest boundary name.
    """
    b_names = boundaries["subdistrict"].astype(object).to_numpy()
    b_dist = boundaries["district"].map(district_key).to_numpy() if "district" in boundaries else np.full(
        len(boundaries), None)
    b_keys = [name_keys(n) for n in b_names]
    known_districts = {d for d in b_dist if d is not None}
    out = pd.Series([None] * len(table), index=table.index, dtype=object)
    elsewhere: dict[str, int] = {}
    unmatched: list[str] = []
    for idx, row in table.iterrows():
        dist = district_key(row["district"]) if row.get("district") not in (None, "None", "nan") else None
        if dist is not None and known_districts and dist not in known_districts:
            elsewhere[str(row["district"])] = elsewhere.get(str(row["district"]), 0) + 1
            continue
        pool = [i for i in range(len(b_names)) if dist is None or b_dist[i] == dist]
        keys = name_keys(row["subdistrict"])
        for tier in range(3):
            hits = {b_names[i] for i in pool if b_keys[i][tier] == keys[tier]}
            if len(hits) == 1:
                out[idx] = hits.pop()
                break
        else:
            close = closest(row["subdistrict"], [b_names[i] for i in pool])
            unmatched.append(f"{row['subdistrict']} (closest: {close})" if close else str(row["subdistrict"]))
    files = ", ".join(sorted(set(table["file"].astype(str)))) if "file" in table else "街道 totals"
    if elsewhere:
        listed = ", ".join(f"{d} ({n})" for d, n in elsewhere.items())
        warnings.warn(f"{files}: {sum(elsewhere.values())} 街道 total(s) lie in district(s) the boundaries do not "
                      f"cover and are not used: {listed}", UserWarning, stacklevel=3)
    if unmatched:
        warnings.warn(f"{files}: {len(unmatched)} 街道 name(s) match no boundary and are not used: "
                      f"{', '.join(unmatched)}", UserWarning, stacklevel=3)
    return out


def spread_top_down(points: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame, subdistrict_totals: pd.DataFrame,
                    district_totals: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """Give every point its share of the best known total: 街道 totals where known, the rest of the district.

    Parameters
    ----------
    points
        Points with ``subdistrict`` and ``district`` (:func:`siting.io.demand.assign_areas`) and, when the
        population file had figures (``attrs["weighted"]``), ``population`` used as relative weights;
        otherwise every point of an area gets an equal share.
    boundaries
        The 街道 polygons the points were joined to (names the table is matched against).
    subdistrict_totals
        :func:`read_subdistrict_totals` tables (concatenated).
    district_totals
        ``area``/``population`` district table (:func:`siting.io.demand.read_census`), or None.

    Returns
    -------
    geopandas.GeoDataFrame
        Copy of ``points`` with ``population`` and ``population_source``. Each matched 街道 sums exactly
        to its total; each district with a census total sums exactly to it when it has 街道 without a
        total (they share the remainder). When every 街道 of a district has a total the 街道 totals are
        kept and the difference to the district census is warned about (``attrs["district_differences"]``).
    """
    table = subdistrict_totals.copy()
    table["boundary"] = match_subdistricts(table, boundaries)
    table = table[table["boundary"].notna()]
    weighted = bool(points.attrs.get("weighted")) and points["population"].notna().all()
    w = points["population"].to_numpy(float) if weighted else np.ones(len(points))
    pop = np.full(len(points), np.nan)
    source = np.full(len(points), None, dtype=object)
    sub = points["subdistrict"].to_numpy(dtype=object)
    dkey = district_keys(points["district"])
    codes, names = pd.factorize(sub)  # a 街道's points by code: one comparison of integers per total
    code = {name: i for i, name in enumerate(names)}
    report: dict[str, object] = {}
    no_points = []
    for boundary, total, label in zip(table["boundary"], table["population"], table["population_source"], strict=True):
        here = codes == code.get(boundary, -2)  # the points whose name equals it (factorize groups equal values)
        if not here.any():
            no_points.append(str(boundary))
            continue
        pop[here] = _shares(total, w[here], str(boundary))
        source[here] = label
    if no_points:
        report["subdistricts_without_points"] = no_points
        warnings.warn(f"{len(no_points)} 街道 with a total contain no population point (their residents are "
                      f"not placed): {', '.join(no_points)}", UserWarning, stacklevel=2)
    if district_totals is not None:
        _district_rest(district_totals, table, boundaries, dkey, sub, w, pop, source, report, weighted)
    missing = np.isnan(pop) & pd.notna(sub)
    if missing.any():
        names = pd.Series(sub[missing]).value_counts()
        report["areas_without_total"] = names.to_dict()
        warnings.warn(f"{int(missing.sum())} point(s) lie in 街道 without any total (population NaN): "
                      f"{', '.join(f'{k} ({v})' for k, v in names.items())}", UserWarning, stacklevel=2)
    out = points.copy()
    out["population"] = pop
    out["population_source"] = pd.Series(source, index=out.index, dtype=object)
    out.attrs = {**points.attrs, **report, "weighted": True, "unit": "residents", "level": "subdistrict",
                 "subdistrict_totals_files": sorted(set(table["file"].astype(str))) if "file" in table else []}
    return out


def _shares(total: float, weights: np.ndarray, where: str) -> np.ndarray:
    """``total`` split in proportion to ``weights`` (which must not sum to 0), summing to it exactly."""
    s = float(weights.sum())
    if s <= 0:
        raise ColumnError(f"population weights sum to 0 in {where}: cannot spread its total")
    return total * weights / s


def _district_rest(district_totals: pd.DataFrame, table: pd.DataFrame, boundaries: gpd.GeoDataFrame,
                   dkey: np.ndarray, sub: np.ndarray, w: np.ndarray, pop: np.ndarray, source: np.ndarray,
                   report: dict[str, object], weighted: bool) -> None:
    """Spread each district total minus its known 街道 totals over the district's other points (in place)."""
    totals = {district_key(a): float(p) for a, p in zip(district_totals["area"], district_totals["population"],
                                                        strict=True)}
    b_dist = boundaries["district"].map(district_key) if "district" in boundaries else pd.Series(dtype=object)
    table_dist = table["boundary"].map(dict(zip(boundaries["subdistrict"], b_dist, strict=True)))
    differences = {}
    codes, keys = pd.factorize(dkey)  # a district's points by code: integers compared, not names
    table_keys, table_pop = table_dist.to_numpy(dtype=object), table["population"].to_numpy(float)
    for dist in sorted({d for d in keys if isinstance(d, str)}):
        if dist not in totals:
            continue
        known = float(np.nansum(table_pop[table_keys == dist]))  # as Series.sum: NaN skipped, numpy's sum
        rest = (codes == list(keys).index(dist)) & np.isnan(pop)
        remainder = totals[dist] - known
        if rest.any():
            if remainder < 0:
                raise InputFileError(
                    f"the 街道 totals of {dist} sum to {known:,.0f}, more than its district total "
                    f"{totals[dist]:,.0f}: nothing is left for its 街道 without a total ({sorted(set(sub[rest]))})"
                )
            pop[rest] = _shares(remainder, w[rest], f"the rest of {dist}")
            source[rest] = INPUT if weighted else EQUAL
        elif known and abs(remainder) > 0.5:
            differences[dist] = remainder
            warnings.warn(f"the 街道 totals of {dist} sum to {known:,.0f} and its district total is "
                          f"{totals[dist]:,.0f} ({-remainder:+,.0f}, {-remainder / totals[dist]:+.2%}): the 街道 "
                          "totals are kept", UserWarning, stacklevel=3)
    if differences:
        report["district_differences"] = differences


def label_sources(points: gpd.GeoDataFrame, *, had_figures: bool) -> gpd.GeoDataFrame:
    """Add ``population_source`` to points weighted without 街道 totals.

    It is ``input`` when the population file had figures (``had_figures``), ``locations`` when nothing
    weighted them, else ``equal share``; points with NaN population get None.
    """
    out = points.copy()
    label = LOCATIONS if points.attrs.get("unit") == "locations" else INPUT if had_figures else EQUAL
    out["population_source"] = pd.Series(label, index=out.index, dtype=object).where(out["population"].notna(), None)
    out.attrs = dict(points.attrs)
    return out


def read_all(paths: Iterable[str | Path]) -> pd.DataFrame:
    """:func:`read_subdistrict_totals` of every file, concatenated."""
    frames = [read_subdistrict_totals(p) for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["district", "subdistrict", "population", "population_source", "file"])


def by_subdistrict(points: pd.DataFrame) -> pd.Series:
    """Return the ``population_source`` of every 街道 (all its points share one), indexed by subdistrict name."""
    frame = points[["subdistrict", "population_source"]].dropna()
    return frame.groupby("subdistrict")["population_source"].first()


def describe(points: pd.DataFrame) -> str:
    """One plain sentence on where the residents' figures come from, for the report's notes."""
    per_sub = by_subdistrict(points) if "population_source" in points else pd.Series(dtype=object)
    if per_sub.empty:
        return "population: no source recorded"
    counts = per_sub.value_counts()
    words = {CENSUS: "census totals", ESTIMATE: "estimated totals (not census)",
             EQUAL: "equal shares per point of the district census (where a data source listed homes, "
                    "not where people live)",
             INPUT: "the population file's own figures", LOCATIONS: "no figures: each point counts once"}
    parts = [f"{counts[s]} 街道 {words[s]}" for s in SOURCES if s in counts]
    files = points.attrs.get("subdistrict_totals_files")
    return "population per 街道: " + "; ".join(parts) + (f" (街道 totals: {', '.join(files)})" if files else "")


def scale_age_columns(points: gpd.GeoDataFrame, before: pd.Series) -> gpd.GeoDataFrame:
    """Rescale :data:`AGE_COLUMNS` by the same factor as ``population`` (``before`` → now) at each point.

    So a file's age shares survive the control totals. Non-numeric or negative ages raise ColumnError.
    """
    cols = [c for c in AGE_COLUMNS if c in points.columns]
    if not cols:
        return points
    out = points.copy()
    old = before.reindex(out.index).to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(old > 0, out["population"].to_numpy(float) / old, np.nan)
    for col in cols:
        rows = out["source_row"] if "source_row" in out else pd.Series(np.arange(1, len(out) + 1), index=out.index)
        values = _check_counts(out[col].fillna(0), rows, "population", col, "source_row(s)")
        over = values > old * (1 + 1e-9)
        if over.any():
            first = [int(r) for r in rows.to_numpy()[over][:5]]
            raise ColumnError(f"population: column {col!r} exceeds the residents at source_row(s) {first}")
        out[col] = np.where(out[col].isna(), np.nan, values * factor)
    out.attrs = dict(points.attrs)
    return out
