"""Small input checks shared by every layer (a leaf: it imports only `siting.errors`).

One place for the checks that were written twice: shares between 0 and 1, closest-name
suggestions for mistyped names and ids, and candidate-id lookups.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from .errors import ModelError, SitingError

__all__ = ["check_rate", "closest", "suggest", "positions_of"]


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
    name : object
        A mistyped name or id.
    known : iterable
        The valid names.

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
