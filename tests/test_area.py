"""Ellipsoidal areas (forestsink.area) against pyproj.Geod, the oracle."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod
from real_files import real_file

from forestsink.area import _fast_path, area_m2, geographic_area_m2
from forestsink.reference import read_districts

GEOD = Geod(ellps="GRS80")


def geod_area(geom) -> float:
    """Oracle: pyproj.Geod on GRS80, shells counter-clockwise, holes clockwise."""
    return abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))[0])


def _wkt(name: str):
    path = real_file("exactextract", f"{name}.wkt")
    return shapely.from_wkt(path.read_text().strip().strip('"'))


@pytest.mark.parametrize("name", ["antarctica", "russia", "regression4", "regression6"])
def test_real_exactextract_polygons_match_geod(name):
    # antarctica: around the pole (was 564.7 M km²); russia: across the
    # antimeridian (was +0.013 %)
    geom = _wkt(name)
    got = area_m2(gpd.GeoSeries([geom], crs=4326))[0]
    assert got == pytest.approx(geod_area(geom), rel=1e-6)


def test_antarctica_is_about_12_million_km2():
    got = area_m2(gpd.GeoSeries([_wkt("antarctica")], crs=4326))[0] / 1e6
    assert 1.0e7 < got < 1.5e7


def test_pole_and_antimeridian_built_in_code():
    around_pole = shapely.Polygon(
        [(lon, -70.0) for lon in np.arange(-180, 180, 10.0)]
    )  # ring at 70°S, counter-clockwise seen from the south
    # edges that cross the antimeridian (the short way, as Geod takes them)
    across = shapely.Polygon([(179.5, 10), (-179.5, 10), (-179.5, 11), (179.5, 11)])
    big_box = shapely.box(100, 20, 115, 35)  # long straight edges
    geoms = [around_pole, across, big_box]
    got = geographic_area_m2(geoms)
    for g, a in zip(geoms, got, strict=True):
        assert a == pytest.approx(geod_area(g), rel=1e-6)


def test_far_away_district_shapes_match_geod():

    d = read_districts().to_crs(4490).geometry.to_numpy()[:8]
    for dy in (-60.0, 0.0, 40.0):
        moved = shapely.transform(d, lambda c, dy=dy: c + np.array([0.0, dy]))
        want = np.array([geod_area(g) for g in moved])
        np.testing.assert_allclose(geographic_area_m2(moved), want, rtol=1e-6)


def test_project_polygons_keep_the_fast_path():
    rng = np.random.default_rng(3)
    x = rng.uniform(105.5, 110.0, 200)
    y = rng.uniform(28.5, 32.0, 200)
    geoms = shapely.box(x, y, x + 0.01, y + 0.008)
    assert _fast_path(geoms).all()
    want = np.array([geod_area(g) for g in geoms])
    np.testing.assert_allclose(geographic_area_m2(geoms), want, rtol=1e-6)


def test_empty_and_missing_are_zero():
    got = geographic_area_m2([None, shapely.Polygon(), shapely.Point(1, 1)])
    assert got.tolist() == [0.0, 0.0, 0.0]
