"""Degenerate input never crashes (issue 10, items 4, 6-8, 20): zero-length segments, broken caches,
read-only cache folders, no residents in the analysed area, non-finite numbers."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import TEST_DATA, run_siting

from siting.engine._reach import _sub_lines
from siting.engine.network import Network
from siting.io._cache import cache_path
from siting.settings import Settings

ZERO = TEST_DATA / "zero_length.osm"


def _ok(proc) -> None:
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr


# -- item 4: zero-length segments


@pytest.mark.parametrize("command", ["coverage", "site"])
def test_zero_length_segments_do_not_crash_the_cli(tiny_job, command):
    work, args = tiny_job
    (work / "pop.csv").write_text("lon,lat,population\n121.4025,31.2001,100\n121.4030,31.2000,20\n"
                                  "121.4001,31.2015,50\n121.4031,31.2012,30\n", encoding="utf-8")
    args = [command, *args[1:]]
    args[args.index("--osm") + 1] = str(ZERO)
    (work / "cand.csv").write_text("id,lon,lat\nc1,121.4030,31.2000\nc2,121.4020,31.2020\n", encoding="utf-8")
    extra = ["--k", "1", "--minutes", "1", "--min-distance-m", "0", "--candidates", "cand.csv"]
    extra = extra if command == "site" else []
    proc = run_siting([*args, *extra, "--out", "out"], cwd=work)  # a segfault would be exit -11
    _ok(proc)
    summary = json.loads((work / "out" / "summary.json").read_text(encoding="utf-8"))
    assert np.isfinite(summary["coverage_rate"] if command == "coverage" else summary["rate_after"])


def test_nodes_at_one_position_are_one_node(tmp_path):
    net = Network.from_osm(ZERO, cache_dir=tmp_path)
    assert (net.length > 0).all()
    assert np.unique(np.column_stack([net.x, net.y]), axis=0).shape[0] == net.n_nodes


def test_service_area_pieces_of_a_zero_length_segment_are_finite():
    z = np.zeros(1)
    lines = _sub_lines(z, z, z, z, z, z, z, np.ones(1, bool))
    assert np.isfinite(np.asarray(lines[0].coords)).all()


# -- items 6, 7: network caches


CORRUPT = {
    "truncated": lambda b: b[: len(b) // 2],
    "garbled": lambda b: bytes(x ^ 0x5A for x in b),
    "empty": lambda b: b"",
    "key missing": None,
}


@pytest.mark.parametrize("how", list(CORRUPT))
def test_an_unreadable_cache_is_a_miss_rebuilt_with_one_warning(tmp_path, how):
    first = Network.from_osm(TEST_DATA / "walk_tiny.osm", cache_dir=tmp_path)
    path = next((tmp_path / "networks" / "osm").glob("*.npz"))
    if CORRUPT[how] is None:
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files if k != "length"}
        np.savez_compressed(path, **arrays)
    else:
        path.write_bytes(CORRUPT[how](path.read_bytes()))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = Network.from_osm(TEST_DATA / "walk_tiny.osm", cache_dir=tmp_path)
    unreadable = [w for w in caught if "unreadable" in str(w.message)]
    assert len(unreadable) == 1 and str(path) in str(unreadable[0].message)
    assert net.info["cache"] == "miss" and np.array_equal(net.length, first.length)
    assert Network.from_osm(TEST_DATA / "walk_tiny.osm", cache_dir=tmp_path).info["cache"] == "hit"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # replaced in place, no temp left


def test_an_unreadable_cache_does_not_break_the_cli(tiny_job):
    work, args = tiny_job
    _ok(run_siting([*args, "--out", "a"], cwd=work))
    for path in (work / "cache").rglob("*.npz"):
        path.write_bytes(b"PK\x03\x04 truncated")
    proc = run_siting([*args, "--out", "b"], cwd=work)
    _ok(proc)
    assert proc.stderr.count("is unreadable") == 1


def test_a_cache_folder_that_cannot_be_written_is_a_warning(tiny_job):
    work, args = tiny_job
    blocked = work / "not_a_folder"
    blocked.write_text("a file where the cache folder should be", encoding="utf-8")
    args[args.index("--cache-dir") + 1] = str(blocked)
    proc = run_siting([*args, "--out", "out"], cwd=work)
    _ok(proc)
    assert "running without a cache" in proc.stderr and (work / "out" / "summary.json").exists()


def test_cache_writers_use_unique_temp_names(tmp_path, monkeypatch):
    names = []
    real = tempfile.mkstemp

    def spy(*args, **kwargs):
        fd, name = real(*args, **kwargs)
        names.append(name)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", spy)
    net = Network.from_osm(TEST_DATA / "walk_tiny.osm", cache_dir=tmp_path)
    path = cache_path(tmp_path, "osm", "x")
    net.save(path)
    net.save(path)
    assert len(set(names)) == len(names) == 3 and not any(Path(n).exists() for n in names)


# -- item 8: no residents inside the analysed area


def test_no_residents_in_the_analysed_area_with_a_target(tiny_job):
    work, args = tiny_job
    (work / "pop.csv").write_text("lon,lat,population\n121.5025,31.3001,100\n", encoding="utf-8")
    proc = run_siting([a for a in args if a != "-q"] + ["--target", "0.9", "--out", "out"], cwd=work)
    _ok(proc)
    assert "no residents in the analysed area" in proc.stdout
    assert (work / "out" / "summary.json").exists()


# -- item 20: non-finite numbers


@pytest.mark.parametrize("flag", [["--minutes", "inf"], ["--speed-kmh", "inf"], ["--minutes", "nan"],
                                  ["--max-snap-m", "inf"]])
def test_non_finite_numbers_are_refused(tiny_job, flag):
    work, args = tiny_job
    proc = run_siting([*args, *flag, "--out", "out"], cwd=work)
    assert proc.returncode == 2 and "must be a finite number" in proc.stderr and "Traceback" not in proc.stderr
    assert not (work / "out").exists()


@pytest.mark.parametrize("field", ["minutes", "speed_kmh", "max_snap_m"])
def test_settings_refuse_non_finite_numbers(field):
    from siting.errors import SitingError

    with pytest.raises(SitingError, match="finite"):
        Settings(**{field: float("inf")})


def test_both_unwritable_cache_warnings_give_the_one_hint(tmp_path):
    """The network cache and the download cache say the same hint, written once (siting.io._cache)."""
    import inspect
    import types

    from siting.io import _cache

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be", encoding="utf-8")
    hint = "(set `cache_dir` or SITING_CACHE_DIR to a writable folder)"
    def caller(func, *args):  # as Network.save calls write_cached: the warning points here, at its caller
        return func(*args)

    with pytest.warns(UserWarning) as said:
        assert not caller(_cache.write_cached, blocked / "net.npz", lambda f: f.write(b"x"))
        assert not caller(_cache.use_http_cache, types.SimpleNamespace(), blocked / "osmnx-http")
    texts = [str(w.message) for w in said]
    assert texts[0].startswith(f"cannot write the cache in {blocked} (") and "running without a cache" in texts[0]
    assert texts[1].startswith(f"cannot write the download cache in {blocked / 'osmnx-http'} (")
    assert all(t.endswith(hint) for t in texts) and len(texts) == 2
    assert {w.filename for w in said} == {__file__}  # the caller's caller, as before
    assert inspect.getsource(_cache).count("to a writable folder") == 1
