"""Chromium started before the page exists (siting.outputs._browser): it prints the same PDF as ``--print-to-pdf``;
when it fails the print falls back to the usual way; a browser nobody used is killed."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from siting.outputs import _browser, htmlreport
from siting.outputs._writers import Writers

PAGE = "<!DOCTYPE html><html><head><meta charset='utf-8'><style>@page { size: A4; margin: 10mm; }</style></head>" \
       "<body><h1>徐汇区 coverage</h1><p>one page</p></body></html>"


def _fake(tmp_path: Path, body: str) -> Path:
    """A stand-in for Chromium: with --remote-debugging-pipe it exits at once (no protocol); with
    --print-to-pdf it runs ``body`` with ``$out`` the PDF path."""
    exe = tmp_path / "chromium"
    exe.write_text("#!/bin/sh\nfor a in \"$@\"; do case $a in --print-to-pdf=*) out=${a#--print-to-pdf=};; "
                   "--remote-debugging-pipe) exit 7;; esac; done\n" + body + "\n", encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


@pytest.fixture
def page(tmp_path: Path) -> Path:
    path = tmp_path / "report.html"
    path.write_text(PAGE, encoding="utf-8")
    return path


def test_a_warm_browser_prints_what_print_to_pdf_prints(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if htmlreport.chromium() is None:
        pytest.skip("Chromium is absent (CI has /usr/bin/chromium)")
    pypdf = pytest.importorskip("pypdf")
    monkeypatch.setenv("SITING_PDF", "1")
    htmlreport.warm_browser()
    browser = _browser.take()
    assert browser is not None and browser.proc.poll() is None
    _browser._WARM.append(browser)
    with htmlreport.printing(page):
        pass
    assert browser.proc.poll() is not None  # closed after the print
    warm = pypdf.PdfReader(page.with_name("report.pdf"))
    assert htmlreport.write_pdf(page, page.with_name("cli.pdf")) is not None
    cli = pypdf.PdfReader(page.with_name("cli.pdf"))
    assert len(warm.pages) == len(cli.pages) == 1
    assert warm.pages[0].mediabox == cli.pages[0].mediabox
    assert warm.pages[0].extract_text() == cli.pages[0].extract_text()
    assert not list(page.parent.glob(".*.part"))


def test_a_failing_warm_browser_falls_back_to_print_to_pdf(page: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    exe = _fake(tmp_path, 'printf "%%PDF-1.4 fallback" > "$out"')
    monkeypatch.setattr(htmlreport, "CHROMIUM", (str(exe),))
    monkeypatch.setenv("SITING_PDF", "1")
    htmlreport.warm_browser()
    assert _browser._WARM  # started (and exits: it speaks no protocol)
    with htmlreport.printing(page):
        pass
    assert page.with_name("report.pdf").read_bytes() == b"%PDF-1.4 fallback"
    assert not _browser._WARM and not list(page.parent.glob(".*.part"))


def test_an_error_in_the_body_stops_the_warm_print(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if htmlreport.chromium() is None:
        pytest.skip("Chromium is absent (CI has /usr/bin/chromium)")
    monkeypatch.setenv("SITING_PDF", "1")
    htmlreport.warm_browser()
    browser = _browser._WARM[-1]
    with pytest.raises(ZeroDivisionError), htmlreport.printing(page):
        _ = 1 / 0
    assert browser.proc.poll() is not None
    assert sorted(p.name for p in page.parent.iterdir()) == ["report.html"]


def test_writers_kill_a_browser_nobody_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    exe = tmp_path / "chromium"
    exe.write_text("#!/bin/sh\nsleep 30\n", encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(htmlreport, "CHROMIUM", (str(exe),))
    monkeypatch.setenv("SITING_PDF", "1")
    monkeypatch.setenv("SITING_FORK", "0")  # the browser starts in this process
    t0 = time.perf_counter()
    with Writers(map_html=False, reports=True):
        browser = _browser._WARM[-1]
        assert browser.proc.poll() is None
    assert browser.proc.poll() is not None and not _browser._WARM
    assert time.perf_counter() - t0 < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(browser.proc.pid, os.WNOHANG)  # reaped


def test_no_browser_without_pdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITING_PDF", "0")
    htmlreport.warm_browser()
    assert not _browser._WARM


def test_no_warm_browser_where_the_pipe_cannot_be_set_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "name", "nt")
    assert _browser.warm("/usr/bin/chromium", htmlreport.BROWSER_ARGS) is None and not _browser._WARM


def test_the_browser_inherits_only_its_pipe(tmp_path: Path) -> None:
    """Descriptors 0-4 (3 and 4: the pipe), nothing else of ours: not even a file opened inheritable."""
    held = os.open(tmp_path / "held.txt", os.O_CREAT | os.O_WRONLY)
    os.set_inheritable(held, True)  # what `close_fds=False` handed on to Chromium
    exe = tmp_path / "chromium"
    exe.write_text("#!/bin/sh\nexec sleep 30\n", encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    browser = _browser.Browser(str(exe), [])
    try:
        proc = Path(f"/proc/{browser.proc.pid}")
        deadline = time.monotonic() + 10
        while b"sleep" not in (proc / "cmdline").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)
        fds = {int(p.name): os.readlink(p) for p in (proc / "fd").iterdir()}
        assert set(fds) == {0, 1, 2, 3, 4}, fds
        assert fds[3].startswith("pipe:") and fds[4].startswith("pipe:") and fds[3] != fds[4]
        assert fds[3] == os.readlink(f"/proc/self/fd/{browser._to_browser}")  # the other ends are ours
        assert fds[4] == os.readlink(f"/proc/self/fd/{browser._from_browser}")
    finally:
        browser.close()
        os.close(held)
