"""Private: write one output in a forked child while the main process writes the others.

A :class:`SideJob` is a one-worker :class:`concurrent.futures.ProcessPoolExecutor` on the ``fork`` start
method. Its child is forked when the job is created and, in the executor's initializer, imports the modules
its output needs (folium for ``map.html``, matplotlib for the figures) while the main process is still
reading the inputs. :meth:`SideJob.run` submits one call; the child runs it and keeps the warnings it
raised. :meth:`SideJob.wait` returns the result, warns the child's warnings again in the main process, and
raises the child's exception. What is written here by hand is only what the executor does not do: start
the child at once, kill it with siting, carry warnings across, and say which output a dead child was
writing.

Safety, as for the Chromium child of :mod:`siting.outputs.htmlreport`: the child is killed when siting dies
(Linux ``PR_SET_PDEATHSIG``), it writes only into the run's temp folder (moved into place only when every
job succeeded), and a child that dies is an error of the run (:class:`~siting.errors.OutputError`), never a
partial output. Without ``os.fork``, on a system other than Linux, when no core is free for the child
(other tasks are running on all but one of the cores this process may use: a child would only take CPU
from the main process), or with ``SITING_FORK=0``, no child is forked and :meth:`SideJob.run` runs the call
in the main process: the same files, one after the other. ``SITING_FORK=1`` forks whatever the load.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import multiprocessing
import os
import pickle
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from ..errors import OutputError

_PR_SET_PDEATHSIG = 1
#: What the child's initializer could not do (an import that failed): the answer of every call.
_FAILED: list[Exception] = []


def running_now() -> int:
    """Return how many tasks are running or ready to run on the machine now, this one included (``/proc/loadavg``)."""
    with open("/proc/loadavg", encoding="ascii") as fh:
        return int(fh.read().split()[3].split("/")[0])


def forking() -> bool:
    """Tell whether side jobs run in a forked child: on Linux, when a core is free for it (see the module docs)."""
    setting = os.environ.get("SITING_FORK", "")
    if setting == "0" or sys.platform != "linux" or not hasattr(os, "fork"):
        return False
    if setting == "1":
        return True
    try:
        others = running_now() - 1
    except (OSError, ValueError, IndexError):
        return False
    return len(os.sched_getaffinity(0)) - others >= 2  # one core for this process, one for the child


def _recorded(caught: Iterable[warnings.WarningMessage]) -> list[tuple[Any, type[Warning], str, int]]:
    """Return the caught warnings as picklable tuples (message, category, file, line)."""
    out = []
    for w in caught:
        message: Any = w.message
        try:
            pickle.dumps(message)
        except Exception:  # noqa: BLE001 - a warning that cannot travel is sent as its text
            message = str(message)
        out.append((message, w.category, w.filename, w.lineno))
    return out


def _start_child(modules: tuple[str, ...], prepare: Callable[[], Any] | None) -> None:  # pragma: no cover - child
    """Initialise the child: die with siting, ignore Ctrl-C's traceback, then prepare and import."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # no prctl: the executor still ends the child with the main process
        pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C: the child ends, the main process reports it
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the command's handler (siting.cli._signals)
    gc.disable()  # one short call: a collection would touch (and so copy) every page shared with the parent
    try:
        if prepare is not None:
            prepare()
        for name in modules:
            importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - reported as the answer of the call
        _FAILED.append(exc)


def _ready() -> None:
    """Do nothing: submitted at once so that the executor forks its child now."""


def _answer(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[bool, Any, list[Any]]:
    """Run ``func`` in the child; return (ok, result or exception, warnings), all picklable."""
    with warnings.catch_warnings(record=True) as caught:
        ok, value = False, _FAILED[0] if _FAILED else None
        if not _FAILED:
            try:
                ok, value = True, func(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - sent to the main process, raised there
                value = exc
    try:
        pickle.dumps(value)
    except Exception as exc:  # noqa: BLE001 - anything unpicklable in the answer travels as text
        text = f"{type(value).__name__}: {value}" if not ok else f"result not picklable ({exc})"
        ok, value = False, OutputError(text)
    return ok, value, _recorded(caught)


class SideJob:
    """One output written by a forked child (see the module docs); a context manager that ends the child.

    Parameters
    ----------
    what : str
        What the child writes, for messages (``"map.html"``).
    modules : tuple of str
        Modules the child imports as soon as it is forked.
    prepare : callable, optional
        Called in the child first (e.g. to start a browser the call will use).
    """

    def __init__(self, what: str, modules: tuple[str, ...] = (), prepare: Callable[[], Any] | None = None) -> None:
        self.what = what
        self.pid: int | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._process: Any = None
        self._future: Future[tuple[bool, Any, list[Any]]] | None = None
        self._local: tuple[bool, Any] | None = None
        if not forking():
            return
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                         initializer=_start_child, initargs=(modules, prepare))
        self._pool.submit(_ready)
        # the executor keeps its children by pid (typeshed: ProcessPoolExecutor._processes)
        self.pid, self._process = next(iter(self._pool._processes.items()))

    def run(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Hand the child ``func(*args, **kwargs)`` (``func`` a module-level function); without a child, run it now.

        Returns at once (the child may still be importing).
        """
        if self._pool is None:
            try:
                self._local = (True, func(*args, **kwargs))
            except Exception as exc:  # noqa: BLE001 - raised by wait(), as from a child
                self._local = (False, exc)
            return
        self._future = self._pool.submit(_answer, func, args, kwargs)

    def wait(self) -> Any:
        """Wait for the child's answer: return the call's result, warn its warnings, raise its exception.

        Raises
        ------
        OutputError
            When the child died without answering (killed, out of memory).
        """
        if self._pool is None:
            if self._local is None:
                raise RuntimeError(f"{self.what}: wait() before run()")
            ok, value = self._local
            if not ok:
                raise value
            return value
        if self._future is None:
            raise RuntimeError(f"{self.what}: wait() before run()")
        try:
            ok, value, caught = self._future.result()
        except BrokenProcessPool:
            how = self._end_status()
            self.cancel()
            raise OutputError(f"the process writing {self.what} died ({how}); nothing was written") from None
        self.cancel()
        for message, category, filename, lineno in caught:
            warnings.warn_explicit(message, category, filename, lineno)
        if not ok:
            raise value
        return value

    def _end_status(self) -> str:
        """How the dead child ended ("signal 9", "exit code 1"), once known.

        The executor's own thread may reap the child first (its waitpid wins, ours returns at once with
        no status): the status then appears on the shared process object a moment later.
        """
        self._process.join()
        for _ in range(200):
            status = self._process.exitcode
            if status is not None:
                return f"signal {-status}" if status < 0 else f"exit code {status}"
            time.sleep(0.005)
        return "status unknown"

    @contextmanager
    def running(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Iterator[None]:
        """Run ``func(*args, **kwargs)`` while the body runs (:meth:`run`), then :meth:`wait` for it.

        When the body raises, the child is ended instead (nothing more is written).
        """
        self.run(func, *args, **kwargs)
        try:
            yield
        except BaseException:
            self.cancel()
            raise
        self.wait()

    def cancel(self) -> None:
        """End the child (if any) without waiting for its output."""
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        pool.shutdown(wait=True, cancel_futures=True)
        self.pid = None

    def __enter__(self) -> SideJob:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.cancel()
