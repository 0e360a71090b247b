"""siting compare outputs a planner reads: a description per scenario (file, console, CSV, xlsx, map, summary.json),
comparison.csv rounded like every CSV, summary.json with the headline of every run, and 街道 without residents
listed once, apart — on test_compare's synthetic grid with fractional residents and a 街道 off the streets."""

from __future__ import annotations

import json
import textwrap
from functools import cache

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from test_compare import DLAT, DLON, LAT0, LON0, grid_inputs, point

import siting
from siting.errors import ScenarioError
from siting.pipeline import Inputs
from siting.scenarios.comparison import BASELINE, Scenario, prepare
from siting.scenarios.results import BASELINE_DESCRIPTION, SHEETS, format_comparison, read_excel_table

N = 16
CLOSE = "西中心关闭 · the west centre closes"


@cache
def inputs_with_an_empty_subdistrict() -> Inputs:
    """The grid, residents × 1.37 (fractional, as census-weighted ones are), and 北街道 whose two homes lie
    beyond the streets (no residents analysed, 720.5 outside the extract), as 8 of 徐汇's 13 街道 are."""
    base = grid_inputs()
    mid, cut = LON0 + (N - 1) / 2 * DLON, LAT0 + 11.5 * DLAT
    bnd = gpd.GeoDataFrame({"subdistrict": ["西街道", "东街道", "北街道"], "district": ["测试区"] * 3},
                           geometry=[box(LON0 - DLON, LAT0 - DLAT, mid, cut),
                                     box(mid, LAT0 - DLAT, LON0 + N * DLON, cut),
                                     box(LON0 - DLON, cut, LON0 + N * DLON, LAT0 + 50 * DLAT)], crs="EPSG:4326")
    homes = base.population[["population", "geometry"]]
    homes = homes[homes.geometry.y < cut - DLAT].assign(population=lambda f: f["population"] * 1.37)
    far = gpd.GeoDataFrame({"population": [300.0, 420.5]}, crs="EPSG:4326",
                           geometry=gpd.points_from_xy(LON0 + np.array([5, 9]) * DLON,
                                                       LAT0 + np.array([40, 44]) * DLAT))
    pts = gpd.GeoDataFrame(pd.concat([homes, far], ignore_index=True), geometry="geometry", crs="EPSG:4326")
    pts.attrs.update(weighted=True, unit="residents")
    return Inputs(base.network, base.facilities, siting.assign_areas(pts, bnd), bnd, [])


def scenarios() -> list[Scenario]:
    lon, lat = point(6, 8)
    return [Scenario("close", close=["f1"], description=CLOSE),
            Scenario("add", add=[{"lon": lon, "lat": lat}]),  # no description
            Scenario("elderly", mode="elderly", description="现状设施，老年步速 (3 km/h)")]


@cache
def comparison() -> siting.Comparison:
    return siting.compare(inputs_with_an_empty_subdistrict(), scenarios(), target=0.95)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    return comparison().write(tmp_path_factory.mktemp("cmp") / "cmp", tiles=False)


