"""The ``siting`` command line (typer): parses arguments and calls the library; nothing else."""

from __future__ import annotations

import functools
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from .errors import SitingError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="15-minute walking coverage and siting of community health facilities (OpenStreetMap).")

OsmOpt = Annotated[Path | None, typer.Option("--osm", help="OpenStreetMap extract (.osm or .osm.pbf), offline")]
PlaceOpt = Annotated[str | None, typer.Option("--place", help='place name to download, e.g. "徐汇区, 上海市"')]
FacOpt = Annotated[Path | None, typer.Option("--facilities", help="facilities file (CSV/Excel/GeoJSON/GPKG/.osm)")]
CrsChoice = Annotated[str, typer.Option(help="coordinates: wgs84, gcj02 (Amap/Tencent), bd09 (Baidu)")]


def _friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn SitingError into one clear line and exit code 2; show warnings as 'warning:' lines."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
            typer.echo(f"warning: {message}", err=True)

        old = warnings.showwarning
        warnings.showwarning = show
        try:
            return func(*args, **kwargs)
        except SitingError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        finally:
            warnings.showwarning = old

    return wrapper


def _settings(mode: str, speed_kmh: float | None, minutes: float, max_snap_m: float) -> Any:
    from .settings import Settings

    return Settings(mode=mode, speed_kmh=speed_kmh, minutes=minutes, max_snap_m=max_snap_m)


@app.command("coverage")
@_friendly
def coverage_cmd(
    out: Annotated[Path, typer.Option("--out", help="output directory (must not exist unless --overwrite)")],
    osm: OsmOpt = None,
    place: PlaceOpt = None,
    facilities: FacOpt = None,
    facility_crs: CrsChoice = "wgs84",
    facility_types: Annotated[str, typer.Option(help="facility types that count, comma-separated")] =
    "center,subcenter,station,village_clinic",
    population: Annotated[Path | None, typer.Option(help="population points/polygons (CSV/JSON/GeoJSON/Excel)")] = None,
    population_crs: CrsChoice = "wgs84",
    census: Annotated[Path | None, typer.Option(help="control totals per district/街道 (CSV)")] = None,
    census_column: Annotated[str, typer.Option(help="column of --census with the residents")] = "pop_census_2020",
    boundaries: Annotated[Path | None, typer.Option(help="街道/镇 polygons (GeoJSON/GPKG)")] = None,
    district: Annotated[str | None, typer.Option(help="restrict to one district, e.g. 徐汇区")] = None,
    mode: Annotated[str, typer.Option(help="walk (4 km/h), elderly (3 km/h) or bike (12 km/h)")] = "walk",
    speed_kmh: Annotated[float | None, typer.Option(help="override the mode's speed")] = None,
    minutes: Annotated[float, typer.Option(help="coverage threshold in minutes")] = 15.0,
    target: Annotated[float | None, typer.Option(help="target share (0–1), overriding data/targets.csv")] = None,
    max_snap_m: Annotated[float, typer.Option(help="points farther from any way are not snapped")] = 500.0,
    cache_dir: Annotated[Path | None, typer.Option(help="network cache (default ~/.cache/siting)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing --out directory")] = False,
    no_map: Annotated[bool, typer.Option("--no-map", help="skip map.html")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no table, no progress")] = False,
) -> None:
    """15-minute coverage per 街道 and district, compared with the district target."""
    from .pipeline import load_inputs, run_coverage
    from .report import format_table, write_coverage

    t0 = time.perf_counter()
    settings = _settings(mode, speed_kmh, minutes, max_snap_m)
    inputs = load_inputs(
        osm=osm, place=place, facilities=facilities, facility_crs=facility_crs, population=population,
        population_crs=population_crs, census=census, census_column=census_column, boundaries=boundaries,
        district=district, settings=settings, cache_dir=cache_dir,
    )
    result = run_coverage(inputs, settings, types=facility_types, target=target)
    result.summary["seconds"] = round(time.perf_counter() - t0, 2)
    result.summary["network_cache"] = inputs.network.info.get("cache")
    write_coverage(result, out, overwrite=overwrite, map_html=not no_map)
    if not quiet:
        typer.echo(format_table(result))
        typer.echo(f"\nwrote {out}/ in {time.perf_counter() - t0:.1f} s")


@app.command("map")
@_friendly
def map_cmd(
    results_dir: Annotated[Path, typer.Argument(help="a directory written by `siting coverage` or `siting site`")],
    out: Annotated[Path | None, typer.Option(help="where to write the map (default RESULTS_DIR/map.html)")] = None,
) -> None:
    """Re-render map.html from saved results, without recomputing."""
    from .maps import render_results_dir

    path = render_results_dir(results_dir, out)
    typer.echo(f"wrote {path}")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
