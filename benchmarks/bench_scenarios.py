"""A 10-scenario file on the real sample vs each scenario run alone (the way a planner would without `compare`).

`siting.compare` loads the inputs once, builds each mode's network once and reuses the population; the
target (issue 11) is: the whole file in under 2 × the slowest single scenario + the network load. A
"single scenario" is what `siting coverage` (or `siting site`) does on the equivalent edited inputs: load
the inputs (network from the same warm cache), cover, and — for siting scenarios — build candidates and
solve. Every single run is also checked to give exactly the comparison's covered residents.
Run: ``python benchmarks/bench_scenarios.py``
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
import warnings
from pathlib import Path

from _common import best_of

import siting
from siting.scenarios import BASELINE

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "data" / "scenarios" / "xuhui_2025.yaml"
# ../shared beside the checkout (or beside the folder of worktrees)
SHARED = next(p / "shared" for p in REPO.parents if (p / "shared" / "data" / "shanghai").is_dir())


def single(inputs_kw: dict, run: siting.scenarios.Run, cache: Path) -> float:
    """Seconds for one scenario on its own: load inputs, cover the edited inputs (and site, if it does)."""
    t0 = time.perf_counter()
    inputs = siting.load_inputs(settings=run.settings, cache_dir=cache, **inputs_kw)
    if run.plan is not None:  # `siting site`: coverage before, candidates, plan, coverage after
        before = siting.run_coverage(dataclasses.replace(inputs, facilities=run.plan.result.facilities),
                                     run.settings, types=list(run.types), target=run.target)
        cands = siting.build_candidates(before, osm=inputs_kw["osm"], spacing_m=200, boundaries=inputs.boundaries)
        plan = siting.plan_sites(before, cands, target=run.plan.params["target"])
        covered = plan.after.summary.population_covered
    else:
        edited = dataclasses.replace(inputs, facilities=run.facilities, population=run.population)
        covered = siting.run_coverage(edited, run.settings, types=list(run.types),
                                      target=run.target).summary.population_covered
    seconds = time.perf_counter() - t0
    assert covered == run.result.summary.population_covered, f"{run.name}: {covered} differs"
    return seconds


def main() -> None:
    warnings.simplefilter("ignore")
    tmp = Path(tempfile.mkdtemp(prefix="bench_scenarios."))
    text = EXAMPLE.read_text(encoding="utf-8").replace("../../../shared", str(SHARED))
    (tmp / "scenarios.yaml").write_text(text, encoding="utf-8")
    cache = tmp / "cache"
    osm = SHARED / "data/shanghai/osm/shanghai_center_overpass_roads.osm"
    t_cold = {m: best_of(1, lambda m=m: siting.Network.from_osm(osm, m, cache_dir=cache))[0] for m in ("walk", "bike")}
    t_net, _ = best_of(3, lambda: siting.Network.from_osm(osm, "walk", cache_dir=cache))
    t_all, comp = best_of(3, lambda: siting.compare(tmp / "scenarios.yaml", cache_dir=cache))
    base = siting.scenarios.prepare(tmp / "scenarios.yaml").baseline
    kw = {"osm": base.osm, **base.load_kwargs()}
    singles = {name: min(single(kw, run, cache) for _ in range(2)) for name, run in comp.runs.items()
               if name != BASELINE}
    slowest = max(singles, key=singles.__getitem__)
    bound = 2 * singles[slowest] + t_net
    points = comp.runs[BASELINE].result.summary.n_points
    print(f"{len(singles)} scenarios on the real sample (northern Xuhui, {points:,} population points); "
          f"network build cold: walk {t_cold['walk']:.2f} s, bike {t_cold['bike']:.2f} s; "
          f"warm load {t_net:.2f} s")
    for name, seconds in singles.items():
        print(f"  alone  {name:<22}{seconds:7.2f} s   (in the comparison: {comp.runs[name].seconds:5.2f} s)")
    print(f"compare(), all {len(singles)} + baseline: {t_all:.2f} s (load {comp.seconds['load']:.2f} s)")
    total = sum(singles.values())
    print(f"sum of the single runs: {total:.2f} s -> compare is {total / t_all:.1f}x faster")
    print(f"target: < 2 x slowest single ({slowest}, {singles[slowest]:.2f} s) + network load ({t_net:.2f} s) "
          f"= {bound:.2f} s; measured {t_all:.2f} s = {t_all / bound:.2f} of the bound -> "
          f"{'OK' if t_all < bound else 'MISSED'}")


if __name__ == "__main__":
    main()
