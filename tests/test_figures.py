"""Static figures: Chinese text renders (no missing glyphs), images are not blank, PNG size and DPI."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from siting.engine._stats import walk_time_stats
from siting.outputs import figures

Image = pytest.importorskip("PIL.Image")


def _glyph_warnings(fig: Figure) -> list[str]:
    """Draw ``fig`` to PNG and return the "Glyph ... missing" warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png", dpi=60)
    return [str(w.message) for w in caught if "missing from" in str(w.message)]


def _colours(path: Path) -> int:
    with Image.open(path) as im:
        return len(im.convert("RGB").getcolors(maxcolors=1 << 24) or [])


def test_cjk_font_is_found_and_chinese_renders() -> None:
    font = figures.cjk_font()
    assert font in figures.CJK_FONTS  # fonts-wqy-microhei (or Noto CJK) is installed where the suite runs
    before = matplotlib.rcParams["font.sans-serif"][:]
    with figures.cjk_style():
        assert matplotlib.rcParams["font.sans-serif"][0] == font
        fig = Figure()
        fig.add_subplot().set_title("徐汇区 覆盖率 街道")
        assert _glyph_warnings(fig) == []
    assert matplotlib.rcParams["font.sans-serif"] == before  # only inside the block


def test_siting_figures_draw_chinese_later_without_the_callers_rcparams_changed() -> None:
    """A figure made now and drawn later (a notebook's inline PNG) still finds the CJK font."""
    table = pd.DataFrame({"subdistrict": ["徐家汇街道", "天平路街道"], "population": [100.0, 50.0],
                          "covered": [90.0, 10.0], "coverage_rate": [0.9, 0.2], "target": [0.9, 0.9],
                          "gap_residents": [0.0, 35.0]})
    before = dict(matplotlib.rcParams)
    fig = figures.subdistrict_figure(table, 0.9)
    assert dict(matplotlib.rcParams) == before
    assert _glyph_warnings(fig) == []
    assert dict(matplotlib.rcParams) == before


def test_control_without_cjk_font_shows_missing_glyphs() -> None:
    """The check above can fail: the same text in DejaVu Sans alone warns about missing glyphs."""
    fig = Figure()
    fig.add_subplot().set_title("徐汇区 覆盖率 街道", fontfamily="DejaVu Sans")
    assert any(w.startswith("Glyph 24464 ") for w in _glyph_warnings(fig))  # 徐 = U+5F90 = 24464


def test_no_font_warns_once_with_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(figures._state, "font", "")
    monkeypatch.setitem(figures._state, "warned", False)
    with pytest.warns(UserWarning, match="fonts-noto-cjk"):
        assert figures.cjk_font() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert figures.cjk_font() is None  # once only


def test_standard_figures(map_inputs: dict, tmp_path: Path) -> None:
    summary = {**map_inputs["summary"], "districts": ["黄浦区"], "date": "2026-11-29",
               "n_facilities": 3, "n_facilities_unusable": 1, "facilities_by_type": {"center": 2, "station": 1},
               "sources": [{"what": "路网 streets", "source": "OpenStreetMap (x.osm)", "year": "2025"}]}
    table = pd.DataFrame(map_inputs["subdistricts"].drop(columns="geometry"))
    table = pd.concat([table, pd.DataFrame([{"subdistrict": "空街道", "district": "黄浦区", "population": 0.0,
                                             "covered": 0.0, "coverage_rate": np.nan, "target": 0.9,
                                             "gap_residents": np.nan}])], ignore_index=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figs = figures.write_figures(tmp_path, map_inputs["points"], map_inputs["facilities"], summary=summary,
                                     table=table, subdistricts=map_inputs["subdistricts"],
                                     service_area=map_inputs["service_area"], chosen=map_inputs["chosen"], dpi=100)
    assert [str(w.message) for w in caught if "missing from" in str(w.message)] == []
    assert set(figs) == {"subdistricts", "walk_times", "map"}
    for key, name in figures.FIGURE_FILES.items():
        path = tmp_path / name
        with Image.open(path) as im:
            assert im.format == "PNG"
            assert round(im.info["dpi"][0]) == 100
            w, h = figs[key].get_size_inches()
            assert im.size == (round(w * 100), round(h * 100))
        assert _colours(path) > 20, name  # not blank
    assert (tmp_path / "map.pdf").read_bytes().startswith(b"%PDF")
    # the texts a reader sees: 街道 sorted by gap (外滩 first), the empty one named below, title, shares
    texts = [t.get_text() for t in figs["subdistricts"].axes[0].get_yticklabels()]
    assert texts == ["南京东路街道  (540)", "外滩街道  (440)"]  # barh: the last label is drawn on top
    assert "空街道" in figs["subdistricts"].axes[0].get_xlabel()
    assert figs["map"].axes[0].get_title(loc="left").startswith("黄浦区 · 15 分钟步行可达 · 2026-11-29")
    walk = " ".join(t.get_text() for t in figs["walk_times"].axes[0].texts)
    # 540 covered of 965 residents inside the street extract (the 15 outside it are not in the rate)
    assert "56.0 % ≤ 15 min" in walk and f"{100 * 25 / 965:.1f} % 无可达设施" in walk


def test_walk_time_stats_weighted() -> None:
    s = walk_time_stats(np.array([2.0, 8.0, 12.0, np.inf]), np.array([1.0, 1.0, 2.0, 0.0]))
    assert s["walk_min_mean"] == pytest.approx((2 + 8 + 24) / 4)
    assert s["walk_min_median"] == 8.0  # half the weight (2 of 4) lies at ≤ 8 min
    assert s["share_within"] == {"5": 0.25, "10": 0.5, "15": 1.0, "20": 1.0}
    s = walk_time_stats(np.array([3.0, np.inf]), np.array([1.0, 3.0]))
    assert s["walk_min_median"] is None and s["share_unreachable"] == 0.75 and s["walk_min_mean"] == 3.0
