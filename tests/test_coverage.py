"""Coverage on the real Xuhui sample: invariants, targets, accounting; and on a hand fixture."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from conftest import OFF_NETWORK, SAMPLE, expected_warnings

from siting.engine.coverage import OUTSIDE, compute_coverage
from siting.engine.network import Network
from siting.io import demand
from siting.io.facilities import read_facilities
from siting.settings import Settings


@pytest.fixture(scope="module")
def xuhui(shanghai, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    with expected_warnings(*SAMPLE):
        net = Network.from_osm(shanghai / "osm/shanghai_center_overpass_roads.osm", cache_dir=cache)
        fac = read_facilities(shanghai / "facilities/xuhui_chc_healthxuhui.csv", crs="bd09")
        bnd = demand.read_boundaries(shanghai / "boundaries/shanghai_subdistricts_osm_8districts.geojson")
        pop = demand.read_population(shanghai / "population/lianjia_xiaoqu_shanghai_2018_bd09.json", "bd09")
        census = demand.read_census(shanghai / "population/shanghai_district_population_census.csv")
        pop = demand.weight_by_census(demand.assign_areas(pop, bnd), census)
        pop, bnd = demand.restrict_to_district(pop, bnd, "徐汇区")
    return net, fac, pop, bnd


def run(net, fac, pop, bnd, **kw):
    with expected_warnings(OFF_NETWORK):
        return compute_coverage(net, fac, pop, kw.pop("settings", Settings()), boundaries=bnd, **kw)


@pytest.mark.realdata
def test_real_xuhui_rate_is_strictly_between_0_and_1_and_accounts_for_everyone(xuhui):
    res = run(*xuhui)
    s = res.summary
    assert 0 < s.coverage_rate < 1
    assert s.target == 0.9 and s.unit == "residents"
    # inside + outside the network extent add up to the census total of 徐汇区
    assert s.population_total + s.population_outside_network == pytest.approx(1_113_078, abs=1)
    assert s.population_outside_network > 0  # the extract covers northern Xuhui only
    by = res.by_subdistrict
    assert by["population"].sum() == pytest.approx(s.population_total)
    assert by["covered"].sum() == pytest.approx(s.population_covered)
    assert len(by) == 13 and "虹梅路街道" in set(by["subdistrict"])
    # gap in residents is consistent with the rate
    assert s.gap_residents == pytest.approx(np.ceil(0.9 * s.population_total - s.population_covered), abs=1)
    # outside points are never covered, covered points are within 15 minutes
    pts = res.points
    assert not pts.loc[pts["status"] == OUTSIDE, "covered"].any()
    assert (pts.loc[pts["covered"], "walk_min"] <= 15 + 1e-9).all()
    assert pts.crs.to_epsg() == 4326


@pytest.mark.realdata
def test_monotone_in_minutes(xuhui):
    rates = [run(*xuhui, settings=Settings(minutes=m)).summary.coverage_rate for m in (5, 10, 15, 20, 30)]
    assert rates == sorted(rates) and rates[0] < rates[-1]


@pytest.mark.realdata
def test_adding_a_facility_never_lowers_coverage(xuhui):
    net, fac, pop, bnd = xuhui
    base = run(net, fac, pop, bnd)
    far = base.points[~base.points["covered"] & (base.points["status"] == "ok")]
    assert len(far), "the sample has uncovered residents inside the extract"
    new = gpd.GeoDataFrame({"facility_id": ["new"], "name": ["新站"], "type": ["station"]},
                           geometry=[far.geometry.iloc[0]], crs="EPSG:4326")
    more = run(net, gpd.GeoDataFrame(
        __import__("pandas").concat([fac, new], ignore_index=True), crs="EPSG:4326"), pop, bnd)
    assert more.summary.population_covered > base.summary.population_covered
    assert (more.points["walk_min"] <= base.points["walk_min"] + 1e-9).all()


@pytest.mark.realdata
def test_modes_order_and_speed_override(xuhui):
    net, fac, pop, bnd = xuhui
    walk = run(net, fac, pop, bnd).summary.coverage_rate
    elderly = run(net, fac, pop, bnd, settings=Settings("elderly")).summary.coverage_rate
    fast = run(net, fac, pop, bnd, settings=Settings("walk", speed_kmh=5)).summary.coverage_rate
    assert elderly < walk < fast


@pytest.mark.realdata
def test_nearest_time_never_exceeds_time_to_any_single_facility(xuhui):
    net, fac, pop, bnd = xuhui
    res = run(net, fac, pop, bnd)
    used = res.facilities[res.facilities["snapped"]]
    for _, f in used.iterrows():
        single = run(net, fac[fac["facility_id"] == f["facility_id"]], pop, bnd)
        assert (res.points["walk_min"] <= single.points["walk_min"] + 1e-9).all()


@pytest.mark.realdata
def test_facility_popups_and_service_area(xuhui):
    res = run(*xuhui)
    used = res.facilities[res.facilities["snapped"]]
    assert (used["residents_within"] > 0).all()
    # nobody counted as within a facility's 15 minutes is uncovered
    assert used["residents_within"].max() <= res.summary.population_covered + 1e-6
    area = res.service_area()
    assert area.geometry.iloc[0].area > 0
    covered = res.points[res.points["covered"]]
    inside = covered.within(area.geometry.iloc[0].buffer(0.002)).mean()
    assert inside > 0.95
    places = res.uncovered_places()
    assert places["residents"].sum() == pytest.approx(
        res.points.loc[(res.points["status"] != OUTSIDE) & ~res.points["covered"], "population"].sum())


def test_locations_when_no_population(test_data):
    net = Network.from_osm(test_data / "walk_tiny.osm", cache=False)
    fac = gpd.GeoDataFrame({"name": ["站"], "type": ["station"]}, geometry=gpd.points_from_xy([121.4], [31.2]),
                           crs="EPSG:4326")
    pop = gpd.GeoDataFrame(geometry=gpd.points_from_xy([121.4005, 121.403], [31.2001, 31.2019]), crs="EPSG:4326")
    res = compute_coverage(net, fac, pop, Settings(minutes=5))  # 5 min = 333 m
    assert res.summary.unit == "locations"
    assert res.points["covered"].tolist() == [True, False]
    assert res.summary.coverage_rate == 0.5


def test_points_on_the_extent_edge_and_single_street_networks_are_inside():
    """Homes on the hull's edge (outer streets) are inside; a one-street network's line hull is widened."""
    import numpy as np

    x = np.array([0.0, 1000.0, 1000.0, 0.0]) + 350_000
    y = np.array([0.0, 0.0, 1000.0, 1000.0]) + 3_450_000
    square = Network.from_projected(np.arange(4), x, y, [0, 1, 2, 3], [1, 2, 3, 0], crs="EPSG:32651")
    line = Network.from_projected(np.arange(2), x[:2], y[:2], [0], [1], crs="EPSG:32651")
    fac = gpd.GeoDataFrame({"name": ["站"], "type": ["station"]}, geometry=gpd.points_from_xy([x[0]], [y[0]]),
                           crs="EPSG:32651")
    homes = gpd.GeoDataFrame({"population": [1.0, 1.0, 1.0]},
                             geometry=gpd.points_from_xy(x[0] + np.array([500, 0, 0]), y[0] + np.array([0, 500, 0])),
                             crs="EPSG:32651")
    res = compute_coverage(square, fac, homes, Settings())
    assert (res.points["status"] == "ok").all() and res.summary.coverage_rate == 1.0
    off_street = homes.set_geometry(gpd.points_from_xy(x[0] + np.array([100, 500, 900]), y[0] + np.array([5, 20, 10]),
                                                       crs="EPSG:32651"))
    res = compute_coverage(line, fac, off_street, Settings())
    assert (res.points["status"] == "ok").all() and res.summary.population_total == 3


def _tiny(test_data, mode="walk"):
    net = Network.from_osm(test_data / "walk_tiny.osm", mode, cache=False)
    fac = gpd.GeoDataFrame({"name": ["站"], "type": ["station"]}, geometry=gpd.points_from_xy([121.4], [31.2]),
                           crs="EPSG:4326")
    pop = gpd.GeoDataFrame({"population": [10.0, 30.0]},
                           geometry=gpd.points_from_xy([121.4005, 121.403], [31.2001, 31.2019]), crs="EPSG:4326")
    return net, fac, pop


def test_mode_comes_from_settings_and_a_mismatch_is_refused(test_data):
    """A walking network serves walk and elderly (walking at 3 km/h); bike settings need a cycling network."""
    from siting.errors import NetworkError

    net, fac, pop = _tiny(test_data)
    assert net.info["network_type"] == "walk"
    walk = compute_coverage(net, fac, pop, Settings("walk", minutes=5))
    elderly = compute_coverage(net, fac, pop, Settings("elderly", minutes=5))
    assert elderly.summary.mode == "elderly" and elderly.summary.limit_m == pytest.approx(250)
    assert elderly.summary.population_covered <= walk.summary.population_covered
    with pytest.raises(NetworkError, match=r"built for 'walk'.*mode 'bike' needs a 'bike' network"):
        compute_coverage(net, fac, pop, Settings("bike"))
    bike_net, _, _ = _tiny(test_data, "bike")
    with pytest.raises(NetworkError, match=r"mode 'elderly' needs a 'walk' network.*bike"):
        compute_coverage(bike_net, fac, pop, Settings("elderly"))
    assert compute_coverage(bike_net, fac, pop, Settings("bike")).summary.mode == "bike"


def test_summary_is_a_frozen_dataclass_with_the_json_keys(test_data):
    import dataclasses

    from siting.engine.coverage import CoverageSummary

    res = compute_coverage(*_tiny(test_data), Settings(minutes=5))
    s = res.summary
    assert isinstance(s, CoverageSummary)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.coverage_rate = 1.0  # type: ignore[misc]
    d = s.to_dict()
    # set only by run_coverage and the CLI:
    run_facts = ["population_sources", "areas_without_facility", "notes", "sources", "seconds", "network_cache",
                 "sensitivity"]
    assert list(d) == [k for k in CoverageSummary.field_names() if k not in run_facts]
    assert d["population_total"] == 40.0 and d["districts"] == [] and d["coverage_rate"] == s.coverage_rate
    full = dataclasses.replace(s, notes=("a",), seconds=1.5, network_cache=None).to_dict()
    assert list(full)[-3:] == ["notes", "seconds", "network_cache"] and full["notes"] == ["a"] and "sources" not in full
    assert not hasattr(res, "network") and not hasattr(res, "node_dist")  # engine state is private


def test_steps_run_one_by_one_as_compute_coverage_does(test_data):
    from siting.engine.coverage import Status, aggregate, prepare, route, summarise

    net, fac, pop = _tiny(test_data)
    settings = Settings(minutes=5)
    prepared = prepare(fac, pop)
    assert prepared.unit == "residents" and prepared.facilities["facility_id"].tolist() == ["row:1"]
    routed = route(net, prepared, settings)
    assert set(routed.points["status"]) == {Status.OK} and routed.usable.all()
    assert routed.points["covered"].tolist() == [True, False]
    table = aggregate(routed.points, ["district"], 0.9)
    assert table["covered"].sum() == 10.0 and table["gap_residents"].iloc[0] == 26.0
    summary = summarise(net, routed, settings, prepared.unit, 0.9)
    assert summary == compute_coverage(net, fac, pop, settings, target=0.9).summary


def test_module_and_function_have_distinct_names():
    import types

    import siting
    import siting.engine.coverage as m

    assert isinstance(m, types.ModuleType) and siting.engine.coverage is m
    assert siting.compute_coverage is m.compute_coverage and m.Status.OUTSIDE == "outside_network_area"
