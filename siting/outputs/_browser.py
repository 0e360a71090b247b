"""Private: headless Chromium started before its page exists, then told to print it to PDF.

Chromium takes ~0.5 s to start, longer than it takes to print ``report.html``. :func:`warm` starts it
with the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON messages, NUL-terminated, on the
child's file descriptors 3 and 4) as soon as a run knows it will print, while the inputs load; when the page
is written, :meth:`Browser.print_pdf` opens it in a new tab and asks for the PDF (``Page.printToPDF`` with
the page's own A4 size, no header or footer: the same file as ``--print-to-pdf --no-pdf-header-footer``).
:class:`WarmPrint` runs that in a thread beside the caller's other writing; when anything fails it says
so and the caller prints the old way (:func:`siting.outputs.htmlreport.start_pdf`). The browser is killed with
siting (``PR_SET_PDEATHSIG``, as every Chromium siting starts).

Why by hand: the libraries that drive Chromium (playwright, selenium, pyppeteer) start a driver process of
their own (playwright's Node server, chromedriver) that costs as much as the browser start this module
exists to hide, and pyppeteer is unmaintained; siting needs five protocol messages over a pipe
(``Target.createTarget``, ``Target.attachToTarget``, ``Page.enable``, ``Page.navigate``, ``Page.printToPDF``),
so it speaks them itself and falls back to Chromium's own ``--print-to-pdf``.
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: Print options of ``Page.printToPDF``: the page's CSS size (A4), no header/footer, no background colours
#: (what ``--print-to-pdf --no-pdf-header-footer`` does).
PRINT = {"preferCSSPageSize": True, "displayHeaderFooter": False, "printBackground": False}
#: Events that mean the page is gone (its renderer crashed): the print fails at once instead of timing out.
GONE = {"Inspector.detached", "Target.detachedFromTarget", "Target.targetCrashed", "Inspector.targetCrashed"}


class ProtocolError(RuntimeError):
    """The browser closed its pipe, answered with an error, or did not answer in time."""


class Browser:
    """A headless Chromium speaking the DevTools protocol on a pipe (see the module docs).

    Parameters
    ----------
    exe : str
        The Chromium executable.
    args : sequence of str
        Its flags (``--headless`` ...); ``--remote-debugging-pipe`` and ``about:blank`` are added.
    preexec : callable or None
        Run in the child before Chromium starts (e.g. ``PR_SET_PDEATHSIG``).
    """

    def __init__(self, exe: str, args: Sequence[str], preexec: Callable[[], None] | None = None) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def setup() -> None:  # pragma: no cover - runs in the child between fork and exec
            a, b = os.dup(to_browser_r), os.dup(from_browser_w)  # above 4 first: the pipe may sit on 3 or 4
            os.dup2(a, 3)
            os.dup2(b, 4)
            if preexec is not None:
                preexec()

        try:
            # Chromium inherits 0-2 and the pipe on 3 and 4 only. `setup` puts the pipe there after the fork and
            # `close_fds` closes the rest after it; both numbers are open in this process (the pipes just made
            # took the lowest free ones), as `pass_fds` requires
            self.proc = subprocess.Popen([exe, *args, "--remote-debugging-pipe", "about:blank"],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         preexec_fn=setup, close_fds=True, pass_fds=(3, 4))
        finally:
            os.close(to_browser_r)
            os.close(from_browser_w)
        self._buffer = b""
        self._next = 0
        self._events: list[dict[str, Any]] = []  # events that came while an answer was awaited

    def _send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        try:
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        except OSError as exc:
            raise ProtocolError(f"the browser is gone ({exc})") from None
        return self._next

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise ProtocolError("the browser did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise ProtocolError("the browser closed its pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        decoded = dict(json.loads(message))
        if decoded.get("method") in GONE:
            raise ProtocolError(f"the page is gone ({decoded['method']}: {decoded.get('params')})")
        return decoded

    def _call(self, method: str, deadline: float, params: dict[str, Any] | None = None,
              session: str | None = None) -> dict[str, Any]:
        wanted = self._send(method, params, session)
        while True:
            message = self._receive(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise ProtocolError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            if "method" in message:
                self._events.append(message)

    def _event(self, method: str, deadline: float) -> None:
        """Wait for the event ``method`` (it may have come already, before an answer)."""
        while not any(e.get("method") == method for e in self._events):
            self._events.append(self._receive(deadline))
        self._events.clear()

    def print_pdf(self, html_path: Path, pdf_path: Path, *, timeout: float = 90.0) -> None:
        """Open ``html_path`` in a new tab, wait until it has loaded, and write its PDF to ``pdf_path``.

        Raises
        ------
        ProtocolError
            When the browser fails, answers with an error or takes longer than ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        target = self._call("Target.createTarget", deadline, {"url": "about:blank"})["targetId"]
        session = self._call("Target.attachToTarget", deadline, {"targetId": target, "flatten": True})["sessionId"]
        self._call("Page.enable", deadline, session=session)
        self._events.clear()
        self._call("Page.navigate", deadline, {"url": html_path.resolve().as_uri()}, session=session)
        self._event("Page.loadEventFired", deadline)
        data = self._call("Page.printToPDF", deadline, PRINT, session=session)["data"]
        pdf_path.write_bytes(base64.b64decode(data))

    def kill(self) -> None:
        """Kill the browser (a print waiting for it gets an error)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        """Kill the browser and close the pipe (no thread may be using it any more)."""
        self.kill()
        for fd in (self._to_browser, self._from_browser):
            if fd >= 0:
                os.close(fd)
        self._to_browser = self._from_browser = -1


#: The browser :func:`warm` started, until :func:`take` hands it to a print.
_WARM: list[Browser] = []


def warm(exe: str | None, args: Sequence[str], preexec: Callable[[], None] | None = None) -> Browser | None:
    """Start a browser for the next print (:func:`take`); None when ``exe`` is None or does not start.

    POSIX only (the pipe sits on the browser's descriptors 3 and 4); elsewhere the print starts Chromium itself.
    """
    close_warm()
    if exe is None or os.name != "posix":
        return None
    try:
        browser = Browser(exe, args, preexec)
    except (OSError, ValueError):
        return None
    _WARM.append(browser)
    return browser


def take() -> Browser | None:
    """Return the browser :func:`warm` started (once), or None."""
    return _WARM.pop() if _WARM else None


def close_warm() -> None:
    """Kill a browser that was started and never used."""
    while _WARM:
        _WARM.pop().close()


class WarmPrint:
    """A warm browser printing a page in a thread (the interface of :class:`siting.outputs.htmlreport.PdfPrint`).

    ``part`` is written first and renamed to ``pdf_path`` by :meth:`wait` on success.
    """

    def __init__(self, browser: Browser, html_path: Path, pdf_path: Path, *, timeout: float = 90.0) -> None:
        self.browser, self.pdf_path = browser, pdf_path
        self.part = pdf_path.with_name(f".{pdf_path.name}.part")
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, args=(html_path, timeout), name="siting-pdf", daemon=True)
        self._thread.start()

    def _run(self, html_path: Path, timeout: float) -> None:
        try:
            self.browser.print_pdf(html_path, self.part, timeout=timeout)
        except (ProtocolError, OSError, ValueError, KeyError, TypeError) as exc:
            self.error = exc

    def wait(self) -> Path | None:
        """Wait for the print; return ``pdf_path``, or None (nothing left behind) when it failed."""
        self._thread.join()
        self.browser.close()
        if self.error is not None or not self.part.is_file() or self.part.stat().st_size == 0:
            self.part.unlink(missing_ok=True)
            return None
        os.replace(self.part, self.pdf_path)
        return self.pdf_path

    def cancel(self) -> None:
        """Stop the print and remove what it wrote."""
        self.browser.kill()
        self._thread.join()
        self.browser.close()
        self.part.unlink(missing_ok=True)
