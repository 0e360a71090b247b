"""One table of value ranges (issue 21, item 5): the CLI, scenario files, batch files and the library agree.

The cases are derived from :data:`siting._validate.RANGES`: each span's bounds, just outside them, a value
inside, a fraction for whole numbers, and the non-finite ones. Every path that takes a number is asked
about every case and must accept and refuse exactly what the table says.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import siting.pipeline
from siting._validate import RANGES, Span, check_site_options, check_value
from siting.cli._jobs import read_jobs
from siting.cli.commands import app
from siting.errors import InputFileError, ModelError, ScenarioError, SitingError
from siting.scenarios._file import Scenario, read_scenario_file
from siting.settings import Settings

TEST_DATA = Path(__file__).parent / "data"
OSM = TEST_DATA / "walk_tiny.osm"
runner = CliRunner()
REACHED = "reached loading"  # what the CLI says when it accepted every option and went on to load the inputs

#: Where each number is given: the flag's command, a scenario file's keys (`baseline`, a scenario, its
#: `site`, its points), the batch file, and the library call.
CLI = {"speed_kmh": "coverage", "minutes": "coverage", "max_snap_m": "coverage", "target": "coverage",
       "k": "site", "capacity": "site", "time_limit": "site", "spacing_m": "site", "min_distance_m": "site"}
BASELINE = ("speed_kmh", "minutes", "max_snap_m", "target")
SCENARIO = ("speed_kmh", "minutes", "target")
SITE = ("k", "target", "spacing_m", "min_distance_m", "time_limit")
BATCH = ("speed_kmh", "minutes", "max_snap_m", "target")
SETTINGS = ("speed_kmh", "minutes", "max_snap_m")
SITE_OPTIONS = ("k", "target", "capacity", "time_limit", "spacing_m", "min_distance_m")
POINTS = ("population", "lon", "lat")


def cases(span: Span) -> list[float]:
    """The values that probe ``span``: its bounds and just beyond, a middle value, a fraction, ±∞ and NaN."""
    step = 1.0 if span.integer else max(1e-6, 1e-9 * max(abs(span.low), abs(span.high)))
    values = [span.low, span.low - step, span.low + step, span.high, span.high + step, (span.low + span.high) / 2,
              math.inf, -math.inf, math.nan]
    if span.integer:
        values += [span.low + 1.5]
    return values


def _ids(values: list[tuple[str, float]]) -> list[str]:
    return [f"{name}={value!r}" for name, value in values]


def _all(names: tuple[str, ...] | list[str]) -> list[tuple[str, float]]:
    return [(name, value) for name in names for value in cases(RANGES[name])]


def _text(value: float, integer: bool) -> str:
    """The value as typed on the command line (whole numbers without a point, as `--k` takes them)."""
    return str(int(value)) if integer and math.isfinite(value) and value == int(value) else repr(value)


def _plain(value: float, integer: bool) -> float | int:
    return int(value) if integer and math.isfinite(value) and value == int(value) else value


def test_the_table_covers_every_number_named_in_the_brief() -> None:
    assert {"speed_kmh", "minutes", "max_snap_m", "target", "k", "capacity", "time_limit", "spacing_m",
            "min_distance_m", "population", "gps", "floor_area_m2"} <= set(RANGES)
    for name, span in RANGES.items():
        assert span.low < span.high and span.why, name


def test_anchors() -> None:
    """The table's spans themselves: the issue's speed, and the defaults and presets of siting."""
    assert not RANGES["speed_kmh"].holds(1e-300) and not RANGES["speed_kmh"].holds(0)
    for preset in (3.0, 4.0, 12.0):
        assert RANGES["speed_kmh"].holds(preset)
    for name, default in (("minutes", 15.0), ("max_snap_m", 500.0), ("time_limit", 60.0), ("spacing_m", 200.0),
                          ("min_distance_m", 300.0), ("target", 0.9), ("k", 5)):
        assert RANGES[name].holds(default), name
    assert not RANGES["k"].holds(2.5) and not RANGES["k"].holds(True) and not RANGES["minutes"].holds("15")
    with pytest.raises(SitingError, match=r"^`speed_kmh` must be a number ≥ 1 and ≤ 100, got 1e-300$"):
        check_value("speed_kmh", 1e-300)
    with pytest.raises(SitingError, match="did you mean 0.9"):
        check_value("target", 90)


@pytest.fixture
def loading_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the inputs says so and stops: the CLI accepted every option."""
    def stop(*args: Any, **kwargs: Any) -> None:
        raise SitingError(REACHED)

    monkeypatch.setattr(siting.pipeline, "load_inputs", stop)


