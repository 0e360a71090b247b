"""Basemaps: ``--tiles osm|amap|tianditu|none``; on GCJ-02 tiles the page's layers are shifted, the files are not."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner
from test_batch import grid_osm

from siting.cli.commands import app
from siting.errors import BasemapError
from siting.io.coords import from_wgs84
from siting.outputs import maps
from siting.outputs._basemaps import BASEMAPS, ENV_KEY, basemap

runner = CliRunner()
GEOJSON_CALL = re.compile(r"(geo_json_[0-9a-f]+)_add\((\{.*?\})\);\n", re.S)
TILE_LAYER = re.compile(r'L\.tileLayer\(\s*("(?:[^"\\]|\\.)*"),\s*(\{.*?\})\s*\)', re.S)


def tile_layers(html: str) -> list[tuple[str, dict]]:
    """The page's tile layers: (URL template, options), as the browser reads them."""
    return [(json.loads(url), json.loads(re.sub(r",\s*\}$", "}", options)))  # folium ends with a comma
            for url, options in TILE_LAYER.findall(html)]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiles")
    grid_osm(root / "a.osm", 8, 8)
    (root / "fac.csv").write_text("name,type,lon,lat\n甲中心,center,121.4035,31.1042\n", encoding="utf-8")
    rng = np.random.default_rng(5)
    rows = [f"{x:.5f},{y:.5f},{p}" for x, y, p in zip(rng.uniform(121.4005, 121.4135, 30),
                                                      rng.uniform(31.1005, 31.1135, 30), rng.integers(50, 900, 30),
                                                      strict=True)]
    (root / "pop.csv").write_text("lon,lat,population\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return root


def run(small, out, *extra, env=None):
    result = runner.invoke(app, ["coverage", "--osm", str(small / "a.osm"), "--facilities", str(small / "fac.csv"),
                                 "--population", str(small / "pop.csv"), "--out", str(out), "--no-report", "-q",
                                 "--cache-dir", str(small / "cache"), *extra], env=env)
    return result


def flat_positions(node, out: list) -> list:
    """Every [lon, lat] under the ``coordinates`` keys of a GeoJSON dict."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "coordinates":
                stack = [value]
                while stack:
                    c = stack.pop()
                    if c and isinstance(c[0], int | float):
                        out.append(c[:2])
                    else:
                        stack.extend(reversed(c))
            else:
                flat_positions(value, out)
    elif isinstance(node, list):
        for value in node:
            flat_positions(value, out)
    return out


def positions(html: str) -> dict[str, np.ndarray]:
    """Every GeoJSON layer of a saved map (by order of appearance): its positions as an (n, 2) lon/lat array."""
    return {str(i): np.asarray(flat_positions(json.loads(data), []), float).reshape(-1, 2)
            for i, (_, data) in enumerate(GEOJSON_CALL.findall(html))}


def test_amap_shifts_the_page_only(small, tmp_path):
    plain, amap = run(small, tmp_path / "none", "--tiles", "none"), run(small, tmp_path / "amap", "--tiles", "amap")
    assert plain.exit_code == 0, plain.output
    assert amap.exit_code == 0, amap.output
    for gpkg in sorted(p.name for p in (tmp_path / "none").glob("*.gpkg")):  # the exports are the same WGS84 files
        a, b = gpd.read_file(tmp_path / "none" / gpkg), gpd.read_file(tmp_path / "amap" / gpkg)
        assert a.crs.to_epsg() == b.crs.to_epsg() == 4326
        assert a.drop(columns="geometry").equals(b.drop(columns="geometry")), gpkg
        assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all(), gpkg
    assert {p.name for p in (tmp_path / "none").glob("*.gpkg")} >= {"points.gpkg", "facilities.gpkg"}
    html = {n: (tmp_path / n / "map.html").read_text(encoding="utf-8") for n in ("none", "amap")}
    wgs, gcj = positions(html["none"]), positions(html["amap"])
    assert wgs.keys() == gcj.keys() and sum(len(v) for v in wgs.values()) > 30
    for key, xy in wgs.items():
        lon, lat = from_wgs84(xy[:, 0], xy[:, 1], "gcj02")
        assert np.allclose(gcj[key], np.column_stack([lon, lat]), atol=1.5e-6), key  # both rounded to 6 decimals
        assert np.abs(gcj[key] - xy).max() > 1e-3  # ~500 m: really shifted
    (url, options), = tile_layers(html["amap"])
    assert url == BASEMAPS["amap"].urls[0] and "webrd0{s}.is.autonavi.com/appmaptile" in url
    assert options["attribution"] == BASEMAPS["amap"].attribution and "高德地图 AutoNavi" in options["attribution"]
    assert "layers shifted to GCJ-02" in options["attribution"] and options["subdomains"] == "1234"
    assert tile_layers(html["none"]) == []
    assert "OpenStreetMap" in html["amap"]  # the data's own credit stays
    bounds = re.search(r"\.fitBounds\(\s*(\[\[.*?\]\])", html["amap"], re.S)
    plain_bounds = re.search(r"\.fitBounds\(\s*(\[\[.*?\]\])", html["none"], re.S)
    assert bounds and plain_bounds
    (s, w), (n, e) = json.loads(plain_bounds[1])
    lon, lat = from_wgs84(np.array([w, e]), np.array([s, n]), "gcj02")
    assert np.allclose(json.loads(bounds[1]), [[lat[0], lon[0]], [lat[1], lon[1]]], atol=1.5e-6)


def test_osm_default_no_tiles_alias_and_tianditu(small, tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_KEY, raising=False)
    osm = run(small, tmp_path / "osm")
    assert osm.exit_code == 0, osm.output
    (url, options), = tile_layers((tmp_path / "osm" / "map.html").read_text(encoding="utf-8"))
    assert url == "https://tile.openstreetmap.org/{z}/{x}/{y}.png" and "OpenStreetMap" in options["attribution"]
    alias = run(small, tmp_path / "alias", "--no-tiles")
    assert alias.exit_code == 0 and tile_layers((tmp_path / "alias" / "map.html").read_text(encoding="utf-8")) == []
    refused = run(small, tmp_path / "tdt", "--tiles", "tianditu")
    assert refused.exit_code == 2 and "--tianditu-key" in refused.output and ENV_KEY in refused.output
    assert not (tmp_path / "tdt").exists()  # stopped before any work
    ok = run(small, tmp_path / "tdt", "--tiles", "tianditu", env={ENV_KEY: "0123456789abcdef0123456789abcdef"})
    assert ok.exit_code == 0, ok.output
    (streets, options), (labels, _) = tile_layers((tmp_path / "tdt" / "map.html").read_text(encoding="utf-8"))
    assert "tianditu.gov.cn/vec_w/wmts" in streets and "tianditu.gov.cn/cva_w/wmts" in labels
    assert all(u.endswith("tk=0123456789abcdef0123456789abcdef") for u in (streets, labels))
    assert "天地图" in options["attribution"]
    wrong = run(small, tmp_path / "x", "--tiles", "baidu")
    assert wrong.exit_code == 2 and "--tiles" in wrong.output and "amap" in wrong.output


def test_basemap_names_and_keys(monkeypatch):
    monkeypatch.delenv(ENV_KEY, raising=False)
    assert basemap(True) is BASEMAPS["osm"] and basemap("AMAP") is BASEMAPS["amap"]
    assert basemap(False) is None and basemap("none") is None and basemap(None) is None
    with pytest.raises(BasemapError, match="need a key"):
        basemap("tianditu")
    with pytest.raises(BasemapError, match="not a key"):
        basemap("tianditu", tianditu_key="abc&x=1")
    monkeypatch.setenv(ENV_KEY, "abcdef0123")
    assert all("tk=abcdef0123" in u for u in basemap("tianditu").urls)


def test_library_maps_take_a_basemap(map_inputs):
    args = {k: map_inputs[k] for k in ("subdistricts", "summary", "service_area", "candidates", "chosen")}
    m = maps.coverage_map(map_inputs["points"], map_inputs["facilities"], tiles="amap", **args)
    before = maps.coverage_map(map_inputs["points"], map_inputs["facilities"], tiles=False, **args)
    page, plain = m.get_root().render(), before.get_root().render()
    marker = re.compile(r"L\.marker\(\s*\[([\d.]+), ([\d.]+)\]")
    moved, orig = marker.findall(page), marker.findall(plain)
    assert moved and len(moved) == len(orig)  # chosen sites are Markers: moved too
    lat, lon = np.array(orig, float).T
    glon, glat = from_wgs84(lon, lat, "gcj02")
    assert np.allclose(np.array(moved, float), np.column_stack([glat, glon]), atol=1.5e-6)
    assert map_inputs["points"].geometry.x.iloc[0] == 121.460  # the caller's frame is untouched
