"""Private: ``-v/--verbose`` and ``-q/--quiet`` on every ``siting`` command.

``-v`` prints the library's log lines (``logging.getLogger("siting")``: stages, their timings, cache hits
and misses) on stderr, ``-vv`` its debug lines too; ``-q`` turns off the progress bars (and, for commands
that print a table, the table). Warnings are shown either way: they are about the data, not chatter.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from .._lazy import lazy_module

if TYPE_CHECKING:
    from .. import _log
else:  # tqdm.auto only when a command runs, not for `siting --help`
    _log = lazy_module("siting._log")

#: The name of the ``-q`` option added to a command that has none of its own (it is taken out before the call).
ADDED_QUIET = "log_quiet"
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def add_verbosity(command: click.Command) -> click.Command:
    """Give ``command`` a counted ``-v/--verbose`` and, when it has no ``quiet`` option yet, ``-q/--quiet``."""
    command.params.append(click.Option(["-v", "--verbose", "verbose"], count=True, show_default=False,
                                       help="log the stages, their timings and cache hits on stderr (-vv: more)"))
    if not any(p.name == "quiet" for p in command.params):
        command.params.append(click.Option(["--quiet", "-q", ADDED_QUIET], is_flag=True, help="no progress bars"))
    return command


@contextmanager
def verbosity(kwargs: dict[str, Any]) -> Iterator[None]:
    """Apply (and take out of ``kwargs``) the command's ``-v`` count and the ``-q`` added by :func:`add_verbosity`.

    The handler is added to the ``siting`` logger for the command only and removed afterwards.
    """
    count = int(kwargs.pop("verbose", 0) or 0)
    quiet = bool(kwargs.pop(ADDED_QUIET, False) or kwargs.get("quiet", False))
    output = kwargs.get("output")
    quiet = quiet or bool(getattr(output, "quiet", False))
    logger = logging.getLogger("siting")
    handler: logging.Handler | None = None
    level = logger.level
    if count:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO if count == 1 else logging.DEBUG)
    try:
        if quiet:
            with _log.no_progress():
                yield
        else:
            yield
    finally:
        if handler is not None:
            logger.removeHandler(handler)
            logger.setLevel(level)
