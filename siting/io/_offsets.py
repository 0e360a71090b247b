"""Input checks of where things lie: points systematically off their 街道, names matching no boundary.

A GCJ-02 / BD-09 file read as WGS84 sits a few hundred metres off; a population file's 街道 names may
match none of the boundaries' names.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd

from .._validate import closest
from ..errors import AreaWarning
from . import demand
from .facilities import check_offset


def _area_stem(name: object) -> str:
    """斜土路街道 → 斜土, 华泾镇 → 华泾: the part of a 街道/镇 name that facility names repeat."""
    text = str(name or "")
    for suffix in ("街道", "镇", "乡", "路", "新村"):
        text = text[: -len(suffix)] if text.endswith(suffix) and len(text) > len(suffix) + 1 else text
    return text


def warn_if_offset(facilities: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame, path: str | Path) -> str | None:
    """Warn (with the suggested ``facility_crs``) when WGS84-labelled facilities look like GCJ-02/BD-09.

    Facilities named after a 街道 (徐汇区斜土街道社区卫生服务中心 → 斜土路街道) are compared with that
    街道's polygon under the three readings (see :func:`siting.io.facilities.check_offset`); with fewer
    than 3 such names there is nothing reliable to compare with and nothing is said.
    """
    stems = [(_area_stem(n), geom) for n, geom in zip(boundaries["subdistrict"], boundaries.geometry, strict=True)]
    own = {}
    for idx, name in facilities["name"].astype(str).items():
        hits = [geom for stem, geom in stems if len(stem) >= 2 and stem in name]
        if len(hits) == 1:
            own[idx] = hits[0]
    if len(own) < 3:
        return None
    index = list(own)
    reference = gpd.GeoSeries(list(own.values()), index=index, crs=boundaries.crs)
    return check_offset(facilities.geometry.loc[index], reference, path)


def warn_unmatched_names(points: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame, path: str | Path) -> list[str]:
    """Warn with the 街道 names of a population file that match no boundary (e.g. 斜土街道 vs 斜土路街道).

    Areas always come from the spatial join; a file's own names that match nothing usually mean a
    different spelling or a different division (a market area, not a 街道), worth knowing.
    """
    column = next((c for c in ("subdistrict", "街道", "street") if c in points.columns), None)
    if column is None:
        return []
    known = {demand.subdistrict_key(n) for n in boundaries["subdistrict"]}
    names = sorted({str(n) for n in points[column].dropna().unique()})
    unmatched = [n for n in names if demand.subdistrict_key(n) not in known]
    if unmatched:
        hints = []
        for name in unmatched[:10]:
            close = closest(name, boundaries["subdistrict"], cutoff=0.5)
            hints.append(f"{name} (closest: {close})" if close else name)
        more = f" and {len(unmatched) - 10} more" if len(unmatched) > 10 else ""
        warnings.warn(f"{path}: {len(unmatched)} of {len(names)} 街道 name(s) in column {column!r} match no boundary: "
                      f"{', '.join(hints)}{more}; areas are taken from the spatial join", AreaWarning, stacklevel=3)
    return unmatched


def warn_if_population_offset(points: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame, path: str | Path) -> str | None:
    """Warn, suggesting a ``population_crs``, when WGS84 points fit their own districts far better as GCJ-02 or BD-09.

    The points must carry their own district name (e.g. Lianjia's ``district``).
    """
    column = next((c for c in ("district", "区", "district_zh") if c in points.columns), None)
    if column is None or "district" not in boundaries or boundaries["district"].isna().all():
        return None
    shapes = boundaries.dissolve(by=boundaries["district"].map(demand.district_key)).geometry
    keys = points[column].map(demand.district_key)
    known = keys.isin(shapes.index)
    if known.sum() < 10:
        return None
    reference = gpd.GeoSeries(shapes.loc[keys[known]].to_numpy(), index=points.index[known], crs=boundaries.crs)
    return check_offset(points.geometry[known], reference, path, param="population_crs")
