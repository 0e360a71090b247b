"""report.xlsx, report.html / report.pdf, rounded CSVs, booleans in GeoPackages, the sorted console table."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import Point

from siting.outputs import htmlreport
from siting.outputs._workbook import SHEET_NAMES, rounded
from siting.outputs.excel import Sheet, read_sheet, write_excel
from siting.outputs.figures import map_figure, subdistrict_figure
from siting.outputs.report import _writable

COVERAGE_SHEETS = ["概要 Summary", "街道 Subdistricts", "设施 Facilities", "未覆盖 Uncovered places"]
SITE_SHEETS = COVERAGE_SHEETS + ["选址 Chosen", "候选 Candidates", "前后 Before-after"]


def _equal_csv(xlsx: Path, sheet: str, csv: Path) -> None:
    """The sheet read back (headers mapped to the CSV's names) equals the CSV, value for value."""
    got = read_sheet(xlsx, sheet)
    want = pd.read_csv(csv, encoding="utf-8-sig")
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False, check_exact=False, rtol=1e-12)


@pytest.mark.realdata
def test_coverage_workbook(main_job: tuple[Path, str]) -> None:
    out, _ = main_job
    xlsx = out / "report.xlsx"
    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == COVERAGE_SHEETS
    subs = wb["街道 Subdistricts"]
    header = [c.value for c in subs[1]]
    assert header[:3] == ["区 district", "街道 subdistrict", "人口 population"]
    col = {h.split()[-1]: i for i, h in enumerate(header)}
    assert subs.freeze_panes == "B2" and wb["未覆盖 Uncovered places"].freeze_panes == "B2"
    row = next(subs.iter_rows(min_row=2, max_row=2))
    assert row[col["coverage_rate"]].number_format == "0.0%" and row[col["target"]].number_format == "0.0%"
    assert row[col["population"]].number_format == "#,##0"
    assert subs.column_dimensions["B"].width >= 10  # 街道 names fit
    _equal_csv(xlsx, "街道 Subdistricts", out / "subdistricts.csv")
    _equal_csv(xlsx, "未覆盖 Uncovered places", out / "uncovered_places.csv")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    items = {r[0]: (r[1], c[1].number_format) for r, c in zip(wb["概要 Summary"].iter_rows(values_only=True),
                                                              wb["概要 Summary"].iter_rows(), strict=True) if r[0]}
    assert items["覆盖率 Coverage rate"] == (pytest.approx(summary["coverage_rate"]), "0.0%")
    assert items["缺口人口 Gap"][0] == pytest.approx(summary["gap_residents"])
    assert items["15 分钟内 Share within 15 min"][0] == pytest.approx(summary["coverage_rate"])
    assert any(k.startswith("数据来源 Data sources") for k in items) and any(k.startswith("局限 Limits") for k in items)
    assert any("street extract covers 5 of 13 街道; 3 of 13 centres counted" in k for k in items)
    fac = read_sheet(xlsx, "设施 Facilities")
    assert len(fac) == 13 and fac["snapped"].sum() == 3


@pytest.mark.realdata
def test_main_job_csvs_rounded_and_outputs(main_job: tuple[Path, str]) -> None:
    out, printed = main_job
    subs = pd.read_csv(out / "subdistricts.csv", encoding="utf-8-sig")
    assert subs["population"].dtype.kind == "i" and subs["gap_residents"].dropna().mod(1).eq(0).all()
    text = (out / "subdistricts.csv").read_text(encoding="utf-8-sig")
    assert not re.search(r"\.\d{5,}", text)  # nothing beyond 4 decimals
    places = pd.read_csv(out / "uncovered_places.csv", encoding="utf-8-sig")
    assert (places["max_walk_min"].dropna() * 10).round(6).mod(1).eq(0).all()
    # figures, print map, report page; PDF only when asked (SITING_PDF=0 in the suite)
    for name in ("coverage_by_subdistrict.png", "walking_times.png", "map.png", "map.pdf", "report.html"):
        assert (out / name).stat().st_size > 1000, name
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<title>徐汇区 · 15 分钟步行可达" in page and "street extract covers 5 of 13 街道" in page
    assert page.count("data:image/png;base64,") == 3
    # console: sorted by gap (largest first), the 8 街道 without residents in the extract grouped at the end
    lines = printed.splitlines()
    top = next(i for i, ln in enumerate(lines) if ln.startswith("街道 / subdistrict"))
    names = [ln.split()[0] for ln in lines[top + 1:top + 6]]
    with_residents = subs[subs["population"] > 0].sort_values("gap_residents", ascending=False)
    assert names == with_residents["subdistrict"].tolist() and len(names) == 5
    assert lines[top + 6].startswith("-- no residents inside the street extract")
    assert len(lines[top + 7:top + 15]) == 8 and all(" 0 " in ln for ln in lines[top + 7:top + 15])
    assert "Walking time (residents, weighted): mean" in printed and "within 5/10/15/20 min" in printed


