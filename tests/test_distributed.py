"""The Dask engine gives the local engine's numbers (one LocalCluster)."""

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from forestsink.progress import progress_tables
from forestsink.reference import read_districts, read_project_types

NUMBERS = [
    "n_polygons",
    "gross_area_mu",
    "net_area_mu",
    "new_forest_area_mu",
    "stock_volume_m3",
    "stock_volume_estimated_m3",
    "share_of_city",
]


@pytest.fixture(scope="module")
def client():
    from forestsink.distributed import client_for

    c = client_for(workers=2)
    yield c
    cluster = c.cluster
    c.close()
    cluster.close()


def _compare(a, b):
    key = ["adcode", "year", "project_type"]
    a = a.sort_values(key).reset_index(drop=True)
    b = b.sort_values(key).reset_index(drop=True)
    assert a[key].astype(str).values.tolist() == b[key].astype(str).values.tolist()
    for column in NUMBERS:
        x, y = a[column].astype(float), b[column].astype(float)
        assert x.fillna(-1).to_numpy() == pytest.approx(
            y.fillna(-1).to_numpy(), rel=1e-9
        ), column


def test_sample_store_local_equals_dask(sample_store, client):
    local = progress_tables(sample_store).tables
    dask = progress_tables(
        sample_store, engine="dask", partitions=5, client=client
    ).tables
    _compare(local["district"], dask["district"])
    assert dask["city_targets"]["cumulative"].tolist() == pytest.approx(
        local["city_targets"]["cumulative"].tolist(), nan_ok=True
    )


def test_boundary_crossing_polygons_are_netted_once(client):
    """Overlapping polygons declared in two districts, lying across the border."""
    from forestsink.aggregate import project_pieces
    from forestsink.distributed import progress_base_dask
    from forestsink.progress import progress_by_district

    districts = read_districts()
    a, b = districts.set_index("adcode").loc[["500101", "500235"], "geometry"]
    border = a.boundary.intersection(b.boundary)
    x, y = border.representative_point().coords[0]
    geoms = [
        box(x - 0.01, y - 0.01, x + 0.01, y + 0.01),
        box(x - 0.005, y - 0.012, x + 0.015, y + 0.008),
    ]
    frame = gpd.GeoDataFrame(
        {
            "key": ["500101/A", "500235/B"],
            "adcode": ["500101", "500235"],
            "year": [2012, 2014],
            "project_type": ["afforestation", "grain_to_green"],
            "species": [None, None],
            "stock_volume_m3": [None, None],
        },
        geometry=geoms,
        crs=4490,
    )
    types = read_project_types()
    pieces = project_pieces(frame, districts, types=types)
    local = progress_by_district(pieces, est_volume=pd.Series(0.0, pieces.index))
    dask = progress_base_dask(
        frame,
        districts,
        types,
        growth=None,
        end_year=2015,
        partitions=38,
        client=client,
    )
    _compare(local.assign(share_of_city=0.0), dask.assign(share_of_city=0.0))
    assert dask["net_area_mu"].sum() < dask["gross_area_mu"].sum()  # overlap once
