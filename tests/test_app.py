"""The workbench's local web app (siting.app): API round trips and its safety, the page in Chromium, a load test.

All on the real Shanghai sample (徐汇区); one set of inputs per module, a Workbench per group of tests
(building one takes ~0.1 s once the inputs are loaded).
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import types
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from conftest import SAMPLE, SUBDISTRICT_TOTALS, expected_warnings

import siting
import siting.app
from siting.app import _layers, notebook, server
from siting.app._http import MAX_BODY, encode
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
    def boom() -> None:
        raise RuntimeError("/secret/path/in/a/traceback")

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
    assert got["notes"] == list(result.summary.notes)
    area = client.get("/api/service_area").json()
    assert area["type"] == "FeatureCollection" and area["features"][0]["geometry"]["type"] in ("Polygon",
                                                                                                "MultiPolygon")


def test_many_homes_are_sent_as_100_m_cells(wb: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_layers, "MAX_POINTS", 100)
    fc, cell = _layers.homes(wb.result.points)
    pts = wb.result.points
    assert cell == 100.0 and 100 < len(fc["features"]) < len(pts)
    props = [f["properties"] for f in fc["features"]]
    rounding = 0.05 * len(props)  # each sum is sent to 0.1
    assert sum(p["population"] for p in props) == pytest.approx(pts["population"].sum(), abs=rounding)
    assert sum(p["covered_population"] for p in props) == pytest.approx(
        pts.loc[pts["covered"], "population"].sum(), abs=rounding)
    assert sum(p["n"] for p in props) == len(pts)


# ------------------------------------------------------------------------------------------------ the server
@contextmanager
def served(wb: Workbench) -> Iterator[str]:
    """Run :func:`siting.app.serve` (open_browser=False, a free port) in a thread; yield its URL."""
    made: list[Any] = []
    real = server._server

    def keep(*args: Any) -> Any:
        made.append(real(*args))
        return made[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(server, "_server", keep)
        thread = threading.Thread(target=server.serve, args=(wb,), kwargs={"open_browser": False}, daemon=True)
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
def test_page_in_chromium(inputs: siting.Inputs, repo_root: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    wb = workbench(inputs)
    with served(wb) as url, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        foreign: list[str] = []
        dialogs: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(url.split("/?")[0]) and
                not r.url.startswith("data:") else None)
        page.goto(url, wait_until="load")
        page.evaluate("() => window.siting.ready")
        rate = page.locator("[data-siting=rate]")
        assert rate.text_content() == rate_text(wb.result.summary.coverage_rate)
        assert page.locator("[data-siting=notes] li").count() == len(wb.result.summary.notes)
        assert page.locator("[data-siting=subdistricts] tr").count() == len(wb.state()["subdistricts"])

        timed = """async ([call, args]) => {
            const t = performance.now();
            const state = await window.siting[call](...args);
            return {ms: performance.now() - t, state: state};
        }"""
        ms: dict[str, float] = {}
        got = page.evaluate(timed, ["add", [IN_XUHUI[0], IN_XUHUI[1], {"name": XSS}]])
        ms["add"] = got["ms"]
        assert got["state"] == plain(wb.state()) and got["state"]["facilities"][-1]["name"] == XSS
        assert rate.text_content() == rate_text(wb.result.summary.coverage_rate)
        added = rate.text_content()
        got = page.evaluate(timed, ["close", ["1"]])
        ms["close"] = got["ms"]
        assert rate.text_content() == rate_text(wb.result.summary.coverage_rate) != added
        got = page.evaluate(timed, ["undo", []])
        ms["undo"] = got["ms"]
        assert rate.text_content() == added and page.evaluate("() => window.siting.state().can_redo")
        got = page.evaluate(timed, ["move", [got["state"]["facilities"][-1]["id"], 121.447, 31.201]])
        ms["move"] = got["ms"]
        assert rate.text_content() == rate_text(wb.result.summary.coverage_rate)

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
        ms["click → panel"] = 1000 * (time.perf_counter() - t)
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

        assert page.locator("img[src=x]").count() == 0 and not dialogs
        page.mouse.move(1300, 880)  # no tooltip left open
        out = repo_root / "docs" / "img" / "workbench.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()
    assert not errors, errors
    assert not foreign, foreign
    print("\nhook latency (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in ms.items()))
