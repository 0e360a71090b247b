"""Inputs that used to give a traceback or a silently wrong answer (issue 10, items 9-18)."""

from __future__ import annotations

import json
import re
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import TEST_DATA, run_siting
from shapely.geometry import MultiPoint, Point, Polygon, box

from siting.engine.network import Network
from siting.errors import AreaWarning, CRSError, InputFileError, NetworkError, SitingError
from siting.io import _checks, demand
from siting.io.coords import to_wgs84
from siting.io.facilities import read_facilities
from siting.pipeline import check_network


def _caught(func, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = func(*args, **kwargs)
    return out, " | ".join(str(w.message) for w in caught)


# -- item 9: lon/lat swapped in GeoJSON / GeoPackage (declared CRS or not)


@pytest.mark.parametrize("suffix", ["geojson", "gpkg"])
def test_swapped_coordinates_in_vector_files_are_refused(tmp_path, suffix):
    frame = gpd.GeoDataFrame({"name": ["徐汇区斜土街道社区卫生服务中心", "B"], "population": [10, 20]},
                             geometry=[Point(31.19, 121.45), Point(31.20, 121.46)], crs="EPSG:4326")
    path = tmp_path / f"swapped.{suffix}"
    frame.to_file(path)
    with pytest.raises(CRSError, match="swapped"):
        read_facilities(path)
    with pytest.raises(CRSError, match="swapped"):
        demand.read_population(path)


# -- item 10: MultiPoint facilities become one facility per part


def test_multipoint_facilities_are_exploded_with_suffixed_ids(tmp_path):
    path = tmp_path / "fac.geojson"
    gpd.GeoDataFrame({"id": ["F1", "F2"], "name": ["中心", "站"], "type": ["center", "station"]},
                     geometry=[MultiPoint([(121.40, 31.20), (121.41, 31.21)]), Point(121.42, 31.22)],
                     crs="EPSG:4326").to_file(path)
    fac, said = _caught(read_facilities, path)
    assert list(fac["facility_id"]) == ["F1-1", "F1-2", "F2"]
    assert fac.geometry.x.round(2).tolist() == [121.40, 121.41, 121.42]  # the parts, not their midpoint
    assert "1 MultiPoint feature(s)" in said and "split into 2 facilities" in said


# -- item 11: Excel sheets


def _workbook(path):
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"name": ["甲中心"], "type": ["center"], "lon": [121.40], "lat": [31.20]}).to_excel(
            xl, sheet_name="centres", index=False)
        pd.DataFrame({"name": ["乙站", "丙站"], "type": ["station"] * 2, "lon": [121.401, 121.402],
                      "lat": [31.2005, 31.2015]}).to_excel(xl, sheet_name="stations", index=False)
        pd.DataFrame({"note": ["sources"]}).to_excel(xl, sheet_name="about", index=False)


def test_excel_sheets_are_named_and_other_matching_sheets_warned(tmp_path):
    path = tmp_path / "fac.xlsx"
    _workbook(path)
    first, said = _caught(read_facilities, path)
    assert list(first["name"]) == ["甲中心"]
    assert "'stations'" in said and "'about'" not in said and "#SHEET" in said
    second, said = _caught(read_facilities, f"{path}#stations")
    assert list(second["name"]) == ["乙站", "丙站"] and "'centres'" in said
    with pytest.raises(InputFileError, match="no sheet 'station'.*centres, stations, about"):
        read_facilities(f"{path}#station")


def test_facility_sheet_option(tiny_job):
    work, args = tiny_job
    _workbook(work / "fac.xlsx")
    args[args.index("--facilities") + 1] = "fac.xlsx"
    proc = run_siting([*args, "--facility-sheet", "stations", "--facility-types", "station", "--out", "out"], cwd=work)
    assert proc.returncode == 0, proc.stderr
    facilities = gpd.read_file(work / "out" / "facilities.gpkg")
    assert sorted(facilities["name"]) == ["丙站", "乙站"]


# -- item 12: invalid and overlapping 街道 polygons


def test_overlaps_are_warned_and_repairs_keep_every_resident(tmp_path):
    bowtie = Polygon([(121.40, 31.20), (121.42, 31.22), (121.42, 31.20), (121.40, 31.22)])  # self-intersecting
    path = tmp_path / "subs.geojson"
    gpd.GeoDataFrame({"name": ["甲街道", "乙街道", "丙街道"], "district": ["X区"] * 3},
                     geometry=[bowtie, box(121.43, 31.20, 121.45, 31.22), box(121.44, 31.20, 121.46, 31.22)],
                     crs="EPSG:4326").to_file(path)
    subs, said = _caught(demand.read_boundaries, path)
    assert "1 invalid" in said and "甲街道" in said and "keeping all their area" in said
    assert re.search(r"乙街道 / 丙街道 [\d.]+ km²", said)
    homes = gpd.GeoDataFrame({"population": [100.0, 200.0]},
                             geometry=[Point(121.403, 31.21), Point(121.417, 31.21)], crs="EPSG:4326")  # both lobes
    joined = demand.assign_areas(homes, subs)
    assert list(joined["subdistrict"]) == ["甲街道", "甲街道"]


