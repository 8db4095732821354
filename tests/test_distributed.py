"""The Dask engine gives the local engine's numbers (one LocalCluster)."""

import geopandas as gpd
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
    "stock_area_mu",
    "increment_measured_m3",
    "increment_model_m3",
    "increment_not_estimable_mu",
    "share_of_city",
]


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


def test_sample_store_local_equals_dask(sample_store, dask_client):
    local = progress_tables(sample_store).tables
    dask = progress_tables(
        sample_store, engine="dask", partitions=5, client=dask_client
    ).tables
    _compare(local["district"], dask["district"])
    assert dask["city_targets"]["cumulative"].tolist() == pytest.approx(
        local["city_targets"]["cumulative"].tolist(), nan_ok=True
    )


def _crossing_frame():
    """Overlapping polygons declared in two districts, lying across their border."""
    districts = read_districts()
    a, b = districts.set_index("adcode").loc[["500101", "500235"], "geometry"]
    border = a.boundary.intersection(b.boundary)
    x, y = border.representative_point().coords[0]
    geoms = [
        box(x - 0.01, y - 0.01, x + 0.01, y + 0.01),
        box(x - 0.005, y - 0.012, x + 0.015, y + 0.008),
    ]
    return gpd.GeoDataFrame(
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


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_boundary_crossing_polygons_are_netted_once(engine, dask_client, tmp_path):
    """Each polygon's partition is in another task; the land is netted once."""
    from forestsink.progress import increment_of_pieces, progress_by_district
    from forestsink.progress.netting import project_pieces
    from forestsink.progress.partitioned import progress_base_partitioned
    from forestsink.scale.dataset import write_partitions

    frame = _crossing_frame()
    districts = read_districts()
    types = read_project_types()
    pieces = project_pieces(frame, districts, types=types)
    local = progress_by_district(
        pieces,
        increment=increment_of_pieces(pieces, types=types, growth=None, end_year=2015),
    )
    write_partitions(frame, tmp_path, "t")
    got = progress_base_partitioned(
        tmp_path,
        districts,
        types,
        growth=None,
        end_year=2015,
        partitions=38,
        client=dask_client if engine == "dask" else None,
    )
    _compare(local.assign(share_of_city=0.0), got.assign(share_of_city=0.0))
    # both districts hold overlapping land, so net < gross in each
    by = got.groupby("adcode")[["gross_area_mu", "net_area_mu"]].sum()
    assert sorted(by.index) == ["500101", "500235"]
    assert by["net_area_mu"].sum() < by["gross_area_mu"].sum()
    # the overlap is the intersection of the two boxes, counted once (the
    # oracle intersects in degrees, forestsink in Albers metres: 1e-6)
    import shapely

    from forestsink.area import area_mu

    overlap = shapely.intersection(*frame.geometry.values)
    inter = gpd.GeoDataFrame(geometry=[overlap], crs=4490)
    assert by["gross_area_mu"].sum() - by["net_area_mu"].sum() == pytest.approx(
        area_mu(inter)[0], rel=1e-6
    )


def test_dataset_opens_as_a_read_only_store(sample_store, tmp_path):
    """An exported dataset gives the store's numbers, partition by partition."""
    from forestsink.errors import ForestsinkError
    from forestsink.scale.dataset import Dataset
    from forestsink.scale.export import export_geoparquet
    from forestsink.store import open_store

    out = export_geoparquet(sample_store, tmp_path / "ds")
    dataset = open_store(out)
    assert isinstance(dataset, Dataset)
    local = progress_tables(sample_store).tables
    got = progress_tables(dataset, partitions=7).tables
    _compare(local["district"], got["district"])
    with pytest.raises(ForestsinkError, match="one state"):
        dataset.current(as_of=1)
    with pytest.raises(ForestsinkError, match="read-only"):
        dataset.withdraw("500101/A", reason="test")
    with pytest.raises(ForestsinkError, match="remote workers cannot read"):
        progress_tables(sample_store, engine="dask", scheduler="tcp://x:8786")


def _inside_frame():
    """Two overlapping polygons inside 渝中区's neighbour and one far away."""
    districts = read_districts().set_index("adcode")
    x, y = districts.loc["500112", "geometry"].representative_point().coords[0]
    fx, fy = districts.loc["500238", "geometry"].representative_point().coords[0]
    return gpd.GeoDataFrame(
        {
            "key": ["500112/A", "500112/B", "500238/C"],
            "adcode": ["500112", "500112", "500238"],
            "year": [2012, 2013, 2012],
            "project_type": ["afforestation", "afforestation", "afforestation"],
            "species": [None, None, None],
            "stock_volume_m3": [10.0, 20.0, None],
        },
        geometry=[
            box(x - 0.002, y - 0.002, x + 0.002, y + 0.002),
            box(x, y, x + 0.003, y + 0.003),
            box(fx - 0.002, fy - 0.002, fx + 0.002, fy + 0.002),
        ],
        crs=4490,
    )


@pytest.mark.parametrize("stored_area", [True, False])
def test_unsplit_polygons_are_netted_with_lazy_geometries(stored_area, tmp_path):
    """Polygons inside their district are not split; only those whose boxes
    meet get Albers geometries; the result is the local engine's and the
    overlap is the boxes' intersection (oracle)."""
    import shapely

    from forestsink.area import area_mu
    from forestsink.progress import increment_of_pieces, progress_by_district
    from forestsink.progress.netting import (
        add_overlap_geometries,
        project_pieces,
        whole_pieces,
    )
    from forestsink.progress.partitioned import progress_base_partitioned
    from forestsink.scale.dataset import write_partitions

    frame = _inside_frame()
    if stored_area:
        frame["area_mu"] = area_mu(frame)
    districts = read_districts()
    types = read_project_types()
    pieces = whole_pieces(frame, area_mu=frame.get("area_mu"))
    lazy = add_overlap_geometries(pieces, [0, 1, 2], frame.geometry.values)
    assert [g is not None for g in lazy["geometry"]] == [True, True, False]
    local = project_pieces(
        frame.drop(columns="area_mu", errors="ignore"), districts, types=types
    )
    local = progress_by_district(
        local,
        increment=increment_of_pieces(local, types=types, growth=None, end_year=2015),
    )
    write_partitions(frame, tmp_path, "t")
    got = progress_base_partitioned(
        tmp_path, districts, types, growth=None, end_year=2015, partitions=3
    )
    _compare(local.assign(share_of_city=0.0), got.assign(share_of_city=0.0))
    by = got.groupby("adcode")[["gross_area_mu", "net_area_mu"]].sum()
    overlap = gpd.GeoDataFrame(
        geometry=[shapely.intersection(*frame.geometry.values[:2])], crs=4490
    )
    assert by.loc["500112", "gross_area_mu"] - by.loc[
        "500112", "net_area_mu"
    ] == pytest.approx(area_mu(overlap)[0], rel=1e-5)  # degrees vs Albers edges
    assert by.loc["500238", "gross_area_mu"] == by.loc["500238", "net_area_mu"]


def test_albers_boxes_contain_the_albers_polygons():
    """The cheap boxes contain every vertex of the mapped polygons (oracle:
    the polygons mapped vertex by vertex), across China, 10 m to 300 km."""
    import numpy as np
    import shapely

    from forestsink.area import albers_geometries
    from forestsink.progress.netting import albers_boxes

    rng = np.random.default_rng(3)
    n = 2000
    cx, cy = rng.uniform(75, 133, n), rng.uniform(20, 50, n)
    size = 10 ** rng.uniform(-4, np.log10(3.0), n)  # ~10 m to ~300 km
    angles = np.sort(rng.uniform(0, 2 * np.pi, (n, 12)), axis=1)
    radius = size[:, None] * rng.uniform(0.3, 1.0, (n, 12))
    polys = shapely.polygons(
        np.stack(
            [
                cx[:, None] + radius * np.cos(angles),
                cy[:, None] + radius * np.sin(angles),
            ],
            axis=2,
        )
    )
    exact = shapely.bounds(albers_geometries(gpd.GeoSeries(polys, crs=4490)))
    boxes = albers_boxes(shapely.bounds(polys))
    assert (boxes[:, :2] <= exact[:, :2]).all() and (boxes[:, 2:] >= exact[:, 2:]).all()
