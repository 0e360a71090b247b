"""The self-contained map opened offline in headless Chromium (playwright): it draws, without network."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pytest
from conftest import open_offline

from siting.outputs.maps import coverage_map, save_map

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (Debian package `chromium`)"),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
LAYERS = ["街道覆盖率 Subdistrict coverage", "15 分钟服务范围 Service area", "已覆盖居民 Covered residents",
          "路网范围外居民（不计入）Residents outside the street extract", "未覆盖居民 Uncovered residents",
          "设施：社区卫生服务中心 Facilities: centre",
          "设施：社区卫生服务站 Facilities: station", "候选点 Candidate sites", "选址方案 Chosen sites (+230 in total)"]




def _open(browser: Any, path: Path, wait: bool = True) -> tuple[Any, list[str], list[str]]:
    """Open ``path`` with every non-file:// request aborted; return (page, console errors, blocked URLs)."""
    page, errors, blocked = open_offline(browser, path, console=("error", "warning"))
    if wait:
        page.wait_for_function("document.querySelectorAll('.leaflet-overlay-pane path').length > 0", timeout=10_000)
    return page, errors, blocked


def _colours(png: bytes) -> int:
    """Number of distinct RGB colours of a PNG (PIL)."""
    image = pytest.importorskip("PIL.Image")
    with image.open(io.BytesIO(png)) as im:
        return len(im.convert("RGB").getcolors(maxcolors=1 << 24) or [])


def _drawn_colours(page: Any) -> int:
    """Colours of the map area with the HTML boxes and Leaflet controls hidden (only drawn layers count)."""
    style = page.add_style_tag(content=".siting-title,.siting-summary,.siting-legend,.leaflet-control-container"
                                       "{visibility:hidden !important}")
    try:
        return _colours(page.locator(".folium-map").screenshot())
    finally:
        style.evaluate("e => e.remove()")


def test_coverage_map_draws_offline(browser: Any, map_inputs: dict, tmp_path: Path) -> None:
    rest = {k: v for k, v in map_inputs.items() if k not in ("points", "facilities")}
    path = save_map(coverage_map(map_inputs["points"], map_inputs["facilities"], tiles=False, **rest),
                    tmp_path / "map.html")
    page, errors, blocked = _open(browser, path)
    try:
        assert page.evaluate("typeof window.L") == "object"
        assert page.evaluate("L.version") == "1.9.4"
        # polygons + circle markers as SVG paths: 2 街道 + 1 service area + 6 uncovered (the 5 covered
        # residents, the 1 outside the street extract and the 3 candidates are in layers off by default)
        n_paths = page.evaluate("document.querySelectorAll('.leaflet-overlay-pane path').length")
        assert n_paths == 2 + 1 + 6, n_paths
        assert page.evaluate("document.querySelectorAll('.leaflet-marker-pane .siting-fac').length") == 3
        assert page.evaluate("document.querySelectorAll('.leaflet-marker-pane .siting-chosen').length") == 1
        labels = page.evaluate("Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
                               ".map(e => e.textContent.trim())")
        assert labels == LAYERS
        checked = page.evaluate("Array.from(document.querySelectorAll('.leaflet-control-layers-overlays input'))"
                                ".map(e => e.checked)")
        assert checked == [True, True, False, False, True, True, True, False, True]
        # the layer panel is collapsed; hovering opens it; switching the covered layer on draws its 5 dots
        assert not page.locator(".leaflet-control-layers-overlays").is_visible()
        page.locator(".leaflet-control-layers").hover()
        page.locator(".leaflet-control-layers-overlays label", has_text="已覆盖居民").click()
        assert page.evaluate("document.querySelectorAll('.leaflet-overlay-pane path').length") == n_paths + 5
        assert "contributors (ODbL)" in page.inner_text(".leaflet-control-attribution")
        assert page.locator(".leaflet-control-scale-line").count() >= 1
        assert "55.1 %" in page.inner_text(".siting-summary")
        assert "at/above target" in page.inner_text(".siting-legend")
        png = page.locator(".folium-map").screenshot()
        (tmp_path / "map.png").write_bytes(png)
        shutil.copyfile(tmp_path / "map.png", "/tmp/siting_map_test.png")
        assert _colours(png) > 50
        assert _drawn_colours(page) > 50  # the map layers alone; a blank map has 1–3 colours
        page.locator(".siting-fac").first.click()
        assert "Residents within 15 min" in page.inner_text(".leaflet-popup-content")
        assert errors == [] and blocked == []
    finally:
        page.close()


def test_folium_popup_works_with_jquery_shim(browser: Any, tmp_path: Path) -> None:
    """folium.Popup builds its content with ``$(html)[0]``: the shim must stand in for jQuery."""
    m = folium.Map(location=[31.23, 121.47], zoom_start=14, tiles=None)
    folium.CircleMarker([31.23, 121.47], radius=8, popup=folium.Popup("<b>弹窗 popup</b>", show=True)).add_to(m)
    m.keep_in_front(folium.FeatureGroup(name="x").add_to(m))  # uses $(document).ready(...)
    page, errors, blocked = _open(browser, save_map(m, tmp_path / "popup.html"))
    try:
        assert page.evaluate("window.jQuery.siting_shim") is True
        assert page.inner_text(".leaflet-popup-content").strip() == "弹窗 popup"
        assert errors == [] and blocked == []
    finally:
        page.close()


