"""Every kind of map siting writes, opened in headless Chromium: no console error, a layer control, the
initial view on the analysed area (coverage, site, compare, access on the real sample; issue 22)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SAMPLE, expected_warnings, open_offline
from test_compare import real_file

from siting.cli.commands import app
from siting.outputs._maplayers import PARTIAL_STYLE

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
pytestmark = [pytest.mark.browser, pytest.mark.realdata,
              pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (Debian package `chromium`)")]
#: The Leaflet map's view, found among the page's globals (folium names it map_<hex>).
VIEW_JS = """() => {
  const m = Object.values(window).find(v => v instanceof L.Map);
  const b = m.getBounds();
  return {west: b.getWest(), south: b.getSouth(), east: b.getEast(), north: b.getNorth(),
          overlays: document.querySelectorAll('.leaflet-control-layers-overlays label, '
                                              + '.leaflet-control-layers-base label').length,
          paths: document.querySelectorAll('.leaflet-overlay-pane path').length};
}"""




def _run(args: list[str]) -> None:
    with expected_warnings(*SAMPLE):
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def access_out(site_args: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("access") / "xuhui"
    _run(["access", *site_args[1:], "--no-tiles", "--no-report", "--out", str(out)])
    return out


@pytest.fixture(scope="module")
def compare_out(repo_root: Path, shanghai: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("compare")
    path = real_file(repo_root, shanghai, folder, ["close_hunan", "elderly"])
    out = folder / "cmp"
    _run(["compare", str(path), "--out", str(out), "--cache-dir", str(folder / "cache"), "--no-tiles", "--no-report"])
    return out


#: What Chromium logs for a request the test aborts (the OSM tiles of a map written with tiles; offline here).
ABORTED = "Failed to load resource: net::ERR_FAILED"


def _open(browser: Any, path: Path) -> tuple[dict[str, Any], list[str]]:
    """Open ``path`` offline; return its view and control facts and every console error / page error.

    Requests other than file:// are aborted; only OpenStreetMap tile requests may be (their errors ignored).
    """
    page, errors, blocked = open_offline(browser, path, ignore=(ABORTED,), timeout=20_000)
    page.wait_for_timeout(300)
    facts = page.evaluate(VIEW_JS) if not errors else {}
    page.close()
    errors += [f"requested {url}" for url in blocked if not url.startswith("https://tile.openstreetmap.org/")]
    return facts, errors


def _check(browser: Any, folder: Path, bounds: list[float], *, layers: int) -> dict[str, Any]:
    facts, errors = _open(browser, folder / "map.html")
    assert errors == []
    assert facts["overlays"] >= layers and facts["paths"] > 0
    west, south, east, north = bounds
    cx, cy = (facts["west"] + facts["east"]) / 2, (facts["south"] + facts["north"]) / 2
    assert west <= cx <= east and south <= cy <= north  # centred on the analysed area
    assert facts["west"] <= west + 1e-6 and facts["east"] >= east - 1e-6  # all of it in view ...
    assert facts["south"] <= south + 1e-6 and facts["north"] >= north - 1e-6
    assert (facts["east"] - facts["west"]) < 3 * (east - west) + 0.01  # ... and not the whole district or city
    return facts


def test_coverage_map(browser: Any, main_job: tuple[Path, str]) -> None:
    out, _ = main_job
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    _check(browser, out, summary["analysed_bounds"], layers=5)
    page = (out / "map.html").read_text(encoding="utf-8")
    assert f'"dashArray": "{PARTIAL_STYLE["dashArray"]}"' in page  # 徐家汇 / 枫林路 partly analysed
    assert json.dumps("0.0 % · 部分分析 partial: 14 % analysed")[1:-1] in page  # 徐家汇's tooltip (JSON-escaped)
    assert "部分分析 partly analysed" in page  # and the legend


def test_site_map(browser: Any, k3: tuple[Path, str]) -> None:
    out, _ = k3
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    _check(browser, out, summary["analysed_bounds"], layers=6)


def test_access_map(browser: Any, access_out: Path, main_job: tuple[Path, str]) -> None:
    """The supply layer is added before the layer control (was: "reading 'setZIndex'" and no control)."""
    summary = json.loads((main_job[0] / "summary.json").read_text(encoding="utf-8"))
    _check(browser, access_out, summary["analysed_bounds"], layers=6)
    assert "GP access index per 10,000" in (access_out / "map.html").read_text(encoding="utf-8")


def test_compare_map(browser: Any, compare_out: Path, main_job: tuple[Path, str]) -> None:
    summary = json.loads((main_job[0] / "summary.json").read_text(encoding="utf-8"))
    _check(browser, compare_out, summary["analysed_bounds"], layers=3)
