"""Private: the prepared inputs of a run (facilities, population, 街道), cached by what made them.

A warm run reads its street network from the network cache (:meth:`siting.engine.network.Network.from_osm`),
but the other inputs were read, checked, converted and weighted again every time: about 0.15 s of a
1 s run on the README job. They are a pure function of the input files' bytes, the options, the
versions of the libraries that parse them and siting's own code, so the CLI caches them keyed by all
of those (sha256 of each file and of every module of the package), with the warnings their
preparation gave, which a hit gives again in the same order. Anything else is a miss: a changed or
missing file, another option, an edited module, an upgraded pandas. Cache files are pickles in the
user's own cache folder (``inputs/<key>.pkl``), written atomically; an unreadable one is a miss and
is rewritten (:func:`siting.io._cache.read_cached`); the folder keeps at most :data:`MAX_BYTES`, the least
recently used files going first.

Written by hand: joblib's ``Memory`` would key on the arguments (file names), not on the files'
bytes, and cannot replay warnings.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, lru_cache
from pathlib import Path
from typing import IO, Any, TypeVar

from .._log import get_logger
from ._cache import atomic_write, cache_folder, read_cached
from ._cache import evict as evict_lru
from ._cache import file_digest as sha256_of

T = TypeVar("T")

#: Bump when the cached tuple changes shape.
FORMAT = 1
#: The most the inputs cache keeps (least recently used files go first; one file at most a quarter of it).
MAX_BYTES = 1 << 30
log = get_logger(__name__)
_NAME = re.compile(r"[0-9a-f]{40}\.pkl")
#: Libraries whose version can change how the same bytes are parsed (see :func:`_installed`).
LIBRARIES = ("numpy", "pandas", "shapely", "pyproj", "geopandas", "pyogrio")


@cache
def code_digest() -> str:
    """Return the sha256 of siting's own modules (every ``.py`` under the package, by relative path)."""
    root = Path(__file__).parents[1]  # the whole package
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=64)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    return sha256_of(path)  # memoised per (path, size, mtime)


def file_digest(path: str | Path) -> str | None:
    """Return a file's sha256 (memoised while its size and mtime stay), or None when it is no readable file.

    An Excel sheet written ``book.xlsx#SHEET`` is the workbook's digest (the sheet name is an option).
    """
    p = Path(path)
    if not p.is_file() and "#" in p.name:
        p = p.with_name(p.name.rsplit("#", 1)[0])
    try:
        st = p.stat()
        return _file_digest(str(p.resolve()), st.st_size, st.st_mtime_ns) if p.is_file() else None
    except OSError:
        return None


def _installed(excel: bool) -> dict[str, Any]:
    """Fingerprint the installed libraries that parse the inputs (openpyxl too for Excel files).

    Each package's ``__init__.py`` location, size and modification time: an upgrade rewrites it. Found
    without importing them (``find_spec``): making a key must not import pyogrio or openpyxl.
    """
    found: dict[str, Any] = {}
    for name in LIBRARIES + (("openpyxl",) if excel else ()):
        spec = importlib.util.find_spec(name)
        try:
            st = Path(spec.origin).stat() if spec is not None and spec.origin else None
        except OSError:
            st = None
        found[name] = [spec.origin, st.st_size, st.st_mtime_ns] if spec is not None and st is not None else None
    return found


