"""The work behind the app's plain routes: each edit or read of the workbench, a function ``(wb, data)``.

Private to :mod:`siting.app.server`, which runs them one at a time under its lock (``data``: the JSON body
of a POST or the query of a GET).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import SitingError
from ..workbench import Workbench
from ._http import facility_id, number, optional_number, text
from ._layers import catchment, notes
from ._layers import service_area as service_area_json

__all__ = ["EDITS", "READS", "SAFE_NAME", "save"]

SAFE_NAME = re.compile(r"\w[\w.-]{0,63}")


def _add(wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    fid = wb.add(number(body, "lon"), number(body, "lat"), name=text(body, "name"),
                 type=text(body, "type") or "station")
    return {"id": fid, "state": wb.state()}


def _move(wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    wb.move(facility_id(body), number(body, "lon"), number(body, "lat"))
    return wb.state()


def _close(wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    wb.close(facility_id(body))
    return wb.state()


def _reopen(wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    wb.reopen(facility_id(body))
    return wb.state()


def _undo(wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    wb.undo()
    return wb.state()


def _redo(wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    wb.redo()
    return wb.state()


def _configure(wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    wb.configure(mode=text(body, "mode"), minutes=optional_number(body, "minutes"),
                 speed_kmh=optional_number(body, "speed_kmh"))
    return wb.state()


def save(wb: Workbench, body: dict[str, Any], save_dir: Path) -> dict[str, Any]:
    """Write the edits as scenario file ``save_dir/NAME.yaml`` (:meth:`Workbench.save`); never elsewhere."""
    name = text(body, "name") or "workbench"
    if not SAFE_NAME.fullmatch(name):
        raise SitingError(f"a scenario name is letters, digits, '-', '_' or '.', not starting with '.'; got {name!r}")
    path = wb.save(save_dir / f"{name}.yaml", name)
    return {"path": str(path), "state": wb.state()}


def _state(wb: Workbench, query: dict[str, Any]) -> dict[str, Any]:
    return wb.state()


def _service_area(wb: Workbench, query: dict[str, Any]) -> dict[str, Any]:
    return service_area_json(wb.result)


def _notes(wb: Workbench, query: dict[str, Any]) -> dict[str, Any]:
    return notes(wb.result)


def _catchment(wb: Workbench, query: dict[str, Any]) -> dict[str, Any]:
    return catchment(wb, facility_id(query))


#: ``POST /api/NAME``: the edits.
EDITS: dict[str, Callable[[Workbench, dict[str, Any]], Any]] = {
    "add": _add, "move": _move, "close": _close, "reopen": _reopen, "undo": _undo, "redo": _redo,
    "configure": _configure}
#: ``GET /api/NAME``: the reads.
READS: dict[str, Callable[[Workbench, dict[str, Any]], Any]] = {
    "state": _state, "service_area": _service_area, "notes": _notes, "catchment": _catchment}
