"""The workbench's panel figures: headline, per-街道 rows and facilities, from the arrays (no tables built).

The same figures as :attr:`siting.Workbench.result` (sums in another order: equal to ~1e-12, and equal
once rounded, as every output rounds them); a page asks for them after every edit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..engine._status import NONE
from ..engine.targets import gap, target_for

__all__ = ["homes", "state"]

# ``wb`` below is a :class:`siting.workbench.core.Workbench`, typed ``Any``: the workbench imports this module,
# and the layer test counts annotation-only imports as edges too (no circle even on paper).


def state(wb: Any) -> dict[str, Any]:
    """Return the figures a panel shows, from the current arrays (no tables built): fast at any size.

    ``coverage_rate``, ``population_covered``, ``population_total``, ``target``, ``gap_residents``,
    ``facilities`` (``id``, ``name``, ``type``, ``lon``, ``lat``, ``open``, ``added``) and ``subdistricts``
    (``district``, ``subdistrict``, ``population``, ``covered``, ``coverage_rate``, ``target``,
    ``gap_residents``, ``analysed_share``), largest gap first. The same figures as :attr:`result` (sums in
    another order: equal to ~1e-12, and equal once rounded as every output rounds them).
    """
    st, s = wb._state(), wb.settings
    base = wb._base_points()
    groups, labels = _groups(wb)
    f = st.forest
    w = wb._weights()
    status = base.attrs["_status_code"]
    covered = (f.home_dist / s.metres_per_minute <= s.minutes + 1e-9) & (status == 0)
    rated = status != 2
    pop_g = np.bincount(groups, np.where(rated, w, 0.0), minlength=len(labels))
    cov_g = np.bincount(groups, np.where(covered, w, 0.0), minlength=len(labels))
    out_g = np.bincount(groups, np.where(rated, 0.0, w), minlength=len(labels))
    total, got = float(w[rated].sum()), float(w[covered].sum())
    target = wb.target if wb.target is not None else result_target(wb)
    subs = []
    for (district, sub), p_, c_, o_ in zip(labels, pop_g, cov_g, out_g, strict=True):
        if p_ + o_ <= 0:
            continue
        t = wb.target if wb.target is not None else target_for(district)[0]
        g = gap(float(p_), float(c_), t)
        subs.append({"district": district, "subdistrict": sub, "population": float(p_), "covered": float(c_),
                     "coverage_rate": g["coverage_rate"] if p_ > 0 else None, "target": t,
                     "gap_residents": g["gap_residents"], "analysed_share": float(p_ / (p_ + o_))})
    subs.sort(key=lambda r: (-float(r["gap_residents"] or 0), -float(r["population"])))  # type: ignore[arg-type]
    head = gap(total, got, target)
    tab = wb._table
    xy = tab.geometry.get_coordinates()
    facilities = [{"id": fid, "name": str(name), "type": str(kind), "lon": float(x), "lat": float(y),
                   "open": bool(o), "added": bool(a)}
                  for fid, name, kind, x, y, o, a, live in zip(tab["facility_id"], tab.get("name", tab["facility_id"]),
                                                         tab.get("type", pd.Series("", index=tab.index)),
                                                         xy["x"], xy["y"], wb._open, wb._added, wb._live, strict=True)
                  if live]
    return {"coverage_rate": head["coverage_rate"] if total > 0 else None, "population_covered": got,
            "population_total": total, "target": target, "gap_residents": head["gap_residents"],
            "unit": base.attrs["_unit"], "mode": s.mode, "minutes": s.minutes, "speed_kmh": s.speed_kmh,
            "facilities": facilities, "subdistricts": subs, "can_undo": bool(wb._done),
            "can_redo": bool(wb._undone), "edits": len(wb._done)}

def result_target(wb: Any) -> float | None:
    """Return the district target the summary would use (one district analysed), else None."""
    base = wb._base_points()
    rated = base.attrs["_status_code"] != 2
    districts = base["district"][rated].dropna().unique()
    return target_for(districts[0])[0] if len(districts) == 1 else None

def _groups(wb: Any) -> tuple[np.ndarray, list[tuple[str, str]]]:
    base = wb._base_points()
    if "_groups" not in base.attrs:
        keys = pd.MultiIndex.from_arrays([base["district"].fillna(NONE).astype(str),
                                          base["subdistrict"].fillna(NONE).astype(str)])
        codes, uniques = pd.factorize(keys)
        base.attrs["_groups"] = (codes, list(uniques))
    return base.attrs["_groups"]


def homes(wb: Any) -> pd.DataFrame:
    """Return the homes now: ``lon``, ``lat``, ``population``, ``status``, ``walk_min``, ``covered``.

    The rows of :attr:`siting.Workbench.result`'s points, in order, as plain columns (no geometry copied):
    what a map redrawn after every edit needs, in a few milliseconds at any size.
    """
    s, f = wb.settings, wb._state().forest
    base = wb._base_points()
    if "_homes" not in base.attrs:
        xy = base.geometry.get_coordinates()
        base.attrs["_homes"] = pd.DataFrame({"lon": xy["x"].to_numpy(), "lat": xy["y"].to_numpy(),
                                             "population": base["population"].to_numpy(float),
                                             "status": base["status"].astype(str).to_numpy()}, index=base.index)
    out = base.attrs["_homes"].copy()
    walk = f.home_dist / s.metres_per_minute
    out["walk_min"] = walk
    out["covered"] = (walk <= s.minutes + 1e-9) & (base.attrs["_status_code"] == 0)
    return out
