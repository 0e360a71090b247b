"""What a hostile planner types gets one clear ``error:`` line naming the flag of the command run.

The library names its parameters (`` `minutes` ``, ``facility_crs``); the CLI shows the flags of the
command being run, and only those: ``siting compare`` reports a scenario file's keys (`` `osm` ``) as
keys, not as flags it does not have.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import siting.pipeline
from siting.cli.commands import app, cli_words
from siting.engine import network
from siting.errors import CRSError, SitingError
from siting.settings import Settings

runner = CliRunner()


def _fail(*args: object, **kwargs: object) -> None:
    raise AssertionError("the network was built")


def test_cli_words_uses_the_flags_of_the_command_run() -> None:
    said = "give exactly one of `osm` (a file) or `place` (a name)"
    assert cli_words(said, "coverage") == "give exactly one of --osm (a file) or --place (a name)"
    assert cli_words(said, "compare") == said  # keys of the scenario file: compare has no --osm
    assert cli_words("`out` /x is the home folder", "compare") == "--out /x is the home folder"
    assert cli_words("`k` must be ≥ 0", "site") == "--k must be ≥ 0"
    assert cli_words("`k` must be ≥ 0", "coverage") == "`k` must be ≥ 0"
    assert cli_words("`scenario_file` and `jobs_file`") == "`scenario_file` and `jobs_file`"  # arguments: no flags


def test_compare_reports_scenario_keys_as_keys(tmp_path: Path) -> None:
    scenario = tmp_path / "plans.yaml"
    scenario.write_text("name: x\nbaseline:\n  minutes: 15\nscenarios:\n  - name: a\n    minutes: 10\n",
                        encoding="utf-8")
    result = runner.invoke(app, ["compare", str(scenario), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "give exactly one of `osm` (a file), `place`" in result.output, result.output
    assert "--osm" not in result.output and "--place" not in result.output


@pytest.mark.parametrize(("extra", "said"), [
    (["--minutes", "-3"], "--minutes must be a number > 0 and ≤ 1,440, got -3.0"),
    (["--max-snap-m", "0"], "--max-snap-m must be a number > 0 and ≤ 10,000, got 0.0"),
    (["--speed-kmh", "-1"], "--speed-kmh must be a number ≥ 1 and ≤ 100, got -1.0"),
    (["--population-crs", "gcj2"], "--population-crs: unknown coordinate system 'gcj2'"),
    (["--facility-crs", "baidu09"], "--facility-crs: unknown coordinate system 'baidu09'"),
    (["--facility-sheet", "S1"], "--facility-sheet S1 needs an Excel workbook (.xlsx/.xls) as --facilities; got "),
])
def test_bad_options_named_by_their_flag_before_the_network(tiny_job, monkeypatch, extra, said) -> None:
    work, args = tiny_job
    monkeypatch.setattr(network.Network, "from_osm", _fail)
    for command in ("coverage", "site", "access"):
        result = runner.invoke(app, [command, *args[1:], *extra, "--out", str(work / "out")])
        assert result.exit_code == 2, result.output
        assert f"error: {said}" in result.output, result.output
        assert "Traceback" not in result.output and result.output.count("error:") == 1
        assert not (work / "out").exists()


def test_facility_sheet_without_facilities(tiny_job) -> None:
    work, args = tiny_job
    args = [a for a in args if a != "--facilities" and not a.endswith("fac.csv")]
    result = runner.invoke(app, [*args, "--facility-sheet", "S1", "--out", str(work / "out")])
    assert result.exit_code == 2 and "error: --facility-sheet S1 needs an Excel workbook" in result.output
    assert "got none" in result.output


@pytest.mark.parametrize(("extra", "said"), [
    (["--k", "2", "--target", "0.9"], "give --k / --quotas (the best k sites) or a --target (the fewest sites"),
    (["--spacing-m", "0"], "--spacing-m must be a number > 0 and ≤ 100,000, got 0.0"),
    (["--spacing-m", "0.001"], "--spacing-m 0.001 would generate about 1,029,773 candidate sites"),
    (["--k", "-1"], "--k must be a whole number ≥ 0 and ≤ 100,000, got -1"),
])
def test_siting_options_named_by_their_flag(tiny_job, extra, said) -> None:
    work, args = tiny_job
    result = runner.invoke(app, ["site", *args[1:], "--everywhere", *extra, "--out", str(work / "out")])
    assert result.exit_code == 2, result.output
    assert f"error: {said}" in result.output, result.output
    assert not (work / "out").exists()


def test_python_api_names_the_parameters(tiny_job) -> None:
    with pytest.raises(SitingError, match="^`minutes` must be a number > 0"):
        Settings(minutes=-3)
    with pytest.raises(SitingError, match="^`max_snap_m` must be a finite number"):
        Settings(max_snap_m=float("nan"))
    work, _ = tiny_job
    with pytest.raises(CRSError, match="^`facility_crs`: unknown coordinate system 'xx'"):
        siting.pipeline.load_inputs(osm=work / "none.osm", facility_crs="xx")


def test_per_subdistrict_needs_a_target(tiny_job) -> None:
    """It was ignored without --target: the run went on as a choose-5 plan and failed on k instead."""
    work, args = tiny_job
    result = runner.invoke(app, ["site", *args[1:], "--everywhere", "--per-subdistrict", "--out", str(work / "out")])
    assert result.exit_code == 2 and "error: --per-subdistrict needs a --target" in result.output, result.output


def test_self_contained_false_is_cdn_for_siting_map() -> None:
    said = "`pip install django-js-lib-leaflet` or save with self_contained=False"
    assert cli_words(said, "map") == "`pip install django-js-lib-leaflet` or save with --cdn"
    assert cli_words(said, "coverage") == said  # coverage has no --cdn (its way out is --no-map)


def test_lock_given_twice_locks_both(tiny_job) -> None:
    """`--lock a --lock b` locked only b (the last), silently; now both (as `--lock a,b`)."""
    work, args = tiny_job
    result = runner.invoke(app, ["site", *args[1:], "--everywhere", "--k", "1", "--lock", "nosuch1", "--lock", "gen:1",
                                 "--out", str(work / "out")])
    assert result.exit_code == 2 and "error: locked site 'nosuch1' is not a candidate id" in result.output, \
        result.output


@pytest.mark.parametrize(("args", "said"), [
    # click's own words (they vary a little between click versions), with its suggestion
    (["coverage", "--facilitys", "x"], r"error: No such option:? '?--facilitys'?\.? .*--facilities"),
    (["coverage", "--targe", "0.9"], r"error: No such option:? '?--targe'?\.? .*--target"),
    (["coverage", "--minutes", "abc"], r"error: Invalid value for '--minutes': 'abc' is not a valid float"),
    (["site", "--k", "1.5"], r"error: Invalid value for '--k': '1.5' is not a valid integer"),
    (["coverage", "--osm"], r"error: Option '--osm' requires an argument\."),
    (["compare"], r"error: Missing argument '(SCENARIO_FILE|scenario_file)'\."),
    (["coverag"], r"error: No such command 'coverag'\. Did you mean 'coverage'\?"),
    (["--bogus"], r"error: No such option:? '?--bogus"),
])
def test_usage_errors_are_one_error_line(args, said) -> None:
    """Unknown options, missing values and bad types: one ``error:`` line (not click's usage block), exit 2."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert re.match(said, result.output), result.output
    assert result.output.count("\n") == 1 and "╭" not in result.output and "Usage:" not in result.output


def test_help_still_shows() -> None:
    for args in ([], ["--help"], ["coverage", "--help"]):
        result = runner.invoke(app, args)
        assert "Usage:" in result.output and "error:" not in result.output, args
