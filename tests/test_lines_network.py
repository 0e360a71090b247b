"""The planner's own road lines (``--network FILE``, ``Network.from_lines``): same analysis as from OSM."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from conftest import SAMPLE, expected_warnings

from siting.cli.commands import app
from siting.engine.coverage import check_mode
from siting.engine.network import Network
from siting.errors import ColumnError, CRSError, InputFileError, NetworkError
from siting.io._osmnet import oneway_direction, way_passes
from siting.scenarios._file import read_scenario_file
from siting.settings import Settings

ROADS = "osm/shanghai_center_overpass_roads.osm"
WGS = "EPSG:4326"


def osm_ways_as_lines(path) -> gpd.GeoDataFrame:
    """Every highway way of an OSM file as one line feature, as a planner's road layer holds it.

    A way cut by missing nodes becomes a MultiLineString; ``walk`` / ``bike`` say whether osmnx's filters keep it,
    ``oneway`` is its cycling direction (yes / -1 / no).
    """
    import osmium

    rows, geoms = [], []
    fp = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations() \
        .with_filter(osmium.filter.KeyFilter("highway"))
    for way in fp:
        if not isinstance(way, osmium.osm.Way):
            continue
        tags = dict(way.tags)
        parts, run = [], []
        for nd in way.nodes:
            if nd.location.valid():
                run.append((nd.location.lon, nd.location.lat))
            else:
                parts.append(run)
                run = []
        parts = [p for p in [*parts, run] if len(p) >= 2]
        if not parts:
            continue
        geoms.append(shapely.LineString(parts[0]) if len(parts) == 1 else shapely.MultiLineString(parts))
        direction = oneway_direction(tags, "bike")
        rows.append({"osm_id": way.id, "highway": tags["highway"], "walk": way_passes(tags, "walk"),
                     "bike": "yes" if way_passes(tags, "bike") else "no",
                     "oneway": {0: "no", 1: "yes", -1: "-1"}[direction]})
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=WGS)


@pytest.fixture(scope="module")
def roads_gpkg(shanghai, tmp_path_factory):
    out = tmp_path_factory.mktemp("lines") / "规划路网.gpkg"
    osm_ways_as_lines(shanghai / ROADS).to_file(out, layer="roads")
    return out


def segment_set(net: Network) -> set:
    x0, y0, x1, y1 = net.segments_xy()
    ends = np.round(np.column_stack([x0, y0, x1, y1]), 6)
    return {(tuple(e[:2]), tuple(e[2:]), bool(o)) if o else tuple(sorted([tuple(e[:2]), tuple(e[2:])]))
            for e, o in zip(ends, net.oneway, strict=True)}


@pytest.mark.realdata
@pytest.mark.parametrize("mode", ["walk", "bike"])
def test_sample_lines_give_the_osm_network(shanghai, roads_gpkg, mode, tmp_path):
    with expected_warnings(SAMPLE[0]):
        osm = Network.from_osm(shanghai / ROADS, mode, cache=False)
        lines = Network.from_lines(roads_gpkg, mode)
    assert lines.crs == osm.crs == "EPSG:32651"
    assert (lines.n_nodes, lines.n_edges) == (osm.n_nodes, osm.n_edges)
    assert segment_set(lines) == segment_set(osm)
    assert lines.length.sum() == pytest.approx(osm.length.sum(), rel=1e-12)
    assert int(lines.oneway.sum()) == int(osm.oneway.sum()) and (mode == "bike") == bool(osm.oneway.any())
    assert lines.info["network_type"] == osm.info["network_type"] == mode
    assert lines.info["columns"] == {"oneway": "oneway", "walk": "walk", "bike": "bike"}
    check_mode(lines, Settings(mode="elderly" if mode == "walk" else "bike"))
    with pytest.raises(NetworkError, match="built for"):
        check_mode(lines, Settings(mode="bike" if mode == "walk" else "walk"))


def coverage_args(shanghai, out, network_args):
    pop = shanghai / "population"
    return ["coverage", *network_args, "--facilities", str(shanghai / "facilities/xuhui_chc_healthxuhui.csv"),
            "--facility-crs", "bd09", "--population", str(pop / "lianjia_xiaoqu_shanghai_2018_bd09.json"),
            "--population-crs", "bd09", "--census", str(pop / "shanghai_district_population_census.csv"),
            "--subdistrict-totals", str(shanghai / "population/xuhui_subdistrict_households_2026_estimate.csv"),
            "--boundaries", str(shanghai / "boundaries/shanghai_subdistricts_osm_8districts.geojson"),
            "--district", "徐汇区", "--out", str(out), "--no-map", "--no-report", "-q",
            "--cache-dir", str(out.parent / "cache")]


@pytest.mark.realdata
def test_cli_network_file_gives_the_same_coverage_as_osm(shanghai, roads_gpkg, tmp_path):
    runner = CliRunner()
    got = {}
    for name, args in {"osm": ["--osm", str(shanghai / ROADS)], "lines": ["--network", str(roads_gpkg)]}.items():
        result = runner.invoke(app, coverage_args(shanghai, tmp_path / name, args))
        assert result.exit_code == 0, result.output
        got[name] = json.loads((tmp_path / name / "summary.json").read_text(encoding="utf-8"))
    osm, lines = got["osm"], got["lines"]
    run_only = {"network_source", "network_cache", "seconds", "sources", "notes", "network_warning"}
    numbers = {k for k, v in osm.items() if isinstance(v, int | float | dict) and k not in run_only}
    assert {"population_total", "population_covered", "coverage_rate", "gap_residents", "n_network_edges"} <= numbers
    assert {k: lines[k] for k in numbers} == {k: osm[k] for k in numbers}
    assert lines["network_source"].endswith("规划路网.gpkg")
    assert any(s["source"] == "规划路网.gpkg" for s in lines["sources"])
    by_sub = [(tmp_path / n / "subdistricts.csv").read_text(encoding="utf-8") for n in ("osm", "lines")]
    assert by_sub[0] == by_sub[1]


def test_oneway_flags_speed_and_crs(tmp_path):
    # three lines from a common start, in a projected CRS (CGCS2000 / 3-degree Gauss-Kruger zone 40, EPSG:4528)
    x, y = gpd.GeoSeries.from_xy([121.43], [31.19], crs=WGS).to_crs("EPSG:4528").get_coordinates().to_numpy()[0]
    roads = gpd.GeoDataFrame({
        "oneway": ["yes", "-1", None], "walk": [1, 1, 0], "bike": ["yes", "yes", "no"],
        "speed_kmh": [None, 2.0, None]},
        geometry=[shapely.LineString([(x, y), (x + 100, y)]), shapely.LineString([(x, y), (x, y + 100)]),
                  shapely.LineString([(x, y), (x - 100, y)])], crs="EPSG:4528")
    walk = Network.from_lines(roads, "walk")
    assert walk.n_edges == 2 and not walk.oneway.any()  # the third line is walk=0; walking is two-way
    assert sorted(walk.length) == pytest.approx([100.0, 200.0], rel=1e-3)  # 2 km/h where walking is 4: twice
    assert walk.info["oneway_ignored"] and walk.crs == "EPSG:32651"
    bike = Network.from_lines(roads, "bike")
    assert bike.n_edges == 2 and bike.oneway.all()
    start = int(np.argmin(bike.x + bike.y))  # the south-west node: the common start
    north = int(np.argmax(bike.length))  # the -1 line runs against its drawing: from its north end to the start
    east = 1 - north
    assert bike.v[north] == start and bike.u[east] == start  # "yes" runs along its drawing, away from the start
    assert bike.length[north] == pytest.approx(100.0 * 12 / 2, rel=1e-3)  # 2 km/h where cycling is 12
    # the same lines without a CRS: refused, naming the problem; with `crs`: read
    plain = gpd.GeoDataFrame(roads.drop(columns="geometry"), geometry=list(roads.geometry), crs=None)
    with pytest.raises(CRSError, match="declares no CRS"):
        Network.from_lines(plain, "walk")
    assert Network.from_lines(plain, "walk", crs="EPSG:4528").length.sum() == pytest.approx(walk.length.sum())
    path = tmp_path / "roads.geojson"
    roads.to_file(path, driver="GeoJSON")
    assert Network.from_lines(path, "walk").length.sum() == pytest.approx(walk.length.sum(), rel=1e-9)


def test_gcj02_lines_are_converted(tmp_path):
    from siting.io.coords import from_wgs84

    lon, lat = np.array([121.43, 121.44]), np.array([31.19, 31.19])
    glon, glat = from_wgs84(lon, lat, "gcj02")
    wgs = gpd.GeoDataFrame(geometry=[shapely.LineString(np.column_stack([lon, lat]))], crs=WGS)
    gcj = gpd.GeoDataFrame(geometry=[shapely.LineString(np.column_stack([glon, glat]))], crs=WGS)
    a, b = Network.from_lines(wgs), Network.from_lines(gcj, crs="gcj02")
    assert np.allclose(a.x, b.x, atol=1e-3) and np.allclose(a.y, b.y, atol=1e-3)


def test_tolerance_joins_near_ends():
    roads = gpd.GeoDataFrame(geometry=[shapely.LineString([(121.430, 31.19), (121.435, 31.19)]),
                                       shapely.LineString([(121.4350001, 31.19), (121.44, 31.19)])], crs=WGS)
    with pytest.warns(UserWarning, match="disconnected"):
        apart = Network.from_lines(roads)  # 1 cm apart: two equal islands, both kept, with a warning
    joined = Network.from_lines(roads, tolerance_m=0.05)
    assert joined.n_nodes == 3 and apart.n_nodes == 4


@pytest.mark.parametrize(("change", "error", "match"), [
    ({"walk": ["maybe", "yes"]}, ColumnError, r"column 'walk', row\(s\) 1: 'maybe' is not yes/no"),
    ({"speed_kmh": [0, 4]}, ColumnError, r"column 'speed_kmh', row\(s\) 1: 0 is not a speed"),
    ({"walk": [False, "no"]}, NetworkError, "no line is usable"),
])
def test_bad_columns_are_named(change, error, match):
    roads = gpd.GeoDataFrame({"walk": ["yes", "yes"], **change}, geometry=[
        shapely.LineString([(121.43, 31.19), (121.44, 31.19)]),
        shapely.LineString([(121.44, 31.19), (121.44, 31.20)])], crs=WGS)
    with pytest.raises(error, match=match):
        Network.from_lines(roads)


def test_points_missing_column_and_unreadable_file(tmp_path):
    pts = gpd.GeoDataFrame(geometry=[shapely.Point(121.43, 31.19)], crs=WGS)
    with pytest.raises(InputFileError, match=r"feature\(s\) 1 are not lines"):
        Network.from_lines(pts)
    line = gpd.GeoDataFrame(geometry=[shapely.LineString([(121.43, 31.19), (121.44, 31.19)])], crs=WGS)
    with pytest.raises(ColumnError, match="column 'einbahn' .*not found"):
        Network.from_lines(line, oneway="einbahn")
    bad = tmp_path / "roads.gpkg"
    bad.write_text("not a geopackage")
    with pytest.raises(InputFileError, match="roads.gpkg: cannot read the network"):
        Network.from_lines(bad)


def test_scenario_baseline_network_key(tmp_path):
    lines = tmp_path / "roads.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.LineString([(121.43, 31.19), (121.44, 31.19)])], crs=WGS).to_file(lines)
    fac = tmp_path / "fac.csv"
    fac.write_text("name,type,lon,lat\nA,center,121.435,31.19\n", encoding="utf-8")
    pop = tmp_path / "pop.csv"
    pop.write_text("lon,lat,population\n121.436,31.191,10\n", encoding="utf-8")
    spec = tmp_path / "s.yaml"
    spec.write_text(f"baseline:\n  network: {lines.name}\n  facilities: {fac.name}\n  population: {pop.name}\n"
                    "scenarios:\n  - name: none\n    close: []\n", encoding="utf-8")
    base = read_scenario_file(spec).baseline
    assert base.network_file == lines and base.osm is None
    assert base.load_kwargs()["network_file"] == lines
    from siting.workbench import Workbench

    wb = Workbench.from_scenario_file(spec)  # the workbench opens it, and saves it with the same key
    assert wb.inputs.network.info["format"] == "lines"
    wb.configure(mode="bike")  # rebuilt from the lines for cycling
    assert wb.result.summary.mode == "bike"
    saved = read_scenario_file(wb.save(tmp_path / "saved.yaml")).baseline
    assert saved.network_file == lines.resolve() and saved.osm is None and saved.place is None


def test_batch_jobs_and_scenario_jobs_take_network(tmp_path):
    from test_batch import grid_osm

    import siting
    from siting.cli._jobs import read_jobs
    from siting.cli.batch import run_task

    grid_osm(tmp_path / "a.osm", 8, 8)
    osm_ways_as_lines(tmp_path / "a.osm").to_file(tmp_path / "roads.gpkg")
    (tmp_path / "fac.csv").write_text(
        "name,type,lon,lat\n甲中心,center,121.4035,31.1042\n乙中心,center,121.4121,31.1118\n", encoding="utf-8")
    rng = np.random.default_rng(3)
    rows = [f"{x:.5f},{y:.5f},{p}" for x, y, p in zip(rng.uniform(121.4005, 121.4135, 40),
                                                      rng.uniform(31.1005, 31.1135, 40), rng.integers(50, 900, 40),
                                                      strict=True)]
    (tmp_path / "pop.csv").write_text("lon,lat,population\n" + "\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "plans.yaml").write_text(
        "name: plans\nbaseline:\n  network: roads.gpkg\n  facilities: fac.csv\n  population: pop.csv\nscenarios:\n"
        "  - name: close_b\n    close: [乙中心]\n  - name: by_bike\n    mode: bike\n", encoding="utf-8")
    (tmp_path / "jobs.yaml").write_text(
        f"defaults:\n  facilities: fac.csv\n  population: pop.csv\n  map: false\n  cache_dir: {tmp_path / 'cache'}\n"
        "jobs:\n  - name: from_osm\n    osm: a.osm\n  - name: from_lines\n    network: roads.gpkg\n"
        "  - name: plans\n    scenarios: plans.yaml\n", encoding="utf-8")
    tasks = {t.job: t for t in read_jobs(tmp_path / "jobs.yaml")}
    assert tasks["from_lines"].load["network_file"] == str(tmp_path / "roads.gpkg")
    got = {n: run_task(t, str(tmp_path / "out"), compare=siting.compare) for n, t in tasks.items()}
    assert all(r.get("status") != "failed" for rs in got.values() for r in rs), got
    keep = ("population", "covered", "coverage_rate")
    same = [{k: r[k] for k in keep if k in r} for r in got["from_osm"]]
    assert same and same == [{k: r[k] for k in keep if k in r} for r in got["from_lines"]]
    scenarios = {r["scenario"]: r for r in got["plans"] if r["level"] == "all"}
    assert set(scenarios) >= {"close_b", "by_bike"}  # the bike scenario rebuilt the network from the lines
    assert scenarios["close_b"]["covered"] < same[0]["covered"]
