"""``report.html``: one printable A4 page, and ``report.pdf`` from it.

The page holds the headline, 街道 chart, static map, 街道 table, sources and limits; the PDF is printed
with headless Chromium when it is installed.

The print runs as a child process (:func:`start_pdf`) while the caller writes its other files, and is
waited for at the end (:meth:`PdfPrint.wait`); Chromium writes to a hidden ``.part`` name that becomes
``report.pdf`` only when the print succeeded, and it is killed with siting (Linux: ``PR_SET_PDEATHSIG``).
Set the environment variable ``SITING_PDF=0`` to skip the PDF (the test suite does, except one test).
"""

from __future__ import annotations

import base64
import ctypes
import html
import os
import shutil
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
from . import _browser
from .figures import png_bytes

__all__ = ["CHROMIUM", "PdfPrint", "chromium", "pdf_wanted", "printing", "report_html", "start_pdf", "warm_browser",
           "write_html", "write_pdf", "write_report"]

#: Where Chromium is looked for (first found), then ``chromium`` / ``chromium-browser`` / ``google-chrome`` on PATH.
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
#: Flags of every Chromium siting starts (a browser started early for a print: :mod:`siting.outputs._browser`).
BROWSER_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run")
#: Flags of the one-shot ``--print-to-pdf`` print (with the protocol, no header/footer is a print option: the
#: flag would crash its page).
CHROMIUM_ARGS = (*BROWSER_ARGS, "--no-pdf-header-footer")

CSS = """
@page { size: A4; margin: 9mm 10mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei",
       "PingFang SC", sans-serif; font-size: 8.5pt; color: #222; margin: 0; }
.page { width: 190mm; height: 277mm; overflow: hidden; display: flex; flex-direction: column; gap: 2.5mm; }
h1 { font-size: 15pt; margin: 0; }
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
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _pct(x: Any) -> str:
    return "—" if x is None or pd.isna(x) else f"{100 * float(x):.1f} %"


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
        boxes += [("目标 Target", _pct(target), html.escape(str(s.get("target_source") or ""))[:60]),
                  ("缺口 Gap", f"{float(s.get('gap_pp') or 0):.1f} pp", f"{_int(s.get('gap_residents'))} {unit}")]
    within = s.get("share_within") or {}
    if within:
        boxes.append(("步行时间 Walking time", f"{float(s['walk_min_mean']):.1f} min" if s.get("walk_min_mean")
                      is not None else "—", "平均 mean · 中位 median " + (
                          f"{float(s['walk_min_median']):.1f} min" if s.get("walk_min_median") is not None else "—")
                      + "<br>" + " · ".join(f"≤{k}′ {_pct(v)}" for k, v in within.items())))
    if s.get("sites") is not None:
        boxes.insert(1, ("新站点 New sites", str(s["sites"]),
                         f"{_pct(s.get('rate_before'))} → {_pct(s.get('rate_after'))}"))
    return '<div class="heads">' + "".join(
        f'<div class="head {cls if i == 0 else ""}">{t}<b>{v}</b>{d}</div>' for i, (t, v, d) in enumerate(boxes)
    ) + "</div>"


def _table(table: pd.DataFrame) -> str:
    rows = sort_by_gap(table)
    head = ("<tr><th>街道 Subdistrict</th><th>居民 Residents</th><th>覆盖 Covered</th><th>覆盖率 Rate</th>"
            "<th>目标 Target</th><th>缺口 Gap</th><th>路网外 Outside extract</th></tr>")
    body = []
    for _, r in rows.iterrows():
        empty = not r["population"] > 0
        body.append(f'<tr class="{"empty" if empty else ""}"><td>{html.escape(str(r["subdistrict"]))}</td>'
                    f"<td>{_int(r['population'])}</td><td>{_int(r['covered'])}</td>"
                    f"<td>{_pct(r['coverage_rate'])}</td><td>{_pct(r.get('target'))}</td>"
                    f"<td>{_int(r.get('gap_residents'))}</td><td>{_int(r.get('outside_population'))}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


def report_html(summary: dict[str, Any], table: pd.DataFrame, figures: Mapping[str, Image]) -> str:
    """Return the one-page report as a self-contained HTML string.

    Title, headline boxes, the 街道 and walking-time charts beside the print map, the 街道 table, sources
    and limits; ``figures`` (keys ``subdistricts``, ``walk_times``, ``map``) are embedded as PNG: bytes
    as they are (no second rendering), a Figure rendered at 150 dpi.
    """
    s = summary
    note = _labels.extent_note(s, table)
    sources = "".join(f"<li>{html.escape(line)}</li>" for line in _labels.source_lines(s))
    limits = list(s.get("notes") or [])
    if s.get("population_outside_network"):
        limits.append(f"{_int(s['population_outside_network'])} residents outside the street extract are left out "
                      "of the rate (路网范围外居民不计入覆盖率)")
    limit_items = "".join(f"<li>{html.escape(str(x))}</li>" for x in limits)
    title = _labels.title(s)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{CSS}</style></head>
<body><div class="page">
<div><h1>{html.escape(title)}</h1><div class="sub">{html.escape(_labels.subtitle(s))}</div>
{f'<div class="partial">⚠ {html.escape(note)}</div>' if note else ''}</div>
{_heads(s)}
<div class="row"><div class="col">{_img(figures.get("subdistricts"), "coverage by 街道")}
{_img(figures.get("walk_times"), "walking times")}</div>{_img(figures.get("map"), "map")}</div>
{_table(table)}
<div class="foot"><b>数据来源 Data sources</b><ul>{sources}</ul>
{f'<b>局限 Limits</b><ul>{limit_items}</ul>' if limit_items else ''}</div>
</div></body></html>
"""


def chromium() -> str | None:
    """Return the path of a Chromium/Chrome executable, or None."""
    for path in CHROMIUM:
        if Path(path).is_file():
            return path
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


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
        warnings.warn("report.pdf skipped: Chromium not found (apt-get install chromium); open report.html and "
                      "print it to PDF", stacklevel=2)
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


def write_html(folder: Path, summary: dict[str, Any], table: pd.DataFrame, figures: Mapping[str, Image]) -> Path:
    """Write ``report.html`` into ``folder`` (see :func:`report_html`); return its path."""
    path = folder / "report.html"
    path.write_text(report_html(summary, table, figures), encoding="utf-8")
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
