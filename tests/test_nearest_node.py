"""``_cutoff.nearest_node_m`` gives cKDTree's bounded nearest distances exactly, without scipy.spatial."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from scipy.spatial import cKDTree
from shapely.geometry import Point

from siting.engine._cutoff import nearest_node_m, residents_cut_off


def _kdtree(nodes, xy, bound):
    return cKDTree(nodes).query(xy, distance_upper_bound=bound)[0]


@pytest.mark.parametrize("layout", ["random", "grid", "clustered"])
def test_same_distances_as_ckdtree(layout):
    rng = np.random.default_rng(7)
    nodes = rng.uniform(0, 3000, (4000, 2))
    xy = rng.uniform(-700, 3700, (3000, 2))
    if layout == "grid":  # integer lattices: many equidistant nodes, distances exactly at the bound
        nodes, xy = np.round(nodes / 50) * 50, np.round(xy / 10) * 10
    if layout == "clustered":
        nodes = np.concatenate([rng.normal(1500, 30, (3000, 2)), rng.uniform(0, 3000, (50, 2))])
    for bound in (50.0, 500.0, 1500.0):
        got, want = nearest_node_m(nodes, xy, bound), _kdtree(nodes, xy, bound)
        assert np.array_equal(got, want), (layout, bound)
        assert np.isfinite(got).any() and (np.isinf(got).any() or bound > 1000)


def test_ties_bounds_and_empty_inputs():
    nodes = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 100.0]])
    xy = np.array([[5.0, 0.0],      # equidistant from two nodes
                   [0.0, 3.0],      # 3 m
                   [-4.0, 3.0],     # exactly at the 5 m bound: beyond it, as for cKDTree
                   [-4.0, 2.99],    # just inside
                   [500.0, 500.0]])  # far beyond
    want = _kdtree(nodes, xy, 5.0)
    assert np.array_equal(nearest_node_m(nodes, xy, 5.0), want)
    assert want[0] == 5.0 or np.isinf(want[0])  # 5 m from both: at the bound, so none
    assert np.isinf(want[2]) and np.isfinite(want[3])
    assert nearest_node_m(nodes[:1], xy, 1e6).tolist() == _kdtree(nodes[:1], xy, 1e6).tolist()
    assert nearest_node_m(np.empty((0, 2)), xy, 5.0).tolist() == [np.inf] * 5
    assert nearest_node_m(nodes, np.empty((0, 2)), 5.0).shape == (0,)
    assert np.isinf(nearest_node_m(nodes, np.array([[np.nan, 0.0]]), 5.0)).all()  # cKDTree refuses these


def test_residents_cut_off_counts_ties_as_kept():
    kept = np.array([[0.0, 0.0], [100.0, 0.0]])
    dropped = np.array([[0.0, 20.0], [300.0, 300.0]])
    points = gpd.GeoDataFrame({"population": [10.0, 20.0, 40.0, 80.0]}, crs="EPSG:32651", geometry=[
        Point(0, 10),      # equidistant from a kept and a dropped node: kept wins the tie
        Point(0, 19),      # nearer the dropped one: cut off
        Point(300, 290),   # only a dropped node near: cut off
        Point(2000, 0)])   # nothing within 500 m: not near
    assert residents_cut_off(kept, dropped, points, "EPSG:32651", 500.0) == (60.0, 70.0)
    assert residents_cut_off(kept, dropped, points.iloc[:0], "EPSG:32651", 500.0) == (0.0, 0.0)
