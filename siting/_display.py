"""Private: how results show in a notebook (``_repr_html_``) and at the prompt (a one-line ``repr``).

One function pair per result class (:class:`~siting.engine.coverage.CoverageResult`,
:class:`~siting.plan.sites.SitePlan`, :class:`~siting.scenarios.results.Comparison`,
:class:`~siting.engine.access.AccessResult`), read from the objects' public attributes only, so this leaf
module imports no stage. The HTML holds the headline (rate, target, gap), the per-街道 table (largest gap
first, at most :data:`MAX_ROWS` rows) and the notes; every text that came from the inputs (names of
街道, facilities, scenarios, notes) is escaped. The plain ``repr`` stays under :data:`MAX_REPR` characters:
numbers only, no names.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

#: Rows of a table shown in a notebook (the rest are counted in a last line).
MAX_ROWS = 25
#: Upper bound on the length of a result's plain ``repr``.
MAX_REPR = 300
_STYLE = ("<style>.siting-result table{border-collapse:collapse;font-size:12px}"
          ".siting-result th,.siting-result td{padding:2px 8px;text-align:right;border-bottom:1px solid #ddd}"
          ".siting-result td.t,.siting-result th.t{text-align:left}"
          ".siting-result .head{font-size:14px;margin:4px 0}.siting-result .note{color:#666;font-size:11px}</style>")

#: Column → (header, format) of the per-街道 tables; text columns are left-aligned.
COLUMNS: dict[str, tuple[str, str]] = {
    "district": ("区 district", "text"), "subdistrict": ("街道 subdistrict", "text"), "region": ("region", "text"),
    "population": ("residents", "int"), "covered": ("covered", "int"), "coverage_rate": ("rate", "pct"),
    "target": ("target", "pct"), "gap_pp": ("gap (pp)", "pp"), "gap_residents": ("gap (residents)", "int"),
    "covered_before": ("covered before", "int"), "covered_after": ("covered after", "int"),
    "rate_before": ("rate before", "pct"), "rate_after": ("rate after", "pct"), "new_sites": ("new sites", "int"),
    "supply_per_10k": ("supply / 10k", "num"), "gps_per_10k": ("GPs / 10k", "num"), "gps_needed": ("GPs needed", "num"),
    "median_min": ("median min", "num"), "scenario": ("scenario 情景", "text"), "mode": ("mode", "text"),
    "minutes": ("min", "num"), "facilities": ("facilities", "int"), "delta_covered": ("Δ covered", "signed"),
    "delta_pp": ("Δ pp", "signedpp"), "order": ("#", "int"), "candidate_id": ("candidate", "text"),
    "name": ("name", "text"), "gain": ("gain alone", "int"), "assigned": ("assigned", "int"),
    "area": ("area", "text"), "level": ("level", "text"),
}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value: Any, kind: str) -> str:
    """Return ``value`` as shown: ``pct`` 87.3 %, ``int`` 12,345, ``pp`` 2.7 pp, ``num`` 1.23; missing → –."""
    try:
        if _missing(value) or (kind != "text" and not math.isfinite(float(value))):
            return "–"
    except (TypeError, ValueError):
        return str(value)
    if kind == "pct":
        return f"{100 * float(value):.1f} %"
    if kind == "int":
        return f"{float(value):,.0f}"
    if kind == "pp":
        return f"{float(value):.1f} pp"
    if kind == "signed":
        return f"{float(value):+,.0f}"
    if kind == "signedpp":
        return f"{float(value):+.1f}"
    if kind == "num":
        return f"{float(value):,.2f}"
    return str(value)


def table_html(frame: Any, columns: Sequence[str], *, sort_by: str | None = None, caption: str = "") -> str:
    """Return ``frame``'s ``columns`` (those present) as an escaped HTML table, at most :data:`MAX_ROWS` rows."""
    if frame is None or len(frame) == 0:
        return ""
    cols = [c for c in columns if c in frame.columns]
    if sort_by in frame.columns:
        frame = frame.sort_values(sort_by, ascending=False, na_position="last", kind="stable")
    shown = frame.head(MAX_ROWS)
    kinds = [COLUMNS.get(c, (c, "num"))[1] for c in cols]
    head = "".join(f'<th class="{"t" if k == "text" else "n"}">{html.escape(COLUMNS.get(c, (c, ""))[0])}</th>'
                   for c, k in zip(cols, kinds, strict=True))
    rows = []
    for record in shown[cols].itertuples(index=False, name=None):
        cells = "".join(f'<td class="{"t" if k == "text" else "n"}">{html.escape(fmt(v, k))}</td>'
                        for v, k in zip(record, kinds, strict=True))
        rows.append(f"<tr>{cells}</tr>")
    more = len(frame) - len(shown)
    if more > 0:
        rows.append(f'<tr><td class="t" colspan="{len(cols)}">… {more:,} more rows</td></tr>')
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def card(title: str, headline: Sequence[str], tables: Sequence[str] = (), notes: Sequence[str] = ()) -> str:
    """Return the result's HTML block: escaped title, headline lines and notes; ``tables`` already built."""
    parts = [f'<div class="siting-result">{_STYLE}<b>{html.escape(title)}</b>']
    parts += [f'<div class="head">{html.escape(line)}</div>' for line in headline if line]
    parts += [t for t in tables if t]
    parts += [f'<div class="note">{html.escape(str(n))}</div>' for n in notes]
    return "".join(parts) + "</div>"


