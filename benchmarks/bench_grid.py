"""Scale: a synthetic 1,000 × 1,000 street grid (1,000,000 nodes, 100 m blocks).

Measures, in one process:
- full ``siting.coverage`` for 300 facilities and 100,000 demand points (target < 10 s, peak RSS < 4 GB),
  against the bare primitive it stands on (one multi-source scipy Dijkstra over the plain grid) as the
  in-process baseline ratio;
- sparse reach sets of 10,000 candidates within 1,000 m (target < 60 s, never dense), against the
  plain chunked scipy approach (bounded Dijkstra on the whole graph) measured on a sample of candidates
  and extrapolated.
Run: ``python benchmarks/bench_grid.py [side]`` (side 1000 by default; 300 for a quick look).
"""

from __future__ import annotations

import sys
import time
import warnings

import geopandas as gpd
import numpy as np
from _common import best_of, peak_rss_mb
from scipy.sparse.csgraph import dijkstra

from siting import routing
from siting.coverage import coverage
from siting.network import Network
from siting.settings import Settings

CRS = "EPSG:32651"


def grid(side: int, spacing: float = 100.0) -> Network:
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    x, y = ii.ravel() * spacing + 300_000.0, jj.ravel() * spacing + 3_400_000.0
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:-1, :].ravel(), idx[:, :-1].ravel()])
    v = np.concatenate([idx[1:, :].ravel(), idx[:, 1:].ravel()])
    return Network.from_projected(np.arange(side * side), x, y, u, v, crs=CRS)


def main(side: int = 1000) -> None:
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    net = grid(side)
    print(f"grid: {net.n_nodes:,} nodes, {net.n_edges:,} segments, built in {time.perf_counter() - t0:.1f} s")
    span = (side - 1) * 100.0

    def pts(k: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.uniform(300_000, 300_000 + span, k), rng.uniform(3_400_000, 3_400_000 + span, k)

    fx, fy = pts(300)
    hx, hy = pts(100_000)
    fac = gpd.GeoDataFrame({"name": [f"f{i}" for i in range(300)], "type": "station"},
                           geometry=gpd.points_from_xy(fx, fy), crs=CRS)
    homes = gpd.GeoDataFrame({"population": rng.integers(50, 500, 100_000).astype(float)},
                             geometry=gpd.points_from_xy(hx, hy), crs=CRS)

    base_graph = net.adjacency()
    base_nodes = routing.snap(net, fx, fy).seg

    def baseline() -> np.ndarray:
        return dijkstra(base_graph, directed=True, indices=net.u[base_nodes], min_only=True)

    t_base, _ = best_of(1, baseline)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_cov, res = best_of(1, lambda: coverage(net, fac, homes, Settings()))
    rss = peak_rss_mb()
    print(f"coverage, 300 facilities × 100,000 points: {t_cov:.2f} s (target < 10 s); "
          f"rate {res.summary['coverage_rate']:.1%}; peak RSS {rss:,.0f} MB (target < 4,000 MB)")
    print(f"baseline: one bare multi-source scipy Dijkstra over the grid {t_base:.2f} s; "
          f"full coverage / bare Dijkstra = {t_cov / t_base:.1f}x")

    cx, cy = pts(10_000)
    cand = routing.snap(net, cx, cy, 500)
    home = routing.snap(net, hx, hy, 500)
    t_reach, reach = best_of(1, lambda: routing.reach_matrix(net, cand, home, 1000.0))
    print(f"reach sets, 10,000 candidates × 100,000 points within 1,000 m: {t_reach:.1f} s (target < 60 s); "
          f"{reach.nnz:,} stored pairs ({reach.data.nbytes / 1e6:.0f} MB), dense would be "
          f"{10_000 * 100_000 * 8 / 1e9:.0f} GB")
    graph = routing._augmented(net, cand, reverse=True)[0]
    sample = 20
    t0 = time.perf_counter()
    dijkstra(graph, directed=True, indices=net.n_nodes + np.arange(sample), limit=1000.0)
    t_plain = (time.perf_counter() - t0) / sample * 10_000
    print(f"baseline: plain bounded scipy Dijkstra on the whole graph, {sample} candidates measured → "
          f"{t_plain:.1f} s extrapolated for 10,000; the tiled search is {t_plain / t_reach:.1f}x faster")
    print(f"peak RSS {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
