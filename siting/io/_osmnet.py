"""Private: OSM ways → network segments (pyosmium for files, osmnx graphs for online data), osmnx's filters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .._log import bar
from ..errors import InputFileError, NetworkError

_CLAUSE = re.compile(r'\["([^"]+)"(?:(!?~)"([^"]*)")?\]')
_ONEWAY_TRUE = {"yes", "true", "1", "-1", "reverse"}


@dataclass
class Segments:
    """Node-index segment pairs with WGS84 node coordinates (the input of ``Network.from_segments``)."""

    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    oneway: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)


#: The Overpass filters of the walking and cycling networks: osmnx 2.1's (``osmnx._overpass._get_network_filter``),
#: owned here so that neither reading a file (osmnx takes 1.6 s to import) nor any osmnx version (the function
#: is private) changes which ways are streets. ``tests/test_input_formats.py`` compares them with the installed
#: osmnx's; an osmnx that changes its filters fails that test, and the change is then made here on purpose.
NETWORK_FILTERS: dict[str, str] = {
    "walk": '["highway"]["area"!~"yes"]["access"!~"private"]["highway"!~"abandoned|bus_guideway|construction|'
            'cycleway|motor|no|planned|platform|proposed|raceway|razed|rest_area|services"]["foot"!~"no"]'
            '["service"!~"private"]["sidewalk"!~"separate"]["sidewalk:both"!~"separate"]'
            '["sidewalk:left"!~"separate"]["sidewalk:right"!~"separate"]',
    "bike": '["highway"]["area"!~"yes"]["access"!~"private"]["highway"!~"abandoned|bus_guideway|construction|'
            'corridor|elevator|escalator|footway|motor|no|planned|platform|proposed|raceway|razed|rest_area|'
            'services|steps"]["bicycle"!~"no"]["service"!~"private"]',
}


def network_filter(network_type: str) -> str:
    """Return the Overpass filter string of ``network_type`` ("walk" or "bike"; :data:`NETWORK_FILTERS`)."""
    try:
        return NETWORK_FILTERS[network_type]
    except KeyError:
        raise NetworkError(f"unknown network type {network_type!r}; choose one of {', '.join(NETWORK_FILTERS)}") \
            from None


@lru_cache(maxsize=4)
def osmnx_filter(network_type: str) -> tuple[tuple[str, str | None, re.Pattern[str] | None], ...]:
    """Return osmnx's Overpass filter for ``network_type``, parsed into (key, op, regex) clauses.

    Using osmnx's own filter string keeps the offline file path and the online Overpass path in
    agreement (same excluded highway classes, ``foot=no``, ``access=private``, ``area=yes``...).
    Overpass semantics: ``["k"]`` needs the key; ``["k"!~"re"]`` passes when the key is absent or its
    value does not match; ``["k"~"re"]`` needs a matching value.
    """
    text = network_filter(network_type)
    clauses = tuple(
        (key, op or None, re.compile(rx) if op else None) for key, op, rx in _CLAUSE.findall(text)
    )
    if not clauses:
        raise NetworkError(f"cannot parse osmnx's filter for network type {network_type!r}: {text}")
    return clauses


def way_passes(tags: dict[str, str], network_type: str) -> bool:
    """Tell whether a way with these tags belongs to osmnx's ``network_type`` network."""
    for key, op, rx in osmnx_filter(network_type):
        value = tags.get(key)
        if op is None:
            if value is None:
                return False
        elif op == "!~":
            if value is not None and rx is not None and rx.search(value):
                return False
        elif value is None or rx is None or not rx.search(value):
            return False
    return True


def open_to_bikes(tags: Mapping[str, Any]) -> bool:
    """Tell whether cyclists may ride a one-way street both ways (``oneway:bicycle=no``, ``cycleway=opposite*``)."""
    return tags.get("oneway:bicycle") == "no" or tags.get("cycleway") in {"opposite", "opposite_lane"}


