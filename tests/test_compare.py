"""siting.compare on a small synthetic street grid: each scenario equals a separate coverage run on the edited
inputs, closing never helps, adding never hurts, elderly ≤ walk; outputs (CSV = Excel, folders, map)."""

from __future__ import annotations

import contextlib
import json
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

import siting
from siting.cli.commands import app
from siting.engine._coverage import SNAP_MEMO
from siting.outputs.report import REPORT_FILES
from siting.pipeline import Inputs
from siting.scenarios.comparison import BASELINE, Scenario, prepare
from siting.scenarios.results import read_excel_table

LON0, LAT0 = 121.44, 31.20
DLON, DLAT = 100 / (111_320 * np.cos(np.radians(LAT0))), 100 / 110_574  # 100 m steps


@cache
def grid_inputs(n: int = 16) -> Inputs:
    """An n × n street grid (100 m blocks), 4 facilities, 80 weighted homes, two 街道 (west / east)."""
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    lon, lat = (LON0 + jj * DLON).ravel(), (LAT0 + ii * DLAT).ravel()
    idx = np.arange(n * n).reshape(n, n)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    net = siting.Network.from_segments(np.arange(n * n), lon, lat, u, v, info={"source": "synthetic grid"})
    rng = np.random.default_rng(7)
    fac = gpd.GeoDataFrame(
        {"facility_id": ["f1", "f2", "f3", "f4"], "name": ["西中心", "东中心", "北站", "南站"],
         "type": ["center", "center", "station", "station"]},
        geometry=gpd.points_from_xy(LON0 + np.array([2.3, 12.6, 7.5, 8.2]) * DLON,
                                    LAT0 + np.array([3.1, 4.2, 13.4, 1.5]) * DLAT), crs="EPSG:4326")
    pts = gpd.GeoDataFrame({"population": rng.integers(50, 500, 80).astype(float)},
                           geometry=gpd.points_from_xy(LON0 + rng.uniform(0, n - 1, 80) * DLON,
                                                       LAT0 + rng.uniform(0, n - 1, 80) * DLAT), crs="EPSG:4326")
    pts.attrs.update(weighted=True, unit="residents")
    mid = LON0 + (n - 1) / 2 * DLON
    bnd = gpd.GeoDataFrame({"subdistrict": ["西街道", "东街道"], "district": ["测试区", "测试区"]},
                           geometry=[box(LON0 - DLON, LAT0 - DLAT, mid, LAT0 + n * DLAT),
                                     box(mid, LAT0 - DLAT, LON0 + n * DLON, LAT0 + n * DLAT)], crs="EPSG:4326")
    pts = siting.assign_areas(pts, bnd)
    return Inputs(net, fac, pts, bnd, [])


def separate(fac: gpd.GeoDataFrame, pop: gpd.GeoDataFrame | None = None, **settings_kw) -> siting.CoverageResult:
    """An independent coverage run on hand-edited inputs (what `siting coverage` would get)."""
    inputs = grid_inputs()
    return siting.compute_coverage(inputs.network, fac, inputs.population if pop is None else pop,
                                   siting.Settings(**settings_kw), boundaries=inputs.boundaries, target=0.9)


def point(x: float, y: float) -> tuple[float, float]:
    return LON0 + x * DLON, LAT0 + y * DLAT


