"""Private: the option groups the ``siting`` commands share, each declared once.

A group is a frozen dataclass whose fields are options (:func:`opt`: default, help, flags; the type is
the field's annotation). :func:`with_groups` adds every field of each group to a click command as its
own option and hands the command the group objects built from the parsed values. So ``coverage``,
``site`` and ``access`` take the same input flags, and a new command gets them for free.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from .._validate import RANGES, check_value, sheet_path
from ..errors import SitingError
from ..outputs._basemaps import Basemap, basemap
from ..settings import Settings

#: A path option's type: no existence check here (the readers name a missing file and its role).
PATH = click.Path(path_type=Path)
CRS_HELP = "coordinates: wgs84, gcj02 (Amap/Tencent), bd09 (Baidu)"
TYPES_DEFAULT = "center,subcenter,station,village_clinic"


def opt(default: Any = dataclasses.MISSING, *, help: str, flags: tuple[str, ...] = ()) -> Any:  # noqa: A002
    """Declare a group field as an option: its default (none: required), help and flags.

    ``flags`` default to ``--field-name``, and for a boolean to ``--field-name/--no-field-name``
    (one flag, e.g. ``("--dedupe",)``, makes a plain switch).
    """
    return dataclasses.field(default=default, metadata={"help": help, "flags": flags})


def click_option(name: str, annotation: Any, default: Any, help: str,  # noqa: A002
                 flags: tuple[str, ...] = ()) -> Callable[[Any], Any]:
    """Return the click option decorator of a parameter ``name: annotation = default``.

    The type comes from the annotation: ``Path``, ``str``, ``float``, ``int``, ``bool`` (a flag), each
    optional (``| None``), and ``list[...]`` (a repeatable option).
    """
    args = [a for a in typing.get_args(annotation) if a is not type(None)] \
        if isinstance(annotation, types.UnionType) else [annotation]
    kind = args[0]
    multiple = typing.get_origin(kind) is list
    if multiple:
        kind = typing.get_args(kind)[0]
    decls = list(flags) or [f"--{name.replace('_', '-')}"]
    if kind is bool and not flags:
        decls = [f"{decls[0]}/--no-{name.replace('_', '-')}"]
    extra: dict[str, Any] = {"type": PATH if kind is Path else kind} if kind is not bool else \
        {} if "/" in decls[0] else {"is_flag": True}
    required = default is dataclasses.MISSING
    return click.option(*decls, name, help=help, required=required, multiple=multiple,
                        default=None if required or (multiple and default is None) else default,
                        **extra)


@dataclasses.dataclass(frozen=True)
class InputOptions:
    """The inputs of a coverage run: network, facilities, population, totals, area, mode and cache."""

    osm: Path | None = opt(None, help="OpenStreetMap extract (.osm or .osm.pbf), offline")
    place: str | None = opt(None, help='place name to download, e.g. "徐汇区, 上海市"')
    network_file: Path | None = opt(None, flags=("--network",), help=(
        "your own road lines instead of --osm/--place (GeoPackage, shapefile, GeoJSON, GeoParquet; any CRS); optional "
        "columns oneway, walk, bike (yes/no), speed_kmh"))
    overpass_url: str | None = opt(None, help=(
        "Overpass API server for --place: a mirror or your own instance (default $SITING_OVERPASS_URL, else "
        "osmnx's public one; proxies from HTTPS_PROXY / HTTP_PROXY)"))
    nominatim_url: str | None = opt(None, help=(
        "Nominatim server that finds --place's boundary (default $SITING_NOMINATIM_URL, else osmnx's public one)"))
    facilities: Path | None = opt(None, help="facilities file (CSV/Excel/GeoJSON/GPKG/.osm)")
    facility_crs: str = opt("wgs84", help=CRS_HELP)
    facility_sheet: str | None = opt(None, help="Excel sheet of --facilities (or write FILE.xlsx#SHEET)")
    facility_types: str = opt(TYPES_DEFAULT, help="facility types that count, comma-separated")
    population: Path | None = opt(None, help="population points/polygons (CSV/JSON/GeoJSON/Excel)")
    population_crs: str = opt("wgs84", help=CRS_HELP)
    dedupe: bool = opt(False, flags=("--dedupe",), help="drop population rows that repeat an earlier row exactly")
    spread_polygons: bool = opt(False, flags=("--spread-polygons",), help=(
        "spread population polygons over 0.25 km² over grid points 200 m apart inside them (default: one point each)"))
    census: Path | None = opt(None, help="control totals per district/街道 (CSV)")
    age_shares: Path | None = opt(None, help=(
        "60+ shares per district/街道 (CSV, e.g. the 2020 census age table): --mode elderly then counts residents "
        "aged 60+ (population × share; a pop_60plus column of --population is used as it is)"))
    census_column: str = opt("pop_census_2020", help="column of --census with the residents")
    subdistrict_totals: list[Path] | None = opt(
        None, help="街道 totals CSV (census or estimate; repeatable), kept exactly within --census")
    boundaries: Path | None = opt(None, help="街道/镇 polygons (GeoJSON/GPKG)")
    district: str | None = opt(None, help="restrict to one district, e.g. 徐汇区")
    mode: str = opt("walk", help="walk (4 km/h), elderly (3 km/h) or bike (12 km/h)")
    speed_kmh: float | None = opt(None, help="override the mode's speed")
    minutes: float = opt(15.0, help="coverage threshold in minutes")
    max_snap_m: float = opt(500.0, help="points farther from any way are not snapped")
    cache_dir: Path | None = opt(None, help=(
        "cache of networks, prepared inputs and downloads (default: $SITING_CACHE_DIR, else the user cache folder, "
        "e.g. ~/.cache/siting; see `siting cache info`)"))
    allow_broken_network: bool = opt(False, flags=("--allow-broken-network",), help=(
        "go on when over a quarter of the network is cut off (missing nodes)"))

    def settings(self) -> Settings:
        """Return the run's settings (mode, speed, minutes, snapping distance)."""
        return Settings(mode=self.mode, speed_kmh=self.speed_kmh, minutes=self.minutes, max_snap_m=self.max_snap_m)

    def files(self) -> list[Path]:
        """Return the files and folders given (the output folder must hold none of them)."""
        paths = [self.osm, self.network_file, self.facilities, self.population, self.census, self.age_shares,
                 self.boundaries, self.cache_dir, *(self.subdistrict_totals or [])]
        return [p for p in paths if p is not None]

    def load_arguments(self) -> dict[str, Any]:
        """Return the keyword arguments of :func:`siting.pipeline.load_inputs` (settings included).

        The CLI caches the prepared inputs beside the network (``cache_inputs``): a second run on the same
        files skips reading and preparing them.
        """
        facilities = sheet_path(self.facilities, self.facility_sheet)  # what the table reader takes: book.xlsx#SHEET
        skip = {"facility_sheet", "facility_types", "mode", "speed_kmh", "minutes", "max_snap_m"}
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}
        return values | {"facilities": facilities, "settings": self.settings(), "cache_inputs": True}


