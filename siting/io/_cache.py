"""Files in the network cache: read them as a miss when unreadable, write them atomically, or warn and go on."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")

#: What an unreadable cache file raises while loading (truncated, garbled, empty, a key missing).
UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, IndexError, TypeError)
_STALE_S = 3600.0


def default_cache_dir() -> Path:
    """Return ``$SITING_CACHE_DIR``, else ``~/.cache/siting``."""
    return Path(os.environ.get("SITING_CACHE_DIR", Path.home() / ".cache" / "siting"))


def cache_folder(cache_dir: str | Path | None, *parts: str) -> Path:
    """Return a folder of the cache (``cache_dir`` or :func:`default_cache_dir`), e.g. ``osmnx-http``."""
    return Path(cache_dir or default_cache_dir()).joinpath(*parts)


def cache_path(cache_dir: str | Path | None, kind: str, key: str) -> Path:
    """Return the npz file of a cached network: ``networks/<kind>/<key>.npz`` in the cache folder."""
    return cache_folder(cache_dir, "networks", kind) / f"{key}.npz"


def file_digest(path: str | Path) -> str:
    """Return the sha256 (hex) of a file's bytes, read in 1 MiB chunks. Raises OSError."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def read_cached(path: Path | None, load: Callable[[Path], T]) -> T | None:
    """``load(path)``, or None when there is no cache file or it cannot be read (warned once; it is rebuilt)."""
    if path is None or not path.exists():
        return None
    try:
        return load(path)
    except UNREADABLE as exc:
        warnings.warn(f"the cache file {path} is unreadable ({type(exc).__name__}: {exc}); rebuilding it",
                      stacklevel=3)
        return None


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` through a uniquely named temp file beside it, then rename it into place.

    Concurrent writers never share a temp name, so each rename installs a whole file. Raises OSError.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _unwritable(what: str, folder: Path, exc: OSError, instead: str) -> None:
    """Warn (at the caller's caller) that ``what`` cannot be written in ``folder``, so the run goes on ``instead``."""
    warnings.warn(f"cannot write {what} in {folder} ({exc.strerror or exc}); {instead} "
                  "(set `cache_dir` or SITING_CACHE_DIR to a writable folder)", stacklevel=4)


def write_cached(path: Path | None, write: Callable[[IO[bytes]], None]) -> bool:
    """Store a cache file (see :func:`atomic_write`); False, with a warning, when the folder is not writable."""
    if path is None:
        return False
    try:
        _clean_stale(path.parent)
        atomic_write(path, write)
    except OSError as exc:
        _unwritable("the cache", path.parent, exc, "running without a cache")
        return False
    return True


def use_http_cache(settings: Any, folder: Path, use: bool = True) -> bool:
    """Point osmnx's HTTP cache (``settings``: ``osmnx.settings``) at ``folder``, if it can be written.

    A folder that cannot be created or written (read-only, a file in its place) gives a warning and
    the downloads go on without a cache, as for the network cache (:func:`write_cached`).

    Parameters
    ----------
    settings : module or object
        ``osmnx.settings`` (its ``use_cache`` and ``cache_folder`` are set).
    folder : Path
        The cache folder.
    use : bool
        False: no HTTP cache at all.

    Returns
    -------
    bool
        Whether the cache is used.
    """
    if use:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            _unwritable("the download cache", folder, exc, "downloading without a cache")
            use = False
    settings.use_cache = use
    settings.cache_folder = str(folder)
    return use


def _clean_stale(folder: Path) -> None:
    """Temp files of writers killed more than an hour ago."""
    if not folder.is_dir():
        return
    now = time.time()
    for p in folder.glob(".*.tmp"):
        try:
            if now - p.stat().st_mtime > _STALE_S:
                p.unlink()
        except OSError:
            pass
