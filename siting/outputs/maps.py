"""Folium coverage maps: 街道 choropleth, facilities, service area, uncovered residents; offline HTML."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import Element, Figure

from .. import _labels
from ..errors import ColumnError, CRSError, InputFileError, OutputError
from ..io._tables import usual_mode
from . import _maplayers as ml
from ._assets import inline_assets
from ._basemaps import Tiles, basemap
from ._notebook import OfflineMap
from ._outdir import record
from ._text import html_text
from ._tiles import add_tiles, shift_layers

__all__ = ["coverage_map", "render_results_dir", "save_map", "scenarios_map"]


def _frame(gdf: gpd.GeoDataFrame | None, what: str, required: tuple[str, ...]) -> gpd.GeoDataFrame | None:
    """Check columns and CRS, drop empty geometries, return in EPSG:4326 (None stays None)."""
    if gdf is None:
        return None
    missing = [c for c in required if c not in gdf.columns]
    if missing:
        raise ColumnError(f"{what}: missing column(s) {', '.join(missing)} (has {', '.join(map(str, gdf.columns))})")
    if gdf.crs is None:
        raise CRSError(f"{what}: the GeoDataFrame has no CRS; expected WGS84 (EPSG:4326)")
    geoms = np.asarray(gdf.geometry.array, dtype=object)  # not .notna(): geopandas warns on empty geometries
    gdf = gdf[np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)]
    return gdf if gdf.crs.to_epsg() == 4326 else gdf.to_crs(4326)


def _summary_from_points(points: gpd.GeoDataFrame) -> dict[str, Any]:
    """Coverage summary from the points alone (no target), used when no ``summary`` is given."""
    total = float(points["population"].sum())
    covered = float(points.loc[points["covered"].astype(bool), "population"].sum())
    return {"coverage_rate": covered / total if total else math.nan, "target": None, "gap_residents": None,
            "population_total": total, "population_covered": covered, "unit": "residents"}


#: Style of the headline lines at the top of a map's info box (its caveat colour).
HEADLINE_STYLE = "font-size:12px;font-weight:normal;color:#b35806"


def coverage_map(points: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, *,
                 subdistricts: gpd.GeoDataFrame | None = None, summary: dict[str, Any] | None = None,
                 service_area: gpd.GeoDataFrame | None = None, candidates: gpd.GeoDataFrame | None = None,
                 chosen: gpd.GeoDataFrame | None = None, catchments: gpd.GeoDataFrame | None = None,
                 title: str | None = None, tiles: Tiles = True,
                 max_points: int = 5000, grid_m: float = 200.0, simplify_m: float = 5.0,
                 overlays: Sequence[folium.FeatureGroup] = (), legend: Sequence[str] = (),
                 headline: Sequence[str] = ()) -> folium.Map:
    """Draw a layered folium map of a coverage result (all layers are vector: they draw offline).

    Parameters
    ----------
    points : GeoDataFrame
        Population points: ``population``, ``walk_min`` (inf = unreachable), ``covered``, ``status``
        ("ok" / "too_far_from_network" / "outside_network_area"), ``subdistrict``.
    facilities : GeoDataFrame
        ``name``, ``type`` (keys of ``_maplayers.FACILITY_STYLE``; others drawn as "other"), optional
        ``source``, ``residents_within`` (``facility_id`` is not needed for drawing).
    subdistricts : GeoDataFrame, optional
        街道 polygons: ``subdistrict``, ``district``, ``population``, ``covered``, ``coverage_rate`` and
        ``target`` (0–1 or NaN), ``gap_residents``. Coloured by rate with the target as the colour break
        (reds below, green at/above); rows without a target fall back to ``summary["target"]``, then to
        absolute blue classes.
    summary : dict, optional
        ``coverage_rate``, ``target``, ``gap_residents``, ``population_total``, ``population_covered``,
        ``minutes``, ``mode``, ``speed_kmh``, ``unit`` ("residents" or "locations"). Computed from
        ``points`` (without a target) when omitted.
    service_area : GeoDataFrame, optional
        Polygons reached within the threshold (drawn as given).
    candidates, chosen : GeoDataFrame, optional
        Candidate / chosen sites: ``gain`` (residents newly covered by the site alone), ``label`` (else
        ``name`` or ``candidate_id``), ``subdistrict``; chosen sites in order of choice with
        ``assigned`` (the gain given the sites chosen before: these add up to the plan's total), shown
        on the map, the solo gain only in the popup. The candidate layer is off by default.
    catchments : GeoDataFrame, optional
        Per-facility areas (:func:`siting.engine.catchments.facility_catchments`): ``facility_id``, ``name``,
        ``minutes`` (one band per facility and threshold), drawn in a layer off by default.
    title : str, optional
        Shown at the top of the map and as the page's ``<title>`` (default: area · threshold · mode ·
        date, from ``summary``). ``summary["analysed_bounds"]`` (west, south, east, north) sets the
        initial view (the street extract ∩ the district); otherwise all layers are fitted.
    tiles : bool, str or Basemap
        The basemap (:func:`siting.outputs._basemaps.basemap`): True or ``"osm"`` OpenStreetMap, ``"amap"``
        高德 (GCJ-02: every layer is shifted to GCJ-02 on the page only), ``"tianditu"`` 天地图 (its key from
        ``$SITING_TIANDITU_KEY``, or a resolved ``Basemap``), False / ``"none"`` none. Tiles need a connection;
        the vector layers do not.
    max_points : int
        Above this many uncovered points they are aggregated to a ``grid_m`` grid (keeps the page small).
    grid_m, simplify_m : float
        Grid cell size and polygon simplification tolerance, in metres.
    overlays : sequence of folium.FeatureGroup
        More layers (e.g. the access map's supply layer), added before the layer control so that it lists
        them: a layer added to the returned map afterwards would be referred to by the control before it
        exists ("Cannot read properties of undefined (reading 'setZIndex')").
    legend : sequence of str
        More legend rows (HTML, escaped by the caller) after the map's own: the overlays' classes.
    headline : sequence of str
        Lines (plain text) shown first in the info box (top left), in the caveat colour: a headline the map must
        not be read without (the access map's "assuming 6 GPs per centre (defaults)").

    Returns
    -------
    folium.Map
        An :class:`~siting.outputs._notebook.OfflineMap`: shown inline in a notebook with the assets inlined
        (offline, as map.html). Save it with :func:`save_map` (self-contained) or ``m.save`` (CDN assets).
    """
    pts = _frame(points, "points", ("population", "walk_min", "covered", "status", "subdistrict"))
    fac = _frame(facilities, "facilities", ("name", "type"))
    subs = _frame(subdistricts, "subdistricts", ("subdistrict", "district", "population", "covered",
                                                 "coverage_rate", "target", "gap_residents"))
    area = _frame(service_area, "service_area", ())
    cand = _frame(candidates, "candidates", ("gain",))
    cho = _frame(chosen, "chosen", ("gain",))
    assert pts is not None and fac is not None
    summary = dict(summary) if summary is not None else _summary_from_points(pts)
    minutes = float(summary.get("minutes") or 15)
    target = summary.get("target")
    target = None if target is None or pd.isna(target) else float(target)
    title = title or _labels.title(summary)
    base = basemap(tiles)

    m = OfflineMap(tiles=None, control_scale=True, prefer_canvas=False)
    add_tiles(m, base)
    ml.Attribution(ml.ATTRIBUTION).add_to(m)
    classes, target_text = ml.add_subdistricts(m, subs, target, simplify_m)
    extras = ml.add_service_area(m, area, minutes, simplify_m)
    extras += ml.add_catchments(m, catchments, simplify_m)
    extras += ml.add_residents(m, pts, max_points, grid_m)
    extras += ml.add_facilities(m, fac, minutes)
    extras += ml.add_candidates(m, cand)
    extras += ml.add_chosen(m, cho)
    types = [t for t in ml.FACILITY_STYLE if (fac["type"] == t).any()]
    root = cast(Figure, m.get_root())
    root.title = title
    root.header.add_child(Element(ml.PAGE_CSS))
    root.html.add_child(Element(f'<div class="siting-title" style="{ml.BOX_STYLE}top:10px;left:50%;transform:'
                                f'translateX(-50%);font-size:15px;font-weight:bold">{html_text(title)}'
                                f'<div style="font-size:11px;font-weight:normal">'
                                f"{html_text(_labels.subtitle(summary))}</div></div>"))
    info = ml.summary_html(summary, _labels.extent_note(summary, subs))
    top = info.index(">") + 1  # the headline first inside the info box (a taller title box would run over it)
    root.html.add_child(Element(info[:top] + "".join(f'<div class="siting-headline" style="{HEADLINE_STYLE}">'
                                                     f"{html_text(line)}</div>" for line in headline) + info[top:]))
    root.html.add_child(Element(ml.legend_html(classes, target_text, types, extras + list(legend))))
    for layer in overlays:
        layer.add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    m.fit_bounds(_view(summary, [f for f in (subs, area, pts, fac, cand, cho) if f is not None and not f.empty]))
    shift_layers(m, base)  # on GCJ-02 tiles: the page's coordinates only
    return m


def scenarios_map(layers: list[dict[str, Any]], *, title: str = "情景对比 Scenarios", tiles: Tiles = True,
                  simplify_m: float = 5.0, analysed_bounds: Sequence[float] | None = None) -> folium.Map:
    """Scenarios side by side: one radio-button layer each (the first shown), see :func:`_maplayers.scenario_layer`.

    ``layers``: dicts with ``name``, ``subdistricts`` (as in :func:`coverage_map`), ``facilities`` (counted),
    ``added``, ``closed`` (GeoDataFrames, may be empty) and ``summary`` (``coverage_rate``, ``target``...).
    The basemap, when asked for, is an overlay so that switching scenarios keeps it. ``analysed_bounds`` (west,
    south, east, north: the analysed area, as ``summary["analysed_bounds"]``) sets the initial view; otherwise
    the layers are fitted.
    """
    base = basemap(tiles)
    m = OfflineMap(tiles=None, control_scale=True)
    add_tiles(m, base, overlay=True)
    ml.Attribution(ml.ATTRIBUTION).add_to(m)
    frames = []
    for i, layer in enumerate(layers):
        subs = _frame(layer.get("subdistricts"), "subdistricts", ("subdistrict", "coverage_rate", "target"))
        fac, added, closed = (_frame(layer.get(k), k, ()) for k in ("facilities", "added", "closed"))
        assert fac is not None
        ml.scenario_layer(str(layer["name"]), subs, fac, added if added is not None else fac.iloc[:0],
                          closed if closed is not None else fac.iloc[:0], dict(layer.get("summary") or {}),
                          simplify_m=simplify_m, show=i == 0).add_to(m)
        frames += [f for f in (subs, fac) if f is not None and not f.empty]
    classes = [(c, t) for _, _, c, t in ml.TARGET_CLASSES] + [(ml.NO_DATA, "无数据 no data")]
    extras = ['<span style="color:#1a9850">✚</span> 新增设施 added', '<span style="color:#d73027">✖</span> 关闭 closed '
              "(moved: closed at the old place, added at the new)", '<span style="color:#1f3a93">●</span> 计入设施 '
              "counted facility", "每个情景一层 one layer per scenario (top right)"]
    root = cast(Figure, m.get_root())
    root.html.add_child(Element(f'<div class="siting-title" style="{ml.BOX_STYLE}top:10px;left:50%;transform:'
                                f'translateX(-50%);font-size:15px;font-weight:bold">{html_text(title)}</div>'))
    root.html.add_child(Element(ml.legend_html(classes, "(break 分界 = target 目标)", [], extras)))
    folium.LayerControl(collapsed=False).add_to(m)
    if frames or analysed_bounds is not None:
        m.fit_bounds(_view({"analysed_bounds": analysed_bounds}, frames))
    shift_layers(m, base)
    return m


def _view(summary: dict[str, Any], frames: list[gpd.GeoDataFrame]) -> list[list[float]]:
    """Return the map bounds [[south, west], [north, east]].

    They are the analysed area (``summary["analysed_bounds"]``) when known, else all layers.
    """
    bounds = summary.get("analysed_bounds")
    if bounds is not None and len(bounds) == 4 and all(v is not None and math.isfinite(v) for v in bounds):
        w, s, e, n = (float(v) for v in bounds)
    elif frames:
        b = np.array([f.total_bounds for f in frames])
        w, s, e, n = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    else:
        w, s, e, n = 73.5, 18.0, 135.0, 53.5  # China
    return [[round(float(s), 6), round(float(w), 6)], [round(float(n), 6), round(float(e), 6)]]


def save_map(m: folium.Map, path: str | os.PathLike[str], *, self_contained: bool = True) -> Path:
    """Write a map to HTML atomically (temp file + ``os.replace``; no partial file on failure).

    Parameters
    ----------
    m : folium.Map
    path : path-like
        Output ``.html``; parent folders are created.
    self_contained : bool
        True: inline Leaflet from the installed ``django-js-lib-leaflet`` wheel, replace jQuery by a
        tiny shim and drop the Bootstrap/Font Awesome/awesome-markers assets vector maps do not need
        (see :mod:`siting.outputs._assets`); the page then loads no script or stylesheet from the network and
        carries ``<meta name="siting-self-contained">``. False: folium's page as is (CDN assets).

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    page = m.get_root().render()
    if self_contained:
        page = inline_assets(page)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the map ({exc})") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        usual_mode(Path(tmp))  # mkstemp makes owner-only files; a map is meant to be shared
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write the map ({exc})") from exc
        raise
    return path


def _read_layer(folder: Path, name: str, required: bool) -> gpd.GeoDataFrame | None:
    path = folder / f"{name}.gpkg"
    if not path.is_file():
        if required:
            raise InputFileError(f"{path}: required results file is missing")
        return None
    try:
        return gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise InputFileError(f"{path}: cannot read ({exc})") from exc


#: Keys of ``summary.json`` the map reads as numbers (null allowed).
_NUMBERS = ("coverage_rate", "target", "gap_residents", "population_total", "population_covered", "minutes",
            "speed_kmh", "walk_min_mean", "walk_min_median", "gap_pp")


def _check_summary(summary: object, path: Path) -> dict[str, Any]:
    """Refuse a ``summary.json`` that is not the mapping siting writes (a tampered or foreign file)."""
    if not isinstance(summary, dict):
        raise InputFileError(f"{path}: expected a JSON object (the summary siting writes), "
                             f"got {type(summary).__name__}")
    for key in _NUMBERS:
        value = summary.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InputFileError(f"{path}: key {key!r} must be a number or null, got {str(value)[:60]!r}")
    within = summary.get("share_within")
    if within is not None and not (isinstance(within, dict) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in within.values())):
        raise InputFileError(f"{path}: key 'share_within' must map minutes to shares")
    sources = summary.get("sources")
    if sources is not None and not (isinstance(sources, list) and all(isinstance(r, dict) for r in sources)):
        raise InputFileError(f"{path}: key 'sources' must be a list of objects")
    bounds = summary.get("analysed_bounds")
    if bounds is not None and not (isinstance(bounds, list) and all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in bounds)):
        raise InputFileError(f"{path}: key 'analysed_bounds' must be a list of 4 numbers")
    return summary


