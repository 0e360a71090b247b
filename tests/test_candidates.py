"""Candidate sites (planner files, OSM features, generated on the network, exclusions) and site plans that
coverage itself confirms: reach sets = coverage of a facility placed there; "after" = coverage re-run."""

from __future__ import annotations

import time
from itertools import combinations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import SAMPLE, expected_warnings
from shapely.geometry import box

import siting
from siting._validate import MAX_GENERATED, check_generated
from siting.engine.coverage import OUTSIDE
from siting.engine.network import Network
from siting.errors import ColumnError, InputFileError, ModelError
from siting.io.coords import wgs84_to_bd09
from siting.locate import MinimumSites
from siting.plan.candidates import (
    build_candidates,
    candidate_reach,
    candidates_from_osm,
    exclude_candidates,
    generate_candidates,
    read_candidates,
)
from siting.plan.sites import plan_sites, problem_from_result, read_quotas


@pytest.fixture(scope="module")
def tiny(test_data, tmp_path_factory) -> Network:
    return Network.from_osm(test_data / "walk_tiny.osm", "walk", cache_dir=tmp_path_factory.mktemp("cache"))


def utm_xy(gdf: gpd.GeoDataFrame, crs: str) -> np.ndarray:
    return gdf.geometry.to_crs(crs).get_coordinates().to_numpy()


# ------------------------------------------------------------------------------------------ planner files
def test_planner_csv_in_bd09(tmp_path, tiny):
    lon = np.array([121.4005, 121.4025, 121.4030])
    lat = np.array([31.2000, 31.2020, 31.2010])
    blon, blat = wgs84_to_bd09(lon, lat)
    assert np.hypot(blon - lon, blat - lat).min() > 0.005  # BD-09 really is ~600 m off here
    path = tmp_path / "sites.csv"
    pd.DataFrame({"id": [7, 8, 9], "name": ["为老服务中心", "邻里汇", "空地"], "lng": blon, "lat": blat,
                  "owner": ["街道", "区", "区"]}).to_csv(path, index=False)
    cand = read_candidates(path, crs="bd09")
    assert cand["candidate_id"].tolist() == ["7", "8", "9"]
    assert cand["name"].tolist() == ["为老服务中心", "邻里汇", "空地"]
    assert (cand["kind"] == "planner").all() and (cand["source"] == "file").all()
    assert cand["owner"].tolist() == ["街道", "区", "区"]  # the planner's own columns are kept
    truth = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(tiny.crs).get_coordinates()
    err = np.hypot(*(utm_xy(cand, tiny.crs) - truth.to_numpy()).T)
    assert err.max() < 0.5  # metres, after the BD-09 → WGS84 inverse


def test_planner_file_ids_default_to_rows_and_must_be_unique(tmp_path):
    path = tmp_path / "sites.csv"
    pd.DataFrame({"lon": [121.40, 121.41], "lat": [31.20, 31.21]}).to_csv(path, index=False)
    cand = read_candidates(path)
    assert cand["candidate_id"].tolist() == ["row:1", "row:2"]
    assert cand["name"].isna().all()
    dup = tmp_path / "dup.csv"
    pd.DataFrame({"id": ["a", "a"], "lon": [121.40, 121.41], "lat": [31.20, 31.21]}).to_csv(dup, index=False)
    with pytest.raises(ColumnError, match="duplicated ids"):
        read_candidates(dup)


# ------------------------------------------------------------------------------------------ OSM features
def test_osm_candidates_fixture(test_data):
    cand = candidates_from_osm(test_data / "candidates_osm.osm")
    kinds = dict(zip(cand["candidate_id"], cand["kind"], strict=True))
    assert kinds == {
        "osm:node/100": "elderly_care", "osm:node/104": "elderly_care",
        "osm:node/101": "community", "osm:node/106": "community", "osm:way/200": "community",
        "osm:node/102": "public", "osm:node/103": "public", "osm:way/201": "public", "osm:relation/300": "public",
    }  # the street, the bus stop, the cafe and the plain building are left out
    assert (cand.geometry.geom_type == "Point").all()
    centre = cand.set_index("candidate_id").geometry
    assert centre["osm:way/200"].distance(shapely.Point(121.4105, 31.2005)) < 1e-6  # area → centroid
    assert centre["osm:relation/300"].distance(shapely.Point(121.4205, 31.2105)) < 1e-6


def test_osm_candidates_tongji_export(shanghai):
    cand = candidates_from_osm(shanghai / "osm" / "shanghai_tongji_siping_campus_export.osm")
    # measured: the campus has no elderly-care or community features, two libraries and the
    # 同济大礼堂 tagged amenity=townhall (one library is a multipolygon relation)
    assert sorted(cand["name"]) == ["同济大学图书馆", "同济大学德文图书馆", "同济大礼堂"]
    assert set(cand["kind"]) == {"public"}
    assert sorted(cand["osm_type"]) == ["node", "relation", "way"]
    assert cand.total_bounds[[0, 2]].round(2).tolist() == [121.5, 121.5]


