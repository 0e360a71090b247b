"""Facilities: classification, OSM and planner files, CRS handling, errors, offset detection."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from siting.errors import ColumnError, CRSError, SitingError
from siting.io import coords
from siting.io.facilities import (
    DEFAULT_TYPES,
    FACILITY_TYPES,
    check_offset,
    classify_facility,
    facilities_from_osm,
    normalize_type,
    read_facilities,
    select_types,
)

GEOD = Geod(ellps="WGS84")


def metres(a: gpd.GeoSeries, b: gpd.GeoSeries) -> np.ndarray:
    return np.asarray(GEOD.inv(a.x.to_numpy(), a.y.to_numpy(), b.x.to_numpy(), b.y.to_numpy())[2])


@pytest.mark.parametrize("name,tags,expected", [
    ("徐汇区斜土街道社区卫生服务中心", None, "center"),
    ("古美社区卫生服务中心", None, "center"),
    ("浦东新区金杨新村街道社区卫生服务中心", {"amenity": "clinic"}, "center"),
    ("崇明区港西镇卫生院", None, "center"),
    ("凌云街道社区卫生服务中心梅陇分中心", None, "subcenter"),
    ("康健街道社区卫生服务中心长桥分中心", {"amenity": "clinic"}, "subcenter"),
    ("万源城社区卫生服务站", None, "station"),
    ("田林街道长春社区卫生服务点", None, "station"),
    ("金山区朱泾镇待泾村卫生站", None, "station"),
    ("奉贤区庄行镇新叶村卫生室", None, "village_clinic"),
    ("马陆镇大裕村卫生室", None, "village_clinic"),
    ("枫林街道智慧健康驿站", None, "kiosk"),
    ("斜土街道健康驿站", None, "kiosk"),
    ("康健社区健康小屋", None, "kiosk"),
    ("同济大学校医院", {"amenity": "hospital"}, "hospital"),
    ("上海大学校医院", {"building": "hospital"}, "hospital"),
    ("复旦大学附属中山医院", None, "hospital"),
    ("上海市疾病预防控制中心", None, "other"),
    ("徐汇区疾病预防控制中心", None, "other"),
    ("徐汇区疾控", None, "other"),
    ("上海市精神卫生中心", None, "other"),
    ("某某口腔诊所", None, "other"),
    ("Vita Lääkäriasema", {"amenity": "clinic"}, "other"),
    ("Mehiläinen", {"amenity": "doctors"}, "other"),
    (None, {"healthcare": "hospital"}, "hospital"),
    (None, None, "other"),
    ("Xietu Community Health Service Center", None, "center"),
])
def test_classify_facility(name, tags, expected) -> None:
    assert classify_facility(name, tags) == expected


@pytest.mark.parametrize("value,expected", [
    ("community_health_service_center", "center"), ("Community Health Service Station", "station"),
    ("centre", "center"), ("中心", "center"), ("分中心", "subcenter"), ("站", "station"),
    ("卫生室", "village_clinic"), ("驿站", "kiosk"), ("cdc", "other"), ("HOSPITAL", "hospital"),
    ("sub-center", "subcenter"),
])
def test_normalize_type(value, expected) -> None:
    assert normalize_type(value) == expected


def test_unknown_type_names_file_row_value_and_accepted(tmp_path) -> None:
    with pytest.raises(ColumnError, match=r"'pharmacy'.*accepted: center, subcenter, station"):
        normalize_type("pharmacy")
    path = tmp_path / "fac.csv"
    pd.DataFrame({"name": ["A中心", "B站", "C"], "type": ["center", "station", "药店"],
                  "lon": [121.40, 121.41, 121.42], "lat": [31.20, 31.21, 31.22]}).to_csv(path, index=False)
    with pytest.raises(ColumnError, match=r"fac\.csv.*'药店' in row 4 \(header = row 1\).*accepted"):
        read_facilities(path)


def test_select_types(tmp_path) -> None:
    fac = gpd.GeoDataFrame({"type": list(FACILITY_TYPES)}, geometry=gpd.points_from_xy(range(7), range(7)))
    assert select_types(fac)["type"].tolist() == list(DEFAULT_TYPES)
    assert len(select_types(fac, "all")) == 7
    assert select_types(fac, "center,kiosk")["type"].tolist() == ["center", "kiosk"]
    with pytest.raises(SitingError, match=r"\['clinic'\].*accepted: center"):
        select_types(fac, ["center", "clinic"])


@pytest.mark.realdata
def test_xuhui_csv_bd09(shanghai) -> None:
    fac = read_facilities(shanghai / "facilities" / "xuhui_chc_healthxuhui.csv", crs="bd09")
    assert len(fac) == 15
    assert fac["type"].value_counts().to_dict() == {"center": 13, "other": 2}
    cdcs = fac[fac["type_raw"] == "cdc"]
    assert cdcs["type"].eq("other").all() and cdcs["name"].str.contains("中心").all()
    assert fac["facility_id"].tolist() == [str(i) for i in range(1, 16)]
    assert {"id", "address", "short_name", "postcode", "source_row"} <= set(fac.columns)  # planner columns kept
    assert (fac["source"] == "xuhui_chc_healthxuhui.csv").all()
    assert fac.crs.to_epsg() == 4326 and (fac.geom_type == "Point").all()
    # ~1.1 km BD-09 shift (PROVENANCE), in WGS84 now
    raw = gpd.GeoSeries(gpd.points_from_xy(fac["lon_bd09"], fac["lat_bd09"]), crs=4326)
    assert 900 < np.median(metres(raw, fac.geometry)) < 1300
    assert len(select_types(fac)) == 13


@pytest.mark.realdata
def test_minhang_gumei_bd09_columns(shanghai) -> None:
    path = shanghai / "facilities" / "minhang_gumei_chc_stations_organold.csv"
    fac = read_facilities(path, crs="bd09")  # detection picks lon_bd09/lat_bd09 (not *_wgs84_derived)
    assert fac["type"].value_counts().to_dict() == {"station": 6, "center": 1}
    assert fac["facility_id"].tolist() == [f"row:{i}" for i in range(1, 8)]  # the file has no id column
    derived = gpd.GeoSeries(gpd.points_from_xy(fac["lon_wgs84_derived"], fac["lat_wgs84_derived"]), crs=4326)
    assert metres(fac.geometry, derived).max() < 1.0  # same conversion, rounded to 6 decimals there
    with pytest.raises(CRSError, match=r"'lon_bd09' is named bd09 but facility_crs='wgs84'.*facility_crs='bd09'"):
        read_facilities(path)  # BD-09-named columns silently read as WGS84 would shift everything ~1 km
    explicit = read_facilities(path, lon_col="lon_wgs84_derived", lat_col="lat_wgs84_derived")
    assert metres(explicit.geometry, fac.geometry).max() < 1.0
    with pytest.raises(ColumnError, match="'nope'"):
        read_facilities(path, lon_col="nope", lat_col="lat_bd09")


@pytest.mark.realdata
def test_tongji_campus_hospital(shanghai) -> None:
    fac = facilities_from_osm(shanghai / "osm" / "shanghai_tongji_siping_campus_export.osm")
    assert fac["facility_id"].tolist() == ["osm:way/188231251"]
    row = fac.iloc[0]
    assert (row["name"], row["type"], row["source"], row["osm_type"]) == ("同济大学校医院", "hospital", "osm", "way")
    assert row.geometry.geom_type == "Point"
    assert shapely.box(121.4915, 31.2809, 121.5033, 31.2895).contains(row.geometry)  # the export's bounds


@pytest.mark.realdata
def test_shu_clinic_found_only_by_building_and_name(shanghai) -> None:
    path = shanghai / "osm" / "shanghai_shu_baoshan_campus_export.osm"
    fac = read_facilities(path)
    assert fac["facility_id"].tolist() == ["osm:way/696699050"]
    assert fac.iloc[0]["name"] == "上海大学校医院" and fac.iloc[0]["type"] == "hospital"
    from siting.io._osm import read_osm_features

    tagged = read_osm_features(path, lambda t: t.get("amenity") in ("clinic", "hospital", "doctors")
                               or "healthcare" in t)
    assert tagged.empty  # the tag rules alone miss it
    with pytest.raises(CRSError, match="always WGS84"):
        read_facilities(path, crs="bd09")


def test_helsinki_pbf_facilities(helsinki_pbf) -> None:
    fac = read_facilities(helsinki_pbf)
    assert len(fac) == 11  # 3 clinics + 3 doctors + 6 healthcare=* (Dextra carries both) = 11 nodes
    assert set(fac["osm_type"]) == {"node"} and set(fac["type"]) == {"other"}
    assert "osm:node/5992298306" in set(fac["facility_id"])  # Vita Lääkäriasema, amenity=clinic
    assert select_types(fac).empty  # none of them is primary care in the Shanghai sense


def test_osm_fixture_rules(test_data) -> None:
    fac = facilities_from_osm(test_data / "osm_features.osm")
    got = dict(zip(fac["facility_id"], fac["type"], strict=True))
    assert got == {
        "osm:node/5": "station",        # amenity=clinic + name
        "osm:node/6": "station",        # name only (社区卫生服务点)
        "osm:way/100": "hospital",      # named building=hospital
        "osm:way/104": "hospital",      # amenity=hospital site; ward building way/105 inside it is dropped
        "osm:relation/200": "center",   # multipolygon healthcare=centre -> centroid
    }  # bakery (node 7) and the bus stop named after a centre (node 18) are not facilities
    assert (fac.geom_type == "Point").all()
    centre = fac.set_index("facility_id").geometry["osm:relation/200"]
    # centroid of a 0.004 x 0.003 deg rectangle (centre 121.442, 31.1975) with a 0.001 deg hole west of
    # its centre: pushed east by 0.0005 / 11 deg
    assert centre.x == pytest.approx(121.442 + 0.0005 / 11, abs=1e-6)
    assert centre.y == pytest.approx(31.1975, abs=1e-6)


def _write_truth(tmp_path, kind: str):
    lon = np.array([121.4373, 121.4601, 121.4200])
    lat = np.array([31.1880, 31.2050, 31.1500])
    x, y = coords.from_wgs84(lon, lat, kind)
    frame = pd.DataFrame({"id": ["a", "b", "c"], "名称": ["甲社区卫生服务中心", "乙社区卫生服务站", "丙村卫生室"],
                          "lng": x, "lat": y, "address": ["1号", "2号", "3号"]})
    return frame, gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326)


@pytest.mark.parametrize("kind", ["gcj02", "bd09"])
def test_converted_files_land_on_the_truth(tmp_path, kind) -> None:
    frame, truth = _write_truth(tmp_path, kind)
    frame.to_csv(tmp_path / "fac.csv", index=False)
    fac = read_facilities(tmp_path / "fac.csv", crs=kind)
    assert metres(fac.geometry, truth).max() < 1.0
    assert fac["type"].tolist() == ["center", "station", "village_clinic"]  # from the names (no type column)
    assert fac["name"].tolist() == frame["名称"].tolist() and fac["address"].tolist() == ["1号", "2号", "3号"]
    assert metres(read_facilities(tmp_path / "fac.csv").geometry, truth).min() > 300  # read as WGS84: off


def test_excel_and_geojson_round_trip(tmp_path) -> None:
    frame, truth = _write_truth(tmp_path, "wgs84")
    frame["类型"] = ["社区卫生服务中心", "station", "村卫生室"]
    frame.to_excel(tmp_path / "fac.xlsx", index=False)
    xl = read_facilities(tmp_path / "fac.xlsx")
    assert xl["facility_id"].tolist() == ["a", "b", "c"]
    assert xl["type"].tolist() == ["center", "station", "village_clinic"]
    assert metres(xl.geometry, truth).max() < 1e-3

    out = tmp_path / "fac.geojson"
    xl.drop(columns=["lng", "lat"]).to_file(out, driver="GeoJSON")
    back = read_facilities(out)
    assert back["facility_id"].tolist() == ["a", "b", "c"] and back["type"].tolist() == xl["type"].tolist()
    assert metres(back.geometry, truth).max() < 1e-3

    # polygons (e.g. a site outline) become their centroid
    poly = gpd.GeoDataFrame({"name": ["丁社区卫生服务中心"]}, geometry=[truth.iloc[0].buffer(0.001)], crs=4326)
    poly.to_file(tmp_path / "site.geojson", driver="GeoJSON")
    site = read_facilities(tmp_path / "site.geojson")
    assert site.geom_type.tolist() == ["Point"] and metres(site.geometry, truth.iloc[:1]).max() < 1.0
    assert site["facility_id"].tolist() == ["row:1"]


def test_duplicated_ids_name_values_and_rows(tmp_path) -> None:
    path = tmp_path / "dup.csv"
    pd.DataFrame({"id": [7, 8, 7, 9, 8], "name": list("ABCDE"), "lon": [121.4] * 5, "lat": [31.2] * 5}).to_csv(
        path, index=False)
    expected = r"dup\.csv.*duplicated ids: '7' in rows \[2, 4\]; '8' in rows \[3, 6\] \(header = row 1\)"
    with pytest.raises(ColumnError, match=expected):
        read_facilities(path)


def test_missing_name_column_lists_found_and_expected(tmp_path) -> None:
    path = tmp_path / "noname.csv"
    pd.DataFrame({"title": ["A"], "lon": [121.4], "lat": [31.2]}).to_csv(path, index=False)
    with pytest.raises(ColumnError, match=r"noname\.csv.*expected one of name, 名称, 机构名称.*found: title, lon, lat"):
        read_facilities(path)
    path.write_text("name,lon,lat\nA,121.4,31.2\n,121.5,31.3\n", encoding="utf-8")
    with pytest.raises(ColumnError, match=r"'name' is empty in row\(s\) \[3\] \(header = row 1\)"):
        read_facilities(path)


def _xuhui_centres(shanghai):
    table = pd.read_csv(shanghai / "facilities" / "xuhui_chc_healthxuhui.csv")
    table = table[table["type"] == "community_health_service_center"]
    subs = gpd.read_file(shanghai / "boundaries" / "shanghai_subdistricts_osm_8districts.geojson")
    subs = subs[subs["district"] == "徐汇区"].set_index("osm_name")
    own = [subs.geometry[next(n for n in subs.index if n.startswith(s))] for s in table["short_name"]]
    return table, gpd.GeoSeries(own, index=table.index, crs=4326), subs


@pytest.mark.realdata
def test_check_offset_flags_bd09_given_as_wgs84(shanghai) -> None:
    table, own, subs = _xuhui_centres(shanghai)
    as_given = gpd.GeoSeries(gpd.points_from_xy(table["lon_bd09"], table["lat_bd09"]), index=table.index, crs=4326)
    with pytest.warns(UserWarning, match=r"xuhui\.csv.*look like BD-09.*facility_crs='bd09'"):
        assert check_offset(as_given, own, "xuhui.csv") == "bd09"
    x, y = coords.to_wgs84(table["lon_bd09"], table["lat_bd09"], "bd09")
    correct = gpd.GeoSeries(gpd.points_from_xy(x, y), index=table.index, crs=4326)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_offset(correct, own, "xuhui.csv") is None
    # against Xuhui's outline (not aligned): raw points spill out of the district (mean 86 m vs 0 m)
    with pytest.warns(UserWarning, match="BD-09"):
        assert check_offset(as_given, subs.geometry.union_all(), "xuhui.csv") == "bd09"


def test_check_offset_against_street_lines_and_outside_china() -> None:
    # a synthetic street grid (lines every 100 m) and 40 facilities 5 m from a street, in WGS84
    rng = np.random.default_rng(0)
    lon0, lat0 = 121.40, 31.15
    dlat = 100 / 111_000
    lines = [shapely.LineString([(lon0, lat0 + i * dlat), (lon0 + 0.1, lat0 + i * dlat)]) for i in range(0, 110, 10)]
    streets = gpd.GeoSeries(lines, crs=4326)  # every 1 km: a sparse reference, offsets of ~500 m stand out
    rows = rng.integers(1, 10, 40) * 10
    truth = gpd.GeoSeries(gpd.points_from_xy(lon0 + rng.uniform(0.01, 0.09, 40),
                                             lat0 + rows * dlat + 5 / 111_000), crs=4326)
    gx, gy = coords.from_wgs84(truth.x, truth.y, "gcj02")
    with pytest.warns(UserWarning, match="GCJ-02"):
        assert check_offset(gpd.GeoSeries(gpd.points_from_xy(gx, gy), crs=4326), streets) == "gcj02"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_offset(truth, streets) is None
        helsinki = gpd.GeoSeries(gpd.points_from_xy([24.94, 24.95], [60.17, 60.16]), crs=4326)
        assert check_offset(helsinki, shapely.Point(24.94, 60.17).buffer(0.001)) is None
