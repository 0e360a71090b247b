"""Routing: snapping to edges, off-network legs, one-way and filter rules by hand; networkx oracle."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from conftest import NETWORK_SPLIT, expected_warnings
from pyproj import Transformer

from siting.engine import routing
from siting.engine.network import Network

TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32651", always_xy=True)


def utm(lon, lat):
    x, y = TO_UTM.transform(np.atleast_1d(lon), np.atleast_1d(lat))
    return np.asarray(x), np.asarray(y)


def dist(a, b):
    (x0, y0), (x1, y1) = (utm(*a), utm(*b))
    return float(np.hypot(x1 - x0, y1 - y0)[0])


NODE = {1: (121.400, 31.200), 2: (121.401, 31.200), 3: (121.402, 31.200), 4: (121.403, 31.200),
        5: (121.400, 31.202), 6: (121.403, 31.202), 7: (121.401, 31.202), 9: (121.402, 31.202)}


def path_len(*ids):
    return sum(dist(NODE[a], NODE[b]) for a, b in zip(ids[:-1], ids[1:], strict=True))


@pytest.fixture(scope="module")
def walk(test_data):
    return Network.from_osm(test_data / "walk_tiny.osm", "walk", cache=False)


@pytest.fixture(scope="module")
def bike(test_data):
    return Network.from_osm(test_data / "walk_tiny.osm", "bike", cache=False)


def one(net, home, fac):
    h = routing.snap(net, *utm(*home))
    f = routing.snap(net, *utm(*fac))
    d, who = routing.nearest(net, f, h)
    return float(d[0]), h


def test_snap_to_middle_of_edge(walk):
    s = routing.snap(walk, *utm(121.4015, 31.2001))
    seg = s.seg[0]
    ends = {int(walk.node_id[walk.u[seg]]), int(walk.node_id[walk.v[seg]])}
    assert ends == {2, 3}
    assert s.t[0] == pytest.approx(walk.length[seg] / 2, abs=0.5)
    assert s.off[0] == pytest.approx(dist((121.4015, 31.2001), (121.4015, 31.2000)), abs=0.05)


def test_same_edge_direct_distance(walk):
    d, _ = one(walk, (121.4012, 31.2000), (121.4018, 31.2000))
    assert d == pytest.approx(dist((121.4012, 31.2), (121.4018, 31.2)), abs=0.05)


def test_oneway_street_is_walked_against_its_direction(walk, bike):
    home, fac = (121.4030, 31.1999), (121.4000, 31.1999)
    leg = dist((121.403, 31.1999), (121.403, 31.2))
    d, _ = one(walk, home, fac)
    assert d == pytest.approx(leg + path_len(4, 3, 2, 1) + leg, abs=0.1)
    d_bike, _ = one(bike, home, fac)  # by bike node 1 is only reached by the footway or against the one-way
    assert np.isinf(d_bike)
    d_back, _ = one(bike, fac, home)  # with the one-way direction it is fine
    assert d_back == pytest.approx(leg + path_len(1, 2, 3, 4) + leg, abs=0.1)


def test_footway_only_shortcut(walk):
    home, fac = (121.3999, 31.2000), (121.3999, 31.2020)
    leg = dist(home, NODE[1])
    d, _ = one(walk, home, fac)
    assert d == pytest.approx(leg + path_len(1, 5) + leg, abs=0.1)
    assert d < path_len(1, 2, 3, 4, 6, 9, 7, 5)


def test_foot_no_way_is_not_used(walk, bike):
    home, fac = (121.4020, 31.1999), (121.4020, 31.2021)
    leg_h, leg_f = dist(home, NODE[3]), dist(fac, NODE[9])
    d, _ = one(walk, home, fac)
    assert d == pytest.approx(leg_h + path_len(3, 4, 6, 9) + leg_f, abs=0.1)
    # bikes may ride the foot=no street: home beside it (x 121.4019) to a facility on 9–6
    home_b, fac_b = (121.4019, 31.2003), (121.4025, 31.2021)
    on_39, on_96 = (121.4020, 31.2003), (121.4025, 31.2020)
    d_bike, _ = one(bike, home_b, fac_b)
    expected = dist(home_b, on_39) + dist(on_39, NODE[9]) + dist(NODE[9], on_96) + dist(on_96, fac_b)
    assert d_bike == pytest.approx(expected, abs=0.1)


def test_too_far_points_are_not_snapped(walk):
    s = routing.snap(walk, *utm(121.42, 31.22), max_dist=500)
    assert s.seg[0] == -1 and np.isinf(s.off[0])


def test_nearest_picks_the_closest_of_several(walk):
    f = routing.snap(walk, *utm([121.4000, 121.4030], [31.2020, 31.2020]))
    h = routing.snap(walk, *utm([121.4001, 121.4029], [31.2000, 31.2000]))
    d, who = routing.nearest(walk, f, h)
    assert who.tolist() == [0, 1]


def _oracle_graph(net, fsnap, hsnap):
    """networkx graph with facilities and homes inserted on their segments (independent construction)."""
    g = nx.Graph()
    on_seg = {}
    for kind, s in (("f", fsnap), ("h", hsnap)):
        for i in np.flatnonzero(s.ok):
            on_seg.setdefault(int(s.seg[i]), []).append((float(s.t[i]), (kind, int(i)), float(s.off[i])))
    for e in range(net.n_edges):
        u, v, length = int(net.u[e]), int(net.v[e]), float(net.length[e])
        chain = [(0.0, u)]
        for t, key, off in sorted(on_seg.get(e, [])):
            point = ("p",) + key
            g.add_edge(point, key, weight=off)
            chain.append((t, point))
        chain.append((length, v))
        for (t0, a), (t1, b) in zip(chain[:-1], chain[1:], strict=True):
            w = t1 - t0
            if not g.has_edge(a, b) or g[a][b]["weight"] > w:
                g.add_edge(a, b, weight=w)
    return g


@pytest.mark.realdata
def test_oracle_against_networkx_on_real_extract(shanghai):
    with expected_warnings(NETWORK_SPLIT):
        net = Network.from_osm(shanghai / "osm/shanghai_center_overpass_roads.osm", "walk", cache=False)
    rng = np.random.default_rng(7)
    x0, x1 = np.percentile(net.x, [20, 80])
    y0, y1 = np.percentile(net.y, [20, 80])
    fx, fy = rng.uniform(x0, x1, 8), rng.uniform(y0, y1, 8)
    hx, hy = rng.uniform(x0, x1, 60), rng.uniform(y0, y1, 60)
    fs, hs = routing.snap(net, fx, fy, 500), routing.snap(net, hx, hy, 500)
    ours, who = routing.nearest(net, fs, hs)
    g = _oracle_graph(net, fs, hs)
    sources = [("f", int(i)) for i in np.flatnonzero(fs.ok)]
    lengths = nx.multi_source_dijkstra_path_length(g, sources, weight="weight")
    checked = 0
    for i in np.flatnonzero(hs.ok):
        expected = lengths.get(("h", int(i)), np.inf)
        assert ours[i] == pytest.approx(expected, abs=1.0), i
        checked += np.isfinite(expected)
    assert checked >= 50
    # the reach matrix agrees with single-source searches within the limit
    limit = 1000.0
    reach = routing.reach_matrix(net, fs, hs, limit).toarray()
    for j in np.flatnonzero(fs.ok)[:3]:
        single = nx.single_source_dijkstra_path_length(g, ("f", int(j)), cutoff=limit, weight="weight")
        want = np.array([single.get(("h", int(i)), 0.0) for i in range(len(hs))])
        np.testing.assert_allclose(reach[j], want, atol=1.0)
