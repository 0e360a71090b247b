"""Inline folium's CDN assets from installed packages so a saved map works offline."""

from __future__ import annotations

import base64
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import OutputError

#: Name of the ``<meta>`` tag a self-contained page carries (its content names the inlined Leaflet).
SELF_CONTAINED_META = "siting-self-contained"

#: CDN assets folium/branca reference that vector maps do not need; dropped from a self-contained page.
#: Bootstrap (JS + CSS), the Bootstrap 3 glyphicons, Font Awesome and Leaflet.awesome-markers only serve
#: ``folium.Icon`` markers (image-free coloured pins), which :mod:`siting.outputs.maps` does not use.
DROPPED_ASSETS = ("bootstrap", "glyphicons", "fontawesome", "font-awesome", "awesome-markers", "awesome.rotate")

#: Minimal stand-in for jQuery, hand-written because no installed PyPI package ships jQuery (checked:
#: site-packages holds none) and the CDN copy is unreachable offline. folium's templates call jQuery in
#: exactly two ways: ``$(`<div>...</div>`)[0]`` (``folium.Popup`` content) and
#: ``$(document).ready(fn)`` (``Map.keep_in_front``); ``$.ajax`` only appears for ``GeoJson(embed=False)``,
#: which cannot work from a file anyway. The shim covers those two calls and nothing else; it is only
#: installed when the page has no real jQuery.
JQUERY_SHIM = """
(function () {
  if (window.jQuery) { return; }
  function shim(arg) {
    if (typeof arg === "function") { return shim(document).ready(arg); }
    var items;
    if (typeof arg === "string") {
      var t = document.createElement("template");
      t.innerHTML = arg.trim();
      items = Array.prototype.slice.call(t.content.childNodes);
    } else {
      items = arg == null ? [] : [arg];
    }
    items.ready = function (fn) {
      if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); }
      else { setTimeout(fn, 0); }
      return items;
    };
    return items;
  }
  shim.siting_shim = true;
  window.jQuery = window.$ = shim;
})();
"""

_SCRIPT_RE = re.compile(r'<script\s+src="(?P<url>[^"]+)"\s*>\s*</script>', re.IGNORECASE)
_LINK_RE = re.compile(r'<link\s+rel="stylesheet"\s+href="(?P<url>[^"]+)"\s*/?>', re.IGNORECASE)


@dataclass(frozen=True)
class LeafletAssets:
    """Leaflet's code and stylesheet read from an installed package.

    Attributes
    ----------
    version : str
        Version read from the banner of ``leaflet.js`` (e.g. ``"1.9.4"``).
    js : str
        Content of ``leaflet.js``.
    css : str
        Content of ``leaflet.css`` with its ``url(images/...)`` references turned into ``data:`` URIs,
        so the layer-control icon shows without image files next to the page.
    source : Path
        Folder the files were read from.
    """

    version: str
    js: str
    css: str
    source: Path


def leaflet_dir() -> Path:
    """Folder holding ``leaflet.js``/``leaflet.css`` in the ``django-js-lib-leaflet`` wheel.

    The wheel (PyPI ``django-js-lib-leaflet``, module ``js_lib_leaflet``) only ships Leaflet's static
    files and declares no dependencies; it is imported as files, never as Django code.

    Raises
    ------
    OutputError
        When the package is not installed or lacks the files.
    """
    spec = importlib.util.find_spec("js_lib_leaflet")
    if spec is None or not spec.submodule_search_locations:
        raise OutputError(
            "cannot write a self-contained map: the package django-js-lib-leaflet (module js_lib_leaflet), "
            "which provides Leaflet's leaflet.js/leaflet.css, is not installed; "
            "`pip install django-js-lib-leaflet` or save with self_contained=False"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "static" / "js_lib_leaflet"
    for name in ("leaflet.js", "leaflet.css"):
        if not (folder / name).is_file():
            raise OutputError(f"cannot write a self-contained map: {folder / name} is missing")
    return folder


def _css_with_data_uris(css: str, folder: Path) -> str:
    def repl(match: re.Match[str]) -> str:
        path = folder / match.group(1)
        if not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'url("data:image/png;base64,{data}")'

    return re.sub(r"url\((images/[\w.-]+\.png)\)", repl, css)


def load_leaflet() -> LeafletAssets:
    """Read Leaflet from the installed ``django-js-lib-leaflet`` wheel (see :func:`leaflet_dir`)."""
    folder = leaflet_dir()
    js = (folder / "leaflet.js").read_text(encoding="utf-8")
    js = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", js)  # no .map file next to the page
    found = re.search(r"Leaflet (\d+\.\d+\.\d+)", js[:400])
    version = found.group(1) if found else "unknown"
    css = _css_with_data_uris((folder / "leaflet.css").read_text(encoding="utf-8"), folder)
    return LeafletAssets(version=version, js=js, css=css, source=folder)


def _script(code: str) -> str:
    return "<script>" + code.replace("</script", "<\\/script") + "</script>"


def _style(code: str) -> str:
    return "<style>" + code.replace("</style", "<\\/style") + "</style>"


def inline_assets(html: str) -> str:
    """Replace the CDN ``<script src>``/``<link href>`` tags of a folium page by offline equivalents.

    Leaflet's JS/CSS are inlined from :func:`load_leaflet`; jQuery is replaced by :data:`JQUERY_SHIM`;
    the assets in :data:`DROPPED_ASSETS` are removed; a ``<meta name="siting-self-contained">`` tag
    records the inlined Leaflet version.

    Parameters
    ----------
    html : str
        A page rendered by folium (``m.get_root().render()``).

    Returns
    -------
    str
        The page without any external script or stylesheet.

    Raises
    ------
    OutputError
        When the page needs an asset that cannot be inlined: a plugin script or stylesheet other than
        the ones above, or ``folium.Icon`` markers (``L.AwesomeMarkers``), whose library is dropped.
    """
    leaflet = load_leaflet()

    def replace(match: re.Match[str], kind: str) -> str:
        url = match.group("url")
        name = url.rsplit("/", 1)[-1].split("?", 1)[0].lower()
        if name == f"leaflet.{kind}":
            return _script(leaflet.js) if kind == "js" else _style(leaflet.css)
        if kind == "js" and name.startswith("jquery"):
            return _script(JQUERY_SHIM)
        if any(key in url.lower() for key in DROPPED_ASSETS):
            return ""
        if not url.lower().startswith(("http://", "https://", "//")):
            return match.group(0)
        raise OutputError(
            f"cannot write a self-contained map: it loads {url}, which has no offline copy; "
            "remove the plugin that needs it or save with self_contained=False"
        )

    out = _SCRIPT_RE.sub(lambda m: replace(m, "js"), html)
    out = _LINK_RE.sub(lambda m: replace(m, "css"), out)
    if "L.AwesomeMarkers" in out:
        raise OutputError(
            "cannot write a self-contained map: it uses folium.Icon markers (Leaflet.awesome-markers, "
            "CDN only); use CircleMarker or DivIcon markers, or save with self_contained=False"
        )
    meta = f'<meta name="{SELF_CONTAINED_META}" content="leaflet {leaflet.version}; no external scripts" />'
    head = re.search(r"<head[^>]*>", out, re.IGNORECASE)
    if head is None:
        raise OutputError("cannot write a self-contained map: the page has no <head> element")
    return out[: head.end()] + "\n    " + meta + out[head.end() :]