@pytest.mark.parametrize(("name", "value"), _all(list(CLI)), ids=_ids(_all(list(CLI))))
def test_cli(name: str, value: float, tmp_path: Path, loading_stops: None) -> None:
    span = RANGES[name]
    flag = f"--{name.replace('_', '-')}"
    result = runner.invoke(app, [CLI[name], "--osm", str(OSM), flag, _text(value, span.integer), "--out",
                                 str(tmp_path / "out"), "-q"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    if span.holds(value):
        assert f"error: {REACHED}" in result.output, result.output
    else:
        assert REACHED not in result.output and flag in result.output, result.output
        assert result.output.count("\n") == 1, result.output  # one line
    assert not (tmp_path / "out").exists()


def _scenario_file(tmp_path: Path, baseline: dict[str, Any], scenario: dict[str, Any] | None = None) -> Path:
    path = tmp_path / "plans.yaml"
    doc = {"baseline": {"osm": str(OSM), **baseline}, "scenarios": [{"name": "s", **scenario}] if scenario else []}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def _accepted(read: Any, error: type[SitingError], key: str) -> bool:
    try:
        read()
    except error as exc:
        assert key in str(exc), exc  # the refusal names the key
        return False
    return True


SCENARIO_CASES = ([("baseline", n, v) for n, v in _all(BASELINE)] + [("scenario", n, v) for n, v in _all(SCENARIO)]
                  + [("site", n, v) for n, v in _all(SITE)] + [("point", n, v) for n, v in _all(POINTS)])


@pytest.mark.parametrize(("where", "name", "value"), SCENARIO_CASES,
                         ids=[f"{w}.{n}={v!r}" for w, n, v in SCENARIO_CASES])
def test_scenario_file(where: str, name: str, value: float, tmp_path: Path) -> None:
    span = RANGES[name]
    v = _plain(value, span.integer)
    if where == "baseline":
        path = _scenario_file(tmp_path, {name: v})
    elif where == "scenario":
        path = _scenario_file(tmp_path, {}, {name: v})
    elif where == "site":
        site = {"target": v} if name == "target" else {"k": v} if name == "k" else {"k": 1, name: v}
        path = _scenario_file(tmp_path, {}, {"site": site})
    else:
        point = {"lon": 121.4, "lat": 31.2, "population": 10, name: v}
        path = _scenario_file(tmp_path, {}, {"add_population": [point]})
    assert _accepted(lambda: read_scenario_file(path), ScenarioError, name) == span.holds(value)


@pytest.mark.parametrize(("name", "value"), _all(BATCH), ids=_ids(_all(BATCH)))
def test_batch_file(name: str, value: float, tmp_path: Path) -> None:
    span = RANGES[name]
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(yaml.safe_dump({"jobs": [{"name": "a", "osm": str(OSM), name: _plain(value, span.integer)}]}),
                    encoding="utf-8")
    assert _accepted(lambda: read_jobs(jobs), InputFileError, name) == span.holds(value)


LIBRARY = [("settings", n, v) for n, v in _all(SETTINGS)] + [("site", n, v) for n, v in _all(SITE_OPTIONS)] + [
    ("point", n, v) for n, v in _all(POINTS)]


@pytest.mark.parametrize(("call", "name", "value"), LIBRARY, ids=[f"{c}.{n}={v!r}" for c, n, v in LIBRARY])
def test_library(call: str, name: str, value: float) -> None:
    span = RANGES[name]
    v = _plain(value, span.integer)
    if call == "settings":
        ok = _accepted(lambda: Settings(**{name: v}), SitingError, name)
    elif call == "site":
        ok = _accepted(lambda: check_site_options(**{name: v}), ModelError, name)
    else:
        point = {"lon": 121.4, "lat": 31.2, "population": 10, name: v}
        ok = _accepted(lambda: Scenario("s", add_population=[point]), ScenarioError, name)
    assert ok == span.holds(value)


def test_the_issue_case_is_refused_alike(tmp_path: Path) -> None:
    """`--speed-kmh 1e-300` printed a 300-digit mean time; the scenario file capped speed, the CLI did not."""
    cli = runner.invoke(app, ["coverage", "--osm", str(OSM), "--speed-kmh", "1e-300", "--out", str(tmp_path / "o")])
    assert cli.exit_code == 2 and cli.output == "error: --speed-kmh must be a number ≥ 1 and ≤ 100, got 1e-300\n"
    with pytest.raises(ScenarioError, match="key 'speed_kmh': must be a number ≥ 1 and ≤ 100, got 1e-300"):
        read_scenario_file(_scenario_file(tmp_path, {"speed_kmh": 1e-300}))
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(f"jobs:\n  - {{name: a, osm: {OSM}, speed_kmh: 1.0e-300}}\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="key 'speed_kmh' must be a number ≥ 1 and ≤ 100, got 1e-300"):
        read_jobs(jobs)


CAPACITY = [(n, v) for n, v in _all(("gps", "floor_area_m2")) if not math.isnan(v)]  # empty: the type's default


@pytest.mark.parametrize(("name", "value"), CAPACITY, ids=_ids(CAPACITY))
def test_facility_capacity_columns(name: str, value: float) -> None:
    """GP counts and floor areas of a facilities file: the same spans (a missing value takes the type's default)."""
    import pandas as pd

    from siting.engine._fca import read_capacity
    from siting.errors import ColumnError

    frame = pd.DataFrame({"type": ["center"], name: [value]})
    assert _accepted(lambda: read_capacity(frame), ColumnError, name) == RANGES[name].holds(value)
