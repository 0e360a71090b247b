"""`siting batch`: jobs on a two-worker Dask cluster give the same numbers as separate `siting coverage` runs."""

from __future__ import annotations

import json
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from distributed import Client, LocalCluster

import siting
from siting.cli._jobs import read_jobs
from siting.cli.batch import network_builds
from siting.cli.commands import app
from siting.errors import InputFileError, SitingError

runner = CliRunner()

# Three 街道 on a 1 km × 2 km grid of streets: 甲区 (西, 东) in the south, 乙区 (北镇) in the north.
AREAS = [("西街道", "甲区", 121.400, 31.100, 121.410, 31.110), ("东街道", "甲区", 121.410, 31.100, 121.420, 31.110),
         ("北镇", "乙区", 121.400, 31.110, 121.420, 31.120)]


def grid_osm(path: Path, nx: int, ny: int, step: float = 0.002) -> Path:
    """A residential street grid of ``nx`` × ``ny`` nodes from (121.400, 31.100), ``step`` degrees apart."""
    nodes = [f'<node id="{1 + i + nx * j}" lat="{31.1 + j * step:.4f}" lon="{121.4 + i * step:.4f}"/>'
             for j in range(ny) for i in range(nx)]
    rows = [[1 + i + nx * j for i in range(nx)] for j in range(ny)]
    lines = rows + [[r[i] for r in rows] for i in range(nx)]
    ways = [f'<way id="{k + 1}">' + "".join(f'<nd ref="{n}"/>' for n in line)
            + '<tag k="highway" v="residential"/></way>' for k, line in enumerate(lines)]
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n' + "\n".join(nodes + ways)
                    + "\n</osm>\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Two extracts (a full 11 × 11 grid and a sparser 6 × 11 one), boundaries, facilities, population."""
    root = tmp_path_factory.mktemp("batch_inputs")
    grid_osm(root / "a.osm", 11, 11)
    grid_osm(root / "b.osm", 6, 11, step=0.004)
    features = [{"type": "Feature", "properties": {"街道": s, "区": d},
                 "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}}
                for s, d, x0, y0, x1, y1 in AREAS]
    (root / "areas.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features},
                                                   ensure_ascii=False), encoding="utf-8")
    pd.DataFrame({"name": ["甲中心", "乙中心"], "type": ["center", "center"], "lon": [121.4035, 121.4161],
                  "lat": [31.1042, 31.1158]}).to_csv(root / "fac.csv", index=False)
    rng = np.random.default_rng(14)
    pd.DataFrame({"lon": rng.uniform(121.4005, 121.4195, 80), "lat": rng.uniform(31.1005, 31.1195, 80),
                  "population": rng.integers(50, 900, 80)}).to_csv(root / "pop.csv", index=False)
    (root / "plans.yaml").write_text("""
name: plans
baseline:
  osm: a.osm
  facilities: {path: fac.csv, crs: wgs84}
  population: pop.csv
  boundaries: areas.geojson
scenarios:
  - name: close_b
    close: [乙中心]
  - name: elderly
    mode: elderly
""", encoding="utf-8")
    (root / "jobs.yaml").write_text(f"""
defaults:
  facilities: fac.csv
  population: pop.csv
  boundaries: areas.geojson
  cache_dir: {root / "cache"}
  map: false
jobs:
  - name: a
    osm: a.osm
    districts: all
  - name: b
    osm: b.osm
    minutes: 10
  - name: missing
    osm: missing.osm
  - name: bad-district
    osm: a.osm
    district: 丙区
  - name: plans
    scenarios: plans.yaml
""", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes (as `siting batch` starts by default)."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as lc, \
            Client(lc) as client:
        yield lc, client


@pytest.fixture(scope="module")
def batch(inputs, cluster, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch_out") / "out"
    result = runner.invoke(app, ["batch", str(inputs / "jobs.yaml"), "--out", str(out), "--quiet",
                                 "--scheduler", cluster[0].scheduler_address])
    return out, result


def separate_run(inputs: Path, tmp: Path, osm: str, *extra: str) -> Path:
    out = tmp / f"{osm}{'-'.join(extra)}"
    result = runner.invoke(app, [
        "coverage", "--osm", str(inputs / osm), "--facilities", str(inputs / "fac.csv"), "--population",
        str(inputs / "pop.csv"), "--boundaries", str(inputs / "areas.geojson"), "--no-map", "--quiet",
        "--cache-dir", str(tmp / "cache"), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out


def test_batch_equals_separate_coverage_runs(batch, inputs, tmp_path):
    out, result = batch
    table = pd.read_csv(out / "batch.csv")
    assert (out / "batch.xlsx").exists()
    runs = {("a", "甲区"): ["--district", "甲区"], ("a", "乙区"): ["--district", "乙区"],
            ("b", "all"): ["--minutes", "10"]}
    for (job, area), extra in runs.items():
        alone = separate_run(inputs, tmp_path, f"{job}.osm", *extra)
        summary = json.loads((alone / "summary.json").read_text(encoding="utf-8"))
        head = table[(table["job"] == job) & (table["area"] == area)].iloc[0]
        assert head["status"] == "ok" and pd.isna(head["error"])
        assert head["covered"] == summary["population_covered"] and head["population"] == summary["population_total"]
        assert 0 < head["covered"] < head["population"]  # a real answer, not a trivial one
        subs = pd.read_csv(alone / "subdistricts.csv").set_index("subdistrict")
        rows = table[(table["job"] == job) & (table["level"] == "subdistrict") & (table["district"].eq(area)
                                                                                 | (area == "all"))]
        assert sorted(rows["area"]) == sorted(subs.index)
        for row in rows.itertuples():
            assert row.covered == subs.loc[row.area, "covered"], (job, row.area)
        folder = out / str(head["folder"])
        assert json.loads((folder / "summary.json").read_text(encoding="utf-8"))["population_covered"] == \
            summary["population_covered"]
        assert {"points.gpkg", "subdistricts.csv", "uncovered_places.csv"} <= {p.name for p in folder.iterdir()}
    # the whole-extract job spans two districts: one row each, summing to its total
    b_districts = table[(table["job"] == "b") & (table["level"] == "district")]
    assert sorted(b_districts["area"]) == ["乙区", "甲区"]
    assert b_districts["covered"].sum() == pytest.approx(table[(table["job"] == "b") & (table["area"] == "all")]
                                                         ["covered"].iloc[0])


def test_scenario_job_equals_siting_compare(batch, inputs, tmp_path):
    out, _ = batch
    table = pd.read_csv(out / "batch.csv")
    plans = table[table["job"] == "plans"]
    alone = siting.compare(inputs / "plans.yaml", cache_dir=tmp_path / "cache")
    assert list(plans.drop_duplicates("scenario")["scenario"]) == list(alone.runs) == ["baseline", "close_b", "elderly"]
    for name, run in alone.runs.items():
        rows = plans[plans["scenario"] == name]
        head = rows.iloc[0]
        assert head["level"] == "all" and head["status"] == "ok" and head["folder"] == f"plans/{name}"
        assert head["covered"] == run.result.summary.population_covered
        subs = rows[rows["level"] == "subdistrict"].set_index("area")["covered"].sort_index()
        assert subs.tolist() == run.result.by_subdistrict.set_index("subdistrict")["covered"].sort_index().tolist()
    covered = plans.drop_duplicates("scenario").set_index("scenario")["covered"]
    assert covered["close_b"] < covered["baseline"] and covered["elderly"] < covered["baseline"]  # edits bite
    assert (out / "plans" / "comparison.csv").exists() and (out / "plans" / "close_b" / "summary.json").exists()


@pytest.mark.parametrize(("text", "expected"), [
    ("jobs:\n  - name: p\n    scenarios: s.yaml\n    osm: a.osm", "key 'osm' does not apply to a 'scenarios' job"),
    ("defaults:\n  scenarios: s.yaml\njobs:\n  - name: p", "defaults: 'scenarios' must be set per job"),
])
def test_scenario_job_keys(tmp_path, text, expected):
    path = tmp_path / "jobs.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError, match=expected):
        read_jobs(path)


def test_failed_jobs_are_reported_and_the_others_finish(batch):
    out, result = batch
    assert result.exit_code == 1  # some failed, not all
    table = pd.read_csv(out / "batch.csv")
    failed = table[table["status"] == "failed"].set_index("task")
    assert sorted(failed.index) == ["bad-district/丙区", "missing"]
    assert "missing.osm" in failed.loc["missing", "error"] and "not found" in failed.loc["missing", "error"]
    assert "丙区" in failed.loc["bad-district/丙区", "error"] and "甲区" in failed.loc["bad-district/丙区", "error"]
    assert "2 of 6 job(s) failed" in result.output and "error: job missing failed" in result.output
    assert not (out / "missing").exists() and not (out / "bad-district").exists()
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", "batch.csv", "batch.xlsx", "plans", "summary.json"]


def test_exit_code_2_when_every_job_failed(inputs, cluster, tmp_path):
    path = tmp_path / "jobs.yaml"
    path.write_text(f"jobs:\n  - name: gone\n    osm: {inputs / 'gone.osm'}\n"
                    f"  - name: nowhere\n    osm: {inputs / 'a.osm'}\n    boundaries: {inputs / 'areas.geojson'}\n"
                    "    districts: [丁区]\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["batch", str(path), "--out", str(out), "--quiet", "--scheduler",
                                 cluster[0].scheduler_address])
    assert result.exit_code == 2 and "2 of 2 job(s) failed" in result.output
    assert "error: job gone failed: OSM file not found" in result.output and "丁区" in result.output
    assert (out / "batch.csv").exists()  # the table says what failed


def test_unreachable_scheduler_is_one_clear_error(inputs, tmp_path):
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = runner.invoke(app, ["batch", str(inputs / "jobs.yaml"), "--out", str(tmp_path / "out"),
                                     "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2 and "error: cannot reach the dask scheduler at 'tcp://127.0.0.1:9'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def test_each_network_is_built_once_per_worker(batch, cluster):
    per_process = cluster[1].run(network_builds)  # {process: {worker address: {file@sha/mode: builds}}}
    builds = {worker: counts for found in per_process.values() for worker, counts in found.items()}
    assert len(builds) == 2, builds
    assert all(n == 1 for counts in builds.values() for n in counts.values()), builds
    per_file = {name: sum(n for counts in builds.values() for key, n in counts.items() if key.startswith(name + "@"))
                for name in ("a.osm", "b.osm", "missing.osm")}
    # a.osm serves 4 tasks (甲区, 乙区, bad-district, plans) on 2 workers: at least one worker reused its network
    assert 1 <= per_file["a.osm"] <= 2 and per_file["b.osm"] == 1 and per_file["missing.osm"] == 0, builds


def test_run_batch_with_a_client_replaces_only_with_overwrite(inputs, cluster, tmp_path):
    from siting.cli.batch import run_batch
    from siting.errors import OutputError

    out = tmp_path / "again"
    out.mkdir()
    (out / "mine.txt").write_text("keep", encoding="utf-8")
    with pytest.raises(OutputError, match="already exists"):
        run_batch(inputs / "jobs.yaml", out, client=cluster[1], progress=False, compare=siting.compare)
    with pytest.raises(SitingError, match="'scenarios' jobs need compare=siting.compare"):
        run_batch(inputs / "jobs.yaml", tmp_path / "new", client=cluster[1], progress=False)
    assert not (tmp_path / "new").exists()
    assert (out / "mine.txt").read_text(encoding="utf-8") == "keep"


@pytest.mark.parametrize(("text", "expected"), [
    ("jobs: []", "non-empty list 'jobs:'"),
    ("jobs:\n  - name: x\n    osm: a.osm\n    populaton: p.csv", "job #1 ('x'): unknown key 'populaton' (did you mean "
                                                                 "'population'?)"),
    ("jobs:\n  - osm: a.osm", "job #1: key 'name' is missing"),
    ("jobs:\n  - name: x\n    osm: a.osm\n    place: 徐汇区", "give exactly one of 'osm', 'place' or 'network'"),
    ("jobs:\n  - name: x\n    osm: a.osm\n  - name: x\n    osm: b.osm", "job #2 ('x'): name 'x' is used by an earlier"),
    ("jobs:\n  - name: x/y\n    osm: a.osm", "must be usable as a folder name"),
    ("jobs:\n  - name: x\n    osm: a.osm\n    facility_crs: baidu09", "key 'facility_crs': unknown coordinate system"),
    ("jobs:\n  - name: x\n    osm: a.osm\n    mode: car", "unknown mode 'car'"),
    ("jobs:\n  - name: x\n    osm: a.osm\n    minutes: soon", "key 'minutes' must be a number"),
    ("jobs:\n  - name: x\n    osm: a.osm\n    districts: some", "key 'districts' must be 'all' or a non-empty list"),
    ("jobs:\n  - name: x\n    osm: a.osm\n    districts: all", "'districts: all' needs 'boundaries'"),
    ("jobs:\n  - name: x\n    osm: a.osm\n    target: 90",
     "key 'target' must be a number ≥ 0 and ≤ 1, got 90 — did you mean 0.9?"),
    ("defaults:\n  mdoe: walk\njobs:\n  - name: x\n    osm: a.osm",
     "defaults: unknown key 'mdoe' (did you mean 'mode'?)"),
    ("jobs:\n  - name: x\n    osm: [a.osm", "not valid YAML"),
])
def test_jobs_file_problems_name_the_job_and_key(tmp_path, text, expected):
    path = tmp_path / "jobs.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError) as info:
        read_jobs(path)
    assert expected in str(info.value) and str(path) in str(info.value)


def test_every_problem_is_listed_and_nothing_runs(tmp_path):
    path = tmp_path / "jobs.yaml"
    path.write_text("jobs:\n  - name: x\n    osm: a.osm\n    mode: car\n  - name: y\n    osmm: b.osm\n",
                    encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["batch", str(path), "--out", str(out)])
    assert result.exit_code == 2 and "2 problem(s)" in result.output
    assert "job #1 ('x')" in result.output and "job #2 ('y'): unknown key 'osmm'" in result.output
    assert not out.exists()


def test_tasks_expand_districts_with_absolute_paths(inputs):
    tasks = read_jobs(inputs / "jobs.yaml")
    assert [t.label for t in tasks] == ["a/甲区", "a/乙区", "b", "missing", "bad-district/丙区", "plans"]
    assert tasks[-1].load == {"scenarios": str(inputs / "plans.yaml"), "cache_dir": str(inputs / "cache")}
    assert [t.folder for t in tasks][:3] == ["a/甲区", "a/乙区", "b"]
    assert all(Path(t.load["osm"]).is_absolute() for t in tasks[:-1])
    assert tasks[2].settings.minutes == 10 and tasks[0].settings.minutes == 15
    assert tasks[0].load["district"] == "甲区" and "district" not in tasks[2].load


def example_jobs(shanghai: Path, repo_root: Path, tmp_path: Path) -> Path:
    """data/batch/shanghai_districts.yaml with its ../shared paths pointing at the real data folder."""
    text = (repo_root / "data" / "batch" / "shanghai_districts.yaml").read_text(encoding="utf-8")
    assert "../../../shared/data/shanghai/" in text
    path = tmp_path / "shanghai_districts.yaml"
    path.write_text(text.replace("../../../shared/data/shanghai", str(shanghai)), encoding="utf-8")
    return path


@pytest.mark.realdata
def test_example_jobs_file_lists_the_eight_districts(shanghai, repo_root, tmp_path):
    tasks = read_jobs(example_jobs(shanghai, repo_root, tmp_path))
    assert len(tasks) == 10 and all(t.error is None for t in tasks)
    assert {t.area for t in tasks} == {"徐汇区", "长宁区", "静安区", "黄浦区", "普陀区", "虹口区", "杨浦区", "浦东新区"}


@pytest.mark.realdata
def test_real_district_equals_the_readme_main_job(shanghai, repo_root, main_job, cluster, tmp_path):
    from siting.cli.batch import run_batch

    text = example_jobs(shanghai, repo_root, tmp_path).read_text(encoding="utf-8")
    path = tmp_path / "xuhui.yaml"
    path.write_text(text[:text.index("jobs:")] + "jobs:\n  - name: xuhui\n    district: 徐汇区\n", encoding="utf-8")
    res = run_batch(path, tmp_path / "out", client=cluster[1], progress=False)
    summary = json.loads((main_job[0] / "summary.json").read_text(encoding="utf-8"))
    head = res.table.iloc[0]
    assert (head["job"], head["area"], head["status"]) == ("xuhui", "徐汇区", "ok") and res.failed == 0
    assert head["covered"] == summary["population_covered"] and head["population"] == summary["population_total"]
    assert head["target"] == 0.9 and head["gap_residents"] == summary["gap_residents"]
    subs = pd.read_csv(main_job[0] / "subdistricts.csv").set_index("subdistrict")["covered"]
    mine = res.table[res.table["level"] == "subdistrict"].set_index("area")["covered"]
    assert mine.sort_index().round(0).tolist() == subs.sort_index().tolist() and len(mine) == 13  # CSV: whole