def test_each_scenario_equals_a_separate_run_on_edited_inputs():
    inputs = grid_inputs()
    fac = inputs.facilities
    new_lon, new_lat = point(6.0, 8.0)
    mv_lon, mv_lat = point(10.0, 11.0)
    est_lon, est_lat = point(14.0, 14.5)
    comp = siting.compare(inputs, [
        Scenario("close_west", close=["西中心"]),
        Scenario("add_one", add=[{"name": "新站", "lon": new_lon, "lat": new_lat}]),
        Scenario("move_east", move={"f2": {"lon": mv_lon, "lat": mv_lat}}),
        Scenario("elderly", mode="elderly"),
        Scenario("ten_min_bike", mode="bike", minutes=5),
        Scenario("chain", from_="close_west", add=[{"id": "n9", "lon": new_lon, "lat": new_lat}], mode="elderly"),
        Scenario("estate", add_population=[{"lon": est_lon, "lat": est_lat, "population": 900}]),
    ], target=0.9, networks={"bike": inputs.network})
    added = gpd.GeoDataFrame({"facility_id": ["x"], "name": ["新站"], "type": ["station"]},
                             geometry=gpd.points_from_xy([new_lon], [new_lat]), crs="EPSG:4326")
    moved = fac.copy()
    moved.loc[moved["facility_id"] == "f2", "geometry"] = gpd.points_from_xy([mv_lon], [mv_lat])[0]
    estate = gpd.GeoDataFrame({"population": [900.0]}, geometry=gpd.points_from_xy([est_lon], [est_lat]),
                              crs="EPSG:4326")
    homes = pd.concat([inputs.population, siting.assign_areas(estate, inputs.boundaries)], ignore_index=True)
    expected = {
        BASELINE: separate(fac),
        "close_west": separate(fac[fac["name"] != "西中心"]),
        "add_one": separate(pd.concat([fac, added], ignore_index=True)),
        "move_east": separate(moved),
        "elderly": separate(fac, mode="elderly"),
        "ten_min_bike": separate(fac, mode="bike", minutes=5),
        "chain": separate(pd.concat([fac[fac["name"] != "西中心"], added], ignore_index=True), mode="elderly"),
        "estate": separate(fac, gpd.GeoDataFrame(homes, geometry="geometry", crs="EPSG:4326")),
    }
    assert list(comp.runs) == list(expected)
    covered = {name: run.result.summary.population_covered for name, run in comp.runs.items()}
    assert covered == {name: res.summary.population_covered for name, res in expected.items()}
    assert len(set(covered.values())) >= 5  # the scenarios really differ
    for name, res in expected.items():
        rows = comp.table[(comp.table["scenario"] == name) & (comp.table["level"] == "subdistrict")]
        assert rows["covered"].tolist() == res.by_subdistrict["covered"].tolist()
        assert rows["population"].tolist() == res.by_subdistrict["population"].tolist()
    base = comp.table[comp.table["scenario"] == BASELINE].set_index(["level", "area"])["covered"]
    close = comp.table[comp.table["scenario"] == "close_west"].set_index(["level", "area"])
    assert (close["delta_covered"] == close["covered"] - base).all()


def test_population_snaps_are_memoised_across_scenarios(monkeypatch):
    """Scenarios on the same network and residents snap them once; the answers are those of unmemoised runs."""
    inputs = grid_inputs()
    est_lon, est_lat = point(14.0, 14.5)
    scenarios = [Scenario("close_west", close=["西中心"]), Scenario("elderly", mode="elderly"),
                 Scenario("ten_min_bike", mode="bike", minutes=5), Scenario("twelve_min", minutes=12),
                 Scenario("estate", add_population=[{"lon": est_lon, "lat": est_lat, "population": 900}])]
    snapped: list[int] = []
    real_snap = siting.engine.routing.snap

    def spy(net, x, y, max_dist=np.inf):
        snapped.append(len(x))
        return real_snap(net, x, y, max_dist)

    monkeypatch.setattr(siting.engine.routing, "snap", spy)
    memo = siting.compare(inputs, scenarios, target=0.9, networks={"bike": inputs.network})
    homes = len(inputs.population)
    # 6 runs: the baseline's residents snapped once (bike shares the network object here), the estate's once
    assert sorted(n for n in snapped if n >= homes) == [homes, homes + 1]
    assert not any(SNAP_MEMO in net.__dict__ for net in (inputs.network,))  # dropped after the comparison
    snapped.clear()
    monkeypatch.setattr(siting.scenarios.comparison, "snap_memo", lambda networks: contextlib.nullcontext())
    plain = siting.compare(inputs, scenarios, target=0.9, networks={"bike": inputs.network})
    assert sorted(n for n in snapped if n >= homes) == [homes] * 5 + [homes + 1]
    for name, run in plain.runs.items():
        pd.testing.assert_frame_equal(pd.DataFrame(memo.runs[name].result.points.drop(columns="geometry")),
                                      pd.DataFrame(run.result.points.drop(columns="geometry")))
    pd.testing.assert_frame_equal(memo.table, plain.table)


