"""Top-down control totals: district census → 街道 totals → points, with the source of every figure."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import REPEATED_ROWS, SUBDISTRICT_TOTALS, expected_warnings
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from siting.errors import ColumnError, InputFileError
from siting.io import demand, totals

XUHUI_EST = "population/xuhui_subdistrict_households_2026_estimate.csv"
YANGPU_CENSUS = "population/shanghai_subdistrict_population_census_yangpu_qingpu.csv"


def _boundaries() -> gpd.GeoDataFrame:
    """Five unit squares: three 街道 of 徐汇区, two of 杨浦区."""
    names = ["天平路街道", "康健新村街道", "华泾镇", "定海路街道", "殷行街道"]
    dists = ["徐汇区"] * 3 + ["杨浦区"] * 2
    return gpd.GeoDataFrame({"subdistrict": names, "district": dists},
                            geometry=[box(i, 0, i + 1, 1) for i in range(5)], crs="EPSG:4326")


def _points(counts: list[int]) -> gpd.GeoDataFrame:
    """``counts[i]`` unweighted points inside square i."""
    xs = np.concatenate([i + (np.arange(n) + 0.5) / (n + 1) for i, n in enumerate(counts)])
    pts = gpd.GeoDataFrame({"id": np.arange(len(xs)), "population": np.nan},
                           geometry=gpd.points_from_xy(xs, np.full(len(xs), 0.5)), crs="EPSG:4326")
    pts.attrs.update(weighted=False)
    return demand.assign_areas(pts, _boundaries())


def _table(rows: list[tuple[str, str, float]], column: str = "pop_census_2020") -> pd.DataFrame:
    return pd.DataFrame({"district": [r[0] for r in rows], "subdistrict": [r[1] for r in rows],
                         "population": [r[2] for r in rows],
                         "population_source": ["census" if "census" in column else "estimate"] * len(rows),
                         "file": "t.csv"})


DISTRICTS = pd.DataFrame({"area": ["徐汇区", "杨浦区"], "population": [1000.0, 700.0]})


def test_name_keys_strip_unit_then_road() -> None:
    assert totals.name_keys("天平路街道") == ("天平路街道", "天平路", "天平")
    assert totals.name_keys("康健新村街道")[2] == "康健"
    assert totals.name_keys(" 华泾镇 ")[1:] == ("华泾", "华泾")
    assert totals.name_keys("路")[2] == "路"  # never shorter than two characters


def test_known_totals_kept_exactly_and_rest_shared() -> None:
    pts = _points([4, 3, 5, 2, 6])
    # short names (天平, 康健新村) match the boundaries' full names; 华泾 has no total
    table = _table([("徐汇区", "天平", 300.0), ("徐汇区", "康健新村", 200.0), ("杨浦区", "定海路", 250.0),
                    ("杨浦区", "殷行", 450.0)])
    out = totals.spread_top_down(pts, _boundaries(), table, DISTRICTS)
    by_sub = out.groupby("subdistrict")["population"].sum()
    assert by_sub["天平路街道"] == pytest.approx(300, rel=1e-12)
    assert by_sub["康健新村街道"] == pytest.approx(200, rel=1e-12)
    assert by_sub["华泾镇"] == pytest.approx(500, rel=1e-12)  # 1000 − 300 − 200, equal shares of 5 points
    assert np.allclose(out.loc[out["subdistrict"] == "华泾镇", "population"], 100)
    assert by_sub["定海路街道"] + by_sub["殷行街道"] == pytest.approx(700)
    assert out.groupby("district")["population"].sum()["徐汇区"] == pytest.approx(1000, rel=1e-12)
    src = out.groupby("subdistrict")["population_source"].first()
    assert src["天平路街道"] == "census" and src["华泾镇"] == "equal share"
    assert totals.by_subdistrict(out).to_dict() == src.to_dict()


def test_unmatched_names_warned_with_closest() -> None:
    pts = _points([2, 2, 2, 2, 2])
    table = _table([("徐汇区", "天平路", 300.0), ("徐汇区", "康建新村", 10.0), ("青浦区", "赵巷镇", 5.0)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = totals.spread_top_down(pts, _boundaries(), table, DISTRICTS)
    text = " | ".join(str(w.message) for w in caught)
    assert "康建新村 (closest: 康健新村街道)" in text and "match no boundary" in text
    assert "青浦区 (1)" in text
    # the unmatched 康建新村 row is not used: 康健新村 and 华泾 share the remaining 700 equally (4 points)
    assert out.loc[out["subdistrict"] == "康健新村街道", "population"].sum() == pytest.approx(350)


def test_totals_over_the_district_total_refused() -> None:
    table = _table([("徐汇区", "天平路", 900.0), ("徐汇区", "康健新村", 200.0)])
    with pytest.raises(InputFileError, match="more than its district total"):
        totals.spread_top_down(_points([1, 1, 1, 1, 1]), _boundaries(), table, DISTRICTS)


def test_complete_district_keeps_subdistrict_totals_and_warns() -> None:
    table = _table([("杨浦区", "定海路", 250.0), ("杨浦区", "殷行", 460.0)])
    with pytest.warns(UserWarning, match=r"杨浦 sum to 710 .* district total is 700"):
        out = totals.spread_top_down(_points([1, 1, 1, 2, 2]), _boundaries(), table, DISTRICTS)
    assert out.attrs["district_differences"] == {"杨浦": -10.0}
    assert out.loc[out["district"] == "杨浦区", "population"].sum() == pytest.approx(710)


def test_weighted_points_keep_relative_weights() -> None:
    pts = _points([2, 1, 1, 1, 1])
    pts["population"] = [1.0, 3.0, 5.0, 5.0, 1.0, 1.0]
    pts.attrs.update(weighted=True)
    out = totals.spread_top_down(pts, _boundaries(), _table([("徐汇区", "天平路", 400.0)]), DISTRICTS)
    assert out["population"].iloc[:2].tolist() == pytest.approx([100.0, 300.0])
    assert out.loc[out["subdistrict"] == "华泾镇", "population_source"].iloc[0] == "input"


@settings(max_examples=40, deadline=None)
@given(counts=st.lists(st.integers(1, 6), min_size=5, max_size=5),
       known=st.lists(st.floats(0, 1e5), min_size=5, max_size=5), mask=st.lists(st.booleans(), min_size=5, max_size=5),
       extra=st.floats(0, 1e5))
def test_every_known_total_kept(counts: list[int], known: list[float], mask: list[bool], extra: float) -> None:
    names = _boundaries()
    rows = [(d, s, v) for d, s, v, m in zip(names["district"], names["subdistrict"], known, mask, strict=True) if m]
    xu = sum(v for d, _, v in rows if d == "徐汇区") + extra
    yp = sum(v for d, _, v in rows if d == "杨浦区") + extra
    districts = pd.DataFrame({"area": ["徐汇区", "杨浦区"], "population": [xu, yp]})
    with expected_warnings(SUBDISTRICT_TOTALS):
        out = totals.spread_top_down(_points(counts), names, _table(rows), districts)
    by_sub = out.groupby("subdistrict")["population"].sum()
    for _, s, v in rows:
        assert by_sub[s] == pytest.approx(v, rel=1e-12, abs=1e-9)
    by_dist = out.groupby("district")["population"].sum()
    for dist, total, members in (("徐汇区", xu, mask[:3]), ("杨浦区", yp, mask[3:])):
        if not all(members):  # a district with 街道 lacking a total keeps its census total exactly
            assert by_dist[dist] == pytest.approx(total, rel=1e-12, abs=1e-9)


def test_read_subdistrict_totals_labels_source(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("district,街道,常住人口\n徐汇区,天平路,5\n徐汇区,湖南路,x\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"row\(s\).*\[3\]"):
        totals.read_subdistrict_totals(path)
    path.write_text("district,街道,pop_census_2020\n徐汇区,天平路,5\n徐汇区,天平路,6\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="listed twice"):
        totals.read_subdistrict_totals(path)
    path.write_text("district,街道,常住人口\n徐汇区,天平路,5\n", encoding="utf-8")
    assert totals.read_subdistrict_totals(path)["population_source"].tolist() == ["estimate"]


# --- real Shanghai data -------------------------------------------------------------------------------

@pytest.mark.realdata
def test_real_xuhui_estimate_and_yangpu_census_kept(shanghai: Path) -> None:
    with expected_warnings(REPEATED_ROWS):
        pts = demand.read_population(shanghai / "population/lianjia_xiaoqu_shanghai_2018_bd09.json", crs="bd09")
    bnd = demand.read_boundaries(shanghai / "boundaries/shanghai_subdistricts_osm_8districts.geojson")
    census = demand.read_census(shanghai / "population/shanghai_district_population_census.csv")
    table = totals.read_all([shanghai / XUHUI_EST, shanghai / YANGPU_CENSUS])
    assert set(table.groupby("population_source").size().items()) == {("estimate", 13), ("census", 23)}
    with pytest.warns(UserWarning, match="青浦区 \\(11\\)"), \
            pytest.warns(UserWarning, match="the 街道 totals of 杨浦 sum to 1,242,600 .* the 街道 totals are kept"):
        out = totals.spread_top_down(demand.assign_areas(pts, bnd), bnd, table, census)
    by_sub = out.groupby("subdistrict")["population"].sum()
    raw = pd.read_csv(shanghai / XUHUI_EST)
    for name, value in zip(raw["official_control_name_2023"], raw["persons_est_scaled_to_census_2020"], strict=True):
        assert by_sub[name] == pytest.approx(value, rel=1e-12)  # all 13, from the spatially joined points
    assert by_sub["天平路街道"] == pytest.approx(66_054) and by_sub["徐家汇街道"] == pytest.approx(123_337)
    assert by_sub["殷行街道"] == pytest.approx(182_500)
    src = totals.by_subdistrict(out)
    assert (src[src.index.isin(raw["official_control_name_2023"])] == "estimate").all()
    assert src["殷行街道"] == "census" and src["南京东路街道"] == "equal share"
    # 长宁 has no 街道 table: its census total is spread in equal shares, exactly as before
    assert out.loc[out["district"] == "长宁区", "population"].sum() == pytest.approx(693_051, rel=1e-12)


def test_age_columns_rescaled_with_population() -> None:
    pts = _points([2, 1, 1, 1, 1])
    pts["population"] = [100.0, 300.0, 50.0, 50.0, 10.0, 10.0]
    pts["pop_65plus"] = [20.0, 30.0, 5.0, None, 1.0, 0.0]
    pts.attrs.update(weighted=True)
    before = pts["population"].copy()
    out = totals.scale_age_columns(
        totals.spread_top_down(pts, _boundaries(), _table([("徐汇区", "天平路", 800.0)]), DISTRICTS), before)
    assert out["population"].iloc[:2].tolist() == pytest.approx([200.0, 600.0])
    assert out["pop_65plus"].iloc[:2].tolist() == pytest.approx([40.0, 60.0])  # shares 20 % and 10 % kept
    assert np.isnan(out["pop_65plus"].iloc[3])
    pts["pop_65plus"] = [200.0, 30.0, 5.0, 1.0, 1.0, 0.0]
    with pytest.raises(ColumnError, match="exceeds the residents"):
        totals.scale_age_columns(pts, before)
