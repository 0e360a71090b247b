"""Private: reproject point layers by their coordinate arrays (the same numbers as geopandas' ``to_crs``).

``GeoSeries.to_crs`` transforms the coordinates with pyproj (``always_xy``) and then writes them back
into a copy of every geometry (``shapely.set_coordinates``), which for a million homes costs most of a
second. For plain 2-D points the coordinates *are* the geometry: transforming the x/y arrays with the
same transformer and building fresh points gives the identical geometries several times faster. Any
other layer (polygons, 3-D, empty or missing geometries, no CRS) goes through ``to_crs`` unchanged.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

__all__ = ["plain_points", "points_xy", "to_crs", "transform_xy"]


@lru_cache(maxsize=16)
def _transformer(src: CRS, dst: CRS) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def plain_points(geoms: np.ndarray) -> bool:
    """Return True when every geometry is a non-empty 2-D point (the fast path applies)."""
    if len(geoms) == 0:
        return False
    return bool((shapely.get_type_id(geoms) == 0).all() and not shapely.is_empty(geoms).any()
                and not shapely.has_z(geoms).any())


def points_xy(geometry: gpd.GeoSeries, crs: Any) -> np.ndarray | None:
    """Return the (n, 2) coordinates of a layer of plain points in ``crs``, or None for other layers.

    Parameters
    ----------
    geometry : GeoSeries
        The layer, with its CRS set.
    crs : Any
        The target CRS (anything ``pyproj.CRS.from_user_input`` reads).

    Returns
    -------
    ndarray or None
        x and y columns, equal to ``geometry.to_crs(crs).get_coordinates()``; None when the layer is
        not made of plain 2-D points or has no CRS.
    """
    geoms = np.asarray(geometry.array, dtype=object)
    if geometry.crs is None or not plain_points(geoms):
        return None
    return transform_xy(np.column_stack([shapely.get_x(geoms), shapely.get_y(geoms)]), geometry.crs, crs)


def transform_xy(xy: np.ndarray, src: Any, dst: Any) -> np.ndarray:
    """Return the (n, 2) coordinates ``xy`` transformed from ``src`` to ``dst`` (``xy`` itself when they are the same).

    Parameters
    ----------
    xy : ndarray
        x and y columns in ``src``.
    src, dst : Any
        The CRSs (anything ``pyproj.CRS.from_user_input`` reads).

    Returns
    -------
    ndarray
        The numbers :func:`points_xy` gives for points at ``xy`` in ``src``.
    """
    src, dst = CRS.from_user_input(src), CRS.from_user_input(dst)
    if src.is_exact_same(dst):
        return xy
    x, y = _transformer(src, dst).transform(xy[:, 0], xy[:, 1])
    return np.column_stack([np.asarray(x, float), np.asarray(y, float)])


def to_crs(frame: gpd.GeoDataFrame, crs: Any, xy: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """Return ``frame.to_crs(crs)``, through the coordinate arrays when it holds plain points.

    Parameters
    ----------
    frame : GeoDataFrame
        Any layer with its CRS set.
    crs : Any
        The target CRS.
    xy : ndarray, optional
        ``points_xy(frame.geometry, frame.crs)`` when the caller has read it already (not read again).

    Returns
    -------
    GeoDataFrame
        The same columns and index; geometries identical to ``frame.to_crs(crs)``'s (``frame``
        itself is not modified).
    """
    dst = CRS.from_user_input(crs)
    if frame.crs is not None and frame.crs.is_exact_same(dst):
        return frame.to_crs(dst)
    xy = points_xy(frame.geometry, dst) if xy is None else transform_xy(xy, frame.crs, dst)
    if xy is None:
        return frame.to_crs(dst)
    out = frame.copy(deep=False)
    out[frame.geometry.name] = gpd.GeoSeries(shapely.points(xy), index=frame.index, crs=dst)
    return out.set_crs(dst, allow_override=True)
