"""`siting access` on the README's real inputs: output files and columns, the supply map layer, clear errors."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from siting.cli.commands import app
from siting.outputs._maplayers import supply_layer

runner = CliRunner()


@pytest.fixture(scope="module")
def access_run(site_args, repo_root, shanghai, tmp_path_factory):
    """`siting access` with the README job's inputs plus the 徐汇 街道 estimate and the regions file."""
    args = ["access", *site_args[1:], "--subdistrict-totals",
            str(shanghai / "population/xuhui_subdistrict_households_2026_estimate.csv"),
            "--regions", str(repo_root / "data/regions/xuhui.csv"), "--no-tiles"]
    out = tmp_path_factory.mktemp("access") / "xuhui"
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output, args


@pytest.mark.realdata
def test_access_writes_its_files(access_run):
    out, printed, _ = access_run
    for name in ["summary.json", "access.csv", "regions.csv", "points.gpkg", "facilities.gpkg", "subdistricts.gpkg",
                 "beyond_20min_places.csv", "map.html"]:
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "access.csv")
    assert len(table) == 13 and (table["population_source"] == "estimate").all()
    assert {"gps_per_10k", "gps_needed", "median_min", "p90_min", "within_5_min", "within_20_min",
            "below_gp_target"} <= set(table.columns)
    pts = gpd.read_file(out / "points.gpkg")
    assert {"title", "link", "supply_per_10k", "walk_min", "population_source"} <= set(pts.columns)
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["method"] == "2SFCA" and s["gps_allocated"] == pytest.approx(s["gps_total_reaching_residents"])
    assert any("defaults used" in n for n in s["notes"]) and any("regions:" in n for n in s["notes"])
    regions = pd.read_csv(out / "regions.csv")
    assert set(regions["region"]) == {"北", "中", "南"} and regions["assumption"].str.contains("assum").all()
    fac = gpd.read_file(out / "facilities.gpkg")
    assert (fac["capacity_source"] == "default").all() and set(fac["gps"]) == {6.0}
    assert "GP access index per 10,000 (2SFCA)" in (out / "map.html").read_text(encoding="utf-8")  # supply layer
    assert "天平路街道" in printed
    # defaults named first, the measure called an index (issue 22)
    assert "All: Assuming 6 GPs per centre (defaults): GP access index (2SFCA): " in printed
    assert "not the staff working in a 街道" in printed


