"""Where to build: the table of a site plan's chosen sites, as the report, the workbook and the console show it."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .._labels import GLOSSARY

__all__ = ["SITE_COLUMNS", "clip", "format_siting", "pad", "serves", "site_name", "sites_table"]

#: Columns of the chosen-sites table (glossary: :data:`siting._labels.GLOSSARY`).
SITE_COLUMNS = ("order", "label", "subdistrict", "serves", "lon", "lat", "assigned", "gain")


def site_name(row: pd.Series) -> str:
    """Return the readable name of a chosen site: its ``label``, else its name, else its id.

    A label reads "候选 G50 · 枫林路街道 · 近 肇嘉浜路" (name or short id, 街道, nearest street).
    """
    for column in ("label", "name", "candidate_id"):
        value = row.get(column)
        if value is not None and not (isinstance(value, float) and np.isnan(value)) and str(value):
            return str(value)
    return "—"


def serves(chosen: gpd.GeoDataFrame, points: gpd.GeoDataFrame | None) -> pd.Series:
    """Return the 街道 whose covered residents each chosen site serves most (nearest facility after the plan).

    ``points``: the "after" coverage points (``facility_id``, ``covered``, ``population``, ``subdistrict``);
    None or a site that is nobody's nearest gives the site's own 街道.
    """
    own = chosen["subdistrict"] if "subdistrict" in chosen else pd.Series([None] * len(chosen), index=chosen.index)
    if points is None or not {"facility_id", "covered", "population", "subdistrict"} <= set(points.columns):
        return own
    served = points[points["covered"].astype(bool)]
    weight = served.groupby([served["facility_id"].astype(str), "subdistrict"])["population"].sum()
    best = {fid: sub for (fid, sub) in weight.groupby(level=0).idxmax().to_numpy()} if len(weight) else {}
    ids = chosen["candidate_id"].astype(str)
    return pd.Series([best.get(i, o) for i, o in zip(ids, own, strict=True)], index=chosen.index)


def sites_table(chosen: gpd.GeoDataFrame, points: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """One row per chosen site, in order of choice: :data:`SITE_COLUMNS`.

    ``label`` (name, 街道 and nearest street), ``subdistrict`` (where it stands), ``serves`` (:func:`serves`),
    ``lon``/``lat`` (WGS84, 6 decimals), ``assigned`` (residents it adds in order of choice: the first site's
    all, the next ones' only those not reached before) and ``gain`` (residents it would add on its own).
    """
    wgs = chosen.to_crs(4326) if chosen.crs is not None else chosen
    out = pd.DataFrame({
        "order": chosen["order"].astype(int).to_numpy(),
        "label": [site_name(r) for _, r in chosen.iterrows()],
        "subdistrict": chosen["subdistrict"].to_numpy(dtype=object) if "subdistrict" in chosen else None,
        "serves": serves(chosen, points).to_numpy(dtype=object),
        "lon": np.round(wgs.geometry.x.to_numpy(float), 6), "lat": np.round(wgs.geometry.y.to_numpy(float), 6),
        "assigned": np.round(chosen["assigned"].to_numpy(float)).astype("int64"),
        "gain": np.round(chosen["gain"].to_numpy(float)).astype("int64"),
    })
    return out.sort_values("order").reset_index(drop=True)


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal columns (CJK characters take two), "…" marking a cut."""
    used, out = 0, list[str]()
    for ch in text:
        used += 2 if ord(ch) > 0x2E80 else 1
        if used > width - 1:
            return "".join(out) + "…"
        out.append(ch)
    return text


def pad(text: str, width: int) -> str:
    """``text`` left-aligned in ``width`` terminal columns (CJK characters take two)."""
    used = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
    return text + " " * max(width - used, 1)


def format_siting(plan: Any) -> str:
    """Format the chosen sites, before → after per 街道, and exact vs greedy, for the terminal."""
    s = plan.summary
    unit = "residents" if plan.result.summary.unit == "residents" else "locations"
    chosen = plan.chosen
    sites = sites_table(chosen, plan.after.points)
    added, alone = GLOSSARY["assigned"][1], GLOSSARY["gain"][1]
    lines = [f"Where to build, in order of choice (added: {added}; alone: {alone}):",
             f"{'#':>3}  {pad('site', 40)}{pad('serves 街道', 14)}{'added':>9}{'alone':>9}   lon, lat"]
    for (_, r), over in zip(sites.iterrows(), chosen["overloaded"].to_numpy(), strict=True):
        sub = "—" if r["serves"] is None or pd.isna(r["serves"]) else str(r["serves"])
        lines.append(f"{int(r['order']):>3}  {pad(clip(str(r['label']), 38), 40)}{pad(sub, 14)}"
                     f"{r['assigned']:>9,.0f}{r['gain']:>9,.0f}   {r['lon']:.6f}, {r['lat']:.6f}"
                     + ("  overloaded" if over else ""))
    lines += ["", f"{pad('街道 / subdistrict', 16)}{unit:>11}{'before':>9}{'after':>9}{'target':>8}{'new':>5}"]
    for _, r in plan.before_after.iterrows():
        if not r["population"] > 0:
            continue
        tgt = "—" if pd.isna(r["target"]) else f"{r['target']:.0%}"
        lines.append(f"{pad(str(r['subdistrict']), 16)}{r['population']:>11,.0f}{r['rate_before']:>9.1%}"
                     f"{r['rate_after']:>9.1%}{tgt:>8}{int(r['new_sites']):>5}")
    lines.append("")
    lines.append(f"All: {s['rate_before']:.1%} → {s['rate_after']:.1%} of {s['population_total']:,.0f} {unit} "
                 f"with {s['sites']} new site(s). {s['message']}")
    for label, d in (("Exact (HiGHS)", s["exact"]), ("Greedy", s["greedy"])):
        gap = "" if d["mip_gap"] is None else f", gap {d['mip_gap']:.3%}"
        lines.append(f"{label:<14} {d['sites']} sites, {d['covered']:,.0f} covered ({d['rate']:.1%}), "
                     f"{d['status']}{gap}, {d['seconds']:.2f} s")
    c = s["candidates"]
    excl = ", ".join(f"{n} {r}" for r, n in c["excluded"].items())
    lines.append(f"Candidates: {c['total']} ({c['usable']} usable{'; ' + excl + ' excluded' if excl else ''}); "
                 f"{c['adding_residents']} would add residents; reach sets {s['reach_seconds']:.2f} s")
    if not s["feasible"]:
        lines.append(f"Not feasible: {s['message']}")
    return "\n".join(lines)
