"""Downloads that fail well: each failure of the servers ends in its one clear message, within the timeout.

`siting coverage --place ... --overpass-url ... --nominatim-url ...` runs against :class:`osm_standin.StandIn` on
127.0.0.1 (osmnx and requests unmocked), which answers with the fault a test queues: HTTP 429 then data, 504 for ever,
a socket that never answers, garbage instead of JSON, an empty result; Nominatim with nothing, a point, several
areas, an area larger than a district. Also: the campus extract downloaded equals the same file read offline, and
a proxy from HTTP_PROXY is used.
"""

from __future__ import annotations

import json
import re
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from osm_standin import Fault, StandIn, boundary, point
from test_online import PLACE, quiet_environment

from siting.cli.commands import app


@pytest.fixture
def server(test_data, monkeypatch):
    quiet_environment(monkeypatch)
    with StandIn(test_data / "walk_tiny.osm", PLACE) as s:
        yield s


def homes(tmp_path, bbox=(121.4005, 31.2001, 121.4030, 31.2010)):
    path = tmp_path / "homes.csv"
    path.write_text(f"id,lon,lat,population\nh1,{bbox[0]},{bbox[1]},100\nh2,{bbox[2]},{bbox[3]},50\n",
                    encoding="utf-8")
    return path


def place_run(s, tmp_path, *extra, place=PLACE, overpass=None):
    """``siting coverage --place`` against the stand-in: (exit code, stderr+stdout, seconds)."""
    t0 = time.monotonic()
    result = CliRunner().invoke(app, [
        "coverage", "--place", place, "--overpass-url", overpass or s.overpass_url, "--nominatim-url",
        s.nominatim_url, "--population", str(homes(tmp_path)), "--minutes", "5",
        "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--no-report", "--no-map", *extra])
    return result.exit_code, result.output, time.monotonic() - t0


def test_429_then_success_retries_and_says_so(server, tmp_path):
    server.faults["overpass"] = [Fault("status", 429, {"Retry-After": "1"})]
    code, said, _ = place_run(server, tmp_path)
    assert code == 2 and "error: no facilities" in said  # the streets came through; the fixture has no facility
    assert re.search(rf"warning: Overpass at {server.overpass_url} answered HTTP 429 Too Many Requests; retry 1 of "
                     r"4 in 1 s", said), said
    assert [r["service"] for r in server.log].count("overpass") == 3  # 429, the streets again, the facilities


def test_504_for_ever_stops_after_the_retries(server, tmp_path, monkeypatch):
    monkeypatch.setenv("SITING_HTTP_RETRIES", "2")
    server.faults["overpass"] = [Fault("status", 504, forever=True)]
    code, said, seconds = place_run(server, tmp_path)
    assert code == 2 and seconds < 20
    assert re.search(rf"error: Overpass at {server.overpass_url} answered HTTP 504 Gateway Timeout 3 time\(s\) "
                     r"\(retried 2 time\(s\) over 3 s; \$SITING_HTTP_RETRIES\); try another Overpass server with "
                     r"--overpass-url .* a smaller area, or cut the area out of a downloaded \.osm\.pbf extract with "
                     r"`siting extract` and give it as --osm", said), said
    assert [r["service"] for r in server.log].count("overpass") == 3


def test_a_silent_server_times_out(server, tmp_path, monkeypatch):
    monkeypatch.setenv("SITING_HTTP_TIMEOUT", "2")
    server.faults["overpass"] = [Fault("silent", forever=True)]
    code, said, seconds = place_run(server, tmp_path)
    assert code == 2 and seconds < 15, (seconds, said)
    assert f"error: Overpass at {server.overpass_url} did not answer within 2 s ($SITING_HTTP_TIMEOUT); try " \
           "another Overpass server with --overpass-url" in said, said


def test_garbage_instead_of_json(server, tmp_path):
    server.faults["overpass"] = [Fault("garbage")]
    code, said, _ = place_run(server, tmp_path)
    assert code == 2
    assert f"error: Overpass at {server.overpass_url} answered something that is not JSON (text/html; " \
           "charset=utf-8: '<html>this is no API</html>'); is it the address of the Overpass API?" in said, said


def test_an_empty_result(server, tmp_path):
    server.faults["overpass"] = [Fault("empty")]
    code, said, _ = place_run(server, tmp_path)
    assert code == 2
    assert re.search(rf"error: Overpass at {server.overpass_url} has no walkable street in {PLACE} .*is it the right "
                     r"area\? A regional Overpass server without data for it answers so too: try another Overpass "
                     r"server with --overpass-url", said), said


def test_nobody_listening(server, tmp_path):
    code, said, _ = place_run(server, tmp_path, overpass="http://127.0.0.1:9/api")
    assert code == 2
    assert re.search(r"error: cannot reach Overpass at http://127\.0\.0\.1:9/api \(.*refused.*\); behind a proxy, "
                     r"set HTTPS_PROXY / HTTP_PROXY \(NO_PROXY for local servers\)", said), said


