"""The ``siting`` command line (click): parses arguments and calls the library; nothing else.

Plain click rather than typer: typer 0.29 checks every option's value through a pydantic model built at
the first parse, 0.12 s of a 1.2 s run (measured; see the README's Performance section).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._lazy import lazy_module
from .._validate import check_site_options
from .._version import __version__
from ..errors import SitingError
from . import _sensitivity
from ._options import CRS_HELP, PATH, InputOptions, OutputOptions, check_numbers, group_option, with_groups
from ._scheduler import DEFAULT_CONNECT_TIMEOUT
from ._signals import interruptible
from ._verbosity import add_verbosity, verbosity

if TYPE_CHECKING:
    import siting.engine.access as access_model  # the package's `access` is the function

    from .. import pipeline
    from ..outputs import _access as _access_out
    from ..outputs import _outdir, maps, report
    from ..plan import candidates as candidate_sites
    from ..plan import sites as plan
    from ..scenarios import comparison as scenarios
    from ..scenarios import results as scenario_results
    from . import batch
else:  # loaded on first use, so that `siting --help` does not import the scientific stack
    _access_out = lazy_module("siting.outputs._access")
    _outdir = lazy_module("siting.outputs._outdir")
    access_model = lazy_module("siting.engine.access")
    batch = lazy_module("siting.cli.batch")
    candidate_sites = lazy_module("siting.plan.candidates")  # `candidates` is an option of `site`
    maps = lazy_module("siting.outputs.maps")
    pipeline = lazy_module("siting.pipeline")
    plan = lazy_module("siting.plan.sites")
    report = lazy_module("siting.outputs.report")
    scenarios = lazy_module("siting.scenarios.comparison")
    scenario_results = lazy_module("siting.scenarios.results")

class _OneLineUsage(click.Group):
    """Show usage errors (unknown option, missing value, bad type) as one ``error:`` line, exit code 2.

    Like every other refusal (:func:`_friendly`), instead of click's usage block; click's own words are
    kept, with its "did you mean" / "possible options" suggestion. ``siting`` alone still prints the help.
    """

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        """Parse ``siting``'s own options; a usage error as one line."""
        with _one_line():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        """Parse and run the command; a usage error as one line."""
        with _one_line():
            return super().invoke(ctx)


@contextlib.contextmanager
def _one_line() -> Iterator[None]:
    """Turn a click usage error into ``error: <click's message>`` on stderr and exit code 2."""
    try:
        yield
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `siting` alone: the help
            raise
        click.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
        raise click.exceptions.Exit(exc.exit_code) from None


app = _OneLineUsage("siting", no_args_is_help=True, context_settings={"show_default": True, "max_content_width": 120},
                    help="15-minute walking coverage and siting of community health facilities (OpenStreetMap).")

click.version_option(__version__, "--version", "-V", prog_name="siting", message="%(prog)s %(version)s")(app)

ids_option = functools.partial(click.option, multiple=True, help="candidate ids, comma-separated (repeatable)")


@functools.cache
def _flags(command: str | None = None) -> dict[str, str]:
    """Library parameter name → flag, for the options of ``siting COMMAND`` (default: of every command).

    Arguments (``SCENARIO_FILE``...) are no flags: a scenario or jobs file's keys keep their names.
    """
    commands = app.commands
    chosen = [commands[command]] if command is not None else list(commands.values())
    return {p.name: p.opts[0] for c in chosen for p in c.params
            if p.param_type_name == "option" and p.name and p.opts[0].startswith("--")}


def cli_words(text: str, command: str | None = None) -> str:
    """Show the library's parameter names as the flags of ``command`` (default: of any command).

    ``facility_crs='bd09'`` becomes ``--facility-crs bd09``, ``overwrite=True`` becomes ``--overwrite``
    and `` `district` `` becomes ``--district``; names that are no option of the command are kept
    (``siting compare`` says `` `osm` ``: a key of the scenario file, not a flag of ``compare``). There a
    switch ``dedupe=True`` becomes `` `dedupe: true` ``, as the scenario file's baseline writes it.
    """
    flags = _flags(command)
    if "cdn" in flags:  # `siting map --cdn` is the library's self_contained=False
        text = text.replace("self_contained=False", flags["cdn"])
    yaml = command == "compare"  # its inputs are keys of the scenario file: `dedupe: true`, not dedupe=True
    text = re.sub(r"\b(\w+)=True\b", lambda m: flags.get(m[1], f"`{m[1]}: true`" if yaml else m[0]), text)
    text = re.sub(r"\b(\w+)=(['\"])(.*?)\2", lambda m: f"{flags[m[1]]} {m[3]}" if m[1] in flags else m[0], text)
    return re.sub(r"`(\w+)`", lambda m: flags.get(m[1], m[0]), text)


