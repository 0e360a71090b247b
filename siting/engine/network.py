"""Walking (or cycling) street network: from an OSM file offline, or from osmnx online; compact CSR form."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
import shapely
from pyproj import CRS, Transformer
from scipy.sparse.csgraph import connected_components

from .._log import get_logger, timed
from .._validate import check_file
from ..errors import NetworkError, NetworkWarning
from ..io._cache import atomic_write, cache_path, file_digest, read_cached, write_cached
from ..io._lines import lines_to_segments, read_lines
from ..io._osmnet import graph_to_segments, read_osm_ways
from ..io._utm import zone_crs
from ..settings import MODES
from . import _download, _npz
from ._graphs import csr_min, hull_candidates

CACHE_VERSION = "3"
log = get_logger(__name__)


@dataclass
class Network:
    """A street network as straight segments between nodes, in projected metres.

    Every OSM way is split at every node, so each segment is a straight line and snapping a point to
    it is exact. Attributes are aligned numpy arrays: nodes ``node_id``, ``x``, ``y``; segments ``u``,
    ``v`` (node indices), ``length`` (m), ``oneway`` (True: traversable only u → v). ``crs`` is the
    projected CRS of ``x``/``y``; ``info`` records the source, mode and what was dropped.
    """

    node_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    oneway: np.ndarray
    crs: str
    info: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ basics
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(len(self.x))

    @property
    def n_edges(self) -> int:
        """Number of segments."""
        return int(len(self.u))

    def __repr__(self) -> str:
        """Show nodes, segments, length and CRS on one line."""
        km = self.length.sum() / 1000
        return f"<Network {self.n_nodes:,} nodes, {self.n_edges:,} segments, {km:,.1f} km, {self.crs}>"

    def adjacency(self, reverse: bool = False) -> sp.csr_matrix:
        """CSR matrix of arc lengths (metres); ``reverse=True`` transposes it (for searches to a target).

        Cached on the instance (the arrays are not meant to be modified after construction).
        """
        cache = self.__dict__.setdefault("_adjacency", {})
        if reverse not in cache:
            cache[reverse] = self._build_adjacency(reverse)
        return cache[reverse]

    def _build_adjacency(self, reverse: bool) -> sp.csr_matrix:
        two = ~self.oneway
        src = np.concatenate([self.u, self.v[two]])
        dst = np.concatenate([self.v, self.u[two]])
        w = np.concatenate([self.length, self.length[two]])
        if reverse:
            src, dst = dst, src
        return csr_min(src, dst, w, self.n_nodes)

    def segments_xy(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x0, y0, x1, y1) arrays of every segment."""
        return self.x[self.u], self.y[self.u], self.x[self.v], self.y[self.v]

    def edges(self, to_wgs84: bool = False) -> gpd.GeoDataFrame:
        """Segments as a GeoDataFrame of LineStrings (projected, or WGS84)."""
        x0, y0, x1, y1 = self.segments_xy()
        coords = np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1)
        gdf = gpd.GeoDataFrame(
            {"u": self.u, "v": self.v, "length": self.length, "oneway": self.oneway},
            geometry=shapely.linestrings(coords), crs=self.crs,
        )
        return gdf.to_crs("EPSG:4326") if to_wgs84 else gdf

    def nodes(self) -> gpd.GeoDataFrame:
        """Nodes as a projected GeoDataFrame."""
        return gpd.GeoDataFrame(
            {"node_id": self.node_id}, geometry=gpd.points_from_xy(self.x, self.y), crs=self.crs
        )

    def extent(self) -> shapely.Geometry:
        """Return the network's area (projected): the convex hull of its nodes.

        Points outside it are "outside the network extent": the extract does not describe their
        streets, so they are left out of coverage rates (and reported), not counted as uncovered.
        Cached (and prepared for fast point tests); the hull is shapely's, computed on the nodes
        that can be its vertices (:func:`siting.engine._graphs.hull_candidates`), so it is the same polygon.
        """
        hull = self.__dict__.get("_extent")
        if hull is None:
            keep = hull_candidates(self.x, self.y)
            hull = shapely.convex_hull(shapely.multipoints(np.column_stack([self.x[keep], self.y[keep]])))
            shapely.prepare(hull)
            self.__dict__["_extent"] = hull
        return hull

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_segments(
        cls,
        node_id: np.ndarray,
        lon: np.ndarray,
        lat: np.ndarray,
        u: np.ndarray,
        v: np.ndarray,
        oneway: np.ndarray | None = None,
        *,
        crs: str | None = None,
        info: dict[str, Any] | None = None,
        keep_largest: bool = True,
    ) -> Network:
        """Build from WGS84 node coordinates and node-index segment pairs (projects, dedups, keeps the LCC)."""
        lon, lat = np.asarray(lon, float), np.asarray(lat, float)
        if len(lon) == 0 or len(u) == 0:
            raise NetworkError("the network has no usable ways (no walkable segments after filtering)")
        pcrs = CRS.from_user_input(crs) if crs else zone_crs(float(np.mean(lon)), float(np.mean(lat)))
        x, y = Transformer.from_crs("EPSG:4326", pcrs, always_xy=True).transform(lon, lat)
        return cls.from_projected(
            np.asarray(node_id), np.asarray(x), np.asarray(y), np.asarray(u), np.asarray(v),
            oneway, crs=pcrs.to_string(), info=info, keep_largest=keep_largest,
        )

    @classmethod
    def from_projected(
        cls,
        node_id: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        u: np.ndarray,
        v: np.ndarray,
        oneway: np.ndarray | None = None,
        *,
        crs: str,
        info: dict[str, Any] | None = None,
        keep_largest: bool = True,
        factor: np.ndarray | None = None,
    ) -> Network:
        """Build from projected coordinates (metres); segments of zero length and loops are dropped.

        ``factor`` multiplies each segment's length (a line walked at half the mode's speed counts twice its length).
        """
        u, v = np.asarray(u, np.int64), np.asarray(v, np.int64)
        ow = np.zeros(len(u), bool) if oneway is None else np.asarray(oneway, bool)
        times = np.ones(len(u)) if factor is None else np.asarray(factor, float)
        if len(x):  # nodes at the same position are one node (no zero-length segment between them)
            _, first, inverse = np.unique(np.column_stack([x, y]), axis=0, return_index=True, return_inverse=True)
            same = first[np.ravel(inverse)]
            u, v = same[u], same[v]
        keep = u != v
        u, v, ow, times = u[keep], v[keep], ow[keep], times[keep]
        # Two-way segments: one canonical direction; drop duplicates (same pair) keeping one.
        a = np.where(ow, u, np.minimum(u, v))
        b = np.where(ow, v, np.maximum(u, v))
        _, first = np.unique(np.column_stack([a, b, ow]), axis=0, return_index=True)
        first.sort()
        u, v, ow = a[first], b[first], ow[first]
        length = np.hypot(x[u] - x[v], y[u] - y[v]) * times[first]
        info = dict(info or {})
        net = cls(np.asarray(node_id), np.asarray(x, float), np.asarray(y, float), u, v, length, ow, crs, info)
        return net.largest_component() if keep_largest else net._compact()

    def _compact(self, keep_nodes: np.ndarray | None = None) -> Network:
        """Drop nodes no segment uses (or not in ``keep_nodes``), renumbering segments."""
        used = np.zeros(self.n_nodes, bool)
        used[self.u] = True
        used[self.v] = True
        if keep_nodes is not None:
            used &= keep_nodes
        seg = used[self.u] & used[self.v]
        new = np.full(self.n_nodes, -1, np.int64)
        new[used] = np.arange(int(used.sum()))
        return Network(
            self.node_id[used], self.x[used], self.y[used], new[self.u[seg]], new[self.v[seg]],
            self.length[seg], self.oneway[seg], self.crs, self.info,
        )

    def largest_component(self, min_share: float = 0.05) -> Network:
        """Keep the largest connected component (and any other holding ≥ ``min_share`` of the nodes).

        Small islands (a footway cut off by a bbox, an unconnected ramp) are dropped with a warning
        that says how much. A second large component is kept on purpose: in central Shanghai the
        Huangpu River splits the walking network (its bridges and tunnels are ``foot=no``), and
        dropping Pudong would wrongly leave its residents without streets.
        """
        net = self._compact()
        if net.n_nodes == 0:
            raise NetworkError("the network has no usable ways (no walkable segments after filtering)")
        graph = sp.coo_matrix((np.ones(net.n_edges), (net.u, net.v)), shape=(net.n_nodes,) * 2)
        n_comp, labels = connected_components(graph, directed=False)
        if n_comp > 1:
            sizes = np.bincount(labels)
            big = (sizes >= min_share * net.n_nodes) | (sizes == sizes.max())
            keep = big[labels]
            dropped_len = net.length[~keep[net.u]].sum()
            kept = int(big.sum())
            msg = (
                f"dropped {int((~keep).sum()):,} of {net.n_nodes:,} nodes ({(~keep).mean():.1%}) and "
                f"{dropped_len / 1000:.2f} km of street in {n_comp - kept} small disconnected component(s)"
            )
            if kept > 1:
                msg += (
                    f"; kept {kept} large components that do not connect by this mode "
                    f"(sizes {', '.join(f'{s:,}' for s in np.sort(sizes[big])[::-1])} nodes)"
                )
            warnings.warn(msg, NetworkWarning, stacklevel=3)
            net.info["warning"] = msg
            net.info["dropped"] = {"components": n_comp - kept, "nodes": int((~keep).sum()),
                                   "km": round(float(dropped_len) / 1000, 3),  # where (0.1 m): residents near them
                                   "xy": np.round(np.column_stack([net.x[~keep], net.y[~keep]]), 1).tolist()}
            net.info["components_kept"] = kept
            net = net._compact(keep)
        return net

    @classmethod
    def from_osm(
        cls, path: str | Path, mode: str = "walk", *, cache: bool = True, cache_dir: str | Path | None = None
    ) -> Network:
        """Read a ``.osm`` (XML) or ``.osm.pbf`` extract offline and keep the ways ``mode`` may use.

        ``mode`` is a :data:`siting.settings.MODES` key or an osmnx network type ("walk", "bike").
        The filter is osmnx's own Overpass filter for that network type, applied to the file's tags,
        so offline and online networks agree. The built network is cached (keyed by the file's
        sha256 and the mode) so a second run skips parsing.
        """
        path = check_file(path, "OSM")
        network_type = _network_type(mode)
        key = file_digest(path)[:32] + f"-{network_type}-v{CACHE_VERSION}"
        cached = cache_path(cache_dir, "osm", key) if cache else None
        net = read_cached(cached, cls.load)
        if net is not None:
            net.info["cache"] = "hit"
            log.info("network cache hit: %s (%s) from %s", path.name, network_type, cached)
            if net.info.get("warning"):  # say on every run what the first run said
                warnings.warn(f"{path.name}: {net.info['warning']}", NetworkWarning, stacklevel=2)
            return net
        log.info("network cache %s: building the %s network of %s", "miss" if cache else "off", network_type, path.name)
        with timed(log, f"built the {network_type} network of {path.name}"):
            ways = read_osm_ways(path, network_type)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                net = cls.from_segments(
                    ways.node_id, ways.lon, ways.lat, ways.u, ways.v, ways.oneway,
                    info={"source": str(path), "network_type": network_type, **ways.stats},
                )
        for w in caught:
            warnings.warn(f"{path.name}: {w.message}", w.category, stacklevel=2)
        net.info["cache"] = "miss" if write_cached(cached, net._write_npz) else "off"
        return net

    @classmethod
    def from_graph(cls, graph: Any, *, info: dict[str, Any] | None = None, network_type: str = "walk") -> Network:
        """Convert an osmnx MultiDiGraph (unprojected, lon/lat) into a Network (edge geometries exploded)."""
        seg = graph_to_segments(graph, network_type)
        return cls.from_segments(seg.node_id, seg.lon, seg.lat, seg.u, seg.v, seg.oneway, info=info)

    @classmethod
    def from_lines(
        cls, lines: gpd.GeoDataFrame | str | Path, mode: str = "walk", *, oneway: str | None = "oneway",
        walk: str | None = "walk", bike: str | None = "bike", speed: str | None = "speed_kmh", crs: str | None = None,
        layer: str | None = None, tolerance_m: float = 0.0, keep_largest: bool = True,
    ) -> Network:
        """Build from a planner's own road centrelines (规划路网): LineStrings / MultiLineStrings in any CRS.

        Parameters
        ----------
        lines : GeoDataFrame or path
            The lines, or a GeoPackage / shapefile / GeoJSON / GeoParquet file of them (``layer``: which layer).
        mode : str
            A :data:`siting.settings.MODES` key: the network serves its network type (recorded for ``check_mode``).
        oneway, walk, bike, speed : str or None
            Optional columns (a default name that is absent is ignored; None: not read): ``oneway`` yes/1 along
            the line, -1 against it (cycling only: walking is two-way, as in osmnx); ``walk`` / ``bike`` no/0:
            not usable by that mode; ``speed`` the speed on the line in km/h (its time is length ÷ speed, held as
            the length at the mode's own speed, so another speed, e.g. elderly, scales every line alike).
        crs : str, optional
            The lines' CRS when the file has none or a wrong one; ``gcj02`` / ``bd09`` for Amap / Baidu data.
        tolerance_m : float
            Vertices nearer than this join (0: only vertices at the same place, as OSM ways share nodes; lines
            that cross without a common vertex, a bridge over a street, do not connect).

        Returns
        -------
        Network
            In the local UTM zone; ``info`` holds the source, ``network_type`` and the columns read.

        Examples
        --------
        >>> import geopandas as gpd, shapely
        >>> roads = gpd.GeoDataFrame({"oneway": ["no", "yes"], "speed_kmh": [None, 2.0]}, geometry=[
        ...     shapely.LineString([(121.430, 31.190), (121.440, 31.190)]),
        ...     shapely.LineString([(121.440, 31.190), (121.440, 31.195)])], crs="EPSG:4326")
        >>> net = Network.from_lines(roads, mode="walk")   # or Network.from_lines("规划路网.gpkg")
        >>> net.n_edges, net.info["network_type"]
        (2, 'walk')
        """
        network_type = _network_type(mode)
        source = str(lines) if isinstance(lines, str | Path) else str(lines.attrs.get("source", "lines"))
        gdf = read_lines(lines, layer=layer) if isinstance(lines, str | Path) else lines
        ref = float(MODES[mode]["speed_kmh"] if mode in MODES else MODES[network_type]["speed_kmh"])  # type: ignore[arg-type]
        seg = lines_to_segments(gdf, network_type, reference_kmh=ref, crs=crs, oneway=oneway, walk=walk, bike=bike,
                                speed=speed, tolerance_m=tolerance_m, source=Path(source).name)
        info = {"source": source, "format": "lines", "network_type": network_type, "reference_speed_kmh": ref,
                **seg.stats}
        return cls.from_projected(np.arange(len(seg.x)), seg.x, seg.y, seg.u, seg.v, seg.oneway, crs=seg.crs,
                                  info=info, keep_largest=keep_largest, factor=seg.factor)

    @classmethod
    def from_place(
        cls,
        query: str | dict[str, str],
        mode: str = "walk",
        *,
        cache: bool = True,
        cache_dir: str | Path | None = None,
        buffer_m: float = 0.0,
        overpass_url: str | None = None,
        nominatim_url: str | None = None,
    ) -> Network:
        """Download the network of a place name (e.g. "长宁区, 上海市") with osmnx (Nominatim, then Overpass).

        ``buffer_m``: also the streets this far around the place (the longest trip, so that walks near its edge may
        leave it). ``overpass_url`` / ``nominatim_url``: the servers (else ``$SITING_OVERPASS_URL`` /
        ``$SITING_NOMINATIM_URL``, else osmnx's public ones; see :mod:`siting.io._online`). The downloads are cached
        in ``cache_dir`` and so is the built network: a second run works offline, and says so.
        """
        return _download.network(cls, "place", query, _network_type(mode), cache, cache_dir, buffer_m, overpass_url,
                                 nominatim_url, CACHE_VERSION)

    @classmethod
    def from_bbox(
        cls, bbox: tuple[float, float, float, float], mode: str = "walk", *, cache: bool = True,
        cache_dir: str | Path | None = None, overpass_url: str | None = None,
    ) -> Network:
        """Download the network inside (west, south, east, north) in WGS84 degrees."""
        return _download.network(cls, "bbox", tuple(bbox), _network_type(mode), cache, cache_dir, 0.0, overpass_url,
                                 None, CACHE_VERSION)

    @classmethod
    def from_polygon(
        cls, polygon: shapely.Geometry, mode: str = "walk", *, cache: bool = True,
        cache_dir: str | Path | None = None, overpass_url: str | None = None,
    ) -> Network:
        """Download the network inside a WGS84 polygon."""
        return _download.network(cls, "polygon", polygon, _network_type(mode), cache, cache_dir, 0.0, overpass_url,
                                 None, CACHE_VERSION)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write to a compressed ``.npz`` (atomically)."""
        return atomic_write(Path(path), self._write_npz)

    def _write_npz(self, fh: IO[bytes]) -> None:
        """Write the arrays as a compressed ``.npz`` (:func:`siting.engine._npz.write`)."""
        _npz.write(fh, self)

    @classmethod
    def load(cls, path: str | Path) -> Network:
        """Read a network written by :meth:`save` (ValueError when the arrays do not fit together)."""
        return cls(*_npz.read(path))


def _network_type(mode: str) -> str:
    if mode in MODES:
        return str(MODES[mode]["network"])
    if mode in {"walk", "bike"}:
        return mode
    raise NetworkError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
