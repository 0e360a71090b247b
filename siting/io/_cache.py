r"""Cache files: read as a miss when unreadable, written atomically, each folder kept under its bound (LRU).

Unwritable folders give a warning and the run goes on. The cache lives in the user's cache folder of the
platform (``platformdirs``: ``$XDG_CACHE_HOME/siting`` or ``~/.cache/siting`` on Linux, ``~/Library/Caches/siting``
on macOS, ``%LOCALAPPDATA%\siting\Cache`` on Windows), or in ``$SITING_CACHE_DIR``, or in the ``cache_dir`` a
call is given. Its folders are :data:`FOLDERS`: each holds only files named as siting (or osmnx, for
``osmnx-http``) names them, and only such files are ever deleted — anything else a user puts there is left alone.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import platformdirs

from .._log import get_logger
from ..errors import CacheWarning

T = TypeVar("T")

#: What an unreadable cache file raises while loading (truncated, garbled, empty, a key missing).
UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, IndexError, TypeError)
_STALE_S = 3600.0
log = get_logger(__name__)
_MiB = 1 << 20


@dataclass(frozen=True)
class Folder:
    """A folder of the cache: what it holds, the names of the files written there, the most bytes it keeps."""

    path: str
    what: str
    names: re.Pattern[str]
    max_bytes: int


#: Every folder of the cache. ``inputs/`` is written by :mod:`siting.io._inputcache`; ``osmnx-http/`` by osmnx
#: (its responses, ``<sha1 of the URL>.json``), bounded each time a download starts (:func:`use_http_cache`).
FOLDERS = (
    Folder("networks/osm", "networks built from OSM files", re.compile(r"[0-9a-f]{32}-[a-z]+-v\d+\.npz"), 2048 * _MiB),
    Folder("networks/online", "networks downloaded", re.compile(r"[0-9a-f]{32}-[a-z]+-v\d+\.npz"), 1024 * _MiB),
    Folder("inputs", "prepared facilities, population and 街道", re.compile(r"[0-9a-f]{40}\.pkl"), 1024 * _MiB),
    Folder("osmnx-http", "downloaded Overpass / Nominatim responses", re.compile(r"[0-9a-f]{40}\.json"), 512 * _MiB),
)


def default_cache_dir() -> Path:
    """Return ``$SITING_CACHE_DIR``, else the platform's user cache folder for siting (``platformdirs``)."""
    given = os.environ.get("SITING_CACHE_DIR")
    return Path(given) if given else Path(platformdirs.user_cache_dir("siting", appauthor=False))


def folder_of(path: Path) -> Folder | None:
    """Return the cache folder (of :data:`FOLDERS`) that ``path``, a file in it, belongs to, by its folder's name."""
    return next((f for f in FOLDERS if path.parent.as_posix().endswith("/" + f.path)), None)


def cached_files(folder: Path, names: re.Pattern[str]) -> list[tuple[int, int, Path]]:
    """Return (mtime_ns, size, path) of the files in ``folder`` named as ``names`` says, newest first."""
    found = []
    if folder.is_dir():
        for p in folder.iterdir():
            if names.fullmatch(p.name):
                try:
                    st = p.stat()
                except OSError:
                    continue
                found.append((st.st_mtime_ns, st.st_size, p))
    return sorted(found, reverse=True)


def evict(folder: Path, names: re.Pattern[str], max_bytes: int) -> list[Path]:
    """Delete the least recently used files of ``folder`` named as ``names`` says, beyond ``max_bytes``.

    "Used" is the modification time: a cache hit touches its file (:func:`read_cached`). Only files whose names
    match are considered: anything else in the folder is not the cache's and is left alone. Returns the files
    deleted.
    """
    total, gone = 0, []
    for _, size, p in cached_files(folder, names):
        total += size
        if total > max_bytes:
            try:
                p.unlink()
                gone.append(p)
            except OSError:
                pass
    if gone:
        log.info("cache: %d file(s) deleted in %s (over %.0f MiB)", len(gone), folder, max_bytes / _MiB)
    return gone


def inventory(cache_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Return one row per cache folder: ``folder``, ``what``, ``files``, ``bytes``, ``max_bytes``, ``path``."""
    rows = []
    for f in FOLDERS:
        where = cache_folder(cache_dir, *f.path.split("/"))
        files = cached_files(where, f.names)
        rows.append({"folder": f.path, "what": f.what, "files": len(files), "bytes": sum(s for _, s, _ in files),
                     "max_bytes": f.max_bytes, "path": str(where)})
    return rows


def clear(cache_dir: str | Path | None = None, folders: tuple[str, ...] | None = None) -> tuple[int, int]:
    """Delete the cache's own files (of every folder, or of ``folders``); return (files, bytes) deleted.

    Files the cache did not write (other names, other folders) stay.
    """
    n = size = 0
    for f in FOLDERS:
        if folders is not None and f.path not in folders:
            continue
        for _, s, p in cached_files(cache_folder(cache_dir, *f.path.split("/")), f.names):
            try:
                p.unlink()
            except OSError:
                continue
            n, size = n + 1, size + s
    return n, size


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
        found = load(path)
    except UNREADABLE as exc:
        warnings.warn(f"the cache file {path} is unreadable ({type(exc).__name__}: {exc}); rebuilding it",
                      CacheWarning, stacklevel=3)
        return None
    try:
        os.utime(path)  # recently used: the last to go (see :func:`evict`)
    except OSError:
        pass
    return found


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
                  "(set `cache_dir` or SITING_CACHE_DIR to a writable folder)", CacheWarning, stacklevel=4)


def write_cached(path: Path | None, write: Callable[[IO[bytes]], None]) -> bool:
    """Store a cache file (see :func:`atomic_write`); False, with a warning, when the folder is not writable.

    The folder is then kept under its bound (:data:`FOLDERS`, :func:`evict`).
    """
    if path is None:
        return False
    try:
        _clean_stale(path.parent)
        atomic_write(path, write)
    except OSError as exc:
        _unwritable("the cache", path.parent, exc, "running without a cache")
        return False
    folder = folder_of(path)
    if folder is not None:
        evict(path.parent, folder.names, folder.max_bytes)
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
    if use:  # bounded before each download session (osmnx writes the files)
        http = next(f for f in FOLDERS if f.path == "osmnx-http")
        evict(folder, http.names, http.max_bytes)
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
