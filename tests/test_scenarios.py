"""Scenario files: every validation rule fails before any network is loaded, naming scenario, key and the
closest valid key / id / name."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import siting
from siting.cli.commands import app
from siting.engine.network import Network
from siting.errors import ScenarioError
from siting.scenarios.comparison import Scenario, prepare

FACILITIES = """id,name,type,lon,lat
c1,徐汇区湖南街道社区卫生服务中心,center,121.4450,31.2100
c2,徐汇区天平街道社区卫生服务中心,center,121.4550,31.2060
c3,同名站,station,121.4500,31.2000
c4,同名站,station,121.4400,31.2000
"""
POPULATION = """lon,lat,population
121.446,31.211,100
121.452,31.205,200
"""


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to load a network fails the test (validation must come first)."""

    def boom(*args, **kwargs):
        raise AssertionError("a network was loaded before the scenario file was checked")

    monkeypatch.setattr(Network, "from_osm", classmethod(boom))
    monkeypatch.setattr(Network, "from_place", classmethod(boom))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A scenario folder with inputs; the .osm is not even OSM (it is never read during validation)."""
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "streets.osm").write_text("not parsed during validation", encoding="utf-8")
    (tmp_path / "inputs" / "facilities.csv").write_text(FACILITIES, encoding="utf-8")
    (tmp_path / "inputs" / "homes.csv").write_text(POPULATION, encoding="utf-8")
    return tmp_path


BASELINE = """\
name: test
baseline:
  osm: inputs/streets.osm
  facilities: {path: inputs/facilities.csv, crs: wgs84}
  population: inputs/homes.csv
