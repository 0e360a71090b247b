"""Ctrl-C and ``kill``: a command ends with the shell's codes (130, 143) and leaves no temp folder behind.

Python turns SIGINT into ``KeyboardInterrupt``; :func:`interruptible` turns SIGTERM into
:class:`Terminated` as well, so both unwind the command like any error: the output folder's
``except BaseException`` removes its temp folder, forked writers and Chromium are stopped, and ``--out``
keeps what it held. The command then exits 128 + the signal number, as a shell reports a killed
process: 130 for Ctrl-C, 143 for ``kill`` (click alone says "Aborted!" and exits 1).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click

__all__ = ["Terminated", "interruptible"]


class Terminated(BaseException):  # noqa: N818 (named after the signal, like KeyboardInterrupt)
    """SIGTERM arrived: unwind (a BaseException, so no ``except Exception`` swallows it)."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


@contextmanager
def interruptible() -> Iterator[None]:
    """Run the body with SIGTERM raising :class:`Terminated`; exit 130 on Ctrl-C, 143 on SIGTERM."""
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGTERM, _terminate) if main else None
    try:
        yield
    except KeyboardInterrupt:
        click.echo("\ninterrupted (Ctrl-C); no partial output was left", err=True)
        raise click.exceptions.Exit(128 + signal.SIGINT) from None
    except Terminated:
        click.echo("terminated (SIGTERM); no partial output was left", err=True)
        raise click.exceptions.Exit(128 + signal.SIGTERM) from None
    finally:
        if main:
            signal.signal(signal.SIGTERM, old)
