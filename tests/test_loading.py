"""The faster loading steps give what their plain definitions give (issue 14 part 3: load_inputs)."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from siting import _checks


def _rows_repeating(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """The definition: every column as text, and the geometry's WKB, equal to an earlier row's."""
    columns = [c for c in gdf.columns if c not in ("source_row", gdf.geometry.name)]
    key = pd.DataFrame({c: gdf[c].astype(str) for c in columns}).assign(_wkb=gdf.geometry.to_wkb())
    return key.duplicated(keep="first").to_numpy()


@pytest.mark.parametrize("seed", range(6))
def test_duplicate_rows_match_the_definition(seed):
    rng = np.random.default_rng(seed)
    n = 300
    xy = rng.integers(0, 12, size=(n, 2)).astype(float)  # few positions: many rows share one
    gdf = gpd.GeoDataFrame({
        "population": rng.choice([1.0, 2.0, np.nan], n),
        "name": rng.choice(["a", "b", None], n),
        "mixed": pd.Series(rng.choice([1, 1.0, "1", None], n), dtype=object),  # 1, 1.0 and "1" differ as text
        "source_row": np.arange(1, n + 1),  # never part of the key
    }, geometry=shapely.points(xy), crs="EPSG:4326")
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