def test_mean_walk_is_population_weighted_over_finite_times():
    comp = siting.compare(grid_inputs(), [Scenario("elderly", mode="elderly")])
    pts = comp.runs["elderly"].result.points
    ok = np.isfinite(pts["walk_min"]) & (pts["status"] != "outside_network_area")
    expected = np.average(pts.loc[ok, "walk_min"], weights=pts.loc[ok, "population"])
    row = comp.table[(comp.table["scenario"] == "elderly") & (comp.table["level"] == "district")]
    assert row["mean_walk_min"].iloc[0] == pytest.approx(expected, rel=1e-12)
    walk = comp.table[(comp.table["scenario"] == BASELINE) & (comp.table["level"] == "district")]
    assert row["mean_walk_min"].iloc[0] == pytest.approx(walk["mean_walk_min"].iloc[0] * 4 / 3, rel=1e-9)


def testresults_excel_equals_csv_and_one_folder_per_run(tmp_path):
    lon, lat = point(6, 8)
    comp = siting.compare(grid_inputs(), [Scenario("close", close=["f1"]),
                                          Scenario("add 1/2", add=[{"lon": lon, "lat": lat}]),
                                          Scenario("sites", site={"k": 2, "spacing_m": 150})],
                          settings=siting.Settings(minutes=5))
    out = comp.write(tmp_path / "cmp", tiles=False)
    csv = pd.read_csv(out / "comparison.csv", encoding="utf-8-sig")
    xlsx = read_excel_table(out / "comparison.xlsx")
    pd.testing.assert_frame_equal(xlsx, csv, check_dtype=False, check_exact=True)  # whole floats come back as int
    assert list(csv.columns) == ["scenario", "description", "level", "area", "population", "covered", "coverage_rate",
                                 "target", "gap_residents", "mean_walk_min", "delta_covered"]
    assert set(csv["scenario"]) == {BASELINE, "close", "add 1/2", "sites"}
    wide = pd.read_excel(out / "comparison.xlsx", sheet_name=1)
    assert list(wide.columns) == ["层级 level", "区域 area", BASELINE, "close", "add 1/2", "sites"]
    for folder in ("baseline", "close", "add_1_2"):
        assert (out / folder / "summary.json").is_file() and (out / folder / "map.html").is_file()
    assert (out / "sites" / "chosen.gpkg").is_file() and (out / "sites" / "before_after.csv").is_file()
    page = (out / "map.html").read_text(encoding="utf-8")
    assert all(name in page for name in ("baseline", "close", "add 1/2", "sites"))
    assert len(comp.runs["sites"].added) == 2 and comp.runs["close"].closed["facility_id"].tolist() == ["f1"]
    with pytest.raises(siting.errors.OutputError):
        comp.write(out)  # exists: needs overwrite


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(closed=st.sets(st.sampled_from(["f1", "f2", "f3", "f4"]), min_size=1, max_size=3),
       new=st.lists(st.tuples(st.floats(0, 15), st.floats(0, 15)), min_size=1, max_size=3),
       minutes=st.sampled_from([5.0, 10.0, 15.0]))
