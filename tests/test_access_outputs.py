"""`siting access` outputs (issue 22): the map's legend names the supply layer and its classes, the headline
("assuming 6 GPs per centre (defaults)" first when capacities are defaults) opens the map's info box, visible
in Chromium, and report.pdf is printed like `siting coverage`'s. On walk_tiny.osm (one centre, two homes)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from siting.cli.commands import app
from siting.outputs._maplayers import SUPPLY_COLORS

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (Debian package `chromium`)")
ASSUMED = "Assuming 6 GPs per centre (defaults): GP access index (2SFCA)"


def access(tiny_job: tuple[Path, list[str]], name: str, *extra: str, facilities: str | None = None) -> Path:
    work, args = tiny_job
    args = [a for a in args[1:] if a != "--no-map"]
    if facilities is not None:
        (work / "own.csv").write_text(facilities, encoding="utf-8")
        args[args.index("--facilities") + 1] = str(work / "own.csv")
    result = CliRunner().invoke(app, ["access", *args, "--no-tiles", *extra, "--out", str(work / name)])
    assert result.exit_code == 0, result.output
    return work / name


#: The boxes siting draws over a map, in page order (the title box holds the headlines).
BOXES = ("siting-title", "siting-summary", "siting-legend")


def _box(page: str, cls: str) -> str:
    """Return the HTML of one box: from its opening tag to the next box (or the end of the page)."""
    start = page.index(f'<div class="{cls}"')
    ends = [page.find(f'<div class="{b}"', start + 1) for b in BOXES[BOXES.index(cls) + 1:]]
    return page[start:min([e for e in ends if e > 0], default=len(page))]


def test_access_map_legend_has_the_supply_layer_and_its_classes(tiny_job):
    page = (access(tiny_job, "out") / "map.html").read_text(encoding="utf-8")
    legend = _box(page, "siting-legend")
    assert "<b>每万人全科医生可达指数 GP access index per 10,000 (2SFCA)</b>" in legend
    rows = ["0 · 范围内无设施 no facility within reach", "&lt; 1.5", "1.5–3.0", "3.0–4.5", "≥ 4.5 标准 standard"]
    for color, text in zip(SUPPLY_COLORS, rows, strict=True):
        assert re.search(rf"background:{color};[^>]*></i> {re.escape(text)}", legend), text


def test_default_capacities_are_the_first_words_of_the_map_info_box(tiny_job):
    page = (access(tiny_job, "out") / "map.html").read_text(encoding="utf-8")
    info = _box(page, "siting-summary")
    assert re.match(r'<div class="siting-summary"[^>]*><div class="siting-headline"', info)  # first in the box
    heads = re.findall(r'<div class="siting-headline"[^>]*>(.*?)</div>', info)
    assert heads[0].startswith("假设每个社区卫生服务中心 6 名全科医生（默认值）：") and heads[1].startswith(ASSUMED)


def test_gp_counts_from_the_file_are_no_assumption(tiny_job):
    """A file's GP count (floor area defaulted) is not called an assumption: the headline has no 'assuming'."""
    out = access(tiny_job, "own", facilities="name,type,gps,lon,lat\nA,center,9,121.4005,31.2000\n")
    info = _box((out / "map.html").read_text(encoding="utf-8"), "siting-summary")
    heads = re.findall(r'<div class="siting-headline"[^>]*>(.*?)</div>', info)
    assert heads[1].startswith("GP access index (2SFCA): 600.00 per 10,000")  # 9 GPs / 150 residents
    assert "ssuming" not in info and "假设" not in info


def test_no_map_and_no_report_are_listed_as_skipped(tiny_job):
    out = access(tiny_job, "lean", "--no-map", "--no-report")
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["skipped"] == ["map.html", "report.xlsx", "report.html", "report.pdf"]
    assert not any((out / f).exists() for f in s["skipped"])


@pytest.mark.browser
@needs_chromium
def test_access_map_headline_and_legend_are_visible_in_chromium(tiny_job):
    sync_api = pytest.importorskip("playwright.sync_api")
    out = access(tiny_job, "out")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((out / "map.html").as_uri(), wait_until="load")
        page.wait_for_timeout(300)
        box = page.locator(".siting-headline").nth(1).bounding_box()
        title = page.locator(".siting-title").bounding_box()
        on_top = page.evaluate("""() => { const r = document.querySelectorAll('.siting-headline')[1]
            .getBoundingClientRect(); const hit = document.elementFromPoint(r.x + 5, r.y + r.height / 2);
            return hit !== null && hit.classList.contains('siting-headline'); }""")
        legend = page.locator(".siting-legend").inner_text()
        layers = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        browser.close()
    assert errors == []
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 800 and box["width"] > 0
    assert title is not None and box["y"] >= title["y"] + title["height"]  # below the title box, not under it
    assert on_top  # nothing drawn over the headline
    assert "GP access index per 10,000 (2SFCA)" in legend and "≥ 4.5 标准 standard" in legend
    assert any("GP access index per 10,000" in t for t in layers)  # the layer the legend describes


@needs_chromium
def test_siting_access_prints_report_pdf(tiny_job, monkeypatch):
    pypdf = pytest.importorskip("pypdf")
    monkeypatch.setenv("SITING_PDF", "1")
    out = access(tiny_job, "pdf", "--no-map")
    reader = pypdf.PdfReader(out / "report.pdf")
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    assert "假设每个社区卫生服务中心 6 名全科医生（默认值）" in text and ASSUMED in text
    assert not list(out.glob("*.part")) and not list(out.glob(".*"))  # no print left half-written
