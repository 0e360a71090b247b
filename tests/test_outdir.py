"""Output folders (issue 10, items 1-3, 5, 21, 22): never lose a user's file, never leave half an output."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO_ROOT, Forked, readme_commands, run_siting

from siting.cli.commands import app
from siting.errors import OutputError, SitingError
from siting.outputs._outdir import check_output, clean_stale, output_dir


def _siting_output(folder: Path, tag: str = "old") -> Path:
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"generator": "siting 0.1.0", "tag": tag}), encoding="utf-8")
    (folder / "points.gpkg").write_text(tag, encoding="utf-8")
    return folder


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".siting-"))


def _clean_error(proc: subprocess.CompletedProcess) -> bool:
    """Exit 2 with exactly one ``error:`` line and no traceback."""
    return (proc.returncode == 2 and "Traceback" not in proc.stderr
            and sum(line.startswith("error: ") for line in proc.stderr.splitlines()) == 1)


# -- item 1: --overwrite never deletes the current folder, a parent, home, or a folder with an input


def test_overwrite_dot_and_parent_are_refused_and_nothing_is_deleted(tiny_job):
    work, args = tiny_job
    sub = work / "project"
    sub.mkdir()
    (sub / "thesis.docx").write_text("years of work", encoding="utf-8")
    for out in (".", ".."):
        proc = run_siting([*args, "--out", out, "--overwrite"], cwd=sub)
        assert _clean_error(proc), proc.stderr
        assert "current folder or a folder above it" in proc.stderr
    assert (sub / "thesis.docx").read_text(encoding="utf-8") == "years of work"
    assert (work / "fac.csv").exists() and (work / "pop.csv").exists()


@pytest.mark.parametrize("case", ["home", "root", "holds_input", "not_ours", "file"])
def test_overwrite_refuses_what_siting_did_not_write(tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    data = tmp_path / "data"
    data.mkdir()
    (data / "homes.csv").write_text("lon,lat\n", encoding="utf-8")
    own = tmp_path / "own"
    own.mkdir()
    (own / "summary.json").write_text('{"my": "numbers"}', encoding="utf-8")
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    out = {"home": home, "root": Path("/"), "holds_input": data, "not_ours": own, "file": tmp_path / "afile"}[case]
    with pytest.raises(OutputError):
        check_output(out, overwrite=True, inputs=[data / "homes.csv"])
    assert (home / "notes.txt").exists() and (own / "summary.json").read_text(encoding="utf-8") == '{"my": "numbers"}'


def test_overwrite_replaces_our_output_or_an_empty_folder(tmp_path):
    old = _siting_output(tmp_path / "ours")
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (old, empty):
        with output_dir(out, overwrite=True) as tmp:
            (tmp / "map.html").write_text("new", encoding="utf-8")
        assert sorted(p.name for p in out.iterdir()) == ["map.html", "summary.json"]
        assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["generator"].startswith("siting")
    assert _temps(tmp_path) == []


def test_output_of_an_older_siting_without_marker_can_be_overwritten(tmp_path):
    out = tmp_path / "xuhui"
    out.mkdir()
    (out / "summary.json").write_text('{"coverage_rate": 0.5, "population_total": 1, "minutes": 15}', encoding="utf-8")
    (out / "points.gpkg").write_text("", encoding="utf-8")
    check_output(out, overwrite=True)
    (out / "my_notes.txt").write_text("", encoding="utf-8")
    with pytest.raises(OutputError, match="only a folder written by siting"):
        check_output(out, overwrite=True)


# -- item 2: the swap is atomic; a failure leaves the old output whole


def test_old_output_stays_whole_until_the_new_one_is_complete(tmp_path):
    out = _siting_output(tmp_path / "out")
    with output_dir(out, overwrite=True) as tmp:
        (tmp / "points.gpkg").write_text("new", encoding="utf-8")
        assert (out / "points.gpkg").read_text(encoding="utf-8") == "old"
    assert (out / "points.gpkg").read_text(encoding="utf-8") == "new"
    with pytest.raises(SitingError), output_dir(out, overwrite=True) as tmp:
        (tmp / "points.gpkg").write_text("half", encoding="utf-8")
        raise SitingError("failed half way")
    assert (out / "points.gpkg").read_text(encoding="utf-8") == "new"
    assert _temps(tmp_path) == []


# -- item 3: stale temp folders of dead processes are removed; live ones and user folders are not


def test_stale_temp_folders_of_dead_processes_are_cleaned(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".siting-{dead.pid}-0123abcd.tmp"
    stale.mkdir()
    (stale / "points.gpkg").write_text("", encoding="utf-8")
    stale_old = tmp_path / f".siting-{dead.pid}-0123abce.old"
    stale_old.mkdir()
    alive = tmp_path / f".siting-{os.getppid()}-0123abcd.tmp"
    alive.mkdir()
    user = tmp_path / ".siting-notes"
    user.mkdir()
    legacy = tmp_path / ".out.k2j_x9ab"  # what siting 0.1.0 left after a kill
    legacy.mkdir()
    (legacy / "summary.json").write_text("{}", encoding="utf-8")
    os.utime(legacy, (time.time() - 7200, time.time() - 7200))
    with output_dir(tmp_path / "out") as tmp:
        (tmp / "summary.json").write_text("{}", encoding="utf-8")
    assert not stale.exists() and not stale_old.exists() and not legacy.exists()
    assert alive.exists() and user.exists()
    assert clean_stale(tmp_path) == []


def test_no_temp_folder_is_left_after_a_handled_error(tiny_job):
    work, args = tiny_job
    (work / "pop.csv").write_text("lon,lat,population\n121.4025,31.2001,abc\n", encoding="utf-8")
    proc = run_siting([*args, "--out", "out"], cwd=work)
    assert _clean_error(proc), proc.stderr
    assert _temps(work) == [] and not (work / "out").exists()


# -- item 5: concurrent runs


def test_a_folder_that_appears_during_the_run_is_never_replaced(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(OutputError, match="already exists|appeared"), output_dir(out) as tmp:
        (tmp / "summary.json").write_text("{}", encoding="utf-8")
        out.mkdir()  # another program creates it meanwhile (empty: a plain rename would replace it)
    assert out.is_dir() and list(out.iterdir()) == []
    with pytest.raises(OutputError), output_dir(out, overwrite=True) as tmp:
        (out / "mine.txt").write_text("mine", encoding="utf-8")
    assert (out / "mine.txt").read_text(encoding="utf-8") == "mine"
    assert _temps(tmp_path) == []


PAIRS = {
    "same out, both overwrite, old output": (["--overwrite"], ["--overwrite"], "old", "both"),
    "same out, neither overwrites": ([], [], None, "one"),
    "same out, both overwrite, nothing there": (["--overwrite"], ["--overwrite"], None, "both"),
    "same out, one overwrites, old output": (["--overwrite"], [], "old", "first"),
    "same out, one overwrites, nothing there": (["--overwrite"], [], None, "any"),
    "user folder at out, both overwrite": (["--overwrite"], ["--overwrite"], "user", "none"),
    "different outs, cold shared cache": ([], ["--alt"], None, "both"),
    "different outs, both overwrite": (["--overwrite"], ["--alt", "--overwrite"], "old", "both"),
}


def test_eight_pairs_of_concurrent_runs(tiny_job):
    work, args = tiny_job
    for n, (name, (a, b, present, ok)) in enumerate(PAIRS.items()):
        base = work / f"pair{n}"
        base.mkdir()
        out = base / "out"
        if present == "old":
            _siting_output(out)
        elif present == "user":
            out.mkdir()
            (out / "mine.txt").write_text("mine", encoding="utf-8")
        procs = []
        for extra in (a, b):
            target = base / "alt" if "--alt" in extra else out
            flags = [f for f in extra if f != "--alt"]
            procs.append(Forked([*args, "--cache-dir", str(base / "cache"), "--out", str(target), *flags], work))
        results = [p.wait() for p in procs]
        for r in results:
            assert r.returncode == 0 or _clean_error(r), (name, r.stderr)
        codes = [r.returncode for r in results]
        expected = {"both": [0, 0], "first": [0, 2], "none": [2, 2]}.get(ok)
        if ok == "one":
            assert sorted(codes) == [0, 2], (name, codes)
        elif expected is not None:
            assert codes == expected, (name, codes, [r.stderr for r in results])
        if present == "user":
            assert (out / "mine.txt").read_text(encoding="utf-8") == "mine"
        else:
            assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["population_total"] == 150
        assert _temps(base) == []
        assert [p.name for p in (base / "cache").rglob("*") if "tmp" in p.name] == []


# -- item 21: --out is checked before any work


def test_existing_out_is_refused_before_computing(tmp_path):
    out = _siting_output(tmp_path / "out")
    result = CliRunner().invoke(app, ["coverage", "--osm", str(tmp_path / "missing.osm"), "--out", str(out)])
    assert result.exit_code == 2
    assert "already exists" in result.output and "missing.osm" not in result.output


# -- item 22: symlinks, over-long names and paths give clear errors; a legal long name works


def test_symlink_and_overlong_outputs_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    real = _siting_output(tmp_path / "real")
    (tmp_path / "link").symlink_to(real)
    cases = {"link": "symbolic link", "n" * 256: "at most 255 bytes", "/".join(["d" * 200] * 21): "system limit"}
    for out, message in cases.items():
        result = CliRunner().invoke(app, ["coverage", "--osm", "x.osm", "--out", out, "--overwrite"])
        assert result.exit_code == 2 and message in result.output, result.output
        assert "Traceback" not in result.output
    assert (real / "points.gpkg").read_text(encoding="utf-8") == "old"


def test_a_250_byte_name_works(tiny_job):
    work, args = tiny_job
    name = "覆盖" * 41 + "xxxx"  # 41 × 6 + 4 bytes
    assert len(name.encode()) == 250
    proc = run_siting([*args, "--out", name], cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert (work / name / "summary.json").exists() and _temps(work) == []


# -- the kill test: kill -9 the README main job at 20 moments; the output is always old or new, whole


def _state(out: Path) -> tuple[list[str], str, list[str]]:
    """File list, summary.json checksum and keys."""
    names = sorted(p.name for p in out.iterdir())
    text = (out / "summary.json").read_bytes()
    return names, hashlib.sha256(text).hexdigest(), sorted(json.loads(text))


@pytest.mark.realdata
def test_kill_9_at_twenty_moments_leaves_old_or_new_output_whole(shanghai, tmp_path):
    command = readme_commands(REPO_ROOT)[0].partition(" && ")[2]
    import shlex

    args = [a.replace("../shared/data/shanghai", str(shanghai)) for a in shlex.split(command)[1:]]
    out = tmp_path / "out" / "xuhui"
    args[args.index("--out") + 1] = str(out)
    args += ["--cache-dir", str(tmp_path / "cache"), "-q"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "siting.cli.commands", *args]
    assert subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, timeout=300).returncode == 0  # warm cache
    t0 = time.perf_counter()
    assert subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, timeout=300).returncode == 0
    duration = time.perf_counter() - t0
    whole, previous, keys = _state(out)
    replaced = 0
    for i in range(20):
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * (i + 0.5) / 20)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        names, digest, now = _state(out)
        assert names == whole and now == keys, (i, names)  # the old output or a new one, never partial
        replaced += digest != previous
        previous = digest
    assert subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, timeout=300).returncode == 0
    assert _temps(out.parent) == [] and _state(out)[0] == whole, f"{replaced} of 20 killed runs had swapped"
