"""Private: the option groups the ``siting`` commands share, each declared once.

A group is a frozen dataclass whose field annotations are typer options (``Annotated[type,
typer.Option(...)]``). :func:`with_groups` turns a command that takes ``inputs: InputOptions`` and
``output: OutputOptions`` into one that takes every field of each as its own option (typer reads the
command's ``__signature__``), and hands the command the group objects built from the parsed values. So
``coverage``, ``site`` and ``access`` take the same input flags, and a new command gets them for free.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from .errors import SitingError
from .settings import Settings

CrsChoice = Annotated[str, typer.Option(help="coordinates: wgs84, gcj02 (Amap/Tencent), bd09 (Baidu)")]
OutOpt = Annotated[Path, typer.Option("--out", help="output directory (must not exist unless --overwrite)")]
OverwriteOpt = Annotated[bool, typer.Option(help="replace an existing --out directory")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no table, no progress")]
TilesOpt = Annotated[bool, typer.Option("--tiles/--no-tiles", help="OSM basemap tiles in map.html (need internet; "
                                        "the map's own layers draw offline either way)")]
CacheOpt = Annotated[Path | None, typer.Option(help="network cache (default ~/.cache/siting)")]
TYPES_DEFAULT = "center,subcenter,station,village_clinic"
EXCEL = (".xlsx", ".xls")  # as siting._tables.EXCEL (not imported here: `siting --help` stays light)


@dataclasses.dataclass(frozen=True)
class InputOptions:
    """The inputs of a coverage run: network, facilities, population, totals, area, mode and cache."""

    osm: Annotated[Path | None, typer.Option("--osm", help="OpenStreetMap extract (.osm or .osm.pbf), offline")] = None
    place: Annotated[str | None, typer.Option("--place", help='place name to download, e.g. "徐汇区, 上海市"')] = None
    facilities: Annotated[Path | None, typer.Option(
        "--facilities", help="facilities file (CSV/Excel/GeoJSON/GPKG/.osm)")] = None
    facility_crs: CrsChoice = "wgs84"
    facility_sheet: Annotated[str | None, typer.Option(
        help="Excel sheet of --facilities (or write FILE.xlsx#SHEET)")] = None
    facility_types: Annotated[str, typer.Option(help="facility types that count, comma-separated")] = TYPES_DEFAULT
    population: Annotated[Path | None, typer.Option(
        help="population points/polygons (CSV/JSON/GeoJSON/Excel)")] = None
    population_crs: CrsChoice = "wgs84"
    dedupe: Annotated[bool, typer.Option(
        "--dedupe", help="drop population rows that repeat an earlier row exactly")] = False
    spread_polygons: Annotated[bool, typer.Option(
        "--spread-polygons", help="spread population polygons over 0.25 km² over grid points 200 m apart inside "
        "them (default: one point each)")] = False
    census: Annotated[Path | None, typer.Option(help="control totals per district/街道 (CSV)")] = None
    census_column: Annotated[str, typer.Option(help="column of --census with the residents")] = "pop_census_2020"
    subdistrict_totals: Annotated[list[Path] | None, typer.Option(
        "--subdistrict-totals", help="街道 totals CSV (census or estimate; repeatable), kept exactly within --census")
    ] = None
    boundaries: Annotated[Path | None, typer.Option(help="街道/镇 polygons (GeoJSON/GPKG)")] = None
    district: Annotated[str | None, typer.Option(help="restrict to one district, e.g. 徐汇区")] = None
    mode: Annotated[str, typer.Option(help="walk (4 km/h), elderly (3 km/h) or bike (12 km/h)")] = "walk"
    speed_kmh: Annotated[float | None, typer.Option(help="override the mode's speed")] = None
    minutes: Annotated[float, typer.Option(help="coverage threshold in minutes")] = 15.0
    max_snap_m: Annotated[float, typer.Option(help="points farther from any way are not snapped")] = 500.0
    cache_dir: CacheOpt = None
    allow_broken_network: Annotated[bool, typer.Option(
        "--allow-broken-network", help="go on when over a quarter of the network is cut off (missing nodes)")] = False

    def settings(self) -> Settings:
        """Return the run's settings (mode, speed, minutes, snapping distance)."""
        return Settings(mode=self.mode, speed_kmh=self.speed_kmh, minutes=self.minutes, max_snap_m=self.max_snap_m)

    def files(self) -> list[Path]:
        """Return the files and folders given (the output folder must hold none of them)."""
        paths = [self.osm, self.facilities, self.population, self.census, self.boundaries, self.cache_dir,
                 *(self.subdistrict_totals or [])]
        return [p for p in paths if p is not None]

    def load_arguments(self) -> dict[str, Any]:
        """Return the keyword arguments of :func:`siting.pipeline.load_inputs` (settings included)."""
        facilities = self.facilities
        if self.facility_sheet is not None:  # what the table reader takes: book.xlsx#SHEET
            if facilities is None or facilities.suffix.lower() not in EXCEL:
                raise SitingError(f"--facility-sheet {self.facility_sheet} needs an Excel workbook (.xlsx/.xls) as "
                                  f"--facilities; got {facilities or 'none'}")
            facilities = Path(f"{facilities}#{self.facility_sheet}")
        skip = {"facility_sheet", "facility_types", "mode", "speed_kmh", "minutes", "max_snap_m"}
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}
        return values | {"facilities": facilities, "settings": self.settings()}


