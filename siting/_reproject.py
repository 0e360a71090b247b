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

__all__ = ["plain_points", "points_xy", "to_crs"]


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
    x, y = shapely.get_x(geoms), shapely.get_y(geoms)
    dst = CRS.from_user_input(crs)
    if not geometry.crs.is_exact_same(dst):
        x, y = _transformer(geometry.crs, dst).transform(x, y)
    return np.column_stack([np.asarray(x, float), np.asarray(y, float)])


def to_crs(frame: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    """Return ``frame.to_crs(crs)``, through the coordinate arrays when it holds plain points.

    Parameters
    ----------
    frame : GeoDataFrame
        Any layer with its CRS set.
    crs : Any
        The target CRS.

    Returns
    -------
    GeoDataFrame
        The same columns and index; geometries identical to ``frame.to_crs(crs)``'s (``frame``
        itself is not modified).
    """
    dst = CRS.from_user_input(crs)
    if frame.crs is not None and frame.crs.is_exact_same(dst):
        return frame.to_crs(dst)
    xy = points_xy(frame.geometry, dst)
    if xy is None:
        return frame.to_crs(dst)
    out = frame.copy(deep=False)
    out[frame.geometry.name] = gpd.GeoSeries(shapely.points(xy), index=frame.index, crs=dst)
    return out.set_crs(dst, allow_override=True)
