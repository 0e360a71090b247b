"""Supply per resident: 2SFCA / E2SFCA against a hand-computed instance and PySAL's `access`, conservation,
monotonicity, capacity defaults, travel-time distributions, regions; and the README inputs end to end."""

from __future__ import annotations

import access as pysal_access  # PySAL's `access` (dev extra): the independent implementation
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE, expected_warnings
from hypothesis import given, settings
from hypothesis import strategies as st

from siting.engine._fca import DEFAULT_CAPACITY, decay_weights, read_capacity, two_step, weighted_quantile
from siting.engine.access import access, access_from_coverage, read_regions
from siting.engine.network import Network
from siting.errors import ColumnError, SitingError
from siting.io import demand
from siting.settings import Settings

# The hand instance: facilities A (6 GPs) and B (2 GPs); places p1 (1,000 residents), p2 (3,000), p3 (2,000);
# walking minutes A–p1 5, A–p2 12, A–p3 20 (beyond the 15-min catchment), B–p2 8, B–p3 14, B–p1 30 (beyond).
FAC = np.array([0, 0, 0, 1, 1, 1])
PLACE = np.array([0, 1, 2, 1, 2, 0])
MIN = np.array([5.0, 12.0, 20.0, 8.0, 14.0, 30.0])
SUPPLY = np.array([6.0, 2.0])
DEMAND = np.array([1000.0, 3000.0, 2000.0])
# 2SFCA by hand: R_A = 6 / (1000 + 3000) = 0.0015, R_B = 2 / (3000 + 2000) = 0.0004;
# p1 = R_A = 15 per 10k, p2 = R_A + R_B = 19 per 10k, p3 = R_B = 4 per 10k; 1000·15 + 3000·19 + 2000·4 = 8·10k.
HAND_2SFCA = np.array([0.0015, 0.0019, 0.0004])
# E2SFCA, stepped (Luo & Qi 1.00 / 0.68 / 0.22 on 0–5 / 5–10 / 10–15 min): A–p1 1.00, A–p2 0.22, B–p2 0.68,
# B–p3 0.22. R_A = 6 / (1000 + 660) , R_B = 2 / (2040 + 440).
R_A, R_B = 6 / 1660, 2 / 2480
HAND_STEPPED = np.array([R_A, 0.22 * R_A + 0.68 * R_B, 0.22 * R_B])


def test_hand_instance_2sfca() -> None:
    res = two_step(FAC, PLACE, MIN, SUPPLY, DEMAND, 15.0)
    np.testing.assert_allclose(res.access, HAND_2SFCA, rtol=0, atol=1e-15)
    np.testing.assert_allclose(res.ratio, [0.0015, 0.0004], rtol=0, atol=1e-15)
    assert float((res.access * DEMAND).sum()) == pytest.approx(8.0, abs=1e-12)


def test_hand_instance_stepped_e2sfca() -> None:
    res = two_step(FAC, PLACE, MIN, SUPPLY, DEMAND, 15.0, "stepped")
    np.testing.assert_allclose(res.access, HAND_STEPPED, rtol=0, atol=1e-15)


def test_decay_weights_documented_values() -> None:
    t = np.array([0.0, 5.0, 5.01, 10.0, 10.01, 15.0])
    assert decay_weights(t, 15, "stepped").tolist() == [1.0, 1.0, 0.68, 0.68, 0.22, 0.22]
    g = decay_weights(np.array([0.0, 15.0]), 15, "gaussian")
    assert g[0] == pytest.approx(1.0) and g[1] == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(SitingError, match="unknown decay"):
        decay_weights(t, 15, "linear")


