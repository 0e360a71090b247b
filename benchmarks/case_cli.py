"""Start-up as whole processes: ``siting --help``, and the README's main job (``siting coverage`` on the
real sample) with ``--no-report`` (the analysis job: CSVs, GeoPackages, summary.json, map.html; the
target job of issue 14) and with all outputs (the default job: also the figures, report.html/.pdf and
report.xlsx), each warm (cached network) and cold (empty network cache).

The peer is the code before the start-up work (:data:`BASELINE`, a commit of this repository, unpacked
with ``git archive`` into a temp folder and run with ``PYTHONPATH`` pointing there), run alternately
with ours in the same process, so both see the same machine load. Both trees are byte-compiled first
(``compileall``), as an installed package is: the shell of these machines sets ``PYTHONDONTWRITEBYTECODE``,
which would otherwise recompile siting's own modules in every run (~0.05 s). Without git (or at
``--size ci``, to keep the suite fast) the peer is the floor any geopandas tool pays:
``python -c "import geopandas"``.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ._common import REPO, SHARED, Result

TARGETS = {"help": 0.3, "cold": 1.5, "warm": 1.0}
#: main before the third round of start-up work of issue 14 part 3 (the first two rounds, from 95139e5 and
#: be21e26, are in README.md's Performance section). Its CLI needs typer (siting now uses click): without
#: typer installed, the peer is the floor below.
BASELINE = "abc1d51"
SITING = ["-c", "import sys; from siting.cli.commands import app; sys.argv[0] = 'siting'; app()"]
FLOOR = "python -c 'import geopandas'"


def jobs(size: str) -> list[str]:
    return ["help", "no-report", "coverage"] if SHARED.exists() else ["help"]


def main_job(out: Path, *extra: str) -> list[str]:
    s = SHARED
    return ["coverage", "--osm", str(s / "osm/shanghai_center_overpass_roads.osm"),
            "--facilities", str(s / "facilities/xuhui_chc_healthxuhui.csv"), "--facility-crs", "bd09",
            "--population", str(s / "population/lianjia_xiaoqu_shanghai_2018_bd09.json"), "--population-crs", "bd09",
            "--census", str(s / "population/shanghai_district_population_census.csv"),
            "--subdistrict-totals", str(s / "population/xuhui_subdistrict_households_2026_estimate.csv"),
            "--boundaries", str(s / "boundaries/shanghai_subdistricts_osm_8districts.geojson"),
            "--district", "徐汇区", "--out", str(out), "--overwrite", "--quiet", *extra]


#: Keys of summary.json that describe the run, not its result (they differ between runs and versions).
RUN_KEYS = {"seconds", "network_cache", "generator", "skipped"}


def _figures(out: Path, *also: str) -> dict:
    """summary.json without the run facts (:data:`RUN_KEYS`) and the keys ``also`` (e.g. the notes, whose
    wording other work changes)."""
    return {k: v for k, v in json.loads((out / "summary.json").read_text()).items() if k not in {*RUN_KEYS, *also}}


def _files(out: Path) -> set[str]:
    return {p.name for p in out.iterdir()}


#: CPU seconds (user + system, the process and the children it waited for, e.g. Chromium) of each timed run,
#: by the label passed to :func:`timed`: less sensitive than wall time to other jobs on a shared machine.
CPU: dict[str, list[float]] = {}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(args: list[str], env: dict[str, str], label: str = "") -> float:
    """Run ``python ARGS`` in the folder above ``PYTHONPATH`` (not the checkout: ``-c`` puts the working folder
    first on ``sys.path``, which would run the checkout's siting on both sides); return its wall time."""
    t0, c0 = time.perf_counter(), _children_cpu()
    subprocess.run([sys.executable, *args], env=env, cwd=Path(env["PYTHONPATH"]).parent, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    CPU.setdefault(label, []).append(_children_cpu() - c0)
    return time.perf_counter() - t0


def snapshot(tmp: Path) -> Path:
    """Copy our ``siting/`` and ``data/`` into ``tmp/ours`` (edits during a long run do not leak into it)."""
    for name in ("siting", "data"):
        shutil.copytree(REPO / name, tmp / "ours" / name, ignore=shutil.ignore_patterns("__pycache__"))
    return compiled(tmp / "ours")


def compiled(tree: Path) -> Path:
    """Byte-compile ``tree/siting`` (as ``pip install`` does) and return ``tree``."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "siting")], check=True,
                   stdout=subprocess.DEVNULL)
    return tree


def baseline_tree(tmp: Path) -> Path | None:
    """Unpack :data:`BASELINE`'s ``siting/`` and ``data/`` into ``tmp/baseline``; None without git or commit."""
    archive = tmp / "baseline.tar"
    try:
        subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), BASELINE, "siting", "data"],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    with tarfile.open(archive) as tar:
        tar.extractall(tmp / "baseline", filter="data")
    return compiled(tmp / "baseline")


