"""Network building: osmnx walk/bike filter semantics on a hand fixture and on real extracts."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import NETWORK_SPLIT, expected_warnings

from siting.engine.network import Network
from siting.errors import InputFileError, NetworkError


@pytest.fixture(scope="module")
def tiny(test_data):
    return test_data / "walk_tiny.osm"


def _pairs(net: Network) -> set[tuple[int, int]]:
    ids = net.node_id
    return {tuple(sorted((int(ids[a]), int(ids[b])))) for a, b in zip(net.u, net.v, strict=True)}


def test_walk_filter_keeps_footway_drops_foot_no_motorway_building(tiny):
    net = Network.from_osm(tiny, "walk", cache=False)
    pairs = _pairs(net)
    assert (1, 5) in pairs  # footway kept
    assert (3, 9) not in pairs  # foot=no dropped
    assert (2, 7) not in pairs  # motorway dropped
    assert not {20, 21, 22} & set(net.node_id.tolist())  # building is not a street
    assert net.n_edges == 3 + 1 + 1 + 3
    assert not net.oneway.any()  # walking: one-way streets are walked both ways
    assert net.crs == "EPSG:32651"


def test_bike_filter_respects_oneway_and_drops_footway(tiny):
    net = Network.from_osm(tiny, "bike", cache=False)
    pairs = _pairs(net)
    assert (1, 5) not in pairs  # footway is not in osmnx's bike network
    assert (3, 9) in pairs  # foot=no does not concern bikes
    ow = {(int(net.node_id[a]), int(net.node_id[b])) for a, b in zip(net.u[net.oneway], net.v[net.oneway], strict=True)}
    assert ow == {(1, 2), (2, 3), (3, 4)}


def test_segment_lengths_match_geodesic(tiny):
    from pyproj import Geod

    net = Network.from_osm(tiny, "walk", cache=False)
    i1, i2 = (int(np.flatnonzero(net.node_id == k)[0]) for k in (1, 2))
    seg = np.flatnonzero(((net.u == i1) & (net.v == i2)) | ((net.u == i2) & (net.v == i1)))[0]
    _, _, d = Geod(ellps="WGS84").inv(121.400, 31.2, 121.401, 31.2)
    assert net.length[seg] == pytest.approx(d, rel=1e-3)  # UTM scale error < 0.1 %


def test_cache_roundtrip_and_hit(tiny, tmp_path):
    a = Network.from_osm(tiny, "walk", cache_dir=tmp_path)
    b = Network.from_osm(tiny, "walk", cache_dir=tmp_path)
    assert a.info["cache"] == "miss" and b.info["cache"] == "hit"
    for name in ("node_id", "x", "y", "u", "v", "length", "oneway"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = Network.from_osm(tiny, "bike", cache_dir=tmp_path)  # mode is part of the key
    assert c.info["cache"] == "miss"


@pytest.mark.parametrize(
    ("content", "error"),
    [(b"", InputFileError), (b"this is not OSM", InputFileError), (b"<osm><node id='1' lat='31", InputFileError),
     (b"<?xml version='1.0'?><osm version='0.6'><node id='1' lat='31.2' lon='121.4'/></osm>", NetworkError)],
    ids=["empty", "garbage", "truncated", "no-ways"],
)
def test_bad_osm_files(tmp_path, content, error):
    path = tmp_path / "bad.osm"
    path.write_bytes(content)
    with pytest.raises(error, match="bad.osm"):
        Network.from_osm(path, cache=False)


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        Network.from_osm(tmp_path / "nope.osm.pbf")


@pytest.mark.realdata
def test_real_central_shanghai(shanghai):
    with pytest.warns(UserWarning, match="kept 2 large components"):
        net = Network.from_osm(shanghai / "osm/shanghai_center_overpass_roads.osm", cache=False)
    # 4,701 ways, of which the foot=no ones (151 per PROVENANCE) are not walked; none is a motorway or private
    import osmium

    path = shanghai / "osm/shanghai_center_overpass_roads.osm"
    foot_no = sum(1 for w in osmium.FileProcessor(str(path), osmium.osm.WAY) if w.tags.get("foot") == "no")
    private = sum(1 for w in osmium.FileProcessor(str(path), osmium.osm.WAY)
                  if w.tags.get("access") == "private" and w.tags.get("foot") != "no")
    assert foot_no == 151
    assert net.info["ways_highway"] == 4701
    assert net.info["ways_used"] == 4701 - foot_no - private
    # the Huangpu splits Puxi from the Lujiazui side on foot (its bridges and tunnels are foot=no)
    assert 20_000 < net.n_nodes < 21_786
    assert 850 < net.length.sum() / 1000 < 975
    assert net.info["components_kept"] == 2


@pytest.mark.realdata
def test_real_campus_footways(shanghai):
    path = shanghai / "osm/shanghai_tongji_siping_campus_export.osm"
    with expected_warnings(NETWORK_SPLIT):
        walk = Network.from_osm(path, "walk", cache=False)
    import osmium

    footway_nodes = set()
    for w in osmium.FileProcessor(str(path), osmium.osm.WAY):
        if w.tags.get("highway") in {"footway", "steps", "pedestrian", "path"} and w.tags.get("foot") != "no":
            footway_nodes.update(n.ref for n in w.nodes)
    assert len(footway_nodes & set(walk.node_id.tolist())) > 50  # footways are in the walking network


def test_pbf_reading(helsinki_pbf):
    with expected_warnings(NETWORK_SPLIT):
        net = Network.from_osm(helsinki_pbf, "walk", cache=False)
    assert net.crs == "EPSG:32635"
    assert net.info["ways_highway"] == 2650
    assert net.n_nodes > 4000


@pytest.mark.realdata
def test_real_shu_campus(shanghai):
    with expected_warnings(NETWORK_SPLIT):
        net = Network.from_osm(shanghai / "osm/shanghai_shu_baoshan_campus_export.osm", "walk", cache=False)
    # PROVENANCE: 1,035 graph nodes, largest component 1,001 (all highway ways, consecutive nodes)
    assert 900 < net.n_nodes <= 1035
    assert 40 < net.length.sum() / 1000 < 46


def test_concurrent_saves_of_one_network_do_not_clash(tmp_path, test_data):
    """Batch workers may save the same network into the shared cache at the same moment."""
    net = Network.from_osm(test_data / "walk_tiny.osm", cache=False)
    errors: list[BaseException] = []

    def save_often() -> None:
        try:
            for _ in range(20):
                net.save(tmp_path / "n.npz")
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=save_often) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and [p.name for p in tmp_path.iterdir()] == ["n.npz"]
    assert Network.load(tmp_path / "n.npz").n_edges == net.n_edges
