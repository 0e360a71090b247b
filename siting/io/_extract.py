"""Private: cut an area out of a large ``.osm.pbf`` / ``.osm`` into a small ``.osm.pbf``, streaming with pyosmium.

Two reads of the file, memory bounded by the area, not the file: the first pass tests every node against the area
(a bounding-box test in Python, then shapely on the candidates in batches) and keeps the ways with a node inside (and
all their nodes) and the relations with a kept member, as sets of ids; the second pass writes those objects with
their tags. Every way that crosses the area is kept whole, so a street leaving the
area keeps its far end: together with a buffer as wide as the longest trip (``minutes`` × speed), walks near the
area's edge are the same as in the big file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import Geod, Transformer

from .._validate import district_key
from ..errors import InputFileError, OutputError
from ._utm import zone_crs
from .demand import read_boundaries

#: Nodes tested against the polygon at once (bounds the memory of the first pass).
BATCH = 1_000_000
KINDS = {"n": "node", "w": "way", "r": "relation"}


@dataclass(frozen=True)
class ExtractStats:
    """What :func:`extract` read and kept, and how long it took."""

    source: Path
    out: Path
    buffer_m: float
    area_km2: float
    nodes_read: int
    ways_read: int
    relations_read: int
    nodes_kept: int
    ways_kept: int
    relations_kept: int
    seconds: float

    @property
    def nodes_per_second(self) -> float:
        """Nodes of the big file read per second (both passes)."""
        return self.nodes_read / self.seconds if self.seconds > 0 else float("inf")


def area_km2(polygon: shapely.Geometry) -> float:
    """Return a WGS84 polygon's area on the ellipsoid, in km²."""
    return abs(Geod(ellps="WGS84").geometry_area_perimeter(polygon)[0]) / 1e6


def buffered(polygon: shapely.Geometry, metres: float) -> shapely.Geometry:
    """Return a WGS84 polygon grown by ``metres`` (in its UTM zone); itself when ``metres`` is 0."""
    if metres <= 0:
        return polygon
    c = polygon.centroid
    to_utm = Transformer.from_crs("EPSG:4326", zone_crs(c.x, c.y), always_xy=True)
    grown = shapely.transform(polygon, lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1]))).buffer(metres)
    return shapely.transform(grown, lambda xy: np.column_stack(
        to_utm.transform(xy[:, 0], xy[:, 1], direction="INVERSE")))


class _Inside:
    """Node ids inside the polygon, tested in batches (bounding box first, then shapely)."""

    def __init__(self, polygon: shapely.Geometry) -> None:
        self.polygon = polygon
        shapely.prepare(polygon)
        self.bounds = polygon.bounds
        self.nodes: set[int] = set()
        self.ids: list[int] = []
        self.lon: list[float] = []
        self.lat: list[float] = []

    def flush(self) -> None:
        if self.ids:
            hit = shapely.contains_xy(self.polygon, np.asarray(self.lon), np.asarray(self.lat))
            self.nodes.update(np.asarray(self.ids, np.int64)[hit].tolist())
        self.ids, self.lon, self.lat = [], [], []


@dataclass
class _Kept:
    """The ids kept, per type: nodes inside and the nodes of the kept ways, the ways, the relations."""

    nodes: set[int]
    ways: set[int]
    relations: set[int]
    read: dict[str, int]

    def holds(self, kind: str, ref: int) -> bool:
        return ref in (self.nodes if kind == "n" else self.ways if kind == "w" else self.relations)


def area_from(*, district: str | None = None, boundaries: str | Path | None = None, area: str | Path | None = None,
              bbox: str | tuple[float, float, float, float] | None = None) -> tuple[shapely.Geometry, str]:
    """Return the area to cut (WGS84) and its description, from exactly one way of naming it.

    ``district`` with ``boundaries``: the union of that district's 街道 (or of the 街道 so named); ``area``: the union
    of every polygon of a boundary file; ``bbox``: "west,south,east,north" in degrees. (A place name goes through
    Nominatim: :func:`siting.io._online.place_area`.)
    """
    given = [name for name, value in (("district", district), ("area", area), ("bbox", bbox)) if value is not None]
    if len(given) != 1:
        raise InputFileError("name the area to cut in one way: `district` (with `boundaries`), `area` (a boundary "
                             f"file), `bbox` or `place`; got {', '.join(f'`{g}`' for g in given) or 'none'}")
    if bbox is not None:
        return _bbox(bbox), f"the box {bbox}"
    if area is not None:
        polygons = read_boundaries(area)
        return shapely.union_all(polygons.geometry.values), f"{len(polygons)} polygon(s) of {Path(area).name}"
    if boundaries is None:
        raise InputFileError("`district` needs `boundaries` (the 街道 polygons with their district)")
    frame = read_boundaries(boundaries)
    wanted = district_key(district)
    keys = frame["district"].map(district_key) if frame["district"].notna().any() else None
    chosen = frame[keys == wanted] if keys is not None and (keys == wanted).any() else \
        frame[frame["subdistrict"].astype(str) == str(district)]
    if chosen.empty:
        names = sorted({str(v) for v in frame["district"].dropna()} or {str(v) for v in frame["subdistrict"]})
        raise InputFileError(f"{boundaries}: no district or 街道 named {district!r}; it has: {', '.join(names[:40])}")
    return shapely.union_all(chosen.geometry.values), f"{district} ({len(chosen)} 街道 of {Path(boundaries).name})"