class Sides:
    """Environment of our code and of the peer (the baseline tree, or None for the geopandas floor)."""

    def __init__(self, tmp: Path, size: str) -> None:
        self.tmp = tmp
        self.ours = {**os.environ, "PYTHONPATH": str(snapshot(tmp)), "SITING_CACHE_DIR": str(tmp / "cache-ours")}
        base = baseline_tree(tmp) if size == "full" else None
        if base is not None and not _cli_imports({**os.environ, "PYTHONPATH": str(base)}):
            base = None
        self.base = None if base is None else {**os.environ, "PYTHONPATH": str(base),
                                               "SITING_CACHE_DIR": str(tmp / "cache-base")}
        self.peer = f"code before (commit {BASELINE})" if self.base else FLOOR
        for env in (self.ours, self.base):
            if env is not None:
                _check_tree(env)

    def ours_time(self, args: list[str], label: str) -> float:
        return timed([*SITING, *args], self.ours, label)

    def peer_time(self, args: list[str], label: str) -> float:
        if self.base is None:
            return timed(["-c", "import geopandas"], self.ours, label)
        return timed([*SITING, *args], self.base, label)


def _cli_imports(env: dict[str, str]) -> bool:
    """Tell whether a tree's CLI imports here (the baseline's needs typer, no longer a dependency)."""
    return subprocess.run([sys.executable, "-c", "import siting.cli"], env=env, cwd=Path(env["PYTHONPATH"]).parent,
                          capture_output=True).returncode == 0


def _check_tree(env: dict[str, str]) -> None:
    """Make sure a side imports siting from its own tree (not from the checkout or the installed copy)."""
    where = subprocess.run([sys.executable, "-c", "import siting; print(siting.__file__)"], env=env, check=True,
                           cwd=Path(env["PYTHONPATH"]).parent, capture_output=True, text=True).stdout.strip()
    if not Path(where).is_relative_to(env["PYTHONPATH"]):
        raise RuntimeError(f"siting imported from {where}, not from {env['PYTHONPATH']}")


def alternate(repeat: int, ours: Callable[[], float], peer: Callable[[], float]) -> tuple[float, float]:
    """Best of ``repeat`` of each, run in turn (peer, ours, peer, ours ...)."""
    a, b = [], []
    for _ in range(repeat):
        b.append(peer())
        a.append(ours())
    return min(a), min(b)


def _cpu(label: str) -> float | None:
    return round(min(CPU[label]), 3) if CPU.get(label) else None


def run(size: str, job: str) -> Result:
    repeat = 2 if size == "ci" else 5
    with tempfile.TemporaryDirectory() as tmp:
        sides = Sides(Path(tmp), size)
        if job == "help":
            t, p = alternate(repeat, lambda: sides.ours_time(["--help"], "help"),
                             lambda: sides.peer_time(["--help"], "help-peer"))
            return Result("siting --help", t, sides.peer, p, 0.0, "exits 0", True,
                          note=f"whole process, best of {repeat} (target < {TARGETS['help']} s)",
                          extra={"target_s": TARGETS["help"], "meets_target": t < TARGETS["help"],
                                 "cpu_s": _cpu("help"), "peer_cpu_s": _cpu("help-peer")})
        return _job(sides, repeat if size == "full" else 1, lean=job == "no-report")


