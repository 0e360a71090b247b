"""A small Overpass + Nominatim stand-in on 127.0.0.1 for the online path's tests (no internet, nothing mocked).

It serves one ``.osm`` file the way the real servers would answer osmnx: Nominatim's ``/search`` gives the file's
area as a boundary polygon (or the answer a test sets), Overpass's ``/interpreter`` evaluates the queries osmnx sends
(``node|way|relation`` with ``[...]`` tag filters and a ``(poly:...)``, recursed down to their nodes) on the file.
A test can queue faults per service: an HTTP status, a silent socket, garbage instead of JSON, an empty result. It
also answers as an HTTP proxy (a request line with an absolute URL), which the proxy test uses.
"""

from __future__ import annotations

import json
import re
import threading
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import shapely

_STATEMENT = re.compile(r"(node|way|relation)((?:\[[^\]]*\])+)\(poly:\s*['\"]([^'\"]+)['\"]\)")
_CLAUSE = re.compile(r"\[\s*(['\"])(.+?)\1\s*(?:(!=|!~|=|~)\s*(['\"])(.*?)\4)?\s*\]")


@dataclass
class Fault:
    """What to answer instead of the data: ``kind`` is "status", "silent", "garbage" or "empty"."""

    kind: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    forever: bool = False


class OsmData:
    """The elements of an ``.osm`` file, and the Overpass answer to a query on them."""

    def __init__(self, path: Path) -> None:
        root = ET.parse(path).getroot()
        self.nodes: dict[int, dict[str, Any]] = {}
        self.ways: dict[int, dict[str, Any]] = {}
        self.relations: dict[int, dict[str, Any]] = {}
        for el in root:
            tags = {t.get("k"): t.get("v") for t in el.iter("tag")}
            i = int(el.get("id", 0))
            if el.tag == "node":
                self.nodes[i] = {"type": "node", "id": i, "lat": float(el.get("lat")), "lon": float(el.get("lon")),
                                 **({"tags": tags} if tags else {})}
            elif el.tag == "way":
                self.ways[i] = {"type": "way", "id": i, "nodes": [int(n.get("ref")) for n in el.iter("nd")],
                                **({"tags": tags} if tags else {})}
            elif el.tag == "relation":
                self.relations[i] = {"type": "relation", "id": i, "tags": tags, "members": [
                    {"type": m.get("type"), "ref": int(m.get("ref")), "role": m.get("role", "")}
                    for m in el.iter("member")]}
        bounds = root.find("bounds")
        if bounds is not None:
            self.bbox = tuple(float(bounds.get(k)) for k in ("minlon", "minlat", "maxlon", "maxlat"))
        else:
            lons = [n["lon"] for n in self.nodes.values()]
            lats = [n["lat"] for n in self.nodes.values()]
            self.bbox = (min(lons), min(lats), max(lons), max(lats))

    def answer(self, query: str) -> dict[str, Any]:
        """Overpass's JSON for an osmnx query: the matching elements in the polygon, recursed down to their nodes."""
        out: dict[tuple[str, int], dict[str, Any]] = {}
        for kind, filters, poly in _STATEMENT.findall(query):
            numbers = [float(v) for v in poly.split()]
            polygon = shapely.Polygon(list(zip(numbers[1::2], numbers[0::2], strict=True)))  # "lat lon" pairs
            clauses = _CLAUSE.findall(filters)
            for el in {"node": self.nodes, "way": self.ways, "relation": self.relations}[kind].values():
                if _passes(el.get("tags", {}), clauses) and self._inside(el, polygon):
                    self._add(el, out)
        return {"version": 0.6, "generator": "siting test stand-in", "elements": list(out.values())}

    def _node_ids(self, el: dict[str, Any]) -> list[int]:
        if el["type"] == "node":
            return [el["id"]]
        if el["type"] == "way":
            return el["nodes"]
        ids = []
        for m in el["members"]:
            member = {"node": self.nodes, "way": self.ways}.get(m["type"], {}).get(m["ref"])
            if member is not None:
                ids += self._node_ids(member)
        return ids

    def _inside(self, el: dict[str, Any], polygon: shapely.Polygon) -> bool:
        return any(polygon.contains(shapely.Point(self.nodes[i]["lon"], self.nodes[i]["lat"]))
                   for i in self._node_ids(el) if i in self.nodes)

    def _add(self, el: dict[str, Any], out: dict[tuple[str, int], dict[str, Any]]) -> None:
        out[(el["type"], el["id"])] = el
        if el["type"] == "way":
            for i in el["nodes"]:
                if i in self.nodes:
                    out[("node", i)] = self.nodes[i]
        elif el["type"] == "relation":
            for m in el["members"]:
                member = {"node": self.nodes, "way": self.ways}.get(m["type"], {}).get(m["ref"])
                if member is not None:
                    self._add(member, out)


