"""Private: which 街道 and district each point lies in (first polygon wins) — the one rule for "inside".

A leaf below :mod:`siting.io.demand` (which exports :func:`assign_areas`) and :mod:`siting.io._checks` (whose
:func:`~siting.io._checks.in_district` decides both which rows a district run keeps and which duplicate rows
its warning counts).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely


def assign_areas(points: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add the ``subdistrict`` and ``district`` of the boundary polygon containing each point.

    A point on a shared edge (or in an overlap) takes the first polygon in ``boundaries`` order, so
    no row is ever duplicated; points outside every polygon get None. The input index and row order
    are kept. Existing ``subdistrict`` / ``district`` columns (e.g. Lianjia's own labels) are renamed
    to ``subdistrict_input`` / ``district_input`` first: areas always come from the spatial join.
    """
    out = points.copy()
    for col in ("subdistrict", "district"):
        if col in out.columns:
            if f"{col}_input" not in out.columns:
                out = out.rename(columns={col: f"{col}_input"})
            else:
                out = out.drop(columns=col)
    names = pd.DataFrame({  # as a frame, so the names' dtype (and missing values) are those of a joined frame
        "subdistrict": boundaries["subdistrict"].to_numpy(),
        "district": boundaries["district"].to_numpy() if "district" in boundaries else None,
    })
    polygons = np.asarray(boundaries.geometry.to_crs("EPSG:4326"))
    # a tree of the points, queried by each polygon (prepared: fast point-in-polygon); intersects: edge points count
    polygon, point = shapely.STRtree(np.asarray(points.geometry.to_crs("EPSG:4326"))).query(
        polygons, predicate="intersects")
    first = np.full(len(points), len(polygons))
    np.minimum.at(first, point, polygon)
    inside = first < len(polygons)
    for col in ("subdistrict", "district"):
        values = np.full(len(points), None, dtype=object)
        values[inside] = names[col].to_numpy(dtype=object)[first[inside]]
        out[col] = pd.Series(values, index=out.index, dtype=object)
    out.attrs = {**points.attrs, "areas_joined": True}
    return out
