"""The online path (place name → Nominatim + Overpass through osmnx) against the stand-in servers, unmocked.

Every test here talks HTTP to :class:`osm_standin.StandIn` on 127.0.0.1, through osmnx and requests as they are:
nothing is mocked. The stand-in serves the hand-written fixture (``tests/data/walk_tiny.osm``, plus a few health
facilities for the tests that download them).
"""

from __future__ import annotations

import json
import re
import socket

import pytest
from osm_standin import StandIn

from siting.engine.network import Network
from siting.errors import GeocodeError

PLACE = "测试区, 上海市"
FACILITIES = [(100, 31.2001, 121.4001, "amenity", "clinic", "测试社区卫生服务站"),
              (101, 31.2019, 121.4029, "healthcare", "centre", "测试街道社区卫生服务中心"),
              (102, 31.2010, 121.4020, "amenity", "pharmacy", "药房")]
HEALTH = "".join(f'  <node id="{i}" lat="{lat}" lon="{lon}"><tag k="{k}" v="{v}"/><tag k="name" v="{name}"/></node>\n'
                 for i, lat, lon, k, v, name in FACILITIES)


def quiet_environment(monkeypatch):
    """No proxy for 127.0.0.1 and no server or timeout from the caller's environment."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in ("SITING_OVERPASS_URL", "SITING_NOMINATIM_URL", "SITING_HTTP_TIMEOUT", "SITING_HTTP_RETRIES"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def tiny_osm(tmp_path, test_data):
    """walk_tiny.osm with two health facilities and a pharmacy added."""
    text = (test_data / "walk_tiny.osm").read_text(encoding="utf-8")
    text = text.replace('  <way id="10">', HEALTH + '  <way id="10">', 1)
    path = tmp_path / "tiny_health.osm"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def server(tiny_osm, monkeypatch):
    """The stand-in serving ``tiny_osm`` as 测试区; its addresses in ``$SITING_OVERPASS_URL`` / ``_NOMINATIM_URL``."""
    quiet_environment(monkeypatch)
    with StandIn(tiny_osm, PLACE) as s:
        monkeypatch.setenv("SITING_OVERPASS_URL", s.overpass_url)
        monkeypatch.setenv("SITING_NOMINATIM_URL", s.nominatim_url)
        yield s


def osmnx_state():
    import osmnx as ox

    names = [n for n in dir(ox.settings) if not n.startswith("_") and not callable(getattr(ox.settings, n))]
    return {n: repr(getattr(ox.settings, n)) for n in names}, socket.getaddrinfo


def test_from_place_builds_and_caches(server, tmp_path, test_data):
    before = osmnx_state()
    net = Network.from_place(PLACE, "walk", cache_dir=tmp_path)
    assert osmnx_state() == before  # every osmnx setting (and socket.getaddrinfo) put back
    assert net.info["cache"] == "miss" and net.info["overpass_url"] == server.overpass_url
    assert [r["service"] for r in server.log] == ["nominatim", "overpass"]  # Nominatim was asked, then Overpass
    assert net.n_nodes == 8 and net.crs == "EPSG:32651"  # motorway/foot=no dropped as offline
    offline = Network.from_osm(test_data / "walk_tiny.osm", "walk", cache=False)
    assert net.length.sum() == pytest.approx(offline.length.sum(), rel=1e-9)
    n_calls = len(server.log)
    with pytest.warns(UserWarning, match=r"the walk network of place .*测试区.* was read from the cache \(.*; "
                                         r"downloaded .* from http://127\.0\.0\.1:\d+/api\): nothing was downloaded"):
        again = Network.from_place(PLACE, "walk", cache_dir=tmp_path)
    assert again.info["cache"] == "hit" and len(server.log) == n_calls  # the second run is offline


def test_place_that_geocodes_to_nothing(server, tmp_path):
    server.nominatim = []
    with pytest.raises(GeocodeError, match=rf"Nominatim at {server.nominatim_url} found nothing for '不存在的地方'"):
        Network.from_place("不存在的地方", "walk", cache_dir=tmp_path)


def test_place_facilities_and_cli_end_to_end(server, tmp_path):
    from click.testing import CliRunner

    from siting.cli.commands import app
    from siting.io.facilities import facilities_from_place

    fac = facilities_from_place(PLACE, cache_dir=tmp_path)
    assert dict(zip(fac["name"], fac["type"], strict=True)) == {"测试社区卫生服务站": "station",
                                                               "测试街道社区卫生服务中心": "center"}
    n_calls = len(server.log)
    with pytest.warns(UserWarning, match="were read from the download cache .*: nothing was downloaded"):
        assert facilities_from_place(PLACE, cache_dir=tmp_path).equals(fac)
    assert len(server.log) == n_calls
    homes = tmp_path / "homes.csv"
    homes.write_text("id,lon,lat,population\nh1,121.4005,31.2001,100\nh2,121.4030,31.2010,50\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["coverage", "--place", PLACE, "--population", str(homes),
                                      "--minutes", "5", "--out", str(out), "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["n_facilities"] == 2 and summary["population_total"] == 150
    assert summary["coverage_rate"] == 1.0  # both homes within 5 minutes of one of the two


def test_online_bike_network_honours_oneway_bicycle_no(monkeypatch, tmp_path, tiny_osm):
    """As offline: a one-way street tagged oneway:bicycle=no is two-way for bikes (osmnx itself ignores the tag)."""
    quiet_environment(monkeypatch)
    text = tiny_osm.read_text(encoding="utf-8")
    opened = tmp_path / "opened.osm"
    opened.write_text(text.replace('<tag k="oneway" v="yes"/>', '<tag k="oneway" v="yes"/><tag k="oneway:bicycle" '
                                   'v="no"/>'), encoding="utf-8")
    with StandIn(opened, PLACE) as s:
        net = Network.from_place(PLACE, "bike", cache=False, overpass_url=s.overpass_url,
                                 nominatim_url=s.nominatim_url)
    assert not net.oneway.any()
    with StandIn(tiny_osm, PLACE) as s:  # without the tag, way 10 stays one-way
        strict = Network.from_place(PLACE, "bike", cache=False, overpass_url=s.overpass_url,
                                    nominatim_url=s.nominatim_url)
    assert strict.oneway.sum() == 3


def test_an_unwritable_download_cache_is_a_warning(server, tmp_path):
    """--place with a cache folder that cannot be written: a warning, and the downloads go on uncached."""
    import osmnx as ox

    from siting.io.facilities import facilities_from_place

    use_cache = ox.settings.use_cache
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be", encoding="utf-8")
    with pytest.warns(UserWarning) as said:
        net = Network.from_place(PLACE, "walk", cache_dir=blocked)
    assert net.n_nodes == 8 and net.info["cache"] == "off" and ox.settings.use_cache is use_cache
    texts = [str(w.message) for w in said]
    assert any(re.match(r"cannot write the download cache in .*blocked/osmnx-http \(.*\); downloading without a "
                        r"cache", t) for t in texts), texts
    assert any(t.startswith("cannot write the cache in") for t in texts), texts  # the network cache, as before
    n_calls = len(server.log)
    with pytest.warns(UserWarning, match="cannot write the download cache"):
        fac = facilities_from_place(PLACE, cache_dir=blocked)
    assert len(fac) == 2 and len(server.log) > n_calls  # downloaded again, not cached
    assert blocked.read_text(encoding="utf-8").startswith("a file")  # nothing written over it


def test_the_servers_come_from_the_parameter_else_the_environment(server, monkeypatch, tmp_path):
    """A parameter beats $SITING_OVERPASS_URL; the environment beats osmnx's default; a bad value is named."""
    from siting.errors import DownloadError
    from siting.io._online import Endpoints

    monkeypatch.setenv("SITING_OVERPASS_URL", "http://127.0.0.1:9/api")  # nothing listens there
    net = Network.from_place(PLACE, "walk", cache=False, overpass_url=server.overpass_url)
    assert net.info["overpass_url"] == server.overpass_url
    with pytest.raises(DownloadError, match=r"cannot reach Overpass at http://127\.0\.0\.1:9/api \(.*\); behind a "
                                            r"proxy, set HTTPS_PROXY"):
        Network.from_place(PLACE, "walk", cache=False)
    monkeypatch.delenv("SITING_OVERPASS_URL")
    monkeypatch.delenv("SITING_NOMINATIM_URL")
    assert Endpoints.resolve() == Endpoints("https://overpass-api.de/api", "https://nominatim.openstreetmap.org/")
    monkeypatch.setenv("SITING_NOMINATIM_URL", "nominatim.example")
    with pytest.raises(DownloadError, match=r"\$SITING_NOMINATIM_URL 'nominatim.example' is not an http\(s\) URL"):
        Endpoints.resolve()
    with pytest.raises(DownloadError, match=r"`overpass_url` 'ftp://x' is not an http\(s\) URL"):
        Endpoints.resolve(overpass_url="ftp://x", nominatim_url="https://n.example/")
    monkeypatch.setenv("SITING_HTTP_TIMEOUT", "soon")
    with pytest.raises(DownloadError, match=r"\$SITING_HTTP_TIMEOUT must be a number"):
        Endpoints.resolve(nominatim_url="https://n.example/")