def test_description_is_read_from_the_file_and_checked(tmp_path):
    (tmp_path / "streets.osm").write_text("not read while checking", encoding="utf-8")
    (tmp_path / "c.csv").write_text("id,name,lon,lat\nc1,A,121.44,31.19\n", encoding="utf-8")
    (tmp_path / "h.csv").write_text("lon,lat,population\n121.44,31.19,10\n", encoding="utf-8")
    head = "baseline: {osm: streets.osm, facilities: c.csv, population: h.csv}\nscenarios:\n"
    path = tmp_path / "s.yaml"
    path.write_text(head + textwrap.dedent("""\
        - name: close_a
          description: "  A 关闭，
            不替代 "
          close: [c1]
        - name: slow
          mode: elderly
        """), encoding="utf-8")
    prep = prepare(path)
    assert [s.description for s in prep.scenarios] == ["A 关闭， 不替代", None]  # one line, spaces run together
    for bad, needle in (("description: 42", "expected text"), (f"description: {'长' * 301}", "301 characters")):
        path.write_text(head + f"- name: odd\n  {bad}\n", encoding="utf-8")
        with pytest.raises(ScenarioError, match=needle) as info:
            prepare(path)
        assert "scenario 'odd'" in str(info.value) and "key 'description'" in str(info.value)
    path.write_text(head + "- name: odd\n  descripton: x\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="closest: 'description'"):
        prepare(path)


def test_description_in_console_csv_xlsx_map_and_summary(written):
    text = format_comparison(comparison())
    assert f"  ↳ {CLOSE}" in text and f"  ↳ {BASELINE_DESCRIPTION}" in text
    assert "nan" not in text  # the scenario without one prints no line
    csv = pd.read_csv(written / "comparison.csv", encoding="utf-8-sig")
    assert list(csv.columns[:2]) == ["scenario", "description"]
    by = csv.groupby("scenario", sort=False)["description"].first()
    assert by[BASELINE] == BASELINE_DESCRIPTION and by["close"] == CLOSE and pd.isna(by["add"])
    overview = pd.read_excel(written / "comparison.xlsx", engine="openpyxl", sheet_name=SHEETS["overview"])
    assert overview["说明 description"].tolist()[1] == CLOSE
    page = (written / "map.html").read_text(encoding="utf-8")
    for layer in ("close · 西中心关闭 · the west centre closes — ", "elderly · 现状设施，老年步速 (3 km/h) — "):
        assert json.dumps(layer)[1:-1] in page, layer  # the layer's name in the layer control (a JS string)
    summary = json.loads((written / "summary.json").read_text(encoding="utf-8"))
    assert [s["description"] for s in summary["scenarios"]] == [BASELINE_DESCRIPTION, CLOSE, None,
                                                                 "现状设施，老年步速 (3 km/h)"]


def test_comparison_csv_is_rounded_like_every_csv(written):
    comp = comparison()
    assert (comp.table["population"] % 1 != 0).any()  # fractional residents, so the rounding is seen
    csv = pd.read_csv(written / "comparison.csv", encoding="utf-8-sig")
    text = (written / "comparison.csv").read_text(encoding="utf-8-sig")
    for col in ("population", "covered", "gap_residents", "delta_covered"):
        values = csv[col].dropna()
        assert (values == values.round(0)).all(), col
    assert (csv["coverage_rate"] == csv["coverage_rate"].round(4)).all()
    assert (csv["mean_walk_min"] == csv["mean_walk_min"].round(1)).all()
    assert "." not in text.splitlines()[1].split(",")[4]  # residents written whole ("22002", not "22002.0")
    exact = comp.table.reset_index(drop=True)
    assert np.allclose(csv["covered"], exact["covered"].round(0)) and np.allclose(csv["coverage_rate"],
                                                                                exact["coverage_rate"], atol=5e-5)
    base = csv[csv["scenario"] == BASELINE].set_index("area")["covered"]
    for _, row in csv.iterrows():  # the file's own numbers add up
        assert row["delta_covered"] == row["covered"] - base[row["area"]]
    pd.testing.assert_frame_equal(read_excel_table(written / "comparison.xlsx"), csv, check_dtype=False)


def test_summary_json_holds_the_headline_of_every_run(written):
    summary = json.loads((written / "summary.json").read_text(encoding="utf-8"))
    assert summary["generator"].startswith("siting") and "comparison.csv" in summary["manifest"]
    heads = {s["scenario"]: s for s in summary["scenarios"]}
    assert list(heads) == [BASELINE, "close", "add", "elderly"]
    base = comparison().runs[BASELINE].result.summary
    for name, run in comparison().runs.items():
        s, h = run.result.summary, heads[name]
        assert h["coverage_rate"] == round(s.coverage_rate, 4)
        assert h["covered"] == round(s.population_covered) and h["population"] == round(s.population_total)
        assert h["target"] == 0.95 and h["gap_residents"] == round(s.gap_residents)
        assert h["gap_pp"] == round(s.gap_pp, 2)  # percentage points to 0.01, as subdistricts.csv
        assert h["delta_covered"] == round(s.population_covered) - round(base.population_covered)
        assert h["mode"] == s.mode and h["minutes"] == s.minutes
    assert heads["close"]["gap_residents"] > 0 and heads["close"]["coverage_rate"] < 0.95  # a real gap is reported
    assert heads["close"]["delta_covered"] < 0 and heads["close"]["delta_pp"] < 0


def test_subdistricts_without_residents_are_listed_once_apart(written):
    comp = comparison()
    assert "北街道" not in set(comp.table["area"])  # no empty row in any scenario's table
    assert comp.empty.to_dict("records") == [
        {"district": "测试区", "subdistrict": "北街道", "outside_population": 720.5}]
    csv = pd.read_csv(written / "comparison.csv", encoding="utf-8-sig")
    assert "北街道" not in set(csv["area"]) and set(csv["area"]) == {"测试区", "西街道", "东街道"}
    assert len(csv) == 4 * 3  # 4 runs × (district + 2 街道 with residents)
    summary = json.loads((written / "summary.json").read_text(encoding="utf-8"))
    assert summary["subdistricts_without_residents"] == [
        {"district": "测试区", "subdistrict": "北街道", "outside_population": 720}]
    sheet = pd.read_excel(written / "comparison.xlsx", engine="openpyxl", sheet_name=SHEETS["empty"])
    assert sheet.iloc[:, 1].tolist() == ["北街道"]
    text = format_comparison(comp)
    assert text.count("北街道") == 1 and "1 街道 without residents" in text and "北街道 (720)" in text
    wide = pd.read_excel(written / "comparison.xlsx", engine="openpyxl", sheet_name=SHEETS["wide"])
    assert "北街道" not in set(wide.iloc[:, 1])


def test_a_subdistrict_given_residents_by_one_scenario_is_listed_in_every_scenario():
    lon, lat = point(7, 14)  # on the streets, inside 北街道
    comp = siting.compare(inputs_with_an_empty_subdistrict(), [
        Scenario("close", close=["f1"]),
        Scenario("estate", add_population=[{"lon": lon, "lat": lat, "population": 500}])], target=0.9)
    assert comp.empty.empty
    rows = comp.table[comp.table["area"] == "北街道"].set_index("scenario")
    assert list(rows.index) == [BASELINE, "close", "estate"]
    assert rows.loc["estate", "population"] == 500 and rows.loc[BASELINE, "population"] == 0
