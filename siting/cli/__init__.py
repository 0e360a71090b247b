"""The ``siting`` command line (click): the top stage.

``siting.cli`` owns the commands (``commands``: ``coverage``, ``site``, ``compare``, ``access``, ``map``,
``batch``; ``app_cmd``: ``app``; ``extract_cmd``: ``extract``), their shared option groups (``_options``) and the
batch jobs on Dask (``batch``, ``_jobs``). It
is thin: it parses arguments and calls the stages below it, any of which it may import; nothing imports it.
"""

from __future__ import annotations

from . import app_cmd, cache_cmd, extract_cmd  # noqa: F401  (they register their commands)
from .commands import app

__all__ = ["app"]