# ------------------------------------------------------------------------------------------ generated
def test_generated_candidates_are_spread_on_the_network(tiny):
    spacing = 100.0
    cand = generate_candidates(tiny, spacing)
    xy = utm_xy(cand, tiny.crs)
    cells = {(int(np.floor(x / spacing)), int(np.floor(y / spacing))) for x, y in xy}
    assert len(cells) == len(cand) >= 6  # one per grid cell
    snap = siting.engine.routing.snap(tiny, xy[:, 0], xy[:, 1])
    assert snap.ok.all() and snap.off.max() < 1e-6  # on a street
    edges = tiny.edges()
    dense = shapely.line_interpolate_point(edges.geometry.to_numpy()[:, None], np.linspace(0, 1, 50)[None, :],
                                           normalized=True).ravel()
    gaps = shapely.distance(dense[:, None], shapely.points(xy)[None, :]).min(axis=1)
    assert gaps.max() <= spacing * np.sqrt(2) + spacing / 4  # every street point is near a candidate
    assert len(generate_candidates(tiny, 50.0)) >= 2 * len(cand)
    assert cand["candidate_id"].is_unique and (cand["kind"] == "generated").all()


def test_too_fine_a_grid_is_refused_before_any_point_is_made(tiny):
    """--spacing-m 0.001 used to sample billions of street points for minutes; the estimate refuses it at once."""
    spacing = 0.001
    t0 = time.perf_counter()
    with pytest.raises(ModelError, match=r"^`spacing_m` 0.001 would generate about [\d,]+ candidate sites") as err:
        generate_candidates(tiny, spacing)
    assert time.perf_counter() - t0 < 1.0  # refused before the street sampling
    # the count named is the estimate: streets' |dx| + |dy| over the spacing (area / spacing² is larger here)
    x0, y0, x1, y1 = tiny.segments_xy()
    street = np.abs(x1 - x0).sum() + np.abs(y1 - y0).sum()
    assert f"about {street / spacing + len(x0):,.0f} candidate" in str(err.value)
    finest = float(str(err.value).rsplit("at least ", 1)[1].split()[0])
    assert 0 < len(generate_candidates(tiny, finest * 1.01)) <= MAX_GENERATED


def test_grid_estimate_bounds_the_real_count(tiny):
    """The estimate errs on the high side: it never undercounts the grid actually made."""
    x0, y0, x1, y1 = tiny.segments_xy()
    street = float(np.abs(x1 - x0).sum() + np.abs(y1 - y0).sum())
    area = tiny.extent().area
    for spacing in (1.0, 5.0, 20.0, 50.0):  # on fine grids; on coarse ones the cap is far
        made = len(generate_candidates(tiny, spacing))
        assert made <= check_generated(spacing, area_m2=area, street_m=street, segments=len(x0)) <= 2 * made
    with pytest.raises(ModelError, match="at most 10 are allowed"):
        check_generated(5.0, area_m2=area, street_m=street, limit=10)


def test_generated_candidates_near_uncovered_only(tiny):
    near = gpd.GeoDataFrame(geometry=gpd.points_from_xy([121.4000], [31.2000]), crs="EPSG:4326")
    cand = generate_candidates(tiny, 50.0, near=near, near_m=120.0)
    d = np.hypot(*(utm_xy(cand, tiny.crs) - utm_xy(near, tiny.crs)).T)
    assert len(cand) >= 3 and d.max() <= 120.0
    assert len(cand) < len(generate_candidates(tiny, 50.0))


