"""Every map siting writes, built from names that carry script, opened in Chromium: no script runs, names show as text.

The inputs (tests/untrusted_inputs.py) put ``<img src=x onerror=...>`` and ``<script>`` into facility names,
街道 and district names, OSM street names (they reach the candidate labels of ``siting site``), scenario
names and names of facilities added by a scenario. Each map of ``coverage``, ``site``, ``access``,
``compare`` and ``batch`` (and report.html) is opened; every layer is put on the map and every tooltip
and popup opened through Leaflet's API; ``window.__pwned`` must stay undefined and the names must be in
the page as text. A control page with folium's own, unescaped tooltip shows the harness does catch a run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import folium
import pytest
from click.testing import CliRunner
from untrusted_inputs import IMG, SCRIPT, write_inputs

from siting.cli.commands import app

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (Debian package `chromium`)"),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

#: Puts every Leaflet layer the page defines on its map, then hovers and clicks every feature the way Leaflet
#: does (the events bubble to the GeoJSON layer that holds the feature's tooltip or popup); returns the text of
#: every tooltip and popup that opened and how many did.
FIRE = """async () => {
  const values = Object.keys(window).map(k => { try { return window[k]; } catch (e) { return null; } });
  const maps = values.filter(v => v instanceof L.Map);
  const layers = values.filter(v => v instanceof L.Layer && !(v instanceof L.Map) && !(v instanceof L.DivOverlay));
  const texts = []; let opened = 0;
  const grab = () => {
    const shown = document.querySelectorAll('.leaflet-tooltip, .leaflet-popup-content');
    shown.forEach(el => texts.push(el.textContent)); opened += shown.length;
  };
  for (const m of maps) {
    for (const layer of layers) {
      const placed = !layer.getLatLng || layer.getLatLng();  // folium keeps marker templates without a place
      if (placed && !m.hasLayer(layer)) { m.addLayer(layer); }
    }
    const leaves = [];
    m.eachLayer(l => { if (!(l instanceof L.LayerGroup) && (l.getLatLng || l.getBounds)) leaves.push(l); });
    for (const l of leaves) {
      const latlng = l.getLatLng ? l.getLatLng() : l.getBounds().getCenter();
      l.fire('mouseover', {latlng}, true); grab(); l.fire('mouseout', {latlng}, true);
      l.fire('click', {latlng, originalEvent: {}}, true); grab(); m.closePopup();
    }
  }
  texts.push(...[...document.querySelectorAll('.leaflet-control-layers')].map(el => el.textContent));
  await new Promise(r => setTimeout(r, 400));  // an <img onerror> fires after its failed load
  return {texts, opened};
}"""




@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run coverage, site, access, compare and batch on the hostile inputs; return each map (and report.html)."""
    root = tmp_path_factory.mktemp("hostile")
    paths = write_inputs(root)
    common = ["--osm", str(paths["osm"]), "--facilities", str(paths["fac"]), "--population", str(paths["pop"]),
              "--boundaries", str(paths["bounds"]), "--no-tiles", "--cache-dir", str(root / "cache"), "-q"]
    runner = CliRunner()
    runs = {"coverage": ["coverage", *common],
            "site": ["site", *common, "--k", "2", "--everywhere", "--min-distance-m", "0", "--spacing-m", "50"],
            "access": ["access", *common],
            "compare": ["compare", str(paths["scenarios"]), "--no-tiles", "-q", "--cache-dir", str(root / "cache")],
            "batch": ["batch", str(paths["jobs"]), "--workers", "1", "--quiet"]}
    for name, args in runs.items():
        result = runner.invoke(app, [*args, "--out", str(root / name)])
        assert result.exit_code == 0, (name, result.output)
    maps = {name: root / name / "map.html" for name in ("coverage", "site", "access", "compare")}
    maps["report"] = root / "coverage" / "report.html"
    maps["site report"] = root / "site" / "report.html"
    maps["compare scenario"] = next((root / "compare").glob("img*/map.html"))
    batch_maps = sorted((root / "batch" / "hostile").glob("*/map.html"))
    assert [p.parent.name for p in batch_maps] == ["X", "script_window.__pwned=1_script"]
    maps |= {f"batch {p.parent.name}": p for p in batch_maps}
    return maps


def _fire(browser: Any, path: Path) -> tuple[dict, Any, list[str]]:
    """Open ``path`` (only file:// requests allowed), fire every tooltip and popup; return (texts, page, errors)."""
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort())
    page.goto(path.as_uri(), wait_until="load", timeout=15_000)
    fired = page.evaluate(FIRE) if page.evaluate("typeof L !== 'undefined'") else {"texts": [], "opened": 0}
    return fired, page, errors


MAPS = ["coverage", "site", "access", "compare", "compare scenario", "batch X",
        "batch script_window.__pwned=1_script", "report", "site report"]


@pytest.mark.parametrize("name", MAPS)
def test_no_script_runs_and_names_show_as_text(browser: Any, outputs: dict[str, Path], name: str) -> None:
    fired, page, errors = _fire(browser, outputs[name])
    try:
        assert page.evaluate("typeof window.__pwned") == "undefined", f"{name}: a name ran as script"
        assert page.evaluate("document.querySelectorAll('img[src=\"x\"], script:not([src])').length") == \
            len(page.query_selector_all("script:not([src])")), "an <img src=x> from a name became an element"
        body = page.evaluate("document.body.innerText") + "\n".join(fired["texts"])
        if name.startswith(("report", "site report")):
            assert IMG in body, f"{name}: the 街道 name is not shown as text"
        else:
            assert fired["opened"] > 0, f"{name}: no tooltip or popup was opened"
            assert IMG in body, f"{name}: the names are not shown as text in tooltips/popups/labels"
        if name in ("coverage", "access", "compare", "report") or name.startswith("batch script"):
            assert SCRIPT in body, f"{name}: the district name is not shown as text"
        assert not [e for e in errors if "__pwned" in e], errors
    finally:
        page.close()


def test_the_harness_catches_a_name_that_runs(browser: Any, tmp_path: Path) -> None:
    """Control: folium's own GeoJsonTooltip with a raw name runs it (what the maps did before escaping)."""
    m = folium.Map(tiles=None)
    data = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": IMG},
                                                       "geometry": {"type": "Point", "coordinates": [121.4, 31.2]}}]}
    folium.GeoJson(json.loads(json.dumps(data)), tooltip=folium.GeoJsonTooltip(["name"])).add_to(m)
    path = tmp_path / "raw.html"
    m.save(path)
    inline = path.read_text(encoding="utf-8")
    from siting.outputs._assets import inline_assets

    path.write_text(inline_assets(inline), encoding="utf-8")
    fired, page, _ = _fire(browser, path)
    try:
        assert fired["opened"] >= 1
        assert page.evaluate("window.__pwned") == 1
    finally:
        page.close()
