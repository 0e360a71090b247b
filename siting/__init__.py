"""siting: 15-minute accessibility and siting of community health facilities from OpenStreetMap.

Modules are exposed as they are (``siting.engine.coverage``, ``siting.locate``, ``siting.plan.sites`` ...), with the
everyday functions and classes also at the top level, as osmnx does. ``siting.engine.coverage`` is the module;
the function is :func:`siting.compute_coverage`.
"""

from __future__ import annotations

import logging

from ._lazy import attach_stub
from ._version import __version__ as __version__

# Every public name is declared in __init__.pyi and imported on first use (PEP 562), so that
# `import siting` and `siting --help` do not load geopandas, folium, matplotlib, scipy... up front.
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)

# The library logs (stages, timings, cache hits) but prints nothing unless the application adds a handler
# (``logging.basicConfig(level=logging.INFO)``, or ``siting -v``): the standard library's rule for packages.
logging.getLogger(__name__).addHandler(logging.NullHandler())