def _map_target(folder: Path, out: str | os.PathLike[str] | None, overwrite: bool) -> Path:
    """Where :func:`render_results_dir` writes: never over a file it reads, nor over another file unless asked."""
    if out is None:
        return folder / "map.html"  # the folder's own map, re-drawn
    path = Path(out)
    read = {(folder / name).resolve() for name in ("summary.json", *(f"{n}.gpkg" for n in _LAYERS))}
    if path.resolve() in read:
        raise OutputError(f"{path} is one of the results files the map is drawn from; give another file")
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give the map file to write, e.g. {path / 'map.html'}")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise OutputError(f"{path} already exists; use overwrite=True to replace it")
    return path


_LAYERS = ("points", "facilities", "subdistricts", "service_area", "candidates", "chosen", "catchments")


def render_results_dir(results_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *,
                       tiles: Tiles = True, self_contained: bool = True, overwrite: bool = False) -> Path:
    """Re-draw ``map.html`` from a saved results folder, without recomputing anything.

    Parameters
    ----------
    results_dir : path-like
        Folder with ``summary.json``, ``points.gpkg``, ``facilities.gpkg``, ``subdistricts.gpkg`` and
        optionally ``service_area.gpkg``, ``candidates.gpkg``, ``chosen.gpkg``.
    out : path-like, optional
        Output HTML (default ``results_dir/map.html``, re-drawn). Never one of the results files; an
        existing file only with ``overwrite``. A map written inside ``results_dir`` joins its manifest.
    tiles : bool, str or Basemap
        Passed to :func:`coverage_map`.
    self_contained : bool
        Passed to :func:`save_map` (False: a small page that loads Leaflet from CDNs, needs internet).

    Raises
    ------
    InputFileError
        A required file is missing or unreadable, or ``summary.json`` is not siting's (the message names it).
    OutputError
        ``out`` exists (without ``overwrite``), is a folder or one of the results files.
    """
    folder = Path(results_dir)
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        raise InputFileError(f"{summary_path}: required results file is missing")
    try:
        summary = _check_summary(json.loads(summary_path.read_text(encoding="utf-8")), summary_path)
    except (OSError, ValueError) as exc:
        if isinstance(exc, InputFileError):
            raise
        raise InputFileError(f"{summary_path}: cannot read ({exc})") from exc
    target = _map_target(folder, out, overwrite)
    layers = {name: _read_layer(folder, name, req) for name, req in (
        ("points", True), ("facilities", True), ("subdistricts", True),
        ("service_area", False), ("candidates", False), ("chosen", False), ("catchments", False))}
    cand = layers["candidates"]
    if cand is not None and "excluded" in cand.columns:  # as `siting site` draws them: usable sites only
        keep = cand["excluded"].isna() | (cand["excluded"].astype(str).str.strip() == "")
        if "chosen" in cand.columns:
            keep &= ~cand["chosen"].astype(bool)
        layers["candidates"] = cand[keep]
    m = coverage_map(layers["points"], layers["facilities"], subdistricts=layers["subdistricts"], summary=summary,
                     service_area=layers["service_area"], candidates=layers["candidates"], chosen=layers["chosen"],
                     catchments=layers["catchments"], tiles=tiles)
    path = save_map(m, target, self_contained=self_contained)
    record(folder, path)
    return path
