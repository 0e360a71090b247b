"""How far the answer moves with the population method: 街道 totals vs equal shares per 小区.

The same 小区 points carry residents in two ways: the census district totals spread over the 街道 totals
file(s) (``subdistrict_totals``, what the README job uses), or the census district totals in equal shares
per 小区. :func:`population_sensitivity` computes the coverage rate and the chosen sites under both, on the
same network, facilities and candidates rule as ``siting site``; the table goes to ``sensitivity.csv`` and
``summary.json`` (``sensitivity``) and is printed by :func:`format_sensitivity`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..engine.coverage import DEFAULT_TYPES, CoverageResult
from ..errors import SitingError
from ..pipeline import Inputs, load_inputs, run_coverage
from ..plan.candidates import build_candidates
from ..plan.sites import plan_sites
from ._sites import pad

__all__ = ["COLUMNS", "DEFAULT_K", "population_sensitivity", "format_sensitivity", "sensitivity_records"]

#: Sites chosen when the result has no target (else: the fewest sites reaching it).
DEFAULT_K = 3
#: Columns of the table, in order.
COLUMNS = ("method", "basis", "population_total", "population_covered", "coverage_rate", "sites_rule", "sites",
           "rate_after", "chosen", "chosen_labels", "in_common")
#: The two methods: label, and whether the 街道 totals are used.
METHODS = (("街道 totals", True), ("equal shares per 小区", False))


def _names(files: Any) -> list[str]:
    if files is None:
        return []
    items = [files] if isinstance(files, str | Path) else list(files)
    return [Path(f).name for f in items]


def _basis(arguments: Mapping[str, Any], with_totals: bool) -> str:
    census = arguments.get("census")
    district = f"census district totals ({Path(census).name})" if census is not None else "no district totals"
    if with_totals:
        return f"{district} spread over the 街道 totals of {', '.join(_names(arguments.get('subdistrict_totals')))}"
    if census is None:
        return "each 小区 counted once (no census given)"
    return f"{district} in equal shares per 小区"


def _row(label: str, basis: str, inputs: Inputs, result: CoverageResult, arguments: Mapping[str, Any], *,
         k: int | None, spacing_m: float, min_distance_m: float, time_limit: float) -> dict[str, Any]:
    s = result.summary
    osm = arguments.get("osm")
    target = s.target if k is None else None
    cands = build_candidates(result, osm=osm, spacing_m=spacing_m, boundaries=inputs.boundaries,
                             min_distance_m=min_distance_m, streets_from=osm)
    plan = plan_sites(result, cands, k=None if target is not None else (k or DEFAULT_K), target=target,
                      time_limit=time_limit)
    chosen = plan.chosen
    labels = chosen["label"] if "label" in chosen else chosen["candidate_id"]
    return {
        "method": label, "basis": basis, "population_total": round(float(s.population_total)),
        "population_covered": round(float(s.population_covered)), "coverage_rate": round(float(s.coverage_rate), 6),
        "sites_rule": f"fewest sites for {target:.0%}" if target is not None else f"best {k or DEFAULT_K} sites",
        "sites": int(plan.solution.k), "rate_after": round(float(plan.solution.coverage_rate), 6),
        "chosen": ", ".join(str(c) for c in chosen["candidate_id"]),
        "chosen_labels": "; ".join(str(v) for v in labels),
    }


def population_sensitivity(
    arguments: Mapping[str, Any], *, types: Iterable[str] | str | None = DEFAULT_TYPES, target: float | None = None,
    k: int | None = None, baseline: tuple[Inputs, CoverageResult] | None = None, spacing_m: float = 200.0,
    min_distance_m: float = 300.0, time_limit: float = 60.0,
) -> pd.DataFrame:
    """Coverage rate and chosen sites under 街道 totals and under equal shares per 小区, side by side.

    Parameters
    ----------
    arguments : mapping
        The keyword arguments of :func:`siting.pipeline.load_inputs` (``settings`` included), with the
        ``subdistrict_totals`` file(s): the first row uses them, the second the same arguments without them.
    types, target
        As :func:`siting.pipeline.run_coverage` (``target`` overrides the district targets).
    k : int, optional
        Sites to choose. Default: the fewest sites reaching the result's target, or :data:`DEFAULT_K` sites
        when there is none.
    baseline : (Inputs, CoverageResult), optional
        What ``arguments`` already gave (loaded and covered with ``types`` / ``target``): not computed again.
        The network of the first load is reused for the second.
    spacing_m, min_distance_m, time_limit
        As ``siting site``'s generated candidates (with the OSM file's buildings when ``osm`` is given) and
        its exact solver.

    Returns
    -------
    DataFrame
        One row per method, columns :data:`COLUMNS`: residents and the share covered, the sites rule, the
        number of sites, the rate after them, their candidate ids and labels in order of choice, and
        ``in_common`` (sites the two methods share).

    Raises
    ------
    SitingError
        When ``arguments`` has no ``subdistrict_totals``: there is nothing to compare.
    """
    if not _names(arguments.get("subdistrict_totals")):
        raise SitingError("the population sensitivity compares 街道 totals with equal shares per 小区: "
                          "give `subdistrict_totals` (a 街道 totals CSV)")
    settings = arguments.get("settings")
    rows = []
    network = baseline[0].network if baseline is not None else None
    for label, with_totals in METHODS:
        args = dict(arguments) if with_totals else {**arguments, "subdistrict_totals": None}
        if with_totals and baseline is not None:
            inputs, result = baseline
        else:
            with warnings.catch_warnings():
                if network is not None:  # the same files' warnings were shown for the first method
                    warnings.simplefilter("ignore")
                inputs = load_inputs(**{**args, "network": network})
                result = run_coverage(inputs, settings, types=types, target=target)
            network = inputs.network
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # siting's own warnings about the candidates: shown by `siting site`
            rows.append(_row(label, _basis(arguments, with_totals), inputs, result, arguments, k=k,
                             spacing_m=spacing_m, min_distance_m=min_distance_m, time_limit=time_limit))
    sets = [set(r["chosen"].split(", ")) - {""} for r in rows]
    common = len(sets[0] & sets[1])
    for r in rows:
        r["in_common"] = common
    return pd.DataFrame(rows, columns=list(COLUMNS))


def sensitivity_records(table: pd.DataFrame) -> tuple[dict[str, Any], ...]:
    """Return the table as JSON-ready rows (``CoverageSummary.sensitivity``, summary.json's ``sensitivity``)."""
    return tuple({k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                 for row in table.to_dict(orient="records"))


def format_sensitivity(table: pd.DataFrame | Iterable[Mapping[str, Any]]) -> str:
    """Return the table as a few console lines: rate and sites per population method, then the sites in common."""
    frame = table if isinstance(table, pd.DataFrame) else pd.DataFrame(list(table))
    lines = ["Population method sensitivity (same streets, centres and candidates):",
             f"  {pad('method', 22)}{'residents':>9}{'rate':>7}  {pad('sites', 27)}{'after':>6}"
             "  chosen (in order of choice)"]
    for r in frame.itertuples():
        sites = pad(f"{r.sites} ({r.sites_rule})", 27)
        lines.append(f"  {pad(str(r.method), 22)}{int(r.population_total):>9,}{r.coverage_rate:>7.1%}  {sites}"
                     f"{r.rate_after:>6.1%}  {r.chosen}")
    if len(frame):
        n = int(frame["in_common"].iloc[0])
        lines.append(f"  sites in common: {n} of {int(frame['sites'].max())}")
    return "\n".join(lines)