def test_scenario_and_jobs_files_name_the_servers(tiny_osm, monkeypatch, tmp_path):
    """`overpass_url` / `nominatim_url` in a scenario baseline and in a jobs file's defaults reach the downloads."""
    from siting.cli._jobs import read_jobs
    from siting.cli.batch import run_task
    from siting.errors import ScenarioError
    from siting.scenarios import compare, read_scenario_file

    quiet_environment(monkeypatch)  # no server from the environment: only the files name the stand-in
    monkeypatch.setenv("SITING_CACHE_DIR", str(tmp_path / "job-cache"))  # the batch job's default cache
    homes = tmp_path / "homes.csv"
    homes.write_text("id,lon,lat,population\nh1,121.4005,31.2001,100\nh2,121.4030,31.2010,50\n", encoding="utf-8")
    with StandIn(tiny_osm, PLACE) as s:
        spec = tmp_path / "plans.yaml"
        spec.write_text(f"baseline:\n  place: {PLACE}\n  overpass_url: {s.overpass_url}\n  nominatim_url: "
                        f"{s.nominatim_url}\n  population: homes.csv\n  minutes: 5\nscenarios:\n"
                        "  - name: slower\n    mode: elderly\n", encoding="utf-8")
        base = read_scenario_file(spec).baseline
        assert base.load_kwargs()["overpass_url"] == s.overpass_url
        comparison = compare(spec, cache_dir=tmp_path / "cache", progress=False)
        assert comparison.runs["baseline"].result.summary.n_facilities == 2
        assert {r["service"] for r in s.log} == {"nominatim", "overpass"}
        jobs = tmp_path / "jobs.yaml"
        jobs.write_text(f"defaults:\n  overpass_url: {s.overpass_url}\n  nominatim_url: {s.nominatim_url}\n"
                        f"jobs:\n  - name: tiny\n    place: {PLACE}\n    population: homes.csv\n    minutes: 5\n",
                        encoding="utf-8")
        (task,) = read_jobs(jobs)
        assert task.load["overpass_url"] == s.overpass_url and task.load["nominatim_url"] == s.nominatim_url
        n_calls = len(s.log)
        (row, *_) = run_task(task, str(tmp_path / "batch"))
        assert row["status"] == "ok" and row["population"] == 150, row
        assert len(s.log) > n_calls  # its own (default) cache folder: downloaded from the stand-in again
    spec.write_text(f"baseline:\n  place: {PLACE}\n  overpass_url: overpass.example\n  population: homes.csv\n",
                    encoding="utf-8")
    with pytest.raises(ScenarioError, match="overpass_url.*expected an http\\(s\\) URL"):
        read_scenario_file(spec)
