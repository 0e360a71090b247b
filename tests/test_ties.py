"""Ties at a node: snapping records a point whose nearest spot is a street node on the lowest-indexed of
the segments meeting there whose nearest spot is that node, whoever found it (bucket grid or STRtree).

The STRtree would pick among these equidistant segments by its traversal order (which depends on the
GEOS version); the rule is checked here against a brute force over every segment, and against the
STRtree's own pick on the real extract: the same offsets and facilities, walking distances equal to the
last bit but for a few (one unit in the last place).
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from conftest import NETWORK_SPLIT, REPEATED_ROWS, expected_warnings
from test_snapping import grid_network, probe_points

from siting.engine import _snapping, routing
from siting.engine._segindex import SegmentIndex
from siting.engine.network import Network
from siting.io.demand import read_population


def brute_force(net: Network, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(expected segment or -2 when the nearest spot is not one node, tied) by GEOS distances to every segment."""
    x0, y0, x1, y1 = net.segments_xy()
    lines = shapely.linestrings(np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1))
    expected, tied = np.full(len(x), -2, np.int64), np.zeros(len(x), bool)
    for i in range(len(x)):
        d = shapely.distance(shapely.Point(x[i], y[i]), lines)
        best = np.flatnonzero(d == d.min())
        tied[i] = len(best) > 1
        # the node each best segment's nearest spot is (-1: inside the segment), by plain geometry
        du = np.sqrt((x0[best] - x[i]) ** 2 + (y0[best] - y[i]) ** 2)  # as GEOS measures to a point
        dv = np.sqrt((x1[best] - x[i]) ** 2 + (y1[best] - y[i]) ** 2)
        node = np.where(du == d.min(), net.u[best], np.where(dv == d.min(), net.v[best], -1))
        if (node >= 0).all() and (node == node[0]).all():
            expected[i] = best.min()
    return expected, tied


