"""The workbench's local web app (siting.app): API round trips and its safety, the page in Chromium, a load test.

Also: layers built without assembling the result, one facility's catchment, the optimiser in a worker thread
(409 for edits meanwhile, cancel, accept), the delta table, the exported zip, scenario files (switching, the
`siting app FILE` command). All on the real Shanghai sample (徐汇区); one set of inputs per module, a
Workbench per group of tests (building one takes ~0.1 s once the inputs are loaded).
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import tempfile
import threading
import time
import types
import warnings
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from conftest import SAMPLE, SUBDISTRICT_TOTALS, expected_warnings

import siting
import siting.app
import siting.cli as cli
from siting.app import _layers, notebook, server
from siting.app._http import MAX_BODY, encode
from siting.engine.catchments import facility_catchments
from siting.scenarios._file import Baseline, read_scenario_file
from siting.scenarios._values import FileSpec
from siting.workbench import Workbench

with warnings.catch_warnings():  # starlette 1.x prefers httpx2 for its test client; httpx is what is installed
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.realdata

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PORT = 8765
HOST = f"127.0.0.1:{PORT}"
TOKEN = "test-token-0123456789"
XSS = "<img src=x onerror=alert(1)>"
IN_XUHUI = (121.452, 31.205)  # on the street extract, ~1 km from the nearest centre


@pytest.fixture(scope="module")
def inputs(shanghai: Path, tmp_path_factory: pytest.TempPathFactory) -> siting.Inputs:
    s = shanghai
    with expected_warnings(*SAMPLE, SUBDISTRICT_TOTALS):
        return siting.load_inputs(
            osm=s / "osm/shanghai_center_overpass_roads.osm", facilities=s / "facilities/xuhui_chc_healthxuhui.csv",
            facility_crs="bd09", population=s / "population/lianjia_xiaoqu_shanghai_2018_bd09.json",
            population_crs="bd09", census=s / "population/shanghai_district_population_census.csv",
            subdistrict_totals=s / "population/xuhui_subdistrict_households_2026_estimate.csv",
            boundaries=s / "boundaries/shanghai_subdistricts_osm_8districts.geojson", district="徐汇区",
            cache_dir=tmp_path_factory.mktemp("cache"), cache_inputs=True)


def workbench(inputs: siting.Inputs, source: Any = None) -> Workbench:
    with expected_warnings(*SAMPLE, SUBDISTRICT_TOTALS):
        wb = Workbench(inputs, source=source)
        wb.result  # noqa: B018 (the first run, so that no test pays for it)
    return wb


@pytest.fixture(scope="module")
def wb(inputs: siting.Inputs) -> Workbench:
    return workbench(inputs)


@pytest.fixture(scope="module")
def client(wb: Workbench) -> Iterator[TestClient]:
    app = server.create_app(wb, token=TOKEN, save_dir=".", port=PORT)
    with TestClient(app, base_url=f"http://{HOST}", headers={"X-Siting-Token": TOKEN}) as c:
        yield c


def plain(state: dict[str, Any]) -> Any:
    """Return ``state`` as the API sends it (JSON: NaN as null, tuples as lists)."""
    return json.loads(encode(state))


def rate_text(rate: float) -> str:
    return f"{100 * rate:.1f} %"


# ------------------------------------------------------------------------------------------------ the API
def test_token_is_required(wb: Workbench) -> None:
    before = wb.state()["edits"]
    app = server.create_app(wb, token=TOKEN, save_dir=".", port=PORT)
    with TestClient(app, base_url=f"http://{HOST}") as c:
        assert c.get("/api/state").status_code == 403
        assert c.post("/api/add", json={"lon": 121.45, "lat": 31.2}).status_code == 403
        assert c.get("/api/state", headers={"X-Siting-Token": "wrong"}).status_code == 403
        assert c.get("/").status_code == 403
        assert c.get("/?token=wrong").status_code == 403
        assert c.get("/api/state", headers={"X-Siting-Token": TOKEN}).status_code == 200
        page = c.get(f"/?token={TOKEN}")  # sets the cookie: the API then needs no header
        assert page.status_code == 200 and "window" not in page.text and 'data-siting="rate"' in page.text
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and f"siting_token_{PORT}=" in cookie
        assert c.get("/api/state").status_code == 200
        assert c.get("/").status_code == 200
        assert page.headers["referrer-policy"] == "strict-origin"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert c.get("/static/app.js").status_code == 200
        assert c.get("/static/leaflet/leaflet.js").status_code == 200
    assert wb.state()["edits"] == before  # the refused calls changed nothing


def test_foreign_host_is_refused(client: TestClient) -> None:
    for host in ("evil.example:8765", "127.0.0.1:9999", "127.0.0.1", "localhost.evil.example:8765"):
        assert client.get("/api/state", headers={"host": host}).status_code == 400, host
    assert client.get("/api/state", headers={"host": f"localhost:{PORT}"}).status_code == 200


def test_bodies_are_capped_and_must_be_json_objects(client: TestClient, wb: Workbench) -> None:
    before = wb.state()["edits"]
    big = json.dumps({"lon": 121.45, "lat": 31.2, "name": "x" * MAX_BODY})
    r = client.post("/api/add", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "error" in r.json()
    assert client.post("/api/add", content=b"{not json").status_code == 400
    assert client.post("/api/add", json=[121.45, 31.2]).status_code == 400
    assert client.post("/api/add", json={"lon": "121.45", "lat": 31.2}).status_code == 400
    assert client.post("/api/add", json={"lon": True, "lat": 31.2}).status_code == 400
    assert wb.state()["edits"] == before


def test_edits_round_trip_to_the_workbench(client: TestClient, wb: Workbench) -> None:
    assert client.get("/api/state").json() == plain(wb.state())
    r = client.post("/api/add", json={"lon": IN_XUHUI[0], "lat": IN_XUHUI[1], "name": "新站 A"})
    assert r.status_code == 200, r.text
    fid, state = r.json()["id"], r.json()["state"]
    assert state == plain(wb.state()) and state["facilities"][-1]["id"] == fid
    assert state["facilities"][-1]["name"] == "新站 A" and state["facilities"][-1]["added"]
    assert state["coverage_rate"] == pytest.approx(wb.result.summary.coverage_rate)
    for path, body in [("/api/move", {"id": fid, "lon": 121.445, "lat": 31.20}), ("/api/close", {"id": "1"}),
                       ("/api/undo", None), ("/api/redo", None), ("/api/reopen", {"id": "1"}),
                       ("/api/configure", {"mode": "elderly"}), ("/api/configure", {"minutes": 10}),
                       ("/api/configure", {"speed_kmh": 3.5}), ("/api/undo", None)]:
        r = client.post(path, json=body) if body is not None else client.post(path)
        assert r.status_code == 200, (path, r.text)
        assert r.json() == plain(wb.state()), path
    s = wb.state()
    assert (s["mode"], s["minutes"], s["speed_kmh"]) == ("elderly", 10.0, 3.0)
    assert rate_text(s["coverage_rate"]) == rate_text(wb.result.summary.coverage_rate)
    while wb.undo():
        pass


def test_a_refused_edit_is_a_400_with_its_message(client: TestClient, wb: Workbench) -> None:
    r = client.post("/api/close", json={"id": "no-such-facility"})
    assert r.status_code == 400 and "no facility with id 'no-such-facility'" in r.json()["error"]
    r = client.post("/api/configure", json={"mode": "teleport"})
    assert r.status_code == 400 and "teleport" in r.json()["error"]
    assert client.get("/api/layers?parts=homes,roads").status_code == 400


def test_a_bug_is_a_500_without_traceback() -> None:
    calls: list[int] = []

    def boom() -> dict[str, Any]:
        calls.append(1)
        if len(calls) > 1:  # the first call is the app's start state
            raise RuntimeError("/secret/path/in/a/traceback")
        return {}

    app = server.create_app(types.SimpleNamespace(state=boom), token=TOKEN, port=PORT)  # type: ignore[arg-type]
    with TestClient(app, base_url=f"http://{HOST}", headers={"X-Siting-Token": TOKEN}) as c:
        r = c.get("/api/state")
    assert r.status_code == 500 and r.json() == {"error": "internal error (RuntimeError); see the server's console"}


def test_names_are_returned_as_text(client: TestClient, wb: Workbench) -> None:
    r = client.post("/api/add", json={"lon": IN_XUHUI[0], "lat": IN_XUHUI[1], "name": XSS})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json()["state"]["facilities"][-1]["name"] == XSS
    layers = client.get("/api/layers?parts=facilities").json()
    assert layers["facilities"]["features"][-1]["properties"]["name"] == XSS
    wb.undo()
    js = (Path(server.__file__).parent / "static" / "app.js").read_text(encoding="utf-8")
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "html:" not in js


def test_save_writes_a_scenario_file_in_save_dir_only(inputs: siting.Inputs, shanghai: Path, tmp_path: Path,
                                                      client: TestClient) -> None:
    r = client.post("/api/save", json={"name": "a"})  # the module's workbench was started from loaded inputs
    assert r.status_code == 400 and "not from files" in r.json()["error"]
    s = shanghai
    base = Baseline(osm=s / "osm/shanghai_center_overpass_roads.osm",
                    facilities=FileSpec(s / "facilities/xuhui_chc_healthxuhui.csv", "bd09"),
                    population=FileSpec(s / "population/lianjia_xiaoqu_shanghai_2018_bd09.json", "bd09"),
                    census=s / "population/shanghai_district_population_census.csv",
                    subdistrict_totals=(s / "population/xuhui_subdistrict_households_2026_estimate.csv",),
                    boundaries=s / "boundaries/shanghai_subdistricts_osm_8districts.geojson", district="徐汇区")
    wb = workbench(inputs, source=base)
    app = server.create_app(wb, token=TOKEN, save_dir=tmp_path, port=PORT)
    with TestClient(app, base_url=f"http://{HOST}", headers={"X-Siting-Token": TOKEN}) as c:
        assert c.post("/api/add", json={"lon": IN_XUHUI[0], "lat": IN_XUHUI[1]}).status_code == 200
        for bad in ("../escape", "/tmp/x", ".hidden", "a/b"):
            r = c.post("/api/save", json={"name": bad})
            assert r.status_code == 400 and "scenario name" in r.json()["error"], bad
        r = c.post("/api/save", json={"name": "新站-1"})
        assert r.status_code == 200, r.text
        assert Path(r.json()["path"]) == tmp_path / "新站-1.yaml" and r.json()["state"] == plain(wb.state())
        spec = read_scenario_file(tmp_path / "新站-1.yaml")
        assert [len(sc.add) for sc in spec.scenarios] == [1]
        assert c.post("/api/save", json={"name": "新站-1"}).status_code == 400  # never overwritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["新站-1.yaml"]


def test_layers(client: TestClient, wb: Workbench) -> None:
    got = client.get("/api/layers").json()
    result = wb.result
    assert set(got) == {"minutes", "edits", "homes", "cell_m", "subdistricts", "facilities", "compare"}
    homes = got["homes"]["features"]
    assert got["cell_m"] is None and len(homes) == len(result.points)
    walk = result.points["walk_min"].to_numpy(float)
    sent = np.array([np.inf if f["properties"]["walk_min"] is None else f["properties"]["walk_min"] for f in homes])
    assert np.allclose(sent[np.isfinite(walk)], walk[np.isfinite(walk)], atol=0.05)
    assert sum(f["properties"]["covered"] for f in homes) == int(result.points["covered"].sum())
    subs = got["subdistricts"]["features"]
    assert len(subs) == len(result.subdistricts)
    props = {f["properties"]["name"]: f["properties"] for f in subs}
    for row in wb.state()["subdistricts"]:
        assert props[row["subdistrict"]]["analysed_share"] == pytest.approx(row["analysed_share"])
        assert props[row["subdistrict"]]["gap"] == row["gap_residents"]
    assert 0 < props["枫林路街道"]["analysed_share"] < 0.9  # partly analysed: drawn dashed
    assert len(got["facilities"]["features"]) == len(wb.state()["facilities"])
    assert client.get("/api/notes").json() == {
        "notes": list(result.summary.notes),
        "counted": result.facilities.loc[result.facilities["snapped"], "facility_id"].astype(str).tolist()}
    area = client.get("/api/service_area").json()
    assert area["type"] == "FeatureCollection" and area["features"][0]["geometry"]["type"] in ("Polygon",
                                                                                                "MultiPolygon")


def test_many_homes_are_sent_as_100_m_cells(wb: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_layers, "MAX_POINTS", 100)
    fc, cell = _layers.homes(wb.homes())
    pts = wb.result.points
    assert cell == 100.0 and 100 < len(fc["features"]) < len(pts)
    props = [f["properties"] for f in fc["features"]]
    rounding = 0.05 * len(props)  # each sum is sent to 0.1
    assert sum(p["population"] for p in props) == pytest.approx(pts["population"].sum(), abs=rounding)
    assert sum(p["covered_population"] for p in props) == pytest.approx(
        pts.loc[pts["covered"], "population"].sum(), abs=rounding)
    assert sum(p["n"] for p in props) == len(pts)


def test_cells_sit_at_the_population_weighted_centre_of_their_homes(wb: Workbench,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_layers, "MAX_POINTS", 100)
    fc, _ = _layers.homes(wb.homes())
    homes = wb.homes()
    w = homes["population"].clip(lower=0) + 1e-9
    got = np.array([f["geometry"]["coordinates"] for f in fc["features"]])
    pw = np.array([f["properties"]["population"] + 1e-9 * f["properties"]["n"] for f in fc["features"]])
    want = [np.average(homes["lon"], weights=w), np.average(homes["lat"], weights=w)]
    assert np.allclose(got.T @ pw / pw.sum(), want, atol=1e-5)


# ------------------------------------------------------------------------------------------------ faster layers
def test_edits_and_layers_build_no_result_and_notes_once_per_state(inputs: siting.Inputs,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    wb = workbench(inputs)
    built: list[int] = []
    real = Workbench._assemble

    def counted(self: Workbench) -> Any:
        built.append(1)
        return real(self)

    monkeypatch.setattr(Workbench, "_assemble", counted)
    app = server.create_app(wb, token=TOKEN, port=PORT)
    with TestClient(app, base_url=f"http://{HOST}", headers={"X-Siting-Token": TOKEN}) as c:
        fid = c.post("/api/add", json={"lon": IN_XUHUI[0], "lat": IN_XUHUI[1]}).json()["id"]
        for path, body in [("/api/move", {"id": fid, "lon": 121.447, "lat": 31.201}), ("/api/close", {"id": "1"}),
                           ("/api/undo", {})]:
            assert c.post(path, json=body).status_code == 200
        got = c.get("/api/layers?parts=homes,subdistricts,compare").json()
        assert built == []  # neither the edits nor the layers assembled a result
        notes = c.get("/api/notes").json()
        assert c.get("/api/notes").json() == notes and len(built) == 1  # once per state, when asked
        points = wb.result.points  # the same homes as the result's points
        assert c.post("/api/close", json={"id": "1"}).status_code == 200
        assert c.get("/api/notes").json()["counted"] != notes["counted"] and len(built) == 2
    homes = got["homes"]["features"]
    assert [f["properties"]["covered"] for f in homes] == points["covered"].tolist()
    walk = points["walk_min"].to_numpy(float)
    sent = np.array([np.inf if f["properties"]["walk_min"] is None else f["properties"]["walk_min"] for f in homes])
    assert np.array_equal(np.isfinite(sent), np.isfinite(walk))
    assert np.allclose(sent[np.isfinite(walk)], walk[np.isfinite(walk)], atol=0.05)


def test_catchment_of_one_facility(inputs: siting.Inputs) -> None:
    wb = workbench(inputs)
    app = server.create_app(wb, token=TOKEN, port=PORT)
    with TestClient(app, base_url=f"http://{HOST}", headers={"X-Siting-Token": TOKEN}) as c:
        fid = c.post("/api/add", json={"lon": IN_XUHUI[0], "lat": IN_XUHUI[1]}).json()["id"]
        fc = c.get("/api/catchment", params={"id": fid}).json()
        assert [f["properties"]["id"] for f in fc["features"]] == [fid]
        area = shapely.geometry.shape(fc["features"][0]["geometry"])
        ref = facility_catchments(wb.result, minutes=[15.0])
        ref = ref[ref["facility_id"] == fid]
        utm = "EPSG:32651"
        mine, theirs = (gpd.GeoSeries([g], crs=4326).to_crs(utm).iloc[0] for g in (area, ref.geometry.iloc[0]))
        assert mine.symmetric_difference(theirs).area < 0.03 * theirs.area  # the same street area (less simplified)
        assert area.distance(shapely.Point(IN_XUHUI)) < 0.001
        assert c.post("/api/configure", json={"minutes": 10}).status_code == 200
        ten = shapely.geometry.shape(c.get("/api/catchment", params={"id": fid}).json()["features"][0]["geometry"])
        assert ten.area < 0.8 * area.area and ten.buffer(1e-6).contains(ten.intersection(area))
        assert c.get("/api/catchment", params={"id": "nope"}).status_code == 400
        far = c.post("/api/add", json={"lon": 121.0, "lat": 31.0}).json()["id"]  # off the street extract
        assert c.get("/api/catchment", params={"id": far}).json()["features"] == []


# ------------------------------------------------------------------------------------------------ suggest
def wait_for(c: TestClient, seconds: float = 40) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        st = c.get("/api/suggest/status").json()
        if not st["running"] or time.monotonic() > deadline:
            return st
        time.sleep(0.05)


def test_suggest_runs_in_a_thread_and_accept_adds_its_sites(inputs: siting.Inputs) -> None:
    wb = workbench(inputs)
    app = server.create_app(wb, token=TOKEN, port=PORT)
    with TestClient(app, base_url=f"http://{HOST}", headers={"X-Siting-Token": TOKEN}) as c:
        for bad in ({}, {"k": 2, "target": 0.9}, {"k": 0}, {"k": 2.5}, {"target": 1.5}, {"k": 2, "time_limit": 60}):
            r = c.post("/api/suggest", json=bad)
            assert r.status_code == 400 and r.json()["error"], bad
        assert c.post("/api/suggest/accept").status_code == 409  # nothing to accept
        before = wb.state()
        st = c.post("/api/suggest", json={"k": 2, "time_limit": 10}).json()
        assert st["k"] == 2 and st["time_limit"] == 10
        st = wait_for(c)
        assert not st["running"] and st["error"] is None, st
        sites = st["sites"]["features"]
        assert len(sites) == 2 and all(f["properties"]["gain"] > 0 and f["properties"]["label"] for f in sites)
        assert st["summary"]["sites"] == 2 and st["summary"]["rate_after"] > st["summary"]["rate_before"]
        assert wb.state() == before  # a suggestion changes nothing
        r = c.post("/api/suggest/accept")
        assert r.status_code == 200, r.text
        ids, state = r.json()["ids"], r.json()["state"]
        assert len(ids) == 2 and state == plain(wb.state()) and state["edits"] == before["edits"] + 2
        added = state["facilities"][-2:]
        assert [f["id"] for f in added] == ids and [f["name"] for f in added] == [
            f["properties"]["label"] for f in sites]
        for f, site in zip(added, sites, strict=True):
            assert (f["lon"], f["lat"]) == pytest.approx(tuple(site["geometry"]["coordinates"]), abs=1e-6)
        assert state["coverage_rate"] == pytest.approx(st["summary"]["rate_after"], abs=1e-9)
        assert c.post("/api/suggest/accept").status_code == 409  # accepted once
        # a finished suggestion is dropped by the next edit: it was made on the state before
        c.post("/api/suggest", json={"target": 0.9})
        assert wait_for(c)["sites"]["features"]
        assert c.post("/api/undo").status_code == 200
        r = c.post("/api/suggest/accept")
        assert r.status_code == 409 and "suggest" in r.json()["error"]


def test_edits_get_409_while_a_suggestion_runs_and_cancel_discards_it(inputs: siting.Inputs) -> None:
    wb = workbench(inputs)
    release = threading.Event()

    def slow(*args: Any, **kwargs: Any) -> Any:  # the real suggestion, started once the test lets it
        release.wait(30)
        return Workbench.suggest(wb, *args, **kwargs)

    wb.suggest = slow  # type: ignore[method-assign]
    app = server.create_app(wb, token=TOKEN, port=PORT)
    with TestClient(app, base_url=f"http://{HOST}", headers={"X-Siting-Token": TOKEN}) as c:
        assert c.post("/api/suggest", json={"k": 1}).status_code == 200
        time.sleep(0.3)
        st = c.get("/api/suggest/status").json()
        assert st["running"] and st["elapsed"] >= 0.2 and st["sites"] is None
        for path, body in [("/api/add", {"lon": IN_XUHUI[0], "lat": IN_XUHUI[1]}), ("/api/close", {"id": "1"}),
                           ("/api/undo", {})]:
            r = c.post(path, json=body)
            assert r.status_code == 409 and "suggesting sites" in r.json()["error"], path
        assert c.post("/api/suggest", json={"k": 1}).status_code == 409
        assert c.get("/api/state").status_code == 200 and wb.state()["edits"] == 0  # reads go on; nothing changed
        st = c.post("/api/suggest/cancel").json()
        assert st["running"] and st["cancelled"]
        threading.Timer(0.3, release.set).start()
        r = c.post("/api/add", json={"lon": IN_XUHUI[0], "lat": IN_XUHUI[1]})  # waits for the cancelled solver
        assert r.status_code == 200 and wb.state()["edits"] == 1
        st = c.get("/api/suggest/status").json()
        assert st["sites"] is None and c.post("/api/suggest/accept").status_code == 409  # the answer was discarded


# ------------------------------------------------------------------------------------------------ compare, export
def test_compare_with_the_start(inputs: siting.Inputs) -> None:
    wb = workbench(inputs)
    start = wb.state()
    app = server.create_app(wb, token=TOKEN, port=PORT)
    with TestClient(app, base_url=f"http://{HOST}", headers={"X-Siting-Token": TOKEN}) as c:
        same = c.get("/api/compare").json()
        assert same["district"]["added"] == 0 and all(r["added"] == 0 for r in same["rows"])
        c.post("/api/add", json={"lon": IN_XUHUI[0], "lat": IN_XUHUI[1]})
        c.post("/api/close", json={"id": "1"})
        got = c.get("/api/compare").json()
        assert c.get("/api/layers?parts=compare").json()["compare"] == got
    now = wb.state()
    d = got["district"]
    assert d["rate_start"] == start["coverage_rate"] and d["rate_now"] == now["coverage_rate"]
    assert d["added"] == pytest.approx(now["population_covered"] - start["population_covered"], abs=0.1)
    assert d["delta_pp"] == pytest.approx(100 * (now["coverage_rate"] - start["coverage_rate"]))
    assert (d["facilities_start"], d["facilities_now"]) == (sum(f["open"] for f in start["facilities"]),
                                                           sum(f["open"] for f in now["facilities"]))
    assert sum(r["added"] for r in got["rows"]) == pytest.approx(d["added"], abs=0.1 * len(got["rows"]))
    assert any(r["added"] > 0 for r in got["rows"]) and any(r["added"] < 0 for r in got["rows"])
    assert [r["added"] for r in got["rows"]] == sorted((r["added"] for r in got["rows"]), reverse=True)


def test_export_zips_the_bundle_in_a_temp_dir_only(inputs: siting.Inputs, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where the bundle is written
    (tmp_path / "tmp").mkdir()
    save_dir = tmp_path / "save"
    save_dir.mkdir()
    wb = workbench(inputs)
    app = server.create_app(wb, token=TOKEN, save_dir=save_dir, port=PORT)
    with TestClient(app, base_url=f"http://{HOST}", headers={"X-Siting-Token": TOKEN}) as c:
        c.post("/api/add", json={"lon": IN_XUHUI[0], "lat": IN_XUHUI[1], "name": "新站 Z"})
        with expected_warnings(*SAMPLE, SUBDISTRICT_TOTALS):
            r = c.get("/api/export")
        assert c.get("/api/export", headers={"X-Siting-Token": "wrong"}).status_code == 403
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="siting-baseline-1-edits.zip"'
    z = zipfile.ZipFile(io.BytesIO(r.content))
    names = set(z.namelist())
    assert {"siting-baseline-1-edits/" + n for n in ("map.html", "report.xlsx", "report.html", "summary.json",
                                                     "subdistricts.csv")} <= names
    summary = json.loads(z.read("siting-baseline-1-edits/summary.json"))
    assert summary["coverage_rate"] == pytest.approx(wb.result.summary.coverage_rate)
    page = z.read("siting-baseline-1-edits/map.html").decode("utf-8")
    assert "新站 Z" in page or json.dumps("新站 Z")[1:-1] in page  # the added station is on the map
    assert list((tmp_path / "tmp").iterdir()) == [] and list(save_dir.iterdir()) == []  # nothing left anywhere


# ------------------------------------------------------------------------------------------------ scenarios
@pytest.fixture(scope="module")
def plans(shanghai: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    s = shanghai
    path = tmp_path_factory.mktemp("plans") / "plans.yaml"
    path.write_text(f"""name: 徐汇 plans
