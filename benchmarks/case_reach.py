"""Sparse reach sets of 10,000 candidates within 1,000 m on the 1,000,000-node grid: ``routing.reach_matrix``
(tiled bounded searches) vs plain bounded scipy Dijkstra on the whole graph, timed on a sample of
candidates and extrapolated; the sampled rows must be identical."""

from __future__ import annotations

import time

import numpy as np
from scipy.sparse.csgraph import dijkstra

from siting.engine import routing

from . import synthetic
from ._common import Result, best_of, peak_rss_mb

SIZES = {"ci": (60, 500, 5_000), "full": (1000, 10_000, 100_000)}  # grid side, candidates, homes
LIMIT_M = 1000.0


def jobs(size: str) -> list[str]:
    return ["grid"]


def run(size: str, job: str) -> Result:
    side, n_cand, n_home = SIZES[size]
    net = synthetic.grid(side)
    rng = np.random.default_rng(3)
    cand, home = synthetic.snapped_uniform(net, side, (n_cand, n_home), rng)
    t_ours, reach = best_of(1, lambda: routing.reach_matrix(net, cand, home, LIMIT_M))
    rss = peak_rss_mb()
    graph, virt = routing._augmented(net, cand, reverse=True)
    sample = rng.choice(n_cand, 20, replace=False)
    a, ca, b, cb = home.exits(net)
    t0 = time.perf_counter()
    dist = dijkstra(graph, directed=True, indices=virt[sample], limit=LIMIT_M)
    t_peer = (time.perf_counter() - t0) / len(sample) * n_cand
    plain = np.minimum(dist[:, a] + ca, dist[:, b] + cb)
    rows = reach[sample].toarray()
    mine = np.where(rows > 0, rows - 1e-9, np.inf)
    s_i, t_i, cost = routing.same_segment_pairs(net, cand, home)  # the direct walk along a shared segment
    for k in range(len(s_i)):
        hit = np.flatnonzero(sample == s_i[k])
        if len(hit):
            plain[hit[0], t_i[k]] = min(plain[hit[0], t_i[k]], cost[k])
    plain = np.where(plain <= LIMIT_M, plain, np.inf)
    ok = bool(np.array_equal(np.isfinite(mine), np.isfinite(plain))
              and np.allclose(mine[np.isfinite(mine)], plain[np.isfinite(plain)], atol=1e-6))
    return Result(f"reach sets {n_cand:,} candidates", t_ours, "plain bounded scipy Dijkstra (extrapolated)", t_peer,
                  rss, "20 sampled rows identical", ok,
                  note=f"{net.n_nodes:,} nodes × {n_home:,} homes; {reach.nnz:,} stored pairs")
