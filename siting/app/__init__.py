"""The workbench in a browser: a local web app over one :class:`~siting.workbench.Workbench`.

``siting.app`` owns the local server (``server``: the Starlette app with its JSON API, run by uvicorn on
127.0.0.1 behind a token, in the foreground for ``siting app`` or in a background thread for Jupyter; its
HTTP checks and JSON in ``_http``, the work of its plain routes in ``_work``), the workbenches of a scenario
file and the delta table (``_session``), the optimiser run from the page (``_suggest``), the exported zip
(``_bundle``), the map layers it sends (``_layers``), the page itself (``static/``:
plain HTML, JS and CSS with the offline Leaflet of ``siting.outputs._assets``) and :func:`show` (the app
in a notebook cell, ``notebook``). It may import ``workbench`` and every stage below it; only ``cli`` sits
above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .notebook import show
    from .server import create_app, serve, start_background

__all__ = ["create_app", "serve", "show", "start_background"]
# re-exported on first use: `siting --help` and `lazy_module("siting.app.server")` load no web stack
__getattr__, __dir__ = lazy_exports(__name__, {"show": "notebook", "create_app": "server", "serve": "server",
                                               "start_background": "server"})
