"""Tests for siting.io.demand: population points, 街道 boundaries, census weighting, buildings."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import EMPTY_AREAS, OUTSIDE_AREAS, REPEATED_ROWS, UNTOTALLED_AREAS, expected_warnings
from pyproj import Geod
from shapely.geometry import Point, box

from siting.errors import ColumnError, InputFileError, SitingError
from siting.io import demand

LIANJIA = "population/lianjia_xiaoqu_shanghai_2018_bd09.json"
BOUNDARIES = "boundaries/shanghai_subdistricts_osm_8districts.geojson"
CENSUS = "population/shanghai_district_population_census.csv"
TONGJI = "osm/shanghai_tongji_siping_campus_export.osm"
#: 小区 per district after BD-09 → WGS84 and the 街道 join (population/PROVENANCE.md).
PROVENANCE_COUNTS = {"徐汇区": 1053, "长宁区": 914, "静安区": 1032, "黄浦区": 645}


# --- real Shanghai data -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def xiaoqu(shanghai: Path) -> gpd.GeoDataFrame:
    with expected_warnings(REPEATED_ROWS):
        return demand.read_population(shanghai / LIANJIA, crs="bd09")


@pytest.fixture(scope="module")
def boundaries(shanghai: Path) -> gpd.GeoDataFrame:
    return demand.read_boundaries(shanghai / BOUNDARIES)


@pytest.fixture(scope="module")
def joined(xiaoqu: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return demand.assign_areas(xiaoqu, boundaries)


@pytest.fixture(scope="module")
def census(shanghai: Path) -> pd.DataFrame:
    return demand.read_census(shanghai / CENSUS)


def test_lianjia_is_12277_unweighted_wgs84_points(xiaoqu: gpd.GeoDataFrame) -> None:
    assert len(xiaoqu) == 12_277
    assert (xiaoqu.geom_type == "Point").all() and xiaoqu.crs.to_epsg() == 4326
    assert xiaoqu["population"].isna().all() and xiaoqu.attrs["weighted"] is False
    assert {"title", "district", "subdistrict", "link", "source_row"} <= set(xiaoqu.columns)
    # BD-09 → WGS84 moves points south-west by several hundred metres; first raw point vs converted
    raw_lng = xiaoqu["lng"].to_numpy()
    assert 0.008 < float(np.median(raw_lng - xiaoqu.geometry.x.to_numpy())) < 0.015


def test_boundaries_are_113_subdistricts(boundaries: gpd.GeoDataFrame) -> None:
    assert list(boundaries.columns) == ["subdistrict", "district", "geometry"]
    assert len(boundaries) == 113
    assert boundaries["district"].value_counts()["浦东新区"] == 36
    assert "虹梅路街道" in set(boundaries["subdistrict"])


def test_join_matches_provenance_counts(xiaoqu: gpd.GeoDataFrame, joined: gpd.GeoDataFrame) -> None:
    assert len(joined) == len(xiaoqu) and joined.index.equals(xiaoqu.index)
    counts = joined["district"].value_counts()
    for district, expected in PROVENANCE_COUNTS.items():
        assert abs(int(counts[district]) - expected) <= 2, (district, counts[district])
    four = joined[joined["district"].isin(list(PROVENANCE_COUNTS))]
    per_street = four.groupby("subdistrict").size()
    assert len(per_street) == 47 and per_street.min() >= 14
    assert per_street["虹梅路街道"] == 14
    # Lianjia's own labels are kept aside, not used: 闸北 points are joined to 静安区
    assert "district_input" in joined.columns
    zhabei = joined[joined["district_input"] == "闸北"]
    assert (zhabei["district"] == "静安区").mean() > 0.95
    assert joined["district"].isna().sum() > 3000  # Minhang, Baoshan... are not in the 8-district file


def test_read_census(census: pd.DataFrame, shanghai: Path) -> None:
    assert len(census) == 16 and list(census.columns[:2]) == ["area", "population"]
    assert census["population"].sum() == 24_870_895
    assert demand.read_census(shanghai / CENSUS, column="pop_census_2010")["population"].sum() == 23_019_196


def test_census_weighting_gives_equal_shares(joined: gpd.GeoDataFrame, census: pd.DataFrame) -> None:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        weighted = demand.weight_by_census(joined, census)
    messages = " ".join(str(w.message) for w in record)
    assert "8 area(s) of the control totals contain no point" in messages and "闵行区" in messages
    assert "3980 point(s) lie outside every district" in messages
    xuhui = weighted.loc[weighted["district"] == "徐汇区", "population"]
    assert xuhui.sum() == pytest.approx(1_113_078, rel=1e-12)
    assert np.allclose(xuhui, 1_113_078 / len(xuhui))
    assert weighted.attrs["unit"] == "residents"
    assert weighted.loc[weighted["district"].isna(), "population"].isna().all()
    assert sorted(weighted.attrs["areas_without_points"])[:2] == ["嘉定区", "奉贤区"]
    eight = weighted["population"].sum()
    assert eight == pytest.approx(census.set_index("area").loc[list(joined["district"].dropna().unique()),
                                                               "population"].sum())


def test_restrict_to_xuhui(joined: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame) -> None:
    for name in ("徐汇区", "徐汇", "Xuhui", "xuhui district"):
        pts, areas = demand.restrict_to_district(joined, boundaries, name)
        assert len(areas) == 13 and "虹梅路街道" in set(areas["subdistrict"])
        assert len(pts) == 1053 and (pts["district"] == "徐汇区").all()
    with pytest.raises(SitingError, match="徐汇区.*|.*徐汇区") as info:
        demand.restrict_to_district(joined, boundaries, "闵行区")
    assert "浦东新区" in str(info.value)


def test_restrict_joins_raw_points_first(xiaoqu: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame) -> None:
    pts, _ = demand.restrict_to_district(xiaoqu, boundaries, "黄浦")  # raw Lianjia labels are not used
    assert len(pts) == 645 and (pts["district"] == "黄浦区").all()


def test_no_totals_counts_locations(joined: gpd.GeoDataFrame, census: pd.DataFrame) -> None:
    located = demand.prepare_population(joined)
    assert located.attrs["unit"] == "locations" and (located["population"] == 1).all()
    assert located["population"].sum() == 12_277
    with expected_warnings(EMPTY_AREAS, OUTSIDE_AREAS):  # 8 districts outside the sample, points outside Shanghai
        residents = demand.prepare_population(joined, census)
    assert residents.attrs["unit"] == "residents"
    assert residents.loc[residents["district"] == "黄浦区", "population"].sum() == pytest.approx(662_030)


# --- planner files --------------------------------------------------------------------------------------

def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "homes.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "row", "column"),
    [
        ("121.40,31.20,100\n121.41,31.21,-5\n", 3, "population"),  # negative
        ("121.40,31.20,100\n121.41,31.21,\n", 3, "population"),  # empty → NaN
        ("121.40,31.20,many\n121.41,31.21,7\n", 2, "population"),  # text
    ],
)
def test_bad_population_values_name_column_and_row(tmp_path: Path, body: str, row: int, column: str) -> None:
    path = _csv(tmp_path, "lon,lat,population\n" + body)
    with pytest.raises(ColumnError) as info:
        demand.read_population(path)
    message = str(info.value)
    assert str(path) in message and repr(column) in message and f"[{row}]" in message


def test_population_column_detection(tmp_path: Path) -> None:
    pts = demand.read_population(_csv(tmp_path, "lng,lat,常住人口,name\n121.40,31.20,250,甲\n121.41,31.21,0,乙\n"))
    assert pts["population"].tolist() == [250.0, 0.0] and pts["常住人口"].tolist() == [250, 0]
    assert pts.attrs["unit"] == "residents" and list(pts.columns[:1]) == ["population"]
    given = demand.read_population(_csv(tmp_path, "lon,lat,hh,pop\n121.40,31.20,3,-1\n"), population_column="hh")
    assert given["population"].tolist() == [3.0]
    with pytest.raises(ColumnError, match="'nope'"):
        demand.read_population(_csv(tmp_path, "lon,lat\n121.40,31.20\n"), population_column="nope")


def test_polygon_population_file(test_data: Path) -> None:
    with pytest.warns(UserWarning, match=r".*2 population polygon\(s\) exceed 0.25 km² .*spread_polygons=True"):
        pts = demand.read_population(test_data / "demand_polygons.geojson")
    polygons = gpd.read_file(test_data / "demand_polygons.geojson")
    assert (pts.geom_type == "Point").all()
    assert pts["population"].tolist() == [1200.0, 800.5] and pts["name"].tolist() == ["康健新村", "L-shaped block"]
    assert all(poly.contains(pt) for poly, pt in zip(polygons.geometry, pts.geometry, strict=True))
    assert not polygons.geometry[1].contains(polygons.geometry[1].centroid)  # why representative_point


# --- joins and weighting on hand-made areas -----------------------------------------------------------

@pytest.fixture()
def areas(test_data: Path) -> gpd.GeoDataFrame:
    return demand.read_boundaries(test_data / "demand_areas.geojson")


def _points(*xy: tuple[float, float], index: list[str] | None = None) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"population": [np.nan] * len(xy)}, geometry=[Point(x, y) for x, y in xy],
                            crs="EPSG:4326", index=index)


def test_read_boundaries_columns(areas: gpd.GeoDataFrame, test_data: Path) -> None:
    assert areas["subdistrict"].tolist() == ["西街道", "东街道", "北镇"]
    assert areas["district"].tolist() == ["甲区", "甲区", "乙区"]
    with pytest.raises(ColumnError, match="'名称'"):
        demand.read_boundaries(test_data / "demand_areas.geojson", name_column="名称")


def test_assign_areas_edges_outside_and_index(areas: gpd.GeoDataFrame) -> None:
    pts = _points((121.405, 31.105), (121.41, 31.105), (121.41, 31.11), (121.50, 31.0),
                  index=["a", "edge", "corner", "out"])
    out = demand.assign_areas(pts, areas)
    assert list(out.index) == ["a", "edge", "corner", "out"]  # no duplicated rows, order kept
    assert out["subdistrict"].tolist() == ["西街道", "西街道", "西街道", None]
    assert out["district"].tolist()[-1] is None


def test_district_key_normalisation() -> None:
    keys = {demand.district_key(n) for n in ("徐汇区", "徐汇", "Xuhui", " Xuhui District ")}
    assert keys == {"徐汇"}
    assert demand.district_key("浦东新区") == demand.district_key("浦东") == demand.district_key("Pudong")
    assert demand.district_key("闸北") == demand.district_key("静安区")
    assert demand.district_key(None) is None


def test_weighting_warnings_proportional_and_rescale(areas: gpd.GeoDataFrame) -> None:
    pts = demand.assign_areas(_points((121.401, 31.101), (121.402, 31.102), (121.415, 31.105),
                                      (121.41, 31.115), (121.5, 31.0)), areas)
    totals = pd.DataFrame({"area": ["西街道", "东街道", "南街道"], "population": [1000, 600, 50]})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = demand.weight_by_census(pts, totals, level="subdistrict")
    text = " ".join(str(w.message) for w in record)
    assert "南街道" in text and "北镇 (1)" in text and "1 point(s) lie outside" in text
    assert out["population"].tolist()[:3] == [500.0, 500.0, 600.0]
    assert np.isnan(out["population"].iloc[3]) and np.isnan(out["population"].iloc[4])
    pts["households"] = [1, 3, 2, 1, 1]
    with expected_warnings(EMPTY_AREAS, UNTOTALLED_AREAS, OUTSIDE_AREAS):  # the three checked above
        prop = demand.weight_by_census(pts, totals, level="subdistrict", weight_column="households")
        again = demand.rescale_to_totals(prop.assign(population=prop["population"] * 7), totals,
                                         level="subdistrict")
    assert prop["population"].tolist()[:3] == [250.0, 750.0, 600.0]
    assert again["population"].tolist()[:3] == pytest.approx([250.0, 750.0, 600.0])
    with pytest.raises(ColumnError, match=r"'households'.*source_row\(s\) \[2\]"):
        demand.weight_by_census(pts.assign(households=[1, -3, 2, 1, 1], source_row=range(1, 6)), totals,
                                level="subdistrict", weight_column="households")
    with pytest.raises(InputFileError, match="no subdistrict name"):
        demand.weight_by_census(pts, totals.assign(area=["x", "y", "z"]), level="subdistrict")
    with pytest.raises(ColumnError, match="assign_areas"):
        demand.weight_by_census(_points((121.4, 31.1)), totals)


# --- OpenStreetMap: admin boundaries and buildings ------------------------------------------------------

GEOD = Geod(ellps="WGS84")


def _geodesic_area(geometry: object) -> float:
    return abs(GEOD.geometry_area_perimeter(geometry)[0])


def test_boundaries_from_osm_fixture(test_data: Path) -> None:
    out = demand.boundaries_from_osm(test_data / "demand_admin.osm")
    assert list(out.columns) == ["subdistrict", "district", "geometry"]
    assert sorted(out["subdistrict"]) == ["乙镇", "甲街道"]  # the closed way and the relation; not level 10
    assert out["district"].tolist() == ["测试区", "测试区"]
    assert out.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    by_name = out.set_index("subdistrict").geometry
    assert by_name["乙镇"].contains(Point(121.43, 31.11)) and not by_name["甲街道"].contains(Point(121.43, 31.11))
    pts = demand.assign_areas(_points((121.41, 31.11), (121.43, 31.11), (121.438, 31.118)), out)
    assert pts["subdistrict"].tolist() == ["甲街道", "乙镇", None]


def test_boundaries_from_osm_real_export(shanghai: Path) -> None:
    out = demand.boundaries_from_osm(shanghai / TONGJI)  # the campus export: whatever it holds, no crash
    assert list(out.columns) == ["subdistrict", "district", "geometry"]
    assert out.crs is not None and out.crs.to_epsg() == 4326


def test_buildings_by_hand(test_data: Path) -> None:
    pts = demand.population_from_buildings(test_data / "demand_buildings.osm")
    assert pts["building"].tolist() == ["apartments", "house"]  # building=yes is not counted
    assert (pts.geom_type == "Point").all() and pts.attrs["unit"] == "residents"
    area = _geodesic_area(box(121.4, 31.2, 121.4005, 31.2005))  # independent of the UTM projection
    assert 2500 < area < 2800
    assert pts["footprint_m2"].iloc[0] == pytest.approx(area, rel=1e-3)
    assert pts["population"].iloc[0] == pytest.approx(area * 10 / 37, rel=1e-3)  # tagged 10 levels
    assert pts["population"].iloc[1] == pytest.approx(_geodesic_area(box(121.4, 31.201, 121.4005, 31.2015))
                                                      * 6 / 37, rel=1e-3)  # default 6 levels
    assert pts["levels_tagged"].tolist() == [True, False]
    denser = demand.population_from_buildings(test_data / "demand_buildings.osm", floor_area_per_resident=20,
                                              default_levels=3)
    assert denser["population"].iloc[1] == pytest.approx(pts["population"].iloc[1] * 37 / 20 / 2)


def _check_real_buildings(pts: gpd.GeoDataFrame, source: Path) -> None:
    from siting.io._osm import read_osm_features

    assert len(pts) > 0 and pts["population"].gt(0).all()
    row = pts[pts["levels_tagged"]].iloc[0] if pts["levels_tagged"].any() else pts.iloc[0]
    feats = read_osm_features(source, lambda t: t.get("building") == row["building"], areas=True)
    footprint = feats.loc[(feats["osm_id"] == row["osm_id"]) & (feats["osm_type"] == row["osm_type"])].geometry
    by_hand = _geodesic_area(footprint.iloc[0]) * row["levels"] / 37
    assert row["population"] == pytest.approx(by_hand, rel=2e-3)
    assert footprint.iloc[0].contains(row.geometry)


def test_buildings_tongji(shanghai: Path, boundaries: gpd.GeoDataFrame) -> None:
    pts = demand.population_from_buildings(shanghai / TONGJI)
    assert len(pts) == 74  # of 221 buildings: 36 apartments, 17 dormitory, 12 house, 9 residential
    assert pts["building"].value_counts()["dormitory"] == 17
    _check_real_buildings(pts, shanghai / TONGJI)
    placed = demand.assign_areas(pts, boundaries)  # the export straddles 杨浦 四平路 and 虹口 曲阳路
    assert set(placed["subdistrict"]) == {"四平路街道", "曲阳路街道"}
    totals = pd.DataFrame({"area": ["四平路街道", "曲阳路街道"], "population": [10_000, 4_000]})
    scaled = demand.rescale_to_totals(placed, totals, level="subdistrict")
    assert scaled.groupby("subdistrict")["population"].sum().to_dict() == pytest.approx(
        {"四平路街道": 10_000, "曲阳路街道": 4_000})
    siping = (scaled["subdistrict"] == "四平路街道").to_numpy()
    ratio = (scaled["population"] / pts["population"])[siping]
    assert np.allclose(ratio, ratio.iloc[0]) and ratio.iloc[0] > 1  # proportional: shares kept


def test_buildings_helsinki(helsinki_pbf: Path) -> None:
    pts = demand.population_from_buildings(helsinki_pbf)
    assert len(pts) == 21 and pts["levels_tagged"].sum() == 18  # explicit residential types only
    assert (pts["osm_type"] == "relation").sum() == 5  # multipolygon buildings are counted too
    _check_real_buildings(pts, helsinki_pbf)
    _check_real_buildings(pts[pts["osm_type"] == "relation"], helsinki_pbf)


@pytest.mark.realdata
def test_shu_campus_buildings(shanghai):
    """SHU Baoshan export: its residential buildings (dormitories, apartments) become residents."""
    from siting.io.demand import population_from_buildings

    pts = population_from_buildings(shanghai / "osm/shanghai_shu_baoshan_campus_export.osm")
    assert len(pts) == 33 and set(pts["building"]) <= {"dormitory", "apartments", "residential", "house"}
    assert (pts["population"] > 0).all()
    row = pts.iloc[0]
    assert row["population"] == pytest.approx(row["footprint_m2"] * row["levels"] / 37.0)
