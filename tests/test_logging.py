"""Logging, -v/-q, --version, ``python -m siting``, the public warning classes and the progress bars."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import TEST_DATA, run_siting

import siting
from siting import _log
from siting.cli._verbosity import ADDED_QUIET, verbosity
from siting.cli.commands import app
from siting.errors import CacheWarning, DataWarning, NetworkWarning, SitingWarning


def test_the_package_logger_has_a_null_handler_and_prints_nothing_by_default():
    handlers = logging.getLogger("siting").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_version_and_python_dash_m(repo_root):
    assert run_siting(["--version"], cwd=repo_root).stdout.strip() == f"siting {siting.__version__}"
    out = subprocess.run([sys.executable, "-m", "siting", "--version"], capture_output=True, text=True, check=True,
                         cwd=repo_root)
    assert out.stdout.strip() == f"siting {siting.__version__}"
    assert "coverage" in subprocess.run([sys.executable, "-m", "siting", "--help"], capture_output=True, text=True,
                                        check=True, cwd=repo_root).stdout


def test_every_command_takes_verbose_and_quiet():
    import click

    commands = [(f"{name} {sub}", c) for name, group in app.commands.items() if isinstance(group, click.Group)
                for sub, c in group.commands.items()]
    commands += [(name, c) for name, c in app.commands.items() if not isinstance(c, click.Group)]
    for name, command in commands:
        opts = {o for p in command.params for o in p.opts}
        assert {"-v", "--verbose", "-q", "--quiet"} <= opts, name


def test_network_and_inputs_caches_log_hits_and_misses(tiny_job, caplog):
    folder, _ = tiny_job
    args = {"osm": TEST_DATA / "walk_tiny.osm", "facilities": folder / "fac.csv", "population": folder / "pop.csv",
            "cache_dir": folder / "cache", "cache_inputs": True}
    with caplog.at_level(logging.INFO, logger="siting"):
        siting.load_inputs(**args)
        first = [r.getMessage() for r in caplog.records]
        caplog.clear()
        siting.load_inputs(**args)
        second = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("network cache miss: building the walk network of walk_tiny.osm") for m in first)
    assert any(m.startswith("built the walk network of walk_tiny.osm in ") for m in first)
    assert any(m.startswith("inputs cache miss") for m in first)
    assert any(m.startswith("network cache hit: walk_tiny.osm") for m in second)
    assert any(m.startswith("inputs cache hit: ") for m in second)
    assert any(m.startswith("network ready in ") for m in second)


def test_cli_verbose_prints_stages_and_timings_on_stderr_only_when_asked(tiny_job):
    folder, args = tiny_job
    quiet = run_siting([*args, "--out", str(folder / "a")], cwd=folder)
    assert quiet.returncode == 0, quiet.stderr
    assert "INFO" not in quiet.stderr
    loud = run_siting([*args, "--out", str(folder / "b"), "-v"], cwd=folder)
    assert loud.returncode == 0, loud.stderr
    assert "INFO    siting.engine.network: network cache hit: walk_tiny.osm" in loud.stderr
    assert "siting.pipeline: coverage computed in " in loud.stderr
    assert logging.getLogger("siting").level == logging.NOTSET  # the handler and level are the command's only


def test_quiet_turns_progress_off_for_the_command_only():
    assert _log.progress_on()
    with verbosity({ADDED_QUIET: True}):
        assert not _log.progress_on()
        assert isinstance(_log.bar(range(3), desc="x"), _log.NoBar)
        assert list(_log.bar(range(3), desc="x")) == [0, 1, 2]
    assert _log.progress_on()
    assert not isinstance(_log.bar(range(3), desc="x"), _log.NoBar)
    assert isinstance(_log.bar(range(3), desc="x", progress=False), _log.NoBar)


def test_dropped_components_are_a_network_warning():
    assert issubclass(NetworkWarning, DataWarning) and issubclass(DataWarning, SitingWarning)
    assert issubclass(SitingWarning, UserWarning) and issubclass(CacheWarning, SitingWarning)
    assert issubclass(siting.errors.AreaWarning, DataWarning)
    lon = 121.4 + np.concatenate([np.arange(40) * 0.001, [0.08, 0.0805]])  # a street of 40 nodes, an island of 2
    lat = np.full(42, 31.2)
    u, v = [*range(39), 40], [*range(1, 40), 41]
    with pytest.warns(NetworkWarning, match="dropped 2 of 42 nodes"):
        siting.Network.from_segments(np.arange(42), lon, lat, u, v)


def test_an_unreadable_cache_file_is_a_cache_warning(tmp_path):
    from siting.io._cache import read_cached

    bad = tmp_path / "x.npz"
    bad.write_bytes(b"not a network")
    with pytest.warns(CacheWarning, match="unreadable"):
        assert read_cached(bad, siting.Network.load) is None


def test_the_solver_shows_incumbent_and_bound_as_it_runs(monkeypatch):
    """HiGHS's callbacks feed the bar; with bars off nothing subscribes, and the answer is the same."""
    from siting.locate import mip

    shown: list[str] = []

    class Recorder(_log.NoBar):
        def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
            shown.append(text)

    monkeypatch.setattr(mip, "bar", lambda *a, **k: Recorder() if k.get("progress") is not False else _log.NoBar())
    rng = np.random.default_rng(5)
    reach = sp.random(60, 400, density=0.04, random_state=6, format="csr")
    reach.data[:] = 1
    w = rng.integers(1, 50, 400).astype(float)

    def solve():
        return mip.solve_mip(reach, w, sense="max", locked=np.array([], int), start=np.zeros(60, bool),
                             pools=[(np.ones(60, bool), 5.0)], time_limit=30)

    on = solve()
    assert shown and all(t.startswith(("incumbent", "no incumbent")) for t in shown)
    assert any("bound" in t and "gap" in t for t in shown)
    shown.clear()
    with _log.no_progress():
        off = solve()
    assert not shown
    assert on.status == off.status == "optimal" and on.objective == pytest.approx(off.objective)


def test_progress_bars_come_from_tqdm_auto():
    import tqdm.auto

    from siting.engine import routing
    from siting.scenarios import comparison

    assert _log.tqdm is tqdm.auto.tqdm and routing.tqdm is tqdm.auto.tqdm and comparison.tqdm is tqdm.auto.tqdm
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tqdm.auto gives no warning outside a notebook
        _log.bar(range(2), desc="x").close()
