"""The ``siting`` command line (typer): parses arguments and calls the library; nothing else."""

from __future__ import annotations

import functools
import inspect
import math
import re
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._lazy import lazy_module
from .errors import SitingError
from .settings import Settings

if TYPE_CHECKING:
    import siting.access as access_model  # the package's `access` is the function

    from . import _access_out, _outdir, batch, maps, pipeline, plan, report, scenarios
    from . import candidates as candidate_sites
else:  # loaded on first use, so that `siting --help` does not import the scientific stack
    _access_out = lazy_module("siting._access_out")
    _outdir = lazy_module("siting._outdir")
    access_model = lazy_module("siting.access")
    batch = lazy_module("siting.batch")
    candidate_sites = lazy_module("siting.candidates")  # `candidates` is an option of `site`
    maps = lazy_module("siting.maps")
    pipeline = lazy_module("siting.pipeline")
    plan = lazy_module("siting.plan")
    report = lazy_module("siting.report")
    scenarios = lazy_module("siting.scenarios")

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="15-minute walking coverage and siting of community health facilities (OpenStreetMap).")

OsmOpt = Annotated[Path | None, typer.Option("--osm", help="OpenStreetMap extract (.osm or .osm.pbf), offline")]
PlaceOpt = Annotated[str | None, typer.Option("--place", help='place name to download, e.g. "徐汇区, 上海市"')]
FacOpt = Annotated[Path | None, typer.Option("--facilities", help="facilities file (CSV/Excel/GeoJSON/GPKG/.osm)")]
CrsChoice = Annotated[str, typer.Option(help="coordinates: wgs84, gcj02 (Amap/Tencent), bd09 (Baidu)")]


# Options shared by the `coverage` and `site` commands.
OutOpt = Annotated[Path, typer.Option("--out", help="output directory (must not exist unless --overwrite)")]
TypesOpt = Annotated[str, typer.Option(help="facility types that count, comma-separated")]
PopOpt = Annotated[Path | None, typer.Option(help="population points/polygons (CSV/JSON/GeoJSON/Excel)")]
CensusOpt = Annotated[Path | None, typer.Option(help="control totals per district/街道 (CSV)")]
CensusColOpt = Annotated[str, typer.Option(help="column of --census with the residents")]
SubTotalsOpt = Annotated[list[Path] | None, typer.Option(
    "--subdistrict-totals", help="街道 totals CSV (census or estimate; repeatable), kept exactly within --census")]
