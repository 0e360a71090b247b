"""The one way siting writes an output folder: never lose a user's files, never leave half an output.

Every command writes through :func:`output_dir`::

    check_output(out, overwrite=overwrite, inputs=[osm, facilities])   # before computing
    ...
    with output_dir(out, overwrite=overwrite, inputs=[osm, facilities]) as tmp:
        (tmp / "summary.json").write_text(...)

The body writes into a fresh temp folder beside ``out`` (a short name, ``.siting-<pid>-<hex>.tmp``, so
a 250-byte ``out`` name still works); on success the folder is moved into place in one step:

- ``out`` absent: ``renameat2(RENAME_NOREPLACE)`` — a folder that appeared at ``out`` meanwhile is
  never replaced (the run fails with a clear error instead).
- ``out`` present and ``overwrite``: allowed only for a folder siting wrote (its ``summary.json``
  carries ``"generator": "siting …"``, or the folder is empty) holding nothing but the files its
  ``"manifest"`` lists (every file siting wrote there; a file added since is named and kept); then
  ``renameat2(RENAME_EXCHANGE)`` swaps old and new atomically and the old one (now at the temp name)
  is deleted. A kill at any moment leaves ``out`` either the old output or the new one, whole.

Refused always: the current folder, any folder above it, the home folder, ``/``, a folder holding an
input file, a symbolic link, a name over 255 bytes, a path over 4,096 bytes. Temp folders of
processes that no longer run are removed on the next run; a handled error removes its own. A full disk
(:func:`disk_full`) ends in one :class:`~siting.errors.OutputError` naming the folder, the old output kept.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import re
import secrets
import shutil
import time
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import OutputError
from ..io._tables import usual_mode

GENERATOR_KEY = "generator"
#: Key of ``summary.json`` listing every file siting wrote into the folder (relative POSIX paths).
MANIFEST_KEY = "manifest"
_TEMP = re.compile(r"^\.siting-(\d+)-[0-9a-f]{8}\.(tmp|old)$")
_NAME_MAX = 255
_PATH_MAX = 4096
# Outputs of siting versions before the generator marker: accepted for --overwrite when the folder
# holds nothing else (and a summary.json of ours).
_LEGACY_FILES = {"summary.json", "subdistricts.csv", "districts.csv", "points.gpkg", "facilities.gpkg",
                 "subdistricts.gpkg", "service_area.gpkg", "uncovered_places.csv", "map.html", "candidates.gpkg",
                 "chosen.gpkg", "before_after.csv"}


_UNSAFE = re.compile(r'[\x00-\x1f\x7f\\/:*?"<>|\s\ud800-\udfff]+')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
#: Longest folder name made from data (bytes, UTF-8): room for suffixes under the 255-byte limit.
NAME_BYTES = 120


def safe_name(name: object, fallback: str = "run") -> str:
    """Return a name from data (a district, a job, a scenario) as one folder name.

    The one sanitiser of every folder siting names after data: path separators, characters Windows or
    macOS refuse, control characters and spaces become ``_``; leading/trailing dots and ``_`` go (so
    ``../../X`` is ``X``, never a way up), Windows device names (``CON``, ``NUL``…) get a leading ``_``,
    and the name is cut to :data:`NAME_BYTES` bytes. ``fallback`` stands for a name left empty.
    """
    text = _UNSAFE.sub("_", unicodedata.normalize("NFC", str(name)).strip()).strip("._")
    if _RESERVED.match(text):
        text = "_" + text
    while len(text.encode("utf-8")) > NAME_BYTES:
        text = text[:-1]
    return text.rstrip("._") or fallback


def unique_names(names: Iterable[object], what: str, fallback: str = "run") -> dict[str, str]:
    """Map each name to its :func:`safe_name`; refuse two names whose folders would be the same.

    Folders are compared case-insensitively (macOS and Windows do). The error names both names and
    the folder; ``what`` says what the names are ("scenario", "district of job 'a'"…).
    """
    out: dict[str, str] = {}
    taken: dict[str, str] = {}
    for name in names:
        key = str(name)
        folder = safe_name(key, fallback)
        other = taken.setdefault(folder.casefold(), key)
        if other != key:
            raise OutputError(f"{what} names {other!r} and {key!r} give the same folder name {folder!r}; "
                              "rename one of them")
        out[key] = folder
    return out


def inside(root: Path, relative: str | Path) -> Path:
    """Return ``root / relative``, refusing a path that leaves ``root`` once resolved (``..``, symbolic links)."""
    base = root.resolve()
    path = (base / relative).resolve()
    if path == base or base not in path.parents:
        raise OutputError(f"folder {str(relative)!r} would be written outside {root}; refused")
    return path


def generator() -> str:
    """Return the marker value written into every ``summary.json``: ``"siting <version>"``."""
    return f"siting {__version__}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _temp_name() -> str:
    return f".siting-{os.getpid()}-{secrets.token_hex(4)}.tmp"


def clean_stale(folder: Path, name: str = "") -> list[Path]:
    """Remove siting temp folders in ``folder`` whose process is gone; return what was removed.

    Also removes ``.<name>.xxxxxxxx`` folders that siting versions before 0.1.1 left after a kill
    (older than an hour and holding nothing but siting output files).
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    legacy = re.compile(rf"^\.{re.escape(name)}\.[a-z0-9_]{{8}}$") if name else None
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            continue
        m = _TEMP.match(entry.name)
        stale = m is not None and not _alive(int(m.group(1)))
        if not stale and legacy is not None and legacy.match(entry.name):
            stale = _old_legacy_temp(Path(entry.path))
        if stale:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


