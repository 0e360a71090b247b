"""Network build from the real central-Shanghai OSM file: ``Network.from_osm`` (pyosmium, osmnx's walk
filter, no cache) vs ``osmnx.graph_from_xml`` on the same file."""

from __future__ import annotations

import warnings

from siting.engine.network import Network

from ._common import CENTRAL_OSM, Result, best_of, peak_rss_mb


def jobs(size: str) -> list[str]:
    return ["osmnx"] if CENTRAL_OSM.exists() else []


def run(size: str, job: str) -> Result:
    import osmnx as ox  # imported before timing: its import is not the build

    repeat = 1 if size == "ci" else 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_ours, net = best_of(repeat, lambda: Network.from_osm(CENTRAL_OSM, cache=False))
        rss = peak_rss_mb()
        t_peer, graph = best_of(repeat, lambda: ox.graph_from_xml(CENTRAL_OSM, simplify=False, retain_all=True))
    ours = set(net.node_id.tolist())
    ok = ours <= set(graph.nodes)
    return Result("network build", t_ours, "osmnx.graph_from_xml", t_peer, rss,
                  "every node we keep is an osmnx node", ok,
                  note=f"{net.n_nodes:,} of osmnx's {graph.number_of_nodes():,} nodes (walk filter, largest parts)")
