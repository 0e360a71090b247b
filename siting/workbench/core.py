"""The incremental what-if engine: add, move, close and reopen facilities and see coverage in milliseconds.

A :class:`Workbench` holds one coverage run and keeps it current under edits. Each facility's snap and
its residents within reach are kept; the nearest-facility forest (:class:`~siting.workbench._reach.Forest`)
changes only where an edit reaches, and only the homes there are placed again. ``wb.result`` is then
built by the same last step as :func:`siting.compute_coverage` (:func:`siting.engine.coverage.assemble`)
and the same notes as :func:`siting.pipeline.run_coverage`, so it is *identical* to a fresh run on the
edited facility table (tested over random edit sequences).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._lazy import lazy_module
from ..engine import routing
from ..engine._coverage import Routed
from ..engine._status import Status
from ..engine.coverage import CoverageResult, assemble, check_mode
from ..engine.network import Network
from ..errors import SitingError
from ..io.facilities import DEFAULT_TYPES, FACILITY_TYPES, select_types, type_names
from ..pipeline import Inputs, run_coverage, with_notes
from ..plan.candidates import build_candidates
from ..plan.sites import SitePlan, plan_sites
from ..settings import Settings
from . import _scenario
from ._edits import inverse as _inverse
from ._edits import wgs84 as _wgs84
from ._panel import homes as panel_homes
from ._panel import state as panel_state
from ._reach import State

__all__ = ["Workbench"]

if TYPE_CHECKING:
    from .. import app
else:  # the web stack only when a page is shown
    app = lazy_module("siting.app")

#: The first search radius of an added facility, in thresholds (widened until exact, see ``Forest.open``).
START_RADIUS = 2.0


class Workbench:
    """Edit the facilities of a coverage run and keep its result current.

    Parameters
    ----------
    inputs : Inputs
        From :func:`siting.load_inputs`.
    settings : Settings, optional
        Mode, speed, threshold (default: walking 15 minutes).
    types : iterable of str, optional
        Facility types that count (default :data:`siting.io.facilities.DEFAULT_TYPES`).
    target : float, optional
        Overrides the district target.

    Examples
    --------
    >>> wb = Workbench(inputs)                                        # doctest: +SKIP
    >>> fid = wb.add(121.437, 31.196, name="新站")                    # doctest: +SKIP
    >>> wb.result.summary.coverage_rate                               # doctest: +SKIP
    """

    def __init__(self, inputs: Inputs, settings: Settings | None = None, *,
                 types: Iterable[str] | str | None = DEFAULT_TYPES, target: float | None = None,
                 networks: dict[str, Network] | None = None, source: Any = None) -> None:
        self.inputs, self.settings = inputs, settings or Settings()
        self.types, self.target, self.source = tuple(type_names(types)), target, source
        check_mode(inputs.network, self.settings)
        self.networks = dict(networks or {})
        self.networks.setdefault(self.settings.network_type, inputs.network)
        table = inputs.facilities.to_crs("EPSG:4326").copy()
        if "facility_id" not in table.columns:
            table["facility_id"] = [f"row:{i + 1}" for i in range(len(table))]
        table["facility_id"] = table["facility_id"].astype(str)
        twice = table["facility_id"][table["facility_id"].duplicated()].unique()
        if len(twice):
            raise SitingError(f"facility ids must be unique to edit them; repeated: {', '.join(map(str, twice[:8]))}")
        self._table = table.reset_index(drop=True)
        self._open = np.ones(len(table), bool)
        self._added = np.zeros(len(table), bool)
        self._live = np.ones(len(table), bool)  # False: an added facility whose add was undone
        self._states: dict[tuple[str, float], State] = {}
        self._done: list[tuple[str, tuple[Any, ...]]] = []
        self._undone: list[tuple[str, tuple[Any, ...]]] = []
        self._result: CoverageResult | None = None
        self._n_new = 0
        self._state()

    # ----------------------------------------------------------------------------------------- the state
    def _state(self) -> State:
        """Return the forest for the current network and snapping limit, built on first use and then kept."""
        key = (self.settings.network_type, float(self.settings.max_snap_m))
        if key not in self._states:
            net = self.networks.get(self.settings.network_type) or self._network_for(self.settings)
            st = State(net, self.inputs.population, self.settings.max_snap_m)
            counted = self._counted()
            for row in np.flatnonzero(counted).tolist():
                st.slot_of[row] = self._new_slot(st, row)
            open_rows = np.flatnonzero(counted & self._open).tolist()
            st.forest.rebuild(np.array([st.slot_of[r] for r in open_rows], np.int64))
            self._states[key] = st
        return self._states[key]

    def _network_for(self, settings: Settings) -> Network:
        src = self.inputs.network.info.get("source")
        if not src or not Path(str(src)).is_file():
            raise SitingError(f"mode {settings.mode!r} needs a {settings.network_type!r} network and this one "
                              f"({src}) cannot be rebuilt for it: start the workbench from an OSM file")
        lines = self.inputs.network.info.get("format") == "lines"  # the planner's own road lines
        build = Network.from_lines if lines else Network.from_osm
        self.networks[settings.network_type] = build(src, settings.mode)
        return self.networks[settings.network_type]

    def _counted(self) -> np.ndarray:
        return self._table["type"].isin(self.types).to_numpy() if "type" in self._table else np.ones(
            len(self._table), bool)

    def _new_slot(self, st: State, row: int) -> int:
        xy = self._table.geometry.iloc[[row]].to_crs(st.net.crs).get_coordinates().to_numpy()
        return st.forest.new_slot(routing.snap(st.net, xy[:, 0], xy[:, 1], self.settings.max_snap_m))

    def _row(self, facility_id: str) -> int:
        hit = np.flatnonzero(self._table["facility_id"].to_numpy() == str(facility_id))
        if not len(hit):
            known = ", ".join(self._table["facility_id"].astype(str).head(12))
            raise SitingError(f"no facility with id {facility_id!r} (ids: {known}...)")
        return int(hit[0])

    # ----------------------------------------------------------------------------------------- edits
    def add(self, lon: float, lat: float, *, crs: str = "wgs84", name: str | None = None, type: str = "station",
            facility_id: str | None = None) -> str:
        """Add a facility at ``lon``/``lat`` (``crs``: wgs84, gcj02 or bd09); return its new id."""
        if type not in FACILITY_TYPES:
            raise SitingError(f"unknown facility type {type!r}; accepted: {', '.join(FACILITY_TYPES)}")
        lon, lat = _wgs84(lon, lat, crs)
        self._n_new += 1
        fid = str(facility_id or f"new:{self._n_new}")
        if fid in set(self._table["facility_id"]):
            raise SitingError(f"facility id {fid!r} is taken")
        row: dict[str, Any] = {c: None for c in self._table.columns if c != "geometry"}
        row.update(facility_id=fid, name=name or f"新站 {self._n_new}", type=type, source="workbench")
        new = gpd.GeoDataFrame([row], geometry=[shapely.Point(lon, lat)], crs="EPSG:4326")
        self._table = gpd.GeoDataFrame(pd.concat([self._table, new], ignore_index=True), geometry="geometry",
                                       crs="EPSG:4326")
        self._open = np.append(self._open, False)
        self._added = np.append(self._added, True)
        self._live = np.append(self._live, True)
        r = len(self._table) - 1
        for st in self._states.values():
            if self._counted()[r]:
                st.slot_of[r] = self._new_slot(st, r)
        self._do("add", (r,))
        return fid

    def close(self, facility_id: str) -> None:
        """Close a facility (it no longer counts); :meth:`reopen` undoes it."""
        r = self._row(facility_id)
        if not self._open[r]:
            raise SitingError(f"facility {facility_id!r} is closed already")
        self._do("close", (r,))

    def reopen(self, facility_id: str) -> None:
        """Reopen a closed facility."""
        r = self._row(facility_id)
        if self._open[r]:
            raise SitingError(f"facility {facility_id!r} is open")
        self._do("reopen", (r,))

    def move(self, facility_id: str, lon: float, lat: float, *, crs: str = "wgs84") -> None:
        """Move a facility to ``lon``/``lat``."""
        r = self._row(facility_id)
        old = self._table.geometry.iloc[r]
        lon, lat = _wgs84(lon, lat, crs)
        self._do("move", (r, old, shapely.Point(lon, lat)))

    def configure(self, *, mode: str | None = None, minutes: float | None = None,
                  speed_kmh: float | None = None) -> None:
        """Change mode, threshold or speed (a new mode without ``speed_kmh`` takes the mode's speed)."""
        changes: dict[str, Any] = {}
        if mode is not None:
            changes["mode"] = mode
            changes["speed_kmh"] = speed_kmh
        elif speed_kmh is not None:
            changes["speed_kmh"] = speed_kmh
        if minutes is not None:
            changes["minutes"] = minutes
        new = dataclasses.replace(self.settings, **changes)
        self._do("configure", (self.settings, new))

    def undo(self) -> bool:
        """Undo the last edit; False when there is none."""
        if not self._done:
            return False
        kind, args = self._done.pop()
        self._apply(*_inverse(kind, args))
        self._undone.append((kind, args))
        return True

    def redo(self) -> bool:
        """Redo the last undone edit; False when there is none."""
        if not self._undone:
            return False
        kind, args = self._undone.pop()
        self._apply(kind, args)
        self._done.append((kind, args))
        return True

    def _do(self, kind: str, args: tuple[Any, ...]) -> None:
        self._apply(kind, args)
        self._done.append((kind, args))
        self._undone.clear()

    def _apply(self, kind: str, args: tuple[Any, ...]) -> None:
        self._result = None
        if kind == "configure":
            self.settings = args[1]
            self._state()
            return
        r = args[0]
        counted = bool(self._counted()[r])
        if kind in ("add", "reopen"):
            self._open[r] = True
        elif kind in ("close", "remove"):
            self._open[r] = False
        elif kind == "move":
            self._table.loc[r, "geometry"] = args[2]
        self._live[r] = kind != "remove"
        for st in self._states.values():
            if not counted:
                continue
            f = st.forest
            if kind in ("add", "reopen"):
                f.place(f.open(st.slot_of[r], START_RADIUS * self.settings.limit_m))
            elif kind in ("close", "remove"):
                f.place(f.close(st.slot_of[r]))
            elif kind == "move":
                changed = f.close(st.slot_of[r]) if self._open[r] else np.zeros(0, np.int64)
                st.slot_of[r] = self._new_slot(st, r)
                if self._open[r]:
                    changed = np.union1d(changed, f.open(st.slot_of[r], START_RADIUS * self.settings.limit_m))
                f.place(changed)

    # ----------------------------------------------------------------------------------------- results
    @property
    def facilities(self) -> gpd.GeoDataFrame:
        """The edited facility table (WGS84): open rows, moved rows at their new place, added rows last."""
        return self._table[self._open].reset_index(drop=True)

    @property
    def edited_inputs(self) -> Inputs:
        """The inputs with the edited facility table (what a fresh run would be given)."""
        return dataclasses.replace(self.inputs, facilities=self.facilities, network=self._state().net)

    @property
    def result(self) -> CoverageResult:
        """The coverage of the current state, identical to :func:`siting.pipeline.run_coverage` on it."""
        if self._result is None:
            self._result = self._assemble()
        return self._result

    def fresh_result(self) -> CoverageResult:
        """Return the same figures computed from scratch (for checks; what :attr:`result` must equal)."""
        return run_coverage(self.edited_inputs, self.settings, types=self.types, target=self.target)

    def _assemble(self) -> CoverageResult:
        st, s = self._state(), self.settings
        f = st.forest
        rows = np.flatnonzero(self._open & self._counted())
        if not len(rows):
            raise SitingError("no open facility of the counted type(s): nothing to compute coverage from")
        fac = select_types(self.facilities, self.types) if "type" in self._table else self.facilities.copy()
        slots = np.array([st.slot_of[r] for r in rows.tolist()], np.int64)
        snaps = f.sources.subset(slots)
        snaps.seg[:] = [f._snaps[k].seg[0] for k in slots]
        if not snaps.ok.any():
            raise SitingError(f"none of the {len(rows)} facilities lies within {s.max_snap_m:.0f} m of the network")
        base = self._base_points()
        pop = base.copy()
        ids = np.full(len(f.seg), None, dtype=object)
        ids[slots] = fac["facility_id"].to_numpy()
        who = f.home_src
        walk_min = f.home_dist / s.metres_per_minute
        pop["walk_min"] = walk_min
        pop["facility_id"] = np.where(who >= 0, ids[np.maximum(who, 0)], None)  # type: ignore[call-overload]
        status = base.attrs["_status_code"]
        pop["covered"] = (walk_min <= s.minutes + 1e-9) & (status == 0)
        fac["snapped"] = snaps.ok
        fac["snap_m"] = np.where(snaps.ok, snaps.off, np.nan)
        fac["residents_within"] = [self._residents_within(st, k, snaps.subset(np.arange(len(slots)) == i))
                                   for i, k in enumerate(slots)]
        routed = Routed(pop, fac.to_crs("EPSG:4326"), snaps.ok, f.dist.copy())
        result = assemble(st.net, routed, s, base.attrs["_unit"], boundaries=self.inputs.boundaries,
                          target=self.target)
        return with_notes(result, self.edited_inputs)

    def homes(self) -> pd.DataFrame:
        """Return the homes: ``lon``, ``lat``, ``population``, ``status``, ``walk_min``, ``covered`` (``_panel``)."""
        return panel_homes(self)

    def state(self) -> dict[str, Any]:
        """Return the figures a panel shows, from the current arrays (see :func:`siting.workbench._panel.state`)."""
        return panel_state(self)

    def suggest(self, k: int | None = None, target: float | None = None, *, time_limit: float = 10.0,
                spacing_m: float = 200.0, progress: bool = False) -> SitePlan:
        """Choose new station sites on the current state (what is placed by hand stays; see :func:`plan_sites`).

        ``k`` sites (default 3 when no ``target``), or the fewest reaching ``target``; candidates on a
        ``spacing_m`` grid near the uncovered residents, named by their nearest street when the network
        came from an OSM file.
        """
        result = self.result
        osm = self.inputs.network.info.get("source")
        osm = osm if osm and Path(str(osm)).is_file() else None
        cands = build_candidates(result, spacing_m=spacing_m, boundaries=self.inputs.boundaries, streets_from=osm)
        return plan_sites(result, cands, k=k if k is not None or target is not None else 3, target=target,
                          time_limit=time_limit, progress=progress)

    def accept(self, plan: SitePlan) -> list[str]:
        """Add a plan's chosen sites as stations (one edit each); return their new ids."""
        chosen = plan.chosen.to_crs("EPSG:4326")
        labels = chosen["label"] if "label" in chosen else chosen["candidate_id"].astype(str)
        return [self.add(g.x, g.y, name=str(lab)) for g, lab in zip(chosen.geometry, labels, strict=True)]

    def show(self, **kwargs: Any) -> Any:
        """Show this workbench's page in Jupyter: ``siting app``'s page served from the kernel, in an iframe.

        See :func:`siting.app.show` (why an iframe of the served app: one page and one code path with
        ``siting app``; edits in the page change this object, and ``wb.add(...)`` in a cell shows on the map).
        """
        return app.show(self, **kwargs)

    @classmethod
    def from_scenario_file(cls, path: str | Path, scenario: str | None = None) -> Workbench:
        """Return a workbench on a scenario file's baseline, with ``scenario``'s edits applied (if given)."""
        return _scenario.from_scenario_file(cls, path, scenario)

    def to_scenario(self, name: str) -> dict[str, Any]:
        """Return a scenario file (mapping) holding the baseline and the current edits as scenario ``name``."""
        return _scenario.to_scenario(self, name)

    def save(self, path: str | Path, name: str = "workbench", *, overwrite: bool = False) -> Path:
        """Write :meth:`to_scenario` as YAML; ``siting compare PATH`` then gives the same figures."""
        return _scenario.save(self, path, name, overwrite=overwrite)

    def _residents_within(self, st: State, slot: int, snap: routing.Snap) -> float:
        key = (slot, float(self.settings.limit_m))
        if key not in st.reach:
            reach = routing.reach_matrix(st.net, snap, st.forest.homes, self.settings.limit_m)
            st.reach[key] = float(np.asarray(reach.astype(bool) @ self._weights()).ravel()[0])
        return st.reach[key]

    def _weights(self) -> np.ndarray:
        return self._base_points()["population"].fillna(0).to_numpy(float)

    def _base_points(self) -> gpd.GeoDataFrame:
        """Return the first run's routed points (status, snap legs, areas); edits replace their walk columns."""
        key = (self.settings.network_type, float(self.settings.max_snap_m), "points",
               self.settings.mode == "elderly")  # elderly runs count the 60+ residents (siting.io.ages.for_mode)
        cache = self.__dict__.setdefault("_points", {})
        if key not in cache:
            with warnings.catch_warnings():  # an internal run over every facility type: its warnings would mislead
                warnings.simplefilter("ignore")
                first = run_coverage(dataclasses.replace(self.inputs, network=self._state().net), self.settings,
                                     types="all", target=self.target)
            pts = first.points
            status = pts["status"].to_numpy(dtype=object)
            pts.attrs["_status_code"] = np.select([status == Status.OK.value, status == Status.OUTSIDE.value],
                                                  [0, 2], 1)
            pts.attrs["_unit"] = first.summary.unit
            cache[key] = pts
        return cache[key]

    def __repr__(self) -> str:
        """One line: the state and the headline."""
        s = self.result.summary
        return (f"Workbench({int(self._open.sum())} open facilities, {len(self._done)} edits, {s.mode} "
                f"{s.minutes:g} min: {s.coverage_rate:.1%} of {s.population_total:,.0f} {s.unit})")
