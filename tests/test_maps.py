"""Tests of siting.outputs.maps (no browser): layers, legend, summary, offline HTML, results-folder round trip."""

from __future__ import annotations

import json
import re
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from siting.errors import ColumnError, CRSError, InputFileError, OutputError
from siting.outputs import _maplayers as ml
from siting.outputs._assets import SELF_CONTAINED_META, inline_assets, load_leaflet
from siting.outputs.maps import coverage_map, render_results_dir, save_map

LAYER_NAMES = ["街道覆盖率 Subdistrict coverage", "15 分钟服务范围 Service area", "已覆盖居民 Covered residents",
               "未覆盖居民 Uncovered residents", "设施：社区卫生服务中心 Facilities: centre",
               "设施：社区卫生服务站 Facilities: station", "候选点 Candidate sites",
               "选址方案 Chosen sites (+230 in total)"]
EXTERNAL = re.compile(r"<script[^>]*\ssrc=[\"']?(https?:)?//|<link[^>]*\shref=[\"']?(https?:)?//", re.IGNORECASE)


def _map(inp: dict, **kw: object) -> folium.Map:
    rest = {k: v for k, v in inp.items() if k not in ("points", "facilities")}
    return coverage_map(inp["points"], inp["facilities"], **{**rest, "tiles": False, **kw})


def test_layers_legend_summary_attribution(map_inputs: dict) -> None:
    page = _map(map_inputs).get_root().render()
    for name in LAYER_NAMES:
        assert json.dumps(name) in page, name  # layer-control keys are JSON strings
    # legend: the colour break is the target, both sides of it are listed
    assert "break 分界 = target 90.0 %" in page
    assert "达标 at/above target" in page and "低于目标 &gt;20 pp below target" in page
    # summary numbers: 540 of 980 residents = 55.1 %, target 90 %, gap 34.9 pp / 342 residents
    assert "55.1 % (540 / 980 居民 residents)" in page
    assert "<b>目标 Target</b>: 90.0 %" in page
    assert "34.9 pp · 342 居民 residents" in page
    assert "步行 walk · 4 km/h · 15 min" in page
    assert "OpenStreetMap" in page and "contributors (ODbL)" in page
    assert "L.control.scale()" in page
    # title and <title>: area (unknown here), threshold, mode, date; English line below
    assert re.search(r"<title>研究区 · 15 分钟步行可达 · \d{4}-\d\d-\d\d</title>", page)
    assert "15-minute walking access to community health facilities" in page
    assert '"collapsed": true' in page  # the layer panel opens on hover/tap
    assert "tile.openstreetmap.org" not in page  # tiles=False: no basemap at all


def test_choropleth_colours_follow_target(map_inputs: dict) -> None:
    page = _map(map_inputs).get_root().render()
    # 南京东路 at 100 % (target 90 %) -> green; 外滩 at 0 % (90 pp below) -> dark red
    green, red = ml.TARGET_CLASSES[-1][2], ml.TARGET_CLASSES[0][2]
    assert page.count(f'"fillColor": "{green}"') == 1
    assert page.count(f'"fillColor": "{red}"') == 1
    assert ml.fill(0.85, 0.9) == ml.TARGET_CLASSES[2][2]
    assert ml.fill(0.75, 0.9) == ml.TARGET_CLASSES[1][2]
    assert ml.fill(0.999, 1.0) != ml.fill(1.0, 1.0) == green
    assert ml.fill(float("nan"), 0.9) == ml.NO_DATA
    assert ml.fill(0.6, None) == ml.ABSOLUTE_CLASSES[1][2]


def test_locations_wording_and_default_summary(map_inputs: dict) -> None:
    summary = {**map_inputs["summary"], "unit": "locations", "gap_residents": 3,
               "population_total": 12, "population_covered": 5, "coverage_rate": 5 / 12}
    page = _map(map_inputs, summary=summary).get_root().render()
    assert "地点占比 share of locations</b>: 41.7 % (5 / 12 地点 locations)" in page
    assert "· 3 地点 locations" in page
    assert "share of residents" not in page
    # without a summary the rate comes from the points (540 / 980) and no target line is drawn
    page = coverage_map(map_inputs["points"], map_inputs["facilities"], tiles=False).get_root().render()
    assert "55.1 % (540 / 980 居民 residents)" in page and "目标 Target" not in page


