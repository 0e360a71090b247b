"""Outputs that tell the truth at a glance: every limit printed (never cut), the headline's base named, partly
analysed 街道 shown as partial, and where to build said in every output (issue 22)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import SAMPLE, expected_warnings, readme_commands

from siting import _labels
from siting.outputs import htmlreport
from siting.outputs._limits import headline_base, limits
from siting.outputs.excel import read_sheet


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def visible_text(path: Path) -> tuple[int, str]:
    """(pages, the text drawn *inside* the pages): text a clip hides below a page's edge is left out."""
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(path)
    out: list[str] = []
    for page in reader.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)

        def visit(text, cm, tm, font, size, width=width, height=height):
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            if 0 <= x <= width and 0 <= y <= height:
                out.append(text)

        page.extract_text(visitor_text=visit)
    return len(reader.pages), _flat("".join(out))


SUMMARY = {"coverage_rate": 0.53851, "population_total": 254388.3, "population_outside_network": 858689.7,
           "unit": "residents", "n_facilities": 3, "n_facilities_unusable": 10, "districts": ["徐汇区"],
           "sources": [{"what": "人口总数 control totals", "source": "census.csv (pop_census_2020)", "year": "2020"}],
           "notes": ["outside the analysed area: x.json: 47 row(s) outside 徐汇区 repeat an earlier row exactly",
                     "the street network has no footways, paths or estate roads (residential→primary streets only): "
                     "walking times are conservative",
                     "the facility list has no 社区卫生服务站 (stations)",
                     "10 facilities lie off the street extract and are not counted: residents near the extract's edge "
                     "may in fact be served by them (edge effect)",
                     "population per 街道: 13 街道 estimated totals (not census)",
                     "something new the report has no words for"]}


def test_limits_largest_effect_first_in_chinese_then_english() -> None:
    got = limits(SUMMARY)
    assert got[0].en.startswith("858,690 residents outside the street extract (77 % of all)")
    assert got[0].zh == "路网范围外 858,690 名居民（占 77 %）不计入覆盖率"
    assert got[1].en.startswith("10 facilities lie off") and got[1].zh.startswith("10 个设施位于路网范围外")
    assert [g.en[:12] for g in got[2:4]] == ["the street n", "the facility"]
    assert got[-1].en.startswith("outside the analysed area")  # moves nothing: last
    assert {g.en for g in got} >= set(SUMMARY["notes"])  # every note, word for word
    assert all(re.search(r"[\u4e00-\u9fff]", g.zh) for g in got)  # each with a Chinese line


def test_headline_names_its_base() -> None:
    zh, en = headline_base(SUMMARY, "徐汇区")  # type: ignore[misc]
    assert en == "53.9 % of the 254,388 residents inside the street extract — 23 % of 徐汇区's 1,113,078 (2020 census)"
    assert "254,388" in zh and "1,113,078" in zh and "23 %" in zh
    whole = headline_base({**SUMMARY, "population_outside_network": 0}, "徐汇区")
    assert whole is not None and whole[1] == "53.9 % of the 254,388 residents of 徐汇区"


def test_page_is_not_a_fixed_clipped_sheet() -> None:
    table = pd.DataFrame({"subdistrict": ["徐家汇街道"], "population": [16710.0], "covered": [0.0],
                          "coverage_rate": [0.0], "gap_residents": [15040.0], "analysed_share": [0.1355]})
    page = htmlreport.report_html(SUMMARY, table, {})
    assert "overflow: hidden" not in htmlreport.CSS and "height: 277mm" not in htmlreport.CSS
    limits_at = page.index('class="limits"')
    assert limits_at < page.index('class="heads"')  # the limits before the numbers they qualify
    assert page.index("路网范围外 858,690") < page.index("858,690 residents outside")  # Chinese, then English


