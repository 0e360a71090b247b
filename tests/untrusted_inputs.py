"""Hostile but well-formed inputs for the untrusted-input tests: names that carry markup, script and formulas.

Built on tests/data/walk_tiny.osm (a few streets at 121.400–121.403 E, 31.200–31.202 N): its street names,
the facility names, the 街道 and district names of the boundaries and the names in a scenario file all
hold payloads that would run in a browser (``window.__pwned``) or in a spreadsheet if written raw.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

TEST_DATA = Path(__file__).resolve().parent / "data"

#: Runs when inserted as HTML (innerHTML, or raw in the page).
IMG = '<img src=x onerror="window.__pwned=1">'
#: Runs when written raw into the page source.
SCRIPT = "<script>window.__pwned=1</script>"
#: A live formula when a spreadsheet reads it.
FORMULA = '=HYPERLINK("http://example.invalid/?leak","click")'
#: Every payload, as the names show them.
PAYLOADS = (IMG, SCRIPT, FORMULA)


def _box(x0: float, y0: float, x1: float, y1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def write_inputs(root: Path) -> dict[str, Path]:
    """Write the hostile inputs into ``root``; return their paths (osm, fac, pop, bounds, scenarios, jobs)."""
    root.mkdir(parents=True, exist_ok=True)
    osm = (TEST_DATA / "walk_tiny.osm").read_text(encoding="utf-8")
    osm = osm.replace('<tag k="name" v="单行路"/>', f'<tag k="name" v="{html.escape(IMG)}"/>')
    osm = osm.replace('<way id="12"><nd ref="4"/><nd ref="6"/><tag k="highway" v="residential"/>',
                      f'<way id="12"><nd ref="4"/><nd ref="6"/><tag k="highway" v="residential"/>'
                      f'<tag k="name" v="{html.escape(SCRIPT)}"/>')
    osm = osm.replace('<way id="13"><nd ref="6"/><nd ref="9"/><nd ref="7"/><nd ref="5"/><tag k="highway" '
                      'v="residential"/>', '<way id="13"><nd ref="6"/><nd ref="9"/><nd ref="7"/><nd ref="5"/>'
                      f'<tag k="highway" v="residential"/><tag k="name" v="{html.escape(FORMULA)}"/>')
    assert osm.count('k="name"') == 3
    paths = {"osm": root / "streets.osm", "fac": root / "fac.csv", "pop": root / "pop.csv",
             "bounds": root / "bounds.geojson", "scenarios": root / "plans.yaml", "jobs": root / "jobs.yaml"}
    paths["osm"].write_text(osm, encoding="utf-8")

    def quoted(text: str) -> str:
        return '"' + text.replace('"', '""') + '"'

    paths["fac"].write_text("name,type,lon,lat\n" + "".join(
        f"{quoted(n)},{t},{x},{y}\n" for n, t, x, y in ((IMG, "center", 121.4005, 31.2000),
                                                         (SCRIPT, "station", 121.4030, 31.2015),
                                                         (FORMULA, "station", 121.4000, 31.2019))), encoding="utf-8")
    paths["pop"].write_text("lon,lat,population\n121.4025,31.2001,100\n121.4001,31.2015,50\n121.4028,31.2019,30\n"
                            "121.4012,31.2008,40\n", encoding="utf-8")
    features = [{"type": "Feature", "properties": {"subdistrict": IMG, "district": SCRIPT},
                 "geometry": _box(121.399, 31.199, 121.4015, 31.203)},
                {"type": "Feature", "properties": {"subdistrict": FORMULA, "district": "../../../X"},
                 "geometry": _box(121.4015, 31.199, 121.405, 31.203)}]
    paths["bounds"].write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                               encoding="utf-8")
    paths["scenarios"].write_text(f"""name: {json.dumps(SCRIPT)}
baseline:
  osm: streets.osm
  facilities: fac.csv
  population: pop.csv
  boundaries: bounds.geojson
scenarios:
  - name: {json.dumps(IMG)}
    close: [{json.dumps(SCRIPT)}]
    add:
      - {{name: {json.dumps(IMG)}, lon: 121.4020, lat: 31.2010}}
""", encoding="utf-8")
    paths["jobs"].write_text(f"""defaults:
  osm: streets.osm
  facilities: fac.csv
  population: pop.csv
  boundaries: bounds.geojson
  cache_dir: {root / "cache"}
jobs:
  - name: hostile
    districts: all
""", encoding="utf-8")
    return paths