# -- item 13: duplicate population rows


def test_duplicate_population_rows_are_warned_and_dropped_on_request(tmp_path):
    path = tmp_path / "pop.csv"
    path.write_text("lon,lat,population\n121.40,31.20,100\n121.41,31.21,50\n121.40,31.20,100\n121.40,31.20,100\n",
                    encoding="utf-8")
    pop, said = _caught(demand.read_population, path)
    assert len(pop) == 4 and "2 row(s) repeat an earlier row exactly (row(s) 3, 4)" in said and "dedupe=True" in said
    pop, _ = _caught(demand.read_population, path, dedupe=True)
    assert pop["population"].sum() == 150


def _two_districts() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"subdistrict": ["甲街道", "乙街道"], "district": ["甲区", "乙区"]},
                            geometry=[box(121.39, 31.19, 121.405, 31.22), box(121.405, 31.19, 121.42, 31.22)],
                            crs="EPSG:4326")


def _read_in_district(path, district, **kwargs):
    notes: list[str] = []

    def read():
        with _checks.duplicates_in_district(district, _two_districts(), notes):
            return demand.read_population(path, **kwargs)

    pop, said = _caught(read)
    return pop, said, notes


def test_duplicate_rows_are_counted_inside_the_district_only(tmp_path):
    """The Lianjia file's 52 repeats are city-wide: a district run lists its own and says how many are elsewhere."""
    path = tmp_path / "pop.csv"
    path.write_text("lon,lat,population\n121.40,31.20,100\n121.41,31.21,50\n121.40,31.20,100\n121.41,31.21,50\n"
                    "121.41,31.21,50\n121.50,31.30,7\n121.50,31.30,7\n", encoding="utf-8")
    _, said, notes = _read_in_district(path, "甲区")  # rows 3 (甲区), 4 and 5 (乙区), 7 (in no district)
    assert said.startswith(f"{path}: 1 row(s) in 甲区 repeat an earlier row exactly (row(s) 3) (100 residents counted "
                           "twice): counted again; give dedupe=True to drop them; 3 more outside 甲区")
    assert said.count("repeat an earlier row") == 1
    assert notes == [f"outside the analysed area: {path}: 3 row(s) outside 甲区 repeat an earlier row exactly (row(s) "
                     "4, 5, 7) (107 residents counted twice): counted again; give dedupe=True to drop them"]
    _, said, notes = _read_in_district(path, "乙区")
    assert "2 row(s) in 乙区 repeat an earlier row exactly (row(s) 4, 5) (100 residents" in said and "2 more" in said
    pop, said, notes = _read_in_district(path, "乙区", dedupe=True)
    assert len(pop) == 3 and "2 row(s) in 乙区 repeat an earlier row exactly (row(s) 4, 5): dropped" in said
    path.write_text("lon,lat,population\n121.40,31.20,100\n121.41,31.21,50\n121.41,31.21,50\n", encoding="utf-8")
    _, said, notes = _read_in_district(path, "甲区")
    assert said == "" and len(notes) == 1 and "1 row(s) outside 甲区" in notes[0]  # none inside: silent
    _, said, notes = _read_in_district(path, None)
    assert "1 row(s) repeat an earlier row exactly (row(s) 3)" in said and notes == []  # no district: as before


def _overlapping_districts() -> gpd.GeoDataFrame:
    """甲区 first, then 乙区 whose polygon overlaps it over 121.400-121.405: points there belong to 甲区."""
    return gpd.GeoDataFrame({"subdistrict": ["甲街道", "乙街道"], "district": ["甲区", "乙区"]},
                            geometry=[box(121.39, 31.19, 121.405, 31.22), box(121.40, 31.19, 121.42, 31.22)],
                            crs="EPSG:4326")


