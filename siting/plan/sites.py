"""Site plans: a coverage result + candidate sites → reach sets → exact and greedy answers → before/after tables."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import _display
from .._validate import check_site_options, positions_of, subdistrict_key, suggest
from ..engine.coverage import NONE, OUTSIDE, TARGET_GIVEN, CoverageResult, compute_coverage
from ..errors import ColumnError, InputFileError, ModelError
from ..io._tables import read_table
from ..locate import MaximalCoverage, MinimumSites, SitingProblem, SitingSolution, score_candidates
from .candidates import candidate_reach

__all__ = ["SitePlan", "plan_sites", "problem_from_result", "read_quotas"]

QUOTA_NAME_COLUMNS = ("subdistrict", "街道", "name", "镇")
QUOTA_COUNT_COLUMNS = ("count", "quota", "sites", "n", "数量")


def read_quotas(path: str | Path, known: Iterable[str] | None = None) -> dict[str, int]:
    """Read a quota file (CSV: ``subdistrict,count``) as ``{街道: sites}``.

    With ``known`` (the 街道 names of the analysis), each name is matched exactly, then ignoring
    whitespace / 办事处, then as the unique name it begins (``虹桥`` → ``虹桥街道``); an unknown name
    raises `InputFileError` naming the file, the row and the closest known name.
    """
    table = read_table(path, what="quota", dtype=str)
    lower = {str(c).strip().lower(): c for c in table.columns}
    name_col = next((lower[c] for c in QUOTA_NAME_COLUMNS if c in lower), None)
    count_col = next((lower[c] for c in QUOTA_COUNT_COLUMNS if c in lower), None)
    if name_col is None or count_col is None:
        raise ColumnError(f"{path}: expected columns subdistrict,count; found {', '.join(map(str, table.columns))}")
    names = sorted(set(known)) if known is not None else None
    out: dict[str, int] = {}
    for i, (name, count) in enumerate(zip(table[name_col], table[count_col], strict=True), start=2):
        n = pd.to_numeric(count, errors="coerce")
        if pd.isna(name) or pd.isna(n) or n < 0 or n != int(n):
            raise ColumnError(f"{path}: row {i}: need a 街道 name and a whole number ≥ 0, got {name!r}, {count!r}")
        key = str(name).strip() if names is None else _match(str(name), names, f"{path}: row {i}: unknown 街道")
        if key in out:
            raise ColumnError(f"{path}: row {i}: 街道 {key!r} appears twice")
        out[key] = int(n)
    return out


def _match(name: str, names: list[str], what: str) -> str:
    if name in names:
        return name
    key = subdistrict_key(name) or ""
    hits = [n for n in names if subdistrict_key(n) == key] or [n for n in names if key and n.startswith(key)]
    if len(hits) == 1:
        return hits[0]
    raise InputFileError(f"{what} {name!r}{suggest(name, names)}; known: {', '.join(names[:20])}")


@dataclass
class SitePlan:
    """New station sites for a coverage result, exact (HiGHS) and greedy, with the tables to report them.

    Attributes
    ----------
    result : CoverageResult
        Coverage with the existing facilities ("before").
    candidates : GeoDataFrame (WGS84)
        Every candidate: its own columns, ``subdistrict``, ``excluded`` (reason or None), ``gain``
        (residents newly covered by this site alone; NaN when excluded), ``share_of_gap``, ``rank``
        (1 = largest gain among usable sites), ``chosen`` (bool) and ``order`` (build order, or NaN).
    problem : SitingProblem
        The instance over the usable candidates (same order as ``candidates[excluded.isna()]``).
    solution, greedy : SitingSolution
        The exact (or best proven) answer and the lazy-greedy one.
    model : str
        ``"maximal_coverage"`` (k sites, or quotas) or ``"minimum_sites"`` (a target).
    params : dict
        The options the plan was made with (k, target, per_subdistrict, quotas, locked...).
    """

    result: CoverageResult
    candidates: gpd.GeoDataFrame
    problem: SitingProblem
    solution: SitingSolution
    greedy: SitingSolution
    model: str
    params: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    __repr__, _repr_html_ = _display.siteplan_repr, _display.siteplan_html  # one line; notebook: sites, 街道

    @property
    def usable(self) -> gpd.GeoDataFrame:
        """Candidates that may be chosen (no ``excluded`` reason)."""
        return self.candidates[self.candidates["excluded"].isna()]

    @property
    def chosen(self) -> gpd.GeoDataFrame:
        """Chosen sites in build order, with what each adds.

        Candidate columns plus ``order``, ``gain`` (alone), ``assigned`` (residents newly covered and first
        reached by this site) and ``overloaded`` (assigned > capacity).
        """
        sol = self.solution
        out = self.usable.iloc[sol.chosen].copy()
        out["order"] = np.arange(1, sol.k + 1)
        out["gain"] = self.problem.gains[sol.chosen]
        out["assigned"] = sol.assigned
        out["overloaded"] = sol.overloaded
        return out.reset_index(drop=True)

    @property
    def before_after(self) -> pd.DataFrame:
        """Coverage before and after the plan, per 街道.

        Columns: district, subdistrict, population, covered_before, covered_after, rate_before, rate_after,
        target, new_sites (residents outside the network extent are not in population) and, as in
        subdistricts.csv, population_source (when the result has it).
        """
        by = self.result.by_subdistrict
        grp = self.solution.per_group.rename(columns={"group": "subdistrict"})
        out = by[["district", "subdistrict", "population", "covered"]].rename(columns={"covered": "covered_before"})
        out = out.merge(grp[["subdistrict", "covered_after"]], on="subdistrict", how="left")
        out["covered_after"] = out["covered_after"].fillna(out["covered_before"])
        pop = out["population"].where(out["population"] > 0)
        out["rate_before"] = out["covered_before"] / pop
        out["rate_after"] = out["covered_after"] / pop
        tgt = self.params.get("target")
        out["target"] = tgt if tgt is not None and self.params.get("per_subdistrict") else by["target"].to_numpy()
        sites = pd.Series(self.chosen["subdistrict"].fillna(NONE).astype(str)).value_counts()
        out["new_sites"] = out["subdistrict"].map(sites).fillna(0).astype(int)
        if "population_source" in by.columns:
            out["population_source"] = by["population_source"].to_numpy()
        return out

    @cached_property
    def after(self) -> CoverageResult:
        """Coverage recomputed with the chosen sites added as stations (``source="new site"``, named by ``label``)."""
        res, cho = self.result, self.chosen
        names = cho["name"] if "name" in cho else pd.Series([None] * len(cho), index=cho.index)
        if "label" in cho:
            names = names.where(names.notna() & (names.astype(str) != ""), cho["label"])
        new = gpd.GeoDataFrame({
            "facility_id": cho["candidate_id"].astype(str).to_numpy(), "name": names.to_numpy(dtype=object),
            "type": "station", "source": "new site",
        }, geometry=cho.geometry.to_numpy(), crs=cho.crs)
        fac = pd.concat([res.facilities, new.to_crs(res.facilities.crs)], ignore_index=True)
        bnd = res.subdistricts[["subdistrict", "district", "geometry"]] if res.subdistricts is not None else None
        pts = res.points.copy()
        pts.attrs["unit"] = res.summary.unit
        target = res.summary.target if res.summary.target_source == TARGET_GIVEN else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the same warnings were shown for the "before" run
            facilities = gpd.GeoDataFrame(fac, geometry="geometry", crs=res.facilities.crs)
            after = compute_coverage(res._network, facilities, pts, res.settings, types="all", boundaries=bnd,
                                     target=target)
        if "population_source" in res.by_subdistrict.columns:  # the same residents: the same sources
            source = res.by_subdistrict.set_index("subdistrict")["population_source"]
            for table in (after.by_subdistrict, after.subdistricts):
                if table is not None:
                    table["population_source"] = table["subdistrict"].map(source)
            after.summary = replace(after.summary, population_sources=res.summary.population_sources)
        return after

    @property
    def summary(self) -> dict[str, Any]:
        """Before/after coverage, the options, and exact vs greedy (objective, gap, status, seconds)."""
        prob, sol, p = self.problem, self.solution, self.params
        cand = self.candidates
        return {
            "model": self.model, **p,
            "population_total": prob.total,
            "covered_before": prob.covered_before, "rate_before": _rate(prob.covered_before, prob.total),
            "covered_after": sol.objective, "rate_after": sol.coverage_rate,
            "sites": sol.k, "chosen": [str(c) for c in sol.candidate_ids],
            "feasible": sol.feasible, "message": sol.message,
            "exact": _describe(sol, self.model, self.seconds.get("solver")),
            "greedy": _describe(self.greedy, self.model, None),
            "candidates": {
                "total": len(cand), "usable": int(cand["excluded"].isna().sum()),
                "adding_residents": int((prob.gains > 0).sum()),
                "by_kind": cand["kind"].astype(str).value_counts().to_dict(),
                "excluded": cand["excluded"].dropna().value_counts().to_dict(),
            },
            "reach_seconds": round(self.seconds.get("reach", float("nan")), 3),
        }


def _rate(covered: float, total: float) -> float:
    return covered / total if total > 0 else float("nan")


def _describe(sol: SitingSolution, model: str, solver_seconds: float | None) -> dict[str, Any]:
    return {
        "method": sol.method, "sites": sol.k, "covered": sol.objective, "rate": sol.coverage_rate,
        "objective": sol.k if model == "minimum_sites" else sol.objective,
        "objective_is": "sites" if model == "minimum_sites" else "covered residents",
        "mip_gap": sol.gap, "bound": sol.bound, "bound_source": sol.bound_source, "status": sol.status,
        "seconds": round(sol.seconds, 3),
        "solver_seconds": None if solver_seconds is None else round(solver_seconds, 3),
        "feasible": sol.feasible, "message": sol.message,
    }


def _check_ids(cand: gpd.GeoDataFrame, ids: Iterable[Any], what: str, *, excluded_ok: bool) -> list[str]:
    """Candidate ids as text; unknown ids (and, for locked sites, excluded ones) raise `ModelError`."""
    known = cand["candidate_id"].astype(str).tolist()
    reasons = cand["excluded"].tolist()
    out = []
    for cid in (str(i).strip() for i in ids):
        reason = reasons[positions_of([cid], known, what)[0]]
        if reason is not None and not pd.isna(reason):
            if excluded_ok:
                continue
            raise ModelError(f"{what} site {cid!r} is excluded ({reason}); see the `excluded` column"
                             + (" or lower `min_distance_m`" if reason == "too_close" else ""))
        out.append(cid)
    return out


def _check_room(cand: gpd.GeoDataFrame, k: int | None, quotas: Mapping[str, int] | None) -> None:
    """Planner-facing errors for k / quotas larger than the usable candidates (naming the exclusions)."""
    usable = cand["excluded"].isna()
    why = cand["excluded"].dropna().value_counts()
    detail = f" ({', '.join(f'{n} {r}' for r, n in why.items())} excluded)" if len(why) else ""
    if k is not None and k > int(usable.sum()):
        raise ModelError(f"k = {k} but only {int(usable.sum())} of {len(cand)} candidates are usable{detail}")
    sub = cand["subdistrict"].fillna(NONE).astype(str)
    for g, q in (quotas or {}).items():
        here = sub == str(g)
        n_ok = int((here & usable).sum())
        if q > n_ok:
            hint = " — is it inside the street network's extent?" if not here.any() else ""
            raise ModelError(f"quota of {q} site(s) in {g} but only {n_ok} usable candidate(s) lie there "
                             f"({int(here.sum())} in total){hint}")


def problem_from_result(result: CoverageResult, candidates: gpd.GeoDataFrame, *, progress: bool = False
                        ) -> SitingProblem:
    """Return the siting instance of a coverage result and candidate sites (see `siting.plan.candidates`).

    Candidates with an ``excluded`` reason are left out; the rest keep their order, with
    ``candidate_ids`` from ``candidate_id`` and ``candidate_groups`` from ``subdistrict``. Points are
    ``result.points`` inside the network extent (those outside are excluded from every rate), with
    ``weights`` their population (NaN → 0), ``covered0`` their ``covered`` flag and ``groups`` their
    ``subdistrict`` ("(none)" when missing). Reach sets come from
    :func:`siting.plan.candidates.candidate_reach`: the walking distances coverage itself would measure.

    Parameters
    ----------
    result : CoverageResult
        Coverage with the existing facilities.
    candidates : GeoDataFrame
        Candidate sites with ``candidate_id`` and (optionally) ``excluded`` and ``subdistrict``.
    progress : bool
        Show a progress bar while routing from the candidates.

    Returns
    -------
    SitingProblem
        The instance the models in `siting.locate` solve.
    """
    usable = candidates["excluded"].isna() if "excluded" in candidates else np.ones(len(candidates), bool)
    cand = candidates[np.asarray(usable, dtype=bool)]
    rated = (result.points["status"] != OUTSIDE).to_numpy()
    pts = result.points[rated]
    reach = candidate_reach(result, cand, points=rated, progress=progress)
    return SitingProblem(
        reach, pts["population"].fillna(0).to_numpy(float), covered0=pts["covered"].to_numpy(bool),
        groups=_labels(pts["subdistrict"]) if "subdistrict" in pts else None,
        candidate_groups=_labels(cand["subdistrict"]) if "subdistrict" in cand else None,
        candidate_ids=cand["candidate_id"].astype(str).to_numpy(dtype=object),
    )


def _labels(values: pd.Series) -> np.ndarray:
    """街道 labels as text; missing ones become "(none)", as in the coverage tables."""
    return values.astype(object).where(values.notna(), NONE).astype(str).to_numpy(dtype=object)


def plan_sites(
    result: CoverageResult,
    candidates: gpd.GeoDataFrame,
    *,
    k: int | None = None,
    target: float | None = None,
    per_subdistrict: bool = False,
    quotas: Mapping[str, int] | None = None,
    locked: Iterable[Any] = (),
    forbidden: Iterable[Any] = (),
    capacity: float | None = None,
    time_limit: float = 60.0,
    progress: bool = False,
) -> SitePlan:
    """Choose new station sites among ``candidates`` (from :func:`siting.plan.candidates.build_candidates`).

    Choose-k mode (`MaximalCoverage`): ``k`` sites (default the sum of ``quotas``, else 5), ``quotas``
    per 街道 exactly. Target mode (`MinimumSites`): the fewest sites lifting coverage to ``target``
    district-wide — then, among answers with that many sites, the one covering the most residents
    (a second, `MaximalCoverage` solve) — or in every 街道 with ``per_subdistrict``. ``locked`` /
    ``forbidden`` are candidate ids. Both the exact model (HiGHS, ``time_limit`` seconds) and lazy
    greedy are solved.

    Raises
    ------
    ModelError
        Unknown or excluded locked/forbidden ids, k or quotas above the usable candidates, quotas
        for 街道 that hold no candidate (with the closest name).
    """
    check_site_options(k=k, target=target, per_subdistrict=per_subdistrict, quotas=quotas, capacity=capacity,
                       time_limit=time_limit)
    k, quotas, locked_ids, forbidden_ids = _check_options(result, candidates, k, target, quotas, locked, forbidden)
    t0 = time.perf_counter()
    problem = problem_from_result(result, candidates, progress=progress)
    t_reach = time.perf_counter() - t0
    model: MaximalCoverage | MinimumSites
    if target is not None:
        model = MinimumSites(problem, None if per_subdistrict else target, target if per_subdistrict else None,
                             locked=locked_ids, forbidden=forbidden_ids, capacity=capacity)
    else:
        model = MaximalCoverage(problem, k, locked=locked_ids, forbidden=forbidden_ids, quotas=quotas,
                                capacity=capacity)
    model.solve(time_limit=time_limit)
    solution, solver_s = model.solution, model.solve_seconds
    if isinstance(model, MinimumSites) and not per_subdistrict and solution.feasible and solution.k:
        best = MaximalCoverage(problem, solution.k, locked=locked_ids, forbidden=forbidden_ids,
                               capacity=capacity).solve(time_limit=time_limit)
        solver_s += best.solve_seconds
        solution = _most_covering(solution, best.solution, problem.total)
    name = "minimum_sites" if isinstance(model, MinimumSites) else "maximal_coverage"
    compare_to = target if target is not None else result.summary.target
    params = {"k": k, "target": compare_to,
              "per_subdistrict": per_subdistrict, "quotas": dict(quotas or {}), "locked": locked_ids,
              "forbidden": forbidden_ids, "capacity": capacity, "time_limit": time_limit}
    return SitePlan(result, _ranked(candidates, problem, solution, compare_to), problem, solution,
                    model.greedy_solution, name, params, {"reach": t_reach, "solver": solver_s})


def _check_options(
    result: CoverageResult, candidates: gpd.GeoDataFrame, k: int | None, target: float | None,
    quotas: Mapping[str, int] | None, locked: Iterable[Any], forbidden: Iterable[Any],
) -> tuple[int | None, dict[str, int] | None, list[str], list[str]]:
    """Check the options of :func:`plan_sites` against the candidates, before any routing.

    Returns ``k`` (5 when neither k, quotas nor a target is given), the quotas keyed by the analysis'
    街道 names, and the locked and forbidden candidate ids (excluded forbidden ones dropped).
    """
    if "excluded" not in candidates:
        raise ColumnError("candidates need an `excluded` column: prepare them with siting.plan.candidates")
    locked_ids = _check_ids(candidates, locked, "locked", excluded_ok=False)
    forbidden_ids = _check_ids(candidates, forbidden, "forbidden", excluded_ok=True)
    matched = None
    if quotas:
        known = sorted(set(candidates["subdistrict"].dropna().astype(str)) | set(result.by_subdistrict["subdistrict"]))
        matched = {_match(str(g), known, "quota for unknown 街道"): int(q) for g, q in quotas.items()}
    if target is None and k is None and not matched:
        k = 5
    if target is None:
        _check_room(candidates, k if k is not None else sum((matched or {}).values()), matched)
    return k, matched, locked_ids, forbidden_ids


def _most_covering(fewest: SitingSolution, best: SitingSolution, total: float) -> SitingSolution:
    """Return the second stage's answer when, with as many sites as the fewest, it covers more residents.

    Its status keeps the site count's proof when both stages are proven; when the coverage stage stopped
    early, it names both stages' statuses instead of stage 1's "optimal".
    """
    if best.objective <= fewest.objective + 1e-9 * max(total, 1.0):
        return fewest
    if best.status == "optimal":  # both stages proven: report the site count's proof
        best.gap, best.status = fewest.gap, fewest.status
    else:  # the coverage stage stopped early: its own status and gap, not stage 1's "optimal"
        best.status = f"sites {fewest.status}; coverage {best.status}"
    best.seconds = fewest.seconds + best.seconds
    best.message = f"{fewest.message}; the best {best.k} cover {100 * best.coverage_rate:.1f} %"
    return best


def _ranked(cand: gpd.GeoDataFrame, problem: SitingProblem, sol: SitingSolution,
            target: float | None) -> gpd.GeoDataFrame:
    """``candidates`` with gain, share_of_gap, rank, chosen and order (excluded rows: NaN / False)."""
    scores = score_candidates(problem, target).set_index("candidate_id")
    out = cand.copy()
    ids = out["candidate_id"].astype(str)
    for col in ("gain", "share_of_gap", "rank"):
        out[col] = ids.map(scores[col]).astype(float)
    order = {str(c): i + 1 for i, c in enumerate(sol.candidate_ids)}
    out["chosen"] = ids.isin(list(order))
    out["order"] = ids.map(order).astype(float)
    return out
