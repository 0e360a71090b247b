"""Bad input gets one clear message naming the thing at fault, exit code 2, no traceback, no output."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from siting.cli.commands import app

runner = CliRunner()
NET = "walk_tiny.osm"  # tests/data fixture: streets around 121.400–121.403 E, 31.200–31.202 N

GOOD_FAC = "id,name,type,lon,lat\n1,测试社区卫生服务中心,center,121.4001,31.2001\n"
GOOD_POP = "id,lon,lat,population\nh1,121.4005,31.2001,100\nh2,121.4029,31.2019,50\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def run(tmp_path, test_data, *, osm=None, fac=GOOD_FAC, pop=GOOD_POP, extra=(), fac_name="fac.csv",
        pop_name="pop.csv"):
    out = tmp_path / "out"
    args = ["coverage", "--osm", str(osm or test_data / NET), "--out", str(out), "--cache-dir", str(tmp_path / "c")]
    if fac is not None:
        args += ["--facilities", str(write(tmp_path, fac_name, fac))]
    if pop is not None:
        args += ["--population", str(write(tmp_path, pop_name, pop))]
    result = runner.invoke(app, args + list(extra))
    return result, out


def assert_clear_error(result, out, *fragments):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(line) == 1, result.output
    for frag in fragments:
        assert frag in line[0], (frag, line[0])
    assert not out.exists()


def test_good_inputs_work(tmp_path, test_data):
    result, out = run(tmp_path, test_data)
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").exists()


@pytest.mark.parametrize(("content", "fragments"), [
    (b"", ["bad.osm", "empty"]),
    (b"<osm><node id='1' lat='31", ["bad.osm", "not a readable OSM file"]),
    (b"PK\x03\x04 certainly not OSM", ["bad.osm", "not a readable OSM file"]),
    (b"<?xml version='1.0'?><osm version='0.6'><node id='1' lat='31.2' lon='121.4'/><node id='2' lat='31.21' "
     b"lon='121.41'/><way id='3'><nd ref='1'/><nd ref='2'/><tag k='highway' v='motorway'/></way></osm>",
     ["bad.osm", "no walkable ways", "1 highway way"]),
], ids=["empty", "truncated", "not-osm", "no-walkable-ways"])
def test_bad_osm(tmp_path, test_data, content, fragments):
    result, out = run(tmp_path, test_data, osm=write(tmp_path, "bad.osm", content))
    assert_clear_error(result, out, *fragments)


def test_missing_osm(tmp_path, test_data):
    result, out = run(tmp_path, test_data, osm=tmp_path / "nowhere.osm.pbf")
    assert_clear_error(result, out, "OSM file not found", "nowhere.osm.pbf")


@pytest.mark.parametrize(("fac", "fragments"), [
    ("id,title,lon,lat\n1,x,121.4,31.2\n", ["fac.csv", "name", "found", "title"]),
    ("id,name,longitude\n1,a,121.4\n", ["fac.csv", "coordinate", "found", "longitude"]),
    ("id,name,lon,lat\n1,a,121.4,north\n", ["fac.csv", "'lat'", "row"]),
    ("id,name,lon,lat\n1,a,121.4,\n", ["fac.csv", "'lat'", "empty"]),
    ("id,name,lon,lat\n1,a,31.2001,121.4001\n", ["fac.csv", "swapped"]),
    ("id,name,lon,lat\n1,a,121.4001,31.2001\n1,b,121.4002,31.2002\n", ["fac.csv", "duplicate", "1"]),
    ("id,name,type,lon,lat\n1,a,clinic-ish,121.4001,31.2001\n", ["fac.csv", "unknown facility type", "clinic-ish"]),
    ("id,name,lon_bd09,lat_bd09\n1,测试社区卫生服务中心,121.4066,31.2061\n", ["fac.csv", "bd09", "--facility-crs"]),
    ("id,name,lon,lat\n1,测试社区卫生服务中心,121.50,31.30\n", ["facilities", "500 m", "--facility-crs"]),
], ids=["no-name-column", "no-coordinates", "non-numeric", "empty-coordinate", "swapped", "duplicate-ids",
        "unknown-type", "column-says-bd09", "outside-network"])
def test_bad_facilities(tmp_path, test_data, fac, fragments):
    result, out = run(tmp_path, test_data, fac=fac)
    assert_clear_error(result, out, *fragments)


def test_unknown_crs_name(tmp_path, test_data):
    result, out = run(tmp_path, test_data, extra=["--facility-crs", "baidu2000"])
    assert_clear_error(result, out, "baidu2000", "wgs84", "gcj02", "bd09")


@pytest.mark.parametrize(("pop", "fragments"), [
    ("id,lon,lat,population\nh1,121.4005,31.2001,-5\n", ["pop.csv", "population", "row"]),
    ("id,lon,lat,population\nh1,121.4005,31.2001,\n", ["pop.csv", "population", "row"]),
    ("id,lon,lat,population\nh1,121.4005,31.2001,many\n", ["pop.csv", "population", "many"]),
], ids=["negative", "nan", "text"])
def test_bad_population(tmp_path, test_data, pop, fragments):
    result, out = run(tmp_path, test_data, pop=pop)
    assert_clear_error(result, out, *fragments)


def test_bad_options(tmp_path, test_data):
    result, out = run(tmp_path, test_data, extra=["--mode", "scooter"])
    assert_clear_error(result, out, "scooter", "walk")
    result, out = run(tmp_path, test_data, extra=["--facility-types", "center,spa"])
    assert_clear_error(result, out, "spa", "station")


def test_boundary_file_without_names(tmp_path, test_data):
    gj = ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":1},"geometry":'
          '{"type":"Polygon","coordinates":[[[121.39,31.19],[121.41,31.19],[121.41,31.21],[121.39,31.21],'
          '[121.39,31.19]]]}}]}')
    result, out = run(tmp_path, test_data, extra=["--boundaries", str(write(tmp_path, "b.geojson", gj))])
    assert_clear_error(result, out, "b.geojson", "code")


def test_unknown_district(tmp_path, test_data):
    gj = ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"测试街道",'
          '"district":"测试区"},"geometry":{"type":"Polygon","coordinates":[[[121.39,31.19],[121.41,31.19],'
          '[121.41,31.21],[121.39,31.21],[121.39,31.19]]]}}]}')
    result, out = run(tmp_path, test_data, extra=["--boundaries", str(write(tmp_path, "b.geojson", gj)),
                                                  "--district", "徐汇区"])
    assert_clear_error(result, out, "徐汇区", "测试区")


def test_unmatched_subdistrict_names_are_listed(tmp_path, test_data):
    gj = ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"斜土路街道",'
          '"district":"测试区"},"geometry":{"type":"Polygon","coordinates":[[[121.39,31.19],[121.41,31.19],'
          '[121.41,31.21],[121.39,31.21],[121.39,31.19]]]}}]}')
    pop = "id,lon,lat,population,subdistrict\nh1,121.4005,31.2001,100,斜土街道\n"
    result, out = run(tmp_path, test_data, pop=pop, extra=["--boundaries", str(write(tmp_path, "b.geojson", gj))])
    assert result.exit_code == 0, result.output
    assert "斜土街道 (closest: 斜土路街道)" in result.output


def test_wgs84_label_on_bd09_coordinates_warns_with_suggestion(tmp_path, shanghai):
    import pandas as pd

    frame = pd.read_csv(shanghai / "facilities/xuhui_chc_healthxuhui.csv")
    frame = frame.rename(columns={"lon_bd09": "lon", "lat_bd09": "lat"})
    plain = write(tmp_path, "plain.csv", frame.to_csv(index=False))
    out = tmp_path / "out"
    result = runner.invoke(app, [
        "coverage", "--osm", str(shanghai / "osm/shanghai_center_overpass_roads.osm"), "--facilities", str(plain),
        "--population", str(shanghai / "population/lianjia_xiaoqu_shanghai_2018_bd09.json"), "--population-crs", "bd09",
        "--boundaries", str(shanghai / "boundaries/shanghai_subdistricts_osm_8districts.geojson"),
        "--district", "徐汇区", "--out", str(out), "--cache-dir", str(tmp_path / "c"), "--no-map"])
    assert result.exit_code == 0, result.output
    assert "look like BD-09" in result.output and "--facility-crs bd09" in result.output


def test_existing_and_unwritable_output(tmp_path, test_data):
    result, out = run(tmp_path, test_data)
    assert result.exit_code == 0
    again, _ = run(tmp_path, test_data)
    assert again.exit_code == 2 and "--overwrite" in again.output
    replaced, _ = run(tmp_path, test_data, extra=["--overwrite"])
    assert replaced.exit_code == 0
    blocker = write(tmp_path, "a-file", "x")
    result = runner.invoke(app, ["coverage", "--osm", str(test_data / NET), "--facilities",
                                 str(write(tmp_path, "f.csv", GOOD_FAC)), "--population",
                                 str(write(tmp_path, "p.csv", GOOD_POP)), "--out", str(blocker / "out")])
    assert result.exit_code == 2 and "cannot write" in result.output


def test_too_far_points_are_reported_not_snapped(tmp_path, test_data):
    import geopandas as gpd

    # inside the block (≥ 95 m from every street) and far outside the extract
    pop = GOOD_POP + "mid,121.4015,31.2010,10\nout,121.4300,31.2300,7\n"
    result, out = run(tmp_path, test_data, pop=pop, extra=["--max-snap-m", "60"])
    assert result.exit_code == 0, result.output
    pts = gpd.read_file(out / "points.gpkg").set_index("id")
    assert pts.loc["mid", "status"] == "too_far_from_network" and not pts.loc["mid", "covered"]
    assert pts.loc["out", "status"] == "outside_network_area"
    assert "Counted uncovered: 10 residents farther than 60 m" in result.output
    assert "Left out of the rate: 7 residents outside the network extent" in result.output


def test_projected_coordinates_without_crs(tmp_path, test_data):
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import Point

    path = tmp_path / "fac.gpkg"
    frame = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(352_000, 3_453_000)])  # UTM metres, no CRS
    with pytest.warns(UserWarning, match="crs"):  # pyogrio says so too: the file has no projection
        frame.to_file(path, driver="GPKG")
    out = tmp_path / "out"
    result = runner.invoke(app, ["coverage", "--osm", str(test_data / NET), "--facilities", str(path),
                                 "--population", str(write(tmp_path, "p.csv", GOOD_POP)), "--out", str(out)])
    assert_clear_error(result, out, "fac.gpkg", "declares no CRS", "not longitude/latitude")


def test_geographic_crs_other_than_wgs84(tmp_path, test_data):
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import Point

    path = tmp_path / "fac.geojson"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(121.4, 31.2)], crs="EPSG:4214").to_file(path)  # Beijing 1954
    out = tmp_path / "out"
    result = runner.invoke(app, ["coverage", "--osm", str(test_data / NET), "--facilities", str(path),
                                 "--population", str(write(tmp_path, "p.csv", GOOD_POP)), "--out", str(out)])
    assert_clear_error(result, out, "fac.geojson", "not WGS84")


def test_population_columns_named_bd09_read_as_wgs84(tmp_path, test_data):
    pop = "id,lon_bd09,lat_bd09,population\nh1,121.4066,31.2061,100\n"
    result, out = run(tmp_path, test_data, pop=pop)
    assert_clear_error(result, out, "pop.csv", "'lon_bd09'", "--population-crs bd09")


def test_columns_matching_the_declared_crs_are_preferred(tmp_path):
    from siting.io.demand import read_population

    path = write(tmp_path, "two.csv", "lon_wgs84,lat_wgs84,lon_bd09,lat_bd09,population\n"
                                      "121.40,31.20,121.411173,31.204049,5\n")
    wgs = read_population(path, "wgs84").geometry.iloc[0]
    bd = read_population(path, "bd09").geometry.iloc[0]
    assert (round(wgs.x, 4), round(wgs.y, 4)) == (121.40, 31.20)
    assert abs(bd.x - 121.40) < 1e-5 and abs(bd.y - 31.20) < 1e-5  # the bd09 pair, converted, lands there too


def test_target_must_be_a_share(tmp_path, test_data):
    result, out = run(tmp_path, test_data, extra=["--target", "90"])
    assert_clear_error(result, out, "target", "≥ 0 and ≤ 1", "did you mean 0.9")


def test_population_labelled_wgs84_that_fits_its_districts_as_bd09_warns(tmp_path, shanghai):
    out = tmp_path / "out"
    result = runner.invoke(app, [
        "coverage", "--osm", str(shanghai / "osm/shanghai_center_overpass_roads.osm"),
        "--facilities", str(shanghai / "facilities/xuhui_chc_healthxuhui.csv"), "--facility-crs", "bd09",
        "--population", str(shanghai / "population/lianjia_xiaoqu_shanghai_2018_bd09.json"),
        "--boundaries", str(shanghai / "boundaries/shanghai_subdistricts_osm_8districts.geojson"),
        "--district", "徐汇区", "--out", str(out), "--cache-dir", str(tmp_path / "c"), "--no-map"])
    assert result.exit_code == 0, result.output
    assert "look like BD-09" in result.output and "--population-crs bd09" in result.output


def test_gbk_semicolon_csv_from_chinese_excel_is_read(tmp_path):
    from siting.io.facilities import read_facilities

    path = tmp_path / "gbk.csv"
    path.write_bytes("名称;类型;lon;lat\n测试社区卫生服务站;站;121.4001;31.2001\n".encode("gbk"))
    fac = read_facilities(path)
    assert fac["name"].tolist() == ["测试社区卫生服务站"] and fac["type"].tolist() == ["station"]
