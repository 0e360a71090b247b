"""The shared option groups of the CLI: every command with inputs takes the same flags, fails fast on bad options."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import siting.pipeline
from siting.cli._options import InputOptions, OutputOptions, with_groups
from siting.cli.commands import app
from siting.engine import network

runner = CliRunner()
INPUT_COMMANDS = ("coverage", "site", "access")
WIDE = {"TERMINAL_WIDTH": "400", "COLUMNS": "400"}  # rich wraps the help at 80 columns otherwise


def _params(command: str) -> dict[str, click.Option]:
    """The options of ``siting COMMAND``, by parameter name."""
    return {p.name: p for p in app.commands[command].params if p.name and isinstance(p, click.Option)}


def _names(group: type) -> list[str]:
    return [f.name for f in dataclasses.fields(group)]


@pytest.mark.parametrize("group", [InputOptions, OutputOptions])
def test_input_commands_take_every_option_of_the_groups_alike(group: type) -> None:
    first = _params(INPUT_COMMANDS[0])
    for command in INPUT_COMMANDS:
        params = _params(command)
        for name in _names(group):
            assert name in params, f"siting {command} lacks --{name.replace('_', '-')}"
            mine, theirs = params[name], first[name]
            assert (mine.opts, mine.secondary_opts, mine.help, mine.default) == (
                theirs.opts, theirs.secondary_opts, theirs.help, theirs.default), (command, name)
            assert mine.help, (command, name)


def test_the_groups_cover_what_was_missing() -> None:
    """`site` had no --tiles/--no-tiles, `access` no --dedupe, --spread-polygons, --facility-sheet, ..."""
    assert _params("site")["tiles"].opts == ["--tiles"] and _params("site")["no_tiles"].opts == ["--no-tiles"]
    assert {"dedupe", "spread_polygons", "facility_sheet", "allow_broken_network"} <= set(_params("access"))
    assert set(_names(OutputOptions)) <= set(_params("compare"))


@pytest.mark.parametrize("command", INPUT_COMMANDS)
def test_help_lists_every_shared_option_with_its_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    text = re.sub(r"\s+", " ", result.output.replace("│", " "))
    for name in [*_names(InputOptions), *_names(OutputOptions)]:
        param = _params(command)[name]
        for flag in [*param.opts, *param.secondary_opts]:
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text), (command, flag)
        assert param.help and re.sub(r"\s+", " ", param.help) in text, (command, name)


def test_a_group_field_cannot_also_be_an_own_option() -> None:
    @click.option("--mode", default="walk")
    def command(inputs: InputOptions, mode: str) -> None:
        """Take ``mode`` twice."""

    with pytest.raises(TypeError, match="mode"):
        with_groups(inputs=InputOptions)(command)


def test_input_options_hand_the_pipeline_its_arguments(tmp_path: Path) -> None:
    book = tmp_path / "fac.xlsx"
    inputs = InputOptions(osm=tmp_path / "a.osm", facilities=book, facility_sheet="stations", mode="bike",
                          minutes=10.0, subdistrict_totals=[tmp_path / "t.csv"], dedupe=True)
    kwargs = inputs.load_arguments()
    assert kwargs["facilities"] == Path(f"{book}#stations") and kwargs["dedupe"] is True
    assert kwargs["settings"].mode == "bike" and kwargs["settings"].minutes == 10.0
    assert set(kwargs) - {"settings"} <= set(siting.pipeline.load_inputs.__kwdefaults__)
    assert inputs.files() == [tmp_path / "a.osm", book, tmp_path / "t.csv"]


def _access_args(tiny_job: tuple[Path, list[str]]) -> tuple[Path, list[str]]:
    work, args = tiny_job
    return work, ["access", *args[1:]]


def _fail(*args: object, **kwargs: object) -> None:
    raise AssertionError("inputs were loaded")


@pytest.mark.parametrize(("extra", "said"), [
    (["--decay", "cubic"], "unknown --decay 'cubic'; choose one of none, gaussian, stepped"),
    (["--capacity-column", "beds"], "unknown --capacity-column 'beds'"),
])
def test_access_refuses_bad_options_before_loading(tiny_job, monkeypatch, extra, said) -> None:
    work, args = _access_args(tiny_job)
    monkeypatch.setattr(siting.pipeline, "load_inputs", _fail)
    monkeypatch.setattr(network.Network, "from_osm", _fail)
    result = runner.invoke(app, [*args, *extra, "--out", str(work / "out")])
    assert result.exit_code == 2 and f"error: {said}" in result.output, result.output
    assert "Traceback" not in result.output and not (work / "out").exists()


def test_access_reads_regions_before_loading(tiny_job, monkeypatch) -> None:
    work, args = _access_args(tiny_job)
    (work / "regions.csv").write_text("# a comment line\nname,subdistrict\n北,甲街道\n", encoding="utf-8")
    monkeypatch.setattr(siting.pipeline, "load_inputs", _fail)
    result = runner.invoke(app, [*args, "--regions", str(work / "regions.csv"), "--out", str(work / "out")])
    assert result.exit_code == 2, result.output
    assert "regions.csv" in result.output and "region" in result.output and "missing" in result.output
    missing = runner.invoke(app, [*args, "--regions", str(work / "nope.csv"), "--out", str(work / "out")])
    assert missing.exit_code == 2 and "nope.csv" in missing.output and "Traceback" not in missing.output


def test_access_dedupe(tiny_job) -> None:
    work, args = _access_args(tiny_job)
    with (work / "pop.csv").open("a", encoding="utf-8") as fh:
        fh.write("121.4025,31.2001,100\n")  # row 1 again
    kept = runner.invoke(app, [*args, "--out", str(work / "kept")])
    dropped = runner.invoke(app, [*args, "--dedupe", "--out", str(work / "dropped")])
    assert kept.exit_code == 0 and dropped.exit_code == 0, kept.output + dropped.output
    assert "give --dedupe to drop them" in kept.output and "dropped (--dedupe)" in dropped.output

    def total(folder: str) -> float:
        return json.loads((work / folder / "summary.json").read_text(encoding="utf-8"))["population"]

    assert total("kept") == pytest.approx(250.0) and total("dropped") == pytest.approx(150.0)


def test_site_no_tiles(tiny_job) -> None:
    work, args = tiny_job
    args = ["site", *[a for a in args[1:] if a != "--no-map"], "--k", "1", "--everywhere",
            "--min-distance-m", "0", "--spacing-m", "50"]
    for flags, folder in ((["--tiles", "osm"], "with"), (["--no-tiles"], "without")):
        result = runner.invoke(app, [*args, *flags, "--out", str(work / folder)])
        assert result.exit_code == 0, result.output
    assert "tile.openstreetmap.org" in (work / "with" / "map.html").read_text(encoding="utf-8")
    assert "tile.openstreetmap.org" not in (work / "without" / "map.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(("extra", "said"), [
    (["--k", "2", "--target", "0.9"], "give --k / --quotas (the best k sites) or a --target"),
    (["--per-subdistrict"], "--per-subdistrict needs a --target"),
    (["--target", "90"], "--target must be a number ≥ 0 and ≤ 1, got 90.0 — did you mean 0.9?"),
    (["--k", "-1"], "--k must be a whole number ≥ 0 and ≤ 100,000, got -1"),
    (["--time-limit", "-5"], "--time-limit must be a number > 0 and ≤ 86,400, got -5.0"),
    (["--capacity", "0"], "--capacity must be a number > 0 and ≤ 100,000,000, got 0.0"),
    (["--spacing-m", "0"], "--spacing-m must be a number > 0 and ≤ 100,000, got 0.0"),
    (["--min-distance-m", "-1"], "--min-distance-m must be a number ≥ 0 and ≤ 100,000, got -1.0"),
])
def test_site_refuses_bad_options_before_loading(tiny_job, monkeypatch, extra, said) -> None:
    """Wrong siting options used to be refused only after the inputs were read (about 10 s on the sample)."""
    work, args = tiny_job
    monkeypatch.setattr(siting.pipeline, "load_inputs", _fail)
    monkeypatch.setattr(network.Network, "from_osm", _fail)
    result = runner.invoke(app, ["site", *args[1:], *extra, "--out", str(work / "out")])
    assert result.exit_code == 2 and f"error: {said}" in result.output, result.output
    assert "Traceback" not in result.output and not (work / "out").exists()


def test_crs_named_columns_error_shows_the_flags(tiny_job) -> None:
    """The whole message reads in flags on the terminal (it said "crs='wgs84' was given" before)."""
    work, args = tiny_job
    (work / "cands.csv").write_text("id,lon_bd09,lat_bd09\nC1,121.4125,31.2062\n", encoding="utf-8")
    result = runner.invoke(app, ["site", *args[1:], "--candidates", str(work / "cands.csv"), "--k", "1",
                                 "--out", str(work / "out")])
    assert result.exit_code == 2, result.output
    assert "is named bd09 but --candidate-crs wgs84 was given; pass --candidate-crs bd09" in result.output
    assert "crs=" not in result.output and not (work / "out").exists()
