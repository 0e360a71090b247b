"""Maps shown inline in a notebook (``res.explore()``) carry the inlined Leaflet of map.html: they draw offline."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest

import siting
from siting.outputs._assets import SELF_CONTAINED_META

TEST_DATA = Path(__file__).parent / "data"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
EXTERNAL = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE)


@pytest.fixture(scope="module")
def result() -> siting.CoverageResult:
    net = siting.Network.from_osm(TEST_DATA / "walk_tiny.osm", cache=False)
    fac = gpd.GeoDataFrame({"name": ["测试中心"], "type": ["center"]}, geometry=gpd.points_from_xy([121.4005], [31.2]),
                           crs="EPSG:4326")
    pop = gpd.GeoDataFrame({"population": [100.0, 50.0], "subdistrict": ["甲街道", "乙街道"]},
                           geometry=gpd.points_from_xy([121.4025, 121.4001], [31.2001, 31.2015]), crs="EPSG:4326")
    return siting.compute_coverage(net, fac, pop, siting.Settings(minutes=5), target=0.9)


def _framed_page(cell_html: str) -> str:
    """The page inside the cell's ``<iframe srcdoc>``."""
    found = re.search(r'<iframe srcdoc="([^"]*)"', cell_html)
    assert found, cell_html[:300]
    return html.unescape(found.group(1))


@pytest.mark.parametrize("tiles", [True, False])
def test_explore_displays_the_self_contained_page(result: siting.CoverageResult, tiles: bool) -> None:
    cell = result.explore(tiles=tiles)._repr_html_()
    page = _framed_page(cell)
    assert not EXTERNAL.search(cell) and not EXTERNAL.search(page), EXTERNAL.findall(page)
    assert f'name="{SELF_CONTAINED_META}"' in page and "L.map(" in page
    assert "<script>" in page and "leafletjs.com" in page  # Leaflet itself, inlined


def test_plain_folium_display_would_load_cdns() -> None:
    """What the test above guards against: folium's own notebook display loads Leaflet from a CDN."""
    import folium

    assert EXTERNAL.search(_framed_page(folium.Map(tiles=None)._repr_html_()))


def test_detached_map_displays_and_stays_detached(result: siting.CoverageResult) -> None:
    m = result.explore(tiles=False)
    m._parent = None  # as after folium's own detached display
    assert not EXTERNAL.search(_framed_page(m._repr_html_()))
    assert m._parent is None




@pytest.mark.browser
def test_explore_cell_draws_with_the_network_blocked(browser: Any, result: siting.CoverageResult) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    errors: list[str] = []
    blocked: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

    def route(r: Any) -> None:
        blocked.append(r.request.url)
        r.abort()

    page.route("**/*", route)
    cell = result.explore(tiles=False)._repr_html_()
    page.set_content(f"<!DOCTYPE html><html><body><div style='width:900px'>{cell}</div></body></html>",
                     wait_until="load", timeout=15_000)
    frame = next(f for f in page.frames if f is not page.main_frame)
    frame.wait_for_function("document.querySelectorAll('.leaflet-overlay-pane path').length > 0", timeout=10_000)
    assert frame.evaluate('typeof L !== "undefined"')
    assert frame.evaluate("document.querySelectorAll('.leaflet-control-layers').length") == 1
    page.close()
    assert not errors, errors
    assert not [u for u in blocked if u.startswith(("http://", "https://"))], blocked
