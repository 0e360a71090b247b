"""The workbench's local web app: a JSON API over one :class:`~siting.workbench.Workbench` and the page that uses it.

Starlette (routing, requests, static files) served by uvicorn: the app is a dozen routes over one object, so
a small ASGI toolkit is all it needs; no framework (Django, Flask + extensions) and no build step. uvicorn
runs it in the foreground (``siting app``, :func:`serve`) or in a daemon thread of a Jupyter kernel
(:func:`start_background`, :func:`siting.app.show`): one code path for both.

Safety, as Jupyter does it: the server listens on 127.0.0.1 only; a random token (printed in the URL
``http://127.0.0.1:PORT/?token=...``) is needed by every API call, as the ``HttpOnly; SameSite=Strict``
cookie that opening the page with ``?token=`` sets, or as the header ``X-Siting-Token`` (what the page
sends); a Host header other than ``127.0.0.1:PORT`` / ``localhost:PORT`` is refused (DNS rebinding); request
bodies are capped at :data:`MAX_BODY` bytes. Edits run one at a time (one lock) in a worker thread.

API (JSON; errors as ``{"error": message}``: 400 for a refused edit, 403 without the token, 413 for a
body too large, 500 for a bug, never a traceback)::

    GET  /api/state                          wb.state()
    GET  /api/layers?parts=homes,subdistricts,facilities,compare   GeoJSON layers (from wb.homes() and the
                                             state: no result assembled) and the delta table; ``walk`` instead
                                             of ``homes``: only the homes' walk_min and covered lists
    GET  /api/notes                          the result's notes and counted facility ids (wb.result, built
                                             once per state and only when asked)
    GET  /api/service_area                   wb.result.service_area() as GeoJSON
    GET  /api/catchment?id=ID                one facility's own street area within the threshold (GeoJSON)
    GET  /api/compare                        the delta table: the state the workbench started from vs now
    POST /api/add {lon, lat, name?, type?}   {"id": new id, "state": ...}
    POST /api/move {id, lon, lat}            the new state (and so close, reopen, undo, redo, configure)
    POST /api/close {id} | /api/reopen {id} | /api/undo | /api/redo
    POST /api/configure {mode?, minutes?, speed_kmh?}
    POST /api/save {name?}                   {"path": save_dir/NAME.yaml, "state": ...} (Workbench.save)
    POST /api/suggest {k | target, time_limit?}   starts wb.suggest in a worker thread (time_limit <= 30 s);
                                             while it runs every edit is refused with 409
    GET  /api/suggest/status                 {running, elapsed, sites (GeoJSON with label, gain), summary...}
    POST /api/suggest/cancel                 discards the answer (the solver stops at its time_limit; edits
                                             wait for it); a finished suggestion is dropped
    POST /api/suggest/accept                 wb.accept(plan): {"ids": new ids, "state": ...}
    GET  /api/export                         the current state's outputs (map.html, report.xlsx/.html/.pdf,
                                             tables) as a zip download, made in a temporary folder
    GET  /api/scenarios                      the scenario file's scenarios and the one shown
    POST /api/scenario {name}                show scenario NAME (``baseline``: the file's unedited run); one
                                             workbench per scenario, kept with its edits

Scripting hook of the page: ``window.siting.add(lon, lat, {name, type})``, ``.move(id, lon, lat)``,
``.close(id)``, ``.reopen(id)``, ``.undo()``, ``.redo()``, ``.configure({mode, minutes, speed_kmh})`` and
``.scenario(name)`` each return a Promise resolved with the new state once the map and the panel show it (an
added facility is the last of ``state.facilities``); ``.save(name)`` resolves with the path written;
``.suggest({k} | {target})`` with the finished suggestion (``.cancelSuggest()``, ``.accept()``);
``.catchment(id)`` draws one facility's catchment; ``window.siting.state()`` returns the last state at once
(the keys of :meth:`Workbench.state`); ``window.siting.map`` is the Leaflet map, ``.layers`` its layer groups.
"""

from __future__ import annotations

import functools
import logging
import secrets
import socket
import threading
import time
import webbrowser
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import SitingError
from ..outputs._assets import leaflet_dir
from ..workbench import Workbench
from . import _suggest
from ._bundle import bundle_name, export_zip
from ._http import TOKEN_HEADER, Guard, Refused, encode, json_response, read_json, text
from ._layers import Layers
from ._session import Session
from ._suggest import SuggestJob
from ._work import EDITS, READS, save