def _job(sides: Sides, repeat: int, *, lean: bool) -> Result:
    """Cold and warm runs of the README job (``--no-report`` when ``lean``), each next to the peer's same job."""
    tmp, extra = sides.tmp, ["--no-report"] if lean else []
    kind = "lean" if lean else "full"
    cold, cold_peer = [], []
    for i in range(repeat):
        if sides.base is not None:
            sides.base["SITING_CACHE_DIR"] = str(tmp / f"cache-base-{kind}{i}")
            cold_peer.append(sides.peer_time(main_job(tmp / f"base-cold-{kind}", *extra), f"{kind}-cold-peer"))
        sides.ours["SITING_CACHE_DIR"] = str(tmp / f"cache-ours-{kind}{i}")
        cold.append(sides.ours_time(main_job(tmp / f"cold-{kind}", *extra), f"{kind}-cold"))
    if sides.base is None:  # the floor: python -c 'import geopandas'
        cold_peer = [sides.peer_time([], f"{kind}-cold-peer")]
    warm, warm_peer = alternate(
        repeat, lambda: sides.ours_time(main_job(tmp / f"warm-{kind}", *extra), f"{kind}-warm"),
        lambda: sides.peer_time(main_job(tmp / f"base-warm-{kind}", *extra), f"{kind}-warm-peer"))
    ours, base = tmp / f"warm-{kind}", tmp / f"base-warm-{kind}"
    same = _figures(tmp / f"cold-{kind}") == _figures(ours)
    check = "cold and warm summaries identical"
    if sides.base is not None:
        same = same and _figures(ours, "notes") == _figures(base, "notes") and _files(ours) == _files(base)
        same = same and _tables(ours) == _tables(base)
        check += "; summary (but its notes), file list, CSVs and GeoPackage attributes equal to the code before"
    if lean:
        skipped = json.loads((ours / "summary.json").read_text()).get("skipped", [])
        same = same and "report.html" not in _files(ours) and {"report.html", "report.xlsx"} <= set(skipped)
    targets = {"warm": TARGETS["warm"], "cold": TARGETS["cold"]} if lean else {}
    extra_facts = {"warm_s": warm, "peer_warm_s": warm_peer, "cold_s": min(cold),
                   "peer_cold_s": min(cold_peer) if sides.base is not None else None,
                   "cpu_s": {"warm": _cpu(f"{kind}-warm"), "cold": _cpu(f"{kind}-cold")},
                   "peer_cpu_s": {"warm": _cpu(f"{kind}-warm-peer"), "cold": _cpu(f"{kind}-cold-peer")},
                   "load_average": os.getloadavg()}
    if lean:
        extra_facts["meets_target"] = warm < TARGETS["warm"] and min(cold) < TARGETS["cold"]
    peer_cold = f" (before: {min(cold_peer):.2f} s)" if sides.base is not None else ""
    note = (f"best of {repeat}; cold {min(cold):.2f} s{peer_cold}"
            + (f"; targets warm < {targets['warm']} s, cold < {targets['cold']} s" if lean else "; all outputs"))
    name = "siting coverage --no-report, warm" if lean else "siting coverage (README job), warm"
    return Result(name, warm, sides.peer, warm_peer, 0.0, check, same, note=note, extra=extra_facts)


def _tables(out: Path) -> dict[str, object]:
    """The CSVs (bytes) and the GeoPackages' attribute tables (records, geometry as WKB) of an output folder."""
    import geopandas as gpd  # only the full-size comparison reads the layers

    found: dict[str, object] = {p.name: p.read_bytes() for p in sorted(out.glob("*.csv"))}
    for p in sorted(out.glob("*.gpkg")):
        frame = gpd.read_file(p)
        found[p.name] = (list(frame.columns), frame.drop(columns="geometry").astype(str).values.tolist(),
                         [g.wkb for g in frame.geometry])
    return found
