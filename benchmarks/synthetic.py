"""Synthetic cities for the scale cases: a street grid (optionally jittered, with streets removed) and a
clustered "city" (dense centres, sparse outskirts), with homes and facilities placed like residents."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
from scipy.spatial import Delaunay

from siting.engine import routing
from siting.engine.network import Network

CRS = "EPSG:32651"
X0, Y0 = 300_000.0, 3_400_000.0


def grid(side: int, *, spacing: float = 100.0, jitter: float = 0.0, drop: float = 0.0, seed: int = 0) -> Network:
    """A ``side`` × ``side`` street grid (``spacing`` m blocks); nodes moved by up to ``jitter`` m and a
    share ``drop`` of the streets removed (L-corners, dead ends, merged blocks)."""
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    x = ii.ravel() * spacing + X0 + rng.uniform(-jitter, jitter, side * side)
    y = jj.ravel() * spacing + Y0 + rng.uniform(-jitter, jitter, side * side)
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:-1, :].ravel(), idx[:, :-1].ravel()])
    v = np.concatenate([idx[1:, :].ravel(), idx[:, 1:].ravel()])
    keep = rng.random(len(u)) >= drop
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the small islands that removing streets cuts off are dropped
        return Network.from_projected(np.arange(side * side), x, y, u[keep], v[keep], crs=CRS)


def _clusters(rng: np.random.Generator, n: int, span: float, centres: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``n`` points: 80 % around the centres (Gaussian, sizes ``scale``), 20 % uniform over the span."""
    k = int(n * 0.8)
    which = rng.integers(0, len(centres), k)
    pts = centres[which] + rng.normal(size=(k, 2)) * scale[which, None]
    pts = np.vstack([pts, rng.uniform(0, span, (n - k, 2))])
    return pts[(pts >= 0).all(axis=1) & (pts <= span).all(axis=1)]


def city(n_nodes: int, *, seed: int = 0) -> tuple[Network, np.ndarray, np.ndarray]:
    """A clustered city of about ``n_nodes`` street nodes: intersections drawn around a few centres, linked
    by their Delaunay triangulation without its long edges and a third of the rest (≈ 3 streets a node).

    Returns the network and the cluster centres and sizes (to place homes the same way).
    """
    rng = np.random.default_rng(seed)
    span = 100.0 * np.sqrt(n_nodes)  # same area as the grid of this many nodes
    centres = rng.uniform(0.15 * span, 0.85 * span, (12, 2))
    scale = rng.uniform(0.03, 0.12, 12) * span
    pts = _clusters(rng, n_nodes, span, centres, scale)
    tri = Delaunay(pts)
    s = tri.simplices
    edges = np.unique(np.sort(np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]]), axis=1), axis=0)
    length = np.hypot(*(pts[edges[:, 0]] - pts[edges[:, 1]]).T)
    keep = (length < np.quantile(length, 0.95)) & (rng.random(len(edges)) > 0.33)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = Network.from_projected(np.arange(len(pts)), pts[:, 0] + X0, pts[:, 1] + Y0, edges[keep, 0],
                                     edges[keep, 1], crs=CRS)
    return net, centres, scale


def homes(net: Network, n: int, *, seed: int = 1, clusters: tuple[np.ndarray, np.ndarray] | None = None,
          facilities: int = 300) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """``n`` homes (50–500 residents each) and ``facilities`` stations: uniform over the network's box, or
    drawn around ``clusters`` (centres, sizes) like the city's streets."""
    rng = np.random.default_rng(seed)
    lo = np.array([net.x.min(), net.y.min()])
    span = max(net.x.max() - lo[0], net.y.max() - lo[1])

    def draw(k: int) -> np.ndarray:
        if clusters is None:
            return lo + rng.uniform(0, span, (k, 2))
        pts = np.empty((0, 2))
        while len(pts) < k:
            pts = np.vstack([pts, _clusters(rng, k, span, clusters[0], clusters[1])])
        return lo + pts[:k]

    h, f = draw(n), draw(facilities)
    pop = gpd.GeoDataFrame({"population": rng.integers(50, 500, n).astype(float)},
                           geometry=gpd.points_from_xy(h[:, 0], h[:, 1]), crs=CRS)
    fac = gpd.GeoDataFrame({"name": [f"f{i}" for i in range(facilities)], "type": "station"},
                           geometry=gpd.points_from_xy(f[:, 0], f[:, 1]), crs=CRS)
    return pop, fac


def snapped_uniform(net: Network, side: int, counts: tuple[int, ...], rng: np.random.Generator) -> list[routing.Snap]:
    """Draw ``sum(counts)`` points uniformly over a ``grid(side)`` with ``rng`` and snap them, one set per count."""
    span = (side - 1) * 100.0
    pts = rng.uniform(0, span, (sum(counts), 2)) + [X0, Y0]
    ends = np.cumsum((0, *counts))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # points far from the grid's streets are expected
        return [routing.snap(net, pts[a:b, 0], pts[a:b, 1], 500.0) for a, b in zip(ends[:-1], ends[1:], strict=True)]
