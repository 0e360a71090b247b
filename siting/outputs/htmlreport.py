"""``report.html``: a printable A4 report, and ``report.pdf`` from it.

The page holds the headline and its base, the limits (largest effect first, Chinese then English), the
headline boxes, extra tables (chosen sites, access), 街道 chart, static map, 街道 table and sources; it flows
onto further pages rather than being cut. The PDF is printed with headless Chromium when it is installed.

The print runs as a child process (:func:`start_pdf`) while the caller writes its other files, and is
waited for at the end (:meth:`PdfPrint.wait`); Chromium writes to a hidden ``.part`` name that becomes
``report.pdf`` only when the print succeeded, and it is killed with siting (Linux: ``PR_SET_PDEATHSIG``).
Set the environment variable ``SITING_PDF=0`` to skip the PDF (the test suite does, except one test).
"""

from __future__ import annotations

import base64
import ctypes
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from .. import _labels
from ..engine._stats import sort_by_gap
from . import _browser, _chromium
from ._fonts import font_face_css
from ._limits import headline_base, limits
from ._text import html_text
from .excel import COORDINATE_COLUMNS, PERCENT_COLUMNS, WHOLE_COLUMNS
from .figures import cjk_font_file, png_bytes

__all__ = ["CHROMIUM", "PdfPrint", "chromium", "pdf_wanted", "printing", "report_html", "start_pdf", "warm_browser",
           "write_html", "write_pdf", "write_report"]

#: Where Chromium is looked for on Linux; ``$SITING_CHROMIUM`` first, macOS/Windows places, ``PATH`` and playwright's
#: browser after (:mod:`siting.outputs._chromium`).
CHROMIUM = _chromium.LINUX
#: Flags of every Chromium siting starts (a browser started early for a print: :mod:`siting.outputs._browser`).
BROWSER_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run")
#: Flags of the one-shot ``--print-to-pdf`` print (with the protocol, no header/footer is a print option: the
#: flag would crash its page).
CHROMIUM_ARGS = (*BROWSER_ARGS, "--no-pdf-header-footer")

CSS = """
@page { size: A4; margin: 9mm 10mm; }
* { box-sizing: border-box; }
body { font-family: "SitingCJK", "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei",
       "PingFang SC", sans-serif; font-size: 8.5pt; color: #222; margin: 0; }
.page { width: 190mm; display: flex; flex-direction: column; gap: 2.5mm; }
h1 { font-size: 15pt; margin: 0; }
.base { font-size: 10pt; margin-top: 1mm; } .base span { display: block; color: #444; font-size: 8.5pt; }
.limits { border-left: 1.2mm solid #e08214; background: #fff7ec; padding: 1mm 2mm; }
.limits ol { margin: 0.5mm 0 0 4mm; padding: 0; } .limits li { margin-bottom: 0.6mm; break-inside: avoid; }
.limits li span { display: block; color: #555; font-size: 7.5pt; overflow-wrap: anywhere; }
h2 { font-size: 10pt; margin: 1mm 0 0; break-after: avoid; }
tr, .row, .heads { break-inside: avoid; }
.sub { color: #555; margin-top: 0.5mm; }
.heads { display: flex; gap: 2mm; }
.head { flex: 1; border: 1px solid #bbb; border-radius: 2mm; padding: 1.5mm 2mm; }
.head b { display: block; font-size: 14pt; }
.head.bad b { color: #b2182b; } .head.good b { color: #1a9850; }
.partial { color: #b35806; }
.row { display: flex; gap: 3mm; align-items: flex-start; }
.row img { width: 93.5mm; } .col { display: flex; flex-direction: column; gap: 2mm; }
table { border-collapse: collapse; width: 100%; font-size: 7.5pt; }
th, td { border-bottom: 1px solid #ddd; padding: 0.6mm 1.2mm; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #dde7f0; } tr.empty td { color: #888; }
.foot { font-size: 6.8pt; color: #444; }
.foot ul { margin: 0.5mm 0 0 4mm; padding: 0; }
"""


#: A figure for the page: PNG bytes (e.g. the file :func:`siting.outputs.figures.write_figures` wrote) or a Figure
#: (rendered here at 150 dpi).
Image = Figure | bytes