def corner_points(net: Network, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Points just beyond street nodes (in the wedge where several segments' nearest spot is the node),
    exactly on nodes, and random ones."""
    nodes = rng.choice(net.n_nodes, n)
    angle, r = rng.uniform(0, 2 * np.pi, n), rng.uniform(0.5, 20.0, n)
    x = np.concatenate([net.x[nodes] + r * np.cos(angle), net.x[nodes[: n // 4]]])
    y = np.concatenate([net.y[nodes] + r * np.sin(angle), net.y[nodes[: n // 4]]])
    return x, y


@pytest.mark.parametrize(("side", "jitter", "drop", "seed"), [(8, 0.0, 0.0, 1), (10, 15.0, 0.2, 2), (12, 40.0, 0.3, 3),
                                                                (6, 0.0, 0.4, 4)])
def test_rule_is_the_lowest_segment_at_the_node(side, jitter, drop, seed):
    net = grid_network(side, jitter, drop, seed)
    x, y = corner_points(net, np.random.default_rng(seed), 400)
    expected, tied = brute_force(net, x, y)
    assert tied.sum() > 50  # deliberate ties, not an empty test
    at_node = expected >= 0
    for snap in (routing.snap(net, x, y), routing.snap_strtree(net, x, y)):
        np.testing.assert_array_equal(snap.seg[at_node], expected[at_node])


def test_grid_settles_node_ties_without_the_strtree():
    """A jittered grid with streets removed: the ties there are at nodes; the STRtree is left only the odd
    point whose two nearest segments differ by less than ``TOL`` without a common nearest node."""
    net = grid_network(30, 20.0, 0.15, 5)
    x, y = corner_points(net, np.random.default_rng(5), 3000)
    _, undecided, _ = SegmentIndex(*net.segments_xy(), u=net.u, v=net.v).nearest(x, y, 500.0)
    _, undecided_without_nodes, _ = SegmentIndex(*net.segments_xy()).nearest(x, y, 500.0)
    assert undecided.sum() <= 2 and undecided_without_nodes.sum() > 500
    keep = ~undecided
    routing.snap(net, x[keep], y[keep], 500.0)
    assert "_tree" not in net.__dict__


def strtree_pick(net: Network, x: np.ndarray, y: np.ndarray, max_dist: float) -> routing.Snap:
    """Snap on the STRtree's own pick among tied segments (no rule): the answer before the rule."""
    si = _snapping._strtree_nearest(net, x, y, max_dist)
    seg, t, off = np.full(len(x), -1, np.int64), np.zeros(len(x)), np.full(len(x), np.inf)
    ok = np.flatnonzero(si >= 0)
    s = si[ok]
    x0, y0, x1, y1 = (a[s] for a in net.segments_xy())
    dx, dy = x1 - x0, y1 - y0
    ll = dx * dx + dy * dy
    frac = np.clip(((x[ok] - x0) * dx + (y[ok] - y0) * dy) / np.where(ll > 0, ll, 1.0), 0.0, 1.0)
    seg[ok], t[ok] = s, frac * net.length[s]
    off[ok] = np.hypot(x[ok] - (x0 + frac * dx), y[ok] - (y0 + frac * dy))
    return routing.Snap(seg, t, off)


@pytest.mark.realdata
def test_rule_agrees_with_the_strtree_pick_on_the_real_extract(shanghai):
    with expected_warnings(NETWORK_SPLIT, REPEATED_ROWS):
        net = Network.from_osm(shanghai / "osm/shanghai_center_overpass_roads.osm", cache=False)
        homes = read_population(shanghai / "population/lianjia_xiaoqu_shanghai_2018_bd09.json", "bd09")
    rng = np.random.default_rng(7)
    hx, hy = routing.centre_xy(homes.geometry, net.crs).T
    px, py = probe_points(net, rng, 20_000, 300.0)
    x, y = np.concatenate([hx, px]), np.concatenate([hy, py])
    f = rng.choice(net.n_nodes, 60, replace=False)
    fx, fy = net.x[f] + rng.normal(0, 30, 60), net.y[f] + rng.normal(0, 30, 60)
    old, new = strtree_pick(net, x, y, 500.0), routing.snap(net, x, y, 500.0)
    assert (old.seg != new.seg).sum() > 1000  # the real extract is full of such ties
    np.testing.assert_array_equal(old.off, new.off)
    d_old, who_old = routing.nearest(net, strtree_pick(net, fx, fy, 500.0), old)
    d_new, who_new = routing.nearest(net, routing.snap(net, fx, fy, 500.0), new)
    np.testing.assert_array_equal(who_old, who_new)
    differ = np.flatnonzero(d_old != d_new)
    assert len(differ) < 1e-3 * len(x)
    np.testing.assert_array_less(np.abs(d_old[differ] - d_new[differ]), 1.5 * np.spacing(d_old[differ]))


def test_near_ties_and_the_limit_settled_by_exact_distances_exact_ties_left_to_the_strtree():
    """A block centre of a plain grid is exactly as far from four streets (different spots): only the
    STRtree can say which it returns. A point a hair off the centre, or exactly at the limit, is not."""
    net = grid_network(6, 0.0, 0.0, 0)
    cx, cy = net.x.min() + 250.0, net.y.min() + 250.0
    x = np.array([cx, cx + 3e-7, cx, net.x.min() + 210.0])  # the last: 10 m from the street x = 200
    y = np.array([cy, cy, cy + 3e-7, cy])
    index = SegmentIndex(*net.segments_xy(), u=net.u, v=net.v)
    for max_dist in (500.0, 50.0, 10.0, 10.0 + 1e-7, 10.0 - 1e-7):
        seg, undecided, _ = index.nearest(x, y, max_dist)
        assert undecided.tolist() == [max_dist >= 50.0, False, False, False]
        reference = routing.snap_strtree(net, x, y, max_dist).seg
        np.testing.assert_array_equal(seg[~undecided], reference[~undecided])
        np.testing.assert_array_equal(routing.snap(net, x, y, max_dist).seg, reference)


@pytest.mark.parametrize(("side", "jitter", "drop", "seed"), [(10, 15.0, 0.2, 6), (8, 0.0, 0.0, 7)])
def test_grid_applies_the_rule_itself_where_it_says_so(side, jitter, drop, seed):
    """The segments the grid marks as ruled are the rule's already (applying it again changes nothing), and
    they are most of the ties at a node (the rest, settled by GEOS distances, get the rule when recorded)."""
    net = grid_network(side, jitter, drop, seed)
    x, y = corner_points(net, np.random.default_rng(seed), 600)
    seg, undecided, ruled = SegmentIndex(*net.segments_xy(), u=net.u, v=net.v).nearest(x, y, 500.0)
    expected, tied = brute_force(net, x, y)
    assert ruled.sum() > 0.9 * (~undecided).sum() and (tied & ruled).sum() > 50
    np.testing.assert_array_equal(_snapping._at_node_rule(net, x[ruled], y[ruled], seg[ruled]), seg[ruled])
    at_node = ruled & (expected >= 0)
    np.testing.assert_array_equal(seg[at_node], expected[at_node])
