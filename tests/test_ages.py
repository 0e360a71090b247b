"""Older residents: ``pop_60plus`` or ``--age-shares`` weight the elderly measures, and the outputs say so."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import SAMPLE, expected_warnings
from test_compare import grid_inputs

import siting
from siting.cli.commands import app
from siting.errors import AreaWarning, ColumnError
from siting.io.ages import ALL_RESIDENTS, apply_age_shares, read_age_shares
from siting.pipeline import load_inputs, run_coverage
from siting.settings import Settings
from siting.workbench import Workbench

AGES = "population/shanghai_district_age_census_2020.csv"


def sample_args(shanghai):
    return {"osm": shanghai / "osm/shanghai_center_overpass_roads.osm",
            "facilities": shanghai / "facilities/xuhui_chc_healthxuhui.csv", "facility_crs": "bd09",
            "population": shanghai / "population/lianjia_xiaoqu_shanghai_2018_bd09.json", "population_crs": "bd09",
            "census": shanghai / "population/shanghai_district_population_census.csv",
            "subdistrict_totals": shanghai / "population/xuhui_subdistrict_households_2026_estimate.csv",
            "boundaries": shanghai / "boundaries/shanghai_subdistricts_osm_8districts.geojson", "district": "徐汇区"}


def test_census_file_reads_as_shares(shanghai):
    shares = read_age_shares(shanghai / AGES)
    xuhui = shares.set_index("district").loc["徐汇区", "share_60plus"]
    assert xuhui == pytest.approx(0.2871) and shares["subdistrict"].isna().all() and len(shares) == 18
    assert shares.attrs["source"] == "shanghai_district_age_census_2020.csv"


@pytest.mark.realdata
def test_xuhui_60plus_share_scales_the_elderly_population(shanghai):
    elderly = Settings(mode="elderly")
    with expected_warnings(*SAMPLE):
        aged = load_inputs(settings=elderly, age_shares=shanghai / AGES, **sample_args(shanghai))
        plain = load_inputs(settings=elderly, **sample_args(shanghai))
        old, everyone = run_coverage(aged, elderly), run_coverage(plain, elderly)
        walk = run_coverage(aged, Settings(mode="walk"))
    assert np.allclose(aged.population["pop_60plus"], aged.population["population"] * 0.2871)
    assert old.summary.population_total == pytest.approx(0.2871 * everyone.summary.population_total, rel=1e-12)
    assert old.summary.population_covered == pytest.approx(0.2871 * everyone.summary.population_covered, rel=1e-12)
    assert old.summary.population_weighting.startswith("residents aged 60+: population × the 60+ share per district")
    assert "shanghai_district_age_census_2020.csv" in old.summary.population_weighting
    assert "徐汇区 28.71%" in old.summary.population_weighting
    assert everyone.summary.population_weighting == walk.summary.population_weighting == ALL_RESIDENTS
    assert walk.summary.population_total == pytest.approx(everyone.summary.population_total)  # walking: everyone
    by_sub = old.by_subdistrict.set_index("subdistrict")["population"]
    assert np.allclose(by_sub, everyone.by_subdistrict.set_index("subdistrict")["population"] * 0.2871)
    assert any(s["source"] == "shanghai_district_age_census_2020.csv" for s in old.summary.sources)


@pytest.mark.realdata
def test_cli_says_which_weighting(shanghai, tmp_path):
    args = [x for k, v in sample_args(shanghai).items() for x in (f"--{k.replace('_', '-')}", str(v))]
    result = CliRunner().invoke(app, ["coverage", *args, "--age-shares", str(shanghai / AGES), "--mode", "elderly",
                                      "--out", str(tmp_path / "out"), "--no-map", "--no-report",
                                      "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["population_weighting"].startswith("residents aged 60+") and "徐汇区 28.71%" in result.output
    assert "Counted: residents aged 60+" in result.output


def test_own_column_counts_at_elderly_and_workbench_agrees():
    inputs = grid_inputs()
    pop = inputs.population.copy()
    pop["pop_60plus"] = np.round(pop["population"] * np.linspace(0.1, 0.5, len(pop)))
    inputs = dataclasses.replace(inputs, population=pop)
    walk, old = (siting.compute_coverage(inputs.network, inputs.facilities, pop, Settings(mode=m),
                                         boundaries=inputs.boundaries) for m in ("walk", "elderly"))
    assert walk.summary.population_total == pop["population"].sum()
    assert old.summary.population_total == pop["pop_60plus"].sum()
    assert old.summary.population_weighting.startswith("residents aged 60+: the population file's pop_60plus")
    assert "population_all" in old.points and old.points["population"].sum() == pop["pop_60plus"].sum()
    wb = Workbench(inputs)
    assert wb.result.summary.population_total == pop["population"].sum()
    wb.configure(mode="elderly")
    assert wb.result.summary.population_total == pytest.approx(pop["pop_60plus"].sum())
    assert wb.result.summary.population_covered == pytest.approx(wb.fresh_result().summary.population_covered)
    wb.configure(mode="walk")
    assert wb.result.summary.population_total == pop["population"].sum()


def test_subdistrict_rows_first_and_missing_districts_warned(tmp_path):
    inputs = grid_inputs()
    table = tmp_path / "ages.csv"
    pd.DataFrame({"区": ["测试区", "测试区"], "街道": [None, "西街道"], "share_60plus_pct": [20.0, 40.0]}).to_csv(
        table, index=False)
    pts = apply_age_shares(inputs.population, read_age_shares(table))
    west = pts["subdistrict"] == "西街道"
    assert np.allclose(pts.loc[west, "pop_60plus"], pts.loc[west, "population"] * 0.4)
    assert np.allclose(pts.loc[~west, "pop_60plus"], pts.loc[~west, "population"] * 0.2)
    assert pts.attrs["age_weighting"] == "population × the 60+ share per 街道, else district of ages.csv"
    other = inputs.population.assign(district="别区")
    with pytest.warns(AreaWarning, match=r"no 60\+ share for 80 point\(s\) \([\d,]+ residents\) in 别区"):
        apply_age_shares(other, read_age_shares(table))


@pytest.mark.parametrize(("table", "match"), [
    ({"district": ["a"], "share": [0.2]}, "no 60\\+ share column"),
    ({"district": ["a", "b"], "share_60plus_pct": [20, 120]}, r"'share_60plus_pct', row\(s\) \[3\]"),
    ({"name": ["a"], "share_60plus": [0.2]}, "no district column"),
])
def test_bad_share_tables_are_named(tmp_path, table, match):
    path = tmp_path / "ages.csv"
    pd.DataFrame(table).to_csv(path, index=False)
    with pytest.raises(ColumnError, match=match):
        read_age_shares(path)


def test_counts_give_shares(tmp_path):
    path = tmp_path / "ages.csv"
    pd.DataFrame({"district": ["甲区"], "pop_total": [1000], "pop_60plus": [250]}).to_csv(path, index=False)
    assert read_age_shares(path)["share_60plus"].tolist() == [0.25]
