"""Scenario networks: one per network type (walk and elderly share one), and the population snaps they memoise.

Before the first run, every scenario that generates candidate sites has its grid checked on the network it
will use (:func:`check_grids`): a too fine ``site.spacing_m`` fails at once, not after the scenarios before it.

:func:`siting.compare` runs many scenarios on the same network and, mostly, the same residents: with
:func:`snap_memo` their points are snapped once per network (:func:`siting.engine._coverage.snap_population`).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..engine._coverage import SNAP_MEMO
from ..engine.network import Network
from ..errors import ModelError
from ..pipeline import Inputs
from ..plan.candidates import check_grid
from ..settings import Settings
from ._file import Baseline, Scenario
from ._values import Where


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
        osm, lines = osm_file(base, inputs), lines_file(base, inputs)
        if lines is not None:
            networks[kind] = Network.from_lines(lines, settings.mode)
        elif osm is not None:
            networks[kind] = Network.from_osm(osm, settings.mode, cache_dir=cache_dir)
        elif isinstance(base, Baseline) and base.place is not None:
            networks[kind] = Network.from_place(base.place, settings.mode, cache_dir=cache_dir,
                                                buffer_m=settings.limit_m, overpass_url=base.overpass_url,
                                                nominatim_url=base.nominatim_url)
        else:
            raise Where(None, s.name).error("mode", f"needs a {kind} network, and the baseline's network "
                                                    f"({inputs.network.info.get('source')}) cannot be rebuilt for it")
        if any(SNAP_MEMO in net.__dict__ for net in networks.values() if net is not networks[kind]):
            networks[kind].__dict__.setdefault(SNAP_MEMO, {})
    return networks[kind]


def lines_file(base: Baseline | Inputs, inputs: Inputs) -> Path | None:
    """Return the baseline's own road lines (``network:``, :meth:`Network.from_lines`), if it has them."""
    if isinstance(base, Baseline):
        return base.network_file
    source = inputs.network.info.get("source")
    return Path(str(source)) if inputs.network.info.get("format") == "lines" and Path(str(source)).is_file() else None


def osm_file(base: Baseline | Inputs, inputs: Inputs) -> Path | None:
    """Return the baseline's OSM extract (a file), if it has one."""
    if isinstance(base, Baseline):
        return base.osm
    if inputs.network.info.get("format") == "lines":
        return None
    source = inputs.network.info.get("source")
    return Path(source) if source is not None and Path(str(source)).is_file() else None


def scenario_settings(settings: Settings, s: Scenario) -> Settings:
    """Return ``settings`` (the parent run's) with ``s``'s own travel changes: mode, speed, minutes."""
    changes = {k: getattr(s, k) for k in ("mode", "speed_kmh", "minutes") if getattr(s, k) is not None}
    return settings.with_(**changes) if changes else settings


def check_grids(order: Sequence[Scenario], settings: Settings, base: Baseline | Inputs, inputs: Inputs,
                networks: MutableMapping[str, Network], cache_dir: str | Path | None) -> None:
    """Refuse any scenario's candidate grid that ``siting site`` would refuse, before the first run.

    ``order`` lists parents first; ``settings`` are the baseline run's. Each scenario that generates its
    candidates is checked on its own mode's network (built here, once per type, as its run would) over
    the 街道 of ``inputs`` (:func:`siting.plan.candidates.check_grid`); the error names the scenario and
    ``site.spacing_m``.
    """
    runs: dict[str, Settings] = {}
    for s in order:
        runs[s.name] = scenario_settings(runs[s.from_] if s.from_ is not None else settings, s)
        if s.site is None or s.site.candidates is not None:
            continue
        net = network_for(runs[s.name], base, inputs, networks, cache_dir, s)
        try:
            check_grid(net, s.site.spacing_m, area=inputs.boundaries)
        except ModelError as exc:
            raise s.where().error("site.spacing_m", str(exc)) from None