def _img(image: Image | None, alt: str, dpi: int = 150) -> str:
    if image is None:
        return ""
    data = base64.b64encode(image if isinstance(image, bytes) else png_bytes(image, dpi=dpi)).decode("ascii")
    return f'<img alt="{html_text(alt)}" src="data:image/png;base64,{data}">'


def _pct(x: Any) -> str:
    return "—" if x is None or pd.isna(x) else f"{100 * float(x):.1f} %"


def _minutes(x: Any) -> str:
    return "—" if x is None or pd.isna(x) else f"{float(x):.1f} min"  # NaN: no residents to time


def _int(x: Any) -> str:
    return "—" if x is None or pd.isna(x) else f"{float(x):,.0f}"


def _heads(s: dict[str, Any]) -> str:
    target, rate = s.get("target"), s.get("coverage_rate")
    unit = "居民 residents" if s.get("unit") == "residents" else "地点 locations"
    boxes = [("覆盖率 Coverage", _pct(rate), f"{_int(s.get('population_covered'))} / "
              f"{_int(s.get('population_total'))} {unit}")]
    cls = ""
    if target is not None and not pd.isna(target):
        met = rate is not None and not pd.isna(rate) and float(rate) >= float(target) - 1e-12
        cls = "good" if met else "bad"
        boxes += [("目标 Target", _pct(target), html_text(str(s.get("target_source") or "")[:60])),
                  ("缺口 Gap", f"{float(s.get('gap_pp') or 0):.1f} pp", f"{_int(s.get('gap_residents'))} {unit}")]
    within = s.get("share_within") or {}
    if within:
        boxes.append(("步行时间 Walking time", _minutes(s.get("walk_min_mean")), "平均 mean · 中位 median "
                      + _minutes(s.get("walk_min_median"))
                      + "<br>" + " · ".join(f"≤{html_text(k)}′ {_pct(v)}" for k, v in within.items())))
    if s.get("sites") is not None:
        boxes.insert(1, ("新站点 New sites", str(s["sites"]),
                         f"{_pct(s.get('rate_before'))} → {_pct(s.get('rate_after'))}"))
    return '<div class="heads">' + "".join(
        f'<div class="head {cls if i == 0 else ""}">{t}<b>{v}</b>{d}</div>' for i, (t, v, d) in enumerate(boxes)
    ) + "</div>"


def _share_cell(share: Any) -> str:
    """Return the analysed-share cell of a 街道, marked "partly analysed" below :data:`siting._labels.PARTIAL_BELOW`."""
    if share is None or pd.isna(share):
        return "<td>—</td>"
    if _labels.is_partial(float(share)):
        return f'<td class="partial">{_pct(share)} 部分 partial</td>'
    return f"<td>{_pct(share)}</td>"


def _table(table: pd.DataFrame) -> str:
    rows = sort_by_gap(table)
    head = ("<tr><th>街道 Subdistrict</th><th>居民 Residents</th><th>覆盖 Covered</th><th>覆盖率 Rate</th>"
            "<th>目标 Target</th><th>缺口 Gap</th><th>路网外 Outside extract</th><th>已分析 Analysed</th></tr>")
    body = []
    for _, r in rows.iterrows():
        empty = not r["population"] > 0
        body.append(f'<tr class="{"empty" if empty else ""}"><td>{html_text(r["subdistrict"])}</td>'
                    f"<td>{_int(r['population'])}</td><td>{_int(r['covered'])}</td>"
                    f"<td>{_pct(r['coverage_rate'])}</td><td>{_pct(r.get('target'))}</td>"
                    f"<td>{_int(r.get('gap_residents'))}</td><td>{_int(r.get('outside_population'))}</td>"
                    f"{_share_cell(r.get('analysed_share'))}</tr>")
    return f"<table><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"


def report_html(summary: dict[str, Any], table: pd.DataFrame, figures: Mapping[str, Image],
                tables: Mapping[str, pd.DataFrame] | None = None) -> str:
    """Return the report as a self-contained HTML string (A4 pages: it flows onto the next page, never cut).

    Title, the base of the headline rate (residents inside the extract, share of the district), the limits
    (largest effect first, Chinese then English), headline boxes, the extra ``tables`` (``sites``: the chosen
    sites, :func:`siting.outputs._sites.sites_table`; ``access``: the access per 街道), the 街道 and
    walking-time charts beside the print map, the 街道 table and sources; ``figures`` (keys ``subdistricts``,
    ``walk_times``, ``map``) are embedded as PNG: bytes as they are (no second rendering), a Figure rendered
    at 150 dpi.
    """
    s = summary
    sections = [_section(name, frame) for name, frame in (tables or {}).items() if frame is not None and len(frame)]
    note = _labels.extent_note(s, table)
    sources = "".join(f"<li>{html_text(line)}</li>" for line in _labels.source_lines(s))
    base = headline_base(s, _labels.area_name(s))
    heads = ([base] if base else []) + [tuple(h) for h in s.get("headlines") or []]
    base_html = "".join(f'<div class="base"><b>{html_text(zh)}</b><span>{html_text(en)}</span></div>'
                        for zh, en in heads)
    title = _labels.title(s)
    page = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html_text(title)}</title><style>{CSS}</style></head>
