"""Forest coverage from land-cover rasters (forestsink.coverage, CLI ``coverage``).

Oracles are independent of the code under test: hand-computed fractions and
areas on tiny rasters, pyproj.Geod for ellipsoidal pixel areas, exactextract
called directly for the fractions, and the sample's measured manifest.
"""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from click.testing import CliRunner
from exactextract import exact_extract
from pyproj import CRS, Geod, Transformer

from forestsink import coverage as cov
from forestsink.area import CHONGQING_ALBERS
from forestsink.cli.coverage import coverage_cmd
from forestsink.cli.main import cli
from forestsink.coverage.dask_counter import count_classes_dask
from forestsink.errors import CRSError, ForestsinkError
from forestsink.reference import read_districts
from forestsink.units import M2_PER_MU

if "coverage" not in cli.commands:  # until main.py registers it
    cli.add_command(coverage_cmd)

ALBERS = CRS.from_user_input(CHONGQING_ALBERS)
GRS80 = Geod(ellps="GRS80")


def write_tif(path, array, transform, crs, nodata=0):
    array = np.asarray(array, dtype=np.uint8)
    profile = {
        "driver": "GTiff",
        "dtype": "uint8",
        "count": 1,
        "width": array.shape[1],
        "height": array.shape[0],
        "transform": transform,
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NotGeoreferencedWarning for crs=None
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(array, 1)
    return path


def geod_area(lon, lat):
    return abs(GRS80.polygon_area_perimeter(lon, lat)[0])


def densified_ring(x0, y0, x1, y1, n=64):
    xs = np.r_[np.linspace(x0, x1, n), np.full(n, x1), np.linspace(x1, x0, n)]
    xs = np.r_[xs, np.full(n, x0)]
    ys = np.r_[np.full(n, y0), np.linspace(y0, y1, n), np.full(n, y1)]
    ys = np.r_[ys, np.linspace(y1, y0, n)]
    return xs, ys


# 10 m grid, origin (0, 100): column c spans x 10c..10c+10, row r spans
# y 100-10r-10 .. 100-10r
SMALL = cov.Grid(ALBERS, Affine(10, 0, 0, 0, -10, 100), 10, 10)


# --------------------------------------------------------------------------
# exact fractions, by hand
# --------------------------------------------------------------------------


def test_fractions_of_a_box_by_hand():
    box = shapely.box(15, 25, 45, 85)  # columns 1.5..4.5, rows 1.5..7.5
    got = cov.coverage_fractions([box], SMALL).dense(0, SMALL)
    want = np.zeros((10, 10))
    want[2:7, 2:4] = 1.0
    want[2:7, [1, 4]] = 0.5
    want[[1, 7], 2:4] = 0.5
    want[[1, 1, 7, 7], [1, 4, 1, 4]] = 0.25
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_fractions_of_a_triangle_and_a_hole_by_hand():
    triangle = shapely.Polygon([(0, 100), (30, 100), (0, 70)])
    holed = shapely.box(-50, -50, 200, 200).difference(shapely.box(22, 22, 78, 78))
    frac = cov.coverage_fractions([triangle, holed], SMALL)
    tri = frac.dense(0, SMALL)
    np.testing.assert_allclose(tri[:3, :3], [[1, 1, 0.5], [1, 0.5, 0], [0.5, 0, 0]])
    assert tri[3:].sum() == 0 and tri[:, 3:].sum() == 0
    hole = frac.dense(1, SMALL)
    # hole x 22..78, y 22..78: pixel (2, 2) keeps 1 - 0.8*0.8, edges keep 0.2
    assert hole[2, 2] == pytest.approx(0.36)
    assert hole[5, 2] == pytest.approx(0.2)
    assert hole[5, 5] == 0.0 and hole[0, 0] == 1.0 and hole[9, 9] == 1.0
    # the polygon extends beyond the grid: only the grid part is counted
    assert frac.pixel_sum(2) == pytest.approx([4.5, (100 * 100 - 56 * 56) / 100])


def test_fractions_edges_on_pixel_lines_and_multipolygon():
    aligned = shapely.MultiPolygon(
        [shapely.box(10, 50, 40, 90), shapely.box(60, 0, 70, 20)]
    )
    dense = cov.coverage_fractions([aligned], SMALL).dense(0, SMALL)
    assert set(np.unique(dense)) == {0.0, 1.0}
    assert dense.sum() == 12 + 2


# --------------------------------------------------------------------------
# agreement with exactextract called directly
# --------------------------------------------------------------------------


def _exactextract_direct(raster_path, gdf):
    with rasterio.open(raster_path) as src:
        width = src.width
        frames = exact_extract(
            src, gdf, ["cell_id", "coverage"], include_cols=["z"], output="pandas"
        )
    out = {}
    for z, cells, fr in zip(
        frames["z"], frames["cell_id"], frames["coverage"], strict=True
    ):
        for cell, f in zip(np.asarray(cells), np.asarray(fr), strict=True):
            if f > 0:
                out[(int(z), int(cell) // width, int(cell) % width)] = float(f)
    return out


def _ours(frac: cov.Fractions):
    out = {}
    for z, r, c, n in zip(
        frac.run_zone, frac.run_row, frac.run_col, frac.run_len, strict=True
    ):
        for k in range(n):
            out[(int(z), int(r), int(c) + k)] = 1.0
    for z, r, c, f in zip(
        frac.part_zone, frac.part_row, frac.part_col, frac.part_frac, strict=True
    ):
        out[(int(z), int(r), int(c))] = float(f)
    return out


def _compare(a, b, tol):
    keys = set(a) | set(b)
    worst = max(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in keys)
    assert worst < tol, worst


def test_fractions_agree_with_exactextract_on_random_polygons(tmp_path):
    rng = np.random.default_rng(7)
    transform = Affine(10, 0, 0, 0, -10, 400)
    path = write_tif(tmp_path / "g.tif", np.ones((40, 50)), transform, ALBERS)
    grid = cov.inspect_raster(path).grid
    geoms = []
    for _ in range(12):
        pts = shapely.points(rng.uniform(-20, 520, 6), rng.uniform(-20, 420, 6))
        blob = shapely.union_all(
            shapely.buffer(pts, rng.uniform(10, 80, 6), quad_segs=3)
        )
        holes = shapely.buffer(shapely.centroid(blob), 15)
        geoms.append(blob.difference(holes))
    # vertices exactly on pixel corners and edges along pixel lines
    geoms.append(shapely.Polygon([(0, 400), (100, 400), (100, 300), (50, 350)]))
    geoms.append(shapely.box(200, 100, 300, 200).union(shapely.box(300, 100, 310, 150)))
    gdf = gpd.GeoDataFrame({"z": range(len(geoms))}, geometry=geoms, crs=ALBERS)
    direct = _exactextract_direct(path, gdf)
    _compare(_ours(cov.coverage_fractions(gdf.geometry.values, grid)), direct, 1e-6)


def test_fractions_agree_with_exactextract_on_the_districts(sample_dir, tmp_path):
    grid = cov.inspect_raster(sample_dir / "landcover" / "clcd_2010.tif").grid
    # exactextract leaves out no-data cells: give it the same grid, all valid
    ones = np.ones((grid.height, grid.width))
    path = write_tif(tmp_path / "ones.tif", ones, grid.transform, grid.crs, None)
    districts = read_districts().to_crs(grid.crs)
    districts["z"] = range(len(districts))
    direct = _exactextract_direct(path, districts[["z", "geometry"]])
    ours = cov.coverage_fractions(districts.geometry.values, grid)
    _compare(_ours(ours), direct, 1e-6)
    # and the pixel sums are the polygons' areas (exact geometry)
    pixel = abs(grid.transform.a * grid.transform.e)
    np.testing.assert_allclose(
        ours.pixel_sum(len(districts)) * pixel, districts.area, rtol=1e-9
    )


def test_overlapping_large_and_small_zones_agree_with_exactextract(tmp_path):
    """Zones larger than a block (cut and packed), overlapping each other and
    extending beyond the grid: fractions and weights as exactextract gives
    them on the whole zones, cell by cell."""
    rng = np.random.default_rng(11)
    transform = Affine(10, 0, 0, 0, -10, 6000)
    path = write_tif(tmp_path / "big.tif", np.ones((600, 700)), transform, ALBERS)
    grid = cov.inspect_raster(path).grid
    big = shapely.Point(3500, 3000).buffer(2600, quad_segs=16)
    big = big.difference(shapely.Point(3300, 3100).buffer(700, quad_segs=5))
    pts = shapely.points(rng.uniform(-100, 7100, 60), rng.uniform(-100, 6100, 60))
    small = shapely.buffer(pts, rng.uniform(8, 120, 60), quad_segs=3)
    geoms = [big, shapely.box(-500, 2000, 7500, 2600), *small]  # all overlap
    gdf = gpd.GeoDataFrame({"z": range(len(geoms))}, geometry=geoms, crs=ALBERS)
    direct = _exactextract_direct(path, gdf)
    frac = cov.coverage_fractions(gdf.geometry.values, grid)
    _compare(_ours(frac), direct, 1e-6)
    weights = cov.zone_weights(gdf, grid)
    want = np.zeros(len(geoms))
    keys = np.array(list(direct))
    area = cov.pixel_area_m2(grid, keys[:, 1], keys[:, 2])
    np.add.at(want, keys[:, 0], np.array(list(direct.values())) * area)
    np.testing.assert_allclose(weights.covered_m2, want, rtol=1e-6)


# --------------------------------------------------------------------------
# ellipsoidal pixel areas
# --------------------------------------------------------------------------


@pytest.mark.parametrize("lat", [0.0, 60.0])
def test_geographic_pixel_area_matches_geod_at_two_latitudes(lat):
    grid = cov.Grid(
        CRS.from_epsg(4490), Affine(0.01, 0, 106, 0, -0.01, lat + 0.05), 4, 10
    )
    area = cov.pixel_area_m2(grid, np.arange(10), 0)
    for r in (0, 9):
        top = lat + 0.05 - 0.01 * r
        lon, la = densified_ring(106.0, top, 106.01, top - 0.01)
        assert area[r] == pytest.approx(geod_area(lon, la), rel=1e-7)
    assert area[0] != area[9]  # every row has its own area
    model = cov.PixelAreaModel.build(grid)
    np.testing.assert_allclose(model(np.arange(10), 2), area, rtol=1e-12)
    assert model.run_piece is None


def test_projected_pixel_area_matches_geod():
    grid = cov.Grid(
        CRS.from_epsg(4545), Affine(30, 0, 236940, 0, -30, 3564540), 15745, 14919
    )
    to_ll = Transformer.from_crs(4545, 4490, always_xy=True)
    t = grid.transform
    for r, c in [(100, 100), (7000, 8000), (14000, 15500)]:
        got = cov.pixel_area_m2(grid, r, c)
        u, v = densified_ring(c, r, c + 1, r + 1, 16)
        lon, lat = to_ll.transform(t.c + t.a * u, t.f + t.e * v)
        assert got == pytest.approx(geod_area(lon, lat), rel=1e-6)
        assert got < 900.0  # Gauss-Krüger enlarges areas off the meridian
    model = cov.PixelAreaModel.build(grid)
    rng = np.random.default_rng(3)
    rows, cols = rng.integers(0, grid.height, 500), rng.integers(0, grid.width, 500)
    np.testing.assert_allclose(
        model(rows, cols), cov.pixel_area_m2(grid, rows, cols), rtol=2e-7
    )


# --------------------------------------------------------------------------
# areas and coverage on hand-made rasters
# --------------------------------------------------------------------------


def _hand_raster(tmp_path, name, classes, crs=ALBERS, transform=None):
    transform = transform or Affine(10, 0, 0, 0, -10, 40)
    return write_tif(tmp_path / name, classes, transform, crs)


def test_coverage_by_hand_with_partial_pixels(tmp_path):
    # 4 x 6 pixels of 10 m (100 m²) in an equal-area CRS
    classes = [
        [2, 2, 1, 1, 5, 0],
        [2, 3, 1, 8, 5, 0],
        [2, 2, 2, 1, 5, 0],
        [1, 1, 1, 1, 5, 0],
    ]
    path = _hand_raster(tmp_path, "lc_2010.tif", classes)
    zone = shapely.box(5, 5, 55, 40)  # half of column 0 and of column 5; rows 0..3.5
    info = cov.inspect_raster(path)
    scheme = cov.read_class_scheme("clcd")
    weights = cov.zone_weights([zone], info.grid, crs=ALBERS)
    areas = cov.count_classes([info], weights, scheme, years=[2010])
    by_code = dict(zip(scheme.codes, areas.per_year[0, 0, : scheme.n], strict=True))
    # by hand: share of each pixel = column share [.5 1 1 1 1 .5] x row share
    # [1 1 1 .5]; each pixel is 100 m²
    forest = 100 * (0.5 + 1 + 0.5 + 0.5 + 1 + 1)  # code 2
    shrub = 100 * 1.0  # code 3
    crop = 100 * (2 + 1 + 1 + 0.25 + 0.5 + 0.5 + 0.5)  # code 1
    water = 100 * (1 + 1 + 1 + 0.5)  # code 5
    assert by_code[2] == pytest.approx(forest, rel=1e-8)
    assert by_code[3] == pytest.approx(shrub, rel=1e-8)
    assert by_code[1] == pytest.approx(crop, rel=1e-8)
    assert by_code[8] == pytest.approx(100.0, rel=1e-8)
    assert by_code[5] == pytest.approx(water, rel=1e-8)
    assert by_code[0] == pytest.approx(100 * 3.5 * 0.5, rel=1e-8)  # no-data column
    zones = cov.ZoneSet(
        "file",
        gpd.GeoDataFrame(geometry=[zone], crs=ALBERS),
        pd.DataFrame({"level": ["zone"], "zone_id": ["z"]}),
        np.eye(1),
        None,
    )
    table = cov.coverage_table(areas, zones, scheme)
    land = forest + shrub + crop + 100.0
    assert table["coverage_pct"].iloc[0] == pytest.approx(100 * (forest + shrub) / land)
    assert table["land_area_mu"].iloc[0] == pytest.approx(land / M2_PER_MU)
    assert table["water_area_mu"].iloc[0] == pytest.approx(water / M2_PER_MU)
    wet = cov.read_class_scheme("clcd", water_in_land=True)
    table = cov.coverage_table(cov.count_classes([info], weights, wet), zones, wet)
    assert table["land_area_mu"].iloc[0] == pytest.approx((land + water) / M2_PER_MU)


@pytest.mark.parametrize("as_type", [str, "path"])
def test_compute_coverage_takes_a_single_path(tmp_path, as_type):
    # 4 x 6 pixels of 10 m (100 m²) in an equal-area CRS, as above
    classes = [
        [2, 2, 1, 1, 5, 0],
        [2, 3, 1, 8, 5, 0],
        [2, 2, 2, 1, 5, 0],
        [1, 1, 1, 1, 5, 0],
    ]
    path = _hand_raster(tmp_path, "lc_2010.tif", classes)
    zone = shapely.box(5, 5, 55, 40)  # half of columns 0 and 5; rows 0..3.5
    zfile = tmp_path / "z.gpkg"
    frame = gpd.GeoDataFrame({"zone_id": ["z"], "z": [0]}, geometry=[zone], crs=ALBERS)
    frame.to_file(zfile)
    single = str(path) if as_type is str else path
    result = cov.compute_coverage(single, zones=zfile)
    assert list(result.years) == [2010]
    row = result.table[result.table["level"] == "zone"].iloc[0]
    # expected from exactextract called directly: area share of each pixel
    direct = _exactextract_direct(path, frame)
    flat = np.asarray(classes).ravel()
    by_code: dict[int, float] = {}
    for (_z, r, c), f in direct.items():
        code = int(flat[r * 6 + c])
        by_code[code] = by_code.get(code, 0.0) + 100.0 * f
    forest = by_code[2] + by_code[3]
    land = forest + by_code[1] + by_code[8]
    # and by hand: column share [.5 1 1 1 1 .5] x row share [1 1 1 .5]
    assert forest == pytest.approx(100 * (0.5 + 1 + 0.5 + 0.5 + 1 + 1 + 1.0))
    assert land == pytest.approx(forest + 100 * (2 + 1 + 1 + 0.25 + 0.5 * 3 + 1))
    assert row["coverage_pct"] == pytest.approx(100 * forest / land, rel=1e-6)
    assert row["land_area_mu"] == pytest.approx(land / M2_PER_MU, rel=1e-6)
    as_list = cov.compute_coverage([path], zones=zfile)
    pd.testing.assert_frame_equal(result.table, as_list.table)


def test_geographic_raster_at_two_latitudes(tmp_path):
    """Same pixels and polygon at the equator and at 60°N: areas differ by cos φ."""
    result = {}
    for lat in (0.0, 60.0):
        transform = Affine(0.01, 0, 106, 0, -0.01, lat + 0.03)
        classes = [[2, 2, 1], [2, 1, 1], [3, 1, 5]]
        path = write_tif(tmp_path / f"g{lat:.0f}_2010.tif", classes, transform, 4490)
        info = cov.inspect_raster(path)
        # covers columns 0..1.5 and rows 0.5..3 (a quarter... by hand below)
        zone = shapely.box(106.0, lat, 106.015, lat + 0.025)
        weights = cov.zone_weights([zone], info.grid, crs=4490)
        areas = cov.count_classes([info], weights, cov.read_class_scheme("clcd"))
        cell = []
        for r in range(3):
            top = lat + 0.03 - 0.01 * r
            lon, la = densified_ring(106.0, top, 106.01, top - 0.01)
            cell.append(geod_area(lon, la))
        # fractions: row 0 half (y 0.025..0.03 uncovered), columns 0 full, 1 half
        forest = 0.5 * cell[0] * (1 + 0.5) + cell[1] * 1.0  # code 2
        crop = cell[1] * 0.5 + cell[2] * 0.5  # code 1
        shrub = cell[2] * 1.0
        got = areas.per_year[0, 0]
        scheme = cov.read_class_scheme("clcd")
        idx = {c: i for i, c in enumerate(scheme.codes)}
        assert got[idx[2]] == pytest.approx(forest, rel=1e-7)
        assert got[idx[1]] == pytest.approx(crop, rel=1e-7)
        assert got[idx[3]] == pytest.approx(shrub, rel=1e-7)
        result[lat] = got.sum()
    assert result[60.0] / result[0.0] == pytest.approx(0.5, rel=0.01)


def test_two_years_transitions_by_hand(tmp_path):
    a = [[2, 2, 1], [1, 1, 8], [5, 3, 3]]
    b = [[2, 1, 2], [2, 1, 8], [5, 2, 8]]
    pa = _hand_raster(tmp_path, "x_2010.tif", a)
    pb = _hand_raster(tmp_path, "x_2015.tif", b)
    zone = gpd.GeoDataFrame(
        {"zone_id": ["all"]}, geometry=[shapely.box(0, 10, 30, 40)], crs=ALBERS
    )
    zfile = tmp_path / "zones.gpkg"
    zone.to_file(zfile)
    result = cov.compute_coverage([pa, pb], zones=zfile)
    tr = result.transitions
    tr = tr[tr["level"] == "zone"].set_index(["from_code", "to_code"])["area_mu"]
    mu = 100 / M2_PER_MU
    assert tr[("2", "1")] == pytest.approx(mu)
    assert tr[("1", "2")] == pytest.approx(2 * mu)
    assert tr[("3", "2")] == pytest.approx(mu)
    assert tr[("3", "8")] == pytest.approx(mu)
    assert tr[("2", "2")] == pytest.approx(mu)
    row = result.table[
        (result.table["level"] == "zone") & (result.table["year"] == 2015)
    ]
    # 2010: forest 2 + shrub 2 of land 8; 2015: forest 4 of land 8
    assert row["coverage_change_pp"].iloc[0] == pytest.approx(100 * (4 / 8 - 4 / 8))
    assert row["forest_gain_mu"].iloc[0] == pytest.approx(2 * mu)
    assert row["forest_loss_mu"].iloc[0] == pytest.approx(2 * mu)  # 2->1, 3->8


def test_weights_are_reused_across_years(sample_dir):
    lc = sample_dir / "landcover"
    infos = [cov.inspect_raster(lc / f"clcd_{y}.tif") for y in (2010, 2015)]
    scheme = cov.read_class_scheme("clcd")
    weights = cov.zone_weights(read_districts(), infos[0].grid)
    joint = cov.count_classes(infos, weights, scheme, years=[2010, 2015])
    for i, info in enumerate(infos):
        alone = cov.count_classes([info], weights, scheme)
        np.testing.assert_allclose(
            alone.per_year[:, 0], joint.per_year[:, i], rtol=1e-9
        )
    np.testing.assert_allclose(joint.joint.sum(axis=2), joint.per_year[:, 0], rtol=1e-9)


def test_threads_share_out_bands_without_losing_or_repeating_any(sample_dir):
    """1, 2 and 3 threads: the same areas, unknown counts and transitions."""
    lc = sample_dir / "landcover"
    infos = [cov.inspect_raster(lc / f"clcd_{y}.tif") for y in (2010, 2015)]
    scheme = cov.read_class_scheme("clcd")
    weights = cov.zone_weights(read_districts(), infos[0].grid)
    seen = []
    one = cov.count_classes(
        infos, weights, scheme, threads=1, progress=lambda d, t: seen.append((d, t))
    )
    assert seen[-1][0] == seen[-1][1] == len(seen)
    for n in (2, 3):
        seen.clear()
        many = cov.count_classes(
            infos,
            weights,
            scheme,
            threads=n,
            progress=lambda d, t: seen.append((d, t)),
        )
        np.testing.assert_allclose(many.per_year, one.per_year, rtol=1e-12, atol=1e-6)
        np.testing.assert_allclose(many.joint, one.joint, rtol=1e-12, atol=1e-6)
        assert many.unknown == one.unknown
        assert sorted(d for d, _ in seen) == list(range(1, len(seen) + 1))
        assert seen[-1][1] == len(seen)


def test_window_chunks_and_piece_areas_match_per_pixel_sums(sample_dir):
    """Small windows give the same sums; run pieces ~ exact per-pixel areas."""
    info = cov.inspect_raster(sample_dir / "landcover" / "clcd_2010.tif")
    scheme = cov.read_class_scheme("clcd")
    districts = read_districts()
    weights = cov.zone_weights(districts, info.grid)
    default = cov.count_classes([info], weights, scheme).per_year[:, 0]
    small = cov.count_classes([info], weights, scheme, window_pixels=256 * 256)
    np.testing.assert_allclose(small.per_year[:, 0], default, rtol=1e-12)
    # brute force: every covered pixel with its own exact ellipsoidal area
    local = districts.to_crs(info.grid.crs).geometry.values
    frac = cov.coverage_fractions(local, info.grid)
    zone = np.r_[np.repeat(frac.run_zone, frac.run_len), frac.part_zone]
    row = np.r_[np.repeat(frac.run_row, frac.run_len), frac.part_row]
    offset = np.arange(frac.run_len.sum()) - np.repeat(
        np.cumsum(frac.run_len) - frac.run_len, frac.run_len
    )
    col = np.r_[np.repeat(frac.run_col, frac.run_len) + offset, frac.part_col]
    share = np.r_[np.ones(frac.run_len.sum()), frac.part_frac]
    with rasterio.open(info.path) as src:
        classes = scheme.lut(src.nodata, max_code=255)[src.read(1)][row, col]
    exact = np.zeros((len(districts), scheme.size))
    np.add.at(exact, (zone, classes), share * cov.pixel_area_m2(info.grid, row, col))
    # each pixel's area is its run piece's (within 5e-5 by construction) ...
    np.testing.assert_allclose(default, exact, rtol=5e-5, atol=1e-3)
    # ... and the errors cancel in district totals
    np.testing.assert_allclose(default.sum(axis=1), exact.sum(axis=1), rtol=5e-6)


# --------------------------------------------------------------------------
# the sample: close to what it was generated with
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_result(sample_dir):
    lc = sample_dir / "landcover"
    return cov.compute_coverage([lc / "clcd_2010.tif", lc / "clcd_2015.tif"])


def test_sample_city_coverage_matches_manifest(sample_result, sample_manifest):
    table = sample_result.table
    city = table[table["adcode"] == cov.CITY_ADCODE].set_index("year")
    assert list(city["level"]) == ["city", "city"]
    for year in (2010, 2015):
        measured = sample_manifest["landcover"][str(year)]["city_coverage_pct"]
        assert abs(city.loc[year, "coverage_pct"] - measured) < 1.0
    assert abs(city.loc[2010, "coverage_pct"] - 37.0) < 1.0
    assert abs(city.loc[2015, "coverage_pct"] - 45.0) < 1.0
    # ellipsoidal area of the rasterised city ~ the polygons' area, 82,400 km²
    km2 = city.loc[2010, "measured_area_mu"] * M2_PER_MU / 1e6
    assert km2 == pytest.approx(
        city.loc[2010, "zone_area_mu"] * M2_PER_MU / 1e6, rel=1e-4
    )
    assert km2 == pytest.approx(82_400, rel=0.005)
    districts = table[(table["level"] == "district") & (table["year"] == 2010)]
    want = sample_manifest["landcover"]["2010"]["district_coverage_pct"]
    diff = districts.set_index("adcode")["coverage_pct"] - pd.Series(want)
    assert diff.abs().median() < 1.0  # manifest counts whole pixels by centre


def test_table_columns_and_city_row(sample_result):
    table = sample_result.table
    for column in (
        "adcode",
        "name_zh",
        "name_en",
        "year",
        "land_area_mu",
        "forest_area_mu",
        "coverage_pct",
        "coverage_change_pp",
    ):
        assert column in table.columns
    assert len(table) == 2 * 39
    city = table[table["level"] == "city"]
    districts = table[table["level"] == "district"]
    for year in (2010, 2015):
        d = districts[districts["year"] == year]
        c = city[city["year"] == year]
        assert d["forest_area_mu"].sum() == pytest.approx(c["forest_area_mu"].iloc[0])
    later = city[city["year"] == 2015]
    change = (
        later["coverage_pct"].iloc[0]
        - city[city["year"] == 2010]["coverage_pct"].iloc[0]
    )
    assert later["coverage_change_pp"].iloc[0] == pytest.approx(change)


def test_units_are_summed_from_districts(sample_dir):
    lc = sample_dir / "landcover"
    result = cov.compute_coverage([lc / "clcd_2015.tif"], zones="units")
    table = result.table.set_index("name_zh")
    assert np.isnan(table.loc["万盛经开区", "coverage_pct"])
    assert "inside 500110" in table.loc["万盛经开区", "note"]
    assert "万盛经开区" in table.loc["綦江区", "note"]
    assert table.loc["重庆市", "adcode"] == cov.CITY_ADCODE
    assert table.loc["大足区", "forest_area_mu"] > 0


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------


def test_raster_without_crs_is_refused_and_nothing_written(tmp_path):
    path = _hand_raster(tmp_path, "lc_2010.tif", [[1, 2], [2, 2]], crs=None)
    with pytest.raises(CRSError, match="no coordinate reference system"):
        cov.inspect_raster(path)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, ["coverage", str(path), "--out", str(out)])
    assert result.exit_code == 1
    assert "--crs" in result.output
    assert not out.exists()


def test_raster_outside_chongqing_is_refused(tmp_path):
    # a raster in Hubei's Wuhan area, EPSG:4490
    path = _hand_raster(
        tmp_path,
        "lc_2010.tif",
        np.full((20, 20), 2),
        crs=4490,
        transform=Affine(0.01, 0, 114.2, 0, -0.01, 30.7),
    )
    out = tmp_path / "out.csv"
    with pytest.raises(cov.NoOverlapError, match="does not overlap"):
        cov.compute_coverage([path])
    result = CliRunner().invoke(cli, ["coverage", str(path), "--out", str(out)])
    assert result.exit_code == 1
    assert "does not overlap" in result.output
    assert not out.exists()


def test_unknown_class_code_warns_with_pixel_count(tmp_path):
    path = _hand_raster(tmp_path, "lc_2010.tif", [[2, 2, 1], [1, 42, 42], [1, 1, 42]])
    zfile = tmp_path / "z.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.box(0, 10, 30, 40)], crs=ALBERS).to_file(zfile)
    with pytest.warns(cov.UnknownClassWarning, match=r"42 \(33\.3%, 3 px\)"):
        result = cov.compute_coverage([path], zones=zfile, max_unknown_pct=50)
    row = result.table[result.table["level"] == "zone"].iloc[0]
    assert row["excluded_area_mu"] == pytest.approx(300 / M2_PER_MU)
    assert row["coverage_pct"] == pytest.approx(100 * 2 / 6)


def test_mismatched_grids_refused_aligned_grids_handled(tmp_path):
    base = _hand_raster(tmp_path, "a_2010.tif", np.full((4, 4), 2))
    coarse = _hand_raster(
        tmp_path,
        "b_2015.tif",
        np.full((2, 2), 1),
        transform=Affine(20, 0, 0, 0, -20, 40),
    )
    zfile = tmp_path / "z.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 40, 40)], crs=ALBERS).to_file(zfile)
    with pytest.raises(cov.GridMismatchError, match="different pixel grids"):
        cov.compute_coverage([base, coarse], zones=zfile)
    out = tmp_path / "o.csv"
    result = CliRunner().invoke(
        cli,
        ["coverage", str(base), str(coarse), "--zones", str(zfile), "--out", str(out)],
    )
    assert result.exit_code == 1 and "gdalwarp" in result.output and not out.exists()
    # same grid shifted by whole pixels: read with no data outside its extent
    shifted = _hand_raster(
        tmp_path,
        "c_2015.tif",
        np.full((4, 4), 1),
        transform=Affine(10, 0, 20, 0, -10, 40),
    )
    res = cov.compute_coverage([base, shifted], zones=zfile)
    row = res.table[(res.table["level"] == "zone") & (res.table["year"] == 2015)].iloc[
        0
    ]
    assert row["land_area_mu"] == pytest.approx(800 / M2_PER_MU)  # 2 of 4 columns
    assert row["excluded_area_mu"] == pytest.approx(800 / M2_PER_MU)


def test_year_needed_and_bad_class_table(tmp_path):
    path = _hand_raster(tmp_path, "landcover.tif", [[1]])
    with pytest.raises(ForestsinkError, match=r"years=\[Y\]") as err:
        cov.compute_coverage([path])
    assert err.value.option == "years" and "--year" not in str(err.value)
    bad = tmp_path / "classes.csv"
    bad.write_text("code,counts_as\n2,forest\n3,bush\n", encoding="utf-8")
    with pytest.raises(cov.CoverageError, match=r"row 3, column 'counts_as'"):
        cov.read_class_scheme("custom", bad)
    with pytest.raises(cov.CoverageError, match="needs a class table"):
        cov.read_class_scheme("custom")


def test_class_file_overrides_preset(tmp_path):
    own = tmp_path / "own.csv"
    own.write_text(
        "code,counts_as,name_en\n3,land,shrub (not forest)\n", encoding="utf-8"
    )
    scheme = cov.read_class_scheme("clcd", own)
    assert dict(zip(scheme.codes, scheme.counts_as, strict=True))[3] == "land"
    assert dict(zip(scheme.codes, scheme.counts_as, strict=True))[2] == "forest"
    for product in ("worldcover", "globeland30"):
        preset = cov.read_class_scheme(product)
        kinds = dict(zip(preset.codes, preset.counts_as, strict=True))
        assert kinds[10 if product == "worldcover" else 20] == "forest"
        assert kinds[20 if product == "worldcover" else 40] == "shrub_forest"
        assert kinds[80 if product == "worldcover" else 60] == "water"


def test_year_from_name():
    assert cov.year_from_name("clcd_2010.tif") == 2010
    with pytest.raises(cov.CoverageError, match="several years"):
        cov.year_from_name("change_2010_2015.tif")


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def test_cli_two_years_outputs(sample_dir, tmp_path):
    lc = sample_dir / "landcover"
    out = tmp_path / "cov.csv"
    overlay = tmp_path / "map" / "overlay.png"
    result = CliRunner().invoke(
        cli,
        [
            "coverage",
            str(lc / "clcd_2010.tif"),
            str(lc / "clcd_2015.tif"),
            "--product",
            "clcd",
            "--out",
            str(out),
            "--overlay",
            str(overlay),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "500000" in result.output and "重庆市" in result.output
    table = pd.read_csv(out, dtype={"adcode": str})
    assert table[table["adcode"] == "500000"].shape[0] == 2
    transitions = pd.read_csv(tmp_path / "cov_transitions.csv", dtype={"adcode": str})
    assert {"from_code", "to_code", "area_mu"} <= set(transitions.columns)
    meta = json.loads(overlay.with_suffix(".json").read_text(encoding="utf-8"))
    (south, west), (north, east) = meta["bounds"]
    assert 27.5 < south < north < 32.5 and 105 < west < east < 110.5
    assert overlay.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {item["value"] for item in meta["legend"]} >= {0, 1, 2}


def test_cli_layer_and_xlsx(sample_dir, tmp_path):
    raster = sample_dir / "landcover" / "clcd_2015.tif"
    gpkg = tmp_path / "cov.gpkg"
    result = CliRunner().invoke(cli, ["coverage", str(raster), "--out", str(gpkg)])
    assert result.exit_code == 0, result.output
    layer = gpd.read_file(gpkg, layer="coverage")
    assert len(layer) == 39 and layer.crs.to_epsg() == 4490
    xlsx = tmp_path / "cov.xlsx"
    result = CliRunner().invoke(
        cli, ["coverage", str(raster), "--year", "2015", "--out", str(xlsx)]
    )
    assert result.exit_code == 0, result.output
    sheets = pd.read_excel(xlsx, sheet_name=None)
    assert set(sheets) == {"coverage", "classes"}


def test_cli_rejects_bad_out_suffix(tmp_path):
    path = _hand_raster(tmp_path, "lc_2010.tif", [[1]])
    result = CliRunner().invoke(
        cli, ["coverage", str(path), "--out", str(tmp_path / "x.txt")]
    )
    assert result.exit_code == 2


# --------------------------------------------------------------------------
# dask engine
# --------------------------------------------------------------------------


# ``dask_client``: the session's two-worker LocalCluster (conftest.py)


@pytest.mark.parametrize("n_years", [1, 2])
def test_dask_engine_equals_local(sample_dir, dask_client, n_years):
    """Row bands on two workers give the local engine's areas (rel. 1e-6)."""
    lc = sample_dir / "landcover"
    infos = [cov.inspect_raster(lc / f"clcd_{y}.tif") for y in (2010, 2015)]
    infos = infos[:n_years]
    scheme = cov.read_class_scheme("clcd")
    districts = read_districts()
    weights = cov.zone_weights(districts, infos[0].grid)
    local = cov.count_classes(infos, weights, scheme)
    # bands of one block row each: many band edges cross the districts
    got, covered, pixels = count_classes_dask(
        infos, districts, scheme, partitions=7, client=dask_client
    )
    scale = local.per_year.max()
    np.testing.assert_allclose(
        got.per_year, local.per_year, rtol=1e-6, atol=1e-9 * scale
    )
    np.testing.assert_allclose(covered, weights.covered_m2, rtol=1e-6)
    if n_years == 2:
        np.testing.assert_allclose(got.joint, local.joint, rtol=1e-6, atol=1e-9 * scale)
    assert got.unknown == local.unknown
    assert pixels == weights.pixels


def test_cli_dask_engine(sample_dir, tmp_path, dask_client):
    lc = sample_dir / "landcover"
    out = tmp_path / "cov.csv"
    args = [str(lc / "clcd_2010.tif"), "--engine", "dask", "--partitions", "3"]
    address = dask_client.scheduler.address
    res = CliRunner().invoke(
        cli, ["coverage", *args, "--scheduler", address, "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    dask_table = pd.read_csv(out, dtype={"adcode": str})
    local = cov.compute_coverage([lc / "clcd_2010.tif"]).table
    np.testing.assert_allclose(
        dask_table["coverage_pct"], local["coverage_pct"], rtol=1e-6
    )
