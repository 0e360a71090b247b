"""Private: residents estimated from OSM residential buildings (re-exported by :mod:`siting.io.demand`)."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np

from ..errors import InputFileError, SitingError
from ._osm import read_osm_features
from ._utm import utm_crs

#: OSM ``building`` values counted as homes (explicit residential types only).
RESIDENTIAL_BUILDINGS = frozenset(
    {"apartments", "residential", "house", "dormitory", "detached", "terrace", "semidetached_house"}
)


def _levels(value: object) -> float:
    match = re.match(r"\s*(\d+(?:\.\d+)?)", str(value)) if value is not None else None
    return float(match.group(1)) if match and float(match.group(1)) > 0 else np.nan


def population_from_buildings(path: str | Path, *, floor_area_per_resident: float = 37.0,
                              default_levels: float = 6.0) -> gpd.GeoDataFrame:
    """Estimate residents from OSM residential buildings (.osm / .osm.pbf).

    Buildings with ``building`` in :data:`RESIDENTIAL_BUILDINGS` (explicit residential types only;
    ``building=yes`` is left out, since it is mostly unknown use) become their representative point,
    with ``population = footprint area (m², local UTM) × levels ÷ floor_area_per_resident``.

    Parameters
    ----------
    floor_area_per_resident
        Residential floor area per resident, m². Default 37 m²: the Shanghai Statistical Yearbook gives
        urban residents' per-capita housing floor area of roughly 37 m² around 2019–2020 (approximate;
        set your own value for other cities or years).
    default_levels
        Levels of a building without a usable ``building:levels`` tag. Default 6: an **assumption**,
        the typical 1980s–90s 新村 walk-up in Shanghai.

    Returns
    -------
    geopandas.GeoDataFrame
        ``osm_type``, ``osm_id``, ``name``, ``building``, ``levels``, ``levels_tagged`` (bool),
        ``footprint_m2``, ``population`` and Point geometry (EPSG:4326); ``attrs["unit"] == "residents"``.
    """
    if floor_area_per_resident <= 0 or default_levels <= 0:
        raise SitingError("floor_area_per_resident and default_levels must be positive")
    feats = read_osm_features(path, lambda t: t.get("building") in RESIDENTIAL_BUILDINGS, areas=True)
    feats = feats[feats.geom_type.isin(["Polygon", "MultiPolygon"])] if len(feats) else feats
    if feats.empty:
        raise InputFileError(f"{path}: no residential buildings (building={'|'.join(sorted(RESIDENTIAL_BUILDINGS))})")
    tagged = feats["tags"].map(lambda t: _levels(t.get("building:levels"))).to_numpy(dtype=float)
    levels = np.where(np.isnan(tagged), default_levels, tagged)
    area = feats.geometry.to_crs(utm_crs(feats)).area.to_numpy()
    out = gpd.GeoDataFrame({
        "osm_type": feats["osm_type"].to_numpy(), "osm_id": feats["osm_id"].to_numpy(),
        "name": feats["name"].to_numpy(), "building": feats["tags"].map(lambda t: t["building"]).to_numpy(),
        "levels": levels, "levels_tagged": ~np.isnan(tagged), "footprint_m2": area,
        "population": area * levels / floor_area_per_resident,
    }, geometry=feats.geometry.representative_point().to_numpy(), crs="EPSG:4326")
    out.attrs.update(source=str(path), weighted=True, unit="residents",
                     floor_area_per_resident=floor_area_per_resident, default_levels=default_levels)
    return out
