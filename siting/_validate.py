"""Small input checks shared by every layer (a leaf: it imports only `siting.errors`).

One place for the checks that were written twice: shares between 0 and 1, input files that exist,
matching keys of district / 街道 names, closest-name suggestions for mistyped names and ids, and
candidate-id lookups.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import InputFileError, ModelError, SitingError

__all__ = [
    "EXCEL", "MAX_GENERATED", "RANGES", "Span", "check_file", "check_generated", "check_rate", "check_site_options",
    "check_value", "closest", "district_key", "positions_of", "range_problem", "sheet_path", "subdistrict_key",
    "suggest",
]


#: Shanghai's 16 districts by pinyin, so ``--district Xuhui`` works (lower-case keys).
SHANGHAI_PINYIN = {
    "huangpu": "黄浦", "xuhui": "徐汇", "changning": "长宁", "jing'an": "静安", "jingan": "静安",
    "putuo": "普陀", "hongkou": "虹口", "yangpu": "杨浦", "minhang": "闵行", "baoshan": "宝山",
    "jiading": "嘉定", "pudong": "浦东", "jinshan": "金山", "songjiang": "松江", "qingpu": "青浦",
    "fengxian": "奉贤", "chongming": "崇明",
}
#: Former districts merged into current ones (闸北 → 静安 2015, 卢湾 → 黄浦 2011, 南市 → 黄浦 2000,
#: 南汇 → 浦东 2009), so old labels match current census rows.
FORMER_DISTRICTS = {"闸北": "静安", "卢湾": "黄浦", "南市": "黄浦", "南汇": "浦东"}


def _missing(value: object) -> bool:
    """None, NaN or pandas' NA."""
    try:
        return value is None or bool(value != value)
    except TypeError:  # pd.NA refuses bool()
        return True