BoundariesOpt = Annotated[Path | None, typer.Option(help="街道/镇 polygons (GeoJSON/GPKG)")]
DistrictOpt = Annotated[str | None, typer.Option(help="restrict to one district, e.g. 徐汇区")]
ModeOpt = Annotated[str, typer.Option(help="walk (4 km/h), elderly (3 km/h) or bike (12 km/h)")]
SpeedOpt = Annotated[float | None, typer.Option(help="override the mode's speed")]
MinutesOpt = Annotated[float, typer.Option(help="coverage threshold in minutes")]
SnapOpt = Annotated[float, typer.Option(help="points farther from any way are not snapped")]
CacheOpt = Annotated[Path | None, typer.Option(help="network cache (default ~/.cache/siting)")]
OverwriteOpt = Annotated[bool, typer.Option(help="replace an existing --out directory")]
NoMapOpt = Annotated[bool, typer.Option("--no-map", help="skip map.html")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no table, no progress")]
IdsOpt = Annotated[str | None, typer.Option(help="candidate ids, comma-separated")]
DedupeOpt = Annotated[bool, typer.Option("--dedupe", help="drop population rows that repeat an earlier row exactly")]
SpreadOpt = Annotated[bool, typer.Option("--spread-polygons", help="spread population polygons over 0.25 km² over "
                                         "grid points 200 m apart inside them (default: one point each)")]
SheetOpt = Annotated[str | None, typer.Option(help="Excel sheet of --facilities (or write FILE.xlsx#SHEET)")]
BrokenOpt = Annotated[bool, typer.Option("--allow-broken-network",
                                         help="go on when over a quarter of the network is cut off (missing nodes)")]


def _flags() -> dict[str, str]:
    """Library parameter name → this command line's flag, for every option of every command."""
    out = {}
    for command in app.registered_commands:
        for name in inspect.signature(command.callback).parameters if command.callback else ():
            out[name] = "--" + name.replace("_", "-")
    return out


def cli_words(text: str) -> str:
    """Show the library's parameter names as flags.

    ``facility_crs='bd09'`` becomes ``--facility-crs bd09``, ``overwrite=True`` becomes ``--overwrite``
    and `` `district` `` becomes ``--district``; names that are no option of this command line are kept.
    """
    flags = _flags()
    text = re.sub(r"\b(\w+)=True\b", lambda m: flags.get(m[1], m[0]), text)
    text = re.sub(r"\b(\w+)=(['\"])(.*?)\2", lambda m: f"{flags[m[1]]} {m[3]}" if m[1] in flags else m[0], text)
    return re.sub(r"`(\w+)`", lambda m: flags.get(m[1], m[0]), text)


def _friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn SitingError into one clear line and exit code 2; show warnings as 'warning:' lines."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
            typer.echo(f"warning: {cli_words(str(message))}", err=True)

        old = warnings.showwarning
        warnings.showwarning = show
        try:
            for name, value in kwargs.items():
                if isinstance(value, float) and not math.isfinite(value):
                    raise SitingError(f"--{name.replace('_', '-')} must be a finite number, got {value}")
            return func(*args, **kwargs)
        except SitingError as exc:
            typer.echo(f"error: {cli_words(str(exc))}", err=True)
            raise typer.Exit(2) from None
        finally:
            warnings.showwarning = old

    return wrapper


def _settings(mode: str, speed_kmh: float | None, minutes: float, max_snap_m: float) -> Any:
    return Settings(mode=mode, speed_kmh=speed_kmh, minutes=minutes, max_snap_m=max_snap_m)


TilesOpt = Annotated[bool, typer.Option("--tiles/--no-tiles", help="OSM basemap tiles in map.html (need internet; "
                                        "the map's own layers draw offline either way)")]
TYPES_DEFAULT = "center,subcenter,station,village_clinic"


def _inputs_and_coverage(settings: Any, facility_types: str, target: float | None, **files: Any) -> tuple[Any, Any]:
    """Load the inputs (``files``: the keyword arguments of :func:`siting.pipeline.load_inputs`) and cover."""
    inputs = pipeline.load_inputs(settings=settings, **files)
    return inputs, pipeline.run_coverage(inputs, settings, types=facility_types, target=target)


@app.command("coverage")
@_friendly
def coverage_cmd(
    out: OutOpt,
    osm: OsmOpt = None,
    place: PlaceOpt = None,
    facilities: FacOpt = None,
    facility_crs: CrsChoice = "wgs84",
    facility_types: TypesOpt = TYPES_DEFAULT,
    population: PopOpt = None,
    population_crs: CrsChoice = "wgs84",
    census: CensusOpt = None,
    census_column: CensusColOpt = "pop_census_2020",
    subdistrict_totals: SubTotalsOpt = None,
    boundaries: BoundariesOpt = None,
    district: DistrictOpt = None,
    mode: ModeOpt = "walk",
    speed_kmh: SpeedOpt = None,
    minutes: MinutesOpt = 15.0,
    target: Annotated[float | None, typer.Option(help="target share (0–1), overriding data/targets.csv")] = None,
    max_snap_m: SnapOpt = 500.0,
    cache_dir: CacheOpt = None,
    overwrite: OverwriteOpt = False,
    no_map: NoMapOpt = False,
    tiles: TilesOpt = True,
    quiet: QuietOpt = False,
    dedupe: DedupeOpt = False,
    spread_polygons: SpreadOpt = False,
    facility_sheet: SheetOpt = None,
    allow_broken_network: BrokenOpt = False,
) -> None:
    """15-minute coverage per 街道 and district, compared with the district target."""
    given = _check_out(out, overwrite, osm, facilities, population, census, boundaries, cache_dir,
                       *(subdistrict_totals or []))
    t0 = time.perf_counter()
    inputs, result = _inputs_and_coverage(
        _settings(mode, speed_kmh, minutes, max_snap_m), facility_types, target, osm=osm, place=place,
        facilities=_sheet(facilities, facility_sheet), facility_crs=facility_crs, population=population,
        population_crs=population_crs, census=census, census_column=census_column,
        subdistrict_totals=subdistrict_totals, boundaries=boundaries, district=district, cache_dir=cache_dir,
        dedupe=dedupe, spread_polygons=spread_polygons, allow_broken_network=allow_broken_network,
    )
    result.summary = replace(result.summary, seconds=round(time.perf_counter() - t0, 2),
                             network_cache=inputs.network.info.get("cache"))
    report.write_coverage(result, out, overwrite=overwrite, map_html=not no_map, tiles=tiles, inputs=given)
    if not quiet:
        typer.echo(report.format_table(result))
        typer.echo(f"\nwrote {out}/ in {time.perf_counter() - t0:.1f} s")


@app.command("site")
@_friendly
def site_cmd(
    out: OutOpt,
    osm: OsmOpt = None,
    place: PlaceOpt = None,
    facilities: FacOpt = None,
    facility_crs: CrsChoice = "wgs84",
    facility_types: TypesOpt = TYPES_DEFAULT,
    population: PopOpt = None,
    population_crs: CrsChoice = "wgs84",
    census: CensusOpt = None,
    census_column: CensusColOpt = "pop_census_2020",
    subdistrict_totals: SubTotalsOpt = None,
    boundaries: BoundariesOpt = None,
    district: DistrictOpt = None,
    mode: ModeOpt = "walk",
    speed_kmh: SpeedOpt = None,
    minutes: MinutesOpt = 15.0,
    max_snap_m: SnapOpt = 500.0,
    cache_dir: CacheOpt = None,
    candidates: Annotated[Path | None, typer.Option(
        help="candidate sites (CSV/Excel/GeoJSON/GPKG; optional `id`, `name`); generated on the network otherwise")
    ] = None,
    candidate_crs: CrsChoice = "wgs84",
    spacing_m: Annotated[float, typer.Option(help="spacing of generated candidates along the network (m)")] = 200.0,
    only_uncovered: Annotated[bool, typer.Option(
        "--only-uncovered/--everywhere", help="generate candidates only within reach of uncovered residents")] = True,
    osm_candidates: Annotated[bool | None, typer.Option(
        help="add community / elderly-care / public buildings of the --osm file (default: when generating)")
    ] = None,
    k: Annotated[int | None, typer.Option("--k", help="new sites (default 5, or the sum of --quotas)")] = None,
    target: Annotated[float | None, typer.Option(help="target share (0–1): the fewest sites reaching it")] = None,
    per_subdistrict: Annotated[bool, typer.Option(help="with --target: every 街道 to the target")] = False,
    quotas: Annotated[Path | None, typer.Option(help="CSV subdistrict,count: sites per 街道")] = None,
    lock: IdsOpt = None,
    forbid: IdsOpt = None,
    capacity: Annotated[float | None, typer.Option(help="residents per site above which it is flagged")] = None,
    time_limit: Annotated[float, typer.Option(help="seconds for the exact solver")] = 60.0,
    min_distance_m: Annotated[float, typer.Option(help="exclude candidates nearer an existing facility (m)")] = 300.0,
    overwrite: OverwriteOpt = False,
    no_map: NoMapOpt = False,
    quiet: QuietOpt = False,
    dedupe: DedupeOpt = False,
    spread_polygons: SpreadOpt = False,
    facility_sheet: SheetOpt = None,
    allow_broken_network: BrokenOpt = False,
) -> None:
    """Where to build new stations: the k best sites, or the fewest reaching a target (exact + greedy)."""
    given = _check_out(out, overwrite, osm, facilities, population, census, boundaries, cache_dir, candidates, quotas,
                       *(subdistrict_totals or []))
    t0 = time.perf_counter()
    inputs, result = _inputs_and_coverage(
        _settings(mode, speed_kmh, minutes, max_snap_m), facility_types, target, osm=osm, place=place,
        facilities=_sheet(facilities, facility_sheet), facility_crs=facility_crs, population=population,
        population_crs=population_crs, census=census, census_column=census_column,
        subdistrict_totals=subdistrict_totals, boundaries=boundaries, district=district, cache_dir=cache_dir,
        dedupe=dedupe, spread_polygons=spread_polygons, allow_broken_network=allow_broken_network,
    )
    use_osm = osm_candidates if osm_candidates is not None else candidates is None
    cands = candidate_sites.build_candidates(
        result, path=candidates, crs=candidate_crs, osm=osm if use_osm and osm is not None else None,
        generate=candidates is None, spacing_m=spacing_m, only_uncovered=only_uncovered,
        boundaries=inputs.boundaries, min_distance_m=min_distance_m, streets_from=osm,
    )
    known = set(result.by_subdistrict["subdistrict"].astype(str)) | set(cands["subdistrict"].dropna().astype(str))
    if inputs.boundaries is not None:
        known |= set(inputs.boundaries["subdistrict"].astype(str))
    site_plan = plan.plan_sites(
        result, cands, k=k, target=target, per_subdistrict=per_subdistrict,
        quotas=plan.read_quotas(quotas, known) if quotas is not None else None,
        locked=_split(lock), forbidden=_split(forbid), capacity=capacity, time_limit=time_limit, progress=not quiet,
    )
    report.write_siting(site_plan, out, overwrite=overwrite, map_html=not no_map, inputs=given)
    if not quiet:
        typer.echo(report.format_siting(site_plan))
        typer.echo(f"\nwrote {out}/ in {time.perf_counter() - t0:.1f} s")


def _check_out(out: Path, overwrite: bool, *inputs: Path | None) -> list[Path]:
    """Refuse a bad ``--out`` before any work (see :func:`siting._outdir.check_output`); the inputs given."""
    given = [p for p in inputs if p is not None]
    _outdir.check_output(out, overwrite=overwrite, inputs=given)
    return given


@app.command("compare")
@_friendly
def compare_cmd(
    scenario_file: Annotated[Path, typer.Argument(help="scenario file (YAML; see the README's Scenarios section)")],
    out: OutOpt,
    cache_dir: CacheOpt = None,
    overwrite: OverwriteOpt = False,
    no_map: NoMapOpt = False,
    tiles: TilesOpt = True,
    quiet: QuietOpt = False,
) -> None:
    """Compare scenarios (close / add / move facilities, mode, speed, minutes, new sites) side by side."""
    _check_out(out, overwrite, scenario_file, cache_dir, *scenarios.read_scenario_file(scenario_file).files())
    t0 = time.perf_counter()
    comparison = scenarios.compare(scenario_file, cache_dir=cache_dir, progress=not quiet)
    comparison.write(out, overwrite=overwrite, map_html=not no_map, tiles=tiles)
    if not quiet:
        typer.echo(repr(comparison))
        typer.echo(f"\nwrote {out}/ in {time.perf_counter() - t0:.1f} s")


@app.command("access")
@_friendly
def access_cmd(
    out: OutOpt,
    osm: OsmOpt = None,
    place: PlaceOpt = None,
    facilities: FacOpt = None,
    facility_crs: CrsChoice = "wgs84",
    facility_types: TypesOpt = TYPES_DEFAULT,
    population: PopOpt = None,
    population_crs: CrsChoice = "wgs84",
    census: CensusOpt = None,
    census_column: CensusColOpt = "pop_census_2020",
    subdistrict_totals: SubTotalsOpt = None,
    boundaries: BoundariesOpt = None,
    district: DistrictOpt = None,
    mode: ModeOpt = "walk",
    speed_kmh: SpeedOpt = None,
    minutes: MinutesOpt = 15.0,
    max_snap_m: SnapOpt = 500.0,
    cache_dir: CacheOpt = None,
    capacity_column: Annotated[str, typer.Option(
        help="capacity behind supply_per_10k: gps (全科医生数) or floor_area_m2 (面积); defaults per type when absent")
    ] = "gps",
    decay: Annotated[str, typer.Option(
        help="none (2SFCA), gaussian or stepped (E2SFCA, Luo & Qi 2009 weights 1/0.68/0.22)")] = "none",
    regions: Annotated[Path | None, typer.Option(
        help="CSV region,subdistrict grouping 街道 into regions, e.g. data/regions/xuhui.csv")] = None,
    overwrite: OverwriteOpt = False,
    no_map: NoMapOpt = False,
    tiles: TilesOpt = True,
    quiet: QuietOpt = False,
) -> None:
    """Supply per resident (2SFCA / E2SFCA), GPs against 4.5 per 10,000, travel-time distributions, regions."""
    given = _check_out(out, overwrite, osm, facilities, population, census, boundaries, cache_dir, regions,
                       *(subdistrict_totals or []))
    t0 = time.perf_counter()
    _, result = _inputs_and_coverage(
        _settings(mode, speed_kmh, minutes, max_snap_m), facility_types, None, osm=osm, place=place,
        facilities=facilities, facility_crs=facility_crs, population=population, population_crs=population_crs,
        census=census, census_column=census_column, subdistrict_totals=subdistrict_totals, boundaries=boundaries,
        district=district, cache_dir=cache_dir,
    )
    res = access_model.access_from_coverage(result, capacity_column=capacity_column, decay=decay, regions=regions)
    res.summary["seconds"] = round(time.perf_counter() - t0, 2)
    _access_out.write_access(res, out, overwrite=overwrite, map_html=not no_map, tiles=tiles, inputs=given)
    if not quiet:
        typer.echo(_access_out.format_access(res))
        typer.echo(f"\nwrote {out}/ in {time.perf_counter() - t0:.1f} s")


def _sheet(path: Path | None, sheet: str | None) -> Path | None:
    """``--facilities book.xlsx --facility-sheet S`` → ``book.xlsx#S`` (what the table reader takes)."""
    return Path(f"{path}#{sheet}") if path is not None and sheet else path


def _split(ids: str | None) -> list[str]:
    return [i.strip() for i in ids.split(",") if i.strip()] if ids else []


@app.command("map")
@_friendly
def map_cmd(
    results_dir: Annotated[Path, typer.Argument(help="a directory written by `siting coverage` or `siting site`")],
    out: Annotated[Path | None, typer.Option(help="where to write the map (default RESULTS_DIR/map.html)")] = None,
    tiles: TilesOpt = True,
    cdn: Annotated[bool, typer.Option("--cdn", help="load Leaflet from CDNs (smaller file, needs internet)")] = False,
) -> None:
    """Re-render map.html from saved results, without recomputing."""
    path = maps.render_results_dir(results_dir, out, tiles=tiles, self_contained=not cdn)
    typer.echo(f"wrote {path}")


@app.command("batch")
@_friendly
def batch_cmd(
    jobs_file: Annotated[Path, typer.Argument(help="YAML jobs file (see README, 'Batch runs')")],
    out: OutOpt,
    scheduler: Annotated[str | None, typer.Option(
        help="dask scheduler address, e.g. tcp://host:8786 (default: a local cluster)")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, help="local worker processes (default: the CPU count, at most one per task)")] = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run many coverage jobs (districts, extracts) on Dask; one folder per job plus batch.csv.

    Exit code 0 when every job succeeded, 1 when some failed (their error is in batch.csv; the
    others are written), 2 when the jobs file is invalid or every job failed.
    """
    _check_out(out, overwrite, jobs_file)
    res = batch.run_batch(jobs_file, out, scheduler=scheduler, workers=workers, overwrite=overwrite, progress=not quiet,
                    compare=scenarios.compare)
    if not quiet:
        typer.echo(batch.format_batch(res))
    for row in res.table[res.table["status"] == "failed"].itertuples():
        typer.echo(f"error: job {row.task} failed: {row.error}", err=True)
    if res.failed:
        typer.echo(f"{res.failed} of {res.tasks} job(s) failed; see {res.out / 'batch.csv'}", err=True)
        raise typer.Exit(2 if res.failed == res.tasks else 1)


def main() -> None:  # pragma: no cover - console entry point
    """Run the ``siting`` command line."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
