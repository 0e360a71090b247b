"""Cheaper outputs, same content: report.pdf printed while the other files are written (a failed or
stopped print leaves nothing), report.html embedding the PNG files as written, and ``--no-report``."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, readme_commands, run_siting

from siting.outputs import figures, htmlreport, report


def _fake_chromium(tmp_path: Path, body: str) -> Path:
    """An executable standing in for Chromium: ``body`` runs in sh with ``$out`` the --print-to-pdf path."""
    exe = tmp_path / "chromium"
    exe.write_text("#!/bin/sh\nfor a in \"$@\"; do case $a in --print-to-pdf=*) out=${a#--print-to-pdf=};; esac; done\n"
                   + body + "\n", encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def test_failed_print_warns_and_leaves_no_partial_pdf(tmp_path, monkeypatch):
    exe = _fake_chromium(tmp_path, 'printf "%%PDF-1.4 half" > "$out"; exit 3')
    monkeypatch.setattr(htmlreport, "CHROMIUM", (str(exe),))
    (tmp_path / "report.html").write_text("<p>x</p>", encoding="utf-8")
    monkeypatch.setenv("SITING_PDF", "1")
    with pytest.warns(UserWarning, match=r"report.pdf skipped: Chromium failed \(exit code 3\)"):
        with htmlreport.printing(tmp_path / "report.html"):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chromium", "report.html"]


def test_print_runs_beside_the_body_and_lands_whole(tmp_path, monkeypatch):
    """The print starts before the body (which sees it running) and report.pdf appears only at the end."""
    exe = _fake_chromium(tmp_path, 'sleep 0.5; printf "%%PDF-1.4 whole" > "$out"')
    monkeypatch.setattr(htmlreport, "CHROMIUM", (str(exe),))
    (tmp_path / "report.html").write_text("<p>x</p>", encoding="utf-8")
    monkeypatch.setenv("SITING_PDF", "1")
    t0 = time.perf_counter()
    with htmlreport.printing(tmp_path / "report.html"):
        time.sleep(0.5)  # the other files being written
        assert not (tmp_path / "report.pdf").exists()
    assert time.perf_counter() - t0 < 0.95  # overlapped, not 0.5 + 0.5
    assert (tmp_path / "report.pdf").read_bytes() == b"%PDF-1.4 whole"
    assert not (tmp_path / ".report.pdf.part").exists()


def test_error_in_the_body_stops_the_print(tmp_path, monkeypatch):
    exe = _fake_chromium(tmp_path, 'printf "%%PDF-1.4 half" > "$out"; sleep 30')
    monkeypatch.setattr(htmlreport, "CHROMIUM", (str(exe),))
    (tmp_path / "report.html").write_text("<p>x</p>", encoding="utf-8")
    monkeypatch.setenv("SITING_PDF", "1")
    t0 = time.perf_counter()
    with pytest.raises(ZeroDivisionError), htmlreport.printing(tmp_path / "report.html"):
        time.sleep(0.3)
        _ = 1 / 0
    assert time.perf_counter() - t0 < 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chromium", "report.html"]


def test_report_files_are_the_figures_and_reports():
    assert set(figures.FIGURE_FILES.values()) | {"map.pdf"} <= set(report.REPORT_FILES)
    assert set(report.REPORT_FILES) - set(figures.FIGURE_FILES.values()) == {
        "map.pdf", "report.xlsx", "report.html", "report.pdf"}


def test_no_report_writes_the_analysis_alone(tiny_job):
    """--no-report: no figures, report page or workbook; the rest identical, summary.json says what was skipped."""
    work, args = tiny_job
    args = [a for a in args if a != "--no-map"]
    full = run_siting([*args, "--out", "full"], cwd=work)
    lean = run_siting([*args, "--out", "lean", "--no-report"], cwd=work)
    assert full.returncode == 0 and lean.returncode == 0, full.stderr + lean.stderr
    written = {p.name for p in (work / "full").iterdir()}
    kept = {p.name for p in (work / "lean").iterdir()}
    s_full = json.loads((work / "full" / "summary.json").read_text(encoding="utf-8"))
    s_lean = json.loads((work / "lean" / "summary.json").read_text(encoding="utf-8"))
    assert "skipped" not in s_full and s_lean.pop("skipped") == list(report.REPORT_FILES)
    assert kept == written - set(report.REPORT_FILES) and {"map.html", "points.gpkg", "summary.json"} <= kept
    assert {"report.html", "report.xlsx", "walking_times.png", "map.png", "map.pdf"} <= written
    for s in (s_full, s_lean):
        del s["seconds"], s["network_cache"]  # run facts (the first run filled the network cache)
    assert set(s_lean.pop("manifest")) == kept and set(s_full.pop("manifest")) == written
    assert s_lean == s_full
    for name in kept - {"summary.json", "map.html"}:  # the same analysis files, byte for byte
        if name.endswith(".csv"):
            assert (work / "lean" / name).read_bytes() == (work / "full" / name).read_bytes(), name


def test_no_report_does_not_import_the_report_stack(tiny_job):
    """A --no-report --no-map run loads neither matplotlib, openpyxl nor folium (whole process; a lazy module
    sits in sys.modules unloaded, so look for submodules that only a real import brings)."""
    work, args = tiny_job
    code = ("import sys; from siting.cli.commands import app\n"
            "try:\n    app(sys.argv[1:], prog_name='siting')\nexcept SystemExit as e:\n    assert not e.code, e\n"
            "print(sorted(m for m in ('matplotlib.figure', 'openpyxl.workbook', 'folium.folium') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-c", code, *args, "--out", "lean", "--no-report"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.realdata
def test_page_embeds_the_png_files_as_written(main_job):
    """report.html carries the three PNG files byte for byte (drawn once, not re-rendered for the page)."""
    out, _ = main_job
    page = (out / "report.html").read_text(encoding="utf-8")
    embedded = [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]
    files = [(out / name).read_bytes() for name in ("coverage_by_subdistrict.png", "walking_times.png", "map.png")]
    assert embedded == files


def _children() -> dict[int, tuple[int, bytes]]:
    """Every process: pid → (parent pid, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            found[int(entry.name)] = (ppid, (entry / "cmdline").read_bytes())
        except (OSError, IndexError, ValueError):
            continue
    return found


def _descendants(pid: int) -> dict[int, bytes]:
    """The processes started by ``pid``, their children and so on: pid → command line."""
    table, out, todo = _children(), {}, [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, cmdline) in table.items():
            if ppid == parent and child not in out:
                out[child] = cmdline
                todo.append(child)
    return out


def _printing_child(pid: int) -> int | None:
    """The pid of a Chromium started (directly or not) by ``pid`` to print (--print-to-pdf, or the browser
    started early and told to print over --remote-debugging-pipe), if any."""
    return next((child for child, cmdline in _descendants(pid).items()
                 if b"--print-to-pdf" in cmdline or b"--remote-debugging-pipe" in cmdline), None)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.realdata
def test_kill_9_during_the_print_leaves_the_old_output_and_no_printer(shanghai, tmp_path):
    """kill -9 while Chromium prints report.pdf: the old output stays whole, the printer (and every other
    child of the run) dies with siting, and the next run cleans the temp folder."""
    if htmlreport.chromium() is None:
        pytest.skip("Chromium is absent (CI has /usr/bin/chromium)")
    command = readme_commands(REPO_ROOT)[0].partition(" && ")[2]
    args = [a.replace("../shared/data/shanghai", str(shanghai)) for a in shlex.split(command)[1:]]
    out = tmp_path / "out" / "xuhui"
    args[args.index("--out") + 1] = str(out)
    args += ["--cache-dir", str(tmp_path / "cache"), "-q", "--no-map"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "SITING_PDF": "1", "SITING_FORK": "1"}  # report in a child
    cmd = [sys.executable, "-m", "siting.cli.commands", *args]
    assert subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, timeout=300).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert "report.pdf" in before
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    printer = None
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:  # until the page is written and Chromium runs
        printer = _printing_child(proc.pid)
        if printer is not None and list(out.parent.glob(".siting-*.tmp/report.html")):
            break
        time.sleep(0.005)
    assert printer is not None, "the run ended before Chromium was seen printing"
    helpers = _descendants(proc.pid)  # the printer, and the children writing map.html / the report
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    gone = time.monotonic() + 10
    while any(map(_alive, helpers)) and time.monotonic() < gone:
        time.sleep(0.05)
    assert not [cmd for pid, cmd in helpers.items() if _alive(pid)]  # all died with siting
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the old output, whole
    assert subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, timeout=300).returncode == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["xuhui"]  # the killed run's temp folder is gone
    assert {p.name for p in out.iterdir()} == set(before)
