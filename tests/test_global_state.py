"""No global state changed: matplotlib's rcParams and osmnx's settings are the same before and after every
public call that draws or downloads (they are set inside context managers only)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import matplotlib
import pandas as pd
import pytest
from conftest import TEST_DATA
from osm_standin import StandIn

import siting
from siting.io.facilities import facilities_from_place
from siting.outputs import figures, report

PLACE = "测试区, 上海市"


def state() -> tuple[dict[str, str], dict[str, str]]:
    """rcParams and osmnx's settings (every public, non-callable one), as text."""
    import osmnx as ox

    rc = {k: repr(v) for k, v in matplotlib.rcParams.items()}
    names = [n for n in dir(ox.settings) if not n.startswith("_") and not callable(getattr(ox.settings, n))]
    return rc, {n: repr(getattr(ox.settings, n)) for n in names}


def unchanged(call: Callable[[], Any]) -> Any:
    before = state()
    with warnings.catch_warnings(record=True):  # the calls' own warnings are other tests' business
        out = call()
    after = state()
    assert after[0] == before[0], {k: (before[0][k], after[0][k]) for k in before[0] if before[0][k] != after[0][k]}
    assert after[1] == before[1], {k: (before[1][k], after[1][k]) for k in before[1] if before[1][k] != after[1][k]}
    return out


@pytest.fixture(scope="module")
def tiny_result() -> siting.CoverageResult:
    net = siting.Network.from_osm(TEST_DATA / "walk_tiny.osm", cache=False)
    fac = gpd.GeoDataFrame({"name": ["测试中心"], "type": ["center"]}, geometry=gpd.points_from_xy([121.4005], [31.2]),
                           crs="EPSG:4326")
    pop = gpd.GeoDataFrame({"population": [100.0, 50.0], "subdistrict": ["甲街道", "乙街道"]},
                           geometry=gpd.points_from_xy([121.4025, 121.4001], [31.2001, 31.2015]), crs="EPSG:4326")
    return siting.compute_coverage(net, fac, pop, siting.Settings(minutes=5), target=0.9)


def test_figures_leave_rcparams_alone(map_inputs, tmp_path):
    table = pd.DataFrame(map_inputs["subdistricts"].drop(columns="geometry"))
    fig = unchanged(lambda: figures.subdistrict_figure(table, 0.9))
    unchanged(lambda: figures.save_figure(fig, tmp_path / "a.png"))
    unchanged(lambda: fig._repr_png_())
    unchanged(lambda: figures.walk_time_figure(map_inputs["points"], 15.0, target=0.9))
    unchanged(lambda: figures.map_figure(map_inputs["points"], map_inputs["facilities"],
                                         subdistricts=map_inputs["subdistricts"], summary=map_inputs["summary"]))
    summary = {**map_inputs["summary"], "districts": ["黄浦区"], "n_facilities": 3}
    (tmp_path / "figs").mkdir()
    unchanged(lambda: figures.write_figures(tmp_path / "figs", map_inputs["points"], map_inputs["facilities"],
                                            summary=summary, table=table, subdistricts=map_inputs["subdistricts"]))


def test_results_reports_and_maps_leave_rcparams_alone(tiny_result, tmp_path):
    unchanged(lambda: report.write_coverage(tiny_result, tmp_path / "out"))
    assert (tmp_path / "out" / "report.html").is_file()
    unchanged(lambda: tiny_result.explore())
    unchanged(lambda: tiny_result._repr_html_())


def test_downloads_leave_osmnx_settings_alone(tmp_path, test_data, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with StandIn(test_data / "walk_tiny.osm", PLACE) as server:
        monkeypatch.setenv("SITING_OVERPASS_URL", server.overpass_url)
        monkeypatch.setenv("SITING_NOMINATIM_URL", server.nominatim_url)
        net = unchanged(lambda: siting.Network.from_place(PLACE, "walk", cache_dir=tmp_path))
        assert net.n_nodes > 0
        unchanged(lambda: siting.Network.from_place(PLACE, "bike", cache_dir=tmp_path))
        w, s, e, n = net.edges(to_wgs84=True).total_bounds
        unchanged(lambda: siting.Network.from_bbox((w, s, e, n), "walk", cache_dir=tmp_path))
        unchanged(lambda: facilities_from_place(PLACE, cache_dir=tmp_path))