def _pysal(fac, place, minutes, supply, demand, decay):
    dem = pd.DataFrame({"id": [f"p{i}" for i in range(len(demand))], "pop": demand})
    sup = pd.DataFrame({"id": [f"f{j}" for j in range(len(supply))], "cap": supply})
    cost = pd.DataFrame({"origin": [f"p{i}" for i in place], "dest": [f"f{j}" for j in fac], "cost": minutes})
    with expected_warnings((DeprecationWarning, "The inplace keyword in DataFrame.set_index")):  # PySAL's pandas use
        a = pysal_access.Access(demand_df=dem, demand_index="id", demand_value="pop", supply_df=sup, supply_index="id",
                                supply_value="cap", cost_df=cost, cost_origin="origin", cost_dest="dest",
                                cost_name="cost")
        if decay == "none":
            out = a.two_stage_fca(max_cost=15)
        else:
            out = a.enhanced_two_stage_fca(
                max_cost=15, weight_fn=lambda x: float(decay_weights(np.array([x]), 15.0, decay)[0]))
    return out.iloc[:, 0].reindex(dem["id"]).fillna(0).to_numpy()


@pytest.mark.parametrize("decay", ["none", "stepped", "gaussian"])
def test_equals_pysal_access_on_hand_and_random_instances(decay: str) -> None:
    ours = two_step(FAC, PLACE, MIN, SUPPLY, DEMAND, 15.0, decay).access
    np.testing.assert_allclose(ours, _pysal(FAC, PLACE, MIN, SUPPLY, DEMAND, decay), rtol=0, atol=1e-9)
    if decay == "none":
        np.testing.assert_allclose(ours, HAND_2SFCA, rtol=0, atol=1e-15)
    rng = np.random.default_rng(7)
    n_fac, n_place = 6, 40
    pairs = rng.random((n_fac, n_place)) < 0.4
    fac, place = np.nonzero(pairs)
    minutes = rng.uniform(0, 25, len(fac))
    supply, demand = rng.uniform(0, 10, n_fac), rng.uniform(100, 5000, n_place)
    ours = two_step(fac, place, minutes, supply, demand, 15.0, decay).access
    np.testing.assert_allclose(ours, _pysal(fac, place, minutes, supply, demand, decay), rtol=0, atol=1e-9)


reach_sets = st.integers(2, 5).flatmap(lambda n_fac: st.tuples(
    st.just(n_fac), st.lists(st.tuples(st.integers(0, n_fac - 1), st.integers(0, 7), st.floats(0, 15)),
                             min_size=1, max_size=30, unique_by=lambda x: (x[0], x[1])),
    st.lists(st.floats(0, 50), min_size=n_fac, max_size=n_fac), st.lists(st.floats(1, 1e4), min_size=8, max_size=8),
    st.sampled_from(["none", "stepped", "gaussian"]), st.integers(0, n_fac - 1), st.floats(0.1, 20)))


@settings(max_examples=80, deadline=None)
@given(reach_sets)
def test_conservation_and_more_capacity_never_lowers_supply(case) -> None:
    n_fac, pairs, supply, demand, decay, k, extra = case
    fac, place, minutes = (np.array(v) for v in zip(*pairs, strict=True))
    supply, demand = np.array(supply), np.array(demand)
    res = two_step(fac, place, minutes, supply, demand, 15.0, decay)
    reaching = res.demand_reached > 0
    assert float((res.access * demand).sum()) == pytest.approx(float(supply[reaching].sum()), rel=1e-9, abs=1e-9)
    more = supply.copy()
    more[k] += extra
    after = two_step(fac, place, minutes, more, demand, 15.0, decay).access
    assert (after >= res.access - 1e-12).all()


def test_capacity_read_or_defaulted_by_type() -> None:
    fac = pd.DataFrame({"type": ["center", "station", "station", "kiosk"], "全科医生数": [24, None, 3, None],
                        "面积": [3200, 180, None, None], "标准化": ["是", "否", None, None]})
    cap = read_capacity(fac)
    assert cap["gps"].tolist() == [24.0, DEFAULT_CAPACITY["station"]["gps"], 3.0, 0.0]
    assert cap["floor_area_m2"].tolist() == [3200.0, 180.0, DEFAULT_CAPACITY["station"]["floor_area_m2"], 0.0]
    assert cap["standardised"].tolist() == [True, False, None, None]
    assert cap["capacity_source"].tolist() == ["file", "default", "default", "default"]
    assert cap["defaulted"].tolist() == ["", "gps", "floor_area_m2", "gps,floor_area_m2"]
    assert read_capacity(pd.DataFrame({"type": ["center"]}))["gps"].tolist() == [6.0]  # 卫医发〔2006〕240号
    with pytest.raises(ColumnError, match="'gps'.*row\\(s\\) \\[2\\]"):
        read_capacity(pd.DataFrame({"type": ["center", "center"], "gps": [3, -1]}))