@pytest.mark.realdata
@pytest.mark.browser
def test_pdf_holds_every_note_on_two_pages(shanghai: Path, repo_root: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The README job's report.pdf (headless Chromium): ≥ 2 A4 pages, every note of summary.json inside a page."""
    if htmlreport.chromium() is None:
        pytest.skip("Chromium is absent (CI has /usr/bin/chromium)")
    from siting.cli.commands import app

    monkeypatch.setenv("SITING_PDF", "1")
    import shlex
    args = [a.replace("../shared/data/shanghai", str(shanghai))
            for a in shlex.split(readme_commands(repo_root)[0].partition(" && ")[2])][1:]
    args[args.index("--out") + 1] = str(tmp_path / "out")
    with expected_warnings(*SAMPLE):
        result = CliRunner().invoke(app, [*args, "--cache-dir", str(tmp_path / "cache"), "--no-map", "-q"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    pages, text = visible_text(tmp_path / "out" / "report.pdf")
    assert pages >= 2
    assert len(summary["notes"]) >= 5
    for note in summary["notes"]:
        assert _flat(note) in text, note
    assert _flat("53.9 % of the 254,388 residents inside the street extract — 23 % of 徐汇区's 1,113,078") in text


@pytest.mark.realdata
def test_analysed_share_everywhere(main_job: tuple[Path, str]) -> None:
    out, printed = main_job
    subs = pd.read_csv(out / "subdistricts.csv", encoding="utf-8-sig").set_index("subdistrict")
    xjh = subs.loc["徐家汇街道"]
    assert xjh["analysed_share"] == pytest.approx(16710 / (16710 + 106627), abs=1e-3)
    assert subs.loc["湖南路街道", "analysed_share"] == 1.0 and subs.loc["龙华街道", "analysed_share"] == 0.0
    sheet = read_sheet(out / "report.xlsx", "街道 Subdistricts").set_index("subdistrict")
    assert sheet.loc["徐家汇街道", "analysed_share"] == pytest.approx(xjh["analysed_share"])
    ws = openpyxl.load_workbook(out / "report.xlsx")["街道 Subdistricts"]
    col = [c.value for c in ws[1]].index("已分析比例 analysed_share")
    assert ws.cell(row=2, column=col + 1).number_format == "0.0%"
    line = next(ln for ln in printed.splitlines() if ln.startswith("徐家汇街道"))
    assert "14%*" in line and "* partly analysed" in printed
    assert "So: 53.9 % of the 254,388 residents inside the street extract — 23 % of 徐汇区's 1,113,078" in printed
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "13.6 % 部分 partial" in page


@pytest.mark.realdata
def test_site_outputs_say_where_to_build(k3: tuple[Path, str]) -> None:
    out, printed = k3
    chosen = read_sheet(out / "report.xlsx", "选址 Chosen")
    assert list(chosen.columns[:8]) == ["order", "label", "subdistrict", "serves", "lon", "lat", "assigned", "gain"]
    assert chosen["label"].str.match(r"候选 G\d+ · .+街道 · 近 .+").all()
    ws = openpyxl.load_workbook(out / "report.xlsx")["选址 Chosen"]
    head = [c.value for c in ws[1]]
    for name in ("经度 lon", "纬度 lat"):
        assert ws.cell(row=2, column=head.index(name) + 1).number_format == "0.000000"
    assert (chosen["lon"] * 1e6).round(3).mod(1).eq(0).all() and chosen["lon"].between(121, 122).all()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "选址：在哪里建 Where to build" in page
    assert _labels.header("assigned") in page and _labels.header("gain") in page
    for _, r in chosen.iterrows():
        assert r["label"] in page and f"{r['lon']:.6f}" in page and r["label"] in printed
    fac = gpd.read_file(out / "facilities.gpkg")
    new = fac[fac["source"] == "new site"]
    assert sorted(new["name"]) == sorted(chosen["label"])
    assert "residents added in order of choice" in printed and "residents on its own" in printed
    assert chosen["serves"].notna().all()
