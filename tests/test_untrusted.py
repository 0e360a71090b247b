"""Files from others are untrusted: no formula in our sheets, no path out of --out, nothing of the user's replaced,
YAML read defensively, legal-but-odd OSM accepted and broken OSM named, Ctrl-C / kill end cleanly (issue 21).

The maps and report.html are opened in a browser in tests/test_untrusted_maps.py.
"""

from __future__ import annotations

import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from untrusted_inputs import FORMULA, IMG, SCRIPT, TEST_DATA, write_inputs

from siting._yaml import MAX_BYTES, read_yaml
from siting.cli._jobs import read_jobs
from siting.cli.commands import app
from siting.errors import InputFileError, OutputError, ScenarioError
from siting.io._osmnet import read_osm_ways
from siting.outputs._outdir import inside, safe_name, unique_names
from siting.outputs._text import neutralise, sheet_text
from siting.scenarios._file import Scenario, read_scenario_file, resolve_ids

runner = CliRunner()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_inputs(tmp_path_factory.mktemp("untrusted"))


def _common(paths: dict[str, Path]) -> list[str]:
    return ["--osm", str(paths["osm"]), "--facilities", str(paths["fac"]), "--population", str(paths["pop"]),
            "--boundaries", str(paths["bounds"]), "--no-tiles", "--cache-dir", str(paths["osm"].parent / "cache"), "-q"]