def short(text: str) -> str:
    """Return ``text`` cut to :data:`MAX_REPR` characters."""
    return text if len(text) < MAX_REPR else text[: MAX_REPR - 2] + "…>"


# ------------------------------------------------------------------ coverage
def _target_line(rate: float, target: float | None, gap_pp: float | None, gap_residents: float | None,
                 unit: str) -> str:
    if target is None:
        return "no target given"
    if gap_residents is not None and gap_residents <= 0:
        return f"target {fmt(target, 'pct')}: met"
    return (f"target {fmt(target, 'pct')}: gap {fmt(gap_pp, 'pp')} = {fmt(gap_residents, 'int')} {unit} "
            f"(rate {fmt(rate, 'pct')})")


def coverage_repr(result: Any) -> str:
    """One line: rate of residents within the threshold, target and gap, counts (no names)."""
    s = result.summary
    target = "" if s.target is None else f", target {fmt(s.target, 'pct')}, gap {fmt(s.gap_residents, 'int')}"
    return short(f"<CoverageResult {fmt(s.coverage_rate, 'pct')} of {fmt(s.population_total, 'int')} {s.unit} "
                 f"within {s.minutes:g} min ({s.mode}, {s.speed_kmh:g} km/h){target}; "
                 f"{len(result.by_subdistrict)} 街道, {s.n_facilities} facilities>")


def coverage_html(result: Any) -> str:
    """Show the coverage headline, its target and gap, and the per-街道 table, largest gap first."""
    s = result.summary
    headline = [
        f"{fmt(s.coverage_rate, 'pct')} of {fmt(s.population_total, 'int')} {s.unit} within {s.minutes:g} min "
        f"({s.mode}, {s.speed_kmh:g} km/h) of {s.n_facilities} facilities",
        _target_line(s.coverage_rate, s.target, s.gap_pp, s.gap_residents, s.unit),
    ]
    cols = ["district", "subdistrict", "population", "covered", "coverage_rate", "target", "gap_pp", "gap_residents"]
    table = table_html(result.by_subdistrict, cols, sort_by="gap_residents", caption="per 街道, largest gap first")
    return card("Coverage 覆盖", headline, [table], list(s.notes or ()))


# ------------------------------------------------------------------ site plans
def siteplan_repr(plan: Any) -> str:
    """One line: the model, sites chosen, rate before → after, status."""
    sol = plan.solution
    before = plan.result.summary.coverage_rate
    return short(f"<SitePlan {plan.model}: {sol.k} site(s), {fmt(before, 'pct')} → {fmt(sol.coverage_rate, 'pct')} "
                 f"({sol.status}), {len(plan.candidates)} candidates>")


