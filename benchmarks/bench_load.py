"""``python -m benchmarks.bench_load [REV] [--repeat 7] [--profile]``: ``pipeline.load_inputs`` (+ ``run_coverage``)
of git revision ``REV`` against this checkout's, on the README's main job (the real sample: 徐汇区, Lianjia BD-09
points, census and 街道 totals), warm, in one process.

The package at ``REV`` (default :data:`BASELINE`, main before the loading work of issue 14 part 3) is exported
(``git archive``) and imported as ``siting_before`` (see :func:`benchmarks.bench_coverage_before.import_revision`);
both load the same files alternately, after one warm-up each (the network comes from a cache folder filled by
the warm-up), and the best of ``--repeat`` runs is kept. Prints one JSON line: the best times of ``load_inputs``
and of ``run_coverage``, their ratios (before ÷ now), and whether the loaded inputs (population, facilities,
boundaries: columns, dtypes, values, geometries; notes, sources, attrs), the warnings (text and order) and the
coverage summary are identical. The objects made by the imports are frozen first (:func:`gc.freeze`), as
``siting coverage`` freezes them. ``--profile`` prints instead a ``cProfile`` of three warm ``load_inputs`` calls
of this checkout (by own time).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import json
import pstats
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from siting import pipeline

from ._common import SHARED
from .bench_coverage_before import import_revision
from .case_coverage import summary_json

#: main when the loading work began (``pipeline.load_inputs`` ~0.25 s warm on the README job).
BASELINE = "abc1d51"


def arguments(cache_dir: str) -> dict[str, Any]:
    """``load_inputs`` keywords of the README's main job (as ``siting coverage`` passes them)."""
    s = SHARED
    return {
        "osm": s / "osm/shanghai_center_overpass_roads.osm",
        "facilities": s / "facilities/xuhui_chc_healthxuhui.csv", "facility_crs": "bd09",
        "population": s / "population/lianjia_xiaoqu_shanghai_2018_bd09.json", "population_crs": "bd09",
        "census": s / "population/shanghai_district_population_census.csv",
        "subdistrict_totals": [s / "population/xuhui_subdistrict_households_2026_estimate.csv"],
        "boundaries": s / "boundaries/shanghai_subdistricts_osm_8districts.geojson",
        "district": "徐汇区", "cache_dir": cache_dir,
    }


def load(module: Any, cache_dir: str) -> tuple[float, Any, list[str]]:
    """One timed ``load_inputs`` call; its time, the inputs and the warnings' texts (in order)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        inputs = module.load_inputs(**arguments(cache_dir))
        seconds = time.perf_counter() - t0
    return seconds, inputs, [f"{w.category.__name__}: {w.message}" for w in caught]


def cover(module: Any, inputs: Any) -> tuple[float, Any]:
    """One timed ``run_coverage`` call (warnings silenced: they are compared in :func:`load`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        result = module.run_coverage(inputs)
        return time.perf_counter() - t0, result


def frames_equal(a: pd.DataFrame | None, b: pd.DataFrame | None) -> bool:
    """Same columns, dtypes, index, values and geometries (exactly), and the same ``attrs``."""
    if a is None or b is None:
        return a is b
    try:
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    except AssertionError:
        return False
    geometry_equal = "geometry" not in a or bool(a.geometry.geom_equals_exact(b.geometry, 0).all())
    return geometry_equal and json.dumps(a.attrs, sort_keys=True, default=str) == json.dumps(
        b.attrs, sort_keys=True, default=str)


def compare(old: Any, new: Any, old_warned: list[str], new_warned: list[str], old_cov: Any,
            new_cov: Any) -> dict[str, bool]:
    """Which parts of two loads (and their coverage) are identical."""
    summary = [json.loads(summary_json(r)) for r in (old_cov, new_cov)]
    for s in summary:
        s.pop("seconds", None)
    return {
        "population": frames_equal(old.population, new.population),
        "facilities": frames_equal(old.facilities, new.facilities),
        "boundaries": frames_equal(old.boundaries, new.boundaries),
        "notes_sources": old.notes == new.notes and old.sources == new.sources,
        "warnings": old_warned == new_warned,
        "summary": summary[0] == summary[1],
        "points": frames_equal(old_cov.points, new_cov.points),
    }


def profile(cache_dir: str) -> None:
    """Print a cProfile (by own time) of three warm ``load_inputs`` calls of this checkout."""
    load(pipeline, cache_dir)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(3):
        load(pipeline, cache_dir)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(40)
    pstats.Stats(prof).sort_stats("cumulative").print_stats(60)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison (or the profile) and print its JSON line."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_load", description=__doc__.splitlines()[0])
    ap.add_argument("rev", nargs="?", default=BASELINE, help=f"git revision to compare with (default {BASELINE})")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--profile", action="store_true", help="profile this checkout's load_inputs instead")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        cache_dir = str(Path(folder) / "cache")
        if args.profile:
            gc.freeze()
            profile(cache_dir)
            return 0
        import_revision(args.rev, Path(folder) / "before")
        before = importlib.import_module("siting_before.pipeline")
        gc.freeze()  # as `siting coverage` does once the stack is imported: collections skip the modules
        sides = {"before": before, "now": pipeline}
        best = {side: [float("inf"), float("inf")] for side in sides}
        out: dict[str, Any] = {}
        for module in sides.values():  # warm-up: the network cache, lazy imports, first-call costs
            cover(module, load(module, cache_dir)[1])
        for _ in range(args.repeat):
            for side, module in sides.items():
                seconds, inputs, warned = load(module, cache_dir)
                cov_seconds, result = cover(module, inputs)
                best[side] = [min(best[side][0], seconds), min(best[side][1], cov_seconds)]
                out[side] = (inputs, warned, result)
    (old, old_warned, old_cov), (new, new_warned, new_cov) = out["before"], out["now"]
    print(json.dumps({
        "rev": args.rev, "repeat": args.repeat,
        "load_before_s": round(best["before"][0], 4), "load_now_s": round(best["now"][0], 4),
        "load_ratio": round(best["before"][0] / best["now"][0], 2),
        "cover_before_s": round(best["before"][1], 4), "cover_now_s": round(best["now"][1], 4),
        "cover_ratio": round(best["before"][1] / best["now"][1], 2),
        "identical": compare(old, new, old_warned, new_warned, old_cov, new_cov),
    }, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
