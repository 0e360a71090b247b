"""siting: 15-minute accessibility and siting of community health facilities from OpenStreetMap."""

from __future__ import annotations

from . import coords, errors
from .settings import MODES, Settings

__all__ = ["MODES", "Settings", "coords", "errors"]
__version__ = "0.1.0"
