"""`siting extract`: cut an area out of a big OSM file, streaming; the cut gives the same coverage as the whole file."""

from __future__ import annotations

import json
import re
import shlex

import osmium
import pytest
from click.testing import CliRunner
from conftest import readme_commands
from osm_standin import StandIn
from test_online import PLACE, quiet_environment

from siting.cli.commands import app
from siting.io._extract import area_from, extract


def to_pbf(source, out):
    """Write an ``.osm`` file as ``.osm.pbf`` with pyosmium (every object, its tags)."""
    with osmium.SimpleWriter(str(out)) as writer:
        for obj in osmium.FileProcessor(str(source)):
            writer.add(obj)
    return out


def contents(path):
    """{(type, id): tags} of every object of an OSM file."""
    return {(o.type_str(), o.id): dict(o.tags) for o in osmium.FileProcessor(str(path))}


def test_every_way_crossing_the_area_is_kept_whole(test_data, tmp_path):
    """Nodes 1 and 2 inside: ways 10 (1→4), 11 (1–5), 15 (2–7) are kept with all their nodes; the others are not."""
    polygon, what = area_from(bbox="121.3999,31.1999,121.4011,31.2001")
    stats = extract(test_data / "walk_tiny.osm", tmp_path / "cut.osm.pbf", polygon)
    got = contents(tmp_path / "cut.osm.pbf")
    assert sorted(i for t, i in got if t == "w") == [10, 11, 15]
    assert sorted(i for t, i in got if t == "n") == [1, 2, 3, 4, 5, 7]
    assert got[("w", 10)] == {"highway": "residential", "oneway": "yes", "name": "单行路"}  # tags kept
    assert (stats.nodes_read, stats.ways_read, stats.nodes_kept, stats.ways_kept) == (11, 7, 6, 3)
    assert what == "the box 121.3999,31.1999,121.4011,31.2001"
    wider = extract(test_data / "walk_tiny.osm", tmp_path / "wide.osm.pbf", polygon, buffer_m=250)
    assert wider.ways_kept == 6 and ("w", 16) not in contents(tmp_path / "wide.osm.pbf")  # 12, 13, 14 too


def test_refusals_name_what_is_wrong(test_data, tmp_path):
    from siting.errors import InputFileError, OutputError

    with pytest.raises(InputFileError, match="name the area to cut in one way: .*got `district`, `bbox`"):
        area_from(district="徐汇区", bbox="1,2,3,4")
    with pytest.raises(InputFileError, match=r"`bbox` '121.4,31.2': expected west,south,east,north"):
        area_from(bbox="121.4,31.2")
    with pytest.raises(InputFileError, match="`district` needs `boundaries`"):
        area_from(district="徐汇区")
    polygon, _ = area_from(bbox="121.39,31.19,121.41,31.21")
    (tmp_path / "cut.osm.pbf").write_bytes(b"mine")
    with pytest.raises(OutputError, match="exists; give `overwrite`"):
        extract(test_data / "walk_tiny.osm", tmp_path / "cut.osm.pbf", polygon)
    assert (tmp_path / "cut.osm.pbf").read_bytes() == b"mine"
    with pytest.raises(InputFileError, match="not a readable OSM file"):
        extract(tmp_path / "cut.osm.pbf", tmp_path / "again.osm.pbf", polygon)
    result = CliRunner().invoke(app, ["extract", str(test_data / "walk_tiny.osm"), "--bbox", "1,2,3,4", "--place",
                                      "x", "--out", str(tmp_path / "x.osm.pbf")])
    assert result.exit_code == 2 and "error: name the area to cut in one way: --place, or" in result.output


def test_extract_by_place_through_nominatim(test_data, tmp_path, monkeypatch):
    quiet_environment(monkeypatch)
    with StandIn(test_data / "walk_tiny.osm", PLACE) as s:
        result = CliRunner().invoke(app, ["extract", str(test_data / "walk_tiny.osm"), "--place", PLACE,
                                          "--nominatim-url", s.nominatim_url, "--minutes", "1", "--out",
                                          str(tmp_path / "cut.osm.pbf"), "--cache-dir", str(tmp_path / "cache")])
        assert [r["service"] for r in s.log] == ["nominatim"]
    assert result.exit_code == 0, result.output
    assert f"area: {PLACE} (Nominatim relation/1)" in result.output
    assert "buffer: 67 m = 1 min × 4 km/h, the longest trip (walk)" in result.output
    assert len(contents(tmp_path / "cut.osm.pbf")) == len(contents(test_data / "walk_tiny.osm"))


@pytest.mark.realdata
def test_xuhui_cut_from_the_central_extract_gives_the_main_job_headline(repo_root, shanghai, tmp_path):
    """徐汇's 街道 cut out of the central extract (as .osm.pbf), 1 km around them: the README main job's numbers."""
    big = to_pbf(shanghai / "osm" / "shanghai_center_overpass_roads.osm", tmp_path / "central.osm.pbf")
    boundaries = shanghai / "boundaries" / "shanghai_subdistricts_osm_8districts.geojson"
    cut = tmp_path / "xuhui.osm.pbf"
    result = CliRunner().invoke(app, ["extract", str(big), "--district", "徐汇区", "--boundaries", str(boundaries),
                                      "--out", str(cut)])
    assert result.exit_code == 0, result.output
    assert "area: 徐汇区 (13 街道 of shanghai_subdistricts_osm_8districts.geojson), 55.2 km²" in result.output
    assert "buffer: 1,000 m = 15 min × 4 km/h, the longest trip (walk)" in result.output
    assert cut.stat().st_size < big.stat().st_size / 3

    command = readme_commands(repo_root)[0].partition(" && ")[2]
    args = [a.replace("../shared/data/shanghai", str(shanghai)) for a in shlex.split(command)][1:]
    summaries = {}
    for name, osm in (("whole", str(big)), ("cut", str(cut))):
        args[args.index("--osm") + 1] = osm
        args[args.index("--out") + 1] = str(tmp_path / name)
        run = CliRunner().invoke(app, [*args, "--cache-dir", str(tmp_path / "cache"), "--no-report", "--no-map",
                                       "-q"])
        assert run.exit_code == 0, run.output
        summaries[name] = json.loads((tmp_path / name / "summary.json").read_text(encoding="utf-8"))
    whole, part = summaries["whole"], summaries["cut"]
    for key in ("population_total", "population_covered", "coverage_rate", "n_facilities", "gap_residents"):
        assert part[key] == whole[key], key
    headline = re.search(r"\*\*([\d.]+) %\*\* of the ([\d,]+) residents", (repo_root / "README.md").read_text(
        encoding="utf-8"))
    assert headline is not None
    assert f"{part['coverage_rate']:.1%}" == f"{headline[1]}%" and f"{part['population_total']:,.0f}" == headline[2]
    assert (round(part["population_covered"]), round(part["population_total"])) == (136_991, 254_388)
