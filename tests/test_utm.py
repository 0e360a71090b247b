"""siting.io._utm.utm_crs picks the UTM zone geopandas' estimate_utm_crs picks, without its database query."""

from __future__ import annotations

import os
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import REPO_ROOT

from siting.io._utm import utm_crs


def _same(frame: gpd.GeoDataFrame) -> bool:
    try:
        want = frame.estimate_utm_crs()
    except RuntimeError:
        with pytest.raises(RuntimeError):
            utm_crs(frame)
        return True
    return utm_crs(frame) == want


def test_same_zone_as_geopandas_on_random_boxes():
    rng = np.random.default_rng(7)
    for i in range(300):
        lon, lat, size = rng.uniform(-180, 180), rng.uniform(-86, 86), rng.uniform(1e-4, 5)
        frame = gpd.GeoDataFrame(geometry=[shapely.box(lon, lat, min(lon + size, 180), min(lat + size, 86))],
                                 crs=4326)
        if i % 3 == 0 and -80 < lat < 84:  # a projected layer: its bounds are taken back to degrees first
            frame = frame.to_crs(frame.estimate_utm_crs())
        assert _same(frame), frame.total_bounds


@pytest.mark.parametrize("lon", [-180.0, -174.0, 0.0, 120.0, 126.0, 179.999])
@pytest.mark.parametrize("lat", [0.0, 31.2, -33.9, 83.99, 84.0, -80.0, -79.99])
def test_same_zone_on_zone_edges_equator_and_caps(lon, lat):
    assert _same(gpd.GeoDataFrame(geometry=[shapely.Point(lon, lat)], crs=4326))


def test_shanghai_is_zone_51n(map_inputs):
    for frame in (map_inputs["points"], map_inputs["subdistricts"], map_inputs["service_area"]):
        assert utm_crs(frame).to_epsg() == 32651 == frame.estimate_utm_crs().to_epsg()


def test_figures_do_not_import_folium():
    """The static figures share the map's palette (siting.outputs._palette) but not folium or jinja2."""
    code = "import sys, siting.outputs.figures; print('folium.folium' in sys.modules, 'jinja2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=120)
    assert out.stdout.split() == ["False", "False"], out.stderr
