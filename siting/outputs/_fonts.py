"""Private: the CJK font of figures and reports, found even where matplotlib's font cache predates it.

:func:`find_cjk_font` looks in three places, in order: the fonts matplotlib knows (its cache), the font files of
the system folders the cache lacks (a font installed after the cache was built: added with
``fontManager.addfont``, cheap), and Noto Sans CJK from the ``noto-cjk-sans-otc`` package (SIL Open Font
License 1.1; a pip install brings it, so a machine without system CJK fonts still draws Chinese). Adding a
font to matplotlib's font list changes no ``rcParams``. :func:`font_face_css` embeds the same font in an HTML
page, subset to the characters the page uses (fontTools), so Chromium prints it without any system font.
"""

from __future__ import annotations

import base64
import importlib.resources
import io
import logging
from dataclasses import dataclass

from fontTools import subset, ttLib  # not lazily: fontTools' own lazy tables break under importlib's LazyLoader
from matplotlib import font_manager

__all__ = ["CJK_FONTS", "CJK_HINT", "FONT_FACE", "CJKFont", "find_cjk_font", "font_face_css"]

#: CJK font families tried in order (the first one matplotlib can use is taken).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Micro Hei",
             "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "Noto Sans CJK JP",
             "Source Han Sans", "Arial Unicode MS")
CJK_HINT = ("no CJK font found: Chinese labels will show as boxes; reinstall siting (its noto-cjk-sans-otc "
            "dependency brings Noto Sans CJK) or install one, e.g. `apt-get install fonts-noto-cjk` (Debian/Ubuntu)")
#: The pip package (OFL-1.1) and its font file: a collection whose face "Noto Sans CJK SC" is used.
PIP_FONT = ("noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc")
#: The family name of the font embedded in HTML pages (:func:`font_face_css`).
FONT_FACE = "SitingCJK"


@dataclass(frozen=True)
class CJKFont:
    """A CJK font matplotlib can use: ``name`` (family), ``path`` and ``index`` (face of a collection), ``source``."""

    name: str
    path: str
    index: int
    source: str


def _known() -> CJKFont | None:
    """Return the first of :data:`CJK_FONTS` in matplotlib's font list, or None."""
    entries: dict[str, font_manager.FontEntry] = {}
    for entry in font_manager.fontManager.ttflist:
        entries.setdefault(entry.name, entry)
    for name in CJK_FONTS:
        if name in entries:
            entry = entries[name]
            return CJKFont(name, str(entry.fname), int(getattr(entry, "index", 0) or 0), "matplotlib")
    return None


def _add(path: str) -> bool:
    """Add a font file to matplotlib's font list; False when matplotlib cannot read it."""
    try:
        font_manager.fontManager.addfont(path)
    except (OSError, RuntimeError, ValueError):
        return False
    return True


def find_cjk_font() -> CJKFont | None:
    """Return a CJK font for figures: known to matplotlib, in a system folder, or the pip package's (None: none)."""
    found = _known()
    if found is not None:
        return found
    known = {str(entry.fname) for entry in font_manager.fontManager.ttflist}
    added = [p for p in font_manager.findSystemFonts() if p not in known and _add(p)]  # newer than the cache
    found = _known() if added else None
    if found is not None:
        return CJKFont(found.name, found.path, found.index, "a system font matplotlib's font cache did not list")
    package, file = PIP_FONT
    try:
        path = str(importlib.resources.files(package) / file)
    except ModuleNotFoundError:
        return None
    if not _add(path):
        return None
    found = _known()
    return None if found is None else CJKFont(found.name, found.path, found.index, f"{package} (pip, OFL-1.1)")


def font_face_css(text: str, font: CJKFont | None) -> str:
    """Return an ``@font-face`` rule of ``font`` subset to the characters of ``text`` ("" without a font).

    The family is :data:`FONT_FACE`; the font is embedded as a ``data:`` URL (OpenType, a few tens of kB), so the
    page prints its Chinese text in Chromium on a machine without CJK fonts.
    """
    if font is None:
        return ""
    chars = "".join(sorted({c for c in text if c.isprintable()}))
    quiet = logging.getLogger("fontTools")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "FFTM NOT subset; don't know how to subset; dropped" and the like
    try:
        face = ttLib.TTFont(font.path, fontNumber=font.index, lazy=True)
        options = subset.Options()
        options.layout_features, options.name_IDs, options.hinting = ["*"], ["*"], False
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=chars)
        subsetter.subset(face)
        buf = io.BytesIO()
        face.save(buf)
    finally:
        quiet.setLevel(level)
    kind = "opentype" if "CFF " in face else "truetype"
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"@font-face{{font-family:'{FONT_FACE}';src:url(data:font/{'otf' if kind == 'opentype' else 'ttf'};" \
           f"base64,{data}) format('{kind}');}}"