def test_weighted_quantile() -> None:
    assert weighted_quantile(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 2.0]), 0.5) == 2.0
    assert weighted_quantile(np.array([1.0, 2.0, np.inf]), np.array([1.0, 0.0, 5.0]), 0.9) == np.inf
    assert np.isnan(weighted_quantile(np.array([1.0]), np.array([0.0]), 0.5))


def _line_case():
    """A 1,500 m street; A (6 GPs) at 0 m and B (2 GPs) at 1,500 m; homes at 200 / 700 / 1,400 m: at 4 km/h
    the walks are 3, 10.5 and 12 min to A (p3: 21 min, beyond) and 12, 22.5 (beyond), 1.5 min to B."""
    x0, y0 = 350_000.0, 3_450_000.0
    net = Network.from_projected(np.arange(2), np.array([x0, x0 + 1500]), np.array([y0, y0]), [0], [1],
                                 crs="EPSG:32651")
    fac = gpd.GeoDataFrame({"facility_id": ["A", "B"], "name": ["A中心", "B站"], "type": ["center", "station"],
                            "全科医生数": [6, 2], "面积": [1000, 150]},
                           geometry=gpd.points_from_xy([x0, x0 + 1500], [y0, y0]), crs="EPSG:32651")
    homes = gpd.GeoDataFrame({"id": ["p1", "p2", "p3"], "population": [1000.0, 3000.0, 2000.0],
                              "pop_65plus": [100.0, 600.0, 500.0],
                              "subdistrict": ["天平路街道", "天平路街道", "华泾镇"],
                              "district": ["某区"] * 3},
                             geometry=gpd.points_from_xy(x0 + np.array([200, 700, 1400]), [y0] * 3), crs="EPSG:32651")
    return net, fac, homes


def test_end_to_end_on_a_street_equals_the_hand_instance() -> None:
    net, fac, homes = _line_case()
    res = access(net, fac, homes, Settings(), regions=pd.DataFrame(
        {"region": ["北", "南"], "subdistrict": ["天平路", "华泾"], "assumption": ["test grouping", None]}))
    np.testing.assert_allclose(res.points["gps_per_10k"], HAND_2SFCA * 1e4, rtol=0, atol=1e-9)
    assert res.points["id"].tolist() == ["p1", "p2", "p3"]
    assert res.summary["gps_allocated"] == pytest.approx(8.0, rel=1e-12)  # conservation on the network
    assert res.summary["facilities_with_default_capacity"] == 0
    assert res.summary["stations_below_200m2"] == 1  # B: 150 m² from the file, under the plans' 200 m²
    sub = res.by_subdistrict.set_index("subdistrict")
    assert sub.loc["天平路街道", "gps_per_10k"] == pytest.approx((1000 * 15 + 3000 * 19) / 4000)
    assert sub.loc["华泾镇", "gps_needed"] == pytest.approx(4.5 * 0.2 - 0.8)  # 0.9 needed, 0.8 allocated
    assert sub.loc["天平路街道", "median_min"] == pytest.approx(700 / (4000 / 60))  # p2's 10.5 min
    assert sub.loc["天平路街道", "within_5_min"] == pytest.approx(0.25)
    # older residents at 3 km/h: catchment 750 m; p2 (700 m from A) still reaches A, p3 (100 m) B
    assert res.points["elderly_min"].tolist() == pytest.approx([4.0, 14.0, 2.0])
    assert sub.loc["天平路街道", "pop_65plus_within_15_min"] == pytest.approx(1.0)
    reg = res.regions.set_index("region")
    assert reg.loc["北", "subdistricts"] == "天平路街道" and reg.loc["南", "population"] == 2000
    assert (reg["assumption"] == "test grouping").all()
    e2 = access(net, fac, homes, Settings(), decay="stepped")
    assert e2.summary["method"] == "E2SFCA (stepped)"
    assert e2.summary["gps_allocated"] == pytest.approx(8.0, rel=1e-12)


