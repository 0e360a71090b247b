"""Results must not change with refactoring: the README main job and `siting site` on the same inputs.

The expected figures below were produced by the code *before* the issue-9 restructuring (commit 0c13ba2,
runs of the README's first command and of ``siting site ... --target 0.9`` / ``--k 3`` on the real
Shanghai sample). They are not invented: earlier sessions checked these coverage figures against
independent osmnx + networkx computations (see tests/test_coverage.py) and the siting optima against
PuLP/brute force (tests/test_optimize.py). Any change in them means the refactoring changed results.
"""

from __future__ import annotations

import json
import shlex

import pytest
from click.testing import CliRunner
from conftest import SAMPLE, equal_shares, expected_warnings, readme_commands

from siting.cli.commands import app
from siting.pipeline import load_inputs, run_coverage
from siting.settings import Settings

REL = 1e-9
COVERAGE = {
    "population_total": 490473.1168091166,
    "population_covered": 272719.96581196575,
    "coverage_rate": 0.5560344827586208,
    "population_outside_network": 622604.8831908831,
    "n_points_outside_network": 589,
    "n_points": 1053,
    "n_facilities": 3,
    "gap_residents": 168706.0,
}
SITE = {  # model -> (sites chosen, covered after, rate after, exact objective)
    "target": ("minimum_sites", 3, 448190.9515669514, 0.9137931034482759, 3),
    "k": ("maximal_coverage", 3, 448190.9515669514, 0.9137931034482759, 448190.9515669514),
}


def _check_coverage(summary: dict) -> None:
    for key, value in COVERAGE.items():
        assert summary[key] == pytest.approx(value, rel=REL), key


@pytest.fixture(scope="module")
def cli_args(repo_root, shanghai, tmp_path_factory):
    """The README's first command's inputs (real paths, a temp cache), without `siting coverage` and --out, and
    explicitly in the equal-share configuration (without --subdistrict-totals) whose figures are pinned here."""
    command = readme_commands(repo_root)[0].partition(" && ")[2]
    args = equal_shares([a.replace("../shared/data/shanghai", str(shanghai)) for a in shlex.split(command)])
    i = args.index("--out")
    del args[i:i + 2]
    return [a for a in args[2:] if a != "--overwrite"] + ["--cache-dir", str(tmp_path_factory.mktemp("cache"))]


@pytest.mark.realdata
def test_main_job_unchanged(cli_args, tmp_path):
    """The README main job with equal shares per 小区 (the README itself adds the 徐汇 街道 totals)."""
    out = tmp_path / "xuhui"
    result = CliRunner().invoke(app, ["coverage", *cli_args, "--out", str(out), "--quiet", "--no-map"])
    assert result.exit_code == 0, result.output
    _check_coverage(json.loads((out / "summary.json").read_text(encoding="utf-8")))


@pytest.mark.realdata
def test_python_path_unchanged(shanghai, tmp_path):
    s = shanghai
    settings = Settings()
    with expected_warnings(*SAMPLE):
        inputs = load_inputs(
            osm=s / "osm/shanghai_center_overpass_roads.osm", facilities=s / "facilities/xuhui_chc_healthxuhui.csv",
            facility_crs="bd09", population=s / "population/lianjia_xiaoqu_shanghai_2018_bd09.json",
            population_crs="bd09", census=s / "population/shanghai_district_population_census.csv",
            boundaries=s / "boundaries/shanghai_subdistricts_osm_8districts.geojson", district="徐汇区",
            settings=settings, cache_dir=tmp_path,
        )
        result = run_coverage(inputs, settings)
    _check_coverage(result.summary.to_dict())


@pytest.mark.realdata
@pytest.mark.parametrize("flag", ["target", "k"])
def test_site_unchanged(cli_args, tmp_path, flag):
    model, sites, covered, rate, objective = SITE[flag]
    out = tmp_path / flag
    extra = ["--target", "0.9"] if flag == "target" else ["--k", "3"]
    result = CliRunner().invoke(app, ["site", *cli_args, *extra, "--out", str(out), "--quiet", "--no-map"])
    assert result.exit_code == 0, result.output
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["model"] == model and s["sites"] == sites and len(s["chosen"]) == sites
    assert s["covered_after"] == pytest.approx(covered, rel=REL)
    assert s["rate_after"] == pytest.approx(rate, rel=REL)
    assert s["exact"]["objective"] == pytest.approx(objective, rel=REL)
    assert s["covered_before"] == pytest.approx(COVERAGE["population_covered"], rel=REL)
    assert s["exact"]["status"] == "optimal"
