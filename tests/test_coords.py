"""WGS84 ⇄ GCJ-02 ⇄ BD-09: published reference pairs, exact round trips, real Xuhui centres in their 街道."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from siting.errors import CRSError
from siting.io import coords

GEOD = Geod(ellps="WGS84")


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def test_published_gcj02_bd09_pair_beijing_railway_station() -> None:
    # GCJ-02 (116.42703, 39.90245) <-> BD-09 (116.43351, 39.90851), both rounded to 5 decimals (~1 m).
    bx, by = coords.gcj02_to_bd09(116.42703, 39.90245)
    assert metres(bx, by, 116.43351, 39.90851) < 2.0
    gx, gy = coords.bd09_to_gcj02(116.43351, 39.90851)
    assert metres(gx, gy, 116.42703, 39.90245) < 2.0


def test_forward_formula_matches_coordtransform_example() -> None:
    x, y = coords.wgs84_to_gcj02(116.404, 39.915)
    assert x == pytest.approx(116.41024449916938, abs=1e-12)
    assert y == pytest.approx(39.91640428150164, abs=1e-12)


def _shanghai_grid() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(120.86, 122.0, 25), np.linspace(30.68, 31.87, 25))
    return lon.ravel(), lat.ravel()


@pytest.mark.parametrize("via", ["gcj02", "bd09"])
def test_round_trips_are_exact_over_shanghai(via: str) -> None:
    lon, lat = _shanghai_grid()
    x, y = coords.from_wgs84(lon, lat, via)
    shift = metres(lon, lat, x, y)
    assert shift.min() > 100  # the offsets are real: hundreds of metres in Shanghai
    back_lon, back_lat = coords.to_wgs84(x, y, via)
    assert metres(lon, lat, back_lon, back_lat).max() < 1e-3  # < 1 mm


def test_offset_sizes_in_shanghai() -> None:
    lon, lat = 121.4737, 31.2304
    assert 300 < metres(lon, lat, *coords.wgs84_to_gcj02(lon, lat)) < 700
    assert 800 < metres(lon, lat, *coords.wgs84_to_bd09(lon, lat)) < 1400


def test_out_of_china_points_are_unchanged_by_gcj02() -> None:
    lon, lat = np.array([24.94, -0.1276, 139.9]), np.array([60.17, 51.5072, 35.6])  # Helsinki, London, Chiba
    x, y = coords.wgs84_to_gcj02(lon, lat)
    np.testing.assert_array_equal(x, lon)
    np.testing.assert_array_equal(y, lat)
    x, y = coords.gcj02_to_wgs84(lon, lat)
    np.testing.assert_array_equal(x, lon)
    np.testing.assert_array_equal(y, lat)


def test_vectorised_matches_scalar_and_keeps_shape() -> None:
    lon = np.array([[121.40, 121.50], [121.45, 121.46]])
    lat = np.array([[31.20, 31.10], [31.30, 31.25]])
    x, y = coords.to_wgs84(lon, lat, "bd09")
    assert x.shape == lon.shape and y.shape == lat.shape
    for i in np.ndindex(lon.shape):
        sx, sy = coords.to_wgs84(lon[i], lat[i], "bd09")
        assert (x[i], y[i]) == pytest.approx((float(sx), float(sy)), abs=1e-12)


def test_crs_names() -> None:
    assert coords.normalize_crs("Baidu") == "bd09"
    assert coords.normalize_crs("GCJ-02") == "gcj02"
    assert coords.normalize_crs(None) == "wgs84"
    with pytest.raises(CRSError, match="mars"):
        coords.normalize_crs("mars")


def _xuhui_in_own_subdistrict(shanghai, crs: str) -> int:
    table = pd.read_csv(shanghai / "facilities" / "xuhui_chc_healthxuhui.csv")
    centres = table[table["type"] == "community_health_service_center"]
    subs = gpd.read_file(shanghai / "boundaries" / "shanghai_subdistricts_osm_8districts.geojson")
    subs = subs[subs["district"] == "徐汇区"].set_index("osm_name")
    lon, lat = coords.to_wgs84(centres["lon_bd09"], centres["lat_bd09"], crs)
    inside = 0
    for short, x, y in zip(centres["short_name"], lon, lat, strict=True):
        # short names: 斜土 -> 斜土路街道, 康健 -> 康健新村街道, 华泾 -> 华泾镇
        (name,) = [n for n in subs.index if n.startswith(short)]
        inside += bool(subs.geometry[name].contains(gpd.points_from_xy([x], [y])[0]))
    return inside


@pytest.mark.realdata
def test_xuhui_centres_fall_in_their_own_subdistrict_only_when_converted(shanghai) -> None:
    assert _xuhui_in_own_subdistrict(shanghai, "bd09") == 13  # BD-09 -> WGS84: all 13 of 13
    assert _xuhui_in_own_subdistrict(shanghai, "wgs84") == 6  # raw BD-09 read as WGS84 (PROVENANCE: 6/13)
    assert _xuhui_in_own_subdistrict(shanghai, "gcj02") == 9  # read as GCJ-02 (PROVENANCE: 9/13)
