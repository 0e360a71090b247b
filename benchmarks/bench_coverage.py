"""Coverage on the real central-Shanghai network vs the naive osmnx approach (an ego_graph per facility).

Both answer the same question — which network nodes lie within 1,000 m (15 min at 4 km/h) of any of
60 facilities — on the same graph; the ratio is measured side by side in this process.
Run: ``python benchmarks/bench_coverage.py``
"""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
from _common import SHARED, best_of

from siting import routing
from siting.network import Network

LIMIT_M = 1000.0
N_FAC = 60


def main() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = Network.from_osm(SHARED / "osm/shanghai_center_overpass_roads.osm", cache=False)
    rng = np.random.default_rng(0)
    fac_nodes = rng.choice(net.n_nodes, N_FAC, replace=False)
    snap = routing.snap(net, net.x[fac_nodes], net.y[fac_nodes])  # facilities exactly at nodes

    graph = nx.Graph()
    graph.add_weighted_edges_from(zip(net.u.tolist(), net.v.tolist(), net.length.tolist(), strict=True),
                                  weight="length")

    def naive() -> set[int]:
        covered: set[int] = set()
        for node in fac_nodes.tolist():
            covered.update(nx.ego_graph(graph, node, radius=LIMIT_M, distance="length").nodes)
        return covered

    def ours() -> np.ndarray:
        dist, _ = routing.node_distances(net, snap, LIMIT_M)
        return np.flatnonzero(dist <= LIMIT_M)

    t_naive, naive_nodes = best_of(3, naive)
    t_ours, our_nodes = best_of(20, ours)
    assert set(our_nodes.tolist()) == naive_nodes, "the two methods disagree"
    print(f"network: {net.n_nodes:,} nodes, {net.n_edges:,} segments; {N_FAC} facilities; limit {LIMIT_M:.0f} m")
    print(f"covered nodes: {len(our_nodes):,} (identical sets)")
    print(f"naive osmnx/networkx ego_graph loop: {t_naive * 1000:9.1f} ms")
    print(f"siting multi-source scipy Dijkstra: {t_ours * 1000:9.2f} ms")
    print(f"ratio: {t_naive / t_ours:,.0f}x faster (target >= 100x)")


if __name__ == "__main__":
    main()
