"""Private: the online path's servers (Overpass, Nominatim), osmnx's settings for one call, downloads that fail well.

Which servers: a parameter (``overpass_url`` / ``nominatim_url``: the CLI's ``--overpass-url`` / ``--nominatim-url``,
a scenario baseline's or jobs file's keys), else ``$SITING_OVERPASS_URL`` / ``$SITING_NOMINATIM_URL``, else osmnx's
public defaults. Proxies come from the standard ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` variables (requests
reads them). osmnx keeps its settings in one global module: :func:`osmnx_settings` sets them for one call and puts
every one back afterwards (and the ``socket.getaddrinfo`` osmnx replaces to pin a server's address).

Every response goes through a requests hook (:class:`Watch`): HTTP 429 and 5xx are retried a bounded number of times
with a doubling pause (or the server's ``Retry-After``), each retry said as a warning; anything else that is not a
JSON answer stops the download with one :class:`~siting.errors.DownloadError` naming the server and the next step.
"""

from __future__ import annotations

import math
import os
import socket
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import requests
import shapely

from ..errors import DownloadError, GeocodeError, NetworkError
from ._cache import cache_folder, use_http_cache
from ._extract import area_km2, buffered

#: osmnx's own defaults (``osmnx.settings``): used when neither a parameter nor the environment names a server.
DEFAULT_OVERPASS_URL = "https://overpass-api.de/api"
DEFAULT_NOMINATIM_URL = "https://nominatim.openstreetmap.org/"
#: Environment variables: the servers, the seconds to wait for an answer, the retries after HTTP 429 / 5xx.
ENV_OVERPASS, ENV_NOMINATIM = "SITING_OVERPASS_URL", "SITING_NOMINATIM_URL"
ENV_TIMEOUT, ENV_RETRIES = "SITING_HTTP_TIMEOUT", "SITING_HTTP_RETRIES"
#: Answers worth another try: too many requests, and the server errors (Overpass says 504 when it is busy).
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
#: Larger than any Shanghai district (浦东新区, the largest, is about 1,210 km²): warned before downloading.
DISTRICT_KM2 = 2000.0
#: The longest pause between two tries (a ``Retry-After`` above it is shortened to it).
MAX_PAUSE_S = 60.0
_JSON_PATHS = ("/interpreter", "/search", "/reverse", "/lookup")
_OSMNX_SETTINGS = ("overpass_url", "nominatim_url", "requests_timeout", "requests_kwargs", "use_cache", "cache_folder",
                   "doh_url_template", "overpass_rate_limit", "useful_tags_way", "log_console")


@dataclass(frozen=True)
class Endpoints:
    """The Overpass and Nominatim servers of a download, how long to wait for them and how often to retry.

    Build it with :meth:`resolve` (parameter, else environment, else osmnx's default).
    """

    overpass_url: str = DEFAULT_OVERPASS_URL
    nominatim_url: str = DEFAULT_NOMINATIM_URL
    timeout_s: float = 180.0
    retries: int = 4
    backoff_s: float = 1.0

    @classmethod
    def resolve(cls, overpass_url: str | None = None, nominatim_url: str | None = None) -> Endpoints:
        """Return the servers given, else ``$SITING_OVERPASS_URL`` / ``$SITING_NOMINATIM_URL``, else osmnx's defaults.

        ``$SITING_HTTP_TIMEOUT`` (seconds, default 180) and ``$SITING_HTTP_RETRIES`` (default 4) set the waits.

        Raises DownloadError for a value that is not an http(s) URL or a number, naming where it came from.
        """
        urls = {}
        for name, given, env, default in (("overpass_url", overpass_url, ENV_OVERPASS, DEFAULT_OVERPASS_URL),
                                          ("nominatim_url", nominatim_url, ENV_NOMINATIM, DEFAULT_NOMINATIM_URL)):
            value = given or os.environ.get(env) or default
            where = f"`{name}`" if given else f"${env}" if os.environ.get(env) else name
            parts = urlsplit(value.strip())
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise DownloadError(f"{where} {value!r} is not an http(s) URL, e.g. {default}")
            urls[name] = value.strip()
        return cls(urls["overpass_url"], urls["nominatim_url"], timeout_s=_env_number(ENV_TIMEOUT, 180.0, low=0.1),
                   retries=int(_env_number(ENV_RETRIES, 4, low=0)))

    def service(self, url: str) -> tuple[str, str]:
        """Return ("Overpass" or "Nominatim", the server's base URL) of a request URL."""
        if url.startswith(self.nominatim_url.rstrip("/")):
            return "Nominatim", self.nominatim_url
        return "Overpass", self.overpass_url

    def next_step(self, service: str) -> str:
        """Return what to try when ``service`` fails (in the library's words: parameters, not flags)."""
        if service == "Nominatim":
            return ("try another Nominatim server with `nominatim_url`, or work from a file: cut the area out of a "
                    "downloaded .osm.pbf extract with `siting extract` and give it as `osm`")
        return ("try another Overpass server with `overpass_url` (a mirror, or a local Overpass instance), a smaller "
                "area, or cut the area out of a downloaded .osm.pbf extract with `siting extract` and give it as `osm`")


