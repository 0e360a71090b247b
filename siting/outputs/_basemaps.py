"""Private: the basemaps a map may draw (OpenStreetMap, 高德 Amap, 天地图 Tianditu, none) and their coordinates.

A leaf (no folium), so that the CLI can check ``--tiles`` / ``--tianditu-key`` before any work. 高德 tiles are
drawn in GCJ-02 (the published offset of Chinese web maps, ~500 m in Shanghai): on them every layer is shifted to
GCJ-02 for display only (:mod:`siting.outputs._tiles`); the exported files stay WGS84. 天地图 is CGCS2000, which
agrees with WGS84 to centimetres, so nothing is shifted; it needs a key (a free "browser" key from
https://console.tianditu.gov.cn, written into ``map.html``'s tile addresses as 天地图 requires).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..errors import BasemapError

__all__ = ["BASEMAPS", "ENV_KEY", "Basemap", "Tiles", "basemap"]

#: Where the 天地图 key is read from when it is not given.
ENV_KEY = "SITING_TIANDITU_KEY"
_KEY = re.compile(r"[A-Za-z0-9]{8,64}")
_TIANDITU = ("https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
             "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}")


@dataclass(frozen=True)
class Basemap:
    """A tile source: its layers' URL templates, attribution, the coordinates its tiles are drawn in.

    ``crs`` is ``wgs84`` or ``gcj02``: the map's layers are shown in it. ``urls`` holds one template per tile
    layer (天地图: streets, then their labels).
    """

    name: str
    label: str
    urls: tuple[str, ...]
    attribution: str
    crs: str = "wgs84"
    subdomains: str = "abc"
    max_zoom: int = 19


#: The basemaps by name (``tianditu`` takes its key in :func:`basemap`).
BASEMAPS: dict[str, Basemap] = {
    "osm": Basemap("osm", "OpenStreetMap 底图", ("https://tile.openstreetmap.org/{z}/{x}/{y}.png",),
                   '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors (ODbL)'),
    "amap": Basemap(
        "amap", "高德地图 Amap 底图",
        ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",),
        '© <a href="https://www.amap.com/">高德地图 AutoNavi</a> · GCJ-02: 图层已偏移以对齐底图 layers shifted to '
        "GCJ-02 for display; exported files stay WGS84", crs="gcj02", subdomains="1234", max_zoom=18),
    "tianditu": Basemap(
        "tianditu", "天地图 Tianditu 底图", (_TIANDITU.format(layer="vec", key="{key}"),
                                            _TIANDITU.format(layer="cva", key="{key}")),
        '© <a href="https://www.tianditu.gov.cn/">天地图</a> 国家地理信息公共服务平台 Tianditu (CGCS2000)',
        subdomains="01234567", max_zoom=18),
}

#: What a map's ``tiles`` may be: True (OpenStreetMap), False / None / "none" (no basemap), a name, a Basemap.
Tiles = bool | str | Basemap | None


def basemap(tiles: Tiles, *, tianditu_key: str | None = None) -> Basemap | None:
    """Return the basemap ``tiles`` names (None: no basemap).

    Parameters
    ----------
    tiles : bool, str, Basemap or None
        True or ``"osm"``: OpenStreetMap; ``"amap"``: 高德 (GCJ-02); ``"tianditu"``: 天地图; False, None or
        ``"none"``: no basemap (the map's own layers draw offline either way).
    tianditu_key : str, optional
        The 天地图 key; else ``$SITING_TIANDITU_KEY``.

    Raises
    ------
    BasemapError
        An unknown name, or 天地图 without a key (or with one that is not letters and digits).
    """
    if isinstance(tiles, Basemap):
        return tiles
    if tiles is None or tiles is False:
        return None
    name = "osm" if tiles is True else str(tiles).strip().lower()
    if name == "none":
        return None
    if name not in BASEMAPS:
        raise BasemapError(f"unknown basemap {tiles!r} for `tiles`; choose one of {', '.join([*BASEMAPS, 'none'])}")
    base = BASEMAPS[name]
    if name != "tianditu":
        return base
    key = (tianditu_key or os.environ.get(ENV_KEY, "")).strip()
    if not key:
        raise BasemapError(f"天地图 (Tianditu) tiles need a key: give `tianditu_key` or set {ENV_KEY} (a free browser "
                           "key from https://console.tianditu.gov.cn), or choose another basemap for `tiles`")
    if not _KEY.fullmatch(key):
        raise BasemapError(f"the 天地图 key {key[:12]!r}… is not a key (8–64 letters and digits)")
    return Basemap(base.name, base.label, tuple(u.replace("{key}", key) for u in base.urls), base.attribution,
                   base.crs, base.subdomains, base.max_zoom)
