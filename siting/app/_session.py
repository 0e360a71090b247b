"""The workbenches one app serves: one per scenario of a scenario file, each with the state it started from.

Private to :mod:`siting.app.server`. ``siting app plans.yaml`` starts on the file's baseline (or
``--scenario``); the page switches between the file's scenarios, each its own
:class:`~siting.workbench.Workbench` (made on first use by :meth:`Workbench.from_scenario_file`, then kept
with its edits). The state each started from is kept for the delta table (:func:`compare`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import SitingError
from ..scenarios._file import Scenario, read_scenario_file
from ..scenarios._values import BASELINE, FileSpec
from ..workbench import Workbench

__all__ = ["BASELINE", "Session", "compare"]

Opener = Callable[[Path, "str | None"], Workbench]


def _open(path: Path, scenario: str | None) -> Workbench:
    return Workbench.from_scenario_file(path, scenario)


class Session:
    """The current workbench, the others of the scenario file, and the state each started from.

    Parameters
    ----------
    wb : Workbench
        The workbench shown first.
    scenario_file : path, optional
        The scenario file ``wb`` was started from: its scenarios can then be switched to.
    scenario : str, optional
        The scenario of the file ``wb`` holds (None: the baseline).
    opener : callable, optional
        ``opener(path, scenario)`` returns a new workbench (default :meth:`Workbench.from_scenario_file`).
    """

    def __init__(self, wb: Workbench, *, scenario_file: str | Path | None = None, scenario: str | None = None,
                 opener: Opener = _open) -> None:
        self.file = Path(scenario_file) if scenario_file is not None else None
        self.spec = read_scenario_file(self.file) if self.file is not None else None
        self.opener = opener
        self.current = scenario or BASELINE
        if self.spec is not None and self.current != BASELINE:
            self._known(self.current)
        self.benches: dict[str, Workbench] = {self.current: wb}
        self.start: dict[str, dict[str, Any]] = {self.current: wb.state()}

    @property
    def wb(self) -> Workbench:
        """The workbench the page shows."""
        return self.benches[self.current]

    def _known(self, name: str) -> Scenario | None:
        if name == BASELINE:
            return None
        by_name = {s.name: s for s in self.spec.scenarios} if self.spec is not None else {}
        if name not in by_name:
            where = f"the scenario file {self.file}" if self.file is not None else "this app (no scenario file)"
            raise SitingError(f"no scenario {name!r} in {where}; known: {', '.join([BASELINE, *by_name])}")
        return by_name[name]

    def scenarios(self) -> dict[str, Any]:
        """Return the scenario file's name and path, its scenarios (name, loadable or why not) and the current one."""
        items = [{"name": BASELINE, "usable": True, "why": None, "loaded": BASELINE in self.benches}]
        if self.spec is not None:
            by_name = {s.name: s for s in self.spec.scenarios}
            for s in self.spec.scenarios:
                why = _unusable(s, by_name)
                items.append({"name": s.name, "usable": why is None, "why": why, "loaded": s.name in self.benches})
        return {"file": str(self.file) if self.file is not None else None,
                "title": self.spec.name if self.spec is not None else None, "current": self.current,
                "scenarios": items}

    def switch(self, name: str) -> Workbench:
        """Show scenario ``name`` (``baseline``: the file's unedited run), opening its workbench on first use."""
        if name not in self.benches:
            if self.file is None:
                raise SitingError(f"no scenario {name!r}: this app was not started from a scenario file")
            scenario = self._known(name)
            if scenario is not None:
                why = _unusable(scenario, {s.name: s for s in self.spec.scenarios} if self.spec else {})
                if why is not None:
                    raise SitingError(f"scenario {name!r} of {self.file} cannot be edited here: {why}")
            wb = self.opener(self.file, None if name == BASELINE else name)
            self.benches[name] = wb
            self.start[name] = wb.state()
        self.current = name
        return self.wb

    def compare(self, now: dict[str, Any] | None = None) -> dict[str, Any]:
        """Return the delta table of the current workbench: its start state against ``now`` (default its state)."""
        return compare(self.start[self.current], now if now is not None else self.wb.state())


def _unusable(s: Scenario, by_name: dict[str, Scenario]) -> str | None:
    """Return why the workbench cannot start from scenario ``s`` (None when it can), through its ``from`` chain."""
    seen: set[str] = set()
    item: Scenario | None = s
    while item is not None and item.name not in seen:
        seen.add(item.name)
        if item.site is not None:
            return f"{item.name!r} sites stations with the optimiser (use 'suggest' on the page instead)"
        if item.add_population:
            return f"{item.name!r} adds residents"
        if any(isinstance(a, FileSpec) for a in item.add):
            return f"{item.name!r} adds facilities from a file"
        item = by_name.get(item.from_) if item.from_ else None
    return None


def compare(start: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """Return the delta table between two workbench states: the district and each 街道, start against now.

    ``district``: ``rate_start``, ``rate_now``, ``delta_pp`` (percentage points), ``added`` (residents
    covered now minus at the start) and ``facilities_start`` / ``facilities_now`` (open ones). ``rows``: the
    same per 街道 (``district``, ``subdistrict``), most residents added first, then most lost.
    """
    def delta(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else 100.0 * (b - a)

    before = {(r["district"], r["subdistrict"]): r for r in start["subdistricts"]}
    after = {(r["district"], r["subdistrict"]): r for r in now["subdistricts"]}
    rows = []
    for key in dict.fromkeys([*before, *after]):
        a, b = before.get(key, {}), after.get(key, {})
        ra, rb = a.get("coverage_rate"), b.get("coverage_rate")
        rows.append({"district": key[0], "subdistrict": key[1], "rate_start": ra, "rate_now": rb,
                     "delta_pp": delta(ra, rb),
                     "added": _residents(float(b.get("covered", 0.0)) - float(a.get("covered", 0.0)))})
    rows.sort(key=lambda r: (-r["added"], r["subdistrict"]))
    return {"district": {"rate_start": start["coverage_rate"], "rate_now": now["coverage_rate"],
                         "delta_pp": delta(start["coverage_rate"], now["coverage_rate"]),
                         "added": _residents(float(now["population_covered"]) - float(start["population_covered"])),
                         "facilities_start": sum(f["open"] for f in start["facilities"]),
                         "facilities_now": sum(f["open"] for f in now["facilities"])},
            "rows": rows}


def _residents(x: float) -> float:
    """Return a difference of residents to 0.1 (sums in another order differ by ~1e-9; never -0.0)."""
    return round(x, 1) + 0.0