def test_tiles_are_osm_when_asked(map_inputs: dict) -> None:
    page = _map(map_inputs, tiles=True).get_root().render()
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in page
    assert json.dumps("OpenStreetMap 底图") in page


def test_self_contained_has_no_external_assets(map_inputs: dict, tmp_path: Path) -> None:
    m = _map(map_inputs)
    cdn = save_map(m, tmp_path / "cdn.html", self_contained=False).read_text(encoding="utf-8")
    assert EXTERNAL.search(cdn), "folium's own page should load CDN assets (else this test proves nothing)"
    out = save_map(m, tmp_path / "sub" / "map.html")
    page = out.read_text(encoding="utf-8")
    assert EXTERNAL.search(page) is None
    assert not re.search(r"<script[^>]*\ssrc=", page) and not re.search(r"<link[^>]*stylesheet", page)
    assert f'<meta name="{SELF_CONTAINED_META}" content="leaflet 1.9.4' in page
    leaflet = load_leaflet()
    assert leaflet.version == "1.9.4" and leaflet.js[-2000:].strip()[-50:] in page
    assert "leaflet-control-layers-toggle" in page and "data:image/png;base64," in page  # CSS images inlined
    assert "window.jQuery = window.$ = shim" in page
    assert "bootstrap" not in page.lower() and "awesome-markers" not in page
    size = out.stat().st_size
    assert 150_000 < size < 400_000, size  # Leaflet (~147 kB JS + 14 kB CSS) + the small data set
    assert [p.name for p in out.parent.iterdir()] == ["map.html"]  # no temp file left


def test_coordinates_rounded_and_polygons_simplified(map_inputs: dict) -> None:
    page = _map(map_inputs).get_root().render()
    assert re.findall(r"[\[ ]1[23]\d\.\d{7,}", page) == []
    assert re.findall(r"1[23]\d\.\d{6}, 3\d\.\d{1,6}\]", page)
    # a 1,000-vertex circle of 300 m radius (~1.9 m per edge) loses most vertices at 5 m tolerance
    area = map_inputs["service_area"]
    utm = area.estimate_utm_crs()
    centre = area.to_crs(utm).geometry.iloc[0].centroid
    circle = gpd.GeoDataFrame(geometry=[Point(centre.x, centre.y).buffer(300, quad_segs=250)], crs=utm).to_crs(4326)
    (geom,) = ml.geometry(circle, 5.0)
    n_in, n_out = len(circle.geometry.iloc[0].exterior.coords), len(geom.exterior.coords)
    assert n_in == 1001 and n_out < 60, n_out
    assert abs(gpd.GeoSeries([geom], crs=4326).to_crs(utm).area.iloc[0] / circle.to_crs(utm).area.iloc[0] - 1) < 0.01


def test_many_points_are_gridded(map_inputs: dict) -> None:
    rng = np.random.default_rng(1)
    n = 3000
    pts = gpd.GeoDataFrame(
        {"population": rng.integers(1, 50, n).astype(float), "walk_min": np.inf, "covered": False,
         "status": "ok", "subdistrict": "外滩街道"},
        geometry=gpd.points_from_xy(121.475 + rng.random(n) * 0.02, 31.22 + rng.random(n) * 0.02), crs=4326)
    cells = ml.grid(pts, 200.0)
    assert len(cells) < 200 and cells["population"].sum() == pytest.approx(pts["population"].sum())
    assert cells["n"].sum() == n
    page = coverage_map(pts, map_inputs["facilities"], tiles=False, max_points=1000).get_root().render()
    assert json.dumps("未覆盖居民 Uncovered residents (200 m grid 网格)") in page
    assert page.count('"type": "Point"') == len(cells) + 3  # cells + 3 facilities


