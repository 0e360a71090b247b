"""Many independent coverage runs as tasks on Dask (``siting batch``): a local cluster or any scheduler.

Each task (a job of the jobs file, or one district of it, see :mod:`siting.cli._jobs`) runs on a worker:
it loads its inputs, computes coverage and writes the usual output folder. The street network of an
extract is built once per worker and kept in that worker's memory for the next tasks on the same
extract (keyed by the file's sha256 and the network type). A failing task is reported in the merged
table (``status`` "failed", ``error``) and does not stop the others.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pandas as pd
from tqdm.auto import tqdm

from ..engine.coverage import CoverageResult
from ..engine.network import Network
from ..errors import SitingError
from ..io._cache import file_digest
from ..outputs._outdir import disk_full, inside
from ..outputs._text import write_csv
from ..outputs._workbook import rounded
from ..outputs.excel import write_excel
from ..outputs.report import atomic_dir, write_coverage
from ..pipeline import load_inputs, run_coverage
from ..scenarios._file import read_scenario_file
from ..settings import Settings
from ._jobs import JOB_KEYS, Task, read_jobs
from ._scheduler import DEFAULT_CONNECT_TIMEOUT, check_scheduler

if TYPE_CHECKING:
    from distributed import Client

#: Columns of ``batch.csv``: one row per task (and scenario) and area: the whole area first, then its
#: districts when it spans several, then every 街道.
COLUMNS = ["job", "task", "scenario", "level", "area", "district", "population", "covered", "coverage_rate", "target",
           "gap_residents", "outside_population", "status", "error", "warnings", "seconds", "folder"]
#: Warnings the console does not show (Python ignores them by default: an unclosed font file, deprecations
#: inside libraries), kept out of batch.csv's ``warnings`` too.
QUIET_WARNINGS = (ResourceWarning, DeprecationWarning, PendingDeprecationWarning, ImportWarning)
#: Networks kept in memory per worker (least recently used dropped first).
MAX_NETWORKS = 8

_networks: dict[str, OrderedDict[tuple[str, ...], Network]] = {}
_builds: dict[str, dict[str, int]] = {}
_lock = threading.Lock()


@dataclass
class BatchResult:
    """What :func:`run_batch` returns: the merged ``table`` (:data:`COLUMNS`), the output folder, counts."""

    table: pd.DataFrame
    out: Path
    tasks: int
    failed: int
    seconds: float


def dask() -> ModuleType:
    """``dask.distributed``, imported when a batch runs (an optional dependency: ``pip install siting[batch]``)."""
    try:
        import distributed
    except ImportError:  # pragma: no cover - the [batch] extra is part of [dev]
        raise SitingError("siting batch needs dask.distributed: pip install 'siting[batch]'") from None
    return distributed


def _worker_id() -> str:
    try:
        return str(dask().get_worker().address)
    except ValueError:  # not inside a dask worker (a plain call)
        return "local"


def worker_network(load: dict[str, Any], network_type: str, buffer_m: float = 0.0) -> Network:
    """Return the street network of ``load["osm"]`` (or ``load["place"]``) from this worker's memory.

    It is built (or read from the disk cache, ``load["cache_dir"]``) once per worker; a place's streets with
    ``buffer_m`` around it (the longest trip), from ``load``'s ``overpass_url`` / ``nominatim_url``.
    """
    file = "osm" if "osm" in load else "network_file" if "network_file" in load else None  # else a place
    source = (file, _sha256(load[file])) if file else ("place", str(load["place"]), f"{buffer_m:g}")
    key = (*source, network_type)
    worker = _worker_id()
    with _lock:
        cache = _networks.setdefault(worker, OrderedDict())
        if key in cache:
            cache.move_to_end(key)
            net = cache[key]
            if net.info.get("warning"):  # what the build said, said again for this task
                warnings.warn(f"{Path(net.info.get('source', '')).name}: {net.info['warning']}", stacklevel=2)
            return net
        if "osm" in load:
            net = Network.from_osm(load["osm"], network_type, cache_dir=load.get("cache_dir"))
        elif "network_file" in load:
            net = Network.from_lines(load["network_file"], network_type)
        else:
            net = Network.from_place(str(load["place"]), network_type, cache_dir=load.get("cache_dir"),
                                     buffer_m=buffer_m, overpass_url=load.get("overpass_url"),
                                     nominatim_url=load.get("nominatim_url"))
        cache[key] = net
        if len(cache) > MAX_NETWORKS:
            cache.popitem(last=False)
        counts = _builds.setdefault(worker, {})
        label = f"{Path(load[file]).name}@{key[1][:8]}" if file else str(load["place"])
        label += f"/{network_type}"
        counts[label] = counts.get(label, 0) + 1
        return net


def network_builds() -> dict[str, dict[str, int]]:
    """Networks built in this process, per worker address and ``file@sha/mode`` (or ``place/mode``).

    Run it on every worker with ``client.run(network_builds)`` (tests and benchmarks count builds).
    """
    with _lock:
        return {worker: dict(counts) for worker, counts in _builds.items()}


def _sha256(path: str) -> str:
    try:
        return file_digest(path)
    except OSError:
        return f"unreadable:{path}"  # Network.from_osm names the problem


def run_task(task: Task, out_root: str, compare: Callable[..., Any] | None = None) -> list[dict[str, Any]]:
    """Run one task on a worker, written to ``out_root/task.folder``.

    The task is the coverage of its inputs, or its scenarios (run by ``compare``).

    Returns the task's rows of the merged table; any exception becomes one "failed" row with the
    message (a planned :class:`~siting.errors.SitingError` as is, anything else with its type).
    """
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for quiet in QUIET_WARNINGS:  # what the console never shows stays out of batch.csv too
            warnings.simplefilter("ignore", quiet)
        try:
            if task.error:
                raise RuntimeError(task.error)
            folder = inside(Path(out_root), task.folder)  # task folders are sanitised; checked again here
            rows = run_scenarios(task, folder, compare) if "scenarios" in task.load else run_one(task, folder)
        except Exception as exc:  # noqa: BLE001 - every failure is reported in the job's row
            rows = [failed_row(task, exc)]
    said = " | ".join(dict.fromkeys(job_words(str(w.message)) for w in caught))
    rows[0]["warnings"] = said or None
    for row in rows:
        row["seconds"] = round(time.perf_counter() - t0, 2)
    return rows


def run_one(task: Task, folder: Path) -> list[dict[str, Any]]:
    """Run a coverage task: ``siting coverage`` on the task's inputs, with this worker's network."""
    net = worker_network(task.load, task.settings.network_type, task.settings.limit_m)
    inputs = load_inputs(settings=task.settings, network=net, **task.load)
    result = run_coverage(inputs, task.settings, types=task.types, target=task.target)
    write_coverage(result, folder, map_html=task.map_html)
    return result_rows(task, result)


def run_scenarios(task: Task, folder: Path, compare: Callable[..., Any] | None) -> list[dict[str, Any]]:
    """Run a scenarios task: ``siting compare`` on the task's scenario file, with this worker's networks.

    ``compare`` is :func:`siting.scenarios.comparison.compare`, handed in: this module sits below ``scenarios`` in
    the layering.
    """
    if compare is None:
        raise SitingError("a 'scenarios' job needs compare=siting.compare (the siting batch command passes it)")
    spec = read_scenario_file(task.load["scenarios"])
    base, networks = spec.baseline, dict[str, Network]()
    cache_dir = task.load.get("cache_dir") or base.cache_dir  # the job's, else the scenario file's
    if base.osm is not None or base.place is not None or base.network_file is not None:
        load: dict[str, Any] = {"osm": str(base.osm)} if base.osm is not None else \
            {"network_file": str(base.network_file)} if base.network_file is not None else {"place": base.place}
        load.update(cache_dir=cache_dir, **base.online())
        for mode in {base.mode, *(s.mode for s in spec.scenarios if s.mode)}:
            run = Settings(mode=mode, minutes=float(base.minutes))
            networks[run.network_type] = networks.get(run.network_type) or worker_network(load, run.network_type,
                                                                                          run.limit_m)
    comparison = compare(spec.path or task.load["scenarios"], cache_dir=cache_dir, networks=networks)
    comparison.write(folder, map_html=task.map_html)
    return [row for name, run in comparison.runs.items()
            for row in result_rows(task, run.result, scenario=name, folder=f"{task.folder}/{name}")]


def result_rows(task: Task, result: CoverageResult, *, scenario: str | None = None,
                folder: str | None = None) -> list[dict[str, Any]]:
    """Rows of one finished run: its whole area, its districts (when several), its 街道."""
    s = result.summary
    population, outside = s.population_total, s.population_outside_network or 0.0
    status = "ok" if population > 0 or not outside else "no residents in the extract"
    head = {"job": task.job, "task": task.label, "scenario": scenario, "level": "district" if task.area else "all",
            "area": task.area or "all", "district": task.area, "population": population,
            "covered": s.population_covered, "coverage_rate": s.coverage_rate, "target": s.target,
            "gap_residents": s.gap_residents, "outside_population": outside, "status": status, "error": None,
            "folder": folder or task.folder}
    rows = [head]
    levels = [("subdistrict", result.by_subdistrict)]
    if task.area is None and len(result.by_district) > 1:
        levels.insert(0, ("district", result.by_district))
    for level, table in levels:
        for rec in table.to_dict("records"):
            rows.append({**head, "level": level, "area": rec.get(level), "district": rec.get("district"),
                         **{k: rec.get(k) for k in ("population", "covered", "coverage_rate", "target",
                                                     "gap_residents")},
                         "outside_population": rec.get("outside_population"),
                         "status": "ok" if rec.get("population") or not rec.get("outside_population")
                         else "no residents in the extract"})
    return rows


def job_words(text: str) -> str:
    """Show the library's switches as the jobs file writes them: ``dedupe=True`` → `` `dedupe: true` ``."""
    return re.sub(r"\b(\w+)=True\b", lambda m: f"`{m[1]}: true`" if m[1] in JOB_KEYS else m[0], text)


