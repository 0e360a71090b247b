"""``siting extract`` on a synthetic ``.osm.pbf`` ten times the district's area: nodes per second and peak memory of the
cut (two streaming passes) against reading the whole file into a network (``Network.from_osm``, in its own process so
that its peak memory is its own).

The file is a street grid (100 m blocks, ways of 20 nodes, ``highway=residential``) around central Shanghai; the
district is the square in its middle with a tenth of its area; the cut keeps it plus 1,000 m (15 min at 4 km/h).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import osmium
import shapely

from siting.io._extract import buffered, extract

from ._common import REPO, Result, peak_rss_mb

#: Nodes along one side of the district's grid.
SIDE = {"ci": 60, "full": 400}
BLOCK_M = 100.0
WAY_NODES = 20


def jobs(size: str) -> list[str]:
    return ["cut"]


def grid_file(path: Path, district_side: int) -> tuple[shapely.Geometry, int]:
    """Write the grid (√10 × the district's side) to ``path``; return the district square and the node count."""
    n = round(district_side * math.sqrt(10))
    lat0, lon0 = 31.2, 121.45
    dlat = BLOCK_M / 111_320
    dlon = BLOCK_M / (111_320 * math.cos(math.radians(lat0)))
    south, west = lat0 - n / 2 * dlat, lon0 - n / 2 * dlon
    with osmium.SimpleWriter(str(path)) as w:
        for i in range(n):
            for j in range(n):
                w.add_node(osmium.osm.mutable.Node(id=1 + i * n + j, location=(west + j * dlon, south + i * dlat)))
        way = 1
        for i in range(n):
            for start in range(0, n - 1, WAY_NODES - 1):
                cols = range(start, min(start + WAY_NODES, n))
                for refs in ([1 + i * n + j for j in cols], [1 + j * n + i for j in cols]):  # a row and a column
                    w.add_way(osmium.osm.mutable.Way(id=way, nodes=refs, tags={"highway": "residential"}))
                    way += 1
    half_lat, half_lon = district_side / 2 * dlat, district_side / 2 * dlon
    return shapely.box(lon0 - half_lon, lat0 - half_lat, lon0 + half_lon, lat0 + half_lat), n * n


def expected_ways(path: Path, polygon: shapely.Geometry) -> set[int]:
    """The plain definition: the ways with a node inside the polygon (one shapely test per node)."""
    inside = {o.id for o in osmium.FileProcessor(str(path), osmium.osm.NODE)
              if polygon.contains(shapely.Point(o.location.lon, o.location.lat))}
    return {o.id for o in osmium.FileProcessor(str(path), osmium.osm.WAY) if any(n.ref in inside for n in o.nodes)}


PEER = """
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
from siting.engine.network import Network
t0 = time.perf_counter()
net = Network.from_osm(sys.argv[1], "walk", cache=False)
print(json.dumps({"s": time.perf_counter() - t0, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "nodes": net.n_nodes}))
"""


def run(size: str, job: str) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "grid.osm.pbf"
        district, n_nodes = grid_file(big, SIDE[size])
        before = peak_rss_mb()
        t0 = time.perf_counter()
        stats = extract(big, Path(tmp) / "district.osm.pbf", district, buffer_m=1000.0)
        ours = time.perf_counter() - t0
        rss = peak_rss_mb()
        kept = {o.id for o in osmium.FileProcessor(str(stats.out), osmium.osm.WAY)}
        ok = kept == expected_ways(big, buffered(district, 1000.0))
        proc = subprocess.run([sys.executable, "-c", PEER, str(big)], cwd=REPO, capture_output=True, text=True,
                              check=True)
        peer = json.loads(proc.stdout.strip().splitlines()[-1])
        size_mb = big.stat().st_size / 1e6
    note = (f"{n_nodes:,} nodes ({size_mb:.1f} MB), district 1/10 of it: cut {stats.nodes_read / ours:,.0f} nodes/s, "
            f"peak {rss:.0f} MB (+{rss - before:.0f} over the imports); whole-file network "
            f"{n_nodes / peer['s']:,.0f} nodes/s, peak {peer['rss']:.0f} MB; kept {stats.nodes_kept:,} nodes")
    return Result("extract a district (1/10 of the file)", ours, "Network.from_osm (whole file)", peer["s"], rss,
                  "the ways kept = the ways with a node in the buffered area", ok, note=note,
                  extra={"nodes_per_s": stats.nodes_read / ours, "peer_nodes_per_s": n_nodes / peer["s"],
                         "peer_rss_mb": peer["rss"], "rss_before_mb": before, "file_mb": size_mb})
