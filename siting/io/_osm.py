"""Private: tagged OSM features (nodes, ways, multipolygon areas) from .osm / .osm.pbf files via pyosmium."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from .._lazy import lazy_module
from ..errors import InputFileError

if TYPE_CHECKING:
    import osmium
else:  # loaded when an OSM file is read: a run on CSV / GeoJSON inputs does not pay its import (~8 ms)
    osmium = lazy_module("osmium")

#: Relation types that libosmium's area assembler turns into (multi)polygons.
AREA_RELATION_TYPES = frozenset({"multipolygon", "boundary"})

Keep = Callable[[dict[str, str]], bool]
COLUMNS = ["osm_type", "osm_id", "tags", "name"]


def _check_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"OSM file not found: {path}")
    if not path.is_file():
        raise InputFileError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path}: the OSM file is empty")
    return path


def _tags(obj: Any) -> dict[str, str]:
    return {t.k: t.v for t in obj.tags}


def _relation_candidates(path: Path, keep: Keep) -> set[int]:
    """First, cheap pass (relations only): ids of area relations whose tags ``keep`` accepts."""
    ids: set[int] = set()
    for rel in osmium.FileProcessor(str(path), osmium.osm.RELATION).with_filter(osmium.filter.EmptyTagFilter()):
        tags = _tags(rel)
        if tags.get("type") in AREA_RELATION_TYPES and keep(tags):
            ids.add(rel.id)
    return ids


def _way_geometry(way: Any, tags: dict[str, str]) -> shapely.Geometry | None:
    """LineString (open way) or Polygon (closed way, unless ``area=no``); None when a node is missing."""
    coords = []
    for node in way.nodes:
        loc = node.location
        if not loc.valid():
            return None
        coords.append((loc.lon, loc.lat))
    if len(coords) < 2:
        return None
    if way.is_closed() and len(coords) >= 4 and tags.get("area") != "no":
        return shapely.Polygon(coords)
    return shapely.LineString(coords)


def read_osm_features(path: str | Path, keep: Keep, *, areas: bool = True) -> gpd.GeoDataFrame:
    """Read the tagged nodes, ways and multipolygon relations of an OSM file that ``keep`` accepts.

    Parameters
    ----------
    path
        ``.osm`` (XML, optionally ``.gz``/``.bz2``) or ``.osm.pbf`` file; pyosmium reads all of them.
    keep
        Predicate on an element's tags (``dict[str, str]``); untagged elements are never passed.
    areas
        Also assemble ``type=multipolygon|boundary`` relations into (Multi)Polygons with libosmium's
        area assembler. Closed ways become Polygons either way (built here from the node list,
        which is faster than assembling every closed way of the file).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per matching element, EPSG:4326: ``osm_type`` ("node"/"way"/"relation"),
        ``osm_id`` (int), ``tags`` (dict; assembled areas lose ``type=multipolygon``), ``name``
        (``name`` tag or None) and geometry (Point, LineString, Polygon or MultiPolygon).
        ``attrs`` holds ``source`` (the path), ``skipped_ways`` (matching ways with nodes missing
        from the file, typical of bbox exports: skipped) and ``skipped_relations`` (matching area
        relations that could not be assembled, usually because members lie outside the extract).

    Raises
    ------
    InputFileError
        The file is missing, empty, truncated or not OSM data (pyosmium's RuntimeError is wrapped).

    Notes
    -----
    Node locations are cached in memory (``flex_mem``); the C++ ``EmptyTagFilter`` drops untagged
    objects before Python sees them, so only tagged elements cost Python time.
    """
    path = _check_file(path)
    try:
        wanted = _relation_candidates(path, keep) if areas else set()
        found = _Features(wanted)
        obj: Any  # Node | Way | Area: dispatched on is_*() below
        for obj in _tagged_objects(path, wanted):
            if obj.is_area():
                found.add_area(obj)
            elif obj.is_node() or obj.is_way():
                found.add_element(obj, keep)
    except RuntimeError as exc:
        raise InputFileError(f"{path}: cannot read as OSM data (truncated, corrupt or not OSM): {exc}") from exc
    return found.frame(path)


def _tagged_objects(path: Path, wanted: set[int]) -> osmium.FileProcessor:
    """Return the tagged objects of the file with node locations, and the areas of the ``wanted`` relations."""
    fp = osmium.FileProcessor(str(path)).with_locations().with_filter(osmium.filter.EmptyTagFilter())
    return fp.with_areas(osmium.filter.IdFilter(wanted)) if wanted else fp


@dataclass
class _Features:
    """The matching features met so far, as rows and geometries, with the ways skipped for missing nodes."""

    wanted: set[int]
    rows: list[tuple[str, int, dict[str, str], str | None]] = field(default_factory=list)
    geoms: list[shapely.Geometry] = field(default_factory=list)
    built: set[int] = field(default_factory=set)
    skipped_ways: int = 0
    wkb: Any = field(default_factory=lambda: osmium.geom.WKBFactory())

    def add(self, osm_type: str, osm_id: int, tags: dict[str, str], geom: shapely.Geometry) -> None:
        """Add one feature."""
        self.rows.append((osm_type, osm_id, tags, tags.get("name")))
        self.geoms.append(geom)

    def add_area(self, area: Any) -> None:
        """Add an area assembled from a wanted relation (closed ways are built from their nodes instead)."""
        if area.from_way() or area.orig_id() not in self.wanted:
            return
        try:
            geom = shapely.from_wkb(self.wkb.create_multipolygon(area))
        except RuntimeError:  # invalid rings: libosmium could not build a geometry
            return
        self.built.add(area.orig_id())
        self.add("relation", area.orig_id(), _tags(area), geom)

    def add_element(self, obj: Any, keep: Keep) -> None:
        """Add a node or way whose tags ``keep`` accepts, when its location(s) are in the file."""
        tags = _tags(obj)
        if not keep(tags):
            return
        if obj.is_node():
            if obj.location.valid():
                self.add("node", obj.id, tags, shapely.Point(obj.location.lon, obj.location.lat))
            return
        geom = _way_geometry(obj, tags)
        if geom is None:
            self.skipped_ways += 1
        else:
            self.add("way", obj.id, tags, geom)

    def frame(self, path: Path) -> gpd.GeoDataFrame:
        """Return the features as a WGS84 GeoDataFrame with the source and skip counts in ``attrs``."""
        data: dict[str, Any] = {c: [r[i] for r in self.rows] for i, c in enumerate(COLUMNS)}
        data["osm_id"] = np.asarray(data["osm_id"], dtype=np.int64)
        out = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(self.geoms, crs="EPSG:4326"), crs="EPSG:4326")
        out.attrs.update(source=str(path), skipped_ways=self.skipped_ways,
                         skipped_relations=len(self.wanted - self.built))
        return out