def test_closing_never_helps_adding_never_hurts_elderly_never_beats_walking(closed, new, minutes):
    adds = [{"lon": point(x, y)[0], "lat": point(x, y)[1]} for x, y in new]
    comp = siting.compare(grid_inputs(), [
        Scenario("closed", close=sorted(closed)), Scenario("added", add=adds),
        Scenario("elderly", mode="elderly"), Scenario("closed_then_added", from_="closed", add=adds),
    ], settings=siting.Settings(minutes=minutes))
    cov = {n: r.result.by_subdistrict.set_index("subdistrict")["covered"] for n, r in comp.runs.items()}
    assert (cov["closed"] <= cov[BASELINE] + 1e-9).all()
    assert (cov["added"] >= cov[BASELINE] - 1e-9).all()
    assert (cov["elderly"] <= cov[BASELINE] + 1e-9).all()
    assert (cov["closed_then_added"] >= cov["closed"] - 1e-9).all()
    assert (comp.table.loc[comp.table["scenario"] == "added", "delta_covered"] >= -1e-9).all()


# ------------------------------------------------------------------------------------------------ real sample
EXAMPLE_PREFIX = "../../../shared/data/shanghai"


def real_file(repo_root: Path, shanghai: Path, folder: Path, names: list[str] | None = None) -> Path:
    """data/scenarios/xuhui_2025.yaml with its paths made absolute (a worktree sits one level deeper)."""
    text = (repo_root / "data" / "scenarios" / "xuhui_2025.yaml").read_text(encoding="utf-8")
    assert text.count(EXAMPLE_PREFIX) == 6  # every input relative to the file: ../../../shared beside the checkout
    path = folder / "xuhui_2025.yaml"
    path.write_text(text.replace(EXAMPLE_PREFIX, str(shanghai)), encoding="utf-8")
    if names is not None:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec["scenarios"] = [s for s in spec["scenarios"] if s["name"] in names]
        path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.realdata
def test_example_file_is_valid(repo_root, shanghai, tmp_path):
    prep = prepare(real_file(repo_root, shanghai, tmp_path))
    assert len(prep.scenarios) == 10
    assert prep.edits["close_hunan"].close == ("5",)  # by name → id
    assert "淮海中路966号" in prep.edits["move_hunan"].move["5"].name
    assert [s.name for s in prep.order].index("optimiser_90") < [s.name for s in prep.order].index(
        "optimiser_90_elderly")