def siteplan_html(plan: Any) -> str:
    """Show the plan's headline, the chosen sites and the per-街道 before/after table."""
    sol, s = plan.solution, plan.result.summary
    target = plan.params.get("target")
    total = float(plan.problem.total)
    gap = None if target is None else max(0.0, target * total - float(sol.objective))
    headline = [
        f"{sol.k} new site(s): {fmt(s.coverage_rate, 'pct')} → {fmt(sol.coverage_rate, 'pct')} of "
        f"{fmt(total, 'int')} {s.unit} ({sol.status})",
        _target_line(sol.coverage_rate, target, None if target is None else 100 * (target - sol.coverage_rate),
                     gap, s.unit),
    ]
    chosen = table_html(plan.chosen, ["order", "candidate_id", "name", "subdistrict", "gain", "assigned"],
                        caption="chosen sites, in build order")
    per = plan.before_after.assign(gap_residents=lambda t: t["covered_after"] - t["covered_before"])
    ba = table_html(per, ["district", "subdistrict", "population", "covered_before", "covered_after", "rate_before",
                          "rate_after", "target", "new_sites"], sort_by="gap_residents",
                    caption="per 街道, most residents added first")
    return card("Site plan 选址", headline, [chosen, ba], [str(sol.message or "")])


# ------------------------------------------------------------------ comparisons
def comparison_repr(comp: Any) -> str:
    """One line: the scenarios counted, the baseline rate and the best scenario's change."""
    ov = comp.overview
    best = ov.iloc[int(ov["delta_pp"].to_numpy().argmax())] if len(ov) else None
    tail = "" if best is None else f", best {fmt(best['delta_pp'], 'signedpp')} pp"
    return short(f"<Comparison {len(comp.runs) - 1} scenario(s) against the baseline "
                 f"{fmt(ov['coverage_rate'].iloc[0], 'pct') if len(ov) else '–'}{tail}>")


def comparison_html(comp: Any) -> str:
    """One row per scenario (rate, change, gap), then the districts and 街道 of every scenario."""
    ov = comp.overview
    table = table_html(ov, ["scenario", "mode", "minutes", "facilities", "coverage_rate", "delta_pp", "delta_covered",
                            "target", "gap_residents"], caption="scenarios 情景")
    wide = comp.table
    areas = table_html(wide[wide["level"] == "subdistrict"] if "level" in wide else wide,
                       ["scenario", "area", "population", "covered", "coverage_rate", "delta_covered"],
                       caption="per 街道 and scenario") if len(wide) else ""
    return card(f"Comparison 情景对比: {comp.name}", [comparison_repr(comp).strip("<>")], [table, areas])


# ------------------------------------------------------------------ access
def access_repr(res: Any) -> str:
    """One line: the method, supply per 10,000 residents against the 4.5 GPs line, GPs needed."""
    s = res.summary
    return short(f"<AccessResult {s.get('method')}: {fmt(s.get('gps_per_10k'), 'num')} GPs per 10k "
                 f"(line {fmt(s.get('gp_target_per_10k'), 'num')}), {fmt(s.get('gps_needed'), 'num')} GPs needed, "
                 f"{len(res.by_subdistrict)} 街道>")


def access_html(res: Any) -> str:
    """Supply headline, the 4.5 GPs per 10,000 line, and the per-街道 table (most GPs needed first)."""
    s = res.summary
    headline = [
        f"{s.get('method')}: {fmt(s.get('gps_per_10k'), 'num')} GPs per 10,000 residents within "
        f"{fmt(s.get('catchment_min'), 'num')} min ({s.get('mode')})",
        f"line {fmt(s.get('gp_target_per_10k'), 'num')} per 10,000: {fmt(s.get('gps_needed'), 'num')} GPs needed; "
        f"{fmt(s.get('coverage_rate'), 'pct')} within 15 min",
    ]
    cols = ["district", "subdistrict", "population", "coverage_rate", "supply_per_10k", "gps_per_10k", "gps_needed",
            "median_min"]
    table = table_html(res.by_subdistrict, cols, sort_by="gps_needed", caption="per 街道, most GPs needed first")
    return card("Access 可达性", headline, [table], list(s.get("notes") or ()))
