"""The cache: where it is (platformdirs, $SITING_CACHE_DIR), every folder bounded (least recently used first),
`siting cache info` / `siting cache clear` with sizes; a file the cache did not write is never deleted."""

from __future__ import annotations

import dataclasses
import os
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from siting.cli.commands import app
from siting.io import _cache, _inputcache

NET = "0123456789abcdef0123456789abcdef-walk-v3.npz"


def net_name(i: int) -> str:
    return f"{i:032x}-walk-v3.npz"


def put(path: Path, size: int, age_s: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    t = path.stat().st_mtime - age_s
    os.utime(path, (t, t))
    return path


def small(monkeypatch, **bounds: int) -> None:
    """Give the named cache folders tiny bounds."""
    folders = tuple(dataclasses.replace(f, max_bytes=bounds.get(f.path, f.max_bytes)) for f in _cache.FOLDERS)
    monkeypatch.setattr(_cache, "FOLDERS", folders)


def test_the_place_is_the_platforms_user_cache_unless_siting_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("SITING_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _cache.default_cache_dir() == tmp_path / "xdg" / "siting"  # Linux: XDG_CACHE_HOME is honoured
    monkeypatch.setenv("SITING_CACHE_DIR", str(tmp_path / "mine"))
    assert _cache.default_cache_dir() == tmp_path / "mine"
    assert _cache.cache_folder(None, "inputs") == tmp_path / "mine" / "inputs"


def test_the_network_folder_is_bounded_least_recently_used_first(monkeypatch, tmp_path):
    small(monkeypatch, **{"networks/osm": 2500})
    folder = tmp_path / "networks" / "osm"
    old = put(folder / net_name(1), 1000, age_s=300)
    used = put(folder / net_name(2), 1000, age_s=400)  # older, but read again below
    mine = put(folder / "my-network.npz", 5000, age_s=900)  # not a name the cache writes
    also_mine = put(folder / "notes.txt", 5000, age_s=900)
    assert _cache.read_cached(used, lambda p: p.read_bytes()) is not None  # a hit makes it recent
    assert _cache.write_cached(folder / net_name(3), lambda fh: fh.write(b"y" * 1000))
    assert not old.exists() and used.exists() and (folder / net_name(3)).exists()
    assert mine.exists() and also_mine.exists()


def test_download_folder_is_bounded_when_a_download_starts(monkeypatch, tmp_path):
    small(monkeypatch, **{"osmnx-http": 1500})
    folder = tmp_path / "osmnx-http"
    files = [put(folder / f"{i:040x}.json", 1000, age_s=100 * i) for i in range(3)]
    user = put(folder / "readme.json", 9000, age_s=999)
    settings = types.SimpleNamespace()
    assert _cache.use_http_cache(settings, folder)
    assert [f.exists() for f in files] == [True, False, False] and user.exists()
    assert settings.use_cache is True and settings.cache_folder == str(folder)


def test_inputs_use_the_same_eviction(tmp_path):
    assert next(f for f in _cache.FOLDERS if f.path == "inputs").max_bytes == _inputcache.MAX_BYTES
    a = put(tmp_path / f"{1:040x}.pkl", 100, age_s=50)
    b = put(tmp_path / f"{2:040x}.pkl", 100)
    other = put(tmp_path / "other.pkl", 100, age_s=99)
    assert _inputcache.evict(tmp_path, max_bytes=150) == [a]
    assert b.exists() and other.exists()


def test_cache_info_and_clear(tmp_path):
    root = tmp_path / "cache"
    put(root / "networks" / "osm" / NET, 3 * 1024)
    put(root / "networks" / "online" / net_name(7), 1024)
    put(root / "inputs" / f"{5:040x}.pkl", 2 * 1024 * 1024)
    put(root / "osmnx-http" / f"{9:040x}.json", 10)
    keep = [put(root / "inputs" / "my-notes.pkl", 10), put(root / "networks" / "osm" / "x.npz", 10),
            put(root / "other" / f"{5:040x}.pkl", 10)]
    runner = CliRunner()
    info = runner.invoke(app, ["cache", "info", "--cache-dir", str(root)])
    assert info.exit_code == 0, info.output
    lines = {line.split()[0]: line for line in info.output.splitlines()[1:]}
    assert info.output.splitlines()[0] == f"cache: {root}"
    assert lines["networks/osm"].split()[1:4] == ["1", "3.0", "KiB"]
    assert lines["inputs"].split()[1:6] == ["1", "2.0", "MiB", "1.0", "GiB"]
    assert lines["total"].split()[1:4] == ["4", "2.0", "MiB"]
    cleared = runner.invoke(app, ["cache", "clear", "--only", "networks", "--cache-dir", str(root), "-v"])
    assert cleared.exit_code == 0, cleared.output
    assert cleared.output.startswith("deleted 2 file(s), 4.0 KiB")
    assert (root / "inputs" / f"{5:040x}.pkl").exists()
    everything = runner.invoke(app, ["cache", "clear", "--cache-dir", str(root), "-q"])
    assert everything.output.startswith("deleted 2 file(s), 2.0 MiB")
    assert all(p.exists() for p in keep)
    assert [r["files"] for r in _cache.inventory(root)] == [0, 0, 0, 0]


@pytest.mark.parametrize("sub", ["info", "clear"])
def test_cache_subcommands_take_verbose_and_quiet(sub):
    opts = {o for p in app.commands["cache"].commands[sub].params for o in p.opts}
    assert {"-v", "--verbose", "-q", "--quiet", "--cache-dir"} <= opts
