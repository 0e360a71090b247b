"""Siting at city scale: certified maximal coverage and fewest sites on a synthetic 16 km district.

10,000 candidates × 100,000 homes, uniform in a 16 km square, each candidate reaching the homes within
~640 m (about 500 homes each: 4.8 M pairs), lognormal residents per home. Measured in one run:

- greedy: lazy greedy with its submodular bound (the warm start of everything else);
- new: ``MaximalCoverage.solve(time_limit=60)`` (swap search, Lagrangian bound, fixing, HiGHS on the
  reduced model): time, objective, proven bound, gap, what proved it;
- old: the HiGHS-only path this replaced (greedy start, the whole merged model handed to HiGHS under a
  30 s limit), run in a child process that is killed after ``--cap`` seconds, since it ignores its
  limit (405 s in presolve measured at full size);
- ``MinimumSites`` for 50 % coverage: sites, proven lower bound, time.

Run: ``python benchmarks/bench_siting.py`` (CI size: 2,000 × 20,000) or ``--full`` (``--cap 120``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from siting.locate import MaximalCoverage, MinimumSites, SitingProblem, greedy
from siting.locate.greedy import make_spec
from siting.locate.mip import aggregate_points, coverage_bound, mip_columns, solve_mip

SIZES = {"ci": (2_000, 20_000, 200, (20,)), "full": (10_000, 100_000, 500, (50, 100))}


def district(n_c: int, n_p: int, per_candidate: int, side: float = 16_000.0, seed: int = 0
             ) -> tuple[sp.csr_matrix, np.ndarray]:
    """Reach matrix (candidates × homes within the radius giving ~``per_candidate`` homes) and residents."""
    rng = np.random.default_rng(seed)
    cand, homes = rng.random((n_c, 2)) * side, rng.random((n_p, 2)) * side
    radius = side * np.sqrt(per_candidate / (n_p * np.pi))
    reach = cKDTree(cand).sparse_distance_matrix(cKDTree(homes), radius, output_type="coo_matrix").tocsr() > 0
    return reach, rng.lognormal(4, 1, n_p)


def old_path(prob: SitingProblem, k: int, time_limit: float) -> dict[str, Any]:
    """What `MaximalCoverage.solve` did before: greedy start, the whole merged model to HiGHS."""
    t0 = time.perf_counter()
    spec = make_spec(prob, k, (), (), None, need_k=True)
    g = greedy(prob, k)
    cols, pts = mip_columns(prob, spec), np.flatnonzero(prob.open_weights > 0)
    mat, wa, _ = aggregate_points(prob.reach[cols][:, pts], prob.open_weights[pts], None)
    out = solve_mip(mat, wa, sense="max", locked=np.array([], dtype=np.int64), start=np.isin(cols, g.chosen),
                    pools=[(np.ones(cols.size, dtype=bool), float(k))], time_limit=time_limit)
    value = max(g.objective, out.objective or 0.0)
    bound = min(coverage_bound(prob, spec, g.chosen.tolist()), out.bound if out.bound is not None else np.inf)
    return {"seconds": time.perf_counter() - t0, "objective": value, "bound": bound,
            "gap": (bound - value) / value, "status": out.status}


def run_old(size: str, k: int, cap: float) -> dict[str, Any]:
    """`old_path` in a child process, killed after ``cap`` seconds."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--old", str(k), "--size", size]
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=cap, check=True)
    except subprocess.TimeoutExpired:
        return {"seconds": time.perf_counter() - t0, "objective": None, "bound": None, "gap": None,
                "status": f"killed after {cap:.0f} s"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(size: str = "ci", cap: float = 120.0, time_limit: float = 60.0) -> list[dict[str, Any]]:
    """One row per case: k, greedy / new / old figures and their ratios; asserts the bounds hold."""
    n_c, n_p, per, ks = SIZES[size]
    reach, w = district(n_c, n_p, per)
    prob = SitingProblem(reach, w)
    rows = []
    for k in ks:
        t0 = time.perf_counter()
        g = greedy(prob, k)
        t_greedy = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        new = MaximalCoverage(prob, k).solve(time_limit=time_limit)
        t_new, cpu_new = time.perf_counter() - t0, time.process_time() - c0
        old = run_old(size, k, cap)
        assert new.bound >= new.objective >= g.objective - 1e-6
        if old["status"] == "optimal":
            assert new.objective >= old["objective"] - 1e-6 * old["objective"]
        rows.append({
            "case": f"siting {n_c:,} × {n_p:,} ({reach.nnz / 1e6:.1f} M pairs), k={k}",
            "greedy": {"seconds": t_greedy, "objective": g.objective, "bound": g.bound},
            "new": {"seconds": t_new, "cpu_seconds": cpu_new, "objective": new.objective, "bound": new.bound,
                    "gap": new.gap, "bound_source": new.bound_source, "status": new.status,
                    "time_limit": time_limit},
            "old": old,
            "ratio_time_old_over_new": old["seconds"] / t_new,
            "ratio_objective_new_over_greedy": new.objective / g.objective,
        })
    t0 = time.perf_counter()
    ms = MinimumSites(prob, 0.5).solve(time_limit=time_limit)
    rows.append({"case": f"fewest sites for 50 % ({n_c:,} × {n_p:,})",
                 "new": {"seconds": time.perf_counter() - t0, "sites": ms.objective, "lower_bound": ms.bound,
                         "gap": ms.gap, "bound_source": ms.bound_source, "status": ms.status},
                 "greedy": {"sites": ms.greedy_solution.k}})
    return rows


def report(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        new, gre = r["new"], r["greedy"]
        if "sites" in new:
            print(f"{r['case']}: {new['sites']} sites, proven ≥ {new['lower_bound']:.0f} ({new['bound_source']}, "
                  f"gap {new['gap']:.2%}, {new['status']}) in {new['seconds']:.1f} s; greedy {gre['sites']}")
            continue
        old = r["old"]
        old_txt = (f"{old['seconds']:.1f} s, gap {old['gap']:.2%} ({old['status']})" if old["gap"] is not None
                   else f"{old['seconds']:.1f} s, no answer ({old['status']})")
        print(f"{r['case']}\n  greedy {gre['seconds']:.2f} s: {gre['objective']:,.0f} (bound {gre['bound']:,.0f})"
              f"\n  new    {new['seconds']:.1f} s (cpu {new['cpu_seconds']:.1f} s, limit {new['time_limit']:.0f} s): "
              f"{new['objective']:,.0f} ≤ {new['bound']:,.0f}, gap {new['gap']:.3%} by {new['bound_source']} "
              f"({new['status']})\n  old    HiGHS only, 30 s limit: {old_txt}"
              f"\n  old / new time {r['ratio_time_old_over_new']:.1f}x; "
              f"new / greedy objective {r['ratio_objective_new_over_greedy']:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="10,000 × 100,000 (default: CI size)")
    parser.add_argument("--cap", type=float, default=120.0, help="seconds after which the old path is killed")
    parser.add_argument("--old", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", default="ci", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.old is not None:  # child: the old path only, one JSON line
        n_c, n_p, per, _ = SIZES[args.size]
        print(json.dumps(old_path(SitingProblem(*district(n_c, n_p, per)), args.old, 30.0)))
        return
    report(run("full" if args.full else "ci", args.cap))


if __name__ == "__main__":
    main()
