"""Private: the ``siting`` loggers, timed stages, and progress bars (``tqdm.auto``) that ``-q`` turns off.

The package logs as osmnx does, through the standard :mod:`logging` module: ``logging.getLogger("siting")``
carries a :class:`logging.NullHandler` (set by ``siting/__init__.py``), so nothing is printed unless the
application (or ``siting -v``) adds a handler. Stages log at INFO with their duration, caches their hits
and misses. Data problems are never logged only: they stay warnings (:mod:`siting.errors`).

Progress bars come from ``tqdm.auto`` (a widget in Jupyter, text in a terminal) and appear only after
:data:`DELAY_S` seconds, so fast steps print nothing. Whether they show at all is a context setting,
on by default and turned off for a block by :func:`no_progress` (what ``siting -q`` does); a function's
own ``progress`` argument, when given, wins.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from tqdm.auto import tqdm

#: Seconds before a progress bar shows (tqdm's ``delay``): steps quicker than this print nothing.
DELAY_S = 1.0
_PROGRESS: contextvars.ContextVar[bool] = contextvars.ContextVar("siting_progress", default=True)


def get_logger(name: str) -> logging.Logger:
    """Return the logger of module ``name`` (``siting.engine.network``...), a child of ``siting``."""
    return logging.getLogger(name)


@contextmanager
def timed(log: logging.Logger, what: str) -> Iterator[None]:
    """Log ``what`` at INFO when the block ends, with its duration (``"<what> in 0.42 s"``)."""
    t0 = time.perf_counter()
    yield
    log.info("%s in %.2f s", what, time.perf_counter() - t0)


@contextmanager
def no_progress() -> Iterator[None]:
    """Show no progress bar inside the block (in this thread or task only)."""
    token = _PROGRESS.set(False)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def progress_on(progress: bool | None = None) -> bool:
    """Return ``progress`` when given, else whether bars are on here (:func:`no_progress`)."""
    return _PROGRESS.get() if progress is None else bool(progress)


class NoBar:
    """What :func:`bar` returns when bars are off: iterates, counts and describes nothing, at no cost."""

    def __init__(self, iterable: Iterable[Any] | None = None) -> None:
        self.iterable = iterable if iterable is not None else ()
        self.n = 0

    def __iter__(self) -> Iterator[Any]:
        return iter(self.iterable)

    def __enter__(self) -> NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: float = 1) -> None:
        """Count ``n`` more (kept, shown nowhere)."""
        self.n += n  # type: ignore[assignment]

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        """Ignore the text."""

    def close(self) -> None:
        """Nothing to close."""


def bar(iterable: Iterable[Any] | None = None, *, desc: str, unit: str = "it", total: float | None = None,
        progress: bool | None = None, leave: bool = False) -> Any:
    """Return a ``tqdm.auto`` bar (shown after :data:`DELAY_S` s), or a :class:`NoBar` when bars are off."""
    if not progress_on(progress):
        return NoBar(iterable)
    return tqdm(iterable, desc=desc, unit=unit, total=total, delay=DELAY_S, leave=leave, dynamic_ncols=True)