@pytest.mark.realdata
def test_site_workbook(k3: tuple[Path, str]) -> None:
    out, _ = k3
    xlsx = out / "report.xlsx"
    assert openpyxl.load_workbook(xlsx).sheetnames == SITE_SHEETS
    _equal_csv(xlsx, "前后 Before-after", out / "before_after.csv")
    chosen = read_sheet(xlsx, "选址 Chosen")
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert chosen["order"].tolist() == [1, 2, 3]
    assert abs(chosen["assigned"].sum() - (s["covered_after"] - s["covered_before"])) <= 3  # whole residents
    assert chosen["label"].str.match(r"候选 G\d+ · .+街道 · 近 .+").all()
    cand = read_sheet(xlsx, "候选 Candidates")
    assert len(cand) == s["candidates"]["total"] and cand["rank"].dropna().is_monotonic_increasing


def test_write_excel_formats(tmp_path: Path) -> None:
    frame = pd.DataFrame({"subdistrict": ["甲街道", "乙街道"], "population": [1234.0, np.nan],
                          "coverage_rate": [0.5, np.inf], "value": [0.25, 3.0]})
    path = write_excel(tmp_path / "x.xlsx", {"表 Sheet": Sheet(frame, formats={"value": ["0.0%", "0"]},
                                                              notes=["来源 source: test"])})
    ws = openpyxl.load_workbook(path)["表 Sheet"]
    assert [c.value for c in ws[1]] == ["街道 subdistrict", "人口 population", "覆盖率 coverage_rate", "数值 value"]
    assert ws["B2"].number_format == "#,##0" and ws["C2"].number_format == "0.0%"
    assert ws["D2"].number_format == "0.0%" and ws["D3"].number_format == "0"
    assert ws["B3"].value is None and ws["C3"].value is None  # NaN / inf: empty cells
    assert ws["A5"].value == "来源 source: test" and ws.freeze_panes == "B2"
    back = read_sheet(path, "表 Sheet")
    assert list(back.columns) == ["subdistrict", "population", "coverage_rate", "value"] and len(back) == 2


def test_rounded_and_booleans(tmp_path: Path) -> None:
    frame = pd.DataFrame({"population": [1234.56, np.nan], "coverage_rate": [0.123456, 1.0],
                          "max_walk_min": [12.345, np.inf], "gap_pp": [1.23456, 0.0]})
    out = rounded(frame)
    assert out["population"].tolist()[0] == 1235 and pd.isna(out["population"][1])
    assert out["coverage_rate"][0] == 0.1235 and out["max_walk_min"][0] == 12.3 and out["gap_pp"][0] == 1.23
    gdf = gpd.GeoDataFrame({"flag": pd.Series([True, False], dtype=object), "text": ["a", None]},
                           geometry=[Point(121.4, 31.2)] * 2, crs=4326)
    _writable(gdf).to_file(tmp_path / "b.gpkg", driver="GPKG")
    back = gpd.read_file(tmp_path / "b.gpkg")
    assert back["flag"].dtype == bool and back["flag"].tolist() == [True, False]


def test_report_pdf_is_one_a4_page(map_inputs: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one PDF test: report.html printed by headless Chromium is a single A4 page."""
    if htmlreport.chromium() is None:
        pytest.skip("Chromium is absent (CI has /usr/bin/chromium)")
    pypdf = pytest.importorskip("pypdf")
    monkeypatch.setenv("SITING_PDF", "1")
    summary = {**map_inputs["summary"], "districts": ["黄浦区"], "date": "2026-11-29", "gap_pp": 34.9,
               "sources": [{"what": "路网 streets", "source": "OpenStreetMap (x.osm)", "year": "2025"}],
               "notes": ["a limit 局限"]}
    table = pd.DataFrame(map_inputs["subdistricts"].drop(columns="geometry"))
    figs = {"subdistricts": subdistrict_figure(table, 0.9),
            "map": map_figure(map_inputs["points"], map_inputs["facilities"], subdistricts=map_inputs["subdistricts"],
                              summary=summary, service_area=map_inputs["service_area"])}
    html = htmlreport.write_report(tmp_path, summary, table, figs)
    assert "<title>黄浦区 · 15 分钟步行可达 · 2026-11-29</title>" in html.read_text(encoding="utf-8")
    reader = pypdf.PdfReader(tmp_path / "report.pdf")
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (210, 297)  # mm
    text = reader.pages[0].extract_text()
    assert "55.1" in text and "外滩街道" in text


def test_pdf_skipped_with_note_without_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(htmlreport, "CHROMIUM", ())
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("SITING_CHROMIUM", raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "none"))  # nor a browser playwright downloaded
    (tmp_path / "r.html").write_text("<p>x</p>", encoding="utf-8")
    with pytest.warns(UserWarning, match="report.pdf skipped: Chromium not found"):
        assert htmlreport.write_pdf(tmp_path / "r.html", tmp_path / "r.pdf") is None
    assert not (tmp_path / "r.pdf").exists()


def test_sheet_names_fixed() -> None:
    assert list(SHEET_NAMES.values()) == SITE_SHEETS + ["可达 Access", "区域 Regions", "20分钟外 Beyond 20 min"]