<body><div class="page">
<div><h1>{html_text(title)}</h1><div class="sub">{html_text(_labels.subtitle(s))}</div>{base_html}
{f'<div class="partial">⚠ {html_text(note)}</div>' if note else ''}</div>
{_limits_html(s)}
{_heads(s)}
{"".join(sections)}
<div class="row"><div class="col">{_img(figures.get("subdistricts"), "coverage by 街道")}
{_img(figures.get("walk_times"), "walking times")}</div>{_img(figures.get("map"), "map")}</div>
{_table(table)}
<div class="foot"><b>数据来源 Data sources</b><ul>{sources}</ul></div>
</div></body></html>
"""
    # the figures' CJK font, subset to the page's characters: Chromium prints it without system fonts
    return page.replace("<style>", f"<style>{font_face_css(page, cjk_font_file())}", 1)


#: Headings of the extra tables of :func:`report_html`.
SECTION_TITLES = {"sites": "选址：在哪里建 Where to build (in order of choice)",
                  "access": "可达性指数（每个街道）Access index per 街道"}


def _cell(column: str, value: Any) -> str:
    if isinstance(value, bool):
        return "是 yes" if value else ""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    if isinstance(value, str):
        return html_text(value)
    if column in PERCENT_COLUMNS:
        return _pct(value)
    if column in COORDINATE_COLUMNS:
        return f"{float(value):.6f}"
    if column in WHOLE_COLUMNS:
        return _int(value)
    return f"{float(value):,.2f}"


def _section(name: str, frame: pd.DataFrame) -> str:
    """Return an extra table (:data:`SECTION_TITLES`) with the glossary's headers (:func:`siting._labels.header`)."""
    head = "".join(f"<th>{html_text(_labels.header(str(c)))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(str(c), v)}</td>" for c, v in zip(frame.columns, row, strict=True))
                   + "</tr>" for row in frame.itertuples(index=False))
    return (f'<div class="section"><h2>{html_text(SECTION_TITLES.get(name, name))}</h2>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _limits_html(summary: dict[str, Any]) -> str:
    """Return the limits, largest effect first, each in Chinese then English (:func:`siting.outputs._limits.limits`)."""
    items = "".join(f"<li>{html_text(lim.zh)}<span>{html_text(lim.en)}</span></li>" for lim in limits(summary))
    return f'<div class="limits"><b>局限（按对结果的影响排序）Limits, largest effect first</b><ol>{items}</ol></div>' \
        if items else ""


def chromium() -> str | None:
    """Return the path of a Chromium/Chrome/Edge executable, or None (:func:`siting.outputs._chromium.find`)."""
    return _chromium.find(linux=CHROMIUM)


def pdf_wanted() -> bool:
    """Return False when the environment variable ``SITING_PDF`` is ``0`` (no report.pdf)."""
    return os.environ.get("SITING_PDF", "1") != "0"


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """Return a ``preexec_fn`` that has the child killed when siting dies (Linux), else None."""
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here, not in the forked child

    def preexec() -> None:  # pragma: no cover - runs in the child between fork and exec
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return preexec


@dataclass
class PdfPrint:
    """Headless Chromium printing a page to PDF as a child process (:func:`start_pdf`).

    Attributes
    ----------
    proc : subprocess.Popen
        The Chromium process.
    part : Path
        Where Chromium writes (``.report.pdf.part`` beside the target), renamed to ``pdf_path`` on success.
    pdf_path : Path
        The PDF to produce.
    deadline : float
        ``time.monotonic()`` after which the print is stopped.
    """

    proc: subprocess.Popen[bytes]
    part: Path
    pdf_path: Path
    deadline: float

    def wait(self) -> Path | None:
        """Wait for the print; return ``pdf_path``, or None with a warning (no file left) when it failed."""
        try:
            code = self.proc.wait(timeout=max(self.deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            self.cancel()
            warnings.warn("report.pdf skipped: Chromium did not finish in time; open report.html and print it",
                          stacklevel=2)
            return None
        if code != 0 or not self.part.is_file() or self.part.stat().st_size == 0:
            self.part.unlink(missing_ok=True)
            warnings.warn(f"report.pdf skipped: Chromium failed (exit code {code}); open report.html and print it",
                          stacklevel=2)
            return None
        os.replace(self.part, self.pdf_path)
        return self.pdf_path

    def cancel(self) -> None:
        """Stop the print and remove what it wrote."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.part.unlink(missing_ok=True)


def start_pdf(html_path: Path, pdf_path: Path, *, timeout: float = 90.0) -> PdfPrint | None:
    """Start printing ``html_path`` to ``pdf_path`` with headless Chromium (offline page, A4 from the CSS).

    Returns the running print (call :meth:`PdfPrint.wait`), or None with a warning saying how to get the
    PDF when Chromium is absent or cannot start.
    """
    exe = chromium()
    if exe is None:
        warnings.warn("report.pdf skipped: Chromium not found (install Chromium, Chrome or Edge, set "
                      f"{_chromium.ENV} to its executable, or run `playwright install chromium`); open report.html "
                      "and print it to PDF", stacklevel=2)
        return None
    part = pdf_path.with_name(f".{pdf_path.name}.part")
    cmd = [exe, *CHROMIUM_ARGS, f"--print-to-pdf={part}", html_path.resolve().as_uri()]
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=_die_with_parent())
    except OSError as exc:
        warnings.warn(f"report.pdf skipped: Chromium failed ({exc}); open report.html and print it", stacklevel=2)
        return None
    return PdfPrint(proc, part, pdf_path, time.monotonic() + timeout)


def write_pdf(html_path: Path, pdf_path: Path, *, timeout: float = 90.0) -> Path | None:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium and wait for it (see :func:`start_pdf`).

    Returns None (with a warning saying how to get the PDF) when Chromium is absent or fails.
    """
    job = start_pdf(html_path, pdf_path, timeout=timeout)
    return None if job is None else job.wait()


def write_html(folder: Path, summary: dict[str, Any], table: pd.DataFrame, figures: Mapping[str, Image],
               tables: Mapping[str, pd.DataFrame] | None = None) -> Path:
    """Write ``report.html`` into ``folder`` (see :func:`report_html`); return its path."""
    path = folder / "report.html"
    path.write_text(report_html(summary, table, figures, tables), encoding="utf-8")
    return path


def warm_browser() -> None:
    """Start Chromium now for the next :func:`printing` (:mod:`siting.outputs._browser`), unless ``SITING_PDF=0``."""
    if pdf_wanted():
        _browser.warm(chromium(), BROWSER_ARGS, _die_with_parent())


@contextmanager
def printing(html_path: Path) -> Iterator[None]:
    """Print ``html_path`` to ``report.pdf`` beside it while the body runs (unless ``SITING_PDF=0``).

    The print starts on entry and is waited for on a normal exit; when the body raises, it is stopped
    and nothing of it is left. A browser started by :func:`warm_browser` prints it; when that fails, a
    Chromium started here does.
    """
    pdf_path = html_path.with_name("report.pdf")
    browser = _browser.take()
    job: PdfPrint | _browser.WarmPrint | None = None
    if pdf_wanted():
        job = start_pdf(html_path, pdf_path) if browser is None else _browser.WarmPrint(browser, html_path, pdf_path)
    elif browser is not None:
        browser.close()
    try:
        yield
    except BaseException:
        if job is not None:
            job.cancel()
        raise
    if job is not None and job.wait() is None and isinstance(job, _browser.WarmPrint):
        write_pdf(html_path, pdf_path)  # the warm browser failed: print the usual way (warns if that fails too)


def write_report(folder: Path, summary: dict[str, Any], table: pd.DataFrame, figures: Mapping[str, Image]) -> Path:
    """Write ``report.html`` into ``folder`` and, unless ``SITING_PDF=0``, ``report.pdf`` (waiting for it)."""
    path = write_html(folder, summary, table, figures)
    with printing(path):
        pass
    return path
