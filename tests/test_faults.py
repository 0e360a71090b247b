"""Faults end in one line (issue 21, item 7): a full disk, a `--scheduler` that is not Dask, warnings at source.

The scheduler cases use stand-in servers on 127.0.0.1 only.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import siting.outputs.report
from siting.cli._scheduler import DEFAULT_CONNECT_TIMEOUT, check_scheduler
from siting.cli.batch import failed_row, job_words, run_task
from siting.cli.commands import app
from siting.errors import OutputError, SitingError
from siting.outputs._outdir import disk_full, output_dir

TEST_DATA = Path(__file__).parent / "data"
runner = CliRunner()


def _temp_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".siting-"))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- a full disk ------------------------------------------------------------------------------------------------------

def _enospc(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device", "points.gpkg")


class DataSourceError(RuntimeError):
    """As pyogrio words a full disk under GDAL: another class, the words in its message."""


def _gdal_full(*args: object, **kwargs: object) -> None:
    raise DataSourceError("sqlite3_exec(COMMIT) failed: database or disk is full")


@pytest.mark.parametrize("writer", [_enospc, _gdal_full])
def test_disk_full_names_the_folder_and_keeps_the_old_output(tiny_job, monkeypatch, writer) -> None:
    work, args = tiny_job
    out = work / "out"
    first = runner.invoke(app, [*args, "--no-report", "--out", str(out)])
    assert first.exit_code == 0, first.output
    before = _snapshot(out)
    monkeypatch.setattr(siting.outputs.report, "write_layers", writer)
    result = runner.invoke(app, [*args, "--no-report", "--out", str(out), "--overwrite"])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and result.output.startswith("error: the disk holding "), result.output
    assert str(work) in result.output and "is full" in result.output and "old output is kept" in result.output
    assert "Traceback" not in result.output
    assert _snapshot(out) == before  # the old output, byte for byte
    assert _temp_folders(work) == []  # and no temp folder


def test_disk_full_on_a_new_folder_leaves_nothing(tiny_job, monkeypatch) -> None:
    work, args = tiny_job
    monkeypatch.setattr(siting.outputs.report, "write_layers", _enospc)
    result = runner.invoke(app, [*args, "--no-report", "--out", str(work / "new")])
    assert result.exit_code == 2 and "error: the disk holding" in result.output, result.output
    assert "old output" not in result.output
    assert not (work / "new").exists() and _temp_folders(work) == []


def test_other_write_errors_are_not_called_a_full_disk(tmp_path: Path) -> None:
    with pytest.raises(PermissionError), output_dir(tmp_path / "out") as tmp:
        (tmp / "a.txt").write_text("x", encoding="utf-8")
        raise PermissionError(errno.EACCES, "Permission denied")
    assert _temp_folders(tmp_path) == [] and not (tmp_path / "out").exists()
    assert disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not disk_full(OSError(errno.EACCES, "Permission denied")) and not disk_full(ValueError("x"))


def test_disk_full_in_a_batch_task_is_one_plain_row(tmp_path: Path, monkeypatch) -> None:
    from siting.cli import batch
    from siting.cli._jobs import read_jobs

    (tmp_path / "fac.csv").write_text("name,type,lon,lat\nA,center,121.4005,31.2000\n", encoding="utf-8")
    (tmp_path / "pop.csv").write_text("lon,lat,population\n121.4025,31.2001,100\n", encoding="utf-8")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(f"jobs:\n  - {{name: a, osm: {TEST_DATA / 'walk_tiny.osm'}, facilities: fac.csv, "
                    "population: pop.csv, map: false}\n", encoding="utf-8")
    (task,) = read_jobs(jobs)
    monkeypatch.setattr(batch, "write_coverage", _enospc)
    (row,) = run_task(task, str(tmp_path / "out"))
    assert row["status"] == "failed" and row["error"] == "the disk is full: writing the folder a stopped"
    assert failed_row(task, OutputError("x"))["error"] == "x"


# -- a scheduler that is not Dask -------------------------------------------------------------------------------------

@pytest.fixture
def stand_in() -> Iterator[callable]:
    """Start a loopback server of a kind: ``http`` (answers a request), ``silent`` (accepts, says nothing),
    ``greets`` (says an HTTP line at once), ``closes`` (accepts and hangs up); return its address."""
    sockets: list[socket.socket] = []
    stop = threading.Event()

    def start(kind: str) -> str:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.settimeout(0.2)
        sockets.append(server)

        def serve() -> None:
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except (TimeoutError, OSError):
                    continue
                sockets.append(conn)
                if kind == "closes":
                    conn.close()
                elif kind == "greets":
                    conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
                elif kind == "http":
                    conn.settimeout(5)
                    try:
                        if conn.recv(65536):
                            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    except OSError:
                        pass

        threading.Thread(target=serve, daemon=True).start()
        return f"tcp://127.0.0.1:{server.getsockname()[1]}"

    yield start
    stop.set()
    for s in sockets:
        s.close()


@pytest.fixture
def jobs_file(tmp_path: Path) -> Path:
    (tmp_path / "pop.csv").write_text("lon,lat,population\n121.4025,31.2001,100\n", encoding="utf-8")
    path = tmp_path / "jobs.yaml"
    path.write_text(f"jobs:\n  - {{name: a, osm: {TEST_DATA / 'walk_tiny.osm'}, population: pop.csv}}\n",
                    encoding="utf-8")
    return path


@pytest.mark.parametrize(("kind", "said"), [
    ("http", "said nothing within 1 s (--connect-timeout)"),
    ("silent", "said nothing within 1 s (--connect-timeout)"),
    ("greets", "something else answers there (it began 'HTTP/1.0', a web server)"),
    ("closes", "closed the connection without a greeting"),
])
def test_a_scheduler_that_is_not_dask_fails_within_the_timeout(stand_in, jobs_file, tmp_path, kind, said) -> None:
    pytest.importorskip("distributed")
    address = stand_in(kind)
    t0 = time.perf_counter()
    result = runner.invoke(app, ["batch", str(jobs_file), "--out", str(tmp_path / "out"), "--scheduler", address,
                                 "--connect-timeout", "1", "-q"])
    took = time.perf_counter() - t0
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: no dask scheduler at {address!r}") and said in result.output, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output and "EiB" not in result.output
    assert took < 6, took  # the 1 s timeout, not dask's unbounded wait
    assert not (tmp_path / "out").exists() and _temp_folders(tmp_path) == []


def test_the_default_connect_timeout_is_at_most_30_s() -> None:
    option = next(p for p in app.commands["batch"].params if p.name == "connect_timeout")
    assert option.default == DEFAULT_CONNECT_TIMEOUT <= 30


def test_bad_addresses_and_timeouts(tmp_path: Path, jobs_file: Path) -> None:
    with pytest.raises(SitingError, match="is not host:port"):
        check_scheduler("tcp://127.0.0.1")
    with pytest.raises(SitingError, match="cannot reach the dask scheduler at 'tcp://127.0.0.1:9'"):
        check_scheduler("tcp://127.0.0.1:9", 1)
    result = runner.invoke(app, ["batch", str(jobs_file), "--out", str(tmp_path / "o"), "--scheduler",
                                 "tcp://127.0.0.1:9", "--connect-timeout", "0"])
    assert result.exit_code == 2 and "--connect-timeout must be a number > 0" in result.output, result.output


def test_a_real_scheduler_passes_the_check() -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:
        check_scheduler(cluster.scheduler_address, 5)  # greets at once: no error


# -- warnings at source --------------------------------------------------------------------------------------------

def test_an_empty_service_area_draws_without_geopandas_warnings(tiny_job, recwarn) -> None:
    """A threshold so short nothing is reached: the map and the figure had geopandas warn about empty geometries."""
    work, args = tiny_job
    result = runner.invoke(app, [*args, "--minutes", "0.001", "--speed-kmh", "1", "--out", str(work / "o")])
    assert result.exit_code == 0, result.output
    assert "GeoSeries" not in result.output and "warning" not in result.output, result.output
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning) or "GeoSeries" in str(w.message)]


def test_batch_rows_say_only_what_the_console_says() -> None:
    said = job_words("give dedupe=True to drop them; overwrite=True")
    assert said == "give `dedupe: true` to drop them; overwrite=True"  # overwrite is no key of a job


def test_batch_warnings_leave_out_resource_warnings(tmp_path: Path, monkeypatch) -> None:
    import warnings

    from siting.cli import batch
    from siting.cli._jobs import Task
    from siting.settings import Settings

    def noisy(task: Task, folder: Path) -> list[dict[str, object]]:
        warnings.warn("unclosed file <_io.BufferedReader name='font.ttc'>", ResourceWarning, stacklevel=1)
        warnings.warn("a real warning", UserWarning, stacklevel=1)
        return [{"status": "ok"}]

    monkeypatch.setattr(batch, "run_one", noisy)
    (row,) = run_task(Task("a", None, "a", {}, Settings(), "center"), str(tmp_path))
    assert row["warnings"] == "a real warning"


def test_huge_population_numbers_are_refused_at_reading(tiny_job) -> None:
    """1e300 residents a row overflowed the whole-number columns of the outputs (a TypeError traceback)."""
    work, args = tiny_job
    (work / "pop.csv").write_text("lon,lat,population\n121.4025,31.2001,1e300\n", encoding="utf-8")
    result = runner.invoke(app, [*args, "--out", str(work / "o")])
    assert result.exit_code == 2 and "too large (over 100,000,000)" in result.output, result.output
    assert "[2]: ['1e+300']" in result.output and "Traceback" not in result.output


def test_compare_passes_a_warning_on_with_its_category(monkeypatch) -> None:
    """A scenario's warnings were re-issued as UserWarnings: an unclosed font file's ResourceWarning showed."""
    import warnings

    import pandas as pd

    from siting.pipeline import Inputs
    from siting.scenarios import comparison
    from siting.settings import Settings

    def run(*args: object, **kwargs: object) -> None:
        warnings.warn("unclosed file <_io.BufferedReader name='font.ttc'>", ResourceWarning, stacklevel=1)
        warnings.warn("a real warning", UserWarning, stacklevel=1)

    monkeypatch.setattr(comparison, "run_coverage", run)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        comparison._run("s", Inputs(None, None, None, None, []), None, pd.DataFrame(), None, Settings(), None, (),
                        set())
    assert {(w.category, str(w.message)) for w in got} == {
        (ResourceWarning, "scenario 's': unclosed file <_io.BufferedReader name='font.ttc'>"),
        (UserWarning, "scenario 's': a real warning")}