def test_bad_inputs_raise_project_errors(map_inputs: dict, tmp_path: Path) -> None:
    with pytest.raises(ColumnError, match="points: missing column.*walk_min"):
        coverage_map(map_inputs["points"].drop(columns="walk_min"), map_inputs["facilities"])
    with pytest.raises(CRSError, match="facilities"):
        coverage_map(map_inputs["points"], map_inputs["facilities"].set_crs(None, allow_override=True))
    # a projected input is reprojected, not rejected
    page = coverage_map(map_inputs["points"].to_crs(32651), map_inputs["facilities"], tiles=False).get_root().render()
    assert "121.46, 31.225]" in page
    m = folium.Map(tiles=None)
    folium.Marker([31.2, 121.4], icon=folium.Icon(color="red")).add_to(m)
    with pytest.raises(OutputError, match="awesome-markers"):
        save_map(m, tmp_path / "icon.html")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutputError, match="https://example.com/plugin.js"):
        inline_assets('<html><head><script src="https://example.com/plugin.js"></script></head></html>')


def _write_results(inp: dict, folder: Path) -> None:
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps(inp["summary"]), encoding="utf-8")
    for name in ("points", "facilities", "subdistricts", "service_area", "candidates", "chosen"):
        inp[name].to_file(folder / f"{name}.gpkg", driver="GPKG")


def test_render_results_dir_round_trip(map_inputs: dict, tmp_path: Path) -> None:
    folder = tmp_path / "results"
    _write_results(map_inputs, folder)
    back = gpd.read_file(folder / "points.gpkg")
    assert np.isinf(back["walk_min"]).sum() == 2 and back["covered"].dtype == bool
    out = render_results_dir(folder)
    assert out == folder / "map.html"
    page = out.read_text(encoding="utf-8")
    assert EXTERNAL.search(page) is None and SELF_CONTAINED_META in page
    for name in LAYER_NAMES:
        assert json.dumps(name) in page
    assert "<title>研究区 · 15 分钟步行可达" in page and "55.1 % (540 / 980" in page
    assert json.dumps("南京东路社区卫生服务中心")[1:-1] in page  # facility names (JSON-escaped in the data)
    # optional layers are optional
    for name in ("service_area", "candidates", "chosen"):
        (folder / f"{name}.gpkg").unlink()
    page = render_results_dir(folder, tmp_path / "other.html").read_text(encoding="utf-8")
    assert json.dumps("候选点 Candidate sites") not in page
    assert json.dumps("街道覆盖率 Subdistrict coverage") in page


@pytest.mark.parametrize("missing", ["summary.json", "points.gpkg", "facilities.gpkg", "subdistricts.gpkg"])
def test_render_results_dir_names_missing_file(map_inputs: dict, tmp_path: Path, missing: str) -> None:
    folder = tmp_path / "results"
    _write_results(map_inputs, folder)
    (folder / missing).unlink()
    with pytest.raises(InputFileError, match=re.escape(missing)):
        render_results_dir(folder)
    assert not (folder / "map.html").exists()


@pytest.mark.realdata
def test_real_subdistricts_map_size(shanghai: Path, tmp_path: Path) -> None:
    """All 113 real 街道 of 8 districts + 12,277 real 小区 points stay under 5 MB."""
    from siting.io.coords import bd09_to_wgs84

    subs = gpd.read_file(shanghai / "boundaries" / "shanghai_subdistricts_osm_8districts.geojson")
    subs = subs.assign(subdistrict=subs["osm_name"], population=1000.0, covered=800.0,
                       coverage_rate=np.linspace(0.3, 1.0, len(subs)), target=0.9, gap_residents=100.0)
    raw = pd.read_json(shanghai / "population" / "lianjia_xiaoqu_shanghai_2018_bd09.json")
    lon, lat = bd09_to_wgs84(raw["lng"].to_numpy(), raw["lat"].to_numpy())
    covered = np.arange(len(raw)) % 5 < 3
    pts = gpd.GeoDataFrame({"population": 500.0, "walk_min": np.where(covered, 5.0, 30.0), "covered": covered,
                            "status": "ok", "subdistrict": raw["subdistrict"]},
                           geometry=gpd.points_from_xy(lon, lat), crs=4326)
    fac = gpd.GeoDataFrame({"facility_id": range(50), "name": "centre", "type": "center", "source": "test"},
                           geometry=pts.geometry.iloc[::250].to_numpy(), crs=4326)
    out = save_map(coverage_map(pts, fac, subdistricts=subs, tiles=False), tmp_path / "map.html")
    assert len(pts) == 12_277
    assert out.stat().st_size < 5_000_000
    page = out.read_text(encoding="utf-8")
    assert page.count('"Feature"') > 113 and EXTERNAL.search(page) is None
