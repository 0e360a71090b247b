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
    GET  /api/layers?parts=homes,subdistricts,facilities   GeoJSON layers and the result's notes
    GET  /api/service_area                   wb.result.service_area() as GeoJSON
    POST /api/add {lon, lat, name?, type?}   {"id": new id, "state": ...}
    POST /api/move {id, lon, lat}            the new state (and so close, reopen, undo, redo, configure)
    POST /api/close {id} | /api/reopen {id} | /api/undo | /api/redo
    POST /api/configure {mode?, minutes?, speed_kmh?}
    POST /api/save {name?}                   {"path": save_dir/NAME.yaml, "state": ...} (Workbench.save)

Scripting hook of the page: ``window.siting.add(lon, lat, {name, type})``, ``.move(id, lon, lat)``,
``.close(id)``, ``.reopen(id)``, ``.undo()``, ``.redo()`` and ``.configure({mode, minutes, speed_kmh})`` each
return a Promise resolved with the new state once the map and the panel show it (an added facility is the
last of ``state.facilities``); ``.save(name)`` resolves with the path written; ``window.siting.state()``
returns the last state at once (the keys of :meth:`Workbench.state`); ``window.siting.map`` is the Leaflet map.
"""

from __future__ import annotations

import functools
import logging
import re
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
from ._http import (
    TOKEN_HEADER,
    Guard,
    Refused,
    encode,
    facility_id,
    json_response,
    number,
    optional_number,
    read_json,
    text,
)
from ._layers import Layers
from ._layers import service_area as service_area_json

__all__ = ["create_app", "serve", "start_background"]

log = logging.getLogger("siting.app")

STATIC = Path(__file__).resolve().parent / "static"
PARTS = ("homes", "subdistricts", "facilities")
SAFE_NAME = re.compile(r"\w[\w.-]{0,63}")
FORBIDDEN = "forbidden: open the URL printed by `siting app` or Workbench.show (it carries ?token=...)"


# ----------------------------------------------------------------------------------------- the work
def _add(wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    fid = wb.add(number(body, "lon"), number(body, "lat"), name=text(body, "name"),
                 type=text(body, "type") or "station")
    return {"id": fid, "state": wb.state()}


def _move(wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    wb.move(facility_id(body), number(body, "lon"), number(body, "lat"))
    return wb.state()


def _close(wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    wb.close(facility_id(body))
    return wb.state()


def _reopen(wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    wb.reopen(facility_id(body))
    return wb.state()


def _undo(wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    wb.undo()
    return wb.state()


def _redo(wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    wb.redo()
    return wb.state()


def _configure(wb: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    wb.configure(mode=text(body, "mode"), minutes=optional_number(body, "minutes"),
                 speed_kmh=optional_number(body, "speed_kmh"))
    return wb.state()


def _save(wb: Workbench, body: dict[str, Any], save_dir: Path) -> dict[str, Any]:
    """Write the edits as scenario file ``save_dir/NAME.yaml`` (:meth:`Workbench.save`); never elsewhere."""
    name = text(body, "name") or "workbench"
    if not SAFE_NAME.fullmatch(name):
        raise SitingError(f"a scenario name is letters, digits, '-', '_' or '.', not starting with '.'; got {name!r}")
    path = wb.save(save_dir / f"{name}.yaml", name)
    return {"path": str(path), "state": wb.state()}


def _state(wb: Workbench, query: dict[str, Any]) -> dict[str, Any]:
    return wb.state()


def _service_area(wb: Workbench, query: dict[str, Any]) -> dict[str, Any]:
    return service_area_json(wb.result)


EDITS: dict[str, Callable[[Workbench, dict[str, Any]], Any]] = {
    "add": _add, "move": _move, "close": _close, "reopen": _reopen, "undo": _undo, "redo": _redo,
    "configure": _configure}


class _Api:
    """The routes' shared state: the workbench, its lock, the token and the layer builder."""

    def __init__(self, wb: Workbench, token: str, port: int | None) -> None:
        self.wb, self.token = wb, token
        self.cookie = f"siting_token_{port}" if port else "siting_token"  # cookies ignore ports: one per app
        self.lock = threading.Lock()
        self.layers = Layers()

    def authorised(self, request: Request) -> bool:
        """Return whether the request carries the token (header or cookie)."""
        given = request.headers.get(TOKEN_HEADER) or request.cookies.get(self.cookie) or ""
        return secrets.compare_digest(given.encode("utf-8"), self.token.encode("utf-8"))

    def run(self, work: Callable[[Workbench, dict[str, Any]], Any], data: dict[str, Any]) -> bytes:
        """Run ``work`` on the workbench under the lock (in a worker thread); its answer as JSON bytes."""
        with self.lock:
            out = work(self.wb, data)
        return encode(out)

    def endpoint(self, work: Callable[[Workbench, dict[str, Any]], Any], *,
                 body: bool) -> Callable[[Request], Awaitable[Response]]:
        """Return the route handler running ``work`` with the JSON body (POST) or the query (GET)."""

        async def handle(request: Request) -> Response:
            if not self.authorised(request):
                return json_response({"error": FORBIDDEN}, 403)
            try:
                data = await read_json(request) if body else dict(request.query_params)
                return json_response(await run_in_threadpool(self.run, work, data))
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
        """Return the map layers named by ``?parts=`` (default all)."""
        parts = {p for p in str(query.get("parts") or ",".join(PARTS)).split(",") if p}
        unknown = parts - set(PARTS)
        if unknown:
            raise SitingError(f"unknown layer(s) {', '.join(sorted(unknown))}; known: {', '.join(PARTS)}")
        return self.layers.build(wb.result, wb.state(), parts)

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