def test_exclusions_with_reasons(tiny):
    west = box(121.395, 31.195, 121.4025, 31.21)
    east = box(121.4025, 31.195, 121.415, 31.21)
    bnd = gpd.GeoDataFrame({"subdistrict": ["西街道", "东街道"], "district": ["测试区", "测试区"]},
                           geometry=[west, east], crs="EPSG:4326")
    fac = gpd.GeoDataFrame({"facility_id": ["f"], "name": ["卫生服务中心"]},
                           geometry=gpd.points_from_xy([121.4000], [31.2000]), crs="EPSG:4326")
    extra = gpd.GeoDataFrame(
        {"candidate_id": ["near", "far", "out", "ok"], "name": None, "kind": "planner", "source": "file"},
        geometry=gpd.points_from_xy([121.4003, 121.4120, 121.4300, 121.4030], [31.2001, 31.2080, 31.2000, 31.2015]),
        crs="EPSG:4326")
    gen = generate_candidates(tiny, 50.0)
    cand = exclude_candidates(pd.concat([gen, extra], ignore_index=True), tiny, facilities=fac, boundaries=bnd,
                              min_distance_m=150.0, max_snap_m=500.0)
    by_id = cand.set_index("candidate_id")
    assert by_id.loc["near", "excluded"] == "too_close" and by_id.loc["near", "nearest_facility_m"] < 40
    assert by_id.loc["far", "excluded"] == "unreachable" and by_id.loc["far", "subdistrict"] == "东街道"
    assert by_id.loc["out", "excluded"] == "outside_area" and by_id.loc["out", "subdistrict"] is None
    assert pd.isna(by_id.loc["ok", "excluded"]) and by_id.loc["ok", "subdistrict"] == "东街道"
    g = cand[cand["source"] == "generated"]
    close = g["nearest_facility_m"] < 150.0
    assert close.any() and (~close).any()
    assert (g.loc[close, "excluded"] == "too_close").all() and g.loc[~close, "excluded"].isna().all()
    assert set(g["subdistrict"]) == {"西街道", "东街道"}
    with pytest.raises(ColumnError, match="not unique"):
        exclude_candidates(pd.concat([extra, extra]), tiny)


# ------------------------------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def xuhui(shanghai, tmp_path_factory):
    """The README's inputs: northern Xuhui streets, 13 centres (BD-09), Lianjia 小区 weighted by the census."""
    s = shanghai
    with expected_warnings(*SAMPLE):  # the sample's known limits (off-extract centres, areas without 小区)
        inputs = siting.load_inputs(
            osm=s / "osm" / "shanghai_center_overpass_roads.osm",
            facilities=s / "facilities" / "xuhui_chc_healthxuhui.csv", facility_crs="bd09",
            population=s / "population" / "lianjia_xiaoqu_shanghai_2018_bd09.json", population_crs="bd09",
            census=s / "population" / "shanghai_district_population_census.csv",
            boundaries=s / "boundaries" / "shanghai_subdistricts_osm_8districts.geojson", district="徐汇区",
            cache_dir=tmp_path_factory.mktemp("netcache"))
        result = siting.run_coverage(inputs)
    cand = build_candidates(result, boundaries=inputs.boundaries)
    return inputs, result, cand


