"""Population method sensitivity, 街道 totals vs equal shares per 小区: library and `siting coverage --sensitivity`."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import SAMPLE, SUBDISTRICT_TOTALS, expected_warnings, readme_commands

import siting
from siting.cli.commands import app
from siting.errors import SitingError
from siting.outputs.sensitivity import COLUMNS, format_sensitivity, population_sensitivity


def _readme_args(repo_root: Path, shanghai: Path) -> list[str]:
    """The README main job's `siting coverage` arguments, real paths, without --out."""
    command = readme_commands(repo_root)[0].partition(" && ")[2]
    args = [a.replace("../shared/data/shanghai", str(shanghai)) for a in shlex.split(command)][1:]
    i = args.index("--out")
    del args[i:i + 2]
    return args


def _load_arguments(shanghai: Path, cache: Path) -> dict:
    return {"osm": shanghai / "osm/shanghai_center_overpass_roads.osm",
            "facilities": shanghai / "facilities/xuhui_chc_healthxuhui.csv", "facility_crs": "bd09",
            "population": shanghai / "population/lianjia_xiaoqu_shanghai_2018_bd09.json", "population_crs": "bd09",
            "census": shanghai / "population/shanghai_district_population_census.csv",
            "subdistrict_totals": shanghai / "population/xuhui_subdistrict_households_2026_estimate.csv",
            "boundaries": shanghai / "boundaries/shanghai_subdistricts_osm_8districts.geojson", "district": "徐汇区",
            "cache_dir": cache}


@pytest.mark.realdata
def test_coverage_sensitivity_flag_writes_csv_summary_and_prints(repo_root, shanghai, tmp_path):
    out = tmp_path / "xuhui"
    args = _readme_args(repo_root, shanghai)
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--no-map",
                                      "--no-report", "--sensitivity"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    table = pd.read_csv(out / "sensitivity.csv", encoding="utf-8-sig")
    assert list(table.columns) == list(COLUMNS)
    assert table["method"].tolist() == ["街道 totals", "equal shares per 小区"]
    assert summary["sensitivity"] == json.loads(table.to_json(orient="records", force_ascii=False))
    totals, equal = summary["sensitivity"]
    # the 街道 totals row is the run itself; the other moves the rate and the sites
    assert totals["coverage_rate"] == pytest.approx(summary["coverage_rate"], abs=1e-6)
    assert totals["population_total"] == round(summary["population_total"])
    assert equal["coverage_rate"] != pytest.approx(totals["coverage_rate"], abs=1e-3)
    for row in (totals, equal):
        ids = row["chosen"].split(", ")
        assert row["sites"] == len(ids) == len(row["chosen_labels"].split("; "))
        assert row["sites_rule"] == "fewest sites for 90%" and row["rate_after"] >= 0.9
    common = set(totals["chosen"].split(", ")) & set(equal["chosen"].split(", "))
    assert totals["in_common"] == equal["in_common"] == len(common)
    text = result.output
    assert "Population method sensitivity" in text
    assert f"{totals['coverage_rate']:.1%}" in text and f"{equal['coverage_rate']:.1%}" in text
    assert totals["chosen"] in text and equal["chosen"] in text
    assert f"sites in common: {len(common)} of" in text
    assert "sensitivity.csv" in (out / "summary.json").read_text(encoding="utf-8")  # in the manifest


@pytest.mark.realdata
def test_equal_shares_row_is_the_run_without_subdistrict_totals(shanghai, tmp_path):
    arguments = _load_arguments(shanghai, tmp_path / "cache")
    with expected_warnings(*SAMPLE, SUBDISTRICT_TOTALS):
        table = population_sensitivity(arguments, k=2)
        alone = siting.run_coverage(siting.load_inputs(**{**arguments, "subdistrict_totals": None}))
    equal = table.set_index("method").loc["equal shares per 小区"]
    assert equal["coverage_rate"] == pytest.approx(alone.summary.coverage_rate, abs=1e-6)
    assert equal["population_total"] == round(alone.summary.population_total)
    assert (table["sites_rule"] == "best 2 sites").all() and (table["sites"] == 2).all()
    assert "census district totals" in equal["basis"] and "equal shares" in equal["basis"]
    text = format_sensitivity(table)
    assert "best 2 sites" in text and f"{equal['coverage_rate']:.1%}" in text


def test_sensitivity_needs_subdistrict_totals(tiny_job):
    folder, args = tiny_job
    result = CliRunner().invoke(app, [*args, "--out", str(folder / "out"), "--sensitivity"])
    assert result.exit_code == 2
    assert "--subdistrict-totals" in result.output and "equal shares per 小区" in result.output
    assert not (folder / "out").exists()  # refused before any work
    with pytest.raises(SitingError, match="`subdistrict_totals`"):
        population_sensitivity({"osm": "x.osm"})
