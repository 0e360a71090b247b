"""Notebook display: every result has a short plain repr and an HTML view (headline, target, gap, 街道 table),
with the inputs' text escaped."""

from __future__ import annotations

import html
import warnings
from functools import cache

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

import siting
from siting import _display
from siting.scenarios.comparison import Scenario

EVIL = '<script>alert("x")</script>&街道'  # a 街道 name that would run as HTML if not escaped
EVIL_FACILITY = "<b>中心</b>"
LON0, LAT0, DLON, DLAT = 121.40, 31.20, 100 / 95_000, 100 / 111_000


@cache
def grid() -> siting.Inputs:
    """A 14 × 14 street grid (100 m blocks), 2 centres, 60 homes in two 街道, one named ``EVIL``."""
    n = 14
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    lon, lat = (LON0 + jj * DLON).ravel(), (LAT0 + ii * DLAT).ravel()
    idx = np.arange(n * n).reshape(n, n)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    net = siting.Network.from_segments(np.arange(n * n), lon, lat, u, v, info={"source": "grid"})
    fac = gpd.GeoDataFrame({"facility_id": ["f1", "f2"], "name": [EVIL_FACILITY, "东站"],
                            "type": ["center", "station"]},
                           geometry=gpd.points_from_xy(LON0 + np.array([2.2, 4.1]) * DLON,
                                                       LAT0 + np.array([2.7, 3.2]) * DLAT), crs="EPSG:4326")
    rng = np.random.default_rng(3)
    pts = gpd.GeoDataFrame({"population": rng.integers(50, 400, 60).astype(float)},
                           geometry=gpd.points_from_xy(LON0 + rng.uniform(0, n - 1, 60) * DLON,
                                                       LAT0 + rng.uniform(0, n - 1, 60) * DLAT), crs="EPSG:4326")
    pts.attrs.update(weighted=True, unit="residents")
    mid = LON0 + (n - 1) / 2 * DLON
    bnd = gpd.GeoDataFrame({"subdistrict": [EVIL, "东街道"], "district": ["测试区", "测试区"]},
                           geometry=[box(LON0 - DLON, LAT0 - DLAT, mid, LAT0 + n * DLAT),
                                     box(mid, LAT0 - DLAT, LON0 + n * DLON, LAT0 + n * DLAT)], crs="EPSG:4326")
    return siting.Inputs(net, fac, siting.assign_areas(pts, bnd), bnd, [])


@cache
def result() -> siting.CoverageResult:
    inputs = grid()
    return siting.compute_coverage(inputs.network, inputs.facilities, inputs.population,
                                   siting.Settings(minutes=5), boundaries=inputs.boundaries, target=0.9)


def no_raw_markup(page: str) -> None:
    assert "<script>" not in page and "<b>中心" not in page
    assert html.escape(EVIL) in page


def test_coverage_repr_is_short_and_html_has_headline_target_gap_and_escaped_table():
    res = result()
    text = repr(res)
    assert len(text) < _display.MAX_REPR and text.startswith("<CoverageResult ") and "\n" not in text
    s = res.summary
    assert f"{100 * s.coverage_rate:.1f} %" in text and "target 90.0 %" in text
    page = res._repr_html_()
    no_raw_markup(page)
    assert f"{s.population_total:,.0f} residents within 5 min" in page
    assert f"gap {s.gap_pp:.1f} pp = {s.gap_residents:,.0f} residents" in page
    # one row per 街道, the largest gap first
    gaps = res.by_subdistrict.sort_values("gap_residents", ascending=False)["subdistrict"].tolist()
    assert page.index(html.escape(gaps[0])) < page.index(html.escape(gaps[1]))


def test_a_long_table_is_cut_with_a_count():
    res = result()
    many = res.by_subdistrict.sample(_display.MAX_ROWS + 7, replace=True, random_state=1)
    page = _display.table_html(many, ["subdistrict", "population"])
    assert page.count("<tr>") == _display.MAX_ROWS + 2  # the header, the rows shown, "… 7 more rows"
    assert "… 7 more rows" in page


def test_site_plan_display():
    res = result()
    with warnings.catch_warnings(record=True):  # the grid's own warnings are not what this test is about
        cand = siting.build_candidates(res, spacing_m=200, min_distance_m=0)
        plan = siting.plan_sites(res, cand, k=2, time_limit=10)
    text = repr(plan)
    assert len(text) < _display.MAX_REPR and text.startswith("<SitePlan maximal_coverage: 2 site(s)")
    page = plan._repr_html_()
    no_raw_markup(page)
    assert f"→ {100 * plan.solution.coverage_rate:.1f} %" in page and "chosen sites, in build order" in page
    for cid in plan.chosen["candidate_id"]:
        assert html.escape(str(cid)) in page


def test_comparison_display_and_the_cli_table_stays():
    inputs = grid()
    comp = siting.compare(inputs, [Scenario('<i>close</i>', close=["f1"]), Scenario("elderly", mode="elderly")],
                          target=0.9)
    text = repr(comp)
    assert len(text) < _display.MAX_REPR and text.startswith("<Comparison 2 scenario(s)")
    page = comp._repr_html_()
    no_raw_markup(page)
    assert "<i>close</i>" not in page and "&lt;i&gt;close&lt;/i&gt;" in page
    from siting.scenarios.results import format_comparison

    assert "scenario 情景" in format_comparison(comp)  # what `siting compare` prints


def test_access_display():
    res = siting.access_from_coverage(result())
    text = repr(res)
    assert len(text) < _display.MAX_REPR and text.startswith("<AccessResult 2SFCA:")
    page = res._repr_html_()
    no_raw_markup(page)
    assert "GPs per 10,000 residents" in page and "most GPs needed first" in page


@pytest.mark.parametrize(("value", "kind", "shown"), [
    (0.8734, "pct", "87.3 %"), (12345.4, "int", "12,345"), (2.66, "pp", "2.7 pp"), (None, "pct", "–"),
    (float("nan"), "int", "–"), (float("inf"), "num", "–"), ("<x>", "text", "<x>"), (-3.0, "signed", "-3"),
])
def test_formats(value, kind, shown):
    assert _display.fmt(value, kind) == shown