def _old_legacy_temp(path: Path) -> bool:
    try:
        old = time.time() - path.stat().st_mtime > 3600
        return old and {p.name for p in path.iterdir()} <= _LEGACY_FILES
    except OSError:
        return False


def is_siting_output(folder: Path) -> bool:
    """Tell whether a folder is empty or one siting wrote (``summary.json`` with our generator marker)."""
    try:
        names = {p.name for p in folder.iterdir()}
    except OSError:
        return False
    if not names:
        return True
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(summary, dict):
        return False
    if str(summary.get(GENERATOR_KEY, "")).startswith("siting"):
        return True
    return names <= _LEGACY_FILES and {"coverage_rate", "population_total", "minutes"} <= set(summary)


def _files(folder: Path) -> list[str]:
    """Every file (and symbolic link) under ``folder``, as sorted relative POSIX paths; siting temp folders left out."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not _TEMP.match(d) and not os.path.islink(os.path.join(root, d))]
        links = [d for d in os.listdir(root) if os.path.islink(os.path.join(root, d)) and d not in files]
        out += [Path(root, f).relative_to(folder).as_posix() for f in [*files, *links]]
    return sorted(out)


def foreign_files(folder: Path) -> list[str]:
    """Return the files of a siting output folder its ``summary.json`` manifest does not list.

    Empty when everything there is siting's, and for folders written before the manifest (nothing to
    compare with). Such files are a user's (notes, a .docx added since): ``overwrite`` must not delete them.
    """
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    listed = summary.get(MANIFEST_KEY) if isinstance(summary, dict) else None
    if not isinstance(listed, list):
        return []
    known = {str(x) for x in listed} | {"summary.json"}
    return [f for f in _files(folder) if f not in known]


def record(folder: Path, path: Path) -> None:
    """Add ``path`` (a file siting just wrote inside the output ``folder``) to the folder's manifest."""
    summary_path = folder / "summary.json"
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        name = path.resolve().relative_to(folder.resolve()).as_posix()
    except (OSError, ValueError):
        return
    listed = summary.get(MANIFEST_KEY) if isinstance(summary, dict) else None
    if not isinstance(listed, list) or name in listed:
        return
    summary[MANIFEST_KEY] = sorted({*map(str, listed), name})
    tmp = summary_path.with_name(f".summary.json.{secrets.token_hex(4)}")
    tmp.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, summary_path)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output(out: str | Path, *, overwrite: bool = False, inputs: Iterable[Any] = ()) -> Path:
    """Refuse an output path before any work (see the module docs); return it as a :class:`Path`."""
    path = Path(out)
    text = os.fsencode(str(path.absolute()))
    if len(text) >= _PATH_MAX:
        raise OutputError(f"output path is {len(text):,} bytes long; the system limit is {_PATH_MAX - 1:,}")
    for part in path.absolute().parts:
        if len(os.fsencode(part)) > _NAME_MAX:
            raise OutputError(f"output folder name {part[:40]}… is {len(os.fsencode(part))} bytes; "
                              f"names may be at most {_NAME_MAX} bytes")
    if path.is_symlink():
        raise OutputError(f"output path {path} is a symbolic link; give the real folder")
    full = path.resolve()
    cwd = Path.cwd().resolve()
    if _inside(cwd, full):
        raise OutputError(f"`out` {path} is the current folder or a folder above it; give a new folder")
    if full == Path.home().resolve() or full == Path(full.anchor):
        raise OutputError(f"`out` {path} is the home or root folder; give a new folder")
    for given in inputs:
        if given is None or not isinstance(given, str | os.PathLike):
            continue
        if _inside(Path(given).resolve(), full):
            raise OutputError(f"`out` {path} contains the input file {given}; give another folder")
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise OutputError(f"output path {path} exists and is not a folder")
        if not overwrite:
            raise OutputError(f"output folder {path} already exists; use overwrite=True to replace it")
        if not is_siting_output(full):
            raise OutputError(f"overwrite=True replaces only a folder written by siting (with its summary.json) "
                              f"or an empty one; {path} is neither, so it is left alone")
        extra = foreign_files(full)
        if extra:
            shown = ", ".join(extra[:8]) + (f" and {len(extra) - 8} more" if len(extra) > 8 else "")
            raise OutputError(f"{path} holds file(s) siting did not write: {shown}; overwrite=True would delete "
                              "them, so the folder is left alone (move them out first)")
    return path


