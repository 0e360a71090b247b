"""siting.io._osm.read_osm_features: nodes, ways, multipolygons, missing nodes, bad files, speed."""

from __future__ import annotations

import gzip
import time

import pytest

from siting.errors import InputFileError
from siting.io._osm import read_osm_features


def everything(tags: dict[str, str]) -> bool:
    return True


@pytest.fixture
def fixture_osm(test_data):
    return test_data / "osm_features.osm"


def test_one_row_per_element_with_the_right_geometry(fixture_osm) -> None:
    feats = read_osm_features(fixture_osm, everything)
    got = {(t, i): g for t, i, g in zip(feats["osm_type"], feats["osm_id"], feats.geom_type, strict=True)}
    assert got == {
        ("node", 5): "Point", ("node", 6): "Point", ("node", 7): "Point", ("node", 18): "Point",
        ("way", 100): "Polygon",      # closed way
        ("way", 104): "Polygon", ("way", 105): "Polygon",
        ("way", 101): "LineString",   # open way
        ("way", 103): "LineString",   # closed but area=no
        ("relation", 200): "MultiPolygon",
    }
    assert feats.crs.to_epsg() == 4326
    assert list(feats.columns[:4]) == ["osm_type", "osm_id", "tags", "name"]
    # untagged nodes and the untagged member ways 110/111 never appear
    assert feats.attrs["skipped_ways"] == 1        # way 102 references node 999, absent from the export
    assert feats.attrs["skipped_relations"] == 1   # relation 201's outer way is absent


def test_multipolygon_keeps_its_hole_and_tags(fixture_osm) -> None:
    feats = read_osm_features(fixture_osm, lambda t: t.get("healthcare") == "centre")
    assert len(feats) == 1
    row = feats.iloc[0]
    assert row["name"] == "徐汇区某某街道社区卫生服务中心"
    assert row["tags"]["healthcare"] == "centre"  # (libosmium's area assembler drops type=multipolygon)
    # outer 0.004 x 0.003 deg minus inner 0.001 x 0.001 deg
    assert row.geometry.area == pytest.approx(0.004 * 0.003 - 0.001 * 0.001, rel=1e-6)


def test_keep_filters_and_areas_flag(fixture_osm) -> None:
    named = read_osm_features(fixture_osm, lambda t: "name" in t)
    assert sorted(named["osm_id"].tolist()) == [5, 6, 7, 18, 100, 104, 105, 200]
    no_areas = read_osm_features(fixture_osm, everything, areas=False)
    assert "relation" not in set(no_areas["osm_type"])
    assert "way" in set(no_areas["osm_type"])  # closed ways are still polygons without area assembly
    none = read_osm_features(fixture_osm, lambda t: False)
    assert none.empty and "geometry" in none.columns and none.crs.to_epsg() == 4326


def test_reads_gzip_xml(fixture_osm, tmp_path) -> None:
    gz = tmp_path / "features.osm.gz"
    gz.write_bytes(gzip.compress(fixture_osm.read_bytes()))
    assert len(read_osm_features(gz, everything)) == 10


@pytest.mark.parametrize("content,name", [
    (None, "missing.osm"),
    (b"", "empty.osm"),
    (b"hello, this is not xml", "garbage.osm"),
    (b'<?xml version="1.0"?><gpx><wpt lat="1" lon="2"/></gpx>', "track.osm"),
    (b"\x00\x00\x00\x0dnot a pbf blob header", "broken.osm.pbf"),
    (b'{"type": "FeatureCollection", "features": []}', "shapes.geojson"),
])
def test_bad_files_raise_input_file_error_naming_the_file(tmp_path, content, name) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputFileError, match=name.replace(".", r"\.")):
        read_osm_features(path, everything)


def test_truncated_files_raise(fixture_osm, helsinki_pbf, tmp_path) -> None:
    xml = tmp_path / "cut.osm"
    xml.write_bytes(fixture_osm.read_bytes()[:1500])
    with pytest.raises(InputFileError, match="cut.osm"):
        read_osm_features(xml, everything)
    pbf = tmp_path / "cut.osm.pbf"
    pbf.write_bytes(helsinki_pbf.read_bytes()[:30000])
    with pytest.raises(InputFileError, match=r"cut\.osm\.pbf"):
        read_osm_features(pbf, everything)


def test_helsinki_pbf_health_tags(helsinki_pbf) -> None:
    feats = read_osm_features(helsinki_pbf, lambda t: t.get("amenity") in ("clinic", "doctors") or "healthcare" in t)
    amenity = feats["tags"].map(lambda t: t.get("amenity"))
    assert (amenity == "clinic").sum() == 3
    assert (amenity == "doctors").sum() == 3
    assert feats["tags"].map(lambda t: "healthcare" in t).sum() == 6
    assert len(feats) == 11  # Dextra is both amenity=clinic and healthcare=yes
    assert set(feats["osm_type"]) == {"node"}
    everything_pbf = read_osm_features(helsinki_pbf, everything)
    assert everything_pbf.attrs["skipped_ways"] > 0  # a bbox extract: ways leave the box


@pytest.mark.realdata
def test_real_files(shanghai) -> None:
    tongji = read_osm_features(shanghai / "osm" / "shanghai_tongji_siping_campus_export.osm", lambda t: "building" in t)
    assert len(tongji) == 226 and (tongji["osm_type"] == "way").sum() == 221  # PROVENANCE: 221 buildings
    assert (tongji["osm_type"] == "relation").sum() == 5

    path = shanghai / "osm" / "shanghai_center_overpass_roads.osm"  # 3.7 MB
    start = time.perf_counter()
    roads = read_osm_features(path, lambda t: "highway" in t)
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, f"{elapsed:.2f} s"
    assert (roads["osm_type"] == "way").sum() > 4000
    assert roads.attrs["skipped_ways"] == 0