def _friendly(func: Callable[..., Any], command: str) -> Callable[..., Any]:
    """Turn SitingError into one clear line and exit code 2; show warnings as 'warning:' lines.

    Both name the library's parameters by the flags of ``siting COMMAND`` (:func:`cli_words`).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        stack = contextlib.ExitStack()

        def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
            click.echo(f"warning: {cli_words(str(message), command)}", err=True)

        old = warnings.showwarning
        warnings.showwarning = show
        try:
            stack.enter_context(verbosity(kwargs))  # -v / -q: log lines and progress bars for this command
            check_numbers(kwargs)  # every number in its span, as the library and the files check it
            with interruptible():  # Ctrl-C → 130, SIGTERM → 143, temp folders removed on the way out
                return func(*args, **kwargs)
        except SitingError as exc:
            click.echo(f"error: {cli_words(str(exc), command)}", err=True)
            raise click.exceptions.Exit(2) from None
        finally:
            stack.close()
            warnings.showwarning = old
            # The interpreter's last collection would walk every object of the scientific stack and the
            # tables (~0.15 s of a 1.2 s run); frozen objects are skipped, and the process ends next.
            gc.freeze()

    return wrapper


def _command(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``siting NAME`` (a click command): errors and warnings as one line each (:func:`_friendly`)."""

    def register(func: Callable[..., None]) -> Callable[..., None]:
        return add_verbosity(app.command(name)(_friendly(func, name)))

    return register


def _inputs_and_coverage(inputs: InputOptions, target: float | None, command: str) -> tuple[Any, Any]:
    """Load the inputs and cover them (:func:`siting.pipeline.load_inputs`, :func:`~siting.pipeline.run_coverage`).

    The summary's notes (written to summary.json, report.html/.pdf and report.xlsx) name the flags of
    ``siting COMMAND``, as the console does (:func:`cli_words`).
    """
    loaded = pipeline.load_inputs(**inputs.load_arguments())
    result = pipeline.run_coverage(loaded, inputs.settings(), types=inputs.facility_types, target=target)
    result.summary = replace(result.summary, notes=tuple(cli_words(n, command) for n in result.summary.notes or ()))
    return loaded, result


def _check_out(output: OutputOptions, *inputs: Path | None) -> list[Path]:
    """Refuse a bad ``--out`` before any work (see :func:`siting.outputs._outdir.check_output`); the inputs given.

    It is the first step of every command that writes, and imports the scientific stack: the objects
    made so far are frozen (:func:`gc.freeze`), so the collections of the run do not walk them again.
    """
    given = [p for p in inputs if p is not None]
    _outdir.check_output(output.out, overwrite=output.overwrite, inputs=given)
    gc.freeze()  # the modules just imported (geopandas...) live as long as the process: no collection walks them
    return given


def _done(output: OutputOptions, text: str, t0: float) -> None:
    """Print the command's table and where it wrote, unless ``--quiet``."""
    if not output.quiet:
        click.echo(text)
        click.echo(f"\nwrote {output.out}/ in {time.perf_counter() - t0:.1f} s")


@_command("coverage")
@with_groups(output=OutputOptions, inputs=InputOptions)
@click.option("--target", type=float, help="target share (0–1), overriding data/targets.csv")
@click.option("--sensitivity", is_flag=True, help=_sensitivity.HELP)
def coverage_cmd(output: OutputOptions, inputs: InputOptions, target: float | None, sensitivity: bool) -> None:
    """15-minute coverage per 街道 and district, compared with the district target."""
    if sensitivity:
        _sensitivity.check(inputs)
    given = _check_out(output, *inputs.files())
    t0 = time.perf_counter()
    with report.Writers(**output.writing()) as writers:  # they import folium / matplotlib while the inputs load
        loaded, result = _inputs_and_coverage(inputs, target, "coverage")
        table = _sensitivity.attach(inputs, loaded, result, target) if sensitivity else ""
        result.summary = replace(result.summary, seconds=round(time.perf_counter() - t0, 2),
                                 network_cache=loaded.network.info.get("cache"))
        report.write_coverage(result, output.out, **output.writing(), inputs=given, writers=writers)
    _done(output, report.format_table(result) + (f"\n\n{table}" if table else ""), t0)


