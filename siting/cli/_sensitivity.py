"""``siting coverage --sensitivity``: rate and chosen sites under 街道 totals vs equal shares per 小区."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .._lazy import lazy_module
from ..errors import SitingError
from ._options import InputOptions

if TYPE_CHECKING:
    from ..outputs import sensitivity
else:  # the scientific stack only when the flag is given
    sensitivity = lazy_module("siting.outputs.sensitivity")

#: Help of the flag.
HELP = ("also compare the population methods: coverage rate and chosen sites (the fewest for the target, else 3) "
        "under the --subdistrict-totals vs equal shares per 小区 of the census; sensitivity.csv, summary.json")


def check(inputs: InputOptions) -> None:
    """Refuse the flag before any work when there are no 街道 totals to compare with (named by the library)."""
    if not inputs.subdistrict_totals:
        raise SitingError("the population sensitivity compares 街道 totals with equal shares per 小区: "
                          "give `subdistrict_totals` (a 街道 totals CSV)")


def attach(inputs: InputOptions, loaded: Any, result: Any, target: float | None) -> str:
    """Compute the table for the run's inputs (reusing its network and result), put it in ``result.summary``.

    Returns the console lines (:func:`siting.outputs.sensitivity.format_sensitivity`).
    """
    table = sensitivity.population_sensitivity(inputs.load_arguments(), types=inputs.facility_types, target=target,
                                               baseline=(loaded, result))
    result.summary = replace(result.summary, sensitivity=sensitivity.sensitivity_records(table))
    return str(sensitivity.format_sensitivity(table))