_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2`` (Linux); False when the system has none, OSError on failure."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    func = getattr(libc, "renameat2", None)
    if func is None:
        return False
    rc = func(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), ctypes.c_uint(flags))
    if rc != 0:
        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EINVAL):
            return False
        raise OSError(err, os.strerror(err), str(dst))
    return True


def _move_in(tmp: Path, out: Path, overwrite: bool) -> Path | None:
    """Move ``tmp`` to ``out``; return the old folder's new place (to delete) when one was replaced."""
    try:
        if _renameat2(tmp, out, _RENAME_NOREPLACE):
            return None
    except FileExistsError:
        pass
    else:
        # No renameat2: check, then rename (a tiny race remains on such systems).
        if not out.exists():
            os.rename(tmp, out)
            return None
    if not overwrite:
        raise OutputError(f"output folder {out} appeared while siting was running; it is left alone "
                          "and nothing was written (use overwrite=True to replace it)")
    if out.is_symlink() or not out.is_dir() or not is_siting_output(out):
        raise OutputError(f"output folder {out} was replaced while siting was running by something siting did "
                          "not write; it is left alone and nothing was written")
    if _renameat2(tmp, out, _RENAME_EXCHANGE):
        if not is_siting_output(tmp):  # changed between the check and the swap: put it back
            _renameat2(tmp, out, _RENAME_EXCHANGE)
            raise OutputError(f"output folder {out} changed while siting was running; it is left alone")
        return tmp
    old = tmp.with_name(tmp.name[:-4] + ".old")
    os.rename(out, old)
    os.rename(tmp, out)
    return old


def _stamp(folder: Path) -> None:
    """Make sure ``summary.json`` carries the generator marker and the manifest of the folder's files."""
    path = folder / "summary.json"
    summary: dict[str, Any] = {}
    if path.exists():
        summary = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(summary, dict):
            return
    files = _files(folder)
    rest = {k: v for k, v in summary.items() if k not in (GENERATOR_KEY, MANIFEST_KEY)}
    summary = {GENERATOR_KEY: generator(), **rest, MANIFEST_KEY: sorted({*files, "summary.json"})}
    path.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")


#: The errors of a full disk or quota (``errno``), and how writers that wrap them (GDAL through pyogrio, SQLite)
#: word them.
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_FULL_WORDS = ("no space left on device", "disk quota exceeded", "database or disk is full", "file too large")


def disk_full(exc: BaseException) -> bool:
    """Return whether ``exc`` (or an error it was raised from) says the disk is full or over quota."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno in _FULL:
            return True
        if any(words in str(cur).lower() for words in _FULL_WORDS):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


@contextmanager
def output_dir(out: str | Path, *, overwrite: bool = False, inputs: Iterable[Any] = ()) -> Iterator[Path]:
    """Write an output folder safely: yield a fresh temp folder, then move it to ``out`` in one step.

    Nothing is written at ``out`` when the body raises, and the temp folder is removed.
    """
    inputs = list(inputs)
    path = check_output(out, overwrite=overwrite, inputs=inputs)
    full = path.parent.resolve() / path.name
    try:
        full.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(full.parent, full.name)
        tmp = full.parent / _temp_name()
        tmp.mkdir()
    except OSError as exc:
        raise OutputError(f"cannot write into {full.parent}: {exc.strerror or exc}") from exc
    old: Path | None = None
    try:
        yield tmp
        _stamp(tmp)
        for p in [tmp, *tmp.rglob("*")]:
            usual_mode(p)
        check_output(out, overwrite=overwrite, inputs=inputs)
        try:
            old = _move_in(tmp, full, overwrite)
        except OutputError:
            raise
        except OSError as exc:
            raise OutputError(f"cannot move the new output into {path}: {exc.strerror or exc}") from exc
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)  # deleting frees space: it works on a full disk too
        if disk_full(exc):
            kept = " (the old output is kept as it was)" if full.exists() else ""
            raise OutputError(f"the disk holding {full.parent} is full: writing {path} stopped and nothing was "
                              f"written there{kept}; free some space and run again") from exc
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