@_command("site")
@with_groups(output=OutputOptions, inputs=InputOptions)
@click.option("--candidates", type=PATH, help=(
    "candidate sites (CSV/Excel/GeoJSON/GPKG; optional `id`, `name`); generated on the network otherwise"))
@click.option("--candidate-crs", default="wgs84", help=CRS_HELP)
@click.option("--spacing-m", type=float, default=200.0, help="spacing of generated candidates along the network (m)")
@click.option("--only-uncovered/--everywhere", default=True,
              help="generate candidates only within reach of uncovered residents")
@click.option("--osm-candidates/--no-osm-candidates", default=None,
              help="add community / elderly-care / public buildings of the --osm file (default: when generating)")
@click.option("--k", type=int, help="new sites (default 5, or the sum of --quotas)")
@click.option("--target", type=float, help="target share (0–1): the fewest sites reaching it")
@click.option("--per-subdistrict/--no-per-subdistrict", default=False, help="with --target: every 街道 to the target")
@click.option("--quotas", type=PATH, help="CSV subdistrict,count: sites per 街道")
@ids_option("--lock")
@ids_option("--forbid")
@click.option("--capacity", type=float, help="residents per site above which it is flagged")
@click.option("--time-limit", type=float, default=60.0, help="seconds for the exact solver")
@click.option("--min-distance-m", type=float, default=300.0, help="exclude candidates nearer an existing facility (m)")
def site_cmd(
    output: OutputOptions, inputs: InputOptions, candidates: Path | None, candidate_crs: str, spacing_m: float,
    only_uncovered: bool, osm_candidates: bool | None, k: int | None, target: float | None, per_subdistrict: bool,
    quotas: Path | None, lock: tuple[str, ...], forbid: tuple[str, ...], capacity: float | None, time_limit: float,
    min_distance_m: float,
) -> None:
    """Where to build new stations: the k best sites, or the fewest reaching a target (exact + greedy)."""
    check_site_options(k=k, target=target, per_subdistrict=per_subdistrict, quotas=quotas, capacity=capacity,
                       time_limit=time_limit, spacing_m=spacing_m, min_distance_m=min_distance_m)
    given = _check_out(output, *inputs.files(), candidates, quotas)
    t0 = time.perf_counter()
    with report.Writers(**output.writing()) as writers:  # they import folium / matplotlib while the sites are chosen
        loaded, result = _inputs_and_coverage(inputs, target, "site")
        osm = inputs.osm
        use_osm = osm_candidates if osm_candidates is not None else candidates is None
        cands = candidate_sites.build_candidates(
            result, path=candidates, crs=candidate_crs, osm=osm if use_osm and osm is not None else None,
            generate=candidates is None, spacing_m=spacing_m, only_uncovered=only_uncovered,
            boundaries=loaded.boundaries, min_distance_m=min_distance_m, streets_from=osm,
        )
        known = set(result.by_subdistrict["subdistrict"].astype(str)) | set(cands["subdistrict"].dropna().astype(str))
        if loaded.boundaries is not None:
            known |= set(loaded.boundaries["subdistrict"].astype(str))
        site_plan = plan.plan_sites(
            result, cands, k=k, target=target, per_subdistrict=per_subdistrict,
            quotas=plan.read_quotas(quotas, known) if quotas is not None else None, locked=_split(lock),
            forbidden=_split(forbid), capacity=capacity, time_limit=time_limit, progress=not output.quiet,
        )
        report.write_siting(site_plan, output.out, **output.writing(), inputs=given, writers=writers)
    _done(output, report.format_siting(site_plan), t0)


@_command("compare")
@click.argument("scenario_file", type=PATH)
@with_groups(output=OutputOptions)
@group_option(InputOptions, "cache_dir")
def compare_cmd(scenario_file: Path, output: OutputOptions, cache_dir: Path | None) -> None:
    """Compare scenarios (close / add / move facilities, mode, speed, minutes, new sites) side by side.

    SCENARIO_FILE: the scenario file (YAML; see the README's Scenarios section).
    """
    _check_out(output, scenario_file, cache_dir, *scenarios.read_scenario_file(scenario_file).files())
    t0 = time.perf_counter()
    comparison = scenarios.compare(scenario_file, cache_dir=cache_dir, progress=not output.quiet)
    comparison.write(output.out, **output.writing())
    _done(output, scenario_results.format_comparison(comparison), t0)


@_command("access")
@with_groups(output=OutputOptions, inputs=InputOptions)
@click.option("--capacity-column", default="gps", help=(
    "capacity behind supply_per_10k: gps (全科医生数) or floor_area_m2 (面积); defaults per type when absent"))
