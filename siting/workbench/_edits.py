"""Values of workbench edits: positions to WGS84, and the edit that undoes each edit."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import range_problem
from ..errors import SitingError
from ..io.coords import to_wgs84

__all__ = ["inverse", "wgs84"]


def wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Return ``lon``/``lat`` given in ``crs`` (wgs84 / gcj02 / bd09) in WGS84; refuse non-coordinates."""
    for name, value in (("lon", lon), ("lat", lat)):  # the bounds every input path checks (_validate.RANGES)
        problem = range_problem(name, value)
        if problem is not None:
            raise SitingError(f"position ({lon}, {lat}) is not a longitude/latitude: `{name}` {problem}")
    lon, lat = float(lon), float(lat)
    x, y = to_wgs84(np.array([lon]), np.array([lat]), crs)
    return float(x[0]), float(y[0])


def inverse(kind: str, args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """Return the edit that undoes ``kind(args)`` (an undone add is a ``remove``)."""
    if kind == "configure":
        return kind, (args[1], args[0])
    if kind == "move":
        return kind, (args[0], args[2], args[1])
    return {"add": "remove", "close": "reopen", "reopen": "close"}[kind], args