def _bbox(value: str | tuple[float, float, float, float]) -> shapely.Geometry:
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        west, south, east, north = (float(v) for v in parts)
    except ValueError:
        raise InputFileError(f"`bbox` {value!r}: expected west,south,east,north in degrees, "
                             "e.g. 121.36,31.19,121.46,31.23") from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InputFileError(f"`bbox` {value!r}: expected west < east and south < north, in degrees")
    return shapely.box(west, south, east, north)


def _select(source: Path, test: _Inside) -> _Kept:
    """First pass: the nodes inside, then the ways with one of them (and all their nodes), then the relations."""
    import osmium

    west, south, east, north = test.bounds
    kept = _Kept(test.nodes, set(), set(), {"node": 0, "way": 0, "relation": 0})
    needed: set[int] = set()
    ways_started = False
    for obj in osmium.FileProcessor(str(source)):
        if isinstance(obj, osmium.osm.Node):
            if ways_started:
                raise InputFileError(f"{source}: a node after the ways (id {obj.id}): the file is not sorted; "
                                     "sort it first (osmium sort)")
            kept.read["node"] += 1
            loc = obj.location
            if loc.valid() and west <= loc.lon <= east and south <= loc.lat <= north:
                test.ids.append(obj.id)
                test.lon.append(loc.lon)
                test.lat.append(loc.lat)
                if len(test.ids) >= BATCH:
                    test.flush()
        elif isinstance(obj, osmium.osm.Way):
            if not ways_started:
                test.flush()
                ways_started = True
            kept.read["way"] += 1
            refs = [n.ref for n in obj.nodes]
            if not test.nodes.isdisjoint(refs):
                kept.ways.add(obj.id)
                needed.update(refs)
        elif isinstance(obj, osmium.osm.Relation):
            kept.read["relation"] += 1
            if any(kept.holds(m.type, m.ref) for m in obj.members):
                kept.relations.add(obj.id)
    test.flush()
    kept.nodes = test.nodes | needed
    return kept


def extract(source: str | Path, out: str | Path, area: shapely.Geometry, *, buffer_m: float = 0.0,
            overwrite: bool = False, progress: Callable[[str], None] | None = None) -> ExtractStats:
    """Write the part of ``source`` around ``area`` (WGS84 polygon, grown by ``buffer_m``) to ``out`` (.osm.pbf).

    Kept: every way with a node inside the grown area, whole (all its nodes, outside ones too), its tags; every node
    inside; every relation with a kept member (incomplete, as in any extract). ``progress`` gets a line per pass.
    Raises InputFileError for an unreadable or unsorted file, OutputError when ``out`` exists (without ``overwrite``).
    """
    import osmium

    source, out = Path(source), Path(out)
    if not source.is_file():
        raise InputFileError(f"OSM file not found: {source}")
    if out.exists() and not overwrite:
        raise OutputError(f"{out} exists; give `overwrite` to replace it")
    if not out.name.endswith(".osm.pbf"):
        raise OutputError(f"{out}: the extract is written as .osm.pbf; name it so")
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    grown = buffered(area, buffer_m)
    test = _Inside(grown)
    try:
        kept = _select(source, test)
        counts = kept.read
        if progress:
            progress(f"read {counts['node']:,} nodes, {counts['way']:,} ways, {counts['relation']:,} relations in "
                     f"{time.perf_counter() - t0:.1f} s")
        written = {"node": 0, "way": 0, "relation": 0}
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp.osm.pbf")
        tmp.unlink(missing_ok=True)
        try:
            with osmium.SimpleWriter(str(tmp)) as writer:  # (pyosmium's IdFilter: 1 s and a 512 KB block per 4M ids)
                for obj in osmium.FileProcessor(str(source)):
                    kind = obj.type_str()
                    if kept.holds(kind, obj.id):
                        writer.add(obj)
                        written[KINDS[kind]] += 1
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    except RuntimeError as exc:
        raise InputFileError(f"{source}: not a readable OSM file (.osm XML or .osm.pbf): {exc}") from exc
    return ExtractStats(source, out, buffer_m, area_km2(area), counts["node"], counts["way"], counts["relation"],
                        written["node"], written["way"], written["relation"], time.perf_counter() - t0)
