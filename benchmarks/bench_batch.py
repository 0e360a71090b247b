"""`siting batch` on Dask: N district jobs on 1 vs 2 local workers, against a plain loop in this process.

The jobs are those of data/batch/shanghai_districts.yaml (8 districts walking + 2 elderly, real data),
repeated ``--repeat`` times under new names. Three ways, same tasks, same outputs (covered residents
checked equal): a plain loop calling the task function here (the baseline), a 1-worker and a 2-worker
LocalCluster (worker processes started and warmed before timing; start-up reported apart). The ways
take turns for ``--runs`` rounds and each keeps its best (the first round of a cluster builds its
networks; later rounds reuse each worker's copy). "in tasks" sums the wall time measured inside the
tasks: compared with the wall time it separates Dask's overhead from slower work inside the workers.
Run from the repository root: ``python benchmarks/bench_batch.py``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
from distributed import Client, LocalCluster

from siting._jobs import read_jobs
from siting.batch import network_builds, run_batch, run_task

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "batch" / "shanghai_districts.yaml"


def shared_folder() -> Path:
    """../shared/data/shanghai beside the checkout (or beside the worktrees' folder)."""
    for parent in ROOT.parents[:2]:
        if (parent / "shared" / "data" / "shanghai").is_dir():
            return parent / "shared" / "data" / "shanghai"
    raise SystemExit("the real data folder ../shared/data/shanghai is absent")


def jobs_file(folder: Path, repeat: int) -> Path:
    """The example jobs with real paths, its jobs repeated ``repeat`` times (names suffixed)."""
    text = EXAMPLE.read_text(encoding="utf-8").replace("../../../shared/data/shanghai", str(shared_folder()))
    head, jobs = text.split("jobs:\n", 1)
    copies = [jobs.replace("  - name: ", f"  - name: r{i}-") for i in range(repeat)]
    path = folder / "jobs.yaml"
    path.write_text(head + "jobs:\n" + "".join(copies), encoding="utf-8")
    return path


def loop(path: Path, folder: Path) -> pd.DataFrame:
    """The baseline: every task in turn, in this process (networks cached here after the first)."""
    out = Path(tempfile.mkdtemp(dir=folder))
    return pd.DataFrame([row for task in read_jobs(path) for row in run_task(task, str(out))])


def heads(table: pd.DataFrame) -> pd.DataFrame:
    """One row per job (no 街道 rows), checked: no job failed."""
    head = table[table["level"] != "subdistrict"]
    assert (head["status"] != "failed").all(), head[head["status"] == "failed"]["error"].tolist()
    return head.set_index(["job", "area"]).sort_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="copies of the example's 10 jobs (default 1)")
    parser.add_argument("--runs", type=int, default=3, help="rounds (each way once per round); the best is kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        path = jobs_file(folder, args.repeat)
        n = len(read_jobs(path))
        expected = heads(loop(path, folder))["covered"]  # warms the disk cache and this process's imports
        clients: dict[int, Client] = {}
        startup: dict[int, float] = {}
        for workers in (1, 2):
            t0 = time.perf_counter()
            cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                       dashboard_address=":0", silence_logs=50))
            clients[workers] = stack.enter_context(Client(cluster))
            clients[workers].run(network_builds)  # every worker has imported siting.batch
            startup[workers] = time.perf_counter() - t0
        best: dict[str, tuple[float, float]] = {}
        for r in range(args.runs):  # interleaved, so a busy moment on the machine hits every way alike
            ways = {"loop": lambda: loop(path, folder)}
            for workers, client in clients.items():
                ways[f"{workers}w"] = lambda c=client, w=workers, r=r: run_batch(
                    path, folder / f"w{w}-{r}", client=c, progress=False).table
            for name, run in ways.items():
                t0 = time.perf_counter()
                table = heads(run())
                wall = time.perf_counter() - t0
                assert table["covered"].equals(expected), f"{name}: covered residents differ from the plain loop"
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, float(table["seconds"].sum()))
        builds = {w: sum(n for found in c.run(network_builds).values() for counts in found.values()
                         for n in counts.values()) for w, c in clients.items()}
    print(f"{n} jobs (real central-Shanghai districts), best of {args.runs} interleaved rounds; "
          "covered residents equal in every way")
    print(f"{'way':<28}{'start-up s':>11}{'wall s':>9}{'s/job':>7}{'in tasks s':>12}{'networks built':>16}")
    labels = {"loop": ("plain loop, this process", 0.0, 0), "1w": ("LocalCluster, 1 worker", startup[1], builds[1]),
              "2w": ("LocalCluster, 2 workers", startup[2], builds[2])}
    for key, (label, up, built) in labels.items():
        wall, inside = best[key]
        print(f"{label:<28}{up:>11.2f}{wall:>9.2f}{wall / n:>7.2f}{inside:>12.2f}{built:>16}")
    print(f"1 worker / plain loop: {best['1w'][0] / best['loop'][0]:.2f}× the wall time")
    print(f"2 workers vs 1 worker: {best['1w'][0] / best['2w'][0]:.2f}× faster")


if __name__ == "__main__":
    main()
