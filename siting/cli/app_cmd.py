"""``siting app``: the workbench's local web page, on the inputs of ``siting coverage`` or on a scenario file."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .._lazy import lazy_module
from ..errors import SitingError
from ._options import PATH, InputOptions, with_groups
from .commands import _command

if TYPE_CHECKING:
    from .. import pipeline, workbench
    from ..app import server as app_server
    from ..workbench import _scenario as wb_scenario
else:  # loaded on first use, so that `siting --help` does not import the scientific stack
    app_server = lazy_module("siting.app.server")
    pipeline = lazy_module("siting.pipeline")
    workbench = lazy_module("siting.workbench")
    wb_scenario = lazy_module("siting.workbench._scenario")


def _inputs_given(inputs: InputOptions) -> list[str]:
    """Return the input flags given with a value other than their default."""
    default = InputOptions()
    return [f"--{f.name.replace('_', '-')}" for f in dataclasses.fields(inputs)
            if getattr(inputs, f.name) != getattr(default, f.name)]


@_command("app")
@click.argument("scenario_file", type=PATH, required=False)
@click.option("--scenario", help="with SCENARIO_FILE: the scenario shown first (default: its baseline)")
@with_groups(inputs=InputOptions)
@click.option("--target", type=float, help="target share (0–1), overriding data/targets.csv")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="port on 127.0.0.1 (0: a free one)")
@click.option("--no-browser", is_flag=True, help="print the URL only, do not open a browser")
@click.option("--save-dir", type=PATH, default=Path("."), help="folder where the app may save files")
def app_cmd(scenario_file: Path | None, scenario: str | None, inputs: InputOptions, target: float | None, port: int,
            no_browser: bool, save_dir: Path) -> None:
    """Edit facilities on a map in the browser (add, move, close) and see the coverage at once.

    Serves a local page on 127.0.0.1 (with a token in its URL) until Ctrl-C; takes the inputs of `coverage`,
    or SCENARIO_FILE (a file of `siting compare`: its baseline, with its scenarios to switch between).
    """
    if scenario_file is not None:
        given = _inputs_given(inputs) + (["--target"] if target is not None else [])
        if given:
            raise SitingError(f"{scenario_file} names the inputs and the target (its `baseline:`); drop "
                              f"{', '.join(given)}, or give the input flags without a scenario file")
        wb = workbench.Workbench.from_scenario_file(scenario_file, scenario)
        app_server.serve(wb, port=port, open_browser=not no_browser, save_dir=save_dir, scenario_file=scenario_file,
                         scenario=scenario)
        return
    if scenario is not None:
        raise SitingError("--scenario names a scenario of SCENARIO_FILE: give the scenario file too")
    args = inputs.load_arguments()
    loaded = pipeline.load_inputs(**args)
    types = inputs.facility_types
    base = wb_scenario.baseline_from_arguments(args, inputs.settings(), target=target,
                                               types=tuple(types) if isinstance(types, list | tuple) else None)
    wb = workbench.Workbench(loaded, inputs.settings(), types=types, target=target, source=base)
    app_server.serve(wb, port=port, open_browser=not no_browser, save_dir=save_dir)
