"""Private: the street network of a place, bbox or polygon downloaded with osmnx, cached (``Network.from_place``...)."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._lazy import lazy_module
from .._log import get_logger
from ..io._cache import cache_path, read_cached, write_cached

if TYPE_CHECKING:
    from ..io import _online
else:  # requests and the download code load only when something is downloaded
    _online = lazy_module("siting.io._online")

log = get_logger("siting.engine.network")


def network(cls: Any, kind: str, query: Any, network_type: str, cache: bool, cache_dir: str | Path | None,
            buffer_m: float, overpass_url: str | None, nominatim_url: str | None, version: str) -> Any:
    """Return the ``network_type`` network of ``query`` (a ``kind``: place, bbox, polygon), from the cache if there."""
    endpoints = _online.Endpoints.resolve(overpass_url, nominatim_url)
    text = query.wkt if kind == "polygon" else json.dumps(query, ensure_ascii=False, sort_keys=True)
    key = hashlib.sha256(f"{kind}:{text}:{buffer_m:g}".encode()).hexdigest()[:32] + f"-{network_type}-v{version}"
    cached = cache_path(cache_dir, "online", key) if cache else None
    net = read_cached(cached, cls.load)
    if net is not None:
        net.info["cache"] = "hit"
        warnings.warn(f"the {network_type} network of {kind} {text} was read from the cache ({cached}; downloaded "
                      f"{net.info.get('downloaded', 'earlier')} from {net.info.get('overpass_url', 'Overpass')}): "
                      "nothing was downloaded", stacklevel=3)
        return net
    log.info("network cache %s: downloading the %s network of %s %s", "miss" if cache else "off", network_type,
             kind, text)
    graph, info = _online.street_graph(kind, query, network_type, endpoints, cache_dir=cache_dir,
                                       use_cache=cache, buffer_m=buffer_m)
    net = cls.from_graph(graph, info={"source": f"{kind}:{text}", "network_type": network_type, **info},
                         network_type=network_type)
    net.info["cache"] = "miss" if write_cached(cached, net._write_npz) else "off"
    return net
