"""The workbench equals a fresh run after every edit (random edit sequences), and its scenario files re-run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE, expected_warnings
from test_compare import grid_inputs, point, real_file

import siting
from siting.errors import ScenarioError, SitingError
from siting.pipeline import load_inputs
from siting.scenarios._baseline import Baseline
from siting.workbench import Workbench
from siting.workbench._scenario import baseline_from_arguments, baseline_mapping

GRID_SEQUENCES = 200
SAMPLE_SEQUENCES = 60


def assert_same(a: siting.CoverageResult, b: siting.CoverageResult) -> None:
    """Every table, the summary and the node distances exactly equal (no tolerance)."""
    geo = "geometry"
    pd.testing.assert_frame_equal(pd.DataFrame(a.points.drop(columns=geo)), pd.DataFrame(b.points.drop(columns=geo)),
                                  check_exact=True)
    assert a.points.geometry.equals(b.points.geometry)
    pd.testing.assert_frame_equal(pd.DataFrame(a.facilities.drop(columns=geo)),
                                  pd.DataFrame(b.facilities.drop(columns=geo)), check_exact=True)
    assert a.facilities.geometry.geom_equals_exact(b.facilities.geometry, 0).all()
    pd.testing.assert_frame_equal(a.by_subdistrict, b.by_subdistrict, check_exact=True)
    pd.testing.assert_frame_equal(a.by_district, b.by_district, check_exact=True)
    assert a.summary == b.summary
    assert np.array_equal(a._node_dist, b._node_dist)
    if a.subdistricts is not None:
        pd.testing.assert_frame_equal(pd.DataFrame(a.subdistricts.drop(columns=geo)),
                                      pd.DataFrame(b.subdistricts.drop(columns=geo)), check_exact=True)


def random_edit(wb: Workbench, rng: np.random.Generator, box: tuple[float, float, float, float],
                configs: list[dict]) -> str:
    """One random edit: add / move / close / reopen / undo / redo / configure."""
    tab = wb._table
    open_ids = tab.loc[wb._open, "facility_id"].tolist()
    closed_ids = tab.loc[~wb._open, "facility_id"].tolist()
    kinds = ["add", "add", "move", "close", "reopen", "undo", "redo", "configure"]
    kind = kinds[rng.integers(len(kinds))]
    lon, lat = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
    if kind == "add":
        wb.add(lon, lat, type=["station", "center", "kiosk"][rng.integers(3)])
    elif kind == "move" and open_ids:
        wb.move(open_ids[rng.integers(len(open_ids))], lon, lat)
    elif kind == "close" and len(open_ids) > 1:
        wb.close(open_ids[rng.integers(len(open_ids))])
    elif kind == "reopen" and closed_ids:
        wb.reopen(closed_ids[rng.integers(len(closed_ids))])
    elif kind == "undo":
        wb.undo()
    elif kind == "redo":
        wb.redo()
    elif kind == "configure":
        wb.configure(**configs[rng.integers(len(configs))])
    return kind


def test_random_edit_sequences_on_a_grid_equal_fresh_runs():
    inputs = grid_inputs()
    lo, hi = point(-0.5, -0.5), point(15.5, 15.5)
    configs = [{"minutes": 5.0}, {"minutes": 3.0}, {"mode": "elderly"}, {"mode": "walk"}, {"speed_kmh": 5.0}]
    rng = np.random.default_rng(20261207)
    kinds: dict[str, int] = {}
    for _ in range(GRID_SEQUENCES):
        wb = Workbench(inputs, siting.Settings(minutes=4.0), target=0.9)
        for _ in range(int(rng.integers(2, 6))):
            kind = random_edit(wb, rng, (*lo, *hi), configs)
            kinds[kind] = kinds.get(kind, 0) + 1
            assert_same(wb.result, wb.fresh_result())
    assert set(kinds) == {"add", "move", "close", "reopen", "undo", "redo", "configure"}, kinds


@pytest.fixture(scope="module")
def sample(shanghai):
    with expected_warnings(*SAMPLE):
        return load_inputs(
            osm=shanghai / "osm/shanghai_center_overpass_roads.osm",
            facilities=shanghai / "facilities/xuhui_chc_healthxuhui.csv", facility_crs="bd09",
            population=shanghai / "population/lianjia_xiaoqu_shanghai_2018_bd09.json", population_crs="bd09",
            census=shanghai / "population/shanghai_district_population_census.csv",
            subdistrict_totals=shanghai / "population/xuhui_subdistrict_households_2026_estimate.csv",
            boundaries=shanghai / "boundaries/shanghai_subdistricts_osm_8districts.geojson", district="徐汇区")


@pytest.mark.realdata
def test_random_edit_sequences_on_the_sample_equal_fresh_runs(sample):
    configs = [{"minutes": 10.0}, {"minutes": 15.0}, {"mode": "elderly"}, {"mode": "walk"}]
    rng = np.random.default_rng(7)
    with expected_warnings(*SAMPLE):
        for _ in range(SAMPLE_SEQUENCES):
            wb = Workbench(sample)
            for _ in range(int(rng.integers(2, 5))):
                random_edit(wb, rng, (121.42, 31.179, 121.47, 31.225), configs)
                assert_same(wb.result, wb.fresh_result())


@pytest.mark.realdata
def test_state_gives_the_result_figures(sample):
    with expected_warnings(*SAMPLE):
        wb = Workbench(sample)
        wb.add(121.437, 31.196, name="新站")
        st, res = wb.state(), wb.result
    assert st["coverage_rate"] == pytest.approx(res.summary.coverage_rate, rel=1e-12)
    assert st["population_total"] == pytest.approx(res.summary.population_total, rel=1e-12)
    assert st["gap_residents"] == res.summary.gap_residents
    by_sub = res.by_subdistrict.set_index("subdistrict")
    for row in st["subdistricts"]:
        ref = by_sub.loc[row["subdistrict"]]
        assert row["covered"] == pytest.approx(ref["covered"], rel=1e-12, abs=1e-9)
        assert row["gap_residents"] == ref["gap_residents"] or (row["gap_residents"] is None
                                                                and pd.isna(ref["gap_residents"]))
    gaps = [r["gap_residents"] or 0 for r in st["subdistricts"]]
    assert gaps == sorted(gaps, reverse=True)
    assert [f["id"] for f in st["facilities"] if f["added"]] == ["new:1"]


@pytest.mark.realdata
def test_a_saved_workbench_reruns_in_compare(tmp_path, repo_root, shanghai):
    with expected_warnings(*SAMPLE):
        wb = Workbench.from_scenario_file(real_file(repo_root, shanghai, tmp_path), "move_hunan")
        wb.close("1")
        fid = wb.add(121.437, 31.196, name="新站 <b>x</b>")
        wb.move(fid, 121.44, 31.198)
        wb.configure(minutes=12)
        path = wb.save(tmp_path / "mine.yaml", "mine")
        with pytest.raises(ScenarioError, match="exists"):
            wb.save(path, "mine")
        comp = siting.compare(path)
        mine = wb.result.summary
    got = comp.runs["mine"].result.summary
    assert got.population_covered == pytest.approx(mine.population_covered, rel=1e-12)
    assert got.coverage_rate == pytest.approx(mine.coverage_rate, rel=1e-12)
    assert got.minutes == 12


def test_bad_edits_are_clear_errors():
    wb = Workbench(grid_inputs(), siting.Settings(minutes=4.0))
    with pytest.raises(SitingError, match="no facility with id 'nope'"):
        wb.close("nope")
    with pytest.raises(SitingError, match="not a longitude/latitude"):
        wb.add(float("nan"), 31.2)
    with pytest.raises(SitingError, match="unknown facility type"):
        wb.add(*point(3, 3), type="swimming_pool")
    wb.close("f1")
    with pytest.raises(SitingError, match="closed already"):
        wb.close("f1")
    with pytest.raises(ScenarioError, match="started from loaded inputs"):
        wb.to_scenario("x")
    assert wb.undo() and not wb.undo() and wb.redo() and not wb.redo()


def test_suggest_places_sites_that_raise_coverage():
    wb = Workbench(grid_inputs(), siting.Settings(minutes=4.0), target=0.9)
    before = wb.result.summary.population_covered
    plan = wb.suggest(k=2, time_limit=5)
    ids = wb.accept(plan)
    assert len(ids) == 2
    assert wb.result.summary.population_covered > before
    assert_same(wb.result, wb.fresh_result())



def test_every_input_option_reaches_the_saved_baseline(tmp_path):
    for name in ("a.osm", "book.xlsx", "p.csv", "ages.csv"):
        (tmp_path / name).write_text("x")
    args = {"osm": tmp_path / "a.osm", "facilities": f"{tmp_path / 'book.xlsx'}#Sheet2", "facility_crs": "gcj02",
            "population": tmp_path / "p.csv", "dedupe": True, "spread_polygons": True, "allow_broken_network": True,
            "age_shares": tmp_path / "ages.csv"}
    base = baseline_from_arguments(args, siting.Settings())
    assert base.facility_sheet == "Sheet2" and base.facilities.path.name == "book.xlsx"
    assert base.facilities.crs == "gcj02"
    m = baseline_mapping(base)
    assert m["dedupe"] is m["spread_polygons"] is m["allow_broken_network"] is True
    assert m["facility_sheet"] == "Sheet2" and m["age_shares"].endswith("ages.csv")
    again = Baseline.from_dict(m, base_dir=tmp_path)
    assert again.dedupe and again.spread_polygons and again.allow_broken_network and again.facility_sheet == "Sheet2"
