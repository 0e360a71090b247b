"""``python -m benchmarks.bench_cutoff [--repeat 20]``: the cut-off residents check without scipy.spatial.

``siting.engine._cutoff.residents_cut_off`` used ``scipy.spatial.cKDTree`` (importing scipy.spatial costs the
coverage command ~0.05 s of start-up); it now uses :func:`siting.engine._cutoff.nearest_node_m`. Both run here
in one process, alternately, on the README main job's inputs (its network, its 徐汇 residents) and on
synthetic uniform nodes and homes (1M × 1M with ``--n``); prints the best times, their ratio and whether
the distances (hence residents cut off / near) are identical.
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
from scipy.spatial import cKDTree

from siting.engine import _cutoff
from siting.pipeline import load_inputs

from ._common import CENTRAL_OSM, SHARED, best_of

MAX_SNAP_M = 500.0


def _sample() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The README job's kept and dropped nodes and its residents' projected points."""
    pop = SHARED / "population"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the job's data warnings are not what is measured here
        inputs = load_inputs(osm=CENTRAL_OSM, facilities=SHARED / "facilities" / "xuhui_chc_healthxuhui.csv",
                             facility_crs="bd09", population=pop / "lianjia_xiaoqu_shanghai_2018_bd09.json",
                             population_crs="bd09", census=pop / "shanghai_district_population_census.csv",
                             subdistrict_totals=pop / "xuhui_subdistrict_households_2026_estimate.csv",
                             boundaries=SHARED / "boundaries" / "shanghai_subdistricts_osm_8districts.geojson",
                             district="徐汇区")
    net = inputs.network
    xy = inputs.population.geometry.to_crs(net.crs).representative_point().get_coordinates().to_numpy()
    dropped = np.asarray(net.info["dropped"]["xy"], float).reshape(-1, 2)
    return np.column_stack([net.x, net.y]), dropped, xy


def _compare(name: str, kept: np.ndarray, dropped: np.ndarray, xy: np.ndarray, repeat: int) -> dict[str, object]:
    def before() -> list[np.ndarray]:
        return [cKDTree(nodes).query(xy, distance_upper_bound=MAX_SNAP_M)[0] for nodes in (kept, dropped)]

    def after() -> list[np.ndarray]:
        return [_cutoff.nearest_node_m(nodes, xy, MAX_SNAP_M) for nodes in (kept, dropped)]

    t_before, t_after = float("inf"), float("inf")
    for _ in range(repeat):  # alternating: the machine is shared
        t_before = min(t_before, best_of(1, before)[0])
        t_after = min(t_after, best_of(1, after)[0])
    same = all(np.array_equal(a, b) for a, b in zip(before(), after(), strict=True))
    d_kept, d_drop = after()
    near = np.isfinite(d_kept) | np.isfinite(d_drop)
    return {"case": name, "nodes": len(kept), "dropped": len(dropped), "points": len(xy),
            "cut_off_points": int((near & (d_drop < d_kept)).sum()), "near_points": int(near.sum()),
            "ckdtree_s": round(t_before, 5), "ours_s": round(t_after, 5),
            "ratio": round(t_before / t_after, 2), "identical": same}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--n", type=int, default=1_000_000, help="synthetic nodes and homes")
    args = ap.parse_args()
    if CENTRAL_OSM.is_file():
        print(json.dumps(_compare("README job", *_sample(), args.repeat), ensure_ascii=False))
    rng = np.random.default_rng(0)
    side = 30.0 * np.sqrt(args.n)  # 30 m node spacing
    kept, dropped = rng.uniform(0, side, (args.n, 2)), rng.uniform(0, side, (max(args.n // 1000, 1), 2))
    xy = rng.uniform(-side / 30, side * 31 / 30, (args.n, 2))
    print(json.dumps(_compare(f"uniform {args.n:,}", kept, dropped, xy, max(args.repeat // 10, 1))))


if __name__ == "__main__":
    main()
