"""Reprojecting points by their coordinate arrays gives exactly geopandas' ``to_crs``; the tables of a
coverage run are aggregated on integer codes with the same numbers as a groupby on the labels."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from siting.engine._coverage import aggregate
from siting.engine._reproject import points_xy, to_crs, transform_xy
from siting.engine._status import NONE, Status


def layer(crs: str, n: int = 500, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    if crs == "EPSG:4326":
        x, y = rng.uniform(121.3, 121.6, n), rng.uniform(31.1, 31.3, n)
    else:
        x, y = rng.uniform(340_000, 360_000, n), rng.uniform(3_440_000, 3_460_000, n)
    return gpd.GeoDataFrame({"population": rng.random(n), "name": [f"p{i}" for i in range(n)]},
                            geometry=gpd.points_from_xy(x, y), crs=crs, index=rng.permutation(n) + 10)


@pytest.mark.parametrize(("src", "dst"), [("EPSG:32651", "EPSG:4326"), ("EPSG:4326", "EPSG:32651"),
                                          ("EPSG:3857", "EPSG:4326"), ("EPSG:4326", "EPSG:4326")])
def test_points_identical_to_geopandas(src, dst):
    gdf = layer(src) if src != "EPSG:3857" else layer("EPSG:4326").to_crs(src)
    fast, ref = to_crs(gdf, dst), gdf.to_crs(dst)
    assert fast.equals(ref) and fast.crs == ref.crs and list(fast.dtypes) == list(ref.dtypes)
    np.testing.assert_array_equal(fast.get_coordinates().to_numpy(), ref.get_coordinates().to_numpy())
    np.testing.assert_array_equal(points_xy(gdf.geometry, dst), ref.get_coordinates().to_numpy())
    assert gdf.crs == src  # the input is left as it was
    own = points_xy(gdf.geometry, gdf.crs)  # coordinates already read by the caller: the same result
    assert to_crs(gdf, dst, xy=own).equals(ref)
    np.testing.assert_array_equal(transform_xy(own, gdf.crs, dst), ref.get_coordinates().to_numpy())


def test_other_layers_go_through_geopandas():
    gdf = layer("EPSG:32651", 20)
    gdf.loc[gdf.index[3], "geometry"] = shapely.Point()  # an empty point
    gdf.loc[gdf.index[5], "geometry"] = shapely.box(350_000, 3_450_000, 350_100, 3_450_100)
    assert points_xy(gdf.geometry, "EPSG:4326") is None
    assert to_crs(gdf, "EPSG:4326").equals(gdf.to_crs("EPSG:4326"))
    assert points_xy(gpd.GeoSeries(gpd.points_from_xy([1.0], [2.0])), "EPSG:4326") is None  # no CRS


def aggregate_by_labels(pop: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The former aggregation (a groupby on the labels): the reference for the integer-code one."""
    frame = pd.DataFrame({k: pop[k].fillna(NONE) for k in keys})
    w = pop["population"].fillna(0).to_numpy(float)
    outside = (pop["status"] == Status.OUTSIDE).to_numpy()
    frame["population"] = np.where(outside, 0.0, w)
    frame["covered"] = np.where(pop["covered"].to_numpy(), w, 0.0)
    frame["too_far_population"] = np.where((pop["status"] == Status.TOO_FAR).to_numpy(), w, 0.0)
    frame["outside_population"] = np.where(outside, w, 0.0)
    frame["points"] = (~outside).astype(int)
    return frame.groupby(keys, sort=True).sum().reset_index()


@pytest.mark.parametrize("seed", range(4))
def test_aggregate_equals_a_groupby_on_the_labels(seed):
    """Missing labels and the text "(none)" are one group; sums keep their rounding (awkward floats)."""
    rng = np.random.default_rng(seed)
    n = 5_000
    pop = pd.DataFrame({
        "district": np.where(rng.random(n) < 0.2, None, rng.choice(["黄浦区", "静安区", "徐汇区"], n)),
        "subdistrict": np.where(rng.random(n) < 0.2, None, rng.choice(["a", "b", NONE, "c", "d"], n)),
        "population": np.where(rng.random(n) < 0.05, np.nan, rng.random(n) * 1e3 / 7),
        "status": rng.choice([s.value for s in Status], n, p=[0.8, 0.1, 0.1]),
        "covered": rng.random(n) < 0.6,
    })
    if seed == 3:
        pop["district"] = None  # an object column holding nothing but missing labels
    for keys in (["district", "subdistrict"], ["district"]):
        ours = aggregate(pop, keys, target=0.9)
        ref = aggregate_by_labels(pop, keys)
        ref = ref[ref["population"] + ref["outside_population"] > 0].sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(ours[ref.columns], ref, check_exact=True)