def test_nominatim_answers_that_are_no_single_area(server, tmp_path):
    server.nominatim = []
    code, said, _ = place_run(server, tmp_path, place="不存在的地方")
    assert code == 2 and f"error: Nominatim at {server.nominatim_url} found nothing for '不存在的地方'" in said, said
    server.nominatim = [point("长宁路, 长宁区, 上海市", 121.41, 31.22)]
    code, said, _ = place_run(server, tmp_path, place="长宁路")
    assert code == 2 and f"error: Nominatim at {server.nominatim_url} has no area (polygon) for '长宁路', only 1. " \
                         "长宁路, 长宁区, 上海市 (amenity/hospital, Point): give the name of a district" in said, said
    server.nominatim = [boundary("朝阳区, 北京市", (116.4, 39.9, 116.6, 40.0)),
                        boundary("朝阳区, 长春市", (125.2, 43.8, 125.3, 43.9), osm_id=2)]
    code, said, _ = place_run(server, tmp_path, place="朝阳区")
    assert code == 2 and f"error: Nominatim at {server.nominatim_url} found 2 different areas for '朝阳区': 1. " \
                         "朝阳区, 北京市 (boundary/administrative, Polygon); 2. 朝阳区, 长春市 " \
                         "(boundary/administrative, Polygon); write the place more precisely" in said, said
    assert not server.requests_to("overpass")  # nothing downloaded for a place that is not one area


def test_an_area_larger_than_a_district_is_warned_before_downloading(server, tmp_path, monkeypatch):
    monkeypatch.setenv("SITING_HTTP_RETRIES", "0")
    server.nominatim = [boundary("上海市", (120.85, 30.67, 122.0, 31.87))]
    server.faults["overpass"] = [Fault("status", 504, forever=True)]  # the download fails: the warning came first
    code, said, _ = place_run(server, tmp_path, place="上海市")
    assert code == 2 and "answered HTTP 504" in said
    assert re.search(r"warning: 上海市 covers 1[0-9],[0-9]{3} km², more than a district \(over 2,000 km²\): "
                     r"the download will be large and slow", said), said
    assert said.index("covers") < said.index("answered HTTP 504")


def test_a_proxy_from_the_environment_is_used(server, tmp_path, monkeypatch):
    """HTTP_PROXY names the stand-in; the servers' own addresses (127.0.0.2:9) are reachable only through it."""
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.setenv("NO_PROXY", "")
    result = CliRunner().invoke(app, [
        "coverage", "--place", PLACE, "--overpass-url", "http://127.0.0.2:9/api", "--nominatim-url",
        "http://127.0.0.2:9/nominatim/", "--population", str(homes(tmp_path)), "--out", str(tmp_path / "out"),
        "--cache-dir", str(tmp_path / "cache"), "--no-report", "--no-map"])
    assert "error: no facilities" in result.output, result.output  # streets downloaded, no facility in the fixture
    assert {(r["service"], r["proxied"], r["host"]) for r in server.log} == {
        ("nominatim", True, "127.0.0.2:9"), ("overpass", True, "127.0.0.2:9")}


@pytest.mark.realdata
def test_place_equals_osm_on_the_campus_extract(shanghai, tmp_path, monkeypatch):
    """The Tongji campus downloaded from the stand-in gives the coverage of the same file read with --osm."""
    quiet_environment(monkeypatch)
    osm = shanghai / "osm" / "shanghai_tongji_siping_campus_export.osm"
    place = "同济大学四平路校区, 杨浦区, 上海市"
    common = ["--minutes", "10", "--facility-types", "hospital", "--allow-broken-network", "--no-report", "--no-map",
              "-q"]
    with StandIn(osm, place) as s:
        w, so, e, n = s.data.bbox
        rng = np.random.default_rng(1)
        pts = np.column_stack([rng.uniform(w, e, 60), rng.uniform(so, n, 60)])
        people = tmp_path / "homes.csv"
        people.write_text("id,lon,lat,population\n" + "".join(f"h{i},{x:.6f},{y:.6f},{10 + i}\n"
                                                              for i, (x, y) in enumerate(pts)), encoding="utf-8")
        online = CliRunner().invoke(app, ["coverage", "--place", place, "--overpass-url", s.overpass_url,
                                          "--nominatim-url", s.nominatim_url, "--population", str(people), "--out",
                                          str(tmp_path / "online"), "--cache-dir", str(tmp_path / "c1"), *common])
        assert online.exit_code == 0, online.output
        assert {r["service"] for r in s.log} == {"nominatim", "overpass"}
    offline = CliRunner().invoke(app, ["coverage", "--osm", str(osm), "--population", str(people), "--out",
                                       str(tmp_path / "offline"), "--cache-dir", str(tmp_path / "c2"), *common])
    assert offline.exit_code == 0, offline.output
    a, b = (json.loads((tmp_path / d / "summary.json").read_text(encoding="utf-8")) for d in ("online", "offline"))
    differ = {"network_source", "notes", "seconds", "sources", "network_cache"}
    assert {k: v for k, v in a.items() if k not in differ} == {k: v for k, v in b.items() if k not in differ}
    assert a["n_facilities"] == 1 and 0 < a["coverage_rate"] < 1  # the 校医院; some homes out of reach
    for name in ("subdistricts.csv", "uncovered_places.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "online" / name), pd.read_csv(tmp_path / "offline" / name))
    on, off = (gpd.read_file(tmp_path / d / "points.gpkg") for d in ("online", "offline"))
    pd.testing.assert_frame_equal(on.drop(columns="geometry"), off.drop(columns="geometry"))
