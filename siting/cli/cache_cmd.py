"""``siting cache info`` / ``siting cache clear``: what the cache holds, where, and how much; emptying it.

Only the files the cache writes are counted and deleted (:data:`siting.io._cache.FOLDERS`): anything else in
the folder is left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._lazy import lazy_module
from ._options import InputOptions, group_option
from ._verbosity import add_verbosity
from .commands import _friendly, app

if TYPE_CHECKING:
    from ..io import _cache
else:  # platformdirs only when the command runs
    _cache = lazy_module("siting.io._cache")

#: ``--only`` choices → cache folders.
KINDS = {"networks": ("networks/osm", "networks/online"), "inputs": ("inputs",), "downloads": ("osmnx-http",)}


@app.group("cache")
def cache_group() -> None:
    """See or empty siting's cache (networks, prepared inputs, downloads)."""


def _subcommand(name: str) -> Callable[[Callable[..., None]], Any]:
    def register(func: Callable[..., None]) -> Any:
        return add_verbosity(cache_group.command(name)(_friendly(func, "cache")))

    return register


def size(n: float) -> str:
    """Return a byte count in binary units, as the bounds are set (``0 B``, ``12.3 MiB``, ``2.0 GiB``)."""
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GiB"


@_subcommand("info")
@group_option(InputOptions, "cache_dir")
def info_cmd(cache_dir: Path | None) -> None:
    """Show where the cache is and what each folder holds (files, size, bound)."""
    rows = _cache.inventory(cache_dir)
    root = Path(cache_dir) if cache_dir else _cache.default_cache_dir()
    click.echo(f"cache: {root}")
    click.echo(f"{'folder':<18}{'files':>7}{'size':>12}{'bound':>12}  holds")
    for r in rows:
        click.echo(f"{r['folder']:<18}{r['files']:>7,}{size(r['bytes']):>12}{size(r['max_bytes']):>12}  {r['what']}")
    total = sum(r["bytes"] for r in rows)
    click.echo(f"{'total':<18}{sum(r['files'] for r in rows):>7,}{size(total):>12}")


@_subcommand("clear")
@group_option(InputOptions, "cache_dir")
@click.option("--only", type=click.Choice(sorted(KINDS)), multiple=True,
              help="clear only these (repeatable; default: everything)")
def clear_cmd(cache_dir: Path | None, only: tuple[str, ...]) -> None:
    """Delete the cache's files (only those it wrote); the next run rebuilds what it needs."""
    folders = tuple(f for kind in only for f in KINDS[kind]) if only else None
    n, freed = _cache.clear(cache_dir, folders)
    root = Path(cache_dir) if cache_dir else _cache.default_cache_dir()
    click.echo(f"deleted {n:,} file(s), {size(freed)}, in {root}")
