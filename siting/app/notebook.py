"""The workbench in a Jupyter cell: the app of ``siting app``, served from the kernel and shown in an iframe.

Why an iframe of the served app rather than a widget (anywidget, ipyleaflet): the page, its API and its
safety checks are exactly those of ``siting app`` (one code path, tested once in a real browser), where a
widget would be a second page to write and keep in step. The server runs in a daemon thread of the kernel
(uvicorn on 127.0.0.1, a free port, a new token) and lives as long as the kernel; one per workbench.

The browser showing the notebook must reach the kernel's 127.0.0.1: true for a local Jupyter, not for a
remote JupyterHub (there, run ``siting app`` behind an SSH tunnel instead).
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from ..workbench import Workbench
from .server import start_background

__all__ = ["show"]

_RUNNING: weakref.WeakKeyDictionary[Workbench, tuple[str, Any]] = weakref.WeakKeyDictionary()


def url_of(wb: Workbench, *, save_dir: str | Path = ".") -> str:
    """Return the URL (with token) of ``wb``'s app, starting its background server on first use."""
    running = _RUNNING.get(wb)
    if running is None or running[1].should_exit:
        running = start_background(wb, save_dir=save_dir)
        _RUNNING[wb] = running
    return running[0]


def show(wb: Workbench, *, width: str | int = "100%", height: int = 680, save_dir: str | Path = ".") -> Any:
    """Show the workbench's app in a notebook cell; edits there change ``wb`` (and ``wb`` edits show on reload).

    Parameters
    ----------
    wb : Workbench
        The workbench to edit.
    width, height : str or int
        Size of the iframe.
    save_dir : str or Path
        Folder where the app may write files.

    Returns
    -------
    IPython.display.IFrame
        Displayed when it is the cell's last value.
    """
    from IPython.display import IFrame

    return IFrame(url_of(wb, save_dir=save_dir), width=width, height=height)
