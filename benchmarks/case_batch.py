"""``siting batch`` on Dask: the jobs of data/batch/shanghai_districts.yaml (8 districts walking + 2
elderly, real data) on a LocalCluster of 2 worker processes vs 1 worker, and vs a plain loop in this process.

The three ways run the same tasks and write the same outputs (covered residents checked equal). The
clusters are started and warmed before timing (start-up reported apart); the ways take turns for a few
rounds and each keeps its best (the first round of a cluster builds its networks; later rounds reuse
each worker's copy). "in tasks" sums the wall time measured inside the tasks: against the wall time it
separates Dask's overhead from slower work inside the workers. Full size only: it starts worker
processes, too slow for the CI run of the suite (tests/test_batch.py tests the batch itself).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
from distributed import Client, LocalCluster

import siting
from siting.cli._jobs import read_jobs
from siting.cli.batch import network_builds, run_batch, run_task

from ._common import REPO, SHARED, Result, peak_rss_mb

EXAMPLE = REPO / "data" / "batch" / "shanghai_districts.yaml"
ROUNDS = 3


def jobs(size: str) -> list[str]:
    return ["districts"] if size == "full" and SHARED.exists() else []


def jobs_file(folder: Path) -> Path:
    """The example jobs file with its ``../shared`` paths pointing at the real data."""
    path = folder / "jobs.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8").replace("../../../shared/data/shanghai", str(SHARED)),
                    encoding="utf-8")
    return path


def heads(table: pd.DataFrame) -> pd.DataFrame:
    """One row per task (no 街道 rows); a failed task stops the benchmark."""
    head = table.drop_duplicates("task").set_index("task").sort_index()
    assert (head["status"] != "failed").all(), head.loc[head["status"] == "failed", "error"].tolist()
    return head


def run(size: str, job: str) -> Result:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        path = jobs_file(folder)
        n = len(read_jobs(path))

        def loop() -> pd.DataFrame:
            out = Path(tempfile.mkdtemp(dir=folder))
            return pd.DataFrame([row for task in read_jobs(path) for row in run_task(task, str(out))])

        expected = heads(loop())["covered"]  # warms the disk cache and this process's imports
        ways: dict[str, Callable[[int], pd.DataFrame]] = {"loop": lambda r: loop()}
        startup, clients = {}, {}
        for workers in (1, 2):
            t0 = time.perf_counter()
            cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                       dashboard_address=":0", silence_logs=50))
            client = clients[workers] = stack.enter_context(Client(cluster))
            client.run(network_builds)  # every worker has imported siting.cli.batch
            startup[workers] = time.perf_counter() - t0
            ways[f"{workers}w"] = lambda r, c=client, w=workers: run_batch(
                path, folder / f"w{w}-{r}", client=c, progress=False, compare=siting.compare).table
        best: dict[str, tuple[float, float]] = {}
        same = True
        for r in range(ROUNDS):  # interleaved, so a busy moment on the shared machine hits every way alike
            for name, way in ways.items():
                t0 = time.perf_counter()
                table = heads(way(r))
                wall = time.perf_counter() - t0
                same = same and table["covered"].equals(expected)
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, float(table["seconds"].sum()))
        builds = {w: sum(k for found in c.run(network_builds).values() for counts in found.values()
                         for k in counts.values()) for w, c in clients.items()}
    (loop_s, loop_in), (one_s, one_in), (two_s, two_in) = best["loop"], best["1w"], best["2w"]
    return Result(
        f"batch {n} district jobs, 2 workers", two_s, "1 worker", one_s, peak_rss_mb(),
        "covered residents equal (loop, 1 and 2 workers)", same,
        note=f"plain loop {loop_s:.2f} s (1 worker = {one_s / loop_s:.2f}x the loop); in tasks "
             f"{loop_in:.1f}/{one_in:.1f}/{two_in:.1f} s; worker start-up {startup[1]:.1f}/{startup[2]:.1f} s; "
             f"networks built per cluster {builds[1]}/{builds[2]}; best of {ROUNDS} rounds",
        extra={"jobs": n, "loop_s": loop_s, "one_worker_s": one_s, "two_workers_s": two_s, "in_tasks_s": {
            "loop": loop_in, "1w": one_in, "2w": two_in}, "startup_s": startup, "networks_built": builds})
