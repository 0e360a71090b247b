"""Fuzzing the readers of files others write: each example may fail only with siting's own errors (issue 21).

Hypothesis builds scenario files and jobs files (valid keys, wrong types, nesting, duplicate keys, anchors
and aliases, markup and formulas in names), facility and population tables (odd headers, encodings, names
with markup and formulas, odd numbers) and small OSM files (duplicate and negative ids, dangling node
references, coordinates off the globe). Every example runs the library's reader; anything but a
:class:`siting.errors.SitingError` (a KeyError, a numpy error, a hang) fails the test. What is read is then
written the way outputs write text: escaped for HTML and neutralised for spreadsheets. About 2,400 examples
in all, well under two minutes.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from untrusted_inputs import FORMULA, IMG, SCRIPT, TEST_DATA

from siting.cli._jobs import JOB_KEYS, read_jobs
from siting.errors import SitingError
from siting.io._osmnet import read_osm_ways
from siting.io.demand import read_population
from siting.io.facilities import read_facilities
from siting.outputs._text import FORMULA_START, html_text, neutralise
from siting.scenarios._file import BASELINE_KEYS, SCENARIO_KEYS, TOP_KEYS, read_scenario_file


def fuzz(examples: int) -> settings:
    """Settings of every fuzz test: ``examples`` each, no deadline, no example database written into the repo."""
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
WORK = Path(tempfile.mkdtemp(prefix="siting-fuzz-"))
(WORK / "a.osm").write_text((TEST_DATA / "walk_tiny.osm").read_text(encoding="utf-8"), encoding="utf-8")
(WORK / "f.csv").write_text("name,type,lon,lat\nA,center,121.4005,31.2000\n", encoding="utf-8")

HOSTILE = st.sampled_from([IMG, SCRIPT, FORMULA, "../../../X", "a/b", "", " ", "\t=1", "@SUM(1)", "-2", "+1",
                           "徐汇区", "NUL", "a\x00b", "'; DROP TABLE x; --", "${alert(1)}", "`x`", "\u202e"])
TEXT = st.one_of(HOSTILE, st.text(max_size=12))
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True), TEXT,
                   st.sampled_from(["a.osm", "f.csv", "missing.csv", "walk", "bike", "elderly", "wgs84", "bd09",
                                    "all", "0.9", "15"]))
VALUE = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


def _key(keys: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(keys), st.sampled_from(keys).map(lambda k: k + "s"), TEXT)


def _mapping(keys: tuple[str, ...], value: st.SearchStrategy[Any] = VALUE) -> st.SearchStrategy[list]:
    """A mapping as a list of pairs (so a key can come twice, as in a hand-edited file)."""
    return st.lists(st.tuples(_key(keys), value), max_size=6)


def _yaml(value: Any, indent: int = 0) -> str:
    """YAML text of nested pairs/lists/scalars (flow style for scalars, JSON-quoted: always parseable YAML)."""
    pad = "  " * indent
    if isinstance(value, list) and value and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        return "".join(f"{pad}{json.dumps(str(k))}:\n{_yaml(v, indent + 1)}" if isinstance(v, list | dict) and v
                       else f"{pad}{json.dumps(str(k))}: {json.dumps(v, default=str)}\n" for k, v in value)
    return f"{pad}{json.dumps(value, default=str, allow_nan=True)}\n".replace("NaN", ".nan").replace(
        "Infinity", ".inf")


LON, LAT = st.floats(121.39, 121.41), st.floats(31.19, 31.21)
POINT = st.fixed_dictionaries({"name": TEXT, "lon": st.one_of(LON, SCALAR), "lat": st.one_of(LAT, SCALAR)},
                              optional={"type": st.sampled_from(["station", "center", "x"]), "crs": TEXT,
                                        "population": st.one_of(st.integers(-5, 500), SCALAR)})
#: Plausible values per key (a random value or key now and then: wrong types, typos).
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "close": st.lists(st.one_of(st.sampled_from(["A", "row:1", "A "]), TEXT), max_size=3),
    "add": st.lists(st.one_of(POINT, st.just("f.csv"), st.just({"path": "f.csv", "crs": "bd09"})), max_size=3),
    "move": st.dictionaries(st.sampled_from(["A", "row:1", "1"]), st.one_of(st.tuples(LON, LAT).map(list), POINT),
                            max_size=2),
    "add_population": st.lists(POINT, max_size=2),
    "mode": st.sampled_from(["walk", "bike", "elderly", "walk", "car", IMG]),
    "speed_kmh": st.one_of(st.floats(1, 20), st.floats(allow_nan=True), st.sampled_from([1e-300, 4, 0, -1])),
    "minutes": st.one_of(st.floats(1, 30), st.floats(allow_nan=True), st.sampled_from([15, 0, 1e308])),
    "target": st.one_of(st.floats(0.01, 1), st.floats(-1, 2), st.sampled_from([90, 0.9])),
    "site": st.fixed_dictionaries({}, optional={"k": st.integers(-1, 3), "target": st.floats(0, 1.5),
                                                "spacing_m": st.one_of(st.floats(), SCALAR)}),
    "from": TEXT, "facility_types": st.one_of(TEXT, st.lists(TEXT, max_size=2)),
}


def _pairs(required: list[tuple[str, st.SearchStrategy[Any]]], keys: tuple[str, ...]) -> st.SearchStrategy[list]:
    """Pairs starting with the ``required`` ones, then plausible keys, sometimes a random or repeated one."""
    known = [k for k in keys if k in PLAUSIBLE]
    extra = st.one_of(*(st.tuples(st.just(k), PLAUSIBLE[k]) for k in known), st.tuples(_key(keys), VALUE))
    return st.tuples(*(st.tuples(st.just(k), v) for k, v in required), st.lists(extra, max_size=3)).map(
        lambda t: [*t[:-1], *t[-1][:2]])


SCENARIO = st.one_of(_pairs([("name", TEXT)], SCENARIO_KEYS), st.lists(st.tuples(_key(SCENARIO_KEYS), VALUE),
                                                                        max_size=4))
SCENARIO_FILE = st.fixed_dictionaries({
    "top": st.one_of(st.just([]), st.just([("name", IMG)]), _mapping(TOP_KEYS)),
    "baseline": st.one_of(_pairs([("osm", st.just("a.osm")), ("facilities", st.just("f.csv"))], BASELINE_KEYS),
                          _pairs([("osm", st.just("a.osm"))], BASELINE_KEYS), _mapping(BASELINE_KEYS), VALUE),
    "scenarios": st.one_of(st.lists(SCENARIO, max_size=3), st.lists(SCENARIO, max_size=3), VALUE),
    "anchors": st.one_of(st.just(""), st.just(""), st.sampled_from([
                                "x: &x [1, 2]\n", "x: &x {mode: bike}\n", "x: &x [*x]\n",
                                'x: &x ["a","a","a","a","a","a","a","a"]\ny: &y [*x,*x,*x,*x,*x,*x,*x,*x]\n'
                                "z: &z [*y,*y,*y,*y,*y,*y,*y,*y]\nw: [*z,*z,*z,*z,*z,*z,*z,*z,*z]\n"])),
})


def _scenario_text(doc: dict[str, Any]) -> str:
    text = (doc["anchors"].replace("x:", "name:", 1) if doc["anchors"] and not doc["top"] else doc["anchors"]) \
        + (_yaml(doc["top"]) if doc["top"] else "")
    text += "baseline:\n" + _yaml(doc["baseline"], 1) if doc["baseline"] != [] else ""
    if isinstance(doc["scenarios"], list) and all(isinstance(s, list) for s in doc["scenarios"]):
        text += "scenarios:\n" + "".join("  -\n" + _yaml(s, 2) if s else "  - {}\n" for s in doc["scenarios"])
    else:
        text += "scenarios:\n" + _yaml(doc["scenarios"], 1)
    return text


def _only_siting_errors(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a reader: a SitingError gives None; any other error fails, and so does a warning siting did not word
    (numpy's RuntimeWarning, a pandas or geopandas warning: those reach the planner's console raw)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return func(*args, **kwargs)
        except SitingError:
            return None
        finally:
            raw = [f"{w.category.__name__}: {w.message}" for w in caught if not _siting_warning(w)]
            assert not raw, raw


def _siting_warning(w: warnings.WarningMessage) -> bool:
    own_class = w.category.__module__.split(".")[0] == "siting"  # siting's warning classes, wherever attributed
    return issubclass(w.category, UserWarning) and (
        own_class or w.filename.startswith(str(Path(__file__).parents[1] / "siting")))


@fuzz(900)
@given(SCENARIO_FILE, st.booleans())
def test_scenario_files(doc: dict[str, Any], alias_close: bool) -> None:
    text = _scenario_text(doc)
    if alias_close:
        text += "extra: *x\n" if "&x" in text else ""
    path = WORK / "s.yaml"
    path.write_text(text, encoding="utf-8")
    _only_siting_errors(read_scenario_file, path)


JOB = st.one_of(_pairs([("name", TEXT), ("osm", st.just("a.osm"))], tuple(JOB_KEYS)), _mapping(tuple(JOB_KEYS)))


@fuzz(400)
@given(st.lists(JOB, min_size=1, max_size=3), _mapping(tuple(JOB_KEYS)), st.booleans())
def test_jobs_files(jobs: list[list], defaults: list, with_defaults: bool) -> None:
    text = ("defaults:\n" + _yaml(defaults, 1) if with_defaults and defaults else "") + "jobs:\n"
    text += "".join("  -\n" + _yaml(j, 2) if j else "  - {}\n" for j in jobs) if jobs else "  []\n"
    path = WORK / "jobs.yaml"
    path.write_text(text, encoding="utf-8")
    _only_siting_errors(read_jobs, path)


HEADERS = st.lists(st.one_of(st.sampled_from(["name", "名称", "type", "lon", "lat", "经度", "纬度", "x", "y",
                                              "population", "人口", "id", "facility_id", "", "name", " lon "]),
                             HOSTILE), min_size=1, max_size=6)
CELL = st.one_of(HOSTILE, st.floats(allow_nan=True, allow_infinity=True).map(str),
                 st.sampled_from(["121.40", "31.20", "121,40", "1e400", "-0", "0x10", "", "NaN", "center",
                                  "station", "中心", "100", "-5"]))


PLAIN_ROWS = st.lists(st.tuples(st.one_of(HOSTILE, TEXT), st.sampled_from(["center", "station", "x", ""]),
                                 st.one_of(LON.map(str), LON.map(str), LON.map(str), CELL),
                                 st.one_of(LAT.map(str), LAT.map(str), LAT.map(str), CELL),
                                 st.one_of(st.integers(-5, 900).map(str), CELL)).map(list), min_size=1, max_size=5)
TABLE = st.one_of(
    st.tuples(st.sampled_from([["name", "type", "lon", "lat", "population"], ["名称", "type", "经度", "纬度", "人口"],
                               ["name", "type", "lon", "lat", "name"], [IMG, "type", "lon", "lat", FORMULA]]),
              PLAIN_ROWS),
    st.tuples(HEADERS, st.lists(st.lists(CELL, min_size=0, max_size=7), max_size=5)))


@fuzz(600)
@given(TABLE,
       st.sampled_from(["utf-8", "utf-8-sig", "gbk", "utf-16"]), st.sampled_from([",", ";", "\t"]),
       st.booleans())
def test_facility_and_population_tables(table: tuple[list[str], list[list[str]]], encoding: str, sep: str,
                                        population: bool) -> None:
    header, rows = table
    def cell(text: str) -> str:
        return '"' + text.replace('"', '""') + '"' if any(c in text for c in (sep, '"', "\n", "\r")) else text

    text = "\n".join(sep.join(cell(c) for c in line) for line in [header, *rows]) + "\n"
    path = WORK / "table.csv"
    try:
        path.write_bytes(text.encode(encoding))
    except UnicodeEncodeError:
        path.write_bytes(text.encode("utf-8"))
    frame = _only_siting_errors(read_population if population else read_facilities, path)
    if frame is None:
        return
    table = neutralise(frame.drop(columns=frame.geometry.name))  # as the CSV writers do
    for col in table.columns:
        for value in table[col]:
            assert not (isinstance(value, str) and value.startswith(FORMULA_START))
            assert "<" not in html_text(value) and "`" not in html_text(value)


NODE = st.tuples(st.integers(-5, 8), st.one_of(st.floats(31.19, 31.21), st.sampled_from([95.0, -91.0, 0.0])),
                 st.one_of(st.floats(121.39, 121.41), st.sampled_from([181.0, -200.0])))
WAY = st.tuples(st.integers(-3, 12), st.lists(st.integers(-6, 9), max_size=6),
                st.sampled_from(["residential", "footway", "motorway", "steps", "", IMG]),
                st.one_of(st.none(), HOSTILE))


@fuzz(500)
@given(st.lists(NODE, max_size=8), st.lists(WAY, max_size=5), st.sampled_from(["walk", "bike"]))
def test_osm_files(nodes: list, ways: list, network_type: str) -> None:
    def attr(text: str) -> str:
        return json.dumps(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
            .replace("\\u0000", "").replace("\\", "")

    lines = [f'<node id="{i}" lat="{lat!r}" lon="{lon!r}"/>' for i, lat, lon in nodes]
    for wid, refs, highway, name in ways:
        tags = f'<tag k="highway" v={attr(highway)}/>' + (f"<tag k=\"name\" v={attr(name)}/>" if name else "")
        lines.append(f'<way id="{wid}">' + "".join(f'<nd ref="{r}"/>' for r in refs) + tags + "</way>")
    path = WORK / "f.osm"
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n' + "\n".join(lines) + "\n</osm>\n",
                    encoding="utf-8")
    _only_siting_errors(read_osm_ways, path, network_type)


@pytest.fixture(scope="module", autouse=True)
def _clean_work() -> Any:
    yield
    import shutil

    shutil.rmtree(WORK, ignore_errors=True)
