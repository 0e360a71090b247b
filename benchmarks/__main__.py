"""``python -m benchmarks [--size ci|full] [--only CASE ...] [--out FILE]``: every case, one table.

Each job runs in its own process (so its peak memory is its own), ours first and then the peer, side
by side; the table and ``benchmarks/results.json`` give both times, their ratio, peak RSS and the
equality check. ``--size ci`` runs everything tiny (< 60 s; the test suite runs it and asserts the
checks); ``full`` is the city scale, run by hand (quoted in README.md, "Performance").

Adding a case: a module ``benchmarks/case_<name>.py`` with ``jobs(size) -> list[str]`` and
``run(size, job) -> Result``, and its name in :data:`CASES`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ._common import REPO, SIZES, Result

CASES = ["routing", "build", "coverage", "reach", "siting", "access", "cli", "batch", "workbench", "extract"]
RESULTS = Path(__file__).resolve().parent / "results.json"


def run_job(case: str, size: str, job: str) -> dict[str, Any]:
    """Run one job in a fresh interpreter and return its result as a dict."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--job", f"{case}:{job}", "--size", size],
                          cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"case": f"{case} {job}", "ours_s": None, "peer": "-", "peer_s": None, "rss_mb": None,
                "check": "crashed", "ok": False, "note": proc.stderr.strip().splitlines()[-1:], "ratio": None}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'case':<38} {'ours s':>9} {'peer s':>9} {'ratio':>8} {'RSS MB':>8}  {'check':<5} peer / note"
    lines = [head, "-" * len(head)]
    for r in rows:
        ok = {True: "ok", False: "FAIL", None: "-"}[r["ok"]]
        lines.append(f"{r['case'][:38]:<38} {fmt(r['ours_s'], '9.3f')} {fmt(r['peer_s'], '9.3f')} "
                     f"{fmt(r['ratio'], '7.1f')}x {fmt(r['rss_mb'], '8.0f')}  {ok:<5} {r['peer']}; {r['note']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=SIZES, default="full")
    ap.add_argument("--only", nargs="*", choices=CASES, help="run only these cases")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results JSON (default benchmarks/results.json)")
    ap.add_argument("--job", help=argparse.SUPPRESS)  # internal: run one job in this process, print JSON
    args = ap.parse_args(argv)
    if args.job:
        case, job = args.job.split(":", 1)
        result: Result = importlib.import_module(f"benchmarks.case_{case}").run(args.size, job)
        print(json.dumps(result.to_dict(), default=str))
        return 0
    rows = []
    t0 = time.perf_counter()
    for case in args.only or CASES:
        for job in importlib.import_module(f"benchmarks.case_{case}").jobs(args.size):
            rows.append(run_job(case, args.size, job))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(rows))
    meta = {"size": args.size, "seconds": round(time.perf_counter() - t0, 1), "machine": platform.platform(),
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "load_average": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    args.out.write_text(json.dumps({"meta": meta, "results": rows}, indent=1, default=str), encoding="utf-8")
    print(f"\n{len(rows)} jobs in {meta['seconds']} s; written {args.out}")
    return 0 if all(r["ok"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