@pytest.mark.realdata
def test_cli_compare_equals_separate_siting_coverage_runs(repo_root, shanghai, tmp_path):
    """Several scenarios of the example file: covered residents exactly as `siting coverage` on edited files."""
    names = ["close_hunan", "move_hunan", "elderly", "bike", "add_station"]
    path = real_file(repo_root, shanghai, tmp_path, names)
    cache = str(tmp_path / "cache")
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["compare", str(path), "--out", str(out), "--cache-dir", cache, "--no-map"])
    assert result.exit_code == 0, result.output
    assert "close_hunan" in result.output and "Δ pp" in result.output

    fac = siting.read_facilities(shanghai / "facilities/xuhui_chc_healthxuhui.csv", crs="bd09")
    table = pd.DataFrame({"id": fac["facility_id"], "name": fac["name"], "type": fac["type"],
                          "lon": fac.geometry.x, "lat": fac.geometry.y})
    moved = table.copy()
    moved.loc[moved["id"] == "5", ["lon", "lat"]] = [121.4535, 31.2181]
    added = pd.concat([table, pd.DataFrame({"id": ["add_station:1"], "name": ["新站 徐家汇"], "type": ["station"],
                                            "lon": [121.437], "lat": [31.196]})], ignore_index=True)
    edited = {"close_hunan": (table[table["id"] != "5"], []), "move_hunan": (moved, []),
              "elderly": (table, ["--mode", "elderly"]), "bike": (table, ["--mode", "bike"]),
              "add_station": (added, []), BASELINE: (table, [])}
    csv = pd.read_csv(out / "comparison.csv", encoding="utf-8-sig")
    for name, (facilities, extra) in edited.items():
        facilities.to_csv(tmp_path / f"{name}.csv", index=False)
        one = tmp_path / f"one_{name}"
        args = ["coverage", "--osm", str(shanghai / "osm/shanghai_center_overpass_roads.osm"),
                "--facilities", str(tmp_path / f"{name}.csv"), "--facility-crs", "wgs84",
                "--population", str(shanghai / "population/lianjia_xiaoqu_shanghai_2018_bd09.json"),
                "--population-crs", "bd09",
                "--census", str(shanghai / "population/shanghai_district_population_census.csv"),
                "--subdistrict-totals", str(shanghai / "population/xuhui_subdistrict_households_2026_estimate.csv"),
                "--boundaries", str(shanghai / "boundaries/shanghai_subdistricts_osm_8districts.geojson"),
                "--district", "徐汇区", "--target", "0.9", "--out", str(one), "--cache-dir", cache, "--no-map", "-q",
                *extra]
        run = CliRunner().invoke(app, args)
        assert run.exit_code == 0, run.output
        alone = json.loads((one / "summary.json").read_text(encoding="utf-8"))
        inside = json.loads((out / name / "summary.json").read_text(encoding="utf-8"))
        assert inside["population_covered"] == alone["population_covered"], name
        assert inside["population_total"] == alone["population_total"], name
        subs = pd.read_csv(one / "subdistricts.csv", encoding="utf-8-sig").set_index("subdistrict")["covered"]
        rows = csv[(csv["scenario"] == name) & (csv["level"] == "subdistrict")].set_index("area")["covered"]
        assert (rows.round(0) == subs.reindex(rows.index)).all(), name  # subdistricts.csv: whole residents
    covered = csv[csv["level"] == "district"].set_index("scenario")["covered"]
    assert covered["close_hunan"] < covered[BASELINE] < covered["add_station"] < covered["bike"]
    assert covered["elderly"] < covered[BASELINE]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=st.permutations(["f1", "f2", "f3", "f4"]), split=st.integers(1, 3),
       mode=st.sampled_from(["walk", "elderly", "bike"]))
def test_a_from_chain_equals_the_same_edits_in_one_scenario(order, split, mode):
    first, second = sorted(order[:split]), sorted(order[split:3])
    lon, lat = point(9.5, 2.5)
    comp = siting.compare(grid_inputs(), [
        Scenario("one", close=first, mode=mode),
        Scenario("two", from_="one", close=second or None, add=[{"id": "n", "lon": lon, "lat": lat}]),
        Scenario("at_once", close=first + second, add=[{"id": "n", "lon": lon, "lat": lat}], mode=mode),
    ], networks={"bike": grid_inputs().network})
    two, once = comp.runs["two"].result, comp.runs["at_once"].result
    assert two.summary.population_covered == once.summary.population_covered
    assert (two.points["walk_min"].to_numpy() == once.points["walk_min"].to_numpy()).all()


def test_no_report_leaves_out_comparison_xlsx_and_each_runs_reports(tmp_path):
    """compare --no-report (``reports=False``): the same folders, less the workbook, figures and report pages."""
    comp = siting.compare(grid_inputs(), [Scenario("close", close=["f1"]),
                                          Scenario("sites", site={"k": 1, "spacing_m": 150})],
                          settings=siting.Settings(minutes=5))
    full = comp.write(tmp_path / "full", tiles=False, map_html=False)
    lean = comp.write(tmp_path / "lean", tiles=False, map_html=False, reports=False)
    assert (full / "comparison.xlsx").is_file() and not (lean / "comparison.xlsx").exists()
    for folder in ("baseline", "close", "sites"):
        written = {p.name for p in (full / folder).iterdir()}
        kept = {p.name for p in (lean / folder).iterdir()}
        skipped = json.loads((lean / folder / "summary.json").read_text(encoding="utf-8"))["skipped"]
        assert kept == written - set(REPORT_FILES) and "report.html" in written, folder
        assert skipped == ["map.html", *REPORT_FILES]
