"""Private: where a Chromium-family browser (Chromium, Chrome, Edge) is found, on Linux, macOS and Windows.

The PDF report is printed by headless Chromium (:mod:`siting.outputs.htmlreport`). It is looked for, first found:

1. ``$SITING_CHROMIUM``, the path of an executable (a wrong path is warned about, then the search goes on);
2. the usual install places of the platform (:func:`places`);
3. the usual names on ``PATH`` (:data:`NAMES`);
4. the browser that playwright downloaded (``playwright install chromium``), in ``$PLAYWRIGHT_BROWSERS_PATH`` or
   playwright's default folder, newest first — found on disk, without importing playwright.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from ..errors import SitingWarning

#: The environment variable naming the browser to print with.
ENV = "SITING_CHROMIUM"
#: Executable names looked up on ``PATH``.
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "msedge",
         "microsoft-edge")
LINUX = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable",
         "/snap/bin/chromium", "/usr/bin/microsoft-edge")
MACOS_APPS = ("Google Chrome.app/Contents/MacOS/Google Chrome", "Chromium.app/Contents/MacOS/Chromium",
              "Microsoft Edge.app/Contents/MacOS/Microsoft Edge")
WINDOWS_APPS = (r"Google\Chrome\Application\chrome.exe", r"Chromium\Application\chrome.exe",
                r"Microsoft\Edge\Application\msedge.exe")
#: Executables inside one of playwright's ``chromium-<revision>`` / ``chromium_headless_shell-<revision>`` folders.
PLAYWRIGHT_EXES = ("chrome-linux64/chrome", "chrome-linux/chrome", "chrome-linux/headless_shell",
                   "chrome-headless-shell-linux64/chrome-headless-shell",
                   "chrome-mac/Chromium.app/Contents/MacOS/Chromium",
                   "chrome-mac-arm64/Google Chrome for Testing.app/Contents/MacOS/Google Chrome for Testing",
                   "chrome-mac-x64/Google Chrome for Testing.app/Contents/MacOS/Google Chrome for Testing",
                   "chrome-win64/chrome.exe", "chrome-win/chrome.exe", "chrome-win/headless_shell.exe")


def places(platform: str, env: Mapping[str, str], home: Path, linux: Sequence[str] = LINUX) -> list[Path]:
    """Return the usual install places of a Chromium-family browser on ``platform`` (``sys.platform``)."""
    if platform == "darwin":
        return [root / app for app in MACOS_APPS for root in (Path("/Applications"), home / "Applications")]
    if platform.startswith("win"):
        roots = [env.get(k) for k in ("PROGRAMFILES", "PROGRAMFILES(X86)", "LOCALAPPDATA")]
        return [Path(root) / Path(*app.split("\\")) for app in WINDOWS_APPS for root in roots if root]  # Chrome first
    return [Path(p) for p in linux]


def playwright_folder(platform: str, env: Mapping[str, str], home: Path) -> Path | None:
    """Return the folder where playwright keeps its browsers (as playwright decides it), or None (in its package)."""
    given = env.get("PLAYWRIGHT_BROWSERS_PATH")
    if given == "0":
        return None
    if given:
        return Path(given)
    if platform == "darwin":
        return home / "Library" / "Caches" / "ms-playwright"
    if platform.startswith("win"):
        return Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local") / "ms-playwright"
    return Path(env.get("XDG_CACHE_HOME") or home / ".cache") / "ms-playwright"


def playwright_browsers(folder: Path | None) -> Iterator[Path]:
    """Yield playwright's Chromium executables in ``folder``: full Chromium before the headless shell, newest first."""
    if folder is None or not folder.is_dir():
        return

    def revision(p: Path) -> int:
        found = re.search(r"-(\d+)$", p.name)
        return int(found[1]) if found else -1

    for kind in ("chromium", "chromium_headless_shell"):
        for sub in sorted(folder.glob(f"{kind}-*"), key=revision, reverse=True):
            for exe in PLAYWRIGHT_EXES:
                yield sub / exe


def _runnable(path: Path) -> bool:
    return path.is_file() and (os.access(path, os.X_OK) or path.suffix.lower() == ".exe")


def find(*, linux: Sequence[str] = LINUX, platform: str | None = None, env: Mapping[str, str] | None = None,
         home: Path | None = None) -> str | None:
    """Return the path of a Chromium-family browser (see the module's order of search), or None.

    ``platform`` (``sys.platform``), ``env`` (``os.environ``) and ``home`` are parameters for the tests;
    ``linux``: the Linux places (:data:`siting.outputs.htmlreport.CHROMIUM`).
    """
    platform = sys.platform if platform is None else platform
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    given = env.get(ENV)
    if given:
        if _runnable(Path(given)):
            return str(given)
        warnings.warn(f"{ENV}={given} is not an executable file; looking for Chromium elsewhere", SitingWarning,
                      stacklevel=3)
    for path in places(platform, env, home, linux):
        if _runnable(path):
            return str(path)
    on_path = next((p for p in (shutil.which(n) for n in NAMES) if p), None)
    if on_path:
        return on_path
    return next((str(p) for p in playwright_browsers(playwright_folder(platform, env, home)) if _runnable(p)), None)
