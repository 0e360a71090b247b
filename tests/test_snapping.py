"""Snapping on the bucket grid gives exactly the STRtree's answer (same segment, same offsets), ties included."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import NETWORK_SPLIT, REPEATED_ROWS, expected_warnings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siting.engine import _segindex as segindex
from siting.engine import routing
from siting.engine._segindex import SegmentIndex
from siting.engine.network import Network
from siting.io.demand import read_population


def assert_same(net: Network, x: np.ndarray, y: np.ndarray, max_dist: float) -> None:
    new = routing.snap(net, x, y, max_dist)
    old = routing.snap_strtree(net, x, y, max_dist)
    np.testing.assert_array_equal(new.seg, old.seg)
    np.testing.assert_array_equal(new.t, old.t)
    np.testing.assert_array_equal(new.off, old.off)


def probe_points(net: Network, rng: np.random.Generator, n: int, pad: float) -> tuple[np.ndarray, np.ndarray]:
    """Random points around the network, plus the hard cases: exactly at nodes (ties between the
    segments meeting there), on segments (distance 0), at segment midpoints, and non-finite."""
    x = rng.uniform(net.x.min() - pad, net.x.max() + pad, n)
    y = rng.uniform(net.y.min() - pad, net.y.max() + pad, n)
    k = min(n, net.n_nodes)
    nodes = rng.choice(net.n_nodes, k, replace=False)
    segs = rng.choice(net.n_edges, min(n, net.n_edges), replace=False)
    f = rng.uniform(0, 1, len(segs))
    sx = net.x[net.u[segs]] + f * (net.x[net.v[segs]] - net.x[net.u[segs]])
    sy = net.y[net.u[segs]] + f * (net.y[net.v[segs]] - net.y[net.u[segs]])
    mx, my = (net.x[net.u] + net.x[net.v]) / 2, (net.y[net.u] + net.y[net.v]) / 2
    return (np.concatenate([x, net.x[nodes], sx, mx[segs], [np.nan, np.inf]]),
            np.concatenate([y, net.y[nodes], sy, my[segs], [0.0, 1.0]]))


@pytest.fixture(scope="module")
def central(shanghai):
    with expected_warnings(NETWORK_SPLIT):
        return Network.from_osm(shanghai / "osm/shanghai_center_overpass_roads.osm", cache=False)


@pytest.mark.realdata
@pytest.mark.parametrize("max_dist", [500.0, np.inf, 25.0])
def test_identical_to_strtree_on_real_extract(central, max_dist):
    x, y = probe_points(central, np.random.default_rng(7), 20_000, 300.0)
    assert_same(central, x, y, max_dist)


@pytest.mark.realdata
def test_real_homes_identical_and_mostly_decided_without_the_strtree(central, shanghai):
    """The real residents of the sample: same answer, and the grid (not the fallback) decides them."""
    with expected_warnings(REPEATED_ROWS):
        homes = read_population(shanghai / "population/lianjia_xiaoqu_shanghai_2018_bd09.json", "bd09")
    pts = homes.geometry.to_crs(central.crs).centroid.get_coordinates()
    x, y = pts["x"].to_numpy(), pts["y"].to_numpy()
    assert_same(central, x, y, 500.0)
    _, undecided, _ = SegmentIndex(*central.segments_xy()).nearest(x, y, 500.0)
    assert undecided.mean() < 0.1


def grid_network(side: int, jitter: float, drop: float, seed: int) -> Network:
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    x = ii.ravel() * 100.0 + rng.uniform(-jitter, jitter, side * side) + 350_000
    y = jj.ravel() * 100.0 + rng.uniform(-jitter, jitter, side * side) + 3_450_000
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:-1, :].ravel(), idx[:, :-1].ravel()])
    v = np.concatenate([idx[1:, :].ravel(), idx[:, 1:].ravel()])
    keep = rng.random(len(u)) >= drop
    keep[0] = True
    with expected_warnings(NETWORK_SPLIT):
        return Network.from_projected(np.arange(side * side), x, y, u[keep], v[keep], crs="EPSG:32651")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 12), st.sampled_from([0.0, 0.0, 15.0, 40.0]), st.floats(0, 0.5), st.integers(0, 2**31 - 1),
       st.sampled_from([500.0, np.inf, 60.0, 5.0]))
def test_identical_to_strtree_on_random_grids(side, jitter, drop, seed, max_dist):
    """Plain grids are full of exact ties (points on the diagonals, at crossings); jitter and removed
    streets add L-corners, dead ends and far points."""
    net = grid_network(side, jitter, drop, seed)
    x, y = probe_points(net, np.random.default_rng(seed), 300, 400.0)
    assert_same(net, x, y, max_dist)


def test_grid_decides_the_plain_city_grid_itself():
    """The fast path is really used: on a 100 m grid with homes spread uniformly, it decides them all."""
    net = grid_network(60, 0.0, 0.0, 1)
    rng = np.random.default_rng(2)
    x, y = rng.uniform(net.x.min(), net.x.max(), 50_000), rng.uniform(net.y.min(), net.y.max(), 50_000)
    seg, undecided, _ = SegmentIndex(*net.segments_xy()).nearest(x, y, 500.0)
    assert undecided.sum() == 0
    np.testing.assert_array_equal(seg, routing.snap_strtree(net, x, y, 500.0).seg)


def with_index(net: Network, **kwargs) -> Network:
    """The network with its segment index built with ``kwargs`` (e.g. a small cell radius)."""
    net.__dict__["_grid"] = SegmentIndex(*net.segments_xy(), u=net.u, v=net.v, **kwargs)
    return net


@pytest.mark.parametrize("max_dist", [500.0, np.inf, 130.0])
def test_far_points_decided_on_larger_blocks_of_small_cells(max_dist):
    """Cells of 10 m on a 100 m grid with streets removed: most points lie beyond their own cell's reach
    (> 5 m from a street) and are decided on blocks of cells around it, and points whose block lists
    nothing find the nearest listing block on the summed-area table; all as the STRtree answers."""
    net = with_index(grid_network(20, 15.0, 0.4, 3), radius=5.0)
    rng = np.random.default_rng(3)
    x, y = probe_points(net, rng, 3000, 600.0)
    seg, undecided, _ = net.__dict__["_grid"].nearest(x, y, max_dist)
    reference = routing.snap_strtree(net, x, y, max_dist)
    far = np.isfinite(reference.off) & (reference.off > 40.0)
    assert far.sum() > 300 and undecided.mean() < 0.01
    assert ((seg >= 0) == reference.ok)[~undecided].all()
    assert_same(net, x, y, max_dist)


def test_points_off_the_grid_far_away():
    """Points kilometres off the network: none within a finite limit (decided here), the STRtree's without one."""
    net = with_index(grid_network(5, 0.0, 0.0, 1))
    x = net.x.min() + np.array([-5_000.0, 3e5, 450.0, -450.0])
    y = net.y.min() + np.array([0.0, 2e5, 200.0, -100.0])
    index = net.__dict__["_grid"]
    seg, undecided, _ = index.nearest(x, y, 500.0)
    assert not undecided.any() and seg[:2].tolist() == [-1, -1] and (seg[2:] >= 0).all()
    seg, undecided, _ = index.nearest(x, y, np.inf)
    assert undecided[:2].all() and not undecided[2:].any()
    assert_same(net, x, y, np.inf)


