"""Private: the slow outputs of a run — ``map.html`` and the report chain — written beside the others.

The report chain is the figures, ``report.html`` (embedding them), ``report.pdf`` (printed by Chromium from
it) and ``map.pdf``. :class:`Writers` forks one child for each (:class:`siting.outputs._sidejob.SideJob`) as soon
as the command starts: the children import folium and matplotlib (and start Chromium, see
:mod:`siting.outputs._browser`) while the main process reads the inputs, and write their files into the run's
temp folder while the main process writes the tables and GeoPackages. Without ``fork`` :class:`Writers`
only starts Chromium early; without :class:`Writers` (the library's default) everything is done in this
process when written, the PDF printing while the body of :func:`report_page` runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._lazy import lazy_module
from . import _browser
from ._sidejob import SideJob, forking

if TYPE_CHECKING:
    from . import figures, htmlreport, maps
else:  # loaded when written: no matplotlib without figures, no folium without map.html
    figures = lazy_module("siting.outputs.figures")
    htmlreport = lazy_module("siting.outputs.htmlreport")
    maps = lazy_module("siting.outputs.maps")

#: What the children import as soon as they are forked.
MAP_MODULES = ("siting.outputs.maps",)
REPORT_MODULES = ("siting.outputs.figures", "siting.outputs.htmlreport", "matplotlib.backends.backend_agg",
                  "matplotlib.backends.backend_pdf")


@contextmanager
def report_page(folder: Path, summary: dict[str, Any], table: pd.DataFrame, drawn: dict[str, Any], *,
                enabled: bool = True) -> Iterator[None]:
    """Write the figures and ``report.html``, then run the body while ``report.pdf`` prints.

    ``drawn``: the keyword arguments of :func:`siting.outputs.figures.write_figures` (``points``, ``facilities``,
    ``subdistricts``, ``service_area``, ``extent``, ``chosen``), plus ``tables``: the page's extra tables (see
    :func:`siting.outputs.htmlreport.report_html`). The page embeds the PNG files just written
    (nothing is drawn twice); ``map.pdf`` is saved while Chromium prints. With ``enabled=False`` the body
    runs alone.
    """
    if not enabled:
        yield
        return
    tables = drawn.get("tables")
    figs = figures.write_figures(folder, summary=summary, table=table, map_pdf=False,
                                 **{k: v for k, v in drawn.items() if k != "tables"})
    images = {key: (folder / figures.FIGURE_FILES[key]).read_bytes() for key in figs}
    html_path = htmlreport.write_html(folder, summary, table, images, tables)
    with htmlreport.printing(html_path):
        figures.save_figure(figs["map"], folder / "map.pdf")
        yield


def write_report(folder: Path, summary: dict[str, Any], table: pd.DataFrame, drawn: dict[str, Any]) -> None:
    """Write the report chain into ``folder`` and wait for the PDF (what the report child runs)."""
    with report_page(folder, summary, table, drawn):
        pass


def write_map(path: Path, layers: dict[str, Any], *, self_contained: bool = True) -> None:
    """Draw :func:`siting.outputs.maps.coverage_map` of ``layers`` (its keyword arguments) and save it at ``path``."""
    maps.save_map(maps.coverage_map(**layers), path, self_contained=self_contained)


class Writers:
    """The children writing ``map.html`` and the report chain of one run (a context manager that ends them).

    Parameters
    ----------
    map_html, reports : bool
        Which children to fork (the outputs the run writes).
    """

    def __init__(self, *, map_html: bool = True, reports: bool = True, **_: Any) -> None:
        self.map = SideJob("map.html", MAP_MODULES) if map_html and forking() else None
        self.report = None
        if reports and forking():
            self.report = SideJob("the report", REPORT_MODULES, prepare=htmlreport.warm_browser)
        elif reports:
            htmlreport.warm_browser()

    def close(self) -> None:
        """End the children that are still running (and a browser started for a print that did not come)."""
        for job in (self.map, self.report):
            if job is not None:
                job.cancel()
        _browser.close_warm()

    def __enter__(self) -> Writers:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


@contextmanager
def reports_beside(writers: Writers | None, folder: Path, summary: dict[str, Any], table: pd.DataFrame,
                   drawn: dict[str, Any], *, enabled: bool = True) -> Iterator[None]:
    """Write the report chain while the body runs: in the report child when there is one, else here.

    When the body raises, the child is ended (nothing more is written into ``folder``).
    """
    job = writers.report if writers is not None and enabled else None
    if job is None:
        with report_page(folder, summary, table, drawn, enabled=enabled):
            yield
        return
    with job.running(write_report, folder, summary, table, drawn):
        yield


@contextmanager
def map_beside(writers: Writers | None, path: Path, layers: dict[str, Any], *, enabled: bool = True,
               self_contained: bool = True) -> Iterator[None]:
    """Write ``map.html`` at ``path`` while the body runs: in the map child when there is one, else first, here."""
    job = writers.map if writers is not None and enabled else None
    if job is None:
        if enabled:
            write_map(path, layers, self_contained=self_contained)
        yield
        return
    with job.running(write_map, path, layers, self_contained=self_contained):
        yield