def cache_key(files: dict[str, Any], options: dict[str, Any]) -> str | None:
    """Return the key of prepared inputs, or None when one of ``files`` is not a readable file (no caching).

    ``files``: role → path, list of paths or None; ``options``: everything else that shapes them
    (JSON-serialisable, paths as text).
    """
    digests: dict[str, Any] = {}
    excel = False
    for role, value in files.items():
        paths = [p for p in (value if isinstance(value, list | tuple) else [value]) if p is not None]
        found = [file_digest(p) for p in paths]
        if None in found:
            return None
        digests[role] = found
        excel = excel or any(".xls" in Path(p).name.lower() for p in paths)
    text = json.dumps({"format": FORMAT, "files": digests, "options": options, "code": code_digest(),
                       "libraries": _installed(excel)}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def prepared(cache_dir: str | Path | None, key: str | None, make: Callable[[], T]) -> T:
    """Return ``make()``, from the cache when ``key`` is stored there (None: no caching), its warnings given.

    A miss runs ``make`` with its warnings recorded, stores the result (when ``key`` is set) and gives the
    warnings; a hit gives the stored ones: either way the caller sees the same warnings in the same order.
    """
    path = cache_file(cache_dir, key) if key else None
    found = read(path) if path else None
    if found is not None:
        result, caught = found
        log.info("inputs cache hit: %s", path)
    else:
        log.info("inputs cache %s: preparing the inputs", "miss" if path else "off")
        with recording() as caught:
            result = make()
        if path:
            write(path, result, caught)
    replay(caught)
    return result


#: The arguments of :func:`siting.pipeline.prepare_inputs` that are files (their bytes go into the key).
FILE_ARGUMENTS = ("osm", "facilities", "population", "census", "sub_files", "boundaries", "age_shares")


def inputs_key(args: dict[str, Any]) -> str | None:
    """Return the :func:`cache_key` of ``prepare_inputs(**args)``: its files, and its other arguments as options.

    The OSM file counts only when it stands in for facilities, population or 街道 (the network has its own
    cache); file names count as given (outputs name their sources); ``cache_dir`` does not count.
    """
    files = {name: args[name] for name in FILE_ARGUMENTS}
    if all(args[name] is not None for name in ("facilities", "population", "boundaries")):
        files["osm"] = None
    options = {name: value for name, value in args.items() if name != "cache_dir"}
    return cache_key(files, json.loads(json.dumps(options, default=str)))


def cache_file(cache_dir: str | Path | None, key: str) -> Path:
    """Return the cache file of prepared inputs: ``inputs/<key>.pkl`` in the cache folder."""
    return cache_folder(cache_dir, "inputs") / f"{key}.pkl"


def read(path: Path) -> tuple[Any, list[tuple[type[Warning], Warning | str, str, int]]] | None:
    """Return (prepared inputs, their warnings) from ``path``, or None (no file, or an unreadable one)."""

    def load(p: Path) -> Any:
        with open(p, "rb") as fh:
            try:
                found = pickle.load(fh)
            except (pickle.UnpicklingError, AttributeError, ImportError) as exc:
                raise ValueError(f"not a siting inputs cache: {exc}") from None
        if not (isinstance(found, tuple) and len(found) == 3 and found[0] == FORMAT):
            raise ValueError("not a siting inputs cache")
        return found[1:]

    found = read_cached(path, load)
    if found is not None:
        try:
            os.utime(path)  # recently used: the last to go (see :func:`evict`)
        except OSError:
            pass
    return found


def write(path: Path, prepared: Any, caught: list[tuple[type[Warning], Warning | str, str, int]]) -> bool:
    """Store prepared inputs and their warnings; False (silently: the network cache warns) when it cannot."""
    try:
        blob = pickle.dumps((FORMAT, prepared, caught), protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(blob)  # a warning that cannot be rebuilt (its class takes other arguments) would fail a hit
        if len(blob) > MAX_BYTES // 4:
            return False  # one city-wide population would crowd out everything else
        atomic_write(path, lambda fh: _write_all(fh, blob))
    except Exception:  # noqa: BLE001 - no cache, same result: an object that does not pickle, a full disk...
        return False
    evict(path.parent)
    return True


def evict(folder: Path, max_bytes: int | None = None) -> list[Path]:
    """Delete the least recently used cache files of ``folder`` beyond ``max_bytes`` (:data:`MAX_BYTES`).

    Only files named as this module names them (``<40 hex digits>.pkl``) are considered: anything else in
    the folder is not ours and is left alone. Returns the files deleted.
    """
    return evict_lru(folder, _NAME, MAX_BYTES if max_bytes is None else max_bytes)


def _write_all(fh: IO[bytes], blob: bytes) -> None:
    fh.write(blob)


@contextmanager
def recording() -> Iterator[list[tuple[type[Warning], Warning | str, str, int]]]:
    """Record the warnings of the body (all of them: category, the warning itself, file, line), not showing them.

    Show them afterwards with :func:`replay`, whether the body ran or its result came from the cache.
    """
    caught: list[tuple[type[Warning], Warning | str, str, int]] = []
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                yield caught
            finally:
                caught += [(w.category, w.message, w.filename, w.lineno) for w in seen]
    except BaseException:
        replay(caught)  # what was said before the error is still said
        raise


def replay(caught: list[tuple[type[Warning], Warning | str, str, int]]) -> None:
    """Give recorded warnings again, in order, through the warning filters in force now.

    One registry for the lot: a warning the filters show "once per location" is shown once, as it was.
    """
    registry: dict[Any, Any] = {}
    for category, text, filename, lineno in caught:
        warnings.warn_explicit(text, category, filename, lineno, registry=registry)
