"""HTTP plumbing of the app: the Host check and security headers, JSON bodies in and out, typed fields.

Private to :mod:`siting.app.server`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import SitingError

__all__ = ["MAX_BODY", "SECURITY_HEADERS", "TOKEN_HEADER", "Guard", "Refused", "encode", "json_response",
           "number", "optional_number", "read_json", "text"]

#: Largest request body accepted (bytes): an edit is a few dozen.
MAX_BODY = 64 * 1024
TOKEN_HEADER = "X-Siting-Token"
#: Sent with every response: scripts, styles and requests only to this server (images also from the optional
#: OSM tiles); a Referer is the origin at most, so the token in the page's URL never leaves it. No
#: frame-ancestors: a notebook embeds the page (and a page of another site has no token to show it with).
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                 b"img-src 'self' data: https://tile.openstreetmap.org; connect-src 'self'; "
                                 b"object-src 'none'; base-uri 'none'; form-action 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin"),
]


class Refused(Exception):
    """A request refused before it reaches the workbench (status and message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Guard:
    """ASGI middleware: refuse a foreign Host header (400) and add :data:`SECURITY_HEADERS` to every response."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        if not _host_ok(host, self.hosts):
            await PlainTextResponse("bad Host header: open the app at 127.0.0.1 or localhost", 400)(
                scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _host_ok(host: str, hosts: frozenset[str] | None) -> bool:
    if hosts is not None:
        return host in hosts
    name, _, port = host.rpartition(":")
    return name in ("127.0.0.1", "localhost") and port.isdigit()


# ----------------------------------------------------------------------------------------- request bodies
def number(body: dict[str, Any], key: str) -> float:
    """Return ``body[key]`` as a finite float."""
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise SitingError(f"{key} must be a finite number, got {value!r}")
    return float(value)


def optional_number(body: dict[str, Any], key: str) -> float | None:
    """Return ``body[key]`` as a finite float, None when absent or null."""
    return None if body.get(key) is None else number(body, key)


def text(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    """Return ``body[key]`` as a text of 1 to 200 characters (None when absent and not ``required``)."""
    value = body.get(key)
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value or len(value) > 200:
        raise SitingError(f"{key} must be a text of 1 to 200 characters, got {value!r}")
    return value


def facility_id(body: dict[str, Any]) -> str:
    """Return ``body["id"]``, a facility id."""
    return str(text(body, "id", required=True))


async def read_json(request: Request) -> dict[str, Any]:
    """Return the request's JSON object (an empty body is ``{}``); :data:`MAX_BODY` bytes at most."""
    length = request.headers.get("content-length", "0")
    if not length.isdigit() or int(length) > MAX_BODY:
        raise Refused(413, f"request body over {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Refused(413, f"request body over {MAX_BODY} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused(400, f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Refused(400, "the body must be a JSON object")
    return body


def _clean(x: Any) -> Any:
    """Return ``x`` with NaN / infinite floats as None and numpy scalars as Python ones (valid JSON)."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def encode(data: Any) -> bytes:
    """Return ``data`` as compact UTF-8 JSON (NaN and infinities as null)."""
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):  # a NaN or a numpy scalar somewhere: the slow, careful way
        text = json.dumps(_clean(data), ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)
    return text.encode("utf-8")


def json_response(body: bytes | Any, status: int = 200) -> Response:
    """Return a JSON response (``body`` encoded already, or any JSON-ready value), never cached."""
    content = body if isinstance(body, bytes) else encode(body)
    return Response(content, status, media_type="application/json", headers={"cache-control": "no-store"})