@pytest.mark.parametrize("rows", ["points", "polygons"])
def test_duplicates_in_the_district_are_the_rows_the_district_run_keeps(tmp_path, rows):
    """One rule for "inside the district" (first polygon wins), for the warning and for restrict_to_district."""
    spots = [(121.395, 31.20), (121.4025, 31.20), (121.41, 31.20)]  # 甲区 only, the overlap, 乙区 only
    if rows == "points":
        geometry = [Point(x, y) for x, y in spots]
    else:  # small squares around each spot (their representative point is where the run reads them)
        geometry = [box(x - 0.0004, y - 0.0004, x + 0.0004, y + 0.0004) for x, y in spots]
    path = tmp_path / "pop.geojson"
    gpd.GeoDataFrame({"population": [10.0, 20.0, 40.0] * 2}, geometry=geometry * 2, crs="EPSG:4326").to_file(path)
    for district, listed in [("甲区", "4, 5"), ("乙区", "6")]:
        notes: list[str] = []

        def read(district=district, notes=notes):
            with _checks.duplicates_in_district(district, _overlapping_districts(), notes):
                return demand.read_population(path)

        pop, said = _caught(read)
        kept, _ = demand.restrict_to_district(pop, _overlapping_districts(), district)
        repeats_kept = sorted(int(r) for r in kept["source_row"] if r > 3)
        assert f"row(s) in {district} repeat an earlier row exactly (row(s) {listed})" in said
        assert ", ".join(map(str, repeats_kept)) == listed  # the same rows as the run keeps
        assert len(notes) == 1 and f"{3 - len(repeats_kept)} row(s) outside {district}" in notes[0]


@pytest.mark.realdata
def test_main_job_names_only_the_repeats_in_xuhui(main_job, shanghai):
    out, printed = main_job
    raw = pd.read_json(shanghai / "population/lianjia_xiaoqu_shanghai_2018_bd09.json")
    repeated = raw.astype(str).duplicated(keep="first").to_numpy()
    assert repeated.sum() == 52
    # independently: the repeated rows' BD-09 positions, in WGS84, inside 徐汇's polygons
    lon, lat = (raw.loc[repeated, c].to_numpy(float) for c in ("lng", "lat"))
    x, y = to_wgs84(lon, lat, "bd09")
    bnd = gpd.read_file(shanghai / "boundaries/shanghai_subdistricts_osm_8districts.geojson")
    xuhui = bnd[bnd["district"] == "徐汇区"].union_all()
    inside = int(gpd.GeoSeries(gpd.points_from_xy(x, y), crs="EPSG:4326").within(xuhui).sum())
    assert 0 < inside < 52
    assert f"{inside} row(s) in 徐汇区 repeat an earlier row exactly" in printed
    assert f"{52 - inside} more outside 徐汇区" in printed
    notes = json.loads((out / "summary.json").read_text(encoding="utf-8"))["notes"]
    assert any(f"{52 - inside} row(s) outside 徐汇区 repeat" in n for n in notes)


# -- item 14: control-total areas without points


def test_areas_without_points_are_named_with_their_residents():
    homes = gpd.GeoDataFrame({"district": ["甲区", "甲区"]}, geometry=[Point(0, 0), Point(1, 1)], crs="EPSG:4326")
    totals = pd.DataFrame({"area": ["甲区", "乙区"], "population": [1000, 500]})
    out, said = _caught(demand.weight_by_census, homes, totals)
    assert "乙区 (500)" in said and "500 residents have nowhere to go" in said and "never moved" in said
    assert out["population"].sum() == 1000  # 乙区's residents did not land on 甲区


# -- item 15: large population polygons


def test_large_population_polygons_are_warned_and_can_be_spread(tmp_path):
    path = tmp_path / "pop.geojson"
    gpd.GeoDataFrame({"population": [1000.0, 10.0]},
                     geometry=[box(121.40, 31.20, 121.41, 31.21), box(121.42, 31.20, 121.4201, 31.2001)],
                     crs="EPSG:4326").to_file(path)  # ~1 km² and ~100 m²
    one, said = _caught(demand.read_population, path)
    assert len(one) == 2 and "1 population polygon(s) exceed 0.25 km²" in said and "spread_polygons=True" in said
    spread, _ = _caught(demand.read_population, path, spread_polygons=True)
    assert len(spread) > 10 and spread["population"].sum() == pytest.approx(1010.0)
    assert spread.geometry.within(box(121.40, 31.20, 121.41, 31.21)).sum() == len(spread) - 1


# -- item 16: the census table is read like every other table


def test_census_in_gbk_with_semicolons(tmp_path):
    path = tmp_path / "census.csv"
    path.write_bytes("区;pop_census_2020\n徐汇区;1113078\n长宁区;693051\n".encode("gbk"))
    totals = demand.read_census(path)
    assert list(totals["area"]) == ["徐汇区", "长宁区"] and totals["population"].sum() == 1806129


# -- item 17: OSM files with missing node references


