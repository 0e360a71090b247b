"""Property-based tests (hypothesis) on random small networks, coordinates and file readers."""

from __future__ import annotations

import warnings

import numpy as np
from conftest import NETWORK_SPLIT, expected_warnings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siting.engine import routing
from siting.engine.network import Network
from siting.errors import SitingError
from siting.io import coords

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])


@st.composite
def random_network(draw):
    """A jittered n×m street grid (100 m blocks) with some streets removed and some one-way."""
    n, m = draw(st.integers(2, 6)), draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    x = (ii.ravel() * 100 + rng.uniform(-20, 20, n * m)) + 350_000
    y = (jj.ravel() * 100 + rng.uniform(-20, 20, n * m)) + 3_450_000
    idx = np.arange(n * m).reshape(n, m)
    u = np.concatenate([idx[:-1, :].ravel(), idx[:, :-1].ravel()])
    v = np.concatenate([idx[1:, :].ravel(), idx[:, 1:].ravel()])
    keep = rng.random(len(u)) > draw(st.floats(0, 0.3))
    oneway = rng.random(len(u)) < draw(st.floats(0, 0.5))
    if not keep.any():
        keep[0] = True
    with expected_warnings(NETWORK_SPLIT):
        net = Network.from_projected(np.arange(n * m), x, y, u[keep], v[keep], oneway[keep], crs="EPSG:32651")
    k_fac = draw(st.integers(1, 4))
    k_home = draw(st.integers(1, 15))
    span = lambda a, k: rng.uniform(a.min() - 30, a.max() + 30, k)  # noqa: E731
    fac = (span(net.x, k_fac), span(net.y, k_fac))
    homes = (span(net.x, k_home), span(net.y, k_home))
    return net, fac, homes


@FAST
@given(random_network(), st.floats(50, 400), st.floats(0, 400))
def test_coverage_monotone_in_threshold(case, limit, extra):
    net, (fx, fy), (hx, hy) = case
    f, h = routing.snap(net, fx, fy, 100), routing.snap(net, hx, hy, 100)
    d, _ = routing.nearest(net, f, h)
    d_small, _ = routing.nearest(net, f, h, limit=limit)
    d_big, _ = routing.nearest(net, f, h, limit=limit + extra)
    within_small, within_big = d_small <= limit, d_big <= limit + extra
    assert not (within_small & ~within_big).any()
    np.testing.assert_allclose(d_small[within_small], d[within_small])  # the bound does not change times


@FAST
@given(random_network())
def test_nearest_never_exceeds_any_single_facility(case):
    net, (fx, fy), (hx, hy) = case
    f, h = routing.snap(net, fx, fy, 100), routing.snap(net, hx, hy, 100)
    best, who = routing.nearest(net, f, h)
    for j in range(len(fx)):
        single, _ = routing.nearest(net, routing.snap(net, fx[j:j + 1], fy[j:j + 1], 100), h)
        assert (best <= single + 1e-6).all()
        # the chosen facility's own time is the reported time
        hit = who == j
        np.testing.assert_allclose(best[hit], single[hit], atol=1e-6)


@FAST
@given(random_network(), st.floats(0, 1), st.floats(0, 1))
def test_adding_a_facility_never_increases_times(case, a, b):
    net, (fx, fy), (hx, hy) = case
    h = routing.snap(net, hx, hy, 100)
    before, _ = routing.nearest(net, routing.snap(net, fx, fy, 100), h)
    nx_, ny_ = net.x.min() + a * np.ptp(net.x), net.y.min() + b * np.ptp(net.y)
    after, _ = routing.nearest(net, routing.snap(net, np.append(fx, nx_), np.append(fy, ny_), 100), h)
    assert (after <= before + 1e-6).all()


@FAST
@given(random_network(), st.floats(50, 300))
def test_reach_matrix_agrees_with_nearest(case, limit):
    net, (fx, fy), (hx, hy) = case
    f, h = routing.snap(net, fx, fy, 100), routing.snap(net, hx, hy, 100)
    reach = routing.reach_matrix(net, f, h, limit)
    best, _ = routing.nearest(net, f, h)
    dense = reach.toarray()
    reached = (dense > 0).any(axis=0)
    np.testing.assert_array_equal(reached, best <= limit)
    col_min = np.where(dense > 0, dense, np.inf).min(axis=0)
    np.testing.assert_allclose(col_min[reached], best[reached], atol=1e-6)


@settings(max_examples=300, deadline=None)
@given(st.floats(119.0, 123.0), st.floats(29.0, 33.0))
def test_coordinate_round_trips_are_stable(lon, lat):
    for fwd, back in ((coords.wgs84_to_gcj02, coords.gcj02_to_wgs84), (coords.wgs84_to_bd09, coords.bd09_to_wgs84)):
        x, y = back(*fwd(lon, lat))
        assert abs(x - lon) < 1e-8 and abs(y - lat) < 1e-8  # < 1 mm
        x2, y2 = back(*fwd(x, y))
        assert abs(x2 - x) < 1e-8 and abs(y2 - y) < 1e-8


# ------------------------------------------------------------------ fuzzing the readers

CSV_HEAD = st.sampled_from(["id,name,type,lon,lat", "name,lng,lat,population", "lat,lon", "x,y,population,名称",
                            "id,name,lon_bd09,lat_bd09", ""])
CELL = st.one_of(st.text(max_size=8), st.floats(allow_nan=True, allow_infinity=True).map(str),
                 st.integers(-10**6, 10**6).map(str), st.just(""), st.just("121.4"), st.just("31.2"))


@st.composite
def csv_text(draw):
    head = draw(CSV_HEAD)
    n_cols = max(1, len(head.split(",")))
    rows = draw(st.lists(st.lists(CELL, min_size=n_cols - 1, max_size=n_cols + 1), max_size=5))
    body = "\n".join(",".join(c.replace(",", ";").replace("\n", " ") for c in r) for r in rows)
    return head + "\n" + body


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(csv_text(), st.sampled_from(["wgs84", "gcj02", "bd09"]))
def test_fuzz_table_readers_raise_only_siting_errors(tmp_path_factory, text, crs):
    from siting.io.demand import read_population
    from siting.io.facilities import read_facilities

    path = tmp_path_factory.mktemp("fz") / "in.csv"
    path.write_text(text, encoding="utf-8")
    for reader in (read_facilities, read_population):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                reader(path, crs)
            except SitingError:
                pass
        # garbage in: a SitingError or a user-facing warning (e.g. repeated rows), never another kind
        assert all(issubclass(w.category, UserWarning) for w in caught), [str(w.message) for w in caught]


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                 st.sampled_from([b"<osm>", b"<?xml version='1.0'?><osm version='0.6'>"]).flatmap(
                     lambda head: st.text(max_size=200).map(lambda t: head + t.encode()))),
       st.sampled_from([".osm", ".osm.pbf", ".json", ".geojson", ".xlsx"]))
def test_fuzz_file_readers_raise_only_siting_errors(tmp_path_factory, content, suffix):
    from siting.io.demand import read_boundaries, read_population
    from siting.io.facilities import read_facilities

    path = tmp_path_factory.mktemp("fz") / f"in{suffix}"
    path.write_bytes(content)
    readers = [lambda p: Network.from_osm(p, cache=False)] if suffix.startswith(".osm") else [
        read_facilities, read_population, read_boundaries]
    for reader in readers:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                reader(path)
            except SitingError:
                pass
        # garbage in: a SitingError or a user-facing warning (siting's, or pyogrio's "more than one layer")
        assert all(issubclass(w.category, UserWarning) for w in caught), [str(w.message) for w in caught]
