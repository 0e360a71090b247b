"""Coverage at city scale on synthetic networks: the whole ``coverage()`` call vs the same call with the
snapping and hull of before issue 14 (one STRtree query per point, a shapely hull per call).

Networks: the plain 100 m grid, the same jittered with 15 % of its streets removed, and a clustered
city; 125k → 1M nodes × 10k → 1M homes; 300 facilities. Both sides start from a fresh copy of the
network (no cached index, CSR or hull), and their points tables and summaries must be identical. Ours is
the best of 3 runs, the peer's a single run at full size.
"""

from __future__ import annotations

import importlib
import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

import numpy as np
import shapely

from siting.engine import routing
from siting.engine.network import Network
from siting.settings import Settings

from . import synthetic
from ._common import Result, best_of, peak_rss_mb

# name: (network kind, nodes, homes) per size
JOBS = {
    "ci": {"grid-3k-2k": ("grid", 3_600, 2_000), "jitter-3k-2k": ("jitter", 3_600, 2_000),
           "city-3k-2k": ("city", 3_000, 2_000)},
    "full": {"grid-125k-10k": ("grid", 125_000, 10_000), "grid-1M-100k": ("grid", 1_000_000, 100_000),
             "grid-1M-1M": ("grid", 1_000_000, 1_000_000), "jitter-1M-1M": ("jitter", 1_000_000, 1_000_000),
             "city-1M-1M": ("city", 1_000_000, 1_000_000)},
}


def jobs(size: str) -> list[str]:
    return list(JOBS[size])


def fresh(net: Network) -> Network:
    """The same network without any cached index (what a first call on a new network pays for)."""
    return Network(**{f.name: getattr(net, f.name) for f in fields(Network)})


@contextmanager
def before_issue_14() -> Iterator[None]:
    """Snapping by one STRtree query per point and an uncached shapely hull, as before issue 14."""
    snap, extent = routing.snap, Network.extent

    def hull(self: Network) -> shapely.Geometry:
        return shapely.convex_hull(shapely.multipoints(np.column_stack([self.x, self.y])))

    routing.snap = routing.snap_strtree  # type: ignore[assignment]
    Network.extent = hull  # type: ignore[method-assign]
    try:
        yield
    finally:
        routing.snap = snap  # type: ignore[assignment]
        Network.extent = extent  # type: ignore[method-assign]


def compute() -> Callable[..., Any]:
    """The library's coverage function (``compute_coverage`` after issue 9, ``coverage`` before)."""
    module = importlib.import_module("siting.engine.coverage")
    return getattr(module, "compute_coverage", None) or module.coverage


def build(kind: str, nodes: int, homes: int) -> tuple[Network, Any, Any]:
    side = int(round(np.sqrt(nodes)))
    if kind == "city":
        net, centres, scale = synthetic.city(nodes)
        pop, fac = synthetic.homes(net, homes, clusters=(centres, scale))
    else:
        net = synthetic.grid(side, jitter=20.0 if kind == "jitter" else 0.0, drop=0.15 if kind == "jitter" else 0.0)
        pop, fac = synthetic.homes(net, homes)
    return net, pop, fac


def summary_json(result: Any) -> str:
    summary = result.summary.to_dict() if hasattr(result.summary, "to_dict") else result.summary
    return json.dumps(summary, sort_keys=True, default=str)


def same(a: Any, b: Any) -> bool:
    cols = ["walk_min", "facility_id", "status", "snap_m", "covered"]
    return bool(a.points[cols].equals(b.points[cols]) and summary_json(a) == summary_json(b))


def run(size: str, job: str) -> Result:
    kind, nodes, n_homes = JOBS[size][job]
    net, pop, fac = build(kind, nodes, n_homes)
    cover = compute()
    repeat = 3  # ours: best of 3 (a shared machine); the peer's minute-long runs: once at full size
    peer_repeat = repeat if size == "ci" else 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_ours, ours = best_of(repeat, lambda: cover(fresh(net), fac, pop, Settings()))
        rss = peak_rss_mb()
        warm_net = fresh(net)
        cover(warm_net, fac, pop, Settings())
        t_warm, _ = best_of(repeat, lambda: cover(warm_net, fac, pop, Settings()))
        t_snap, _ = best_of(repeat, lambda: routing.snap(fresh(net), *pop.get_coordinates().to_numpy().T, 500.0))
        with before_issue_14():
            t_peer, peer = best_of(peer_repeat, lambda: cover(fresh(net), fac, pop, Settings()))
            t_peer_snap, _ = best_of(1, lambda: routing.snap(fresh(net), *pop.get_coordinates().to_numpy().T, 500.0))
    return Result(
        case=f"coverage {job}", ours_s=t_ours, peer="STRtree snapping (before #14)", peer_s=t_peer, rss_mb=rss,
        check="points and summary identical", ok=same(ours, peer),
        note=f"{net.n_nodes:,} nodes, {n_homes:,} homes; snap {t_snap:.2f} s vs {t_peer_snap:.2f} s",
        extra={"nodes": net.n_nodes, "segments": net.n_edges, "homes": n_homes, "warm_s": t_warm,
               "snap_s": t_snap, "peer_snap_s": t_peer_snap, "summary": json.loads(summary_json(ours))},
    )
