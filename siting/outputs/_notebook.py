"""Folium maps shown inline in Jupyter with the same inlined assets as ``map.html`` (no CDN, works offline)."""

from __future__ import annotations

import html
import warnings
from typing import Any

import folium
from branca.element import Figure

from ..errors import OutputError
from ._assets import inline_assets

__all__ = ["OfflineMap", "notebook_html"]

#: Shown in the frame until the notebook is trusted (Jupyter does not run a frame's scripts before).
TRUST_HINT = "Make this Notebook Trusted to load map: File -> Trust Notebook"


def notebook_html(page: str, *, width: str = "100%", ratio: str = "60%") -> str:
    """Wrap a whole HTML ``page`` in an ``<iframe srcdoc>`` for a notebook cell, as folium's Figure does.

    The page is escaped into the ``srcdoc`` attribute: its scripts run in the frame, apart from the
    notebook's own (two maps in one notebook do not share a ``L`` or a map id).
    """
    return (f'<div style="width:{width};"><div style="position:relative;width:100%;height:0;padding-bottom:{ratio};">'
            f'<span style="color:#565656">{TRUST_HINT}</span>'
            f'<iframe srcdoc="{html.escape(page, quote=True)}" style="position:absolute;width:100%;height:100%;'
            'left:0;top:0;border:none !important;" allowfullscreen webkitallowfullscreen mozallowfullscreen>'
            "</iframe></div></div>")


class OfflineMap(folium.Map):
    """A folium map whose notebook display is the self-contained page that :func:`siting.save_map` writes.

    folium's own display loads Leaflet, jQuery and Bootstrap from public CDNs: offline (or where they are
    blocked) the cell shows a blank frame and "L is not defined". Here the page goes through
    :func:`siting.outputs._assets.inline_assets` first. Everything else is folium's ``Map``.
    """

    def _repr_html_(self, **kwargs: Any) -> str:
        """Return the map as an iframe whose page loads no script or stylesheet from the network."""
        detached = self._parent is None
        if detached:  # as folium does: a map drawn on its own gets a page for the time of the display
            Figure().add_child(self)
        try:
            root = self.get_root()
            page = root.render(**kwargs)
            try:
                page = inline_assets(page)
            except OutputError as exc:  # e.g. django-js-lib-leaflet not installed: folium's CDN page, said so
                warnings.warn(f"the map is shown with Leaflet from CDNs (needs internet): {exc}", stacklevel=2)
            width = getattr(root, "width", "100%")
            ratio = getattr(root, "ratio", "60%")
            return notebook_html(page, width=str(width), ratio=str(ratio))
        finally:
            if detached:
                self._parent = None  # type: ignore[assignment]  # as folium leaves a detached map
