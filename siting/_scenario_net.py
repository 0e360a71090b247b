"""Scenario networks: one per network type (walk and elderly share one), and the population snaps they memoise.

:func:`siting.compare` runs many scenarios on the same network and, mostly, the same residents: with
:func:`snap_memo` their points are snapped once per network (:func:`siting._coverage.snap_population`).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path

from ._coverage import SNAP_MEMO
from ._scenario_file import Baseline, Scenario
from ._scenario_values import Where
from .network import Network
from .pipeline import Inputs
from .settings import Settings


@contextmanager
def snap_memo(networks: MutableMapping[str, Network]) -> Iterator[None]:
    """Memoise population snaps on ``networks`` (and those :func:`network_for` adds) inside the block.

    The memos are dropped on leaving, so networks a caller keeps (batch workers) hold no snaps after.
    """
    for net in networks.values():
        net.__dict__.setdefault(SNAP_MEMO, {})
    try:
        yield
    finally:
        for net in networks.values():
            net.__dict__.pop(SNAP_MEMO, None)


def network_for(settings: Settings, base: Baseline | Inputs, inputs: Inputs, networks: MutableMapping[str, Network],
                cache_dir: str | Path | None, s: Scenario) -> Network:
    """Return the network for ``settings``' mode, built once per network type (walk and elderly share one).

    A network built here memoises population snaps like the others when a :func:`snap_memo` is active.
    """
    kind = settings.network_type
    if kind not in networks:
        osm = osm_file(base, inputs)
        if osm is not None:
            networks[kind] = Network.from_osm(osm, settings.mode, cache_dir=cache_dir)
        elif isinstance(base, Baseline) and base.place is not None:
            networks[kind] = Network.from_place(base.place, settings.mode, cache_dir=cache_dir)
        else:
            raise Where(None, s.name).error("mode", f"needs a {kind} network, and the baseline's network "
                                                    f"({inputs.network.info.get('source')}) cannot be rebuilt for it")
        if any(SNAP_MEMO in net.__dict__ for net in networks.values() if net is not networks[kind]):
            networks[kind].__dict__.setdefault(SNAP_MEMO, {})
    return networks[kind]


def osm_file(base: Baseline | Inputs, inputs: Inputs) -> Path | None:
    """Return the baseline's OSM extract (a file), if it has one."""
    if isinstance(base, Baseline):
        return base.osm
    source = inputs.network.info.get("source")
    return Path(source) if source is not None and Path(str(source)).is_file() else None