@dataclasses.dataclass(frozen=True)
class OutputOptions:
    """Where and how a command writes: the output folder, replacing it, the map, the console."""

    out: Path = opt(help="output directory (must not exist unless --overwrite)")
    overwrite: bool = opt(False, help="replace an existing --out directory")
    no_map: bool = opt(False, flags=("--no-map",), help="skip map.html")
    tiles: str = opt("osm", flags=("--tiles",), help=(
        "basemap of map.html: osm, amap (高德, GCJ-02: the map's layers are shifted to it on the page; the files stay "
        "WGS84), tianditu (天地图, needs --tianditu-key) or none; tiles need internet, the map's own layers draw "
        "offline either way"))
    no_tiles: bool = opt(False, flags=("--no-tiles",), help="no basemap (same as --tiles none)")
    tianditu_key: str | None = opt(None, help="天地图 key for --tiles tianditu (default: $SITING_TIANDITU_KEY)")
    quiet: bool = opt(False, flags=("--quiet", "-q"), help="no table, no progress")
    no_report: bool = opt(False, flags=("--no-report",), help=(
        "skip the figures, report.html/.pdf and report.xlsx (for scenario loops; summary.json lists what was "
        "skipped; access writes none of them anyway)"))

    def writing(self) -> dict[str, Any]:
        """Return the writers' keyword arguments ``overwrite``, ``map_html``, ``tiles`` and ``reports``.

        ``tiles`` is the basemap, resolved here so that a wrong name or a missing 天地图 key stops the command
        before any work.
        """
        return {"overwrite": self.overwrite, "map_html": not self.no_map, "tiles": self.basemap(),
                "reports": not self.no_report}

    def basemap(self) -> Basemap | None:
        """Return the basemap of ``--tiles`` (None: ``none`` or ``--no-tiles``), its 天地图 key checked."""
        return basemap("none" if self.no_tiles else self.tiles, tianditu_key=self.tianditu_key)


def check_numbers(values: Mapping[str, Any]) -> None:
    """Refuse, before any work, a number option outside its span of :data:`siting._validate.RANGES`.

    The spans the library, scenario files and batch files check (``--speed-kmh 1e-300`` is refused as
    ``speed_kmh: 1e-300`` is); any other number option must at least be finite. Messages name the
    parameter (`` `speed_kmh` ``), which the commands show as its flag.
    """
    for name, value in values.items():
        if not isinstance(value, int | float) or isinstance(value, bool):  # `--population` is a file
            continue
        if name in RANGES:
            check_value(name, value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise SitingError(f"`{name}` must be a finite number, got {value}")


def group_option(group: type, name: str) -> Callable[[Any], Any]:
    """Return the click option decorator of one field of an option group (for a command without the group)."""
    field = next(f for f in dataclasses.fields(group) if f.name == name)
    return click_option(name, typing.get_type_hints(group)[name], field.default, **field.metadata)


def with_groups(**groups: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add every field of each option group to a click command; call it with the group objects.

    ``@with_groups(output=OutputOptions, inputs=InputOptions)`` above ``def cmd(output, inputs, ...)``
    gives the command each field as an option (in the groups' order, before the command's own), builds
    ``OutputOptions(...)`` and ``InputOptions(...)`` from their values and passes them as ``output`` and
    ``inputs``.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        own = {p.name for p in getattr(func, "__click_params__", [])}
        fields = {name: dataclasses.fields(group) for name, group in groups.items()}
        twice = sorted(own & {f.name for fs in fields.values() for f in fs})
        if twice:
            raise TypeError(f"{func.__name__}: option(s) {', '.join(twice)} given twice (own and in a group)")

        @functools.wraps(func)
        def command(**values: Any) -> Any:
            for name, group in groups.items():
                got = {f.name: values.pop(f.name) for f in fields[name]}
                values[name] = group(**{k: None if v == () else v for k, v in got.items()})
            return func(**values)

        for name, group in reversed(groups.items()):
            hints = typing.get_type_hints(group)
            for f in reversed(fields[name]):
                command = click_option(f.name, hints[f.name], f.default, **f.metadata)(command)
        return command

    return decorate
