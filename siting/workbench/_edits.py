"""Values of workbench edits: positions to WGS84, and the edit that undoes each edit."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SitingError
from ..io.coords import to_wgs84

__all__ = ["inverse", "wgs84"]


def wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Return ``lon``/``lat`` given in ``crs`` (wgs84 / gcj02 / bd09) in WGS84; refuse non-coordinates."""
    lon, lat = float(lon), float(lat)
    if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise SitingError(f"position ({lon}, {lat}) is not a longitude/latitude")
    x, y = to_wgs84(np.array([lon]), np.array([lat]), crs)
    return float(x[0]), float(y[0])


def inverse(kind: str, args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """Return the edit that undoes ``kind(args)`` (an undone add is a ``remove``)."""
    if kind == "configure":
        return kind, (args[1], args[0])
    if kind == "move":
        return kind, (args[0], args[2], args[1])
    return {"add": "remove", "close": "reopen", "reopen": "close"}[kind], args
