"""Routing on the real central-Shanghai extract: walking distance from every node to the nearest of 60
facilities within 1,000 m — siting's one multi-source scipy Dijkstra vs networkx's
``multi_source_dijkstra_path_length`` (and pandana's ``nearest_pois`` when pandana is installed; it is
not a dependency)."""

from __future__ import annotations

import importlib.util
import warnings

import networkx as nx
import numpy as np

from siting.engine import routing
from siting.engine.network import Network

from ._common import CENTRAL_OSM, Result, best_of, peak_rss_mb

LIMIT_M = 1000.0


def jobs(size: str) -> list[str]:
    if not CENTRAL_OSM.exists():
        return []
    return ["networkx", "pandana"] if importlib.util.find_spec("pandana") else ["networkx"]


def setup() -> tuple[Network, np.ndarray, routing.Snap]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = Network.from_osm(CENTRAL_OSM, cache=False)
    fac = np.random.default_rng(0).choice(net.n_nodes, 60, replace=False)
    return net, fac, routing.snap(net, net.x[fac], net.y[fac])


def run(size: str, job: str) -> Result:
    net, fac, snap = setup()
    repeat = 3 if size == "ci" else 20

    def ours() -> np.ndarray:
        return routing.node_distances(net, snap, LIMIT_M)[0]

    ours()  # the network's CSR is built once and cached; time the searches
    t_ours, dist = best_of(repeat, ours)
    rss = peak_rss_mb()
    reached = np.flatnonzero(dist <= LIMIT_M)
    if job == "networkx":
        graph = nx.Graph()
        graph.add_weighted_edges_from(zip(net.u.tolist(), net.v.tolist(), net.length.tolist(), strict=True),
                                      weight="length")
        t_peer, lengths = best_of(3, lambda: nx.multi_source_dijkstra_path_length(
            graph, set(fac.tolist()), cutoff=LIMIT_M, weight="length"))
        theirs = np.array([lengths[i] for i in reached.tolist()])
        ok = set(lengths) == set(reached.tolist()) and bool(np.allclose(dist[reached], theirs, atol=1e-6))
        return Result("routing real extract", t_ours, "networkx multi-source Dijkstra", t_peer, rss,
                      "same nodes reached, same distances (1e-6 m)", ok,
                      note=f"{net.n_nodes:,} nodes, 60 sources, {len(reached):,} reached")
    import pandana
    import pandas as pd

    pnet = pandana.Network(pd.Series(net.x), pd.Series(net.y), pd.Series(net.u), pd.Series(net.v),
                           pd.DataFrame({"length": net.length}), twoway=True)
    pnet.set_pois("fac", LIMIT_M, 1, pd.Series(net.x[fac]), pd.Series(net.y[fac]))
    t_peer, near = best_of(3, lambda: pnet.nearest_pois(LIMIT_M, "fac", num_pois=1))
    theirs = near[1].to_numpy()
    both = theirs < LIMIT_M
    ok = bool(np.allclose(dist[both], theirs[both], atol=0.01))
    return Result("routing real extract", t_ours, "pandana nearest_pois", t_peer, rss,
                  "same distances (pandana stores float32: 1 cm)", ok)