def _without_nodes(tmp_path, ids):
    text = (TEST_DATA / "walk_tiny.osm").read_text(encoding="utf-8")
    for i in ids:
        text = re.sub(rf'\s*<node id="{i}" [^>]*/>', "", text)
    path = tmp_path / "broken.osm"
    path.write_text(text, encoding="utf-8")
    return path


def _cut_off(tmp_path, sides=15):
    """A 60-node street and 15 side streets whose first node is missing: 30 of 90 nodes on islands."""
    nodes = [f'<node id="{i}" lat="31.2" lon="{121.4 + i * 0.0005:.4f}"/>' for i in range(1, 61)]
    street = "".join(f'<nd ref="{i}"/>' for i in range(1, 61))
    ways = [f'<way id="1">{street}<tag k="highway" v="residential"/></way>']
    for k in range(1, sides + 1):
        a, b = 1000 + 2 * k, 1001 + 2 * k
        nodes += [f'<node id="{a}" lat="31.201" lon="{121.4 + 4 * k * 0.0005:.4f}"/>',
                  f'<node id="{b}" lat="31.202" lon="{121.4 + 4 * k * 0.0005:.4f}"/>']
        ways.append(f'<way id="{100 + k}"><nd ref="{4 * k}"/><nd ref="9999"/><nd ref="{a}"/><nd ref="{b}"/>'
                    '<tag k="highway" v="residential"/></way>')
    path = tmp_path / "cut.osm"
    path.write_text('<?xml version="1.0"?><osm version="0.6">' + "".join(nodes + ways) + "</osm>", encoding="utf-8")
    return path


def test_missing_node_references_are_counted_and_a_broken_network_refused(tmp_path):
    net = Network.from_osm(_without_nodes(tmp_path, [7]), cache_dir=tmp_path / "c1")
    assert net.info["node_refs_missing"] == 1  # node 7 of way 13 (way 15, a motorway, is not walked)
    _, said = _caught(check_network, net)
    assert "1 node reference(s) of its ways are missing" in said
    broken, _ = _caught(Network.from_osm, _cut_off(tmp_path), cache_dir=tmp_path / "c2")
    with pytest.raises(NetworkError, match=r"33% of the network's nodes \(30\).*15 node ref.*allow_broken_network="):
        check_network(broken)
    with pytest.warns(UserWarning, match=r".*15 node reference\(s\) of its ways are missing"):
        check_network(broken, allow_broken=True)


def _homes(lon_lat_pop):
    return gpd.GeoDataFrame({"population": [p for _, _, p in lon_lat_pop]},
                            geometry=[Point(x, y) for x, y, _ in lon_lat_pop], crs="EPSG:4326")


def test_a_broken_network_is_measured_by_its_residents_too(tmp_path):
    """Few nodes cut off (2 of 62) but most residents live by them: refused, the message gives both shares."""
    broken, _ = _caught(Network.from_osm, _cut_off(tmp_path, sides=1), cache_dir=tmp_path / "c")
    assert broken.info["dropped"]["nodes"] == 2
    # three homes 20 m north of the cut-off side street's end (lat 31.202), one by the main street (lat 31.2)
    homes = _homes([(121.402, 31.2022, 100.0), (121.4021, 31.2021, 100.0), (121.4019, 31.2022, 100.0),
                    (121.41, 31.2002, 100.0)])
    _caught(check_network, broken)  # by nodes alone (3 %) it passes (warning about the missing reference)
    with pytest.raises(NetworkError, match=r"^cut.osm: 3% of the network's nodes \(2\) are cut off in small islands "
                                           r"and dropped, and with them 75% of the residents near its streets "
                                           r"\(300 of 400\); 1 node ref.*allow_broken_network="):
        check_network(broken, population=homes)
    with pytest.warns(UserWarning, match=r".*1 node reference\(s\) of its ways are missing"):
        check_network(broken, allow_broken=True, population=homes)
    _caught(check_network, broken, population=homes.iloc[[0, 3]].assign(population=[10.0, 90.0]))  # 10 %: goes on
    far = _homes([(121.5, 31.3, 1000.0), (121.41, 31.2002, 100.0)])  # 1,000 residents far from every street
    _caught(check_network, broken, population=pd.concat([homes.iloc[[0]].assign(population=[20.0]), far]))  # 20/120


def test_the_residents_share_is_in_the_nodes_message(tmp_path):
    broken, _ = _caught(Network.from_osm, _cut_off(tmp_path), cache_dir=tmp_path / "c")
    homes = _homes([(121.402, 31.2022, 50.0), (121.41, 31.2002, 150.0)])
    with pytest.raises(NetworkError, match=r"33% of the network's nodes \(30\) .* and with them 25% of the "
                                           r"residents near its streets \(50 of 200\)"):
        check_network(broken, population=homes)


