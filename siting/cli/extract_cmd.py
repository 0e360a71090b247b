"""``siting extract``: cut a district (or any area) out of a large ``.osm.pbf`` / ``.osm`` into a small ``.osm.pbf``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .._lazy import lazy_module
from ..errors import SitingError
from ..settings import Settings
from ._options import PATH, InputOptions, OutputOptions, group_option
from .commands import _command

if TYPE_CHECKING:
    from ..io import _extract, _online
else:  # loaded on first use: `siting --help` stays light
    _extract = lazy_module("siting.io._extract")
    _online = lazy_module("siting.io._online")


@_command("extract")
@click.argument("source", type=PATH)
@click.option("--out", type=PATH, required=True, help="the small extract to write (.osm.pbf)")
@group_option(InputOptions, "district")
@group_option(InputOptions, "boundaries")
@click.option("--area", type=PATH, help="a boundary file (GeoJSON/GPKG): cut the union of its polygons")
@click.option("--bbox", help="west,south,east,north in degrees, e.g. 121.36,31.19,121.46,31.23")
@group_option(InputOptions, "place")
@group_option(InputOptions, "nominatim_url")
@group_option(InputOptions, "mode")
@group_option(InputOptions, "speed_kmh")
@group_option(InputOptions, "minutes")
@click.option("--buffer-m", type=click.FloatRange(min=0), help=(
    "streets kept around the area (default: the longest trip, --minutes × the mode's speed)"))
@group_option(InputOptions, "cache_dir")
@group_option(OutputOptions, "overwrite")
@group_option(OutputOptions, "quiet")
def extract_cmd(source: Path, out: Path, district: str | None, boundaries: Path | None, area: Path | None,
                bbox: str | None, place: str | None, nominatim_url: str | None, mode: str, speed_kmh: float | None,
                minutes: float, buffer_m: float | None, cache_dir: Path | None, overwrite: bool, quiet: bool) -> None:
    """Cut an area out of a large OpenStreetMap file (Geofabrik's .osm.pbf) into a small .osm.pbf for --osm.

    SOURCE: the large file. The area: --district NAME with --boundaries, --area FILE, --bbox or --place (Nominatim).
    Every way crossing the area, plus a buffer as wide as the longest trip, is kept whole, with its tags; the file is
    read twice, streaming, so memory follows the area, not the file.
    """
    say = (lambda text: None) if quiet else (lambda text: click.echo(text, err=True))
    settings = Settings(mode=mode, speed_kmh=speed_kmh, minutes=minutes)
    t0 = time.perf_counter()
    if place is not None:
        if district is not None or area is not None or bbox is not None:
            raise SitingError("name the area to cut in one way: --place, or --district, --area, --bbox")
        found = _online.place_area(place, _online.Endpoints.resolve(nominatim_url=nominatim_url), cache_dir=cache_dir)
        polygon, what = found.polygon, f"{found.name} (Nominatim {found.osm})"
    else:
        polygon, what = _extract.area_from(district=district, boundaries=boundaries, area=area, bbox=bbox)
    metres = settings.limit_m if buffer_m is None else buffer_m
    why = f" = {settings.minutes:g} min × {settings.speed_kmh:g} km/h, the longest trip ({settings.mode}): coverage " \
          "near the edge is as in the big file" if buffer_m is None else " (--buffer-m)"
    say(f"area: {what}, {_extract.area_km2(polygon):,.1f} km²")
    say(f"buffer: {metres:,.0f} m{why}")
    stats = _extract.extract(source, out, polygon, buffer_m=metres, overwrite=overwrite, progress=say)
    size = out.stat().st_size / 1e6
    say(f"kept {stats.nodes_kept:,} nodes, {stats.ways_kept:,} ways, {stats.relations_kept:,} relations "
        f"({stats.nodes_kept / max(stats.nodes_read, 1):.1%} of the nodes)")
    say(f"wrote {out} ({size:,.1f} MB) in {time.perf_counter() - t0:.1f} s "
               f"({stats.nodes_per_second:,.0f} nodes/s); use it with --osm {out}")
