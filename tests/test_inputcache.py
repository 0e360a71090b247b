"""The prepared-inputs cache (what the CLI keeps beside the network): a hit gives what a miss gives, warnings
included; anything that could change the result is a miss; a garbled cache file is rebuilt."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from siting import pipeline
from siting.errors import SitingError
from siting.io import _inputcache


@pytest.fixture
def job(tmp_path: Path, test_data: Path) -> dict:
    """load_inputs arguments of a small job whose preparation warns (a population row repeats)."""
    (tmp_path / "fac.csv").write_text("name,type,lon,lat\nA,center,121.4005,31.2000\n", encoding="utf-8")
    (tmp_path / "pop.csv").write_text("lon,lat,population\n121.4025,31.2001,100\n121.4001,31.2015,50\n"
                                      "121.4001,31.2015,50\n", encoding="utf-8")
    ring = [[121.39, 31.19], [121.41, 31.19], [121.41, 31.21], [121.39, 31.21], [121.39, 31.19]]
    (tmp_path / "areas.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"街道": "西街道", "区": "甲区"},
        "geometry": {"type": "Polygon", "coordinates": [ring]}}]}), encoding="utf-8")
    return {"osm": test_data / "walk_tiny.osm", "facilities": tmp_path / "fac.csv", "population": tmp_path / "pop.csv",
            "boundaries": tmp_path / "areas.geojson", "cache_dir": tmp_path / "cache", "cache_inputs": True}


def _load(**kwargs) -> tuple[pipeline.Inputs, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = pipeline.load_inputs(**kwargs)
    return loaded, [f"{w.category.__name__}: {w.message}" for w in caught]


def _stored(job: dict) -> list[Path]:
    return sorted((job["cache_dir"] / "inputs").glob("*.pkl"))


def _same(a: pipeline.Inputs, b: pipeline.Inputs) -> None:
    for name in ("facilities", "population", "boundaries"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.drop(columns="geometry").equals(y.drop(columns="geometry")), name
        assert x.geometry.geom_equals_exact(y.geometry, 0).all() and x.crs == y.crs, name
    assert (a.notes, a.sources) == (b.notes, b.sources)


def test_a_second_load_comes_from_the_cache_with_the_same_warnings(job, monkeypatch):
    first, said = _load(**job)
    assert len(_stored(job)) == 1 and any("repeat an earlier row" in s for s in said)
    monkeypatch.setattr(pipeline, "prepare_inputs", lambda **_: pytest.fail("prepared again"))
    second, said_again = _load(**job)
    assert said_again == said
    _same(first, second)
    assert second.population is not first.population  # a fresh copy: a caller's edits do not reach the cache


def test_anything_that_shapes_the_result_is_a_miss(job):
    _load(**job)
    _load(**job, dedupe=True)  # another option
    _load(**{**job, "population": Path(job["population"])})  # the same: a hit
    assert len(_stored(job)) == 2
    pop = Path(job["population"])
    pop.write_text(pop.read_text(encoding="utf-8") + "121.4030,31.2005,7\n", encoding="utf-8")  # new bytes
    loaded, _ = _load(**job)
    assert len(_stored(job)) == 3 and loaded.population["population"].sum() == pytest.approx(207.0)


def test_edited_code_or_libraries_are_a_miss(job, monkeypatch):
    key = _inputcache.cache_key({"population": job["population"]}, {})
    monkeypatch.setattr(_inputcache, "code_digest", lambda: "edited")
    assert _inputcache.cache_key({"population": job["population"]}, {}) != key
    monkeypatch.setattr(_inputcache, "LIBRARIES", ("numpy",))
    assert _inputcache.cache_key({"population": job["population"]}, {}) not in (key, None)


def test_a_missing_file_is_never_cached(job):
    assert _inputcache.cache_key({"population": job["population"].with_name("gone.csv")}, {}) is None
    with pytest.raises(SitingError):
        pipeline.load_inputs(**{**job, "population": job["population"].with_name("gone.csv")})
    assert not _stored(job)


@pytest.mark.parametrize("garbage", [b"", b"\x80\x05garbled", b"not a pickle at all",
                                     __import__("pickle").dumps(("another", "tuple"))])
def test_an_unreadable_cache_file_is_rebuilt(job, garbage):
    first, said = _load(**job)
    [path] = _stored(job)
    path.write_bytes(garbage)
    again, said_again = _load(**job)
    rebuilt = [s for s in said_again if s.startswith("CacheWarning: the cache file")]
    assert len(rebuilt) == 1 and "is unreadable" in rebuilt[0] and "rebuilding" in rebuilt[0]
    assert [s for s in said_again if s not in rebuilt] == said
    _same(first, again)
    third, said_third = _load(**job)  # rewritten: a hit again
    assert said_third == said


def test_warnings_before_an_error_are_given_and_nothing_is_cached(job):
    census = job["population"].with_name("census.csv")
    census.write_text("district,pop_census_2020\n甲区,1000\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught, pytest.raises(SitingError, match="nope"):
        warnings.simplefilter("always")
        pipeline.load_inputs(**job, census=census, census_column="nope")
    assert any("repeat an earlier row" in str(w.message) for w in caught)
    assert not _stored(job)


def test_the_library_caches_nothing_unless_asked(job):
    _load(**{**job, "cache_inputs": False})
    assert not _stored(job)


def test_the_least_recently_used_files_go_first_and_nothing_else(tmp_path):
    import os

    folder = tmp_path / "inputs"
    folder.mkdir()
    names = [f"{i:040x}.pkl" for i in range(5)]
    for i, name in enumerate(names):
        (folder / name).write_bytes(b"x" * 100)
        os.utime(folder / name, ns=(10**18 + i, 10**18 + i))  # names[4] the most recent
    (folder / "notes.pkl").write_bytes(b"y" * 10_000)  # not a name this cache gives: never touched
    (folder / f"{0:040x}.pkl.bak").write_bytes(b"z")
    gone = _inputcache.evict(folder, max_bytes=250)
    assert sorted(p.name for p in gone) == names[:3]
    assert sorted(p.name for p in folder.iterdir()) == sorted([*names[3:], "notes.pkl", f"{0:040x}.pkl.bak"])


def test_a_hit_makes_its_file_the_most_recent(job):
    import os

    _load(**job)
    [path] = _stored(job)
    os.utime(path, ns=(10**18, 10**18))
    _load(**job)
    assert path.stat().st_mtime_ns > 10**18


def test_an_entry_over_a_quarter_of_the_limit_is_not_kept(job, monkeypatch):
    monkeypatch.setattr(_inputcache, "MAX_BYTES", 4_000)
    first, said = _load(**job)
    assert not _stored(job)
    again, said_again = _load(**job)
    assert said_again == said
    _same(first, again)