def test_defaults_stated_and_bad_options() -> None:
    net, fac, homes = _line_case()
    res = access(net, fac.drop(columns=["全科医生数", "面积"]), homes, Settings(), capacity_column="floor_area_m2")
    assert res.summary["facilities_with_default_capacity"] == 2
    assert res.summary["stations_below_200m2"] == 0  # a defaulted 150 m² is not evidence of a small station
    assert any("defaults used" in n for n in res.summary["notes"])
    assert res.points["supply_per_10k"].tolist() == res.points["floor_m2_per_10k"].tolist()
    with pytest.raises(SitingError, match="unknown `capacity_column`"):
        access(net, fac, homes, Settings(), capacity_column="beds")


def test_regions_file(tmp_path, repo_root) -> None:
    reg = read_regions(repo_root / "data/regions/xuhui.csv")
    assert reg.groupby("region").size().to_dict() == {"北": 5, "中": 5, "南": 3}
    assert "assum" in str(reg["assumption"].iloc[0])
    bad = tmp_path / "r.csv"
    bad.write_text("region,subdistrict\n北,天平路街道\n南,天平路街道\n", encoding="utf-8")
    with pytest.raises(Exception, match="in two regions"):
        read_regions(bad)


@pytest.mark.realdata
def test_real_xuhui_access(shanghai, repo_root, tmp_path) -> None:
    from siting.pipeline import load_inputs, run_coverage

    s = shanghai
    with expected_warnings(*SAMPLE):
        inputs = load_inputs(
            osm=s / "osm/shanghai_center_overpass_roads.osm", facilities=s / "facilities/xuhui_chc_healthxuhui.csv",
            facility_crs="bd09", population=s / "population/lianjia_xiaoqu_shanghai_2018_bd09.json",
            population_crs="bd09", census=s / "population/shanghai_district_population_census.csv",
            subdistrict_totals=[s / "population/xuhui_subdistrict_households_2026_estimate.csv"],
            boundaries=s / "boundaries/shanghai_subdistricts_osm_8districts.geojson", district="徐汇区",
            cache_dir=tmp_path)
        res = access_from_coverage(run_coverage(inputs), regions=repo_root / "data/regions/xuhui.csv")
    sm = res.summary
    assert sm["gps_allocated"] == pytest.approx(sm["gps_total_reaching_residents"], rel=1e-9) == 18.0
    assert sm["facilities_with_default_capacity"] == 3 and sm["coverage_rate"] == pytest.approx(0.539, abs=1e-3)
    subs = res.by_subdistrict
    assert len(subs) == 13 and (subs["population_source"] == "estimate").all()
    inside = subs[subs["population"] > 0]
    assert len(inside) == 5 and inside["below_gp_target"].all()
    assert (inside["p90_min"] >= inside["median_min"]).all()
    assert res.regions["region"].tolist() == ["中", "北", "南"]
    assert res.beyond_20["residents"].sum() == pytest.approx(sm["beyond_20_population"], rel=1e-9)
    assert demand  # the module under the readers stays importable


def test_all_zero_population_is_a_true_message_not_a_keyerror() -> None:
    from test_compare import grid_inputs

    import siting

    inputs = grid_inputs()
    pop = inputs.population.copy()
    pop["population"] = 0.0
    res = siting.compute_coverage(inputs.network, inputs.facilities, pop, Settings(minutes=4.0),
                                  boundaries=inputs.boundaries, target=0.9)
    with pytest.raises(SitingError, match=r"no residents to measure access for: the 80 point\(s\) .* population 0"):
        access_from_coverage(res)