@pytest.mark.realdata
def test_access_bad_decay_is_one_clear_line(access_run, tmp_path):
    _, _, args = access_run
    result = runner.invoke(app, [*args, "--decay", "cubic", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "error: unknown --decay 'cubic'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "x").exists()


def test_supply_layer_colours_against_the_target(map_inputs):
    pts = map_inputs["points"].assign(supply_per_10k=[0.0, 1.0, 2.0, 3.5, 4.5, 6.0] * 2)
    group = supply_layer(pts, target=4.5)
    geo = next(iter(group._children.values())).data
    colors = [f["properties"]["style"]["fillColor"] for f in geo["features"]]
    assert colors[:6] == ["#bdbdbd", "#fee5d9", "#fcae91", "#fb6a4a", "#2c7fb8", "#2c7fb8"]


def _sheet_rows(path, title):
    """Header and rows of one sheet as openpyxl reads them (no pandas in between)."""
    import openpyxl

    ws = openpyxl.load_workbook(path, read_only=True)[title]
    rows = list(ws.iter_rows(values_only=True))
    return [str(h) for h in rows[0]], rows[1:]


def _same(cell, value) -> bool:
    if value is None or (isinstance(value, float) and value != value):
        return cell is None
    if isinstance(value, bool) or isinstance(cell, bool):
        return bool(cell) == bool(value) and isinstance(cell, bool)
    if isinstance(value, int | float) and not isinstance(value, bool):  # Excel keeps ~15 significant digits
        return isinstance(cell, int | float) and float(cell) == pytest.approx(float(value), rel=1e-14, abs=0)
    return str(cell) == str(value)


@pytest.mark.realdata
@pytest.mark.parametrize(("title", "csv"), [("可达 Access", "access.csv"), ("区域 Regions", "regions.csv"),
                                            ("20分钟外 Beyond 20 min", "beyond_20min_places.csv")])
def test_access_workbook_sheets_equal_the_csvs(access_run, title, csv):
    """report.xlsx of `siting access` holds the per-街道, region and beyond-20-min tables, bilingual, = the CSVs."""
    out, _, _ = access_run
    header, rows = _sheet_rows(out / "report.xlsx", title)
    table = pd.read_csv(out / csv, keep_default_na=False, na_values=[""])
    assert [h.split()[-1] for h in header] == list(table.columns)
    assert any(" " in h and not h.isascii() for h in header)  # "中文 column"
    assert len(rows) == len(table) > 0
    for i, record in enumerate(table.astype(object).itertuples(index=False)):
        for j, value in enumerate(record):
            assert _same(rows[i][j], value), (title, i, table.columns[j], rows[i][j], value)


@pytest.mark.realdata
def test_access_workbook_facilities_and_summary(access_run):
    out, _, _ = access_run
    header, rows = _sheet_rows(out / "report.xlsx", "设施 Facilities")
    fac = gpd.read_file(out / "facilities.gpkg")
    cols = [h.split()[-1] for h in header]
    assert {"facility_id", "gps", "capacity_source", "demand_reached", "gps_per_10k_catchment", "lon",
            "lat"} <= set(cols)
    by_id = {str(r[cols.index("facility_id")]): r for r in rows}
    for _, f in fac.iterrows():
        r = by_id[str(f["facility_id"])]
        assert r[cols.index("gps")] == f["gps"] and r[cols.index("capacity_source")] == f["capacity_source"]
    _, summary_rows = _sheet_rows(out / "report.xlsx", "概要 Summary")
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    items = {r[0]: r[1] for r in summary_rows if r and r[0]}
    assert items["每万人全科医生可达指数 GP access index per 10,000 residents"] == pytest.approx(s["gps_per_10k"],
                                                                                       rel=1e-12)
    assert items["结论 Headline"].startswith("假设每个社区卫生服务中心 6 名全科医生（默认值）")
    assert items["缺少全科医生 GPs needed"] == pytest.approx(s["gps_needed"], rel=1e-12)


def test_access_no_report_leaves_the_workbook_out(tiny_job):
    work, args = tiny_job
    for extra, name in (([], "with"), (["--no-report"], "without")):
        result = runner.invoke(app, ["access", *args[1:], *extra, "--out", str(work / name)])
        assert result.exit_code == 0, result.output
    assert (work / "with" / "report.xlsx").is_file() and not (work / "without" / "report.xlsx").exists()
    s = json.loads((work / "without" / "summary.json").read_text(encoding="utf-8"))
    assert s["skipped"] == ["map.html", "report.xlsx", "report.html", "report.pdf"]  # tiny_job has --no-map
    assert json.loads((work / "with" / "summary.json").read_text(encoding="utf-8"))["skipped"] == ["map.html"]


@pytest.mark.realdata
def test_access_one_column_per_measure_rounded_and_a_report_page(access_run):
    """supply_per_10k (= gps_per_10k with GPs as the capacity) is not repeated; access.csv rounded like the other
    CSVs; report.html has the access headline and section, report.xlsx the access sheet (issue 22)."""
    out, _, _ = access_run
    table = pd.read_csv(out / "access.csv", encoding="utf-8-sig")
    assert "supply_per_10k" not in table.columns and "gps_per_10k" in table.columns
    text = (out / "access.csv").read_text(encoding="utf-8-sig")
    assert not re.search(r"\.\d{5,}", text) and "99999" not in text  # was 66053.99999999999
    assert table["population"].dropna().mod(1).eq(0).all()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "假设每个社区卫生服务中心 6 名全科医生" in page and "Assuming 6 GPs per centre" in page
    assert "可达性指数（每个街道）Access index per 街道" in page and "GP access index per 10k" in page
    assert "可达 Access" in openpyxl.load_workbook(out / "report.xlsx").sheetnames