def _env_number(name: str, default: float, *, low: float) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value >= low or not math.isfinite(value):
        raise DownloadError(f"${name} must be a number ≥ {low:g}, got {text!r}")
    return value


class Watch:
    """The requests response hook of one download: retries HTTP 429 / 5xx, refuses anything but JSON.

    ``responses`` counts the answers the servers gave (0 after a call: everything came from the cache).
    """

    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        self.responses = 0
        self.retried = 0

    def __call__(self, r: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        """Check one answer (``kwargs``: how requests sent it, to send it again)."""
        self.responses += 1
        service, base = self.endpoints.service(r.url)
        tries, waited = 0, 0.0
        while r.status_code in RETRY_STATUS and tries < self.endpoints.retries:
            tries += 1
            pause = self._pause(r, tries)
            warnings.warn(f"{service} at {base} answered HTTP {r.status_code} {r.reason}; retry {tries} of "
                          f"{self.endpoints.retries} in {pause:.0f} s", stacklevel=2)
            r.close()
            time.sleep(pause)
            waited += pause
            self.retried += 1
            r = r.connection.send(r.request, **kwargs)
        if r.status_code in RETRY_STATUS:
            raise DownloadError(
                f"{service} at {base} answered HTTP {r.status_code} {r.reason} {tries + 1} time(s) "
                f"(retried {tries} time(s) over {waited:.0f} s; $SITING_HTTP_RETRIES); "
                f"{self.endpoints.next_step(service)}")
        if not r.ok:
            raise DownloadError(f"{service} at {base} refused the request: HTTP {r.status_code} {r.reason}: "
                                f"{_snippet(r.text)}; {self.endpoints.next_step(service)}")
        if urlsplit(r.url).path.rstrip("/").endswith(_JSON_PATHS):
            try:
                r.json()
            except ValueError:
                kind = r.headers.get("Content-Type", "no content type")
                raise DownloadError(
                    f"{service} at {base} answered something that is not JSON ({kind}: {_snippet(r.text)}); is it "
                    f"the address of the {service} API? {self.endpoints.next_step(service)}") from None
        return r

    def _pause(self, r: requests.Response, tries: int) -> float:
        after = r.headers.get("Retry-After", "")
        if after.strip().isdigit():
            return min(float(after), MAX_PAUSE_S)
        return min(self.endpoints.backoff_s * 2 ** (tries - 1), MAX_PAUSE_S)


def _snippet(text: str, n: int = 160) -> str:
    one = " ".join(text.split())
    return repr(one[:n] + ("…" if len(one) > n else "")) if one else "an empty answer"


@contextmanager
def osmnx_settings(endpoints: Endpoints, cache_dir: str | Path | None, use_cache: bool = True, *,
                   extra_way_tags: tuple[str, ...] = ()) -> Iterator[Watch]:
    """Set osmnx's global settings for one download and put all of them back afterwards.

    Inside: the servers of ``endpoints``, its timeout, the :class:`Watch` hook on every request, osmnx's HTTP cache
    in ``cache_dir``/osmnx-http (or none), no DNS-over-HTTPS lookup (osmnx would ask Google's 8.8.8.8, unreachable
    from many networks), Overpass's slot check only on osmnx's default server (a mirror without ``/status`` would
    cost a 60 s pause), and ``extra_way_tags`` kept on ways. Yields the hook (its ``responses`` count).
    """
    import osmnx as ox

    s = ox.settings
    saved = {name: getattr(s, name) for name in _OSMNX_SETTINGS}
    getaddrinfo = socket.getaddrinfo  # osmnx pins Overpass's address by replacing it, for good
    watch = Watch(endpoints)
    try:
        s.overpass_url = endpoints.overpass_url
        s.nominatim_url = endpoints.nominatim_url
        s.requests_timeout = endpoints.timeout_s
        s.requests_kwargs = {**saved["requests_kwargs"], "hooks": {"response": [watch]}}
        s.doh_url_template = None
        s.overpass_rate_limit = bool(saved["overpass_rate_limit"]) and \
            endpoints.overpass_url.rstrip("/") == DEFAULT_OVERPASS_URL
        s.log_console = False
        if extra_way_tags:
            s.useful_tags_way = list(dict.fromkeys([*saved["useful_tags_way"], *extra_way_tags]))
        use_http_cache(s, cache_folder(cache_dir, "osmnx-http"), use_cache)  # warned when not writable
        yield watch
    finally:
        for name, value in saved.items():
            setattr(s, name, value)
        socket.getaddrinfo = getaddrinfo


@contextmanager
def failing_well(endpoints: Endpoints) -> Iterator[None]:
    """Turn requests' exceptions (no answer in time, server unreachable, proxy refusing) into one DownloadError."""
    try:
        yield
    except requests.exceptions.RequestException as exc:
        url = getattr(exc.request, "url", None) or endpoints.overpass_url
        service, base = endpoints.service(str(url))
        step = endpoints.next_step(service)
        if isinstance(exc, requests.exceptions.Timeout):
            raise DownloadError(f"{service} at {base} did not answer within {endpoints.timeout_s:g} s "
                                f"($SITING_HTTP_TIMEOUT); {step}") from None
        reason = _reason(exc)
        if isinstance(exc, requests.exceptions.ProxyError):
            raise DownloadError(f"the proxy refused the connection to {service} at {base} ({reason}); check "
                                f"HTTPS_PROXY / HTTP_PROXY, or {step}") from None
        raise DownloadError(f"cannot reach {service} at {base} ({reason}); behind a proxy, set HTTPS_PROXY / "
                            f"HTTP_PROXY (NO_PROXY for local servers); {step}") from None


def _reason(exc: BaseException) -> str:
    """Return the innermost cause of a requests exception, short (``Connection refused``...)."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    text = str(exc)
    return text.rsplit("] ", 1)[-1].rstrip("')\"") if "] " in text else text[:160]


@dataclass(frozen=True)
class Area:
    """A place Nominatim found: its name, OSM element, polygon (WGS84) and area in km²."""

    name: str
    osm: str
    polygon: shapely.Geometry
    km2: float


def place_area(query: str | Mapping[str, str], endpoints: Endpoints, *, cache_dir: str | Path | None) -> Area:
    """Return the area of a place name from Nominatim (:func:`geocode`, its answer cached in ``cache_dir``)."""
    with osmnx_settings(endpoints, cache_dir), failing_well(endpoints):
        return geocode(query, endpoints)


def warn_if_large(what: str, km2: float) -> None:
    """Warn, before downloading, that an area is larger than a district."""
    if km2 > DISTRICT_KM2:
        warnings.warn(f"{what} covers {km2:,.0f} km², more than a district (over {DISTRICT_KM2:,.0f} km²): the "
                      "download will be large and slow, and public servers may refuse it; a district or 街道 name is "
                      "faster, or cut the area out of a .osm.pbf extract with `siting extract`", stacklevel=3)


def geocode(query: str | Mapping[str, str], endpoints: Endpoints) -> Area:
    """Ask Nominatim (inside :func:`osmnx_settings`) for the area of a place name.

    One boundary is chosen among the polygons found (an administrative boundary first). Raises GeocodeError listing
    what Nominatim returned when nothing matched, nothing was a polygon, or several different areas did.
    """
    from osmnx import _nominatim

    found = _nominatim._download_nominatim_element(dict(query) if isinstance(query, Mapping) else query,
                                                   limit=50, polygon_geojson=True)
    where = f"Nominatim at {endpoints.nominatim_url}"
    if not found:
        raise GeocodeError(f"{where} found nothing for {query!r}: check the spelling (e.g. '长宁区, 上海市'), or "
                           f"{endpoints.next_step('Nominatim')}")
    polygons = [r for r in found if (r.get("geojson") or {}).get("type") in {"Polygon", "MultiPolygon"}]
    if not polygons:
        raise GeocodeError(f"{where} has no area (polygon) for {query!r}, only {_listing(found)}: give the name of "
                           "a district, 街道 or town, or cut the area out of a .osm.pbf extract with `siting extract`")
    boundaries = [r for r in polygons if r.get("class") == "boundary"] or polygons
    distinct = {r.get("display_name"): r for r in boundaries}
    if len(distinct) > 1:
        raise GeocodeError(f"{where} found {len(distinct)} different areas for {query!r}: "
                           f"{_listing(list(distinct.values()))}; write the place more precisely (add the city, "
                           "e.g. '长宁区, 上海市')")
    hit = boundaries[0]
    polygon = shapely.make_valid(shapely.geometry.shape(hit["geojson"]))
    return Area(str(hit.get("display_name")), f"{hit.get('osm_type')}/{hit.get('osm_id')}", polygon,
                area_km2(polygon))


def _listing(results: list[dict[str, Any]], n: int = 8) -> str:
    """Nominatim results as ``1. name (class/type, geometry)``, at most ``n`` of them."""
    items = []
    for i, r in enumerate(results[:n], start=1):
        geom = (r.get("geojson") or {}).get("type", "no geometry")
        items.append(f"{i}. {r.get('display_name')} ({r.get('class')}/{r.get('type')}, {geom})")
    more = f" and {len(results) - n} more" if len(results) > n else ""
    return "; ".join(items) + more


def area_of(kind: str, query: Any, endpoints: Endpoints) -> Area:
    """Return the area to download: a place (through Nominatim), a (west, south, east, north) box or a polygon."""
    if kind == "place":
        return geocode(query, endpoints)
    polygon = shapely.box(*query) if kind == "bbox" else query
    if not isinstance(polygon, shapely.Polygon | shapely.MultiPolygon) or polygon.is_empty or not polygon.is_valid:
        raise GeocodeError(f"the {kind} {query!r} is not a valid area (west, south, east, north in degrees, or a "
                           "WGS84 polygon)")
    return Area(f"the {kind} {shapely.to_wkt(polygon, rounding_precision=5)[:80]}", kind, polygon, area_km2(polygon))


def street_graph(kind: str, query: Any, network_type: str, endpoints: Endpoints, *, cache_dir: str | Path | None,
                 use_cache: bool = True, buffer_m: float = 0.0) -> tuple[Any, dict[str, Any]]:
    """Download the ``network_type`` streets of an area (:func:`area_of`) and ``buffer_m`` around it, with osmnx.

    Returns the osmnx graph (unsimplified, every component) and what to record in the network's ``info``. Raises
    GeocodeError (the place), DownloadError (the servers) or NetworkError (no street in the area).
    """
    import osmnx as ox
    from osmnx._errors import InsufficientResponseError

    with osmnx_settings(endpoints, cache_dir, use_cache, extra_way_tags=("oneway:bicycle", "cycleway")) as watch, \
            failing_well(endpoints):
        area = area_of(kind, query, endpoints)
        warn_if_large(area.name, area.km2)
        try:
            graph = ox.graph_from_polygon(buffered(area.polygon, buffer_m), network_type=network_type,
                                          retain_all=True, simplify=False)
        except InsufficientResponseError as exc:
            raise NetworkError(
                f"Overpass at {endpoints.overpass_url} has no {network_type}able street in {area.name} ({exc}); is "
                "it the right area? A regional Overpass server without data for it answers so too: "
                f"{endpoints.next_step('Overpass')}") from None
    return graph, {"area": area.name, "area_osm": area.osm, "area_km2": round(area.km2, 3), "buffer_m": buffer_m,
                   "overpass_url": endpoints.overpass_url, "nominatim_url": endpoints.nominatim_url,
                   "downloaded": time.strftime("%Y-%m-%d %H:%M"), "http_responses": watch.responses}


def features(query: str | Mapping[str, str], tags: Mapping[str, Any], endpoints: Endpoints, *,
             cache_dir: str | Path | None, buffer_m: float = 0.0) -> Any:
    """Download the OSM features with ``tags`` of a place and ``buffer_m`` around it (an empty frame when none).

    Says so (a warning) when everything came from the download cache.
    """
    import osmnx as ox
    from osmnx._errors import InsufficientResponseError

    with osmnx_settings(endpoints, cache_dir) as watch, failing_well(endpoints):
        area = geocode(query, endpoints)
        try:
            raw = ox.features_from_polygon(buffered(area.polygon, buffer_m), tags=dict(tags))
        except InsufficientResponseError:
            raw = gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    if watch.responses == 0:
        warnings.warn(f"the facilities of {query!r} were read from the download cache in "
                      f"{cache_folder(cache_dir, 'osmnx-http')}: nothing was downloaded", stacklevel=3)
    return raw