def _passes(tags: dict[str, str], clauses: list[tuple[str, ...]]) -> bool:
    for _, key, op, _, value in clauses:
        have = tags.get(key)
        if not op:
            ok = have is not None
        elif op == "=":
            ok = have == value
        elif op == "!=":
            ok = have != value
        elif op == "~":
            ok = have is not None and re.search(value, have) is not None
        else:  # !~: absent, or not matching
            ok = have is None or re.search(value, have) is None
        if not ok:
            return False
    return True


def boundary(name: str, bbox: tuple[float, float, float, float], *, osm_id: int = 1,
             kind: str = "administrative", cls: str = "boundary") -> dict[str, Any]:
    """A Nominatim search result: a boundary polygon over ``bbox`` (west, south, east, north)."""
    w, s, e, n = bbox
    return {"place_id": osm_id, "licence": "ODbL", "osm_type": "relation", "osm_id": osm_id,
            "lat": str((s + n) / 2), "lon": str((w + e) / 2), "class": cls, "type": kind, "place_rank": 12,
            "importance": 0.5, "addresstype": "district", "name": name.split(",")[0], "display_name": name,
            "boundingbox": [str(s), str(n), str(w), str(e)],
            "geojson": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}}


def point(name: str, lon: float, lat: float) -> dict[str, Any]:
    """A Nominatim search result that is only a point (a street, a POI)."""
    return {"place_id": 9, "osm_type": "node", "osm_id": 9, "lat": str(lat), "lon": str(lon), "class": "amenity",
            "type": "hospital", "display_name": name, "geojson": {"type": "Point", "coordinates": [lon, lat]}}


class StandIn(ThreadingHTTPServer):
    """The server: ``url`` is its address; ``overpass_url`` / ``nominatim_url`` the two services under it."""

    daemon_threads = True

    def __init__(self, osm_file: Path, place: str = "测试区, 上海市") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.data = OsmData(osm_file)
        w, s, e, n = self.data.bbox
        pad = 0.001
        self.nominatim: list[dict[str, Any]] = [boundary(place, (w - pad, s - pad, e + pad, n + pad))]
        self.faults: dict[str, list[Fault]] = defaultdict(list)
        self.log: list[dict[str, Any]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def overpass_url(self) -> str:
        return f"{self.url}/api"

    @property
    def nominatim_url(self) -> str:
        return f"{self.url}/nominatim/"

    def requests_to(self, service: str) -> list[dict[str, Any]]:
        return [r for r in self.log if r["service"] == service]

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._serve(b"")

    def do_POST(self) -> None:  # noqa: N802
        self._serve(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def _serve(self, body: bytes) -> None:
        parts = urlsplit(self.path)
        service = "nominatim" if parts.path.startswith("/nominatim") else \
            "status" if parts.path.endswith("/status") else "overpass"
        self.server.log.append({"service": service, "path": parts.path, "proxied": self.path.startswith("http"),
                                "host": self.headers.get("Host")})
        queue = self.server.faults[service]
        fault = queue[0] if queue else None
        if fault is not None and not fault.forever:
            queue.pop(0)
        if fault is not None and fault.kind == "silent":
            self.server.stop.wait(60)  # never answers while the test runs
            return
        if fault is not None and fault.kind == "status":
            return self._send(fault.status, b"<html><body>busy</body></html>", "text/html", fault.headers)
        if fault is not None and fault.kind == "garbage":
            return self._send(200, b"<html>this is no API</html>", "text/html")
        if service == "status":
            return self._send(200, b"Connected as: 1\nCurrent time: x\nAnnounced endpoint: none\nRate limit: 2\n"
                                   b"2 slots available now.\nCurrently running queries:\n", "text/plain")
        if service == "nominatim":
            payload: Any = self.server.nominatim
        elif fault is not None and fault.kind == "empty":
            payload = {"version": 0.6, "elements": []}
        else:
            query = parse_qs(body.decode()).get("data", [""])[0] if body else ""
            payload = self.server.data.answer(query)
        self._send(200, json.dumps(payload, ensure_ascii=False).encode(), "application/json")

    def _send(self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