def test_long_blocks_over_the_budget_go_to_the_strtree(monkeypatch):
    """Blocks listing many segments are measured here up to a budget of pairs; beyond it, the STRtree."""
    net = with_index(grid_network(30, 20.0, 0.2, 4), radius=5.0)
    rng = np.random.default_rng(4)
    x, y = probe_points(net, rng, 2000, 300.0)
    monkeypatch.setattr(segindex, "MAX_LIST", 10)
    monkeypatch.setattr(segindex, "LONG_PAIRS", 20_000)
    _, undecided, _ = net.__dict__["_grid"].nearest(x, y, 500.0)
    assert 100 < undecided.sum() < len(x) // 2
    assert_same(net, x, y, 500.0)


@pytest.mark.parametrize("max_dist", [500.0, np.inf])
def test_coarse_cells_when_the_grid_would_be_too_large(monkeypatch, max_dist):
    """An extent too large for cells of ``2 r``: the cells grow (and ``r`` with them); same answers."""
    monkeypatch.setattr(segindex, "MAX_CELLS", 64)
    net = with_index(grid_network(12, 20.0, 0.3, 8))
    index = net.__dict__["_grid"]
    assert index.nx * index.ny <= 100 and index.radius > 60.0  # 50 m (half a 100 m block) otherwise
    x, y = probe_points(net, np.random.default_rng(8), 1500, 500.0)
    _, undecided, _ = index.nearest(x, y, max_dist)
    assert undecided.mean() < 0.01
    assert_same(net, x, y, max_dist)
