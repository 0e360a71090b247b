"""The UTM zone of a layer, as geopandas' ``estimate_utm_crs`` picks it, without its database query.

geopandas asks PROJ's database for the UTM zones containing the centre of the layer's bounds (~50–80 ms a
call, several calls a run); away from a zone edge, the equator and the polar caps the answer is the zone
number of that centre, computed here. Anywhere else geopandas is asked, so the result is always its own.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from pyproj import CRS, Transformer

__all__ = ["utm_crs", "zone_crs"]


@lru_cache(maxsize=128)
def _zone(epsg: int) -> CRS:
    return CRS.from_epsg(epsg)


def zone_crs(lon: float, lat: float) -> CRS:
    """Return the UTM CRS (WGS 84) of the zone holding a point in degrees (EPSG:32651 for Shanghai)."""
    return _zone((32600 if lat >= 0 else 32700) + int((lon + 180.0) // 6.0) + 1)


def _centre(frame: Any) -> tuple[float, float]:
    """Return the centre of ``frame``'s bounds in degrees, as geopandas computes it (antimeridian included)."""
    minx, miny, maxx, maxy = frame.total_bounds
    if frame.crs.is_geographic:
        return float(np.mean([minx, maxx])), float(np.mean([miny, maxy]))
    minx, miny, maxx, maxy = Transformer.from_crs(frame.crs, "EPSG:4326", always_xy=True).transform_bounds(
        minx, miny, maxx, maxy)
    if minx > maxx:  # crossed the antimeridian
        return float(((np.mean([minx, maxx + 360]) + 180) % 360) - 180), float(np.mean([miny, maxy]))
    return float(np.mean([minx, maxx])), float(np.mean([miny, maxy]))


def utm_crs(frame: Any) -> CRS:
    """Return the UTM CRS (WGS 84) of a GeoDataFrame or GeoSeries: ``frame.estimate_utm_crs()``, faster.

    Parameters
    ----------
    frame : GeoDataFrame or GeoSeries
        With a CRS and at least one geometry.

    Returns
    -------
    pyproj.CRS
        EPSG 326xx (north) or 327xx (south), the zone of the centre of the bounds.
    """
    if frame.crs is None or len(frame) == 0:
        return frame.estimate_utm_crs()
    x, y = _centre(frame)
    edge = (x + 180) / 6
    if not (-180 < x < 180 and -80 < y < 84 and y != 0 and edge != math.floor(edge)):
        return frame.estimate_utm_crs()
    return zone_crs(x, y)  # y is not 0 and x not on a zone edge here