@click.option("--decay", default="none",
              help="none (2SFCA), gaussian or stepped (E2SFCA, Luo & Qi 2009 weights 1/0.68/0.22)")
@click.option("--regions", type=PATH,
              help="CSV region,subdistrict grouping 街道 into regions, e.g. data/regions/xuhui.csv")
def access_cmd(output: OutputOptions, inputs: InputOptions, capacity_column: str, decay: str,
               regions: Path | None) -> None:
    """Supply per resident (2SFCA / E2SFCA), GPs against 4.5 per 10,000, travel-time distributions, regions."""
    access_model.check_options(capacity_column=capacity_column, decay=decay)
    given = _check_out(output, *inputs.files(), regions)
    grouping = access_model.read_regions(regions) if regions is not None else None
    t0 = time.perf_counter()
    _, result = _inputs_and_coverage(inputs, None, "access")
    res = access_model.access_from_coverage(result, capacity_column=capacity_column, decay=decay, regions=grouping)
    res.summary["seconds"] = round(time.perf_counter() - t0, 2)
    _access_out.write_access(res, output.out, **output.writing(), inputs=given)
    _done(output, _access_out.format_access(res), t0)


def _split(ids: tuple[str, ...]) -> list[str]:
    """Return the ids of every ``--lock`` / ``--forbid`` given (each comma-separated), in order."""
    return [i.strip() for text in ids or [] for i in text.split(",") if i.strip()]


@_command("map")
@click.argument("results_dir", type=PATH)
@click.option("--out", type=PATH, help="where to write the map (default RESULTS_DIR/map.html)")
@group_option(OutputOptions, "tiles")
@group_option(OutputOptions, "no_tiles")
@group_option(OutputOptions, "tianditu_key")
@click.option("--cdn", is_flag=True, help="load Leaflet from CDNs (smaller file, needs internet)")
@click.option("--overwrite", is_flag=True, help="replace an existing --out file")
def map_cmd(results_dir: Path, out: Path | None, tiles: str, no_tiles: bool, tianditu_key: str | None, cdn: bool,
            overwrite: bool) -> None:
    """Re-render map.html from saved results, without recomputing.

    RESULTS_DIR: a directory written by `siting coverage` or `siting site`.
    """
    base = OutputOptions(out=Path(), tiles=tiles, no_tiles=no_tiles, tianditu_key=tianditu_key).basemap()
    path = maps.render_results_dir(results_dir, out, tiles=base, self_contained=not cdn, overwrite=overwrite)
    click.echo(f"wrote {path}")


@_command("batch")
@click.argument("jobs_file", type=PATH)
@group_option(OutputOptions, "out")
@click.option("--scheduler", help="dask scheduler address, e.g. tcp://host:8786 (default: a local cluster)")
@click.option("--workers", type=click.IntRange(min=1),
              help="local worker processes (default: the CPU count, at most one per task)")
@click.option("--connect-timeout", type=float, default=DEFAULT_CONNECT_TIMEOUT, show_default=True,
              help="seconds --scheduler has to answer as a dask scheduler")
@group_option(OutputOptions, "overwrite")
@group_option(OutputOptions, "quiet")
def batch_cmd(jobs_file: Path, out: Path, scheduler: str | None, workers: int | None, connect_timeout: float,
              overwrite: bool, quiet: bool) -> None:
    """Run many coverage jobs (districts, extracts) on Dask; one folder per job plus batch.csv.

    JOBS_FILE: the YAML jobs file (see the README, 'Batch runs').

    Exit code 0 when every job succeeded, 1 when some failed (their error is in batch.csv; the
    others are written), 2 when the jobs file is invalid or every job failed.
    """
    _outdir.check_output(out, overwrite=overwrite, inputs=[jobs_file])
    res = batch.run_batch(jobs_file, out, scheduler=scheduler, workers=workers, overwrite=overwrite, progress=not quiet,
                          compare=scenarios.compare, connect_timeout=connect_timeout)
    if not quiet:
        click.echo(batch.format_batch(res))
    for row in res.table[res.table["status"] == "failed"].itertuples():
        click.echo(f"error: job {row.task} failed: {row.error}", err=True)
    if res.failed:
        click.echo(f"{res.failed} of {res.tasks} job(s) failed; see {res.out / 'batch.csv'}", err=True)
        raise click.exceptions.Exit(2 if res.failed == res.tasks else 1)


def main() -> None:  # pragma: no cover - console entry point
    """Run the ``siting`` command line."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
