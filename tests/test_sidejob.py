"""Outputs written by forked children (siting.outputs._sidejob, siting.outputs._writers): same files as written in one
process, the child's warnings and errors reach the main process, a dead child fails the run whole."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import warnings

import pytest
from conftest import run_siting

from siting.errors import InputFileError, OutputError
from siting.outputs import _sidejob, maps
from siting.outputs._sidejob import SideJob

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="side jobs fork on Linux only")


@pytest.fixture(autouse=True)
def _fork_always(monkeypatch):
    """Fork whatever the machine's load (by default a busy machine writes in one process)."""
    monkeypatch.setenv("SITING_FORK", "1")


def _where(x: int) -> tuple[int, int]:
    return os.getpid(), x * 2


def _warn_and_return(x: int) -> int:
    warnings.warn(f"careful with {x}", UserWarning, stacklevel=1)
    return x + 1


def _fail(path: str) -> None:
    raise InputFileError(f"{path}: broken")


def test_the_call_runs_in_the_child_and_its_result_comes_back():
    with SideJob("test", ("json",)) as job:
        child = job.pid
        job.run(_where, 21)
        pid, value = job.wait()
    assert value == 42 and pid == child != os.getpid()
    assert job.pid is None  # reaped


def test_warnings_and_errors_of_the_child_reach_the_main_process():
    with SideJob("test") as job:
        job.run(_warn_and_return, 1)
        with pytest.warns(UserWarning, match="careful with 1"):
            assert job.wait() == 2
    with SideJob("test") as job:
        job.run(_fail, "x.csv")
        with pytest.raises(InputFileError, match=r"x\.csv: broken"):
            job.wait()


def test_a_module_that_fails_to_import_is_the_call_s_error():
    with SideJob("test", ("siting._no_such_module",)) as job:
        job.run(_where, 1)
        with pytest.raises(ModuleNotFoundError, match="_no_such_module"):
            job.wait()


def test_a_killed_child_is_an_output_error():
    with SideJob("map.html") as job:
        job.run(time.sleep, 30)
        os.kill(job.pid, signal.SIGKILL)
        with pytest.raises(OutputError, match=r"the process writing map\.html died \(signal 9\)"):
            job.wait()


def test_cancel_ends_a_waiting_child():
    job = SideJob("test")
    pid = job.pid
    job.cancel()
    assert job.pid is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no such child any more


def test_the_running_tasks_are_counted():
    assert 1 <= _sidejob.running_now() <= os.cpu_count() + 1000  # this process at least


def test_without_fork_the_call_runs_here(monkeypatch):
    monkeypatch.setenv("SITING_FORK", "0")
    with SideJob("test") as job:
        assert job.pid is None
        job.run(_where, 2)
        assert job.wait() == (os.getpid(), 4)


@pytest.mark.parametrize(("cores", "running", "forks"), [(2, 1, True), (2, 2, False), (2, 5, False), (4, 3, True),
                                                         (4, 4, False), (1, 1, False)])
def test_by_default_a_child_is_forked_only_when_a_core_is_free(monkeypatch, cores, running, forks):
    """``running``: the tasks running now, this process included (so 1 on an idle machine)."""
    monkeypatch.delenv("SITING_FORK")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.setattr(_sidejob, "running_now", lambda: running)
    assert _sidejob.forking() is forks
    monkeypatch.setenv("SITING_FORK", "1")
    assert _sidejob.forking()


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_forked_and_single_process_runs_write_the_same_files(tiny_job, monkeypatch):
    """The CLI forks the map and report writers; SITING_FORK=0 writes in one process: same files, same tables."""
    work, args = tiny_job
    args = [a for a in args if a != "--no-map"]
    env = {"SITING_PDF": "0"}
    forked = run_siting([*args, "--out", "forked"], cwd=work, env=env)
    single = run_siting([*args, "--out", "single"], cwd=work, env={**env, "SITING_FORK": "0"})
    assert forked.returncode == 0 and single.returncode == 0, forked.stderr + single.stderr
    a, b = _files(work / "forked"), _files(work / "single")
    assert set(a) == set(b) and {"map.html", "report.html", "map.png", "report.xlsx"} <= set(a)
    for name in a:
        if name.endswith(".csv"):
            assert a[name] == b[name], name
    sa, sb = (json.loads(x["summary.json"]) for x in (a, b))
    for s in (sa, sb):
        del s["seconds"], s["network_cache"]
    assert sa == sb
    assert forked.stderr == single.stderr  # the same warnings (from the children, shown by the main process)


def _broken_save(*args, **kwargs):
    raise OutputError("no space left for map.html")


def test_an_error_in_the_map_child_fails_the_run_and_writes_nothing(tiny_job, monkeypatch):
    work, args = tiny_job
    args = [a for a in args if a != "--no-map"]
    monkeypatch.setattr(maps, "save_map", _broken_save)  # inherited by the forked CLI run and its children
    proc = run_siting([*args, "--out", "out", "--no-report"], cwd=work)
    assert proc.returncode == 2
    assert "error: no space left for map.html" in proc.stderr
    assert not (work / "out").exists()
    assert not [p for p in work.iterdir() if p.name.startswith(".siting-")]  # no temp folder left