def check_file(path: str | Path, what: str) -> Path:
    """Return ``path`` as a Path, or raise InputFileError when it does not exist or is empty (naming ``what``)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{what} file not found: {path}")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path}: the {what} file is empty")
    return path


#: Excel workbooks, whose sheet a table reader picks with ``book.xlsx#Sheet`` (as :mod:`siting.io._tables`).
EXCEL = (".xlsx", ".xls")


def sheet_path(path: str | Path | None, sheet: str | None) -> str | Path | None:
    """Return ``path`` with ``sheet`` picked (``book.xlsx#Sheet2``, what the table readers take); no sheet: ``path``.

    Raises
    ------
    InputFileError
        A ``sheet`` without an Excel workbook as ``path`` (``facility_sheet`` names it: the one sheet option).
    """
    if sheet is None:
        return path
    if path is None or Path(path).suffix.lower() not in EXCEL:
        raise InputFileError(f"facility_sheet={str(sheet)!r} needs an Excel workbook (.xlsx/.xls) as `facilities`; "
                             f"got {path or 'none'}")
    return Path(f"{path}#{sheet}")


def district_key(name: object) -> str | None:
    """Return the matching key of a Shanghai district name: 徐汇区 / 徐汇 / Xuhui / Xuhui District → 徐汇.

    Removes 新区 / 区 / 县 and English "District", maps pinyin to Chinese and former districts to
    their current one (闸北 → 静安). Other names are only stripped, so any city's names still match.
    """
    if _missing(name):
        return None
    return _district_key(str(name).strip())


@lru_cache(maxsize=4096)
def _district_key(name: str) -> str:
    """Return :func:`district_key` of a stripped name (cached: a run maps ~25,000 rows of a few names)."""
    text = re.sub(r"\s+(new\s+)?district$", "", name, flags=re.I)
    text = SHANGHAI_PINYIN.get(text.lower(), text)
    text = re.sub(r"(新区|区|县)$", "", text) or text
    return FORMER_DISTRICTS.get(text, text)


def subdistrict_key(name: object) -> str | None:
    """Return the matching key of a 街道/镇 name: whitespace and a trailing 办事处 removed."""
    if _missing(name):
        return None
    return re.sub(r"办事处$", "", re.sub(r"\s+", "", str(name)))


def check_rate(rate: float, what: str, error: type[SitingError] = ModelError) -> float:
    """Return ``rate`` as a float after checking it is a share between 0 and 1.

    Parameters
    ----------
    rate : float
        The share to check (90 % is ``0.9``).
    what : str
        The parameter's name, for the message.
    error : type of SitingError
        The exception raised when the share is out of range.

    Returns
    -------
    float
        ``rate`` itself.
    """
    if not 0.0 <= float(rate) <= 1.0:
        hint = f" — did you mean {rate / 100:g}?" if 1 < rate <= 100 else ""
        raise error(f"{what} is a share between 0 and 1, got {rate!r}{hint}")
    return float(rate)


def check_site_options(
    *, k: int | None = None, target: float | None = None, per_subdistrict: bool = False, quotas: object = None,
    capacity: float | None = None, time_limit: float = 60.0, spacing_m: float = 200.0, min_distance_m: float = 0.0,
) -> None:
    """Check the plain options of a siting run against each other, before any input is read.

    ``quotas`` counts only as given or not (a mapping or a file). Candidates, ids and quota names
    are checked later, against the data.

    Raises
    ------
    ModelError
        A number outside its span of :data:`RANGES` (``k``, ``target``, ``capacity``, ``time_limit``,
        ``spacing_m``, ``min_distance_m``), ``k``/``quotas`` together with a ``target``, or
        ``per_subdistrict`` without a ``target``.
    """
    if k is not None:
        check_value("k", k, ModelError)
    if target is not None:
        check_value("target", target, ModelError)
        if k is not None or quotas:
            raise ModelError("give `k` / `quotas` (the best k sites) or a `target` (the fewest sites reaching it), "
                             "not both")
    elif per_subdistrict:
        raise ModelError("`per_subdistrict` needs a `target` (the share every 街道 must reach)")
    for name, value in (("capacity", capacity), ("time_limit", time_limit), ("spacing_m", spacing_m),
                        ("min_distance_m", min_distance_m)):
        if value is not None:
            check_value(name, value, ModelError)


#: The most candidate sites a generated grid may have. On the real sample (northern 徐汇, 9.5 km² of
#: streets analysed) a 1 m grid gives 93,039 candidates: `siting site` then takes 12 s and 1 GB (its
#: reach sets grow with the candidates); 10× more would take minutes and ~10 GB. Spacings that fine are
#: also far below where a station could stand apart (a building plot is 20–50 m), so more candidates
#: add work, not answers. A 200 m grid stays under the cap up to ~4,000 km² of analysed district.
MAX_GENERATED = 100_000


@dataclass(frozen=True)
class Span:
    """The values one number may take: above ``low`` (or from it, with ``low_ok``) up to ``high``, inclusive."""

    low: float
    high: float
    low_ok: bool = False
    integer: bool = False
    why: str = ""

    def holds(self, value: object) -> bool:
        """Return whether ``value`` (a real number, not a bool) lies in the span (and is whole when ``integer``)."""
        x = _number(value)
        return (math.isfinite(x) and (self.low <= x if self.low_ok else self.low < x) and x <= self.high
                and (not self.integer or x == math.floor(x)))

    def text(self) -> str:
        """Return the span in plain numbers: ``> 0 and ≤ 1440``."""
        high = f" and ≤ {self.high:,.10g}" if math.isfinite(self.high) else ""
        return f"{'≥' if self.low_ok else '>'} {self.low:,.10g}{high}"


#: Every number a planner gives, one span each: the CLI's flags, the keys of a scenario file and of a batch
#: jobs file, and the library (`Settings`, :func:`check_site_options`, scenario points) all check against it,
#: so all accept and refuse the same values. ``why`` says where each bound comes from.
RANGES: dict[str, Span] = {
    "speed_kmh": Span(1.0, 100.0, low_ok=True, why=(
        "1 km/h is below the slowest walking speeds measured (frail older people, ~0.4 m/s); nothing slower is a "
        "trip, and a speed near 0 makes the times overflow. 100 km/h is far above cycling (12 km/h)")),
    "minutes": Span(0.0, 24 * 60, why="a threshold of more than a day is no access measure"),
    "max_snap_m": Span(0.0, 10_000.0, why="an off-network leg of over 10 km is no walk to a street"),
    "target": Span(0.0, 1.0, low_ok=True, why="a share of residents"),
    "k": Span(0, MAX_GENERATED, low_ok=True, integer=True, why="no more new sites than a grid may generate"),
    "capacity": Span(0.0, 1e8, why="residents per site; 100 million is more than any city holds"),
    "time_limit": Span(0.0, 86_400.0, why="seconds; an exact solve of more than a day does not finish on a laptop"),
    "spacing_m": Span(0.0, 100_000.0, why="a grid coarser than 100 km puts no candidate inside a district"),
    "min_distance_m": Span(0.0, 100_000.0, low_ok=True, why="as spacing_m"),
    "population": Span(0.0, 1e8, low_ok=True, why="added residents at one point; fewer than any city holds"),
    "gps": Span(0.0, 10_000.0, low_ok=True, why="GPs (全科医生) of one facility; the largest centres have dozens"),
    "floor_area_m2": Span(0.0, 1e7, low_ok=True, why="floor area of one facility (m²); 10 km² is no clinic"),
    "connect_timeout": Span(0.0, 3600.0, why="seconds a dask scheduler has to answer; an hour is no connection"),
    "lon": Span(-180.0, 180.0, low_ok=True, why="degrees"),
    "lat": Span(-90.0, 90.0, low_ok=True, why="degrees"),
}


def _number(value: object) -> float:
    """``value`` as a float (NaN for anything that is no real number: text, bools, None; ∞ for huge ints)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy's numbers are Real too
        return math.nan
    try:
        return float(value)
    except OverflowError:  # an int beyond float's range
        return math.inf if str(value)[0] != "-" else -math.inf


def check_value(name: str, value: object, error: type[SitingError] = SitingError, label: str | None = None) -> float:
    """Return ``value`` as a float after checking it against :data:`RANGES` ``[name]``.

    Parameters
    ----------
    name : str
        The key of :data:`RANGES` (``"speed_kmh"``, ``"k"`` ...).
    value : int or float
        The value given.
    error : type of SitingError
        The exception raised when it is out of range.
    label : str, optional
        How the message names the value (default `` `name` ``, which the CLI shows as its flag).

    Raises
    ------
    SitingError
        (``error``) naming the value, the span in plain numbers and what was given.
    """
    problem = range_problem(name, value)
    if problem is not None:
        raise error(f"{label or f'`{name}`'} {problem}")
    return float(value)  # type: ignore[arg-type]


def range_problem(name: str, value: object) -> str | None:
    """Return what is wrong with ``value`` for :data:`RANGES` ``[name]`` ("must be a number ≥ 1 …, got 0"), or None."""
    span = RANGES[name]
    if span.holds(value):
        return None
    x = _number(value)
    odd = isinstance(value, float) and not math.isfinite(value)  # inf / nan: say "finite"
    kind = "a whole number" if span.integer else "a finite number" if odd else "a number"
    hint = f" — did you mean {x / 100:g}?" if span.high == 1 and 1 < x <= 100 else ""
    got = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:37]}…"
    return f"must be {kind} {span.text()}, got {got}{hint}"


