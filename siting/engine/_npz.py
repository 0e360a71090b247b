"""Private: a :class:`~siting.engine.network.Network`'s arrays in a compressed ``.npz`` (saved networks, the cache)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["read", "write"]


def write(fh: IO[bytes], net: Any) -> None:
    """Write the arrays as a compressed ``.npz`` (the network cache too: uncompressed saved 2.4 ms of a run)."""
    np.savez_compressed(
        fh, node_id=net.node_id, x=net.x, y=net.y, u=net.u, v=net.v, length=net.length,
        oneway=net.oneway, crs=np.array(net.crs), info=np.array(json.dumps(net.info, default=str)),
    )


def read(path: str | Path) -> tuple[Any, ...]:
    """Return the constructor arguments of a network written by :func:`write` (ValueError when they do not fit)."""
    with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
        node_id, x, y, u, v, length, oneway = (z[k] for k in ("node_id", "x", "y", "u", "v", "length", "oneway"))
        crs, info = str(z["crs"]), json.loads(str(z["info"]))
    n, m = len(node_id), len(u)
    if not (len(x) == len(y) == n and len(v) == len(length) == len(oneway) == m
            and (m == 0 or (max(u.max(), v.max()) < n and min(u.min(), v.min()) >= 0))
            and np.isfinite(length).all() and isinstance(info, dict)):
        raise ValueError("arrays of different lengths or segment ends outside the nodes")
    return node_id, x, y, u, v, length, oneway, crs, info
