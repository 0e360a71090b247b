"""The benchmark suite at its CI size: every case runs (so it cannot rot) and every equality check holds."""

from __future__ import annotations

import json
import subprocess
import sys


def test_benchmarks_ci_size(repo_root, tmp_path, shanghai):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--size", "ci", "--out", str(out)], cwd=repo_root,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads(out.read_text())["results"]
    cases = {r["case"].split()[0] for r in rows}
    assert {"coverage", "reach", "siting"} <= cases  # the synthetic cases and --help run everywhere
    # the real-data cases run too (CI has ../shared): routing, build and the README job, cold vs warm
    assert {"routing real extract", "network build", "siting coverage (README job), warm"} <= {r["case"] for r in rows}
    for row in rows:
        assert row["ok"] is not False, row
        assert row["ours_s"] is not None and row["ours_s"] > 0, row
    coverage = [r for r in rows if r["case"].startswith("coverage")]
    assert len(coverage) == 3 and all(r["ok"] for r in coverage)


def test_coverage_against_a_git_revision(repo_root):
    """``bench_coverage_before`` imports another revision beside this one; against HEAD's own package the
    results are identical (and the comparison says so)."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_coverage_before", "HEAD", "--n", "2000",
                           "--repeat", "1", "--kind", "jitter"], cwd=repo_root, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    assert row["kind"] == "jitter" and row["before_s"] > 0 and row["now_s"] > 0
    assert row["points_identical"] and row["summary_identical"] and row["tables_identical"], row