"""


def write(folder: Path, scenarios: str, baseline: str = BASELINE) -> Path:
    path = folder / "plans" / "scenarios.yaml"
    path.parent.mkdir(exist_ok=True)
    body = textwrap.indent(textwrap.dedent(scenarios), "  ")
    text = baseline.replace("inputs/", "../inputs/") + "scenarios:\n" + body
    path.write_text(text, encoding="utf-8")
    return path


def fails(path: Path, *needles: str) -> str:
    """compare() raises ScenarioError whose message holds every needle (and the file name)."""
    with pytest.raises(ScenarioError) as info:
        siting.compare(path)
    message = str(info.value)
    for needle in (str(path), *needles):
        assert needle in message, message
    return message


def test_a_valid_file_is_checked_without_the_network(folder, no_network):
    path = write(folder, """\
        - name: close_hunan
          close: [徐汇区湖南街道社区卫生服务中心]
        - name: moved
          move: {c2: {lon: 121.456, lat: 31.207, crs: wgs84, name: 新址}}
        - name: then_close
          from: moved
          close: [c2]
          add: [{name: 新站, lon: 121.45, lat: 31.20}]
        - name: elderly_sites
          mode: elderly
          site: {k: 2}
        """)
    prep = prepare(path)
    assert [s.name for s in prep.order] == ["close_hunan", "moved", "then_close", "elderly_sites"]
    assert prep.edits["close_hunan"].close == ("c1",)  # resolved by name
    assert list(prep.edits["moved"].move) == ["c2"]
    assert prep.added["then_close"]["facility_id"].tolist() == ["then_close:1"]
    assert prep.added["then_close"]["type"].tolist() == ["station"]


def test_unknown_scenario_key_names_scenario_key_and_closest(folder, no_network):
    path = write(folder, """\
        - name: close_hunan
          clsoe: [c1]
        """)
    fails(path, "scenario 'close_hunan'", "key 'clsoe'", "closest: 'close'")


def test_unknown_nested_key_names_the_path(folder, no_network):
    path = write(folder, """\
        - name: sites
          site: {kk: 3}
        """)
    fails(path, "scenario 'sites'", "key 'site.kk'", "closest: 'k'")


def test_unknown_baseline_key(folder, no_network):
    path = write(folder, "- name: a\n  mode: walk\n", BASELINE + "  distrcit: 徐汇区\n")
    fails(path, "baseline", "key 'distrcit'", "closest: 'district'")


def test_unknown_top_level_key(folder, no_network):
    path = write(folder, "- name: a\n", BASELINE + "scenaros: []\n")
    fails(path, "top-level key 'scenaros'", "closest: 'scenarios'")


def test_close_of_an_unknown_id_names_the_closest_id(folder, no_network):
    path = write(folder, """\
        - name: close_typo
          close: [c9]
        """)
    fails(path, "scenario 'close_typo'", "key 'close'", "'c9'", "closest: 'c")


def test_close_of_an_unknown_name_names_the_closest_name(folder, no_network):
    path = write(folder, """\
        - name: close_name
          close: [徐汇区湖南社区卫生服务中心]
        """)
    fails(path, "scenario 'close_name'", "key 'close'", "closest: '徐汇区湖南街道社区卫生服务中心'")


def test_close_of_a_shared_name_asks_for_the_id(folder, no_network):
    path = write(folder, """\
        - name: ambiguous
          close: [同名站]
        """)
    fails(path, "scenario 'ambiguous'", "key 'close'", "ids c3, c4")


def test_close_of_a_facility_closed_by_the_parent_scenario(folder, no_network):
    path = write(folder, """\
        - name: first
          close: [c1]
        - name: second
          from: first
          close: [c1]
        """)
    fails(path, "scenario 'second'", "key 'close'", "'c1'")


def test_move_of_an_unknown_id(folder, no_network):
    path = write(folder, """\
        - name: move_typo
          move: {c7: [121.45, 31.2]}
        """)
    fails(path, "scenario 'move_typo'", "key 'move.c7'", "closest: 'c")


def test_missing_file_of_a_scenario(folder, no_network):
    path = write(folder, """\
        - name: estate
          add_population: {path: ../inputs/estate.csv, crs: gcj02}
        """)
    fails(path, "scenario 'estate'", "key 'add_population[1].path'", "file not found", "estate.csv",
          "closest: 'homes.csv'")


def test_missing_file_of_the_baseline(folder, no_network):
    path = write(folder, "- name: a\n", BASELINE.replace("homes.csv", "homes2.csv"))
    fails(path, "baseline", "key 'population'", "file not found", "homes2.csv")


def test_from_loop(folder, no_network):
    path = write(folder, """\
        - name: a
          from: c
        - name: b
          from: a
        - name: c
          from: b
        """)
    fails(path, "scenario 'a'", "key 'from'", "loops: a → c → b → a")


def test_from_an_unknown_scenario(folder, no_network):
    path = write(folder, """\
        - name: optimiser_90
          site: {target: 0.9}
        - name: elderly
          from: optimiser90
          mode: elderly
        """)
    fails(path, "scenario 'elderly'", "key 'from'", "closest: 'optimiser_90'")


def test_unknown_mode(folder, no_network):
    path = write(folder, "- name: older\n  mode: eldery\n")
    fails(path, "scenario 'older'", "key 'mode'", "closest: 'elderly'")


def test_target_as_a_percentage(folder, no_network):
    path = write(folder, "- name: t\n  target: 90\n")
    fails(path, "scenario 't'", "key 'target'", "did you mean 0.9")


def test_site_needs_k_or_target(folder, no_network):
    path = write(folder, "- name: s\n  site: {k: 3, target: 0.9}\n")
    fails(path, "scenario 's'", "key 'site'", "exactly one of `k`")


def test_duplicate_names(folder, no_network):
    path = write(folder, "- name: a\n  mode: bike\n- name: a\n  mode: elderly\n")
    fails(path, "scenario 'a'", "key 'name'", "twice")


def test_added_id_already_in_use(folder, no_network):
    path = write(folder, "- name: dup\n  add: [{id: c1, lon: 121.45, lat: 31.2}]\n")
    fails(path, "scenario 'dup'", "key 'add'", "'c1' is already in use")


def test_unknown_facility_type(folder, no_network):
    path = write(folder, "- name: kinds\n  facility_types: [center, staton]\n")
    fails(path, "scenario 'kinds'", "key 'facility_types'", "closest: 'station'")


def test_scenarios_built_in_code_are_checked_the_same_way():
    with pytest.raises(ScenarioError, match=r"scenario 'x': key 'mode': .*closest: 'bike'"):
        Scenario(name="x", mode="bkie")
    with pytest.raises(ScenarioError, match=r"scenario 'y': key 'add\[1\]': missing `lat`"):
        Scenario(name="y", add=[{"lon": 121.4}])
    with pytest.raises(ScenarioError, match="'baseline' is the name of the unedited run"):
        Scenario(name="baseline")


def test_cli_prints_one_error_line_and_writes_nothing(folder, no_network):
    path = write(folder, "- name: close_typo\n  close: [c9]\n")
    out = folder / "out"
    result = CliRunner().invoke(app, ["compare", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert "error:" in result.output and "scenario 'close_typo': key 'close'" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_overwrite_never_replaces_a_folder_holding_an_input(folder, no_network):
    path = write(folder, "- name: a\n  mode: elderly\n")
    for out in (path.parent, folder / "inputs"):  # the scenario file's folder; the inputs' folder
        result = CliRunner().invoke(app, ["compare", str(path), "--out", str(out), "--overwrite"])
        assert result.exit_code == 2 and "error:" in result.output, result.output
        assert path.is_file() and (folder / "inputs" / "facilities.csv").is_file()
    assert set(prepare(path).files) == {path, *(folder / "inputs").iterdir()}


def test_site_options_are_checked_against_each_other_up_front(folder, no_network):
    """`per_subdistrict` needs a `target` (as for `siting site`): the 3rd scenario fails before any network."""
    path = write(folder, """\
        - name: s1
          close: [c1]
        - name: s2
          site: {k: 1}
        - name: s3
          site: {k: 2, per_subdistrict: true}
        """)
    fails(path, "scenario 's3'", "key 'site'", "`per_subdistrict` needs a `target`")


def test_a_too_fine_grid_of_a_later_scenario_fails_before_any_run(folder, test_data, monkeypatch):
    """The grid is checked on each scenario's own network (bike here) before the baseline runs; nothing is written."""
    import shutil

    from siting.scenarios import comparison as scenarios

    shutil.copy(test_data / "walk_tiny.osm", folder / "inputs" / "streets.osm")
    ran = []
    monkeypatch.setattr(scenarios, "_run", lambda name, *a, **k: ran.append(name))
    path = write(folder, """\
        - name: s1
          close: [c1]
        - name: s2
          site: {k: 1, spacing_m: 150}
        - name: s3
          from: s1
          mode: bike
        - name: s4
          from: s3
          site: {k: 1, spacing_m: 0.001}
        """)
    fails(path, "scenario 's4'", "key 'site.spacing_m'", "`spacing_m` 0.001 would generate about",
          "give a spacing of at least")
    built = []
    real = Network.from_osm.__func__

    def from_osm(cls, *args, **kwargs):
        built.append(args[1:2])
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(Network, "from_osm", classmethod(from_osm))
    out = folder / "out"
    result = CliRunner().invoke(app, ["compare", str(path), "--out", str(out), "--no-report", "--no-map"])
    assert result.exit_code == 2 and "scenario 's4': key 'site.spacing_m'" in result.output, result.output
    assert ran == [] and not out.exists()
    assert ("bike",) in built  # s4 inherits s3's mode: checked on the bike network
