"""WGS84 ⇄ GCJ-02 ⇄ BD-09 conversions (vectorised, with exact iterative inverses).

Chinese web maps publish obfuscated coordinates: GCJ-02 (Amap/Gaode, Tencent, Google China) and
BD-09 (Baidu, GCJ-02 plus a second shift). In Shanghai they sit ~300–600 m (GCJ-02) and ~1 km (BD-09)
off WGS84. pyproj cannot convert them (they are not datums but published closed-form offsets), so they
are written here, vectorised with numpy. The forward formulas are the standard published ones; the
inverses are solved by fixed-point iteration to < 1e-9 degrees (about 0.1 mm), so round trips are exact
for planning purposes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import CRSError

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0

#: Names accepted for the three systems (case-insensitive).
CRS_ALIASES = {
    "wgs84": "wgs84", "epsg:4326": "wgs84", "4326": "wgs84", "gps": "wgs84",
    "gcj02": "gcj02", "gcj-02": "gcj02", "amap": "gcj02", "gaode": "gcj02", "tencent": "gcj02",
    "bd09": "bd09", "bd-09": "bd09", "baidu": "bd09", "bd09ll": "bd09",
}

Array = NDArray[np.float64]


def normalize_crs(name: str | None) -> str:
    """Return ``"wgs84"``, ``"gcj02"`` or ``"bd09"`` for a user-supplied name; raise CRSError otherwise."""
    key = str(name or "wgs84").strip().lower()
    if key not in CRS_ALIASES:
        raise CRSError(f"unknown coordinate system {name!r}; use wgs84, gcj02 (Amap/Tencent) or bd09 (Baidu)")
    return CRS_ALIASES[key]


def _out_of_china(lon: Array, lat: Array) -> NDArray[np.bool_]:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _gcj_delta(lon: Array, lat: Array) -> tuple[Array, Array]:
    x, y = lon - 105.0, lat - 35.0
    sx = np.sqrt(np.abs(x))
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat += common + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon += common + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = dlon * 180.0 / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    out = _out_of_china(lon, lat)
    return np.where(out, 0.0, dlon), np.where(out, 0.0, dlat)


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """WGS84 → GCJ-02 (the published forward formula)."""
    lon_, lat_ = _arrays(lon, lat)
    dlon, dlat = _gcj_delta(lon_, lat_)
    return lon_ + dlon, lat_ + dlat


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """GCJ-02 → BD-09 (the published forward formula)."""
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _invert(
    forward: Callable[[Array, Array], tuple[Array, Array]], lon: ArrayLike, lat: ArrayLike
) -> tuple[Array, Array]:
    """Solve ``forward(x) = target`` by fixed-point iteration (the offsets are smooth and small)."""
    tx, ty = _arrays(lon, lat)
    x, y = tx.copy(), ty.copy()
    for _ in range(30):
        fx, fy = forward(x, y)
        ex, ey = fx - tx, fy - ty
        x, y = x - ex, y - ey
        if np.nanmax(np.abs(np.concatenate([np.ravel(ex), np.ravel(ey)])), initial=0.0) < 1e-10:
            break
    return x, y


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """GCJ-02 → WGS84, exact inverse of :func:`wgs84_to_gcj02` (iterative)."""
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """BD-09 → GCJ-02, exact inverse of :func:`gcj02_to_bd09` (iterative)."""
    return _invert(gcj02_to_bd09, lon, lat)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """BD-09 → WGS84."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """WGS84 → BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def _identity(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    return _arrays(lon, lat)


_TO_WGS84 = {"wgs84": _identity, "gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}
_FROM_WGS84 = {"wgs84": _identity, "gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str | None) -> tuple[Array, Array]:
    """Convert from ``crs`` (wgs84 / gcj02 / bd09, any alias) to WGS84."""
    return _TO_WGS84[normalize_crs(crs)](lon, lat)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str | None) -> tuple[Array, Array]:
    """Convert WGS84 to ``crs`` (wgs84 / gcj02 / bd09)."""
    return _FROM_WGS84[normalize_crs(crs)](lon, lat)
