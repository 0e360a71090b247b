"""Project exceptions: one small class per failure, each subclassing a builtin."""

from __future__ import annotations


class SitingError(Exception):
    """Base class of every error `siting` raises on purpose (the CLI prints these without a traceback)."""


class InputFileError(SitingError, ValueError):
    """An input file is missing, unreadable, or its content is wrong (the message names file/column/row)."""


class ColumnError(InputFileError):
    """A table lacks a required column, or a column holds values of the wrong kind."""


class CRSError(SitingError, ValueError):
    """A coordinate reference system is unknown, missing, mixed, or the points do not fit it."""


class NetworkError(SitingError, ValueError):
    """A street network cannot be built (no walkable ways, empty or broken OSM file...)."""


class GeocodeError(SitingError, LookupError):
    """A place name geocodes to nothing (online network building)."""


class OutputError(SitingError, OSError):
    """An output directory exists (without overwrite) or cannot be written."""


class SolverError(SitingError, RuntimeError):
    """An optimisation model cannot be built or solved."""


class ModelError(SolverError, ValueError):
    """A siting model's inputs contradict each other (k, quotas, locked/forbidden sites, array shapes)."""


class ScenarioError(InputFileError):
    """A scenario file (or `Scenario` object) is wrong: unknown key, unknown facility, missing file, `from` loop.

    The message names the file, the scenario, the key and the closest valid key, id or name.
    """


class AreaWarning(UserWarning):
    """A warning about named districts / 街道 (e.g. census areas without points).

    With ``--district``, one that names none of the analysed areas is kept in ``summary.json["notes"]``
    instead of being printed.
    """
