"""One key per input option (issue 21, item 6): every input flag of `siting coverage` is a key of a scenario
file's `baseline:` and of a batch job (and its `defaults:`), and each hands the pipeline the same value.

The list is derived from the CLI's input option group (:class:`siting.cli._options.InputOptions`), so a new
flag without its keys fails here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from siting.cli._jobs import JOB_KEYS, read_jobs
from siting.cli._options import InputOptions
from siting.cli.commands import app, cli_words
from siting.scenarios._file import BASELINE_KEYS, read_scenario_file

TEST_DATA = Path(__file__).parent / "data"
runner = CliRunner()


def _key(field: dataclasses.Field[Any]) -> str:
    """The key of an input option: its flag without dashes (``--network`` → ``network``)."""
    flags = field.metadata["flags"]
    return (flags[0] if flags else f"--{field.name}").lstrip("-").replace("-", "_")


FIELDS = {_key(f): f.name for f in dataclasses.fields(InputOptions)}
KEYS = sorted(FIELDS)


def test_the_list_is_the_cli_group() -> None:
    assert {"dedupe", "allow_broken_network", "spread_polygons", "facility_sheet", "census_column", "overpass_url",
            "nominatim_url", "network", "cache_dir"} <= set(KEYS)
    assert len(KEYS) == len(dataclasses.fields(InputOptions))


@pytest.mark.parametrize("key", KEYS)
def test_every_input_flag_has_its_keys(key: str) -> None:
    assert key in BASELINE_KEYS, f"scenario baseline has no key {key!r} for --{key.replace('_', '-')}"
    assert key in JOB_KEYS, f"batch jobs have no key {key!r} for --{key.replace('_', '-')}"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {"osm": TEST_DATA / "walk_tiny.osm"}
    for name, text in (("fac.csv", "name,type,lon,lat\nA,center,121.4005,31.2\n"),
                       ("pop.csv", "lon,lat,population\n121.4025,31.2001,100\n"),
                       ("book.xlsx", "not read here"), ("census.csv", "district,pop\n徐汇,1\n"),
                       ("totals.csv", "subdistrict,population\n甲,1\n"), ("roads.geojson", "{}"),
                       ("bounds.geojson", "{}"), ("ages.csv", "district,share_60plus\n徐汇,0.3\n")):
        (tmp_path / name).write_text(text, encoding="utf-8")
        out[name] = tmp_path / name
    return out


def _case(key: str, f: dict[str, Path], tmp: Path) -> tuple[dict[str, Any], Any]:
    """Return the other inputs the key needs (a network source at least) and a value that is not the default."""
    base: dict[str, Any] = {"osm": f["osm"]}
    value: Any = {
        "osm": f["osm"], "place": "徐汇区, 上海市", "network": f["roads.geojson"], "overpass_url": "http://127.0.0.1:9/a",
        "nominatim_url": "http://127.0.0.1:9/n", "facilities": f["fac.csv"], "facility_crs": "gcj02",
        "facility_sheet": "S1", "facility_types": "station", "population": f["pop.csv"], "population_crs": "bd09",
        "dedupe": True, "spread_polygons": True, "census": f["census.csv"], "census_column": "pop",
        "subdistrict_totals": f["totals.csv"], "boundaries": f["bounds.geojson"], "district": "徐汇区",
        "mode": "bike", "speed_kmh": 5.0, "minutes": 10.0, "max_snap_m": 300.0, "cache_dir": tmp / "cache",
        "allow_broken_network": True, "age_shares": f["ages.csv"]}[key]
    if key in ("place", "network"):
        base = {"population": f["pop.csv"], **({"facilities": f["fac.csv"]} if key == "network" else {})}
    needs = {"facility_crs": ("facilities", f["fac.csv"]), "facility_sheet": ("facilities", f["book.xlsx"]),
             "population_crs": ("population", f["pop.csv"]), "census": ("population", f["pop.csv"])}
    if key in needs:
        base[needs[key][0]] = needs[key][1]
    return base, value


PATHS = ("osm", "network", "facilities", "facility_sheet", "population", "census", "boundaries", "cache_dir",
         "age_shares")


def _seen(key: str, kwargs: dict[str, Any], settings: Any, types: Any) -> Any:
    """What the pipeline is handed for ``key`` (paths resolved, lists of types as tuples)."""
    if key in ("mode", "speed_kmh", "minutes", "max_snap_m"):
        return getattr(settings, key)
    if key == "facility_types":
        return tuple(types.split(",")) if isinstance(types, str) else tuple(types)
    value = kwargs.get({"network": "network_file", "facility_sheet": "facilities"}.get(key, key))
    if key == "subdistrict_totals":
        return [str(Path(p).resolve()) for p in ([value] if isinstance(value, str | Path) else value or [])]
    return str(Path(value).resolve()) if isinstance(value, Path) or key in PATHS and value else value


def _cli(inputs: dict[str, Any]) -> Any:
    fields = {FIELDS[k]: ([v] if k == "subdistrict_totals" else v) for k, v in inputs.items()}
    options = InputOptions(**fields)
    kwargs = options.load_arguments()
    return kwargs, kwargs["settings"], options.facility_types


def _scenario(inputs: dict[str, Any], tmp: Path) -> Any:
    path = tmp / "plans.yaml"
    path.write_text(yaml.safe_dump({"baseline": {k: str(v) if isinstance(v, Path) else v for k, v in inputs.items()}},
                                   allow_unicode=True), encoding="utf-8")
    base = read_scenario_file(path).baseline
    kwargs = {**base.load_kwargs(), "osm": base.osm, "place": base.place, "cache_dir": base.cache_dir}
    return kwargs, base.settings(), base.facility_types or ("center", "subcenter", "station", "village_clinic")


def _batch(inputs: dict[str, Any], tmp: Path, key: str, in_defaults: bool) -> Any:
    plain = {k: str(v) if isinstance(v, Path) else v for k, v in inputs.items()}
    job, defaults = ({k: v for k, v in plain.items() if k != key}, {key: plain[key]}) if in_defaults else (plain, {})
    path = tmp / "jobs.yaml"
    path.write_text(yaml.safe_dump({"defaults": defaults, "jobs": [{"name": "a", **job}]}, allow_unicode=True),
                    encoding="utf-8")
    (task,) = read_jobs(path)
    return task.load, task.settings, task.types


@pytest.mark.parametrize("key", KEYS)
def test_each_key_hands_the_pipeline_what_the_flag_does(key: str, files: dict[str, Path], tmp_path: Path) -> None:
    base, value = _case(key, files, tmp_path)
    given = {**base, key: value}
    cli = _seen(key, *_cli(given))
    assert cli == _seen(key, *_scenario(given, tmp_path)), "scenario baseline"
    assert cli == _seen(key, *_batch(given, tmp_path, key, in_defaults=False)), "batch job"
    if key not in ("osm", "place", "network"):  # a network source is per job
        assert cli == _seen(key, *_batch(given, tmp_path, key, in_defaults=True)), "batch defaults"
    if key not in ("osm", "place", "network"):  # and the value arrived: it is not what the run had without it
        assert cli != _seen(key, *_cli(base)), "the value was dropped"


def test_compare_says_the_key_it_accepts(tmp_path: Path) -> None:
    """`siting compare` suggested `dedupe=True` and then refused `dedupe` as an unknown key."""
    said = cli_words("12 rows repeat an earlier row: counted again; give dedupe=True to drop them", "compare")
    assert "`dedupe: true`" in said and "dedupe=True" not in said
    assert "`allow_broken_network: true`" in cli_words("use allow_broken_network=True to go on", "compare")
    assert "--dedupe" in cli_words("give dedupe=True to drop them", "coverage")


def test_compare_runs_with_the_new_keys(tmp_path: Path) -> None:
    """The keys that `siting compare` had no way to give: repeated rows dropped, the cache folder used."""
    (tmp_path / "fac.csv").write_text("name,type,lon,lat\nA,center,121.4005,31.2000\n", encoding="utf-8")
    (tmp_path / "pop.csv").write_text("lon,lat,population\n121.4025,31.2001,100\n121.4025,31.2001,100\n"
                                      "121.4001,31.2015,50\n", encoding="utf-8")
    base = {"osm": str(TEST_DATA / "walk_tiny.osm"), "facilities": "fac.csv", "population": "pop.csv",
            "cache_dir": "my_cache"}
    runs = {}
    for dedupe in (False, True):
        plans = tmp_path / f"plans_{dedupe}.yaml"
        plans.write_text(yaml.safe_dump({"baseline": {**base, "dedupe": dedupe, "allow_broken_network": True},
                                         "scenarios": [{"name": "slow", "mode": "elderly"}]}), encoding="utf-8")
        out = tmp_path / f"out_{dedupe}"
        result = runner.invoke(app, ["compare", str(plans), "--out", str(out), "--no-map", "--no-report", "-q"])
        assert result.exit_code == 0, result.output
        said = "dropped (`dedupe: true`)" if dedupe else "give `dedupe: true` to drop them"  # the key, as written
        assert said in result.output, result.output
        assert "dedupe=True" not in result.output
        runs[dedupe] = (out / "comparison.csv").read_text(encoding="utf-8-sig")
    assert runs[False] != runs[True]  # 250 residents counted, then 150
    assert (tmp_path / "my_cache").is_dir()  # the baseline's cache folder, relative to the scenario file
