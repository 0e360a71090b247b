"""Residents cut off with the street islands a network build dropped (a check of the pipeline).

In the engine, not in ``siting.io``'s input checks, because it asks snapping's bucket grid
(:class:`siting.engine._segindex.SegmentIndex`) for nearest nodes.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from ._segindex import SegmentIndex

__all__ = ["nearest_node_m", "residents_cut_off"]


def residents_cut_off(kept_xy: np.ndarray, dropped_xy: np.ndarray, points: gpd.GeoDataFrame, crs: str,
                      max_snap_m: float) -> tuple[float, float]:
    """Residents whose nearest street node was dropped with an island, and all residents near the streets.

    A resident is near the streets when a node (kept or dropped) lies within ``max_snap_m``; it is cut
    off when the nearest of them was dropped. Points without a population count once each.

    Parameters
    ----------
    kept_xy, dropped_xy : ndarray (n, 2)
        Projected coordinates of the network's nodes and of those dropped in islands.
    points : GeoDataFrame
        The residents (``population``), any CRS.
    crs : str
        The network's projected CRS.
    max_snap_m : float
        Snapping limit (m).

    Returns
    -------
    tuple of float
        (residents cut off, residents near the streets).
    """
    if not len(points) or not len(dropped_xy) or not len(kept_xy):
        return 0.0, 0.0
    xy = points.geometry.to_crs(crs).representative_point().get_coordinates().to_numpy()
    d_kept, d_drop = (nearest_node_m(nodes, xy, max_snap_m) for nodes in (kept_xy, dropped_xy))
    near = np.isfinite(d_kept) | np.isfinite(d_drop)
    cut = near & (d_drop < d_kept)
    weight = points["population"].to_numpy(float) if "population" in points else np.ones(len(points))
    weight = np.where(np.isfinite(weight), weight, 1.0)
    return float(weight[cut].sum()), float(weight[near].sum())


def nearest_node_m(nodes_xy: np.ndarray, xy: np.ndarray, max_m: float) -> np.ndarray:
    """Distance from each point to its nearest node, ``inf`` where none is nearer than ``max_m``.

    What ``scipy.spatial.cKDTree(nodes_xy).query(xy, distance_upper_bound=max_m)[0]`` gives (the same
    floats, the same strict bound), without importing ``scipy.spatial`` (~0.05 s of the coverage
    command's start-up): the nodes are zero-length segments of snapping's bucket grid
    (:class:`siting.engine._segindex.SegmentIndex`, exact), and the points it leaves undecided (equidistant
    nodes, a distance at the bound) are asked of shapely's STRtree. Non-finite points get ``inf``.

    Parameters
    ----------
    nodes_xy, xy : ndarray (n, 2)
        Projected coordinates of the nodes and of the points (metres).
    max_m : float
        The bound (metres, > 0).

    Returns
    -------
    ndarray
        One distance a point.
    """
    d = np.full(len(xy), np.inf)
    if not len(nodes_xy) or not len(xy):
        return d
    x, y = nodes_xy[:, 0], nodes_xy[:, 1]
    span = np.ptp(nodes_xy, axis=0)  # cells about half the nodes' spacing
    grid = SegmentIndex(x, y, x, y, radius=float(np.clip(np.sqrt(span[0] * span[1] / len(x)) / 2, 5.0, 100.0)))
    node, undecided, _ = grid.nearest(xy[:, 0], xy[:, 1], max_m)
    hit = np.flatnonzero(node >= 0)
    w = xy[hit] - nodes_xy[node[hit]]
    d[hit] = np.sqrt(w[:, 0] * w[:, 0] + w[:, 1] * w[:, 1])  # GEOS's and cKDTree's formula
    ask = np.flatnonzero(undecided)
    if len(ask):
        (found, _), dist = shapely.STRtree(shapely.points(nodes_xy)).query_nearest(
            shapely.points(xy[ask]), max_distance=max_m, return_distance=True, all_matches=False)
        d[ask[found]] = dist
    return np.where(d < max_m, d, np.inf)
