"""Coordinate columns by any usual name (经度/纬度, lng, longitude, x/y in the declared system) in facility,
population and candidate tables; scenario-file numbers explained in plain numbers (≥ 0, not > -1e-12)."""

from __future__ import annotations

import numpy as np
import pytest

import siting
from siting.engine.targets import load_targets
from siting.errors import ColumnError, ScenarioError
from siting.io.coords import from_wgs84
from siting.plan.candidates import read_candidates

LON, LAT = [121.4368, 121.4520], [31.1915, 31.1960]
#: (lon column, lat column) headers as planners write them: each must be read as the coordinates.
ALIASES = [("经度", "纬度"), ("lon", "lat"), ("lng", "lat"), ("Longitude", "Latitude"), ("x", "y"),
           ("经度_bd09", "纬度_bd09")]


def _csv(path, header: tuple[str, str], lon, lat, *, first: str, values: list[str]) -> None:
    lines = [f"{first},{header[0]},{header[1]}"]
    lines += [f"{v},{x:.8f},{y:.8f}" for v, x, y in zip(values, lon, lat, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _xy(gdf) -> np.ndarray:
    return np.column_stack([gdf.geometry.x, gdf.geometry.y])


@pytest.mark.parametrize("header", ALIASES, ids=["-".join(h) for h in ALIASES])
def test_facility_table_coordinates_by_alias(tmp_path, header):
    crs = "bd09" if header[0].endswith("_bd09") else "wgs84"
    lon, lat = from_wgs84(LON, LAT, crs)
    path = tmp_path / "centres.csv"
    _csv(path, header, lon, lat, first="名称", values=["徐家汇社区卫生服务中心", "枫林街道社区卫生服务中心"])
    fac = siting.read_facilities(path, crs=crs)
    assert fac["name"].tolist() == ["徐家汇社区卫生服务中心", "枫林街道社区卫生服务中心"]
    assert fac["type"].tolist() == ["center", "center"]
    np.testing.assert_allclose(_xy(fac), np.column_stack([LON, LAT]), atol=1e-5)  # BD-09 inverted to WGS84


@pytest.mark.parametrize("header", ALIASES, ids=["-".join(h) for h in ALIASES])
def test_population_table_coordinates_by_alias(tmp_path, header):
    crs = "bd09" if header[0].endswith("_bd09") else "wgs84"
    lon, lat = from_wgs84(LON, LAT, crs)
    path = tmp_path / "homes.csv"
    _csv(path, header, lon, lat, first="人口", values=["120", "80"])
    pop = siting.read_population(path, crs)
    assert pop["population"].tolist() == [120.0, 80.0]
    np.testing.assert_allclose(_xy(pop), np.column_stack([LON, LAT]), atol=1e-5)


@pytest.mark.parametrize("header", ALIASES, ids=["-".join(h) for h in ALIASES])
def test_candidate_table_coordinates_by_alias(tmp_path, header):
    crs = "bd09" if header[0].endswith("_bd09") else "wgs84"
    lon, lat = from_wgs84(LON, LAT, crs)
    path = tmp_path / "sites.csv"
    _csv(path, header, lon, lat, first="名称", values=["空地一", "空地二"])
    cand = read_candidates(path, crs)
    assert cand["name"].tolist() == ["空地一", "空地二"]
    np.testing.assert_allclose(_xy(cand), np.column_stack([LON, LAT]), atol=1e-5)


def test_gcj02_x_y_are_shifted_like_lon_lat(tmp_path):
    """x/y with a declared system: the same points as lon/lat in that system (not read as WGS84)."""
    lon, lat = from_wgs84(LON, LAT, "gcj02")
    for header in [("x", "y"), ("lon", "lat")]:
        path = tmp_path / f"{header[0]}.csv"
        _csv(path, header, lon, lat, first="name", values=["A", "B"])
        np.testing.assert_allclose(_xy(siting.read_facilities(path, crs="gcj02")), np.column_stack([LON, LAT]),
                                   atol=1e-5)


def test_no_coordinate_columns_lists_the_accepted_names(tmp_path):
    path = tmp_path / "centres.csv"
    path.write_text("名称,东,北\nA,121.44,31.19\n", encoding="utf-8")
    with pytest.raises(ColumnError, match="经度/纬度") as info:
        siting.read_facilities(path)
    assert str(path) in str(info.value) and "东, 北" in str(info.value)


SCENARIOS = """\
name: numbers
baseline:
  osm: streets.osm
  facilities: centres.csv
  population: homes.csv
scenarios:
  - name: {name}
{body}
"""


@pytest.mark.parametrize(("name", "body", "needles"), [
    ("more_homes", "    add_population: [{lon: 121.44, lat: 31.19, population: -5}]",
     ("must be a number ≥ 0", "got -5")),
    ("sites", "    site: {k: 2, min_distance_m: -1}", ("must be a number ≥ 0", "got -1")),
    ("far", "    add: [{name: 新站, lon: 190, lat: 31.2}]", ("must be a number ≥ -180 and ≤ 180", "got 190")),
    ("slow", "    speed_kmh: 0", ("must be a number ≥ 1 and ≤ 100", "got 0")),
])
def test_scenario_numbers_are_explained_in_plain_numbers(tmp_path, name, body, needles):
    (tmp_path / "streets.osm").write_text("not read while checking", encoding="utf-8")
    (tmp_path / "centres.csv").write_text("id,name,lon,lat\nc1,A,121.44,31.19\n", encoding="utf-8")
    (tmp_path / "homes.csv").write_text("lon,lat,population\n121.44,31.19,10\n", encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIOS.format(name=name, body=body), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        siting.compare(path)
    message = str(info.value)
    assert all(needle in message for needle in needles), message
    assert "e-12" not in message and f"scenario {name!r}" in message


@pytest.mark.parametrize(("value", "hint"), [("90", "did you mean 0.9?"), ("-0.5", ""), ("abc", "")])
def test_a_targets_file_out_of_range_is_explained_in_plain_numbers(tmp_path, value, hint):
    path = tmp_path / "targets.csv"
    path.write_text(f"district,target\n黄浦区,0.9\n徐汇区,{value}\n", encoding="utf-8")
    with pytest.raises(ColumnError) as info:
        load_targets(path)
    message = str(info.value)
    assert "must be a share > 0 and ≤ 1 (0.9 for 90 %), row 3" in message and "(0, 1]" not in message
    assert hint in message and str(path) in message
