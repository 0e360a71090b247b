"""The workbench: one edit (add / move / close, then the panel's figures) vs a whole coverage run.

Jobs: the README sample (real central-Shanghai streets, 徐汇's 15 facilities, 1,053 homes) and a synthetic
100 m grid with 300 facilities (1M nodes × 1M homes at full size). Ours is the median of a fixed random
sequence of edits, each followed by ``Workbench.state()`` (the headline and per-街道 figures a page shows);
the peer is ``compute_coverage`` on the edited table, best of 3, in the same process. The check: after
the sequence, ``Workbench.result`` equals a fresh run exactly (points, tables, summary).
"""

from __future__ import annotations

import statistics
import time
import warnings

import numpy as np

import siting
from siting.pipeline import Inputs, load_inputs
from siting.workbench import Workbench

from . import synthetic
from ._common import CENTRAL_OSM, SHARED, Result, best_of, peak_rss_mb

JOBS = {"ci": {"sample": None, "grid-40k-20k": (40_000, 20_000)},
        "full": {"sample": None, "grid-1M-1M": (1_000_000, 1_000_000)}}
EDITS = {"ci": 30, "full": 60}


def jobs(size: str) -> list[str]:
    return [j for j in JOBS[size] if j != "sample" or CENTRAL_OSM.is_file()]


def sample_inputs() -> Inputs:
    return load_inputs(
        osm=CENTRAL_OSM, facilities=SHARED / "facilities/xuhui_chc_healthxuhui.csv", facility_crs="bd09",
        population=SHARED / "population/lianjia_xiaoqu_shanghai_2018_bd09.json", population_crs="bd09",
        census=SHARED / "population/shanghai_district_population_census.csv",
        subdistrict_totals=SHARED / "population/xuhui_subdistrict_households_2026_estimate.csv",
        boundaries=SHARED / "boundaries/shanghai_subdistricts_osm_8districts.geojson", district="徐汇区")


def grid_inputs(nodes: int, homes: int) -> Inputs:
    net = synthetic.grid(int(round(np.sqrt(nodes))))
    pop, fac = synthetic.homes(net, homes)
    fac["facility_id"] = [f"f{i}" for i in range(len(fac))]
    return Inputs(net, fac.to_crs("EPSG:4326"), pop.to_crs("EPSG:4326"), None, [])


def edit_sequence(wb: Workbench, n: int, box: tuple[float, float, float, float]) -> dict[str, list[float]]:
    """Seconds per edit kind (each edit followed by the panel's figures), on a fixed random sequence."""
    rng = np.random.default_rng(11)
    times: dict[str, list[float]] = {"add": [], "move": [], "close": []}
    added: list[str] = []
    for i in range(n):
        kind = ("add", "move", "close")[i % 3]
        lon, lat = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
        t0 = time.perf_counter()
        if kind == "add":
            added.append(wb.add(lon, lat))
        elif kind == "move":
            wb.move(added[-1], lon, lat)
        else:
            open_ids = wb._table.loc[wb._open, "facility_id"].tolist()
            wb.close(open_ids[int(rng.integers(len(open_ids)))])
        wb.state()
        times[kind].append(time.perf_counter() - t0)
    return times


def run(size: str, job: str) -> Result:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = sample_inputs() if job == "sample" else grid_inputs(*JOBS[size][job])
        t0 = time.perf_counter()
        wb = Workbench(inputs)
        t_start = time.perf_counter() - t0
        b = inputs.population.total_bounds
        times = edit_sequence(wb, EDITS[size], (b[0], b[1], b[2], b[3]))
        every = [t for ts in times.values() for t in ts]
        t_full, fresh = best_of(3 if job == "sample" else 1, lambda: siting.compute_coverage(
            inputs.network, wb.facilities, inputs.population, wb.settings, boundaries=inputs.boundaries))
        ours = wb.result
        same = bool(ours.points[["walk_min", "facility_id", "covered"]].equals(
            fresh.points[["walk_min", "facility_id", "covered"]]) and ours.summary.population_covered
            == fresh.summary.population_covered)
    median = statistics.median(every)
    return Result(
        case=f"workbench {job}", ours_s=median, peer="compute_coverage on the edited table", peer_s=t_full,
        rss_mb=peak_rss_mb(), check="result after the edits equal to a fresh run", ok=same,
        note=(f"median edit + panel {median * 1000:.1f} ms (add {statistics.median(times['add']) * 1000:.1f}, "
              f"move {statistics.median(times['move']) * 1000:.1f}, "
              f"close {statistics.median(times['close']) * 1000:.1f}, "
              f"p95 {sorted(every)[int(0.95 * (len(every) - 1))] * 1000:.1f}); full run {t_full * 1000:.0f} ms; "
              f"start {t_start:.2f} s; {inputs.network.n_nodes:,} nodes, {len(inputs.population):,} homes"),
        extra={"edits": len(every), "start_s": t_start, "median_ms": median * 1000,
               "per_kind_ms": {k: statistics.median(v) * 1000 for k, v in times.items()}},
    )
