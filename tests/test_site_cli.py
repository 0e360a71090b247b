"""`siting site` on the README's real inputs: output files, exact vs greedy, planner-facing errors."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner

from siting.cli.commands import app

runner = CliRunner()


def run(args, out):
    result = runner.invoke(app, [*args, "--out", str(out), "--quiet"])
    return result


@pytest.mark.realdata
def test_site_k3_writes_everything(k3):
    out, printed = k3
    for name in ["candidates.gpkg", "chosen.gpkg", "before_after.csv", "summary.json", "map.html", "points.gpkg",
                 "facilities.gpkg", "subdistricts.gpkg"]:
        assert (out / name).is_file(), name
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["model"] == "maximal_coverage" and s["sites"] == 3 and len(s["chosen"]) == 3
    assert s["exact"]["covered"] >= s["greedy"]["covered"] > s["covered_before"]
    assert s["exact"]["status"] == "optimal" and s["exact"]["mip_gap"] == 0.0
    assert s["exact"]["bound"] >= s["exact"]["covered"] - 1e-6
    assert s["exact"]["bound_source"] in {"submodular", "lagrangian", "highs"}
    assert s["rate_before"] == pytest.approx(0.556, abs=0.001)  # the `siting coverage` figure
    assert s["rate_after"] == pytest.approx(s["coverage_rate"], abs=1e-12)  # plan = recomputed coverage
    assert s["exact"]["seconds"] >= 0 and s["greedy"]["seconds"] >= 0 and s["feasible"] is True
    chosen = gpd.read_file(out / "chosen.gpkg")
    assert chosen["order"].tolist() == [1, 2, 3] and chosen.crs.to_epsg() == 4326
    assert chosen["assigned"].sum() == pytest.approx(s["covered_after"] - s["covered_before"], rel=1e-9)
    assert {"candidate_id", "subdistrict", "gain", "overloaded"} <= set(chosen.columns)
    cand = gpd.read_file(out / "candidates.gpkg")
    assert {"candidate_id", "kind", "subdistrict", "gain", "share_of_gap", "rank", "excluded"} <= set(cand.columns)
    assert (cand["excluded"] == "too_close").sum() == s["candidates"]["excluded"]["too_close"] > 0
    table = pd.read_csv(out / "before_after.csv")
    assert {"subdistrict", "population", "covered_before", "covered_after", "rate_before", "rate_after",
            "target"} <= set(table.columns)
    assert (table["covered_after"] >= table["covered_before"] - 1e-9).all() and len(table) == 13
    fac = gpd.read_file(out / "facilities.gpkg")
    assert (fac["source"] == "new site").sum() == 3
    assert "Exact (HiGHS)" in printed and "Greedy" in printed and "天平路街道" in printed


@pytest.mark.realdata
def test_site_map_rerenders(k3, tmp_path):
    out, _ = k3
    result = runner.invoke(app, ["map", str(out), "--out", str(tmp_path / "again.html")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "again.html").stat().st_size > 10_000


@pytest.mark.realdata
def test_site_target_90(site_args, tmp_path):
    result = run([*site_args, "--target", "0.9"], tmp_path / "t90")
    assert result.exit_code == 0, result.output
    s = json.loads((tmp_path / "t90" / "summary.json").read_text(encoding="utf-8"))
    assert s["model"] == "minimum_sites" and s["feasible"] and s["rate_after"] >= 0.9
    assert s["exact"]["sites"] <= s["greedy"]["sites"] and s["exact"]["mip_gap"] == 0.0
    assert s["sites"] == 3  # measured; no 2 sites reach 90 % (tests/test_candidates.py)


@pytest.mark.realdata
def test_quota_with_unknown_subdistrict(site_args, tmp_path):
    quotas = tmp_path / "quotas.csv"
    quotas.write_text("subdistrict,count\n天平路街道,1\n徐家汇路街道,1\n", encoding="utf-8")
    out = tmp_path / "q"
    result = run([*site_args, "--quotas", str(quotas)], out)
    assert result.exit_code == 2
    assert "error:" in result.output and "row 3: unknown 街道 '徐家汇路街道'" in result.output
    assert "did you mean '徐家汇街道'" in result.output and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.realdata
def test_planner_candidates_and_lock(site_args, tmp_path):
    from siting.io.coords import wgs84_to_bd09

    lon, lat = wgs84_to_bd09([121.4394, 121.4343, 121.4499, 121.4370], [31.1988, 31.2042, 31.1972, 31.2140])
    path = tmp_path / "sites.csv"
    pd.DataFrame({"id": ["A", "B", "C", "D"], "name": ["为老服务中心", "邻里汇", "党群服务中心", "空地"], "lng": lon,
                  "lat": lat}).to_csv(path, index=False)
    out = tmp_path / "planner"
    result = run([*site_args, "--candidates", str(path), "--candidate-crs", "bd09", "--k", "2", "--lock", "D"], out)
    assert result.exit_code == 0, result.output
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["candidates"]["by_kind"] == {"planner": 4} and s["chosen"][0] == "D" and s["sites"] == 2
    bad = run([*site_args, "--candidates", str(path), "--candidate-crs", "bd09", "--k", "2", "--lock", "E"],
              tmp_path / "bad")
    assert bad.exit_code == 2 and "locked site 'E' is not a candidate id" in bad.output


@pytest.mark.realdata
def test_before_after_has_the_population_source_of_subdistricts_csv(k3, site_args, tmp_path):
    """before_after.csv (and the "after" subdistricts.gpkg) carry population_source, as subdistricts.csv does."""
    out, _ = k3
    result = run(["coverage", *site_args[1:], "--no-report", "--no-map"], tmp_path / "cov")
    assert result.exit_code == 0, result.output
    expected = pd.read_csv(tmp_path / "cov" / "subdistricts.csv").set_index("subdistrict")["population_source"]
    table = pd.read_csv(out / "before_after.csv").set_index("subdistrict")
    assert table.columns[-1] == "population_source" and table["population_source"].notna().all()
    pd.testing.assert_series_equal(table["population_source"], expected.loc[table.index])
    after = gpd.read_file(out / "subdistricts.gpkg").set_index("subdistrict")
    pd.testing.assert_series_equal(after["population_source"], expected.loc[after.index])