# -- item 18: an empty type filter names the types


def test_empty_type_filter_lists_type_names(tiny_job):
    work, args = tiny_job
    proc = run_siting([*args, "--facility-types", "station", "--out", "out"], cwd=work)
    assert proc.returncode == 2
    assert "counted type(s) station" in proc.stderr and "have type(s): center" in proc.stderr
    assert "['s'" not in proc.stderr


def test_type_names():
    from siting.io.facilities import type_names

    assert type_names("kiosk") == ["kiosk"] and type_names(["center"]) == ["center"]
    with pytest.raises(SitingError, match="unknown facility type"):
        from siting.io.facilities import select_types

        select_types(gpd.GeoDataFrame({"type": []}), "clinik")


def test_summary_json_is_unchanged_by_checks(tiny_job):
    work, args = tiny_job
    proc = run_siting([*args, "--out", "out"], cwd=work)
    assert proc.returncode == 0 and json.loads((work / "out" / "summary.json").read_text())["population_total"] == 150
    assert np.isfinite(json.loads((work / "out" / "summary.json").read_text())["coverage_rate"])


# -- item 23: warnings about the rest of a city-wide file become notes; notebooks silence nothing wholesale


def test_warnings_outside_the_district_become_notes():
    from siting.pipeline import OUTSIDE_AREA, area_warnings

    subs = gpd.GeoDataFrame({"subdistrict": ["斜土路街道", "外滩街道"], "district": ["徐汇区", "黄浦区"]},
                            geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:4326")
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with area_warnings("徐汇区", subs, notes):
            warnings.warn("3 points in 斜土路街道 have no name", AreaWarning, stacklevel=1)
            warnings.warn("8 area(s) of the control totals contain no point: 嘉定区, 闵行区", AreaWarning, stacklevel=1)
            warnings.warn("the coordinates look like BD-09 (whole file)", stacklevel=1)  # not an area warning
    assert [str(w.message) for w in shown] == ["3 points in 斜土路街道 have no name",
                                               "the coordinates look like BD-09 (whole file)"]
    assert notes == [OUTSIDE_AREA + "8 area(s) of the control totals contain no point: 嘉定区, 闵行区"]


@pytest.mark.realdata
def test_main_job_prints_only_warnings_about_xuhui(main_job):
    out, printed = main_job
    assert "contain no point" not in printed and "match no boundary" not in printed
    assert "outside every district" not in printed
    from siting.pipeline import OUTSIDE_AREA

    notes = json.loads((out / "summary.json").read_text(encoding="utf-8"))["notes"]
    outside = [n for n in notes if n.startswith(OUTSIDE_AREA)]
    assert any("match no boundary" in n for n in outside)  # Lianjia 板块 names all over Shanghai
    assert f"{len(outside)} note(s) about data outside the analysed area, see summary.json" in printed


def test_notebooks_do_not_silence_warnings_wholesale(repo_root):
    for path in (repo_root / "notebooks").glob("*.ipynb"):
        text = path.read_text(encoding="utf-8")
        assert 'simplefilter(\\"ignore\\")' not in text and "filterwarnings(\\\"ignore\\\")" not in text, path.name


def test_tests_do_not_silence_warnings_wholesale(repo_root):
    """Tests ignore a warning by category and message (conftest.expected_warnings), never every warning."""
    wholesale = re.compile(r'simplefilter\(\s*"ignore"|filterwarnings\(\s*"ignore::|filterwarnings\(\s*"ignore"\s*\)')
    for path in (repo_root / "tests").glob("*.py"):
        assert not wholesale.search(path.read_text(encoding="utf-8")), path.name


# -- item 24: districts / 街道 with residents and no facility at all


def test_areas_with_residents_and_no_facility_are_named(tiny_job):
    work, args = tiny_job
    gpd.GeoDataFrame({"name": ["西街道", "东街道"], "district": ["甲区", "乙区"]},
                     geometry=[box(121.3995, 31.1995, 121.4015, 31.2025), box(121.4015, 31.1995, 121.4035, 31.2025)],
                     crs="EPSG:4326").to_file(work / "subs.geojson")
    proc = run_siting([a for a in args if a != "-q"] + ["--boundaries", "subs.geojson", "--out", "out"], cwd=work)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((work / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["areas_without_facility"] == {"district": ["乙区"], "subdistrict": ["东街道"]}
    assert "no facility at all in the facility file for district 乙区; subdistrict 东街道" in proc.stdout
