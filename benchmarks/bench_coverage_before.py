"""``python -m benchmarks.bench_coverage_before REV [--kind grid jitter city] [--repeat 3] [--n 1000000]``:
``coverage()`` of git revision ``REV`` against this checkout's, in one process, on the synthetic networks of
``--n`` nodes with ``--n`` homes (1M × 1M by default).

The package at ``REV`` is exported (``git archive``) into a temporary folder and imported under another
name (``siting_before``), so both versions run side by side on the same inputs, alternating, each from a
fresh copy of the network; the best of ``--repeat`` runs is kept (the machine may be shared). Prints one
JSON line per network: both times (wall and CPU seconds, each the best of the runs), their ratio, and how the
results compare (points, summary, tables; the number of walking times that differ and by how many units in
the last place).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from siting.engine import coverage
from siting.settings import Settings

from . import case_coverage
from ._common import REPO

COLUMNS = ["walk_min", "facility_id", "status", "snap_m", "covered"]


def import_revision(rev: str, folder: Path) -> Any:
    """Export ``siting/`` (and ``data/``) at ``rev`` into ``folder`` and import it as ``siting_before``."""
    archive = subprocess.run(["git", "archive", rev, "siting", "data"], cwd=REPO, capture_output=True,
                             check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    spec = importlib.util.spec_from_file_location("siting_before", folder / "siting" / "__init__.py",
                                                  submodule_search_locations=[str(folder / "siting")])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["siting_before"] = module
    spec.loader.exec_module(module)
    return module


def _module(*names: str) -> Any:
    """The first of ``siting_before.<name>`` that exists (modules moved into stages in the layout round)."""
    for name in names:
        try:
            return importlib.import_module(f"siting_before.{name}")
        except ModuleNotFoundError:
            continue
    raise ModuleNotFoundError(f"none of {names} in the revision's siting")


def compare(a: Any, b: Any) -> dict[str, Any]:
    """How two coverage results differ: identical columns, differing walking times and their size in ulps."""
    wa, wb = a.points["walk_min"].to_numpy(float), b.points["walk_min"].to_numpy(float)
    differ = np.flatnonzero(~((wa == wb) | (np.isnan(wa) & np.isnan(wb))))
    ulps = np.abs(wa[differ] - wb[differ]) / np.spacing(wa[differ])
    return {
        "points_identical": bool(a.points[COLUMNS].equals(b.points[COLUMNS])),
        "other_columns_differ": [c for c in COLUMNS if c != "walk_min" and not a.points[c].equals(b.points[c])],
        "walk_min_differ": int(len(differ)), "max_ulps": float(ulps.max()) if len(differ) else 0.0,
        "summary_identical": case_coverage.summary_json(a) == case_coverage.summary_json(b),
        "tables_identical": bool(a.by_subdistrict.equals(b.by_subdistrict) and a.by_district.equals(b.by_district)),
    }


def run(kind: str, repeat: int, n: int = 1_000_000) -> dict[str, Any]:
    """Time both versions on one network, alternating; return the best times and the comparison."""
    net, pop, fac = case_coverage.build(kind, n, n)
    fields = {f.name: getattr(net, f.name) for f in dataclasses.fields(net)}
    old_cov = _module("engine.coverage", "coverage")  # the stage layout, or the flat one before it
    old_net = _module("engine.network", "network").Network
    old_settings = importlib.import_module("siting_before.settings").Settings
    old_compute = getattr(old_cov, "compute_coverage", None) or old_cov.coverage
    best = {"before": np.inf, "now": np.inf}
    cpu = {"before": np.inf, "now": np.inf}  # steadier than wall time on a shared machine
    results: dict[str, Any] = {}
    for _ in range(repeat):
        for side in ("before", "now"):
            if side == "before":
                network, compute, settings = old_net(**fields), old_compute, old_settings()
            else:
                network, compute, settings = case_coverage.fresh(net), coverage.compute_coverage, Settings()
            t0, c0 = time.perf_counter(), time.process_time()
            results[side] = compute(network, fac, pop, settings)
            best[side] = min(best[side], time.perf_counter() - t0)
            cpu[side] = min(cpu[side], time.process_time() - c0)
    return {"kind": kind, "n": n, "before_s": round(best["before"], 3), "now_s": round(best["now"], 3),
            "ratio": round(best["before"] / best["now"], 2), "before_cpu_s": round(cpu["before"], 3),
            "now_cpu_s": round(cpu["now"], 3), "cpu_ratio": round(cpu["before"] / cpu["now"], 2),
            **compare(results["before"], results["now"])}


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print one JSON line per network."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_coverage_before", description=__doc__.splitlines()[0])
    ap.add_argument("rev", help="the git revision to compare with (e.g. a commit before a change)")
    ap.add_argument("--kind", nargs="*", default=["grid", "jitter", "city"], choices=["grid", "jitter", "city"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n", type=int, default=1_000_000, help="nodes, and homes (default 1,000,000)")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as folder:
        import_revision(args.rev, Path(folder))
        for kind in args.kind:
            print(json.dumps(run(kind, args.repeat, args.n)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
