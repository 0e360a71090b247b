"""Private: a basemap's tile layers on a folium map, and the map's layers shifted to the tiles' coordinates.

On GCJ-02 tiles (高德 Amap) WGS84 layers sit ~500 m off the streets they describe; :func:`shift_layers` moves
every coordinate the page draws (GeoJSON layers, markers, lines, the initial view) to GCJ-02 once the map is
built, whoever built its layers. Only the page is shifted: the GeoDataFrames and the exported files are not.
"""

from __future__ import annotations

from typing import Any

import folium
import numpy as np
from branca.element import Element
from folium.map import FitBounds

from ..io.coords import from_wgs84
from ._basemaps import Basemap

__all__ = ["add_tiles", "shift_layers"]


def add_tiles(m: folium.Map, base: Basemap | None, *, overlay: bool = False) -> None:
    """Add ``base``'s tile layers to ``m`` (none when ``base`` is None); ``overlay``: listed as switchable overlays."""
    if base is None:
        return
    for i, url in enumerate(base.urls):
        folium.TileLayer(url, attr=base.attribution, name=base.label + (" 注记" if i else ""),  # shown once by Leaflet
                         max_zoom=base.max_zoom, subdomains=base.subdomains, overlay=overlay or i > 0,
                         control=i == 0).add_to(m)


def shift_layers(m: folium.Map, base: Basemap | None) -> None:
    """Move every coordinate ``m`` draws from WGS84 to ``base.crs`` (nothing for WGS84 tiles or no basemap)."""
    if base is None or base.crs == "wgs84":
        return
    for element in _walk(m):
        if isinstance(element, folium.GeoJson):
            _shift_geojson(element.data, base.crs)
        elif isinstance(element, folium.Marker) and getattr(element, "location", None) is not None:
            element.location = _latlon(element.location, base.crs)
        elif isinstance(element, folium.vector_layers.BaseMultiLocation):
            element.locations = _nested(element.locations, base.crs)
        elif isinstance(element, FitBounds):
            element.bounds = _nested(element.bounds, base.crs)
    if m.location is not None:
        m.location = _latlon(m.location, base.crs)


def _walk(element: Element) -> list[Element]:
    """Return ``element`` and all its descendants."""
    out = [element]
    for child in list(element._children.values()):
        out += _walk(child)
    return out


def _lonlat(coords: np.ndarray, crs: str) -> np.ndarray:
    """(n, 2) lon/lat → the same in ``crs``, rounded to 6 decimals (~0.1 m) as the layers are."""
    lon, lat = from_wgs84(coords[:, 0], coords[:, 1], crs)
    return np.round(np.column_stack([lon, lat]), 6)


def _latlon(location: Any, crs: str) -> list[float]:
    """Return a [lat, lon] location moved to ``crs``."""
    lon, lat = _lonlat(np.array([[float(location[1]), float(location[0])]]), crs)[0]
    return [float(lat), float(lon)]


def _nested(locations: Any, crs: str) -> Any:
    """Return nested lists of [lat, lon] moved to ``crs`` (same nesting)."""
    if len(locations) and not isinstance(locations[0], list | tuple | np.ndarray):
        return _latlon(locations, crs)
    return [_nested(x, crs) for x in locations]


def _shift_geojson(data: Any, crs: str) -> None:
    """Move every ``coordinates`` array (and ``bbox``) of a GeoJSON dict to ``crs``, in place."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "coordinates":
                data[key] = _shift_coords(value, crs)
            elif key == "bbox" and isinstance(value, list | tuple) and len(value) == 4:
                (w, s), (e, n) = _lonlat(np.array([value[:2], value[2:]], float), crs)
                data[key] = [float(w), float(s), float(e), float(n)]
            else:
                _shift_geojson(value, crs)
    elif isinstance(data, list):
        for item in data:
            _shift_geojson(item, crs)


def _shift_coords(coords: Any, crs: str) -> Any:
    """Return GeoJSON coordinates (a position or nested lists of them: [lon, lat]) moved to ``crs``."""
    if len(coords) and isinstance(coords[0], int | float):
        lon, lat = _lonlat(np.array([coords[:2]], float), crs)[0]
        return [float(lon), float(lat), *coords[2:]]
    flat = _positions(coords)
    if not flat:
        return coords
    moved = iter(_lonlat(np.array([p[:2] for p in flat], float), crs).tolist())
    return _rebuild(coords, moved)


def _positions(coords: Any) -> list[Any]:
    """Return every position of nested GeoJSON coordinates, in order."""
    if len(coords) and isinstance(coords[0], int | float):
        return [coords]
    return [p for c in coords for p in _positions(c)]


def _rebuild(coords: Any, moved: Any) -> Any:
    """Return ``coords`` with each position replaced by the next of ``moved`` (extra values, e.g. z, kept)."""
    if len(coords) and isinstance(coords[0], int | float):
        return [*next(moved), *coords[2:]]
    return [_rebuild(c, moved) for c in coords]
