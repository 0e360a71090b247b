"""Floating catchment arithmetic (2SFCA, E2SFCA) on sparse reach sets, and facility capacity defaults.

Only numpy/pandas: the reach set is three arrays (facility index, place index, minutes) holding the
pairs within the catchment, never a dense places × facilities matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validate import RANGES
from ..errors import ColumnError, SitingError

#: Distance-decay functions.
#: ``none``: the classic 2SFCA (Luo & Wang 2003, Environment and Planning B 30(6):865–884): weight 1
#: inside the catchment.
#: ``stepped``: E2SFCA (Luo & Qi 2009, Health & Place 15(4):1100–1107): three travel-time zones with
#: weights 1.00 / 0.68 / 0.22. Luo & Qi used zones of 0–10 / 10–20 / 20–30 min of a 30-min driving
#: catchment; here the zones are the same thirds of the walking catchment (0–5 / 5–10 / 10–15 min).
#: ``gaussian``: Gaussian-based 2SFCA (Dai 2010, Health & Place 16(5):1038–1052):
#: G(t) = (exp(-½ (t/t0)²) − exp(-½)) / (1 − exp(-½)) for t ≤ t0, 1 at the door, 0 at the catchment edge.
DECAYS = ("none", "gaussian", "stepped")
STEPPED_WEIGHTS = (1.00, 0.68, 0.22)

#: Capacity columns read from a facility file (first name present wins), per attribute.
CAPACITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "gps": ("gps", "全科医生数", "全科医生", "gp", "n_gps"),
    "floor_area_m2": ("floor_area_m2", "面积", "建筑面积", "业务用房面积", "floor_area"),
    "standardised": ("standardised", "standardized", "标准化"),
}
#: Defaults per facility type when a facility has no figure, with their source. The national minimum
#: standards (卫生部、国家中医药管理局《城市社区卫生服务中心基本标准》《城市社区卫生服务站基本标准》, 卫医发
#: 〔2006〕240号): a centre has at least 6 GPs (全科医学 clinical or TCM physicians) and 1,000 m²; a station
#: at least 2 GPs and 150 m². 村卫生室 (《村卫生室管理办法（试行）》, 2014): at least 1 doctor and 60 m².
#: A 分中心 is given the station minimum (no national standard of its own: an assumption). Kiosks (健康驿站,
#: self-service) and hospitals (not primary care) add no GPs. Minimums understate real Shanghai centres,
#: which usually employ far more GPs: a result on defaults is a lower bound, and outputs say so.
DEFAULT_CAPACITY: dict[str, dict[str, float]] = {
    "center": {"gps": 6.0, "floor_area_m2": 1000.0},
    "subcenter": {"gps": 2.0, "floor_area_m2": 150.0},
    "station": {"gps": 2.0, "floor_area_m2": 150.0},
    "village_clinic": {"gps": 1.0, "floor_area_m2": 60.0},
    "kiosk": {"gps": 0.0, "floor_area_m2": 0.0},
    "hospital": {"gps": 0.0, "floor_area_m2": 0.0},
    "other": {"gps": 0.0, "floor_area_m2": 0.0},
}
DEFAULT_SOURCE = ("national minimum standard (卫医发〔2006〕240号; 村卫生室 2014); 分中心 as a station "
                  "(assumption); kiosks, hospitals and others 0")


def decay_weights(minutes: np.ndarray, catchment: float, decay: str = "none") -> np.ndarray:
    """Weights of travel times ``minutes`` (all ≤ ``catchment``) under one of :data:`DECAYS`."""
    t = np.asarray(minutes, float)
    if decay == "none":
        return np.ones_like(t)
    if decay == "stepped":
        zone = np.clip(np.ceil(3.0 * t / catchment - 1e-12) - 1, 0, 2).astype(int)  # (0, T/3] is zone 1
        return np.asarray(STEPPED_WEIGHTS)[zone]
    if decay == "gaussian":
        edge = np.exp(-0.5)
        return (np.exp(-0.5 * (t / catchment) ** 2) - edge) / (1.0 - edge)
    raise SitingError(f"unknown decay {decay!r}; choose one of {', '.join(DECAYS)}")


@dataclass(frozen=True)
class Catchments:
    """Result of :func:`two_step`: supply per resident, per facility and per place.

    ``ratio`` is the supply per resident of each facility (NaN when it reaches nobody), ``access`` the
    supply per resident at each place (Σ of reachable ratios, weighted).
    """

    ratio: np.ndarray
    access: np.ndarray
    demand_reached: np.ndarray


def two_step(fac: np.ndarray, place: np.ndarray, minutes: np.ndarray, supply: np.ndarray, demand: np.ndarray,
             catchment: float, decay: str = "none") -> Catchments:
    """Two-step floating catchment on a sparse reach set.

    Step 1: R_j = S_j / Σ_i P_i W(t_ij) over the places i within ``catchment`` of facility j.
    Step 2: A_i = Σ_j R_j W(t_ij) over the facilities j within reach of place i.
    With the same weights in both steps supply is conserved: Σ_i P_i A_i = Σ_j S_j over the facilities
    that reach anyone.

    Parameters
    ----------
    fac, place, minutes
        The reach set: one entry per (facility, place) pair within the catchment.
    supply, demand
        Capacity per facility (e.g. GPs), residents per place (NaN counts as 0).
    """
    keep = np.asarray(minutes, float) <= catchment + 1e-9
    fac, place, t = np.asarray(fac)[keep], np.asarray(place)[keep], np.asarray(minutes, float)[keep]
    w = decay_weights(t, catchment, decay)
    pop = np.nan_to_num(np.asarray(demand, float))
    reached = np.bincount(fac, weights=pop[place] * w, minlength=len(supply))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(reached > 0, np.asarray(supply, float) / reached, np.nan)
    contrib = np.nan_to_num(ratio[fac]) * w
    access = np.bincount(place, weights=contrib, minlength=len(pop))
    return Catchments(ratio, access, reached)


def read_capacity(facilities: pd.DataFrame) -> pd.DataFrame:
    """Return the capacity per facility.

    Columns: ``gps``, ``floor_area_m2`` (numbers), ``standardised`` (bool or None), and
    ``capacity_source`` (``file`` or ``default``; which attributes were defaulted is in ``defaulted``).

    Figures come from the first :data:`CAPACITY_COLUMNS` name present; a missing value or column takes
    :data:`DEFAULT_CAPACITY` for the facility's ``type``. Negative or non-numeric figures raise ColumnError.
    """
    types = facilities["type"].astype(str) if "type" in facilities else pd.Series("center", index=facilities.index)
    lower = {str(c).strip().lower(): c for c in facilities.columns}
    out = pd.DataFrame(index=facilities.index)
    defaulted = pd.Series([[] for _ in range(len(facilities))], index=facilities.index, dtype=object)
    for attr in ("gps", "floor_area_m2"):
        col = next((lower[n.lower()] for n in CAPACITY_COLUMNS[attr] if n.lower() in lower), None)
        given = pd.to_numeric(facilities[col], errors="coerce") if col is not None else pd.Series(
            np.nan, index=facilities.index)
        if col is not None:
            top = RANGES[attr].high  # the span every path checks (siting._validate.RANGES)
            bad = facilities[col].notna() & (given.isna() | (given < 0) | (given > top))
            if bad.any():
                rows = [int(i) for i in np.flatnonzero(bad.to_numpy())[:5] + 1]
                raise ColumnError(f"facilities: column {col!r} has non-numeric, negative or too large "
                                  f"(over {top:,.0f}) values at facility row(s) {rows}: "
                                  f"{facilities.loc[bad, col].head(5).tolist()}")
        default = types.map(lambda k, a=attr: DEFAULT_CAPACITY.get(k, DEFAULT_CAPACITY["other"])[a])
        out[attr] = given.fillna(default).astype(float)
        for i in np.flatnonzero(given.isna().to_numpy()):
            defaulted.iloc[i] = [*defaulted.iloc[i], attr]
    col = next((lower[n.lower()] for n in CAPACITY_COLUMNS["standardised"] if n.lower() in lower), None)
    truthy = {"1", "true", "yes", "y", "是", "已标准化", "标准化"}
    out["standardised"] = (facilities[col].map(lambda v: None if pd.isna(v) else str(v).strip().lower() in truthy)
                           if col is not None else None)
    out["capacity_source"] = ["default" if d else "file" for d in defaulted]
    out["defaulted"] = [",".join(d) for d in defaulted]
    return out


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Return the smallest value whose cumulative weight reaches ``q`` of the total (NaN when no weight)."""
    v, w = np.asarray(values, float), np.nan_to_num(np.asarray(weights, float))
    keep = w > 0
    if not keep.any():
        return float("nan")
    order = np.argsort(v[keep], kind="stable")
    v, w = v[keep][order], w[keep][order]
    cum = np.cumsum(w)
    return float(v[np.searchsorted(cum, q * cum[-1] - 1e-9 * cum[-1])])
