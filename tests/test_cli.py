"""The CLI: the README's main job on the real sample, output files, clear errors, no partial output."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import readme_commands

from siting.cli.commands import app

runner = CliRunner()


def test_ci_runs_exactly_the_readme_test_command(repo_root):
    test_cmd = readme_commands(repo_root)[1]
    ci = (repo_root / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1].strip() == test_cmd


@pytest.mark.realdata
def test_main_job_outputs(main_job):
    out, printed = main_job
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for key in ["population_total", "population_covered", "coverage_rate", "target", "gap_residents", "mode",
                "speed_kmh", "minutes", "n_facilities", "n_network_nodes"]:
        assert key in summary, key
    assert summary["target"] == 0.9 and summary["mode"] == "walk" and summary["minutes"] == 15
    assert 0 < summary["coverage_rate"] < 1
    # the console's headline lines say one thing: the rate, and nothing that contradicts it
    assert "All: 136,991 of 254,388 residents within 15 min (walk, 4 km/h) = 53.9%" in printed
    assert "no residents to count" not in printed and "no residents in the analysed area" not in printed
    subs = pd.read_csv(out / "subdistricts.csv")
    assert {"subdistrict", "population", "covered", "coverage_rate"} <= set(subs.columns)
    assert len(subs) == 13
    pts = gpd.read_file(out / "points.gpkg")
    assert {"population", "subdistrict", "walk_min", "facility_id", "covered", "status"} <= set(pts.columns)
    assert pts.crs.to_epsg() == 4326 and len(pts) == 1053
    assert "link" in pts.columns and "title" in pts.columns  # the planner's own columns are kept
    fac = gpd.read_file(out / "facilities.gpkg")
    assert {"type", "source", "name", "id"} <= set(fac.columns)
    assert (out / "map.html").stat().st_size < 5_000_000
    assert "天平路街道" in printed and "misses it" in printed


@pytest.mark.realdata
def test_main_job_uses_subdistrict_totals(main_job):
    """The README job spreads the 徐汇 街道 estimate (not equal shares per 小区) and says so everywhere."""
    out, printed = main_job
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["population_sources"] == {"estimate": 13}
    assert summary["coverage_rate"] == pytest.approx(0.539, abs=0.001)  # equal shares give 0.556
    assert any("estimated totals (not census)" in n for n in summary["notes"])
    subs = pd.read_csv(out / "subdistricts.csv").set_index("subdistrict")
    assert (subs["population_source"] == "estimate").all()
    assert subs.loc["天平路街道", "population"] == pytest.approx(66_054)  # the whole 街道 lies in the extract
    assert set(gpd.read_file(out / "points.gpkg")["population_source"]) == {"estimate"}
    assert "estimate" in printed


@pytest.mark.realdata
def test_existing_output_needs_overwrite(main_job):
    out, _ = main_job
    before = sorted(p.name for p in out.iterdir())
    result = runner.invoke(app, ["coverage", "--osm", "x.osm", "--out", str(out)])
    assert result.exit_code != 0
    assert sorted(p.name for p in out.iterdir()) == before


def test_error_is_one_clear_line_without_traceback(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["coverage", "--osm", str(tmp_path / "missing.osm"), "--out", str(out)])
    assert result.exit_code == 2
    assert "error: OSM file not found" in result.output and "missing.osm" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()  # nothing half-written


def test_map_command_rerenders(main_job, tmp_path):
    out, _ = main_job
    target = tmp_path / "again.html"
    result = runner.invoke(app, ["map", str(out), "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 10_000
    small = tmp_path / "cdn.html"
    result = runner.invoke(app, ["map", str(out), "--out", str(small), "--cdn"])
    assert result.exit_code == 0, result.output
    assert "https://cdn.jsdelivr.net/npm/leaflet" in small.read_text(encoding="utf-8")
    assert small.stat().st_size < target.stat().st_size - 100_000  # Leaflet is not inlined


def test_library_parameters_are_shown_as_flags():
    """Library messages name parameters; the CLI shows its own flags."""
    from siting.cli.commands import cli_words

    assert cli_words("pass facility_crs='bd09' or choose") == "pass --facility-crs bd09 or choose"
    assert cli_words("use overwrite=True to replace it") == "use --overwrite to replace it"
    kept = "crs='bd09' was given"  # `crs` is no flag: left as it is
    assert cli_words(f"`district` needs boundaries; {kept}") == f"--district needs boundaries; {kept}"