def failed_row(task: Task, exc: BaseException) -> dict[str, Any]:
    """Return the one row of a failed task."""
    message = job_words(str(exc)) if isinstance(exc, SitingError) or task.error else f"{type(exc).__name__}: {exc}"
    if disk_full(exc) and not isinstance(exc, SitingError):
        message = f"the disk is full: writing the folder {task.folder} stopped"
    return {"job": task.job, "task": task.label, "level": "district" if task.area else "all",
            "area": task.area or "all", "district": task.area, "status": "failed", "error": message, "folder": None}


@contextmanager
def connect(scheduler: str | None = None, workers: int | None = None, *,
            connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> Iterator[Client]:
    """Open a dask client to ``scheduler`` (``tcp://host:8786``), else to a new local cluster.

    A scheduler must greet within ``connect_timeout`` seconds (:func:`siting.cli._scheduler.check_scheduler`:
    something else at the address fails then, in one line). The local cluster has ``workers``
    single-threaded worker processes (closed on exit).
    """
    distributed = dask()
    if scheduler:
        check_scheduler(scheduler, connect_timeout)
        try:
            client = distributed.Client(scheduler, timeout=connect_timeout)
        except (OSError, ValueError, TypeError, MemoryError) as exc:  # unreachable, not an address, not Dask
            raise SitingError(f"cannot reach the dask scheduler at {scheduler!r}: {exc}") from None
        with client:
            yield client
        return
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.CRITICAL) as cluster, distributed.Client(cluster) as client:
        yield client


