"""The faster loading steps give what their plain definitions give (issue 14 part 3: load_inputs)."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from siting.engine import targets
from siting.io import _checks, demand, totals


def _rows_repeating(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """The definition: every column as text, and the geometry's WKB, equal to an earlier row's."""
    columns = [c for c in gdf.columns if c not in ("source_row", gdf.geometry.name)]
    key = pd.DataFrame({c: gdf[c].astype(str) for c in columns}).assign(_wkb=gdf.geometry.to_wkb())
    return key.duplicated(keep="first").to_numpy()


def _geometries(kind: str, xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Points at ``xy``; 3D points whose z alone may differ; or points with some polygons and a missing one."""
    if kind == "points3d":
        return shapely.points(np.column_stack([xy, rng.integers(0, 2, len(xy))]))
    geoms = shapely.points(xy)
    if kind == "mixed":
        geoms[::7] = shapely.buffer(geoms[::7], 1.0)
        geoms[5] = None
    return geoms


@pytest.mark.parametrize("kind", ["points", "points3d", "mixed"])
@pytest.mark.parametrize("seed", range(4))
def test_duplicate_rows_match_the_definition(seed, kind):
    rng = np.random.default_rng(seed)
    n = 300
    xy = rng.integers(0, 12, size=(n, 2)).astype(float)  # few positions: many rows share one
    gdf = gpd.GeoDataFrame({
        "population": rng.choice([1.0, 2.0, np.nan], n),
        "name": rng.choice(["a", "b", None], n),
        "mixed": pd.Series(rng.choice([1, 1.0, "1", None], n), dtype=object),  # 1, 1.0 and "1" differ as text
        "source_row": np.arange(1, n + 1),  # never part of the key
    }, geometry=_geometries(kind, xy, rng), crs="EPSG:4326")
    expected = _rows_repeating(gdf)
    assert expected.any() and not expected.all()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept = _checks.duplicate_rows(gdf, "pop.csv", drop=True)
    assert kept["source_row"].tolist() == gdf["source_row"][~expected].tolist()
    assert len(caught) == 1 and caught[0].message.rows["source_row"].tolist() == gdf["source_row"][expected].tolist()


def test_duplicate_rows_without_repeated_positions_is_silent():
    gdf = gpd.GeoDataFrame({"population": [1.0, 1.0]}, geometry=shapely.points([[0, 0], [0, 1]]), crs="EPSG:4326")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _checks.duplicate_rows(gdf, "pop.csv") is gdf


def _areas_by_sjoin(points: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame) -> pd.DataFrame:
    """The definition: a spatial join (intersects), each point keeping the first polygon in file order."""
    right = gpd.GeoDataFrame({"subdistrict": boundaries["subdistrict"].to_numpy(),
                              "district": boundaries["district"].to_numpy()}, geometry=boundaries.geometry.to_numpy(),
                             crs=boundaries.crs)
    hit = gpd.sjoin(gpd.GeoDataFrame(geometry=points.geometry.to_numpy(), crs=points.crs), right,
                    predicate="intersects", how="inner")
    hit = hit.reset_index(names="_pt").sort_values(["_pt", "index_right"]).drop_duplicates("_pt")
    out = pd.DataFrame(index=points.index)
    for col in ("subdistrict", "district"):
        values = np.full(len(points), None, dtype=object)
        values[hit["_pt"].to_numpy()] = hit[col].to_numpy(dtype=object)
        out[col] = pd.Series(values, index=out.index, dtype=object)
    return out


def _typed(values: pd.Series) -> list[tuple[str, object]]:
    """Values with their types, NaN comparable (None, NaN and text all told apart)."""
    return [(type(v).__name__, "NaN" if v != v else v) for v in values]


def test_assign_areas_matches_the_spatial_join():
    """Shared edges, an overlap, a hole-free grid of points on and off the edges, names missing."""
    boundaries = gpd.GeoDataFrame({
        "subdistrict": ["甲", None, "丙", "丁"], "district": ["A区", "A区", None, "B区"]},
        geometry=[shapely.box(0, 0, 2, 2), shapely.box(2, 0, 4, 2), shapely.box(1, 1, 3, 3),  # 丙 overlaps both
                  shapely.Polygon([(4, 0), (6, 0), (5, 2)])], crs="EPSG:4326")
    grid = np.mgrid[-0.5:6.5:0.25, -0.5:3.5:0.25].reshape(2, -1).T  # many points exactly on edges and corners
    points = gpd.GeoDataFrame({"name": np.arange(len(grid))}, geometry=shapely.points(grid), crs="EPSG:4326",
                              index=np.arange(len(grid)) * 3)  # an index that is not 0..n-1
    got = demand.assign_areas(points, boundaries)
    expected = _areas_by_sjoin(points, boundaries)
    for col in ("subdistrict", "district"):
        assert got[col].dtype == object
        assert _typed(got[col]) == _typed(expected[col])  # nan where the name is missing, None outside
    assert got.index.equals(points.index) and got["name"].equals(points["name"])
    assert (got["subdistrict"] == "甲").any() and got["subdistrict"].isna().any()


@pytest.mark.parametrize("values", [
    ["徐汇区", "徐汇", None, "Xuhui District", np.nan, "闸北区", "徐汇区"],  # text: keyed once per name
    [None, np.nan],
    [1, 1.0, "1", None],  # 1 and 1.0 are one value to factorize, not one name: keyed one by one
])
def test_district_keys_are_district_key_of_each_value(values):
    keys = totals.district_keys(pd.Series(values, dtype=object)).tolist()
    assert [k if isinstance(k, str) else None for k in keys] == [demand.district_key(v) for v in values]


def test_target_for_takes_the_first_row_naming_the_district():
    table = pd.DataFrame({"district": ["徐汇区", "长宁区", "徐汇", None],
                          "district_en": ["Xuhui", None, "Xuhui", "Putuo"], "target": [0.9, 0.8, 0.5, 0.7],
                          "source": ["plan A", np.nan, "plan C", "plan D"]})
    assert targets.target_for("Xuhui District", table) == (0.9, "plan A")  # rows 1 and 3 match: the first
    assert targets.target_for("长宁", table) == (0.8, "nan")
    assert targets.target_for("putuo", table) == (0.7, "plan D")  # by its English name only
    assert targets.target_for("黄浦区", table) == (None, None) and targets.target_for(np.nan, table) == (None, None)
    assert targets.target_for("徐汇", table.drop(columns=["district_en", "source"])) == (0.9, None)
    assert targets.target_for("徐汇区") == targets.target_for("Xuhui")  # the project's table, read once
    assert targets.target_for("徐汇区")[0] is not None