__all__ = ["create_app", "serve", "start_background"]

log = logging.getLogger("siting.app")

STATIC = Path(__file__).resolve().parent / "static"
PARTS = ("homes", "walk", "subdistricts", "facilities", "compare")
FORBIDDEN = "forbidden: open the URL printed by `siting app` or Workbench.show (it carries ?token=...)"


class _Api:
    """The routes' shared state: the workbenches (:class:`Session`), the edit lock, the suggestion, the token."""

    def __init__(self, session: Session, token: str, port: int | None) -> None:
        self.session, self.token = session, token
        self.cookie = f"siting_token_{port}" if port else "siting_token"  # cookies ignore ports: one per app
        self.lock = threading.Lock()  # one edit (or read of the workbench) at a time
        self.export_lock = threading.Lock()  # one bundle written at a time (matplotlib, Chromium)
        self.layers = Layers()
        self.job: SuggestJob | None = None

    def authorised(self, request: Request) -> bool:
        """Return whether the request carries the token (header or cookie)."""
        given = request.headers.get(TOKEN_HEADER) or request.cookies.get(self.cookie) or ""
        return secrets.compare_digest(given.encode("utf-8"), self.token.encode("utf-8"))

    def run(self, work: Callable[[Workbench, dict[str, Any]], Any], data: dict[str, Any], edit: bool,
            locked: bool) -> bytes | Response:
        """Run ``work`` on the current workbench (in a worker thread); its answer as JSON bytes (or a Response).

        ``locked``: under the lock; ``edit``: an edit, refused (409) while a suggestion runs, and dropping a
        finished suggestion (it was made on the state before).
        """
        if not locked:
            out = work(self.session.wb, data)
            return out if isinstance(out, Response) else encode(out)
        with self.lock:
            if edit:
                self.wait_for_suggestion()
            out = work(self.session.wb, data)
            if edit:
                self.job = None
            return out if isinstance(out, Response) else encode(out)

    def endpoint(self, work: Callable[[Workbench, dict[str, Any]], Any], *, body: bool, edit: bool = False,
                 locked: bool = True) -> Callable[[Request], Awaitable[Response]]:
        """Return the route handler running ``work`` with the JSON body (POST) or the query (GET)."""

        async def handle(request: Request) -> Response:
            if not self.authorised(request):
                return json_response({"error": FORBIDDEN}, 403)
            try:
                data = await read_json(request) if body else dict(request.query_params)
                out = await run_in_threadpool(self.run, work, data, edit, locked)
                return out if isinstance(out, Response) else json_response(out)
            except Refused as exc:
                return json_response({"error": str(exc)}, exc.status)
            except SitingError as exc:
                return json_response({"error": str(exc)}, 400)
            except Exception as exc:  # a bug: logged in full on the console, named briefly on the page
                log.exception("siting app: %s %s failed", request.method, request.url.path)
                return json_response({"error": f"internal error ({type(exc).__name__}); see the server's console"},
                                     500)

        return handle

    def layers_work(self, wb: Workbench, query: dict[str, Any]) -> dict[str, Any]:
        """Return the map layers named by ``?parts=`` (default all) and, with ``compare``, the delta table."""
        parts = {p for p in str(query.get("parts") or ",".join(PARTS)).split(",") if p}
        unknown = parts - set(PARTS)
        if unknown:
            raise SitingError(f"unknown layer(s) {', '.join(sorted(unknown))}; known: {', '.join(PARTS)}")
        state = wb.state()
        out = self.layers.build(wb, state, parts)
        if "compare" in parts:
            out["compare"] = self.session.compare(state)
        return out

    # ------------------------------------------------------------------------------------- suggestions
    def wait_for_suggestion(self) -> None:
        """Refuse an edit (409) while a suggestion runs; after a cancel, wait for its solver to stop."""
        job = self.job
        if job is None or not job.running:
            return
        if not job.cancelled:
            raise Refused(409, f"suggesting sites ({job.status()['elapsed']:.0f} s of at most {job.time_limit:g} s): "
                               "edits wait until it ends; cancel it to edit now")
        job.thread.join()  # cancelled: its solver stops within its time limit

    def suggest(self, wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
        """Start :meth:`Workbench.suggest` in a worker thread (``POST /api/suggest``); its first status."""
        k, target, limit = _suggest.options(body)
        self.wait_for_suggestion()
        wb.result  # noqa: B018 (computed here, under the lock: the job's thread only reads it)
        self.job = SuggestJob(wb, k, target, limit, wb.state())
        return self.job.status()

    def suggest_status(self, wb: Workbench, query: dict[str, Any]) -> dict[str, Any]:
        """Return the suggestion's status (no lock: the page polls it while edits wait)."""
        job = self.job
        return job.status() if job is not None else {"running": False, "cancelled": False, "sites": None}

    def suggest_cancel(self, wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
        """Cancel a running suggestion (its answer discarded) or drop a finished one."""
        job = self.job
        if job is not None and job.running:
            job.cancelled = True
            return job.status()
        self.job = None
        return {"running": False, "cancelled": job is not None, "sites": None}

    def accept(self, wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
        """Add the finished suggestion's sites (:meth:`Workbench.accept`): ``{"ids": [...], "state": ...}``."""
        job = self.job
        if job is None or job.running or job.cancelled or job.plan is None:
            raise Refused(409, "no finished suggestion to accept: suggest sites first (and wait for the answer)")
        if job.wb is not wb or _suggest.signature(wb.state()) != job.signature:
            self.job = None
            raise Refused(409, "the facilities changed since the suggestion was made: suggest again")
        ids = wb.accept(job.plan)
        self.job = None
        return {"ids": ids, "state": wb.state()}

    # ------------------------------------------------------------------------------------- scenarios, export
    def scenarios(self, wb: Workbench, query: dict[str, Any]) -> dict[str, Any]:
        """Return the scenario file's scenarios and the one shown."""
        return self.session.scenarios()

    def switch(self, wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
        """Show another scenario of the file (``POST /api/scenario {name}``): its state and the scenario list."""
        self.wait_for_suggestion()
        self.job = None
        new = self.session.switch(str(text(body, "name", required=True)))
        return {"scenario": self.session.current, "state": new.state(), "scenarios": self.session.scenarios()}

    def export(self, wb: Workbench, query: dict[str, Any]) -> Response:
        """Return the current state's output bundle as a zip download (``GET /api/export``)."""
        with self.lock:  # the result of the state shown (a snapshot: later edits make new results)
            wb = self.session.wb
            result, name = wb.result, bundle_name(self.session.current, wb.state()["edits"])
        with self.export_lock:
            data = export_zip(result, name)
        return Response(data, media_type="application/zip",
                        headers={"content-disposition": f'attachment; filename="{name}.zip"',
                                 "cache-control": "no-store"})

    async def page(self, request: Request) -> Response:
        """Serve the page; ``?token=`` (right) sets the cookie, else the cookie must be there already."""
        given = request.query_params.get("token")
        if given is not None and secrets.compare_digest(given.encode("utf-8"), self.token.encode("utf-8")):
            response: Response = FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict", path="/")
            return response
        if given is None and self.authorised(request):
            return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})
        return PlainTextResponse(FORBIDDEN, 403)


def create_app(wb: Workbench, *, token: str, save_dir: str | Path = ".", port: int | None = None,
               scenario_file: str | Path | None = None, scenario: str | None = None) -> Starlette:
    """Build the Starlette app of the workbench ``wb`` (routes in the module docstring).

    Parameters
    ----------
    wb : Workbench
        The workbench the page edits (edits run one at a time).
    token : str
        The secret every API call must carry (cookie or ``X-Siting-Token`` header).
    save_dir : str or Path
        Folder where ``POST /api/save`` writes scenario files (:meth:`Workbench.save`).
    port : int, optional
        The port served: the Host header must then be ``127.0.0.1:PORT`` or ``localhost:PORT``
        (default: either name with any port).
    scenario_file : str or Path, optional
        The scenario file ``wb`` was started from (:meth:`Workbench.from_scenario_file`): the page can then
        switch to its other scenarios (``POST /api/scenario``).
    scenario : str, optional
        The scenario of that file ``wb`` holds (None: its baseline).

    Returns
    -------
    starlette.applications.Starlette
    """
    if not token:
        raise SitingError("the app needs a non-empty token")
    api = _Api(Session(wb, scenario_file=scenario_file, scenario=scenario), token, port)
    get, post = ["GET"], ["POST"]
    routes = [Route("/", api.page, methods=get),
              *[Route(f"/api/{name}", api.endpoint(work, body=False), methods=get) for name, work in READS.items()],
              Route("/api/layers", api.endpoint(api.layers_work, body=False), methods=get),
              Route("/api/compare", api.endpoint(lambda wb, q: api.session.compare(), body=False), methods=get),
              *[Route(f"/api/{name}", api.endpoint(work, body=True, edit=True), methods=post)
                for name, work in EDITS.items()],
              Route("/api/save", api.endpoint(functools.partial(save, save_dir=Path(save_dir)), body=True),
                    methods=post),
              Route("/api/suggest", api.endpoint(api.suggest, body=True), methods=post),
              Route("/api/suggest/status", api.endpoint(api.suggest_status, body=False, locked=False), methods=get),
              Route("/api/suggest/cancel", api.endpoint(api.suggest_cancel, body=True), methods=post),
              Route("/api/suggest/accept", api.endpoint(api.accept, body=True), methods=post),
              Route("/api/export", api.endpoint(api.export, body=False, locked=False), methods=get),
              Route("/api/scenarios", api.endpoint(api.scenarios, body=False), methods=get),
              Route("/api/scenario", api.endpoint(api.switch, body=True), methods=post),
              Mount("/static/leaflet", StaticFiles(directory=leaflet_dir()), name="leaflet"),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}"}) if port else None
    app = Starlette(routes=routes, middleware=[Middleware(Guard, hosts=hosts)])
    app.state.api = api
    app.state.save_dir = Path(save_dir)
    return app


def _bind(port: int) -> socket.socket:
    """Return a socket bound to 127.0.0.1:``port`` (0: a free port) and listening.

    Made with ``IPPROTO_TCP`` named: asyncio turns Nagle's algorithm off (``TCP_NODELAY``) only on connections of
    such a socket; with protocol 0 every response on a kept-alive connection waited ~40 ms for the browser's
    delayed ACK (measured: 44 ms a request instead of 1).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.bind(("127.0.0.1", int(port)))
    except OSError as exc:
        sock.close()
        raise SitingError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; choose another `port`") from None
    sock.listen(128)
    return sock


def _server(wb: Workbench, port: int, save_dir: str | Path, scenario_file: str | Path | None = None,
            scenario: str | None = None) -> tuple[uvicorn.Server, socket.socket, str]:
    """Return a uvicorn server of the app on a bound socket and the URL to open (with its token)."""
    sock = _bind(port)
    port = int(sock.getsockname()[1])
    token = secrets.token_urlsafe(24)
    app = create_app(wb, token=token, save_dir=save_dir, port=port, scenario_file=scenario_file, scenario=scenario)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning",
                            access_log=False, lifespan="off", ws="none", timeout_graceful_shutdown=2)
    return uvicorn.Server(config), sock, f"http://127.0.0.1:{port}/?token={token}"


def serve(wb: Workbench, *, port: int = 0, open_browser: bool = True, save_dir: str | Path = ".",
          scenario_file: str | Path | None = None, scenario: str | None = None) -> None:
    """Serve the workbench's page on 127.0.0.1 until Ctrl-C (``siting app``).

    Prints ``siting app: http://127.0.0.1:PORT/?token=TOKEN`` (the token is new at every start) and opens it
    in the default browser unless ``open_browser`` is False. ``port`` 0 picks a free port. ``scenario_file``
    and ``scenario``: see :func:`create_app`.
    """
    server, sock, url = _server(wb, port, save_dir, scenario_file, scenario)
    print(f"siting app: {url}", flush=True)
    print("(Ctrl-C stops it)", flush=True)
    if open_browser:  # in a thread: a terminal browser would block; the socket already listens
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn stops cleanly, then raises the captured Ctrl-C again
        pass
    finally:
        sock.close()
    print("siting app: stopped", flush=True)


def start_background(wb: Workbench, *, port: int = 0, save_dir: str | Path = ".", timeout: float = 20.0,
                     scenario_file: str | Path | None = None, scenario: str | None = None
                     ) -> tuple[str, uvicorn.Server]:
    """Serve the workbench's page from a daemon thread (a notebook, a test); return (URL, server).

    ``server.should_exit = True`` stops it. The URL carries the token. ``scenario_file`` and ``scenario``:
    see :func:`create_app`.
    """
    server, sock, url = _server(wb, port, save_dir, scenario_file, scenario)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name=f"siting-app-{sock.getsockname()[1]}")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise SitingError(f"the app server did not start within {timeout:g} s")
        time.sleep(0.01)
    return url, server
