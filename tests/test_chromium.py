"""Chromium is found on Linux, macOS and Windows places, from $SITING_CHROMIUM, on PATH, or as playwright's browser;
the PDF is printed by whichever was found (fake executables here; the real print is tests/test_report.py's)."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from siting.errors import SitingWarning
from siting.outputs import _chromium, htmlreport


def fake(path: Path, body: str = "exit 0") -> Path:
    """An executable shell script at ``path`` (its parents made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def nowhere(monkeypatch, tmp_path):
    """Nothing on PATH, no $SITING_CHROMIUM: only what a test puts in place is found."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv(_chromium.ENV, raising=False)
    return {"home": tmp_path / "home", "linux": (str(tmp_path / "usr-bin-chromium"),)}


def test_the_environment_variable_comes_first(tmp_path, nowhere):
    exe = fake(tmp_path / "my chrome" / "chrome")
    linux = fake(Path(nowhere["linux"][0]))
    env = {_chromium.ENV: str(exe)}
    assert _chromium.find(linux=nowhere["linux"], platform="linux", env=env, home=nowhere["home"]) == str(exe)
    assert _chromium.find(linux=nowhere["linux"], platform="linux", env={}, home=nowhere["home"]) == str(linux)


def test_a_wrong_environment_variable_is_warned_and_the_search_goes_on(tmp_path, nowhere):
    linux = fake(Path(nowhere["linux"][0]))
    with pytest.warns(SitingWarning, match=r"SITING_CHROMIUM=.*missing is not an executable file"):
        found = _chromium.find(linux=nowhere["linux"], platform="linux", env={_chromium.ENV: str(tmp_path / "missing")},
                               home=nowhere["home"])
    assert found == str(linux)


def test_windows_places(tmp_path, nowhere):
    env = {"PROGRAMFILES": str(tmp_path / "pf"), "LOCALAPPDATA": str(tmp_path / "local")}
    assert _chromium.find(platform="win32", env=env, home=nowhere["home"]) is None
    edge = fake(tmp_path / "pf" / "Microsoft" / "Edge" / "Application" / "msedge.exe")
    assert _chromium.find(platform="win32", env=env, home=nowhere["home"]) == str(edge)
    chrome = fake(tmp_path / "local" / "Google" / "Chrome" / "Application" / "chrome.exe")
    assert _chromium.find(platform="win32", env=env, home=nowhere["home"]) == str(chrome)  # Chrome before Edge


def test_macos_places(nowhere):
    home = nowhere["home"]
    assert Path("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome") in _chromium.places("darwin", {}, home)
    app = fake(home / "Applications" / "Chromium.app" / "Contents" / "MacOS" / "Chromium")
    assert _chromium.find(platform="darwin", env={}, home=home) == str(app)


def test_path_then_playwrights_browser_newest_first(tmp_path, monkeypatch, nowhere):
    home = nowhere["home"]
    old = fake(home / ".cache" / "ms-playwright" / "chromium-1100" / "chrome-linux" / "chrome")
    assert _chromium.find(linux=nowhere["linux"], platform="linux", env={}, home=home) == str(old)
    new = fake(home / ".cache" / "ms-playwright" / "chromium-1200" / "chrome-linux64" / "chrome")
    fake(home / ".cache" / "ms-playwright" / "chromium_headless_shell-1300" / "chrome-linux" / "headless_shell")
    assert _chromium.find(linux=nowhere["linux"], platform="linux", env={}, home=home) == str(new)
    custom = fake(tmp_path / "pw" / "chromium-1" / "chrome-win64" / "chrome.exe")
    assert _chromium.find(platform="win32", env={"PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "pw")},
                          home=home) == str(custom)
    monkeypatch.setattr(shutil, "which", lambda name: "/opt/bin/chromium" if name == "chromium" else None)
    assert _chromium.find(linux=nowhere["linux"], platform="linux", env={}, home=home) == "/opt/bin/chromium"


def test_the_pdf_is_printed_by_the_browser_found(tmp_path, monkeypatch, nowhere):
    """htmlreport prints with $SITING_CHROMIUM's executable (a fake that writes a PDF)."""
    exe = fake(tmp_path / "bin" / "my-chrome", 'for a; do case "$a" in --print-to-pdf=*) out="${a#--print-to-pdf=}";; '
                                               'esac; done; printf "%%PDF-1.4 fake" > "$out"')
    monkeypatch.setattr(htmlreport, "CHROMIUM", ())
    monkeypatch.setenv(_chromium.ENV, str(exe))
    monkeypatch.setenv("SITING_PDF", "1")
    assert htmlreport.chromium() == str(exe)
    (tmp_path / "report.html").write_text("<p>x</p>", encoding="utf-8")
    with htmlreport.printing(tmp_path / "report.html"):
        pass
    assert (tmp_path / "report.pdf").read_bytes() == b"%PDF-1.4 fake"
