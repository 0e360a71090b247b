"""`siting access` on the README's real inputs: output files and columns, the supply map layer, clear errors."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from siting._maplayers import supply_layer
from siting.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def access_run(site_args, repo_root, shanghai, tmp_path_factory):
    """`siting access` with the README job's inputs plus the 徐汇 街道 estimate and the regions file."""
    args = ["access", *site_args[1:], "--subdistrict-totals",
            str(shanghai / "population/xuhui_subdistrict_households_2026_estimate.csv"),
            "--regions", str(repo_root / "data/regions/xuhui.csv"), "--no-tiles"]
    out = tmp_path_factory.mktemp("access") / "xuhui"
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output, args


@pytest.mark.realdata
def test_access_writes_its_files(access_run):
    out, printed, _ = access_run
    for name in ["summary.json", "access.csv", "regions.csv", "points.gpkg", "facilities.gpkg", "subdistricts.gpkg",
                 "beyond_20min_places.csv", "map.html"]:
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "access.csv")
    assert len(table) == 13 and (table["population_source"] == "estimate").all()
    assert {"gps_per_10k", "gps_needed", "median_min", "p90_min", "within_5_min", "within_20_min",
            "below_gp_target"} <= set(table.columns)
    pts = gpd.read_file(out / "points.gpkg")
    assert {"title", "link", "supply_per_10k", "walk_min", "population_source"} <= set(pts.columns)
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["method"] == "2SFCA" and s["gps_allocated"] == pytest.approx(s["gps_total_reaching_residents"])
    assert any("defaults used" in n for n in s["notes"]) and any("regions:" in n for n in s["notes"])
    regions = pd.read_csv(out / "regions.csv")
    assert set(regions["region"]) == {"北", "中", "南"} and regions["assumption"].str.contains("assum").all()
    fac = gpd.read_file(out / "facilities.gpkg")
    assert (fac["capacity_source"] == "default").all() and set(fac["gps"]) == {6.0}
    assert "GPs per 10,000 (2SFCA)" in (out / "map.html").read_text(encoding="utf-8")  # the supply layer
    assert "GPs per 10,000" in printed and "天平路街道" in printed


@pytest.mark.realdata
def test_access_bad_decay_is_one_clear_line(access_run, tmp_path):
    _, _, args = access_run
    result = runner.invoke(app, [*args, "--decay", "cubic", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "error: unknown --decay 'cubic'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "x").exists()


def test_supply_layer_colours_against_the_target(map_inputs):
    pts = map_inputs["points"].assign(supply_per_10k=[0.0, 1.0, 2.0, 3.5, 4.5, 6.0] * 2)
    group = supply_layer(pts, target=4.5)
    geo = next(iter(group._children.values())).data
    colors = [f["properties"]["style"]["fillColor"] for f in geo["features"]]
    assert colors[:6] == ["#bdbdbd", "#fee5d9", "#fcae91", "#fb6a4a", "#2c7fb8", "#2c7fb8"]