def oneway_direction(tags: dict[str, str], network_type: str) -> int:
    """0 two-way, 1 one-way along the way, -1 one-way against it. Walking is always two-way (as in osmnx)."""
    if network_type == "walk":
        return 0
    if open_to_bikes(tags):
        return 0
    value = tags.get("oneway", "")
    if value in {"-1", "reverse"}:
        return -1
    if value in _ONEWAY_TRUE or tags.get("junction") == "roundabout":
        return 1
    return 0


#: pyosmium's coordinate of a location the file does not give (the node is missing from the extract).
_UNDEFINED = 2147483647


def bad_location(location: Any) -> str | None:
    """Describe a node location that is in the file but off the globe (latitude 95); None when fine or absent.

    libosmium calls both "not valid"; a missing node is common in bbox extracts (the way is cut there),
    a coordinate out of range is a broken file, named as such.
    """
    if location.valid() or (location.x == _UNDEFINED and location.y == _UNDEFINED):
        return None
    lon, lat = location.x / 1e7, location.y / 1e7
    return f"longitude {lon:g}, latitude {lat:g} (outside -180…180, -90…90)"


def read_osm_ways(path: str | Path, network_type: str) -> Segments:
    """Read the ways of an ``.osm``/``.osm.pbf`` file that pass osmnx's ``network_type`` filter.

    Ways are split at every node (consecutive node pairs become segments). Nodes missing from a
    bbox export break the way there. Node ids may be negative (JOSM's new objects). Raises
    InputFileError for unreadable files and nodes with coordinates off the globe (named), and
    NetworkError when no way qualifies.
    """
    import osmium

    path = Path(path)
    refs: list[np.ndarray] = []
    have: list[np.ndarray] = []
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    ways: list[int] = []
    dirs: list[int] = []
    n_highway = n_missing = 0
    negative: set[int] = set()  # negative node ids (JOSM), which pyosmium's location index does not hold
    shown = bar(desc=f"reading {path.name}", unit=" ways")  # shows only when reading takes over a second
    try:
        fp = (
            osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for obj in fp:
            if not isinstance(obj, osmium.osm.Way):
                continue
            n_highway += 1
            if n_highway % 1000 == 0:
                shown.update(1000)
            tags = dict(obj.tags)
            if not way_passes(tags, network_type):
                continue
            r, ok, lo, la = [], [], [], []
            for nd in obj.nodes:
                r.append(nd.ref)
                if nd.location.valid():
                    ok.append(True)
                    lo.append(nd.location.lon)
                    la.append(nd.location.lat)
                else:
                    problem = bad_location(nd.location)
                    if problem is not None:
                        raise InputFileError(f"{path}: node {nd.ref} (in way {obj.id}) has {problem}")
                    if nd.ref < 0:
                        negative.add(nd.ref)
                    n_missing += 1
                    ok.append(False)
                    lo.append(np.nan)
                    la.append(np.nan)
            refs.append(np.asarray(r, np.int64))
            have.append(np.asarray(ok, bool))
            lons.append(np.asarray(lo))
            lats.append(np.asarray(la))
            ways.append(obj.id)
            dirs.append(oneway_direction(tags, network_type))
    except RuntimeError as exc:
        raise InputFileError(f"{path}: not a readable OSM file (.osm XML or .osm.pbf): {exc}") from exc
    finally:
        shown.close()
    if not refs:
        raise NetworkError(
            f"{path}: no {network_type}able ways: {n_highway} highway way(s) in the file, none passes "
            f"osmnx's {network_type!r} filter"
        )
    if negative:
        n_missing -= _fill_negative(path, negative, refs, have, lons, lats)
    return _segments_from_ways(refs, have, lons, lats, dirs, {
        "ways_highway": n_highway, "ways_used": len(refs), "node_refs_missing": n_missing,
    })


def _fill_negative(path: Path, wanted: set[int], refs: list[np.ndarray], have: list[np.ndarray],
                   lons: list[np.ndarray], lats: list[np.ndarray]) -> int:
    """Fill in the nodes with negative ids (a second pass over the file's nodes); return how many refs were filled."""
    import osmium

    found: dict[int, tuple[float, float]] = {}
    try:
        node: Any  # NODE objects only
        for node in osmium.FileProcessor(str(path), osmium.osm.NODE):
            if node.id in wanted:
                problem = bad_location(node.location)
                if problem is not None:
                    raise InputFileError(f"{path}: node {node.id} has {problem}")
                if node.location.valid():
                    found[node.id] = (node.location.lon, node.location.lat)
    except RuntimeError as exc:
        raise InputFileError(f"{path}: not a readable OSM file (.osm XML or .osm.pbf): {exc}") from exc
    filled = 0
    for r, ok, lo, la in zip(refs, have, lons, lats, strict=True):
        for j in np.flatnonzero(~ok & (r < 0)):
            where = found.get(int(r[j]))
            if where is not None:
                lo[j], la[j] = where
                ok[j] = True
                filled += 1
    return filled


def _segments_from_ways(
    refs: list[np.ndarray], have: list[np.ndarray], lons: list[np.ndarray], lats: list[np.ndarray],
    dirs: list[int], stats: dict[str, Any],
) -> Segments:
    all_refs = np.concatenate(refs)
    valid = np.concatenate(have)  # the node is in the file (ids may be negative: JOSM)
    all_lon, all_lat = np.concatenate(lons), np.concatenate(lats)
    lengths = np.array([len(r) for r in refs])
    way_of = np.repeat(np.arange(len(refs)), lengths)
    # consecutive pairs inside the same way, both nodes present
    same = way_of[1:] == way_of[:-1]
    ok = same & valid[1:] & valid[:-1]
    a, b = np.flatnonzero(ok), np.flatnonzero(ok) + 1
    node_id, inverse = np.unique(all_refs[valid], return_inverse=True)
    index = np.full(len(all_refs), -1, np.int64)
    index[valid] = inverse
    lon = np.zeros(len(node_id))
    lat = np.zeros(len(node_id))
    lon[inverse], lat[inverse] = all_lon[valid], all_lat[valid]
    direction = np.asarray(dirs)[way_of[a]]
    u = np.where(direction < 0, index[b], index[a])
    v = np.where(direction < 0, index[a], index[b])
    stats = {**stats, "segments_raw": int(len(u))}
    return Segments(node_id, lon, lat, u, v, direction != 0, stats)


def graph_to_segments(graph: Any, network_type: str = "walk") -> Segments:
    """Explode an osmnx MultiDiGraph (lon/lat, possibly simplified) into straight segments.

    Interior vertices of edge geometries become nodes with negative ids. For two-way streets osmnx
    stores both directions; the later deduplication in ``Network.from_projected`` keeps one.
    """
    ids = list(graph.nodes)
    pos = {n: i for i, n in enumerate(ids)}
    lon = [float(graph.nodes[n]["x"]) for n in ids]
    lat = [float(graph.nodes[n]["y"]) for n in ids]
    node_id = list(ids)
    us: list[int] = []
    vs: list[int] = []
    ow: list[bool] = []
    for a, b, data in graph.edges(data=True):
        # osmnx stores one-ways in their legal direction only, and ignores the tags that open them to bikes
        oneway = bool(data.get("oneway", False)) and not (network_type == "bike" and open_to_bikes(data))
        chain = [pos[a]]
        geom = data.get("geometry")
        if geom is not None:
            for x, y in list(geom.coords)[1:-1]:
                node_id.append(-len(node_id) - 1)
                lon.append(x)
                lat.append(y)
                chain.append(len(lon) - 1)
        chain.append(pos[b])
        us.extend(chain[:-1])
        vs.extend(chain[1:])
        ow.extend([oneway] * (len(chain) - 1))
    if not us:
        raise NetworkError("the downloaded graph has no edges")
    return Segments(
        np.asarray(node_id, np.int64), np.asarray(lon), np.asarray(lat),
        np.asarray(us, np.int64), np.asarray(vs, np.int64), np.asarray(ow, bool),
        {"graph_nodes": graph.number_of_nodes(), "graph_edges": graph.number_of_edges()},
    )
