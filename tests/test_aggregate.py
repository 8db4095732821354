"""Gross and net areas, district splits: hand-computed cases and oracles."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod
from shapely.geometry import box

from forestsink.progress.netting import net_areas, project_pieces, split_by_district
from forestsink.reference import read_project_types
from forestsink.units import M2_PER_MU

GEOD = Geod(ellps="GRS80")


def geodesic_mu(geom):
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / M2_PER_MU


@pytest.fixture
def two_districts():
    return gpd.GeoDataFrame(
        {"adcode": ["500101", "500102"]},
        geometry=[box(108.0, 30.0, 108.5, 30.5), box(108.5, 30.0, 109.0, 30.5)],
        crs=4490,
    )


def _frame(geoms, **cols):
    n = len(geoms)
    data = {
        "key": cols.get("key", [f"500101/K{i}" for i in range(n)]),
        "adcode": cols.get("adcode", ["500101"] * n),
        "year": cols.get("year", [2013] * n),
        "project_type": cols.get("project_type", ["afforestation"] * n),
        "species": [None] * n,
        "stock_volume_m3": cols.get("stock_volume_m3", [np.nan] * n),
    }
    return gpd.GeoDataFrame(data, geometry=geoms, crs=4490)


def test_split_across_a_boundary_by_area(two_districts):
    poly = box(108.4, 30.1, 108.6, 30.2)  # 50/50 across 108.5
    pieces = split_by_district(_frame([poly]), two_districts)
    assert sorted(pieces["adcode"]) == ["500101", "500102"]
    assert pieces["share"].sum() == pytest.approx(1.0)
    left = box(108.4, 30.1, 108.5, 30.2)
    got = pieces.set_index("adcode")["area_mu"]
    assert got["500101"] == pytest.approx(geodesic_mu(left), rel=1e-4)
    assert got.sum() == pytest.approx(geodesic_mu(poly), rel=1e-4)


def test_part_outside_the_city_stays_with_declared_district(two_districts):
    poly = box(108.9, 30.1, 109.1, 30.2)  # half east of the last district
    pieces = split_by_district(_frame([poly], adcode=["500102"]), two_districts)
    assert set(pieces["adcode"]) == {"500102"}
    assert pieces["area_mu"].sum() == pytest.approx(geodesic_mu(poly), rel=1e-4)


def test_net_counts_overlap_once_for_the_earliest(two_districts):
    a = box(108.10, 30.10, 108.12, 30.12)
    b = box(108.11, 30.10, 108.13, 30.12)  # half of it over a
    c = box(108.30, 30.30, 108.31, 30.31)  # apart
    frame = _frame(
        [b, a, c],
        year=[2014, 2012, 2013],
        project_type=["public_welfare", "afforestation", "afforestation"],
    )
    pieces = project_pieces(frame, two_districts, types=read_project_types())
    got = pieces.set_index("key")
    # a (2012) keeps its land; b (2014) gets only the part outside a
    assert got.loc["500101/K1", "net_area_mu"] == pytest.approx(
        geodesic_mu(a), rel=1e-4
    )
    half = box(108.12, 30.10, 108.13, 30.12)
    assert got.loc["500101/K0", "net_area_mu"] == pytest.approx(
        geodesic_mu(half), rel=1e-3
    )
    assert got.loc["500101/K2", "net_area_mu"] == got.loc["500101/K2", "gross_area_mu"]
    union = a.union(b)
    assert pieces["net_area_mu"].iloc[:2].sum() == pytest.approx(
        geodesic_mu(union), rel=1e-3
    )


def test_types_that_add_no_area_do_not_net_against_new_forest(two_districts):
    a = box(108.10, 30.10, 108.12, 30.12)
    frame = _frame([a, a], project_type=["afforestation", "tending"])
    pieces = project_pieces(frame, two_districts, types=read_project_types())
    assert pieces["net_area_mu"].tolist() == pytest.approx(
        pieces["gross_area_mu"].tolist()
    )
    assert pieces.set_index("project_type").loc["tending", "new_forest_area_mu"] == 0
    same = _frame([a, a], project_type=["tending", "tending"], year=[2012, 2014])
    p2 = project_pieces(same, two_districts, types=read_project_types())
    assert p2["net_area_mu"].tolist() == pytest.approx(
        [geodesic_mu(a), 0.0], rel=1e-6, abs=1e-6
    )


def test_volume_split_with_area_and_only_for_volume_types(two_districts):
    poly = box(108.4, 30.1, 108.6, 30.2)
    frame = _frame(
        [poly, box(108.1, 30.1, 108.11, 30.11)],
        project_type=["afforestation", "nursery"],
        stock_volume_m3=[1000.0, 50.0],
    )
    pieces = project_pieces(frame, two_districts, types=read_project_types())
    aff = pieces[pieces["project_type"] == "afforestation"]
    assert aff["stock_volume_m3"].sum() == pytest.approx(1000.0)
    assert aff["stock_volume_m3"].tolist() == pytest.approx(
        (1000.0 * aff["share"]).tolist()
    )
    assert pieces[pieces["project_type"] == "nursery"]["stock_volume_m3"].isna().all()


def test_chain_of_three_overlaps():
    a, b, c = (box(0, 0, 2, 1), box(1, 0, 3, 1), box(2, 0, 4, 1))
    pieces = pd.DataFrame(
        {
            "adcode": ["x"] * 3,
            "geometry": [c, a, b],
            "area_mu": [2 / M2_PER_MU] * 3,
        }
    )
    net = net_areas(
        pieces, group=pd.Series(["g"] * 3), order=pd.Series(["3", "1", "2"])
    )
    # a keeps 2, b adds 1 (x 2..3), c adds 1 (x 3..4)
    assert (net * M2_PER_MU).tolist() == pytest.approx([1.0, 2.0, 1.0])
