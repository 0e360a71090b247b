"""The online path (place name → Nominatim + Overpass through osmnx), with the HTTP layer mocked.

No test touches the network: ``requests.get``/``requests.post`` are replaced by fakes that answer
like Nominatim and Overpass would, from the hand-written fixture's nodes and ways.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
import requests

from siting.engine.network import Network
from siting.errors import GeocodeError


def fake_response(payload, url="https://mock.invalid/"):
    """A real ``requests.Response`` carrying ``payload`` (JSON, or text for the status endpoint)."""
    r = requests.Response()
    r.status_code = 200
    r.reason = "OK"
    r.url = url
    text = payload if isinstance(payload, str) else json.dumps(payload)
    r._content = text.encode()
    r.encoding = "utf-8"
    r.headers["Content-Type"] = "text/plain" if isinstance(payload, str) else "application/json"
    return r


def overpass_payload(osm_file, drop_ways=(14, 15)):
    """What Overpass answers to osmnx's walk query: the fixture minus the foot=no and motorway ways."""
    root = ET.parse(osm_file).getroot()
    elements = []
    for n in root.iter("node"):
        elements.append({"type": "node", "id": int(n.get("id")), "lat": float(n.get("lat")),
                         "lon": float(n.get("lon"))})
    for w in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in w.iter("tag")}
        if "highway" not in tags or int(w.get("id")) in drop_ways:
            continue
        elements.append({"type": "way", "id": int(w.get("id")), "nodes": [int(nd.get("ref")) for nd in w.iter("nd")],
                         "tags": tags})
    return {"version": 0.6, "generator": "mock", "elements": elements}


NOMINATIM_HIT = [{
    "place_id": 1, "licence": "ODbL", "osm_type": "relation", "osm_id": 1, "lat": "31.201", "lon": "121.4015",
    "class": "boundary", "type": "administrative", "place_rank": 12, "importance": 0.5, "addresstype": "district",
    "name": "测试区", "display_name": "测试区, 上海市, 中国", "boundingbox": ["31.199", "31.203", "121.399", "121.404"],
    "geojson": {"type": "Polygon", "coordinates": [[[121.399, 31.199], [121.404, 31.199], [121.404, 31.203],
                                                    [121.399, 31.203], [121.399, 31.199]]]},
}]


FEATURES = {"version": 0.6, "generator": "mock", "elements": [
    {"type": "node", "id": 100, "lat": 31.2001, "lon": 121.4001,
     "tags": {"amenity": "clinic", "name": "测试社区卫生服务站"}},
    {"type": "node", "id": 101, "lat": 31.2019, "lon": 121.4029,
     "tags": {"healthcare": "centre", "name": "测试街道社区卫生服务中心"}},
    {"type": "node", "id": 102, "lat": 31.2010, "lon": 121.4020, "tags": {"amenity": "pharmacy", "name": "药房"}},
]}


@pytest.fixture
def mock_http(monkeypatch, test_data):
    import osmnx as ox

    calls = {"get": [], "post": []}
    payload = overpass_payload(test_data / "walk_tiny.osm")
    answers = {"nominatim": NOMINATIM_HIT}

    def fake_get(url, *args, **kwargs):
        calls["get"].append(url)
        if "nominatim" in url or "search" in url:
            return fake_response(answers["nominatim"], url)
        if "status" in url:
            return fake_response("Connected as: 1\nRate limit: 0\n2 slots available now.\n", url)
        return fake_response(payload, url)

    def fake_post(url, *args, **kwargs):
        calls["post"].append(url)
        query = str(kwargs.get("data", ""))
        return fake_response(payload if '"highway"' in query else FEATURES, url)

    monkeypatch.setattr(requests, "get", fake_get)
    monkeypatch.setattr(requests, "post", fake_post)
    monkeypatch.setattr(ox.settings, "doh_url_template", None)
    monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
    return calls, answers


