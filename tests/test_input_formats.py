"""Input formats: .xls through python-calamine, GeoParquet through geopandas/pyarrow, a title row above an Excel
header; and the Overpass filter strings siting owns agree with osmnx's."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

import siting
from siting.errors import DataWarning, InputFileError
from siting.io import _osmnet

ROWS = [("徐家汇社区卫生服务中心", "center", 121.4368, 31.1915),
        ("枫林街道社区卫生服务中心", "center", 121.4520, 31.1960)]


def test_xls_is_read(tmp_path):
    xlwt = pytest.importorskip("xlwt")  # a writer of Excel 97–2003 files, for the test only
    book = xlwt.Workbook()
    sheet = book.add_sheet("centres")
    for j, name in enumerate(["name", "type", "lon", "lat"]):
        sheet.write(0, j, name)
    for i, row in enumerate(ROWS, start=1):
        for j, value in enumerate(row):
            sheet.write(i, j, value)
    path = tmp_path / "centres.xls"
    book.save(str(path))
    fac = siting.read_facilities(path)
    assert fac["name"].tolist() == [r[0] for r in ROWS]
    assert fac.geometry.x.round(4).tolist() == [r[2] for r in ROWS]


def test_a_title_row_above_the_header_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "centres.xlsx"
    body = pd.DataFrame(ROWS, columns=["name", "type", "lon", "lat"])
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame([["徐汇区社区卫生服务中心一览表"]]).to_excel(writer, index=False, header=False)
        body.to_excel(writer, index=False, startrow=2)  # a blank row between title and header
    with pytest.warns(DataWarning,
                      match=r"has a title above its header \(row 1 reads '徐汇区社区卫生服务中心一览表'\); "
                      r"the header was read from row 3: name, type, lon, lat"):
        fac = siting.read_facilities(path)
    assert fac["name"].tolist() == [r[0] for r in ROWS] and len(fac) == 2


def test_geoparquet_population_and_facilities(tmp_path):
    fac = gpd.GeoDataFrame({"name": [r[0] for r in ROWS], "type": [r[1] for r in ROWS]},
                           geometry=gpd.points_from_xy([r[2] for r in ROWS], [r[3] for r in ROWS]), crs="EPSG:4326")
    fac.to_crs("EPSG:32651").to_parquet(tmp_path / "fac.parquet")  # projected: read back to WGS84
    read = siting.read_facilities(tmp_path / "fac.parquet")
    assert read["name"].tolist() == fac["name"].tolist()
    assert read.geometry.x.round(6).tolist() == [r[2] for r in ROWS]
    pop = fac.drop(columns=["name", "type"]).assign(population=[120.0, 80.0])
    pop.to_parquet(tmp_path / "pop.parquet")
    assert siting.read_population(tmp_path / "pop.parquet")["population"].tolist() == [120.0, 80.0]
    pd.DataFrame({"lon": [121.4], "lat": [31.2]}).to_parquet(tmp_path / "plain.parquet")
    with pytest.raises(InputFileError, match="a Parquet file without geometry, not GeoParquet"):
        siting.read_population(tmp_path / "plain.parquet")


@pytest.mark.parametrize("network_type", ["walk", "bike"])
def test_our_filter_strings_are_osmnxs(network_type):
    from osmnx import _overpass  # the test may ask osmnx's private function; the package never does

    assert _osmnet.NETWORK_FILTERS[network_type] == _overpass._get_network_filter(network_type)
    assert _osmnet.network_filter(network_type) == _overpass._get_network_filter(network_type)