def _with_sites(inputs, sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    new = gpd.GeoDataFrame({"facility_id": sites["candidate_id"].to_numpy(), "name": "新站", "type": "station"},
                           geometry=sites.geometry.to_numpy(), crs=sites.crs)
    return pd.concat([inputs.facilities, new.to_crs(inputs.facilities.crs)], ignore_index=True)


@pytest.mark.realdata
def test_real_candidates(xuhui):
    inputs, result, cand = xuhui
    # measured: 219 network points 200 m apart in northern Xuhui near uncovered residents; 23 lie
    # within 300 m of the 3 centres on the extract
    assert 150 <= len(cand) <= 300
    assert cand["excluded"].dropna().unique().tolist() == ["too_close"]
    assert (cand.loc[cand["excluded"] == "too_close", "nearest_facility_m"] < 300).all()
    assert cand["subdistrict"].notna().all() and set(cand["district"]) == {"徐汇区"}


@pytest.mark.realdata
def test_reach_equals_coverage_of_a_facility_there(xuhui):
    inputs, result, cand = xuhui
    usable = cand[cand["excluded"].isna()]
    rated = (result.points["status"] != OUTSIDE).to_numpy()
    reach = candidate_reach(result, usable, points=rated)
    gains = reach.astype(bool) @ result.points.loc[rated, "population"].fillna(0).to_numpy()
    picks = [int(np.argmax(gains)), int(np.argsort(gains)[len(gains) // 2]), 0, len(usable) - 1]
    for j in picks:
        site = usable.iloc[[j]]
        fac = gpd.GeoDataFrame({"facility_id": ["x"], "name": ["x"], "type": ["station"]},
                               geometry=site.geometry.to_numpy(), crs="EPSG:4326")
        alone = siting.compute_coverage(inputs.network, fac, inputs.population, result.settings,
                                boundaries=inputs.boundaries).points[rated]
        row = reach.getrow(j)
        covered = np.zeros(rated.sum(), dtype=bool)
        covered[row.indices] = True
        assert (covered == alone["covered"].to_numpy()).all(), j
        walk_m = alone["walk_min"].to_numpy()[row.indices] * result.settings.metres_per_minute
        np.testing.assert_allclose(row.data, walk_m, atol=1e-6)


@pytest.mark.realdata
def test_after_coverage_is_what_the_plan_claims(xuhui):
    inputs, result, cand = xuhui
    plan = plan_sites(result, cand, k=3)
    chosen = plan.chosen
    assert len(chosen) == 3 and plan.solution.gap == 0.0
    assert plan.summary["covered_after"] >= plan.summary["greedy"]["covered"]
    with pytest.warns(UserWarning, match="10 of 16 facilities are farther than 500 m"):  # as in "before"
        again = siting.compute_coverage(inputs.network, _with_sites(inputs, chosen), inputs.population, result.settings,
                                boundaries=inputs.boundaries)
    claimed = plan.problem.covered_by(plan.solution.chosen)
    rated = (again.points["status"] != OUTSIDE).to_numpy()
    assert (again.points["covered"].to_numpy()[rated] == claimed).all()
    assert again.summary.population_covered == pytest.approx(plan.summary["covered_after"], abs=1e-6)
    assert again.summary.coverage_rate == pytest.approx(plan.summary["rate_after"], abs=1e-12)
    table = plan.before_after.set_index("subdistrict")
    by = again.by_subdistrict.set_index("subdistrict")
    np.testing.assert_allclose(table["covered_after"], by.loc[table.index, "covered"], atol=1e-6)
    assert int(table["new_sites"].sum()) == 3
    # the plan's own recomputation agrees too
    assert plan.after.summary.population_covered == pytest.approx(plan.summary["covered_after"], abs=1e-6)
    ranked = plan.candidates
    assert ranked.loc[ranked["chosen"], "order"].sort_values().tolist() == [1.0, 2.0, 3.0]
    assert ranked.loc[ranked["excluded"].notna(), "gain"].isna().all()
    assert ranked["rank"].dropna().sort_values().tolist() == list(range(1, int(ranked["excluded"].isna().sum()) + 1))


@pytest.mark.realdata
def test_fewest_sites_for_90_percent_is_proven(xuhui):
    """3 sites; no pair reaches 90 % (brute force) — HiGHS 1.16 warm-started once claimed "optimal: 2"."""
    inputs, result, cand = xuhui
    prob = problem_from_result(result, cand)
    model = MinimumSites(prob, 0.9).solve()
    assert model.solution.k == 3 and model.mip_gap == 0.0 and model.feasible
    assert model.solution.k <= model.greedy_solution.k
    reach = prob.reach.toarray()
    need = 0.9 * prob.total - prob.covered_before
    best_pair = max(float(prob.open_weights[reach[i] | reach[j]].sum())
                    for i, j in combinations(np.flatnonzero(prob.gains > 0), 2))
    assert best_pair < need


@pytest.mark.realdata
def test_plan_errors_name_the_problem(xuhui):
    inputs, result, cand = xuhui
    with pytest.raises(ModelError, match=r"k = 500 but only \d+ of \d+ candidates are usable \(23 too_close"):
        plan_sites(result, cand, k=500)
    with pytest.raises(ModelError, match="'gen:9999' is not a candidate id"):
        plan_sites(result, cand, k=2, locked=["gen:9999"])
    close = cand.loc[cand["excluded"] == "too_close", "candidate_id"].iloc[0]
    with pytest.raises(ModelError, match="excluded \\(too_close\\)"):
        plan_sites(result, cand, k=2, locked=[close])
    with pytest.raises(InputFileError, match="did you mean '天平路街道'"):
        plan_sites(result, cand, quotas={"天平街道": 1})
    with pytest.raises(ModelError, match="quota of 2 site.*in 凌云路街道 but only 0 usable"):
        plan_sites(result, cand, quotas={"凌云路": 2})
    plan = plan_sites(result, cand, quotas={"天平路": 2, "徐家汇街道": 1}, forbidden=[close])
    assert plan.chosen["subdistrict"].value_counts().to_dict() == {"天平路街道": 2, "徐家汇街道": 1}


def test_changning_quota_file(repo_root, tmp_path):
    names = ["华阳路街道", "江苏路街道", "新华路街道", "周家桥街道", "天山路街道", "仙霞新村街道", "虹桥街道",
             "程家桥街道", "北新泾街道", "新泾镇"]
    quotas = read_quotas(repo_root / "data" / "scenarios" / "changning_quotas.csv", names)
    assert quotas == {"虹桥街道": 2, "新华路街道": 1, "仙霞新村街道": 1, "北新泾街道": 1, "新泾镇": 1}
    short = tmp_path / "q.csv"
    short.write_text("街道,数量\n虹桥,2\n仙霞,1\n", encoding="utf-8")
    assert read_quotas(short, names) == {"虹桥街道": 2, "仙霞新村街道": 1}
    short.write_text("subdistrict,count\n虹桥,-1\n", encoding="utf-8")
    with pytest.raises(ColumnError, match="row 2"):
        read_quotas(short, names)