def test_from_place_builds_and_caches(mock_http, tmp_path):
    calls, _ = mock_http
    net = Network.from_place("测试区, 上海市", "walk", cache_dir=tmp_path)
    assert net.info["cache"] == "miss"
    assert calls["get"] and calls["post"]  # Nominatim was asked, then Overpass
    assert net.n_nodes == 8 and net.crs == "EPSG:32651"  # motorway/foot=no dropped as offline
    offline = Network.from_osm(pytest.importorskip("pathlib").Path(__file__).parent / "data" / "walk_tiny.osm",
                               "walk", cache=False)
    assert net.length.sum() == pytest.approx(offline.length.sum(), rel=1e-6)
    n_calls = len(calls["get"]) + len(calls["post"])
    again = Network.from_place("测试区, 上海市", "walk", cache_dir=tmp_path)
    assert again.info["cache"] == "hit"
    assert len(calls["get"]) + len(calls["post"]) == n_calls  # the second run is offline


def test_place_that_geocodes_to_nothing(mock_http, tmp_path):
    _, answers = mock_http
    answers["nominatim"] = []
    with pytest.raises(GeocodeError, match="不存在的地方"):
        Network.from_place("不存在的地方", "walk", cache_dir=tmp_path)


def test_place_facilities_and_cli_end_to_end(mock_http, tmp_path):
    from click.testing import CliRunner

    from siting.cli.commands import app
    from siting.io.facilities import facilities_from_place

    fac = facilities_from_place("测试区, 上海市", cache_dir=tmp_path)
    assert dict(zip(fac["name"], fac["type"], strict=True)) == {"测试社区卫生服务站": "station",
                                                               "测试街道社区卫生服务中心": "center"}
    homes = tmp_path / "homes.csv"
    homes.write_text("id,lon,lat,population\nh1,121.4005,31.2001,100\nh2,121.4030,31.2010,50\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["coverage", "--place", "测试区, 上海市", "--population", str(homes),
                                      "--minutes", "5", "--out", str(out), "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["n_facilities"] == 2 and summary["population_total"] == 150
    assert summary["coverage_rate"] == 1.0  # both homes within 5 minutes of one of the two


def test_online_bike_network_honours_oneway_bicycle_no(mock_http, monkeypatch, tmp_path, test_data):
    """As offline: a one-way street tagged oneway:bicycle=no is two-way for bikes (osmnx itself ignores the tag)."""
    payload = overpass_payload(test_data / "walk_tiny.osm", drop_ways=(11, 15))  # Overpass's bike answer
    for el in payload["elements"]:
        if el["type"] == "way" and el["id"] == 10:
            el["tags"]["oneway:bicycle"] = "no"
    monkeypatch.setattr(requests, "post", lambda url, *a, **k: fake_response(payload, url))
    net = Network.from_place("测试区, 上海市", "bike", cache_dir=tmp_path)
    assert not net.oneway.any()
    for el in payload["elements"]:  # without the tag, way 10 stays one-way
        if el["type"] == "way" and el["id"] == 10:
            del el["tags"]["oneway:bicycle"]
    strict = Network.from_place("测试区, 上海市", "bike", cache=False)
    assert strict.oneway.sum() == 3


def test_an_unwritable_download_cache_is_a_warning(mock_http, monkeypatch, tmp_path):
    """--place with a cache folder that cannot be written: a warning, and the downloads go on uncached."""
    import osmnx as ox

    from siting.io.facilities import facilities_from_place

    monkeypatch.setattr(ox.settings, "use_cache", True)  # restored after the test
    monkeypatch.setattr(ox.settings, "cache_folder", ox.settings.cache_folder)
    calls, _ = mock_http
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be", encoding="utf-8")
    with pytest.warns(UserWarning) as said:
        net = Network.from_place("测试区, 上海市", "walk", cache_dir=blocked)
    assert net.n_nodes == 8 and net.info["cache"] == "off" and ox.settings.use_cache is False
    texts = [str(w.message) for w in said]
    assert any(re.match(r"cannot write the download cache in .*blocked/osmnx-http \(.*\); downloading without a "
                        r"cache", t) for t in texts), texts
    assert any(t.startswith("cannot write the cache in") for t in texts), texts  # the network cache, as before
    n_calls = len(calls["get"]) + len(calls["post"])
    with pytest.warns(UserWarning, match="cannot write the download cache"):
        fac = facilities_from_place("测试区, 上海市", cache_dir=blocked)
    assert len(fac) == 2 and len(calls["get"]) + len(calls["post"]) > n_calls  # downloaded again, not cached
    assert blocked.read_text(encoding="utf-8").startswith("a file")  # nothing written over it