@dataclasses.dataclass(frozen=True)
class OutputOptions:
    """Where and how a command writes: the output folder, replacing it, the map, the console."""

    out: OutOpt
    overwrite: OverwriteOpt = False
    no_map: Annotated[bool, typer.Option("--no-map", help="skip map.html")] = False
    tiles: TilesOpt = True
    quiet: QuietOpt = False
    no_report: Annotated[bool, typer.Option(
        "--no-report", help="skip the figures, report.html/.pdf and report.xlsx (for scenario loops; summary.json "
        "lists what was skipped; access writes none of them anyway)")] = False

    def writing(self) -> dict[str, bool]:
        """Return the writers' keyword arguments ``overwrite``, ``map_html``, ``tiles`` and ``reports``."""
        return {"overwrite": self.overwrite, "map_html": not self.no_map, "tiles": self.tiles,
                "reports": not self.no_report}


def _group_parameters(group: type) -> list[inspect.Parameter]:
    """One keyword-only parameter per field of ``group``, with the field's typer annotation and default."""
    hints = typing.get_type_hints(group, include_extras=True)
    return [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[f.name],
                              default=inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default)
            for f in dataclasses.fields(group)]


def with_groups(func: Callable[..., None]) -> Callable[..., None]:
    """Return ``func`` taking each field of its option-group parameters as an option of its own.

    A parameter of ``func`` annotated with a dataclass (:class:`InputOptions`, :class:`OutputOptions`)
    is replaced, in the signature typer reads, by the dataclass's fields; the wrapper builds the
    dataclass from their values and calls ``func`` with it.

    Parameters
    ----------
    func : callable
        A command whose other parameters are typer options or arguments.

    Returns
    -------
    callable
        The command as typer should see it (``__signature__`` and ``__annotations__`` extended).
    """
    signature = inspect.signature(func, eval_str=True)
    groups: dict[str, Any] = {name: p.annotation for name, p in signature.parameters.items()
                              if dataclasses.is_dataclass(p.annotation)}
    params: list[inspect.Parameter] = []
    for name, param in signature.parameters.items():
        params += _group_parameters(groups[name]) if name in groups else [param.replace(kind=param.KEYWORD_ONLY)]
    names = [p.name for p in params]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise TypeError(f"{func.__name__}: option(s) {', '.join(twice)} given twice (own and in a group)")

    @functools.wraps(func)
    def command(**values: Any) -> None:
        for name, group in groups.items():
            values[name] = group(**{f.name: values.pop(f.name) for f in dataclasses.fields(group)})
        func(**values)

    command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params} | {"return": signature.return_annotation}
    return command