def create_app(wb: Workbench, *, token: str, save_dir: str | Path = ".", port: int | None = None) -> Starlette:
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

    Returns
    -------
    starlette.applications.Starlette
    """
    if not token:
        raise SitingError("the app needs a non-empty token")
    api = _Api(wb, token, port)
    routes = [Route("/", api.page, methods=["GET"]),
              Route("/api/state", api.endpoint(_state, body=False), methods=["GET"]),
              Route("/api/layers", api.endpoint(api.layers_work, body=False), methods=["GET"]),
              Route("/api/service_area", api.endpoint(_service_area, body=False), methods=["GET"]),
              *[Route(f"/api/{name}", api.endpoint(work, body=True), methods=["POST"]) for name, work in EDITS.items()],
              Route("/api/save", api.endpoint(functools.partial(_save, save_dir=Path(save_dir)), body=True),
                    methods=["POST"]),
              Mount("/static/leaflet", StaticFiles(directory=leaflet_dir()), name="leaflet"),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}"}) if port else None
    app = Starlette(routes=routes, middleware=[Middleware(Guard, hosts=hosts)])
    app.state.api = api
    app.state.save_dir = Path(save_dir)
    return app


def _bind(port: int) -> socket.socket:
    """Return a socket bound to 127.0.0.1:``port`` (0: a free port) and listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", int(port)))
    except OSError as exc:
        sock.close()
        raise SitingError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; choose another `port`") from None
    sock.listen(128)
    return sock


def _server(wb: Workbench, port: int, save_dir: str | Path) -> tuple[uvicorn.Server, socket.socket, str]:
    """Return a uvicorn server of the app on a bound socket and the URL to open (with its token)."""
    sock = _bind(port)
    port = int(sock.getsockname()[1])
    token = secrets.token_urlsafe(24)
    app = create_app(wb, token=token, save_dir=save_dir, port=port)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning",
                            access_log=False, lifespan="off", ws="none", timeout_graceful_shutdown=2)
    return uvicorn.Server(config), sock, f"http://127.0.0.1:{port}/?token={token}"


def serve(wb: Workbench, *, port: int = 0, open_browser: bool = True, save_dir: str | Path = ".") -> None:
    """Serve the workbench's page on 127.0.0.1 until Ctrl-C (``siting app``).

    Prints ``siting app: http://127.0.0.1:PORT/?token=TOKEN`` (the token is new at every start) and opens it
    in the default browser unless ``open_browser`` is False. ``port`` 0 picks a free port.
    """
    server, sock, url = _server(wb, port, save_dir)
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


def start_background(wb: Workbench, *, port: int = 0, save_dir: str | Path = ".",
                     timeout: float = 20.0) -> tuple[str, uvicorn.Server]:
    """Serve the workbench's page from a daemon thread (a notebook, a test); return (URL, server).

    ``server.should_exit = True`` stops it. The URL carries the token.
    """
    server, sock, url = _server(wb, port, save_dir)
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
