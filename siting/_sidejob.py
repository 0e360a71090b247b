"""Private: write one output in a forked child while the main process writes the others.

A :class:`SideJob` forks when it is created: the child imports the modules its output needs (folium for
``map.html``, matplotlib for the figures) while the main process is still reading the inputs, then waits.
:meth:`SideJob.run` hands it one call (pickled, through a pipe); the child runs it, keeps the warnings it
raised, and sends back the result or the exception. :meth:`SideJob.wait` returns the result, warns the
child's warnings again in the main process, and raises the child's exception.

Safety, as for the Chromium child of :mod:`siting.htmlreport`: the child is killed when siting dies
(Linux ``PR_SET_PDEATHSIG``; elsewhere it finds its pipe closed and exits), it writes only into the run's
temp folder (moved into place only when every job succeeded), and a child that dies is an error of the
run (:class:`~siting.errors.OutputError`), never a partial output. Without ``os.fork``, on a system other
than Linux, when no core is free for the child (other tasks are running on all but one of the cores this
process may use: a child would only take CPU from the main process), or with ``SITING_FORK=0``, no child
is forked and :meth:`SideJob.run` runs the call in the main process: the same files, one after the other.
``SITING_FORK=1`` forks whatever the load.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import os
import pickle
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from .errors import OutputError

_PR_SET_PDEATHSIG = 1
#: The main process's ends of the pipes of the side jobs still running (closed in every new child).
_PARENT_ENDS: set[int] = set()


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


def _packed(ok: bool, value: Any, caught: list[tuple[Any, type[Warning], str, int]]) -> bytes:
    """Pickle the child's answer; an exception that cannot be pickled travels as an OutputError with its text."""
    try:
        return pickle.dumps((ok, value, caught))
    except Exception as exc:  # noqa: BLE001 - anything unpicklable in the answer
        text = f"{type(value).__name__}: {value}" if not ok else f"result not picklable ({exc})"
        return pickle.dumps((False, OutputError(text), caught))


def _read_exactly(fd: int, size: int) -> bytes:
    """Read ``size`` bytes from ``fd`` (fewer only at end of file)."""
    parts, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _child(modules: tuple[str, ...], prepare: Callable[[], Any] | None, jobs: int, answers: int,
           prctl: Any) -> None:  # pragma: no cover - in the child
    """Run the forked child: prepare, import, wait for one call, run it, answer; never return (``os._exit``)."""
    code = 1
    try:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C: the child ends, the main process reports it
        gc.disable()  # one short call: a collection would touch (and so copy) every page shared with the parent
        for fd in _PARENT_ENDS:  # other side jobs' ends: their children must see their pipes close
            os.close(fd)
        failed: Exception | None = None
        try:
            if prepare is not None:
                prepare()
            for name in modules:
                importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - reported as the call's answer
            failed = exc
        size = int.from_bytes(_read_exactly(jobs, 8), "little")
        data = _read_exactly(jobs, size) if size else b""
        if not data:  # the main process gave up (an error before the outputs): nothing to do
            code = 0
            return
        with warnings.catch_warnings(record=True) as caught:
            ok, value = False, failed
            if failed is None:
                try:
                    func, args, kwargs = pickle.loads(data)
                    ok, value = True, func(*args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - sent to the main process, raised there
                    value = exc
        answer = _packed(ok, value, _recorded(caught))
        with os.fdopen(answers, "wb") as dst:
            dst.write(answer)
        code = 0
    finally:
        os._exit(code)


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
        self._sender: threading.Thread | None = None
        self._answers = -1
        self._jobs = -1
        self._local: tuple[bool, Any] | None = None
        if not forking():
            return
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here, not in the forked child
        jobs_r, jobs_w = os.pipe()
        answers_r, answers_w = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.close(jobs_w)
            os.close(answers_r)
            _child(modules, prepare, jobs_r, answers_w, prctl)
        os.close(jobs_r)
        os.close(answers_w)
        self.pid, self._jobs, self._answers = pid, jobs_w, answers_r
        _PARENT_ENDS.update((jobs_w, answers_r))

    def run(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Hand the child ``func(*args, **kwargs)`` (``func`` a module-level function); without a child, run it now.

        Returns at once: the call is pickled here and written to the child by a thread (the child may
        still be importing).
        """
        if self.pid is None:
            try:
                self._local = (True, func(*args, **kwargs))
            except Exception as exc:  # noqa: BLE001 - raised by wait(), as from a child
                self._local = (False, exc)
            return
        data = pickle.dumps((func, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        fd, self._jobs = self._jobs, -1
        _PARENT_ENDS.discard(fd)

        def send() -> None:
            try:
                with os.fdopen(fd, "wb") as dst:
                    dst.write(len(data).to_bytes(8, "little"))
                    dst.write(data)
            except OSError:  # the child died; wait() says so
                pass

        self._sender = threading.Thread(target=send, name=f"siting-{self.what}", daemon=True)
        self._sender.start()

    def wait(self) -> Any:
        """Wait for the child's answer: return the call's result, warn its warnings, raise its exception.

        Raises
        ------
        OutputError
            When the child died without answering (killed, out of memory).
        """
        if self.pid is None:
            if self._local is None:
                raise RuntimeError(f"{self.what}: wait() before run()")
            ok, value = self._local
            if not ok:
                raise value
            return value
        if self._sender is None:
            raise RuntimeError(f"{self.what}: wait() before run()")
        _PARENT_ENDS.discard(self._answers)
        with os.fdopen(self._answers, "rb") as src:
            self._answers = -1
            data = src.read()
        self._sender.join()
        status = self._reap()
        if not data:
            how = f"signal {-status}" if status < 0 else f"exit code {status}"
            raise OutputError(f"the process writing {self.what} died ({how}); nothing was written")
        ok, value, caught = pickle.loads(data)
        for message, category, filename, lineno in caught:
            warnings.warn_explicit(message, category, filename, lineno)
        if not ok:
            raise value
        return value

    def _reap(self) -> int:
        """Wait for the child to end; return its exit code (negative: the signal that ended it)."""
        if self.pid is None:
            return 0
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        return os.waitstatus_to_exitcode(status)

    def cancel(self) -> None:
        """End the child (if any) without waiting for its output."""
        for fd in (self._jobs, self._answers):
            if fd >= 0:
                _PARENT_ENDS.discard(fd)
                os.close(fd)
        self._jobs = self._answers = -1
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:  # pragma: no cover - already gone
                pass
            self._reap()

    def __enter__(self) -> SideJob:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.cancel()
