"""Start-up as whole processes: ``siting --help``, and the README's main job (``siting coverage`` on the
real sample) cold (empty network cache) and warm (cached network), against the floor any geopandas
tool pays: ``python -c "import geopandas"``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._common import REPO, SHARED, Result

TARGETS = {"help": 0.3, "cold": 1.5, "warm": 1.0}


def jobs(size: str) -> list[str]:
    return ["help", "coverage"] if SHARED.exists() else ["help"]


def main_job(out: Path) -> list[str]:
    s = SHARED
    return ["coverage", "--osm", str(s / "osm/shanghai_center_overpass_roads.osm"),
            "--facilities", str(s / "facilities/xuhui_chc_healthxuhui.csv"), "--facility-crs", "bd09",
            "--population", str(s / "population/lianjia_xiaoqu_shanghai_2018_bd09.json"), "--population-crs", "bd09",
            "--census", str(s / "population/shanghai_district_population_census.csv"),
            "--boundaries", str(s / "boundaries/shanghai_subdistricts_osm_8districts.geojson"),
            "--district", "徐汇区", "--out", str(out), "--overwrite", "--quiet"]


#: Keys of summary.json that describe the run, not its result (they differ between a cold and a warm run).
RUN_KEYS = {"seconds", "network_cache"}


def _figures(out: Path) -> dict:
    return {k: v for k, v in json.loads((out / "summary.json").read_text()).items() if k not in RUN_KEYS}


def timed(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def run(size: str, job: str) -> Result:
    repeat = 2 if size == "ci" else 7
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    siting = [sys.executable, "-c", "import sys; from siting.cli import app; sys.argv[0] = 'siting'; app()"]
    floor = min(timed([sys.executable, "-c", "import geopandas"], env) for _ in range(repeat))
    if job == "help":
        t = min(timed([*siting, "--help"], env) for _ in range(repeat))
        return Result("siting --help", t, "python -c 'import geopandas'", floor, 0.0, "exits 0", True,
                      note=f"whole process, best of {repeat} (target < {TARGETS['help']} s)",
                      extra={"target_s": TARGETS["help"], "meets_target": t < TARGETS["help"]})
    with tempfile.TemporaryDirectory() as tmp:
        cold, warm = [], []
        for i in range(repeat if size == "full" else 1):
            env_i = {**env, "SITING_CACHE_DIR": str(Path(tmp) / f"cache{i}")}
            cold.append(timed([*siting, *main_job(Path(tmp) / "cold")], env_i))
            warm.append(timed([*siting, *main_job(Path(tmp) / "warm")], env_i))
        warm += [timed([*siting, *main_job(Path(tmp) / "warm")], env_i) for _ in range(repeat - 1)]
        same = _figures(Path(tmp) / "cold") == _figures(Path(tmp) / "warm")
    return Result("siting coverage (README job), warm", min(warm), "python -c 'import geopandas'", floor, 0.0,
                  "cold and warm summaries identical", same,
                  note=f"cold {min(cold):.2f} s (targets: warm < {TARGETS['warm']} s, cold < {TARGETS['cold']} s)",
                  extra={"cold_s": min(cold), "warm_s": min(warm),
                         "meets_target": min(warm) < TARGETS["warm"] and min(cold) < TARGETS["cold"]})
