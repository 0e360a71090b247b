"""Per-facility catchments: nested bands, and together they make the service area."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest

from siting.outputs.maps import coverage_map


@pytest.mark.realdata
def test_catchments_nest_and_add_up_to_the_service_area(main_job: tuple[Path, str]) -> None:
    out, _ = main_job
    catch = gpd.read_file(out / "catchments.gpkg")
    area = gpd.read_file(out / "service_area.gpkg")
    fac = gpd.read_file(out / "facilities.gpkg")
    assert set(catch["facility_id"].astype(str)) == set(fac.loc[fac["snapped"], "facility_id"].astype(str))
    assert sorted(catch["minutes"].unique()) == [5.0, 10.0, 15.0]
    utm = catch.estimate_utm_crs()
    c = catch.to_crs(utm)
    for _, one in c.groupby("facility_id"):
        by = {m: g.geometry.iloc[0] for m, g in one.groupby("minutes")}
        # 5 ⊂ 10 ⊂ 15 (up to the 5 m simplification of the outlines)
        assert by[5.0].difference(by[10.0].buffer(6)).area < 1e-6 * by[5.0].area + 1
        assert by[10.0].difference(by[15.0].buffer(6)).area < 1e-6 * by[10.0].area + 1
        assert by[5.0].area < by[10.0].area < by[15.0].area
    # the 15-minute catchments together = the service area of all facilities (one multi-source search)
    joint = c[c["minutes"] == 15.0].union_all()
    whole = area.to_crs(utm).geometry.iloc[0]
    assert joint.symmetric_difference(whole).area < 0.01 * whole.area


def test_catchment_layers_off_by_default(map_inputs: dict) -> None:
    fac = map_inputs["facilities"]
    catch = gpd.GeoDataFrame({"facility_id": ["f1", "f1"], "name": ["甲", "甲"], "minutes": [15.0, 5.0]},
                             geometry=[fac.geometry[0].buffer(0.005), fac.geometry[0].buffer(0.002)], crs=4326)
    page = coverage_map(map_inputs["points"], fac, catchments=catch, tiles=False).get_root().render()
    assert "Catchment per facility, 15 min" in page and "Catchment per facility, 5 min" in page
    assert "per facility, 5 min (off)" in page  # legend row: the layers start switched off
