"""CJK fonts without system fonts: matplotlib's cache predating the font, the pip font, report.html's subset."""

from __future__ import annotations

import base64
import io
import re
import shutil
import warnings
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from fontTools.ttLib import TTFont
from matplotlib import font_manager

from siting.outputs import _fonts, figures, htmlreport

TABLE = pd.DataFrame({"subdistrict": ["徐家汇街道", "天平路街道"], "district": ["徐汇区", "徐汇区"],
                      "population": [100.0, 50.0], "covered": [90.0, 10.0], "coverage_rate": [0.9, 0.2],
                      "target": [0.9, 0.9], "gap_residents": [0.0, 35.0]})


def glyph_warnings(make) -> tuple[list[str], object]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = make()
    return [str(w.message) for w in caught], result


@pytest.fixture
def no_cjk(monkeypatch):
    """matplotlib as on a machine whose font cache lists no CJK font and whose system folders hold none."""
    cjk = {e.fname for e in font_manager.fontManager.ttflist
           if e.name in _fonts.CJK_FONTS or "CJK" in e.name or "WenQuanYi" in e.name}
    monkeypatch.setattr(font_manager.fontManager, "ttflist",
                        [e for e in font_manager.fontManager.ttflist if e.fname not in cjk])
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    monkeypatch.setitem(figures._state, "font", None)
    monkeypatch.setitem(figures._state, "file", None)
    monkeypatch.setitem(figures._state, "warned", False)
    font_manager.fontManager._findfont_cached.cache_clear()
    yield
    font_manager.fontManager._findfont_cached.cache_clear()


def test_pip_font_draws_chinese_without_system_fonts(no_cjk):
    assert _fonts._known() is None  # hidden indeed
    before = dict(matplotlib.rcParams)
    said, fig = glyph_warnings(lambda: figures.subdistrict_figure(TABLE, 0.9))
    drawn, _ = glyph_warnings(lambda: fig.savefig(io.BytesIO(), format="png", dpi=60))
    assert [w for w in said + drawn if "missing from font" in w or "CJK" in w] == []
    assert figures.cjk_font() == "Noto Sans CJK SC"
    found = figures.cjk_font_file()
    assert found.source == "noto_cjk_sans_otc (pip, OFL-1.1)" and found.path.endswith("NotoSansCJK-Regular.ttc")
    assert dict(matplotlib.rcParams) == before  # the font list grew; no rcParams changed


def test_a_font_newer_than_the_cache_is_added(no_cjk, monkeypatch, tmp_path):
    system = tmp_path / "fonts" / "NotoSansCJK-Regular.ttc"  # a system folder's font the cache does not list
    system.parent.mkdir()
    shutil.copy(Path(str(_fonts.importlib.resources.files(_fonts.PIP_FONT[0]) / _fonts.PIP_FONT[1])), system)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [str(system)])
    monkeypatch.setattr(_fonts, "PIP_FONT", ("no_such_font_package", "x.ttc"))
    found = _fonts.find_cjk_font()
    assert found is not None and found.path == str(system) and found.name == "Noto Sans CJK SC"
    assert "did not list" in found.source
    said, fig = glyph_warnings(lambda: figures.walk_time_figure(
        pd.DataFrame({"walk_min": [3.0, 12.0, 40.0], "population": [10.0, 20.0, 5.0]}), 15))
    drawn, _ = glyph_warnings(lambda: fig.savefig(io.BytesIO(), format="png", dpi=60))
    assert [w for w in said + drawn if "missing from font" in w] == []


def test_no_font_at_all_warns_once(no_cjk, monkeypatch):
    monkeypatch.setattr(_fonts, "PIP_FONT", ("no_such_font_package", "x.ttc"))
    said, fig = glyph_warnings(lambda: figures.subdistrict_figure(TABLE, 0.9))
    drawn, _ = glyph_warnings(lambda: fig.savefig(io.BytesIO(), format="png", dpi=60))
    again, _ = glyph_warnings(lambda: figures.subdistrict_figure(TABLE, 0.9).savefig(io.BytesIO(), format="png"))
    assert len([w for w in said if w.startswith("no CJK font found")]) == 1
    assert [w for w in said + drawn + again if "missing from font" in w or "CJK" in w] == [said[0]]
    assert figures.cjk_font_file() is None


def embedded_font(html: str) -> TTFont:
    match = re.search(r"@font-face\{font-family:'SitingCJK';src:url\(data:font/(otf|ttf);base64,([A-Za-z0-9+/=]+)\)",
                      html)
    assert match, "no embedded font"
    return TTFont(io.BytesIO(base64.b64decode(match[2])))


def test_report_embeds_the_subset_font(no_cjk, map_inputs):
    summary = {**map_inputs["summary"], "districts": ["黄浦区"], "date": "2026-11-29", "n_facilities": 3}
    html = htmlreport.report_html(summary, TABLE, {})
    font = embedded_font(html)
    cmap = font.getBestCmap()
    body = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    used = {c for c in body if ord(c) > 0x2E7F and c.isprintable()}
    assert "徐" in used and {ord(c) for c in used} <= set(cmap)  # every CJK character of the page
    assert ord("龘") not in cmap and len(cmap) < 600  # only those: a subset
    assert len(html) < 400_000 and font["name"].getDebugName(1).startswith("Noto Sans CJK")
    assert 'font-family: "SitingCJK"' in html


def pdf_fonts(pdf: bytes) -> set[str]:
    """The base names of every font a PDF uses (pages and the form XObjects Chromium draws into)."""
    from pypdf import PdfReader

    found: set[str] = set()

    def walk(resources, seen):
        if resources is None:
            return
        resources = resources.get_object()
        found.update(str(f.get_object().get("/BaseFont")) for f in (resources.get("/Font") or {}).values())
        for x in (resources.get("/XObject") or {}).values():
            x = x.get_object()
            if id(x) not in seen:
                seen.add(id(x))
                walk(x.get("/Resources"), seen)

    for page in PdfReader(io.BytesIO(pdf)).pages:
        walk(page.get("/Resources"), set())
    return found


@pytest.mark.browser
def test_chromium_prints_the_embedded_font_without_system_fonts(no_cjk, map_inputs, tmp_path):
    """Chromium with an empty fontconfig (no system font at all) prints the Chinese text with the subset."""
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    conf = tmp_path / "fonts.conf"
    conf.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                    f"<cachedir>{tmp_path / 'fc-cache'}</cachedir></fontconfig>", encoding="utf-8")
    summary = {**map_inputs["summary"], "districts": ["黄浦区"], "date": "2026-11-29", "n_facilities": 3}
    html = htmlreport.report_html(summary, TABLE, {})
    pages = {"embedded": html, "control": re.sub(r"@font-face\{[^}]*\}", "", html)}
    pdfs = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", env={"FONTCONFIG_FILE": str(conf)},
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--no-first-run"])
        for name, text in pages.items():
            (tmp_path / f"{name}.html").write_text(text, encoding="utf-8")
            page = browser.new_page()
            page.goto((tmp_path / f"{name}.html").as_uri())
            pdfs[name] = page.pdf(format="A4")
        browser.close()
    text = {name: "".join(pg.extract_text() for pg in PdfReader(io.BytesIO(pdf)).pages) for name, pdf in pdfs.items()}
    assert pdf_fonts(pdfs["embedded"]) and "徐家汇街道" in text["embedded"] and "覆盖率" in text["embedded"]
    assert not pdf_fonts(pdfs["control"]) and "徐家汇街道" not in text["control"]  # no font at all: no text drawn