@pytest.fixture(scope="module")
def coverage_out(hostile: dict[str, Path]) -> Path:
    out = hostile["osm"].parent / "coverage"
    result = runner.invoke(app, ["coverage", *_common(hostile), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


# -- 2. no formula ever written ----------------------------------------------------------------------------------------

def test_sheet_text_neutralises_formula_starts_only() -> None:
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", FORMULA):
        assert sheet_text(text) == "'" + text
    for value in ("ok", "徐汇区", "1-2", 5, -5.0, None):
        assert sheet_text(value) == value
    frame = pd.DataFrame({"name": ["=cmd", "fine", None], "population": [-1, 2, 3], "rate": [-0.5, 0.1, 0.2]})
    out = neutralise(frame)
    assert out["name"].tolist()[:2] == ["'=cmd", "fine"] and out["name"].isna().tolist()[2]
    assert out["population"].tolist() == [-1, 2, 3] and out["rate"].tolist() == [-0.5, 0.1, 0.2]
    assert frame["name"][0] == "=cmd"  # the caller's frame is left as it was


def _csv_first_chars(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8-sig")
    return [cell for line in text.splitlines()[1:] for cell in line.split(",") if cell]


def test_csvs_neutralise_names_and_keep_numbers(coverage_out: Path) -> None:
    subs = pd.read_csv(coverage_out / "subdistricts.csv", encoding="utf-8-sig")
    assert "'" + FORMULA in subs["subdistrict"].tolist() and IMG in subs["subdistrict"].tolist()
    assert subs["population"].dtype.kind in "if" and (subs["population"] >= 0).all()
    districts = pd.read_csv(coverage_out / "districts.csv", encoding="utf-8-sig")
    assert sorted(districts["district"]) == sorted(["../../../X", SCRIPT])
    for name in ("subdistricts.csv", "districts.csv", "uncovered_places.csv"):
        for cell in _csv_first_chars(coverage_out / name):
            assert not cell.lstrip('"').startswith(("=", "+", "@", "\t", "\r")), (name, cell)


def _formula_cells(path: Path) -> list[str]:
    book = openpyxl.load_workbook(path)
    return [f"{ws.title}!{c.coordinate}" for ws in book for row in ws.iter_rows() for c in row if c.data_type == "f"]


def test_report_xlsx_keeps_names_as_text(coverage_out: Path) -> None:
    path = coverage_out / "report.xlsx"
    assert _formula_cells(path) == []
    book = openpyxl.load_workbook(path)
    texts = {c.value for ws in book for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert FORMULA in texts and IMG in texts  # the names exactly, stored as text
    numbers = [c.value for ws in book for row in ws.iter_rows() for c in row if isinstance(c.value, int | float)]
    assert numbers  # numbers are still numbers


def test_batch_csv_and_xlsx(hostile: dict[str, Path], tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    from siting.cli.batch import run_batch

    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as client:
        res = run_batch(hostile["jobs"], tmp_path / "out", client=client, progress=False)
    assert res.failed == 0, res.table["error"].dropna().tolist()
    out = tmp_path / "out"
    assert _formula_cells(out / "batch.xlsx") == []
    book = openpyxl.load_workbook(out / "batch.xlsx")
    assert FORMULA in {c.value for row in book["batch"].iter_rows() for c in row}
    table = pd.read_csv(out / "batch.csv", encoding="utf-8-sig")
    assert "'" + FORMULA in table["area"].tolist() and FORMULA not in table["area"].tolist()
    # district folders named from data stay inside --out: ../../../X is hostile/X
    assert sorted(p.name for p in (out / "hostile").iterdir()) == ["X", "script_window.__pwned=1_script"]
    assert not list(tmp_path.parent.glob("X"))


# -- 3. names never become paths unchecked -----------------------------------------------------------------------------

def test_safe_name() -> None:
    assert safe_name("../../../X") == "X" and safe_name("a/b") == "a_b" and safe_name("..") == "run"
    assert safe_name("NUL") == "_NUL" and safe_name("徐汇区") == "徐汇区" and safe_name("a\x00b") == "a_b"
    assert len(safe_name("长" * 200).encode()) <= 120
    with pytest.raises(OutputError, match="'a/b' and 'a_b' give the same folder name 'a_b'"):
        unique_names(["a/b", "a_b"], "district")
    with pytest.raises(OutputError, match="same folder name"):
        unique_names(["Xuhui", "xuhui"], "job")


def test_inside_refuses_ways_out(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    assert inside(tmp_path / "out", "a/b") == (tmp_path / "out" / "a" / "b").resolve()
    for bad in ("../x", "a/../../x", "/etc", "."):
        with pytest.raises(OutputError, match="outside"):
            inside(tmp_path / "out", bad)
    (tmp_path / "out" / "link").symlink_to(tmp_path)
    with pytest.raises(OutputError, match="outside"):
        inside(tmp_path / "out", "link/elsewhere")


def _jobs_with_districts(tmp_path: Path, names: list[str]) -> Path:
    features = [{"type": "Feature", "properties": {"subdistrict": f"s{i}", "district": d},
                 "geometry": {"type": "Polygon", "coordinates": [[[121.4 + i, 31.2], [121.5 + i, 31.2],
                                                                  [121.5 + i, 31.3], [121.4 + i, 31.2]]]}}
                for i, d in enumerate(names)]
    (tmp_path / "b.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}),
                                        encoding="utf-8")
    (tmp_path / "jobs.yaml").write_text("jobs:\n  - name: j\n    osm: a.osm\n    boundaries: b.geojson\n"
                                        "    districts: all\n", encoding="utf-8")
    return tmp_path / "jobs.yaml"


def test_batch_district_folders_are_sanitised(tmp_path: Path) -> None:
    tasks = read_jobs(_jobs_with_districts(tmp_path, ["../../../X", "a/b", "徐汇区"]))
    assert [t.folder for t in tasks] == ["j/X", "j/a_b", "j/徐汇区"]
    assert [t.area for t in tasks] == ["../../../X", "a/b", "徐汇区"]  # the district itself is kept


def test_batch_districts_that_sanitise_alike_are_refused(tmp_path: Path) -> None:
    (task,) = read_jobs(_jobs_with_districts(tmp_path, ["a/b", "a_b"]))
    assert task.error is not None and "'a/b' and 'a_b' give the same folder name" in task.error


def test_job_names_that_read_alike_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text("jobs:\n  - name: Xuhui\n    osm: a.osm\n  - name: xuhui\n    osm: a.osm\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="'Xuhui' and 'xuhui' give the same folder name"):
        read_jobs(path)


def test_scenario_names_that_read_alike_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.osm").write_text((TEST_DATA / "walk_tiny.osm").read_text(encoding="utf-8"), encoding="utf-8")
    for names, said in ((["a b", "a_b"], "'a b' and 'a_b'"), (["Baseline"], "'baseline' and 'Baseline'"),
                        (["../up"], None)):
        text = "baseline: {osm: a.osm}\nscenarios:\n" + "".join(f"  - {{name: {json.dumps(n)}, mode: bike}}\n"
                                                                for n in names)
        (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
        if said is None:
            assert [s.name for s in read_scenario_file(tmp_path / "s.yaml").scenarios] == names
            continue
        with pytest.raises(ScenarioError, match=re.escape(said)):
            read_scenario_file(tmp_path / "s.yaml")


# -- 4. nothing replaced that siting did not write ---------------------------------------------------------------------

def test_manifest_lists_every_file_and_guards_overwrite(hostile: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["coverage", *_common(hostile), "--no-report", "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    manifest = json.loads((out / "summary.json").read_text(encoding="utf-8"))["manifest"]
    assert manifest == sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    (out / "notes.docx").write_bytes(b"mine")
    (out / "sub").mkdir()
    (out / "sub" / "todo.txt").write_text("mine", encoding="utf-8")
    refused = runner.invoke(app, [*args, "--overwrite"])
    assert refused.exit_code == 2 and "notes.docx, sub/todo.txt" in refused.output, refused.output
    assert "--overwrite would delete them" in refused.output
    assert (out / "notes.docx").read_bytes() == b"mine" and (out / "sub" / "todo.txt").exists()
    (out / "notes.docx").unlink()
    (out / "sub" / "todo.txt").unlink()
    (out / "sub").rmdir()
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0


def test_map_refuses_an_existing_file(coverage_out: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine.csv"
    mine.write_text("a,b\n1,2\n", encoding="utf-8")
    refused = runner.invoke(app, ["map", str(coverage_out), "--out", str(mine), "--no-tiles"])
    assert refused.exit_code == 2 and "already exists; use --overwrite" in refused.output, refused.output
    assert mine.read_text(encoding="utf-8") == "a,b\n1,2\n"
    for own in ("points.gpkg", "summary.json"):  # never over a file the map is drawn from, even with --overwrite
        before = (coverage_out / own).read_bytes()
        result = runner.invoke(app, ["map", str(coverage_out), "--out", str(coverage_out / own), "--overwrite"])
        assert result.exit_code == 2 and "results files the map is drawn from" in result.output
        assert (coverage_out / own).read_bytes() == before
    assert runner.invoke(app, ["map", str(coverage_out), "--out", str(mine), "--overwrite"]).exit_code == 0
    assert mine.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_map_written_into_the_folder_joins_its_manifest(hostile: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["coverage", *_common(hostile), "--no-report", "--no-map", "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, ["map", str(out), "--out", str(out / "again.html")]).exit_code == 0
    assert "again.html" in json.loads((out / "summary.json").read_text(encoding="utf-8"))["manifest"]
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0


@pytest.mark.parametrize(("summary", "said"), [
    ("[1, 2]", "expected a JSON object"),
    ('{"coverage_rate": "high"}', "key 'coverage_rate' must be a number or null"),
    ('{"share_within": [1]}', "key 'share_within' must map minutes to shares"),
    ('{"sources": ["x"]}', "key 'sources' must be a list of objects"),
])
def test_map_refuses_a_foreign_summary(coverage_out: Path, tmp_path: Path, summary: str, said: str) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    for p in coverage_out.glob("*.gpkg"):
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "summary.json").write_text(summary, encoding="utf-8")
    result = runner.invoke(app, ["map", str(folder)])
    assert result.exit_code == 2 and said in result.output and "Traceback" not in result.output, result.output


# -- 5. YAML read defensively ------------------------------------------------------------------------------------------

def _alias_bomb(levels: int = 8) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines)


def test_alias_bomb_fails_fast(tmp_path: Path) -> None:
    # the bomb of the issue: anchors nested 8 deep inside `close:` (9 ** 8 = 43 million names once expanded)
    bomb = ("baseline: {osm: a.osm}\nscenarios:\n  - name: s\n    close: [&a [x,x,x,x,x,x,x,x,x], "
            + ", ".join(f"&{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(7)) + "]\n")
    assert len(bomb.encode()) < 800
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb, encoding="utf-8")
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError, match=r"bomb.yaml: aliases \(\*name\) at line 4 expand the document"):
        read_scenario_file(path)
    assert time.perf_counter() - t0 < 1.0
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(_alias_bomb() + "\njobs: [*h]\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="aliases"):
        read_jobs(jobs)


def test_aliases_within_budget_and_merge_keys_work(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {mode: walk, minutes: 15}\nrun:\n  <<: *b\n  minutes: 10\nlist: [*b, *b]\n",
                    encoding="utf-8")
    assert read_yaml(path, InputFileError) == {"base": {"mode": "walk", "minutes": 15},
                                               "run": {"mode": "walk", "minutes": 10},
                                               "list": [{"mode": "walk", "minutes": 15}] * 2}


def test_self_referencing_anchor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("a: &a [1, *a]\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="anchor at line 1 contains an alias to itself"):
        read_yaml(path, InputFileError)


def test_duplicate_keys_name_the_key_and_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("baseline:\n  osm: a.osm\n  minutes: 15\n  mode: walk\n  minutes: 10\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"dup.yaml: key 'minutes' is given twice, at lines 3 and 5"):
        read_scenario_file(path)
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  - {name: a, osm: a.osm, name: b}\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="key 'name' is given twice, at lines 2 and 2"):
        read_jobs(jobs)


def test_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * MAX_BYTES + "\nbaseline: {osm: a.osm}\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="a YAML file may be at most 1,000,000 bytes"):
        read_scenario_file(path)


def test_same_facility_twice_in_close_or_move() -> None:
    with pytest.raises(ScenarioError, match="key 'close': lists 'A' twice"):
        Scenario(name="s", close=["A", "A"])
    with pytest.raises(ScenarioError, match="key 'close': expected facility ids or names"):
        Scenario(name="s", close=[["nested"]])
    with pytest.raises(ScenarioError, match="key 'move': moves '1' twice"):
        Scenario(name="s", move={1: [121.4, 31.2], "1": [121.41, 31.2]})
    baseline = [("f1", "甲中心"), ("f2", "乙中心")]
    with pytest.raises(ScenarioError, match=r"'f1' and '甲中心' are the same facility \(id 'f1'\), named twice"):
        resolve_ids([Scenario(name="s", close=["f1", "甲中心"])], baseline, {})
    with pytest.raises(ScenarioError, match="key 'move'.*the same facility"):
        resolve_ids([Scenario(name="s", move={"f2": [121.4, 31.2], "乙中心": [121.41, 31.2]})], baseline, {})


# -- 6. legal OSM accepted, bad OSM named ------------------------------------------------------------------------------

JOSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="JOSM">
  <node id="-1" lat="31.2000" lon="121.4000"/>
  <node id="-2" lat="31.2000" lon="121.4010"/>
  <node id="-3" lat="31.2000" lon="121.4020"/>
  <node id="-4" lat="31.2010" lon="121.4020"/>
  <node id="5" lat="31.2010" lon="121.4030"/>
  <way id="-10"><nd ref="-1"/><nd ref="-2"/><nd ref="-3"/><nd ref="-4"/><tag k="highway" v="residential"/></way>
  <way id="11"><nd ref="-4"/><nd ref="5"/><tag k="highway" v="footway"/></way>
</osm>
"""


def test_negative_node_ids_work(tmp_path: Path) -> None:
    (tmp_path / "josm.osm").write_text(JOSM, encoding="utf-8")
    seg = read_osm_ways(tmp_path / "josm.osm", "walk")
    assert sorted(seg.node_id.tolist()) == [-4, -3, -2, -1, 5] and len(seg.u) == 4
    assert seg.stats["node_refs_missing"] == 0
    (tmp_path / "f.csv").write_text("name,type,lon,lat\nA,center,121.4001,31.2000\n", encoding="utf-8")
    (tmp_path / "p.csv").write_text("lon,lat,population\n121.4015,31.2003,100\n", encoding="utf-8")
    result = runner.invoke(app, ["coverage", "--osm", str(tmp_path / "josm.osm"), "--facilities",
                                 str(tmp_path / "f.csv"), "--population", str(tmp_path / "p.csv"), "--no-map",
                                 "--no-report",
                                 "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["population_covered"] == 100


@pytest.mark.parametrize("josm", [True, False])
def test_latitude_95_is_named(tmp_path: Path, josm: bool) -> None:
    text = JOSM.replace('lat="31.2010" lon="121.4020"', 'lat="95.0" lon="121.4020"')
    if not josm:
        text = text.replace('id="-', 'id="').replace('ref="-', 'ref="')
    (tmp_path / "bad.osm").write_text(text, encoding="utf-8")
    node = "-4" if josm else "4"
    with pytest.raises(InputFileError, match=rf"bad.osm: node {node} .*has longitude 121.402, latitude 95 "
                                             r"\(outside -180…180, -90…90\)"):
        read_osm_ways(tmp_path / "bad.osm", "walk")


def test_all_zero_population_says_so_without_nan(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("name,type,lon,lat\nA,center,121.4005,31.2000\n", encoding="utf-8")
    (tmp_path / "p.csv").write_text("lon,lat,population\n121.4025,31.2001,0\n121.4001,31.2015,0\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["coverage", "--osm", str(TEST_DATA / "walk_tiny.osm"), "--facilities",
                                 str(tmp_path / "f.csv"), "--population", str(tmp_path / "p.csv"), "--no-tiles",
                                 "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "the 2 point(s) inside the street extent all have population 0" in result.output
    assert "outside" not in result.output.split("All:")[1].splitlines()[0]
    texts = {"console": result.output}
    for p in out.iterdir():
        if p.suffix in (".csv", ".json", ".html"):
            text = p.read_text(encoding="utf-8-sig")
            texts[p.name] = re.sub(r"<script.*?</script>", "", text, flags=re.S) if p.suffix == ".html" else text
    for name, text in texts.items():
        assert not re.search(r"\bnan\b", text, flags=re.I), (name, re.findall(r".{30}\bnan\b.{10}", text, re.I))


# -- 7. Ctrl-C and kill ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_exit_with_the_shell_code_and_leave_no_temp_folder(hostile: dict[str, Path], tmp_path: Path,
                                                                  sig: int, code: int) -> None:
    """`siting batch` holds its temp folder for the whole run (the cluster starts inside it): signal it then."""
    pytest.importorskip("distributed")
    env = dict(os.environ, SITING_PDF="0")
    proc = subprocess.Popen([sys.executable, "-m", "siting", "batch", str(hostile["jobs"]), "--out",
                             str(tmp_path / "out"), "--workers", "1", "-q"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.monotonic()
        while not glob.glob(str(tmp_path / ".siting-*.tmp")):
            assert proc.poll() is None and time.monotonic() - t0 < 60, "the batch ended before it was signalled"
            time.sleep(0.02)
        time.sleep(2.0)  # the local cluster is up
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err
    assert "no partial output was left" in err and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == [], list(tmp_path.iterdir())