def check_generated(spacing_m: float, *, area_m2: float, street_m: float, segments: int = 0,
                    limit: int = MAX_GENERATED) -> int:
    """Estimate how many candidates a grid of ``spacing_m`` generates, and refuse more than ``limit``.

    A generated grid keeps at most one street point per ``spacing_m`` square: no more than the squares
    of the area (``area_m2 / spacing_m²``), nor than the squares its streets cross (a segment crosses
    about ``(|dx| + |dy|) / spacing_m + 1`` of them; ``street_m`` is the sum of ``|dx| + |dy|``). The
    smaller of the two is the estimate, computed from totals before any point is made. It leaves out
    the thinning to uncovered residents, so on fine grids, where the cap matters, it errs high.

    Parameters
    ----------
    spacing_m : float
        The grid spacing (m).
    area_m2 : float
        Area where candidates may lie (m²).
    street_m : float
        Sum of ``|dx| + |dy|`` over the street segments in that area (m).
    segments : int
        Number of those segments.
    limit : int
        The most candidates allowed (:data:`MAX_GENERATED`).

    Returns
    -------
    int
        The estimate.

    Raises
    ------
    ModelError
        When the estimate exceeds ``limit``, naming ``spacing_m``, the estimate and the finest spacing
        that passes.
    """
    estimate = min(area_m2 / spacing_m**2, street_m / spacing_m + segments)
    if estimate > limit:
        finest = (area_m2 / limit) ** 0.5
        if segments < limit:
            finest = min(finest, street_m / (limit - segments))
        raise ModelError(f"`spacing_m` {spacing_m:g} would generate about {estimate:,.0f} candidate sites "
                         f"({street_m / 1000:,.1f} km of streets over {area_m2 / 1e6:,.1f} km²); at most "
                         f"{limit:,} are allowed: give a spacing of at least {finest:.3g} m")
    return round(estimate)


def closest(name: object, known: Iterable[object], cutoff: float = 0.4) -> str | None:
    """Return the known name closest to ``name`` (difflib ratio ≥ ``cutoff``), or None.

    Parameters
    ----------
    name : object
        A mistyped name or id.
    known : iterable
        The valid names.
    cutoff : float
        Minimum similarity (0–1).

    Returns
    -------
    str or None
        The closest valid name.
    """
    close = difflib.get_close_matches(str(name), [str(x) for x in known], n=1, cutoff=cutoff)
    return close[0] if close else None


def suggest(name: object, known: Iterable[object]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest known name, or ``""``.

    Parameters
    ----------
    name, known
        As in :func:`closest`: a mistyped name or id, and the valid names.

    Returns
    -------
    str
        Text to append to an error message.
    """
    hit = closest(name, known)
    return f" (did you mean {hit!r}?)" if hit is not None else ""


def positions_of(ids: Iterable[Any], known: Sequence[Any], what: str) -> list[int]:
    """Return the positions of ``ids`` in ``known`` (first occurrence order, no repeats).

    Parameters
    ----------
    ids : iterable
        Candidate ids to look up (numpy scalars are compared as Python values).
    known : sequence
        All candidate ids, in candidate order.
    what : str
        What the ids are for (``"locked"``, ``"forbidden"``), for the message.

    Returns
    -------
    list of int
        Positions in ``known``.

    Raises
    ------
    ModelError
        For an id that is not in ``known``, with the closest one.
    """
    lookup = {cid: pos for pos, cid in enumerate(known)}
    out = []
    for cid in ids:
        key = cid.item() if hasattr(cid, "item") else cid
        if key not in lookup:
            raise ModelError(f"{what} site {cid!r} is not a candidate id{suggest(cid, lookup)}")
        out.append(lookup[key])
    return list(dict.fromkeys(out))