def test_cdn_page_is_blank_offline(browser: Any, map_inputs: dict, tmp_path: Path) -> None:
    """Control: folium's own page (CDN assets) gets nothing offline, so the test above can fail."""
    m = coverage_map(map_inputs["points"], map_inputs["facilities"], tiles=False)
    page, errors, blocked = _open(browser, save_map(m, tmp_path / "cdn.html", self_contained=False), wait=False)
    try:
        assert page.evaluate("typeof window.L") == "undefined"
        assert any("leaflet" in url for url in blocked) and errors
        assert _drawn_colours(page) <= 3
    finally:
        page.close()


@pytest.mark.realdata
def test_real_xuhui_map_offline(browser: Any, main_job: tuple[Path, str]) -> None:
    """The README main job's map (real Xuhui data) in Chromium, network blocked: it loads and draws."""
    import json
    import time

    out, _ = main_job
    path = out / "map.html"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    page, errors, blocked = _open(browser, path)
    load_s = time.perf_counter() - t0
    try:
        assert page.evaluate("L.version") == "1.9.4"
        labels = page.evaluate("Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
                               ".map(e => e.textContent.trim())")
        assert "街道覆盖率 Subdistrict coverage" in labels and "未覆盖居民 Uncovered residents" in labels
        # 13 街道 polygons + service area + uncovered residents inside the extract
        uncovered = summary["n_points"] - summary["n_points_outside_network"]  # upper bound on dots drawn
        n_paths = page.evaluate("document.querySelectorAll('.leaflet-overlay-pane path').length")
        assert 13 + 1 < n_paths <= 13 + 1 + uncovered
        n_fac = page.evaluate("document.querySelectorAll('.leaflet-marker-pane .siting-fac').length")
        assert n_fac == 13  # all 13 centres drawn (3 counted, 10 hollow: off the street extract)
        text = page.inner_text(".siting-summary")
        assert f"{summary['coverage_rate'] * 100:.1f} %" in text and "90.0 %" in text
        # the title names the district, threshold, mode and date; the info box says what is covered
        assert page.title() == f"徐汇区 · 15 分钟步行可达 · {summary['date']}"
        assert page.inner_text(".siting-title").startswith("徐汇区 · 15 分钟步行可达")
        assert "street extract covers 5 of 13 街道; 3 of 13 centres counted" in text
        # opens on the analysed area (extract ∩ district), not the whole district
        w, s, e, n = summary["analysed_bounds"]
        view = page.evaluate("(() => { const m = Object.values(window).find(v => v instanceof L.Map);"
                             " const b = m.getBounds(); return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];"
                             " })()")
        assert view[0] <= w and view[1] <= s and view[2] >= e and view[3] >= n
        assert (view[2] - view[0]) < 2.5 * (e - w)  # zoomed to it (the district is far larger)
        assert not errors and not blocked, (errors, blocked)
        assert _drawn_colours(page) > 50
        page.screenshot(path="/tmp/siting_xuhui_map.png")
    finally:
        page.close()
    print(f"\n[map] {path.stat().st_size / 1e6:.2f} MB, loaded and drawn in {load_s:.2f} s, {n_paths} paths")


@pytest.mark.realdata
def test_real_site_map_gains_add_up(browser: Any, k3: tuple[Path, str]) -> None:
    """`siting site --k 3`: candidates hidden, chosen sites shown, their labels add up to the plan's total."""
    import json
    import re

    out, _ = k3
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    page, errors, blocked = _open(browser, out / "map.html")
    try:
        assert page.title().startswith("徐汇区 · 15 分钟步行可达 · 3 个新站点")
        inputs = page.evaluate("Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
                               ".map(e => [e.textContent.trim(), e.querySelector('input').checked])")
        state = dict(inputs)
        assert state["候选点 Candidate sites"] is False
        assert next(v for k, v in state.items() if k.startswith("选址方案 Chosen sites")) is True
        labels = page.evaluate("Array.from(document.querySelectorAll('.siting-chosen .siting-gain'))"
                               ".map(e => e.textContent)")
        assert [lab.split()[0] for lab in labels] == ["#1", "#2", "#3"]
        gains = [int(re.sub(r"[^0-9]", "", lab.split("+")[1])) for lab in labels]
        added = s["covered_after"] - s["covered_before"]
        assert abs(sum(gains) - added) <= len(gains)  # each label rounded to a whole resident
        assert gains[0] >= gains[1] >= gains[2] > 0
        # the solo gains (what labels showed before) overstate the plan: they are only in the popup
        chosen = gpd.read_file(out / "chosen.gpkg")
        assert chosen["gain"].sum() > added + 1000
        page.locator(".siting-chosen").nth(1).click()
        popup = page.inner_text(".leaflet-popup-content")
        assert "gain on its own (not additive)" in popup and f"{chosen['gain'][1]:,.0f}" in popup
        # `siting site` maps carry OSM tiles: those (blocked here) are the only requests and errors
        assert all(url.startswith("https://tile.openstreetmap.org/") for url in blocked)
        assert all(e.startswith("Failed to load resource") for e in errors), errors
    finally:
        page.close()