def run_tasks(client: Client, tasks: Sequence[Task], out_root: Path, *, progress: bool = True,
              compare: Callable[..., Any] | None = None) -> pd.DataFrame:
    """Submit every task, collect rows as they finish (with a progress bar), return the merged table."""
    futures = {client.submit(run_task, task, str(out_root), compare, key=f"siting-{i}-{task.label}", pure=False): i
               for i, task in enumerate(tasks)}
    rows: dict[int, list[dict[str, Any]]] = {}
    bar = tqdm(dask().as_completed(futures), total=len(futures), unit="job", disable=not progress, desc="siting batch")
    for future in bar:
        i = futures[future]
        try:
            rows[i] = future.result()
        except Exception as exc:  # noqa: BLE001 - a worker lost, a task that cannot be sent...
            rows[i] = [failed_row(tasks[i], exc)]
        bar.set_postfix_str(tasks[i].label, refresh=False)
    table = pd.DataFrame([row for i in sorted(rows) for row in rows[i]])
    return table.reindex(columns=COLUMNS)


def run_batch(jobs_file: str | Path, out: str | Path, *, scheduler: str | None = None, workers: int | None = None,
              client: Client | None = None, overwrite: bool = False, progress: bool = True,
              compare: Callable[..., Any] | None = None,
              connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> BatchResult:
    """Run every task of ``jobs_file`` on Dask; write the per-task folders and ``batch.csv`` / ``batch.xlsx``.

    Parameters
    ----------
    jobs_file, out
        The YAML jobs file and the output folder (replaced only with ``overwrite``).
    scheduler, workers
        A scheduler address (``tcp://host:8786``), else a local cluster of ``workers`` processes
        (default: the CPU count, at most one per task).
    connect_timeout
        Seconds a ``scheduler`` has to greet (default :data:`~siting.cli._scheduler.DEFAULT_CONNECT_TIMEOUT`).
    client
        An existing :class:`distributed.Client` to use instead (left open).
    compare
        What runs ``scenarios`` jobs: pass :func:`siting.compare` (handed in because ``batch`` sits
        below the scenarios module; ``siting batch`` passes it). Needed only when the file has such jobs.

    The jobs file is checked completely before anything runs (:func:`siting.cli._jobs.read_jobs`). Output
    goes to a temporary folder beside ``out`` (on a cluster it must be on a filesystem the workers
    share) and is moved into place when every task has finished or failed.
    """
    t0 = time.perf_counter()
    tasks = read_jobs(jobs_file)
    if compare is None and any("scenarios" in t.load for t in tasks):
        raise SitingError(f"{jobs_file}: 'scenarios' jobs need compare=siting.compare (siting batch passes it)")
    holder: dict[str, pd.DataFrame] = {}

    def write(tmp: Path) -> None:
        if client is not None:
            table = run_tasks(client, tasks, tmp.resolve(), progress=progress, compare=compare)
        else:
            n = workers or max(1, min(len(tasks), os.cpu_count() or 1))
            with connect(scheduler, n, connect_timeout=connect_timeout) as own:
                table = run_tasks(own, tasks, tmp.resolve(), progress=progress, compare=compare)
        shown = rounded(table)  # CSV precision as in every output: residents whole, shares 4 decimals
        write_csv(shown, tmp / "batch.csv")  # names from data: no formula reaches a spreadsheet
        write_excel(tmp / "batch.xlsx", {"batch": shown})
        holder["table"] = table

    path = atomic_dir(out, write, overwrite=overwrite)
    table = holder["table"]
    failed = int((table.drop_duplicates("task")["status"] == "failed").sum())
    return BatchResult(table, path, len(tasks), failed, round(time.perf_counter() - t0, 2))


def format_batch(res: BatchResult) -> str:
    """One line per task (and scenario): its whole area, then the totals."""
    lines = [f"{'job':<32}{'residents':>12}{'covered':>12}{'rate':>8}{'target':>8}  status"]
    for row in res.table.drop_duplicates(["task", "scenario"]).itertuples():
        label = str(row.task) if pd.isna(row.scenario) else f"{row.task}: {row.scenario}"
        pad = 32 - sum(2 if ord(ch) > 0x2E80 else 1 for ch in label)
        if row.status == "failed":
            lines.append(f"{label}{' ' * max(pad, 1)}{'':>12}{'':>12}{'':>8}{'':>8}  failed")
            continue
        rate = "—" if pd.isna(row.coverage_rate) else f"{row.coverage_rate:.1%}"
        target = "—" if pd.isna(row.target) else f"{row.target:.0%}"
        lines.append(f"{label}{' ' * max(pad, 1)}{row.population:>12,.0f}{row.covered:>12,.0f}{rate:>8}{target:>8}"
                     f"  {row.status}")
    lines.append(f"\n{res.tasks - res.failed} of {res.tasks} job(s) done in {res.seconds:.1f} s; wrote {res.out}/")
    return "\n".join(lines)