baseline:
  osm: {s / "osm/shanghai_center_overpass_roads.osm"}
  facilities: {{path: {s / "facilities/xuhui_chc_healthxuhui.csv"}, crs: bd09}}
  population: {{path: {s / "population/lianjia_xiaoqu_shanghai_2018_bd09.json"}, crs: bd09}}
  census: {s / "population/shanghai_district_population_census.csv"}
  subdistrict_totals: {s / "population/xuhui_subdistrict_households_2026_estimate.csv"}
  boundaries: {s / "boundaries/shanghai_subdistricts_osm_8districts.geojson"}
  district: 徐汇区
scenarios:
  - name: close_5
    close: ["5"]
  - name: add_station
    add: [{{name: 新站 徐家汇, type: station, lon: 121.437, lat: 31.196, crs: wgs84}}]
  - name: optimiser
    site: {{k: 2}}
  - name: after_optimiser
    from: optimiser
    minutes: 10
""", encoding="utf-8")
    return path


def open_plans(path: Path, scenario: str | None = None) -> Workbench:
    with expected_warnings(*SAMPLE, SUBDISTRICT_TOTALS):
        return Workbench.from_scenario_file(path, scenario)


def test_scenarios_switch_each_with_its_own_workbench(plans: Path) -> None:
    wb = open_plans(plans, "close_5")
    app = server.create_app(wb, token=TOKEN, port=PORT, scenario_file=plans, scenario="close_5")
    with TestClient(app, base_url=f"http://{HOST}", headers={"X-Siting-Token": TOKEN}) as c:
        listed = c.get("/api/scenarios").json()
        assert listed["file"] == str(plans) and listed["title"] == "徐汇 plans" and listed["current"] == "close_5"
        assert [(x["name"], x["usable"]) for x in listed["scenarios"]] == [
            ("baseline", True), ("close_5", True), ("add_station", True), ("optimiser", False),
            ("after_optimiser", False)]
        assert "optimiser" in listed["scenarios"][4]["why"]
        assert not next(f for f in c.get("/api/state").json()["facilities"] if f["id"] == "5")["open"]
        fid = c.post("/api/add", json={"lon": IN_XUHUI[0], "lat": IN_XUHUI[1]}).json()["id"]
        with expected_warnings(*SAMPLE, SUBDISTRICT_TOTALS):
            r = c.post("/api/scenario", json={"name": "baseline"})
        assert r.status_code == 200, r.text
        base = r.json()["state"]
        assert r.json()["scenario"] == r.json()["scenarios"]["current"] == "baseline"
        assert all(f["open"] for f in base["facilities"]) and fid not in {f["id"] for f in base["facilities"]}
        assert c.get("/api/compare").json()["district"]["added"] == 0  # the baseline's own start
        with expected_warnings(*SAMPLE, SUBDISTRICT_TOTALS):
            r = c.post("/api/scenario", json={"name": "add_station"})
        added = r.json()["state"]
        assert added["facilities"][-1]["name"] == "新站 徐家汇" and added["edits"] == 0
        assert added["coverage_rate"] > base["coverage_rate"]
        back = c.post("/api/scenario", json={"name": "close_5"}).json()  # kept, with its edit
        assert back["state"]["edits"] == 1 and back["state"]["facilities"][-1]["id"] == fid
        assert c.get("/api/compare").json()["district"]["added"] > 0
        for name, words in [("optimiser", "optimiser"), ("after_optimiser", "optimiser"), ("nope", "no scenario")]:
            r = c.post("/api/scenario", json={"name": name})
            assert r.status_code == 400 and words in r.json()["error"], name
        assert c.get("/api/scenarios").json()["current"] == "close_5"
    assert server.create_app(wb, token=TOKEN, port=PORT) is not None
    app = server.create_app(wb, token=TOKEN, port=PORT)  # no file: nothing to switch to
    with TestClient(app, base_url=f"http://{HOST}", headers={"X-Siting-Token": TOKEN}) as c:
        assert c.get("/api/scenarios").json() == {"file": None, "title": None, "current": "baseline",
                                                  "scenarios": [{"name": "baseline", "usable": True, "why": None,
                                                                 "loaded": True}]}
        r = c.post("/api/scenario", json={"name": "close_5"})
        assert r.status_code == 400 and "not started from a scenario file" in r.json()["error"]


def test_app_command_starts_from_a_scenario_file(plans: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[tuple[Workbench, dict[str, Any]]] = []
    monkeypatch.setattr(server, "serve", lambda wb, **kw: served.append((wb, kw)))
    runner = CliRunner()
    with expected_warnings(*SAMPLE, SUBDISTRICT_TOTALS):
        r = runner.invoke(cli.app, ["app", str(plans), "--scenario", "close_5", "--no-browser", "--port", "0"])
    assert r.exit_code == 0, r.output
    (wb, kw), = served
    assert kw["scenario_file"] == plans and kw["scenario"] == "close_5" and kw["open_browser"] is False
    assert not next(f for f in wb.state()["facilities"] if f["id"] == "5")["open"]
    r = runner.invoke(cli.app, ["app", str(plans), "--minutes", "10", "--no-browser"])
    assert r.exit_code == 2 and "drop --minutes" in r.output
    r = runner.invoke(cli.app, ["app", "--scenario", "close_5", "--no-browser"])
    assert r.exit_code == 2 and "give the scenario file too" in r.output
    r = runner.invoke(cli.app, ["app", str(plans), "--scenario", "nope", "--no-browser"])
    assert r.exit_code == 2 and "no scenario 'nope'" in r.output
    assert len(served) == 1


# ------------------------------------------------------------------------------------------------ the server
@contextmanager
def served(wb: Workbench, **kwargs: Any) -> Iterator[str]:
    """Run :func:`siting.app.serve` (open_browser=False, a free port, ``kwargs``) in a thread; yield its URL."""
    made: list[Any] = []
    real = server._server

    def keep(*args: Any) -> Any:
        made.append(real(*args))
        return made[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(server, "_server", keep)
        thread = threading.Thread(target=server.serve, args=(wb,), kwargs={"open_browser": False, **kwargs},
                                  daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not (made and made[0][0].started):
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.01)
    try:
        yield made[0][2]
    finally:
        made[0][0].should_exit = True
        thread.join(10)
        assert not thread.is_alive()


def test_serve_prints_the_url_and_stops_on_ctrl_c(wb: Workbench, capsys: pytest.CaptureFixture[str]) -> None:
    made: list[Any] = []
    real = server._server

    def keep(*args: Any) -> Any:
        made.append(real(*args))
        return made[-1]

    def interrupt() -> None:
        deadline = time.monotonic() + 20
        while not (made and made[0][0].started) and time.monotonic() < deadline:
            time.sleep(0.01)
        if not (made and made[0][0].started):
            if made:
                made[0][0].should_exit = True
            return
        base, token = made[0][2].split("/?token=")
        codes.append(httpx.get(base + "/api/state", headers={"X-Siting-Token": token}).status_code)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C

    codes: list[int] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(server, "_server", keep)
        threading.Thread(target=interrupt, daemon=True).start()
        server.serve(wb, open_browser=False)  # here, in the main thread: uvicorn handles the Ctrl-C
    out = capsys.readouterr().out
    assert out.startswith("siting app: http://127.0.0.1:") and "/?token=" in out and "stopped" in out
    assert codes == [200]


def test_show_is_an_iframe_of_the_app_served_from_a_thread(inputs: siting.Inputs) -> None:
    pytest.importorskip("IPython")
    wb = workbench(inputs)
    frame = siting.app.show(wb, height=500)
    try:
        assert frame.src.startswith("http://127.0.0.1:") and "/?token=" in frame.src and frame.height == 500
        assert siting.app.show(wb).src == frame.src  # one server per workbench
        base, token = frame.src.split("/?token=")
        assert httpx.get(frame.src).status_code == 200
        assert httpx.get(base + "/api/state", headers={"X-Siting-Token": token}).json() == plain(wb.state())
    finally:
        notebook._RUNNING[wb][1].should_exit = True


def test_load_20_clients_50_edits_each(inputs: siting.Inputs) -> None:
    wb = workbench(inputs)
    with served(wb) as url:
        base, token = url.split("/?token=")
        lat_ms: list[float] = []

        def client(seed: int) -> int:
            rng = random.Random(seed)
            errors = 0
            with httpx.Client(base_url=base, headers={"X-Siting-Token": token}, timeout=60) as c:
                fid = None
                for j in range(50):
                    lon, lat = 121.43 + 0.04 * rng.random(), 31.18 + 0.04 * rng.random()
                    t = time.perf_counter()
                    if j % 3 == 0:
                        r = c.post("/api/add", json={"lon": lon, "lat": lat, "name": f"c{seed}-{j}"})
                        fid = r.json()["id"] if r.status_code == 200 else None
                    elif j % 3 == 1 and fid is not None:
                        r = c.post("/api/move", json={"id": fid, "lon": lon, "lat": lat})
                    else:
                        r = c.post("/api/undo")
                    lat_ms.append(1000 * (time.perf_counter() - t))
                    errors += r.status_code != 200
            return errors

        t0 = time.perf_counter()
        with ThreadPoolExecutor(20) as pool:
            errors = sum(pool.map(client, range(20)))
        took = time.perf_counter() - t0
        final = httpx.get(base + "/api/state", headers={"X-Siting-Token": token}).json()
    assert errors == 0
    assert len(lat_ms) == 1000 and took < 60
    assert final == plain(wb.state())
    p50, p95 = np.percentile(lat_ms, [50, 95])
    print(f"\nload: 20 clients x 50 edits in {took:.1f} s ({1000 * took / len(lat_ms):.1f} ms an edit, one at a "
          f"time); latency seen by a client p50 {p50:.1f} ms, p95 {p95:.1f} ms")


# ------------------------------------------------------------------------------------------------ the page
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (Debian package `chromium`)")
def test_page_in_chromium(plans: Path, repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("SITING_PDF", "1")  # the exported bundle has report.pdf (Chromium is here)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where the bundle is written, then removed
    (tmp_path / "tmp").mkdir()
    wb = open_plans(plans)
    with served(wb, scenario_file=plans) as url, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        errors: list[str] = []
        foreign: list[str] = []
        dialogs: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(url.split("/?")[0]) and
                not r.url.startswith(("data:", "blob:")) else None)
        page.goto(url, wait_until="load")
        page.evaluate("() => window.siting.ready")
        rate = page.locator("[data-siting=rate]")
        assert rate.text_content() == rate_text(wb.result.summary.coverage_rate)
        assert page.locator("[data-siting=notes] li").count() == len(wb.result.summary.notes)
        assert page.locator("[data-siting=subdistricts] tr").count() == len(wb.state()["subdistricts"])
        assert page.locator("[data-siting=scenario-shown]").text_content() == "baseline"

        # the hook's latency: now (layers from the homes and the state), and with the whole result assembled
        # after every edit (what the page did before: the notes and counted facilities came with the layers)
        timed = """async ([call, args, full]) => {
            const t = performance.now();
            const state = await window.siting[call](...args);
            if (full) { await window.siting.notes(); }
            return {ms: performance.now() - t, state: state};
        }"""
        ms: dict[str, dict[str, float]] = {"now": {}, "with the result": {}}
        for kind, full in (("with the result", True), ("now", False)):
            got = page.evaluate(timed, ["add", [IN_XUHUI[0], IN_XUHUI[1], {"name": XSS}], full])
            ms[kind]["add"] = got["ms"]
            assert got["state"] == plain(wb.state()) and got["state"]["facilities"][-1]["name"] == XSS
            assert rate.text_content() == rate_text(wb.result.summary.coverage_rate)
            added, fid = rate.text_content(), got["state"]["facilities"][-1]["id"]
            got = page.evaluate(timed, ["close", ["1"], full])
            ms[kind]["close"] = got["ms"]
            assert rate.text_content() == rate_text(wb.result.summary.coverage_rate) != added
            got = page.evaluate(timed, ["undo", [], full])
            ms[kind]["undo"] = got["ms"]
            assert rate.text_content() == added and page.evaluate("() => window.siting.state().can_redo")
            got = page.evaluate(timed, ["move", [fid, 121.447, 31.201], full])
            ms[kind]["move"] = got["ms"]
            assert rate.text_content() == rate_text(wb.result.summary.coverage_rate)
            if kind == "with the result":
                page.evaluate("() => window.siting.undo()")
                page.evaluate("() => window.siting.undo()")
        # the moved station's catchment is drawn, around it
        bounds = page.evaluate("""() => {
            const b = L.featureGroup(window.siting.layers.catchment.getLayers()).getBounds();
            return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
        }""")
        assert bounds[0] < 121.447 < bounds[2] and bounds[1] < 31.201 < bounds[3]
        assert 0.005 < bounds[2] - bounds[0] < 0.05

        # a real click on the map adds a station there
        n = len(wb.state()["facilities"])
        x, y = page.evaluate("""([lon, lat]) => {
            const p = window.siting.map.latLngToContainerPoint([lat, lon]);
            const box = document.getElementById('map').getBoundingClientRect();
            return [box.left + p.x, box.top + p.y];
        }""", [121.437, 31.212])
        t = time.perf_counter()
        page.mouse.click(x, y)
        page.wait_for_function(f"() => window.siting.state().facilities.length > {n}", timeout=10_000)
        page.wait_for_function("() => !document.body.classList.contains('busy')", timeout=10_000)
        ms["now"]["click → panel"] = 1000 * (time.perf_counter() - t)
        assert len(wb.state()["facilities"]) == n + 1
        assert rate.text_content() == rate_text(wb.result.summary.coverage_rate)
        assert page.locator("[data-siting=gap]").text_content() == f"{wb.state()['gap_residents']:,.0f}"

        # dragging an added station moves it
        marker = page.locator(".siting-added").last
        box = marker.bounding_box()
        assert box is not None
        before = wb.state()["facilities"][-1]
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + 60, box["y"] + 40, steps=8)
        page.mouse.up()
        page.wait_for_function(f"() => window.siting.state().facilities.at(-1).lon !== {before['lon']}",
                               timeout=10_000)
        after = wb.state()["facilities"][-1]
        assert after["id"] == before["id"] and after["lon"] > before["lon"] and after["lat"] < before["lat"]
        assert len(wb.state()["facilities"]) == n + 1  # a drag adds nothing

        # a real click on a facility closes it (and adds nothing); the undo button reopens it
        x, y = page.evaluate("""() => {
            const f = window.siting.state().facilities.find(f => f.id === "1");
            const p = window.siting.map.latLngToContainerPoint([f.lat, f.lon]);
            const box = document.getElementById('map').getBoundingClientRect();
            return [box.left + p.x, box.top + p.y];
        }""")
        page.mouse.click(x, y)
        page.wait_for_function("() => !window.siting.state().facilities.find(f => f.id === '1').open", timeout=10_000)
        assert len(wb.state()["facilities"]) == n + 1 and not wb.state()["facilities"][0]["open"]
        page.locator("[data-siting=undo]").click()
        page.wait_for_function("() => window.siting.state().facilities.find(f => f.id === '1').open", timeout=10_000)
        page.wait_for_function("() => !document.body.classList.contains('busy')", timeout=10_000)
        assert rate.text_content() == rate_text(wb.result.summary.coverage_rate)

        # the delta table: the district against the start
        start = json.loads(encode(open_plans(plans).state()))
        district = page.locator("[data-siting=compare] tr.total td")
        assert district.nth(1).text_content() == rate_text(start["coverage_rate"])
        assert district.nth(2).text_content() == rate_text(wb.state()["coverage_rate"])
        added_now = wb.state()["population_covered"] - start["population_covered"]
        assert district.nth(4).text_content() == f"+{added_now:,.0f}"

        # scenarios: switch to another of the file, then back (the baseline's edits kept)
        edits = wb.state()["edits"]
        with expected_warnings(*SAMPLE, SUBDISTRICT_TOTALS):  # the server loads the scenario's inputs
            page.locator("[data-siting=scenario]").select_option("add_station")
            page.wait_for_function("() => document.querySelector('[data-siting=scenario-shown]').textContent === "
                                   "'add_station' && !document.body.classList.contains('busy')", timeout=20_000)
        other = open_plans(plans, "add_station")
        assert page.evaluate("() => window.siting.state().facilities.at(-1).name") == "新站 徐家汇"
        assert rate.text_content() == rate_text(other.result.summary.coverage_rate)
        assert page.locator("[data-siting=compare] tr.total td").nth(4).text_content() == "0"
        state = page.evaluate("() => window.siting.scenario('baseline')")
        assert state == plain(wb.state()) and state["edits"] == edits
        assert rate.text_content() == rate_text(wb.result.summary.coverage_rate)

        # suggest 2 sites with the buttons: progress, the sites with their gains, accept
        page.locator("[data-siting=suggest-k]").fill("2")
        page.locator("[data-siting=suggest]").click()
        page.locator("[data-siting=suggest-accept]").wait_for(state="visible", timeout=40_000)
        assert "2 site(s)" in page.locator("[data-siting=suggest-status]").text_content()
        labels = page.locator(".siting-suggest-tip").all_text_contents()
        assert len(labels) == 2 and all("候选" in t and "+" in t for t in labels)
        assert page.locator("[data-siting=suggest-sites] li").count() == 2
        assert page.locator("[data-siting=scenario-file]").text_content() == "徐汇 plans · plans.yaml"
        page.evaluate("(id) => window.siting.catchment(id)", wb.state()["facilities"][-1]["id"])
        assert page.evaluate("() => window.siting.layers.catchment.getLayers().length") == 1
        page.mouse.move(1300, 880)  # no tooltip left open
        out = repo_root / "docs" / "img" / "workbench.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        n = len(wb.state()["facilities"])
        page.locator("[data-siting=suggest-accept]").click()
        page.wait_for_function(f"() => window.siting.state().facilities.length === {n + 2}", timeout=10_000)
        page.wait_for_function("() => !document.body.classList.contains('busy')", timeout=10_000)
        assert rate.text_content() == rate_text(wb.result.summary.coverage_rate)
        page.wait_for_function("() => !document.querySelector('.siting-suggest-tip')", timeout=5_000)  # labels gone

        # export the bundle as a zip download
        with page.expect_download(timeout=60_000) as info:
            page.locator("[data-siting=export]").click()
        with expected_warnings(*SAMPLE, SUBDISTRICT_TOTALS):
            zipped = zipfile.ZipFile(info.value.path())
        folder = info.value.suggested_filename.removesuffix(".zip")
        assert folder == f"siting-baseline-{wb.state()['edits']}-edits"
        assert {f"{folder}/{name}" for name in ("map.html", "report.xlsx", "report.html", "report.pdf")} <= set(
            zipped.namelist())
        summary = json.loads(zipped.read(f"{folder}/summary.json"))
        assert summary["coverage_rate"] == pytest.approx(wb.result.summary.coverage_rate)
        assert list((tmp_path / "tmp").iterdir()) == []

        assert page.locator("img[src=x]").count() == 0 and not dialogs
        browser.close()
    assert not errors, errors
    assert not foreign, foreign
    for kind, times in ms.items():
        print(f"\nhook latency (ms), {kind}: " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))
