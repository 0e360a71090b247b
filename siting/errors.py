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


class DownloadError(SitingError, ConnectionError):
    """An Overpass or Nominatim download failed (no answer, HTTP error, not JSON); names the server and what to try."""


class OutputError(SitingError, OSError):
    """An output directory exists (without overwrite) or cannot be written."""


class BasemapError(SitingError, ValueError):
    """A map's basemap cannot be drawn: an unknown tile source, or 天地图 (Tianditu) without a key."""


class SolverError(SitingError, RuntimeError):
    """An optimisation model cannot be built or solved."""


class ModelError(SolverError, ValueError):
    """A siting model's inputs contradict each other (k, quotas, locked/forbidden sites, array shapes)."""


class ScenarioError(InputFileError):
    """A scenario file (or `Scenario` object) is wrong: unknown key, unknown facility, missing file, `from` loop.

    The message names the file, the scenario, the key and the closest valid key, id or name.
    """


class SitingWarning(UserWarning):
    """Base class of the warnings `siting` gives on purpose: the data has a problem, the run goes on.

    Filter them as a group (``warnings.simplefilter("ignore", siting.errors.SitingWarning)``) or by kind.
    """


class DataWarning(SitingWarning):
    """An input's content looks wrong or incomplete (repeated rows, points off their CRS, missing values)."""


class NetworkWarning(DataWarning):
    """The street network has a problem the run works around (disconnected parts dropped, nodes missing)."""


class CacheWarning(SitingWarning):
    """A cache file or folder cannot be read or written: the run goes on without it (same results)."""


class AreaWarning(DataWarning):
    """A warning about named districts / 街道 (e.g. census areas without points).

    With ``--district``, one that names none of the analysed areas is kept in ``summary.json["notes"]``
    instead of being printed.
    """
