"""Zones as runs of pixel centres (forestsink.sampling.zone_runs, issue 18).

The oracle is GDAL: :func:`rasterio.features.rasterize` (centre rule, no
``all_touched``) burns the same polygons on the same grid; the runs must give
every pixel the zone GDAL gives it. The design's strata are checked against
pixel counts of the array under GDAL's zone raster.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning
from rasterio.features import rasterize
from test_sampling import write_tif as sampling_tif

from forestsink.sampling.design import design_sample
from forestsink.sampling.zone_runs import pieces, zone_runs

# a 30 m grid in EPSG:4545 near 沙坪坝 (as tests/test_sampling.py)
X0, Y0 = 591_400.0, 3_275_300.0
TRANSFORM = Affine(30.0, 0.0, X0, 0.0, -30.0, Y0)


def gdal_zones(geoms, shape, transform=TRANSFORM) -> np.ndarray:
    shapes = [(g, i + 1) for i, g in enumerate(geoms) if not g.is_empty]
    if not shapes:
        return np.zeros(shape, dtype=np.int32)
    return rasterize(
        shapes, out_shape=shape, transform=transform, fill=0, dtype="int32"
    )


def runs_zones(geoms, shape, transform=TRANSFORM) -> np.ndarray:
    runs = zone_runs(geoms, transform, *shape)
    return runs.window(0, shape[0], 0, shape[1], dtype="int32")


def star(cx, cy, r_out, r_in, n, rng) -> shapely.Polygon:
    angle = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False) + rng.random()
    r = np.where(np.arange(2 * n) % 2 == 0, r_out, r_in) * rng.uniform(0.7, 1.3, 2 * n)
    return shapely.Polygon(np.c_[cx + r * np.cos(angle), cy + r * np.sin(angle)])


@pytest.mark.parametrize("seed", range(6))
def test_runs_burn_what_gdal_burns(seed):
    rng = np.random.default_rng(seed)
    shape = (157, 203)
    geoms = []
    for _ in range(5):
        cx = X0 + rng.uniform(-300, 203 * 30 + 300)  # some reach past the grid
        cy = Y0 - rng.uniform(-300, 157 * 30 + 300)
        outer = star(cx, cy, rng.uniform(300, 2500), rng.uniform(100, 900), 9, rng)
        hole = shapely.Point(cx, cy).buffer(rng.uniform(30, 90))
        geoms.append(outer.difference(hole))
    # a multipolygon, overlapping zones (the later one wins, as in GDAL)
    geoms.append(shapely.union(geoms[0].buffer(-200), star(X0, Y0, 900, 400, 5, rng)))
    assert (runs_zones(geoms, shape) == gdal_zones(geoms, shape)).all()


def test_runs_on_pixel_lines_and_centres_burn_what_gdal_burns():
    # edges along pixel boundaries and along centre lines (GDAL fills a
    # bottom horizontal edge that lies exactly on a centre line)
    shape = (40, 50)
    px = 30.0
    geoms = [
        shapely.box(X0 + 3 * px, Y0 - 20 * px, X0 + 17 * px, Y0 - 2 * px),
        shapely.box(X0 + 20.5 * px, Y0 - 30.5 * px, X0 + 40.5 * px, Y0 - 10.5 * px),
        shapely.Polygon(
            [
                (X0 + 5.5 * px, Y0 - 38.5 * px),
                (X0 + 45.5 * px, Y0 - 38.5 * px),
                (X0 + 25.5 * px, Y0 - 24.5 * px),
            ]
        ),
        shapely.Polygon(),  # an empty zone burns nothing
    ]
    mine = runs_zones(geoms, shape)
    assert (mine == gdal_zones(geoms, shape)).all()
    # by hand: box 1 holds the centres of columns 3-16, rows 2-19
    assert (mine[2:20, 3:17] == 1).all() and mine[1, 3] == 0 and mine[2, 17] == 0


@pytest.mark.parametrize("flip_outer", [False, True])
@pytest.mark.parametrize("flip_hole", [False, True])
def test_ring_orientation_does_not_matter(flip_outer, flip_hole):
    # a hole whose edges lie on centre lines, rings either way round
    px = 30.0
    outer = list(
        shapely.box(
            X0 + 2.5 * px, Y0 - 35.5 * px, X0 + 45.5 * px, Y0 - 3.5 * px
        ).exterior.coords
    )
    hole = list(
        shapely.box(
            X0 + 10.5 * px, Y0 - 25.5 * px, X0 + 30.5 * px, Y0 - 12.5 * px
        ).exterior.coords
    )
    geom = shapely.Polygon(
        outer[::-1] if flip_outer else outer, [hole[::-1] if flip_hole else hole]
    )
    shape = (40, 50)
    assert (runs_zones([geom], shape) == gdal_zones([geom], shape)).all()


def test_a_window_of_the_runs_is_the_same_pixels():
    rng = np.random.default_rng(7)
    geoms = [star(X0 + 3000, Y0 - 2000, 2500, 900, 11, rng)]
    shape = (120, 180)
    runs = zone_runs(geoms, TRANSFORM, *shape)
    full = runs.window(0, 120, 0, 180, dtype="int32")
    part = runs.window(33, 41, 57, 77, scale=5, dtype="int32")
    assert (part == full[33:74, 57:134] * 5).all()


def test_pieces_partition_a_window_by_zone_and_block():
    # two runs in row 0 of a 2 x 10 window at column 100 of the grid, cut at
    # multiples of 4 columns: zone 1 on cols 101-106, zone 2 on cols 107-108
    geoms = [
        shapely.box(X0 + 101 * 30, Y0 - 30, X0 + 107 * 30, Y0),
        shapely.box(X0 + 107 * 30, Y0 - 30, X0 + 109 * 30, Y0),
    ]
    runs = zone_runs(geoms, TRANSFORM, 2, 120)
    start, zone, col = pieces(runs, 0, 2, 100, 10, 4)
    # by hand: gap [0], zone 1 from 1 (cols 101-103) and 4 (104-106), zone 2
    # from 7 (col 107) and 8 (col 108, a multiple of 4), gap from 9 to the
    # end of the window (row 1 included)
    assert start.tolist() == [0, 1, 4, 7, 8, 9]
    assert zone.tolist() == [-1, 1, 1, 2, 2, -1]
    assert col[1:5].tolist() == [101, 104, 107, 108]
    whole, zero, _ = pieces(None, 0, 2, 100, 10, 4)
    # no zones: each row cut at columns 100, 104, 108 (flat 0, 4, 8; 10, ...)
    assert whole.tolist() == [0, 4, 8, 10, 14, 18]
    assert (zero == 0).all()


# ---------------------------------------------------------------------------
# the design with irregular zones: strata against GDAL's zone raster
# ---------------------------------------------------------------------------


def write_tif(path, array, dtype="uint8"):
    """A map on this module's grid (test_sampling's writer)."""
    return str(sampling_tif(path, array, transform=TRANSFORM, dtype=dtype))


def map_classes(a, b) -> tuple[dict, np.ndarray]:
    """The oracle: each pixel's change class from the two maps (2 = forest)."""
    f1, f2 = a == 2, b == 2
    cls = {
        "stable_forest": f1 & f2,
        "gain": ~f1 & f2,
        "loss": f1 & ~f2,
        "stable_non_forest": ~f1 & ~f2,
    }
    return cls, (a != 0) & (b != 0)


@pytest.fixture
def irregular(tmp_path):
    rng = np.random.default_rng(11)
    shape = (300, 400)
    a = rng.choice([2, 1, 5, 0], size=shape, p=[0.5, 0.4, 0.05, 0.05])
    b = a.copy()
    flip = rng.random(shape) < 0.08
    b[flip & (a == 2)] = 1
    b[flip & (a == 1)] = 2
    geoms = [
        star(X0 + 4000, Y0 - 4000, 3500, 1500, 13, rng),
        star(X0 + 8000, Y0 - 5000, 3000, 1200, 7, rng),
    ]
    gpd.GeoDataFrame({"zone_id": ["a", "b"]}, geometry=geoms, crs=4545).to_file(
        tmp_path / "zones.gpkg"
    )
    return (
        write_tif(tmp_path / "y1.tif", a),
        write_tif(tmp_path / "y2.tif", b),
        a,
        b,
        gdal_zones(geoms, shape),
        str(tmp_path / "zones.gpkg"),
    )


def test_design_strata_are_gdals_zones_by_the_maps(irregular):
    p1, p2, a, b, zone, zones = irregular
    d = design_sample([p1, p2], n=300, seed=4, zones=zones, min_per_stratum=10)
    cls, valid = map_classes(a, b)
    s = d.strata.set_index("stratum")
    for z, name in ((1, "a"), (2, "b")):
        for c, mask in cls.items():
            expected = int((mask & valid & (zone == z)).sum())
            assert s.loc[f"{name}_{c}", "n_pixels"] == expected
    pts = d.points
    # every point in its stratum's zone and class, by GDAL's zone raster
    z_of = {"a": 1, "b": 2}
    assert (zone[pts["row"], pts["col"]] == pts["adcode"].map(z_of)).all()
    for c, mask in cls.items():
        mine = pts["map_class"] == c
        assert mask[pts.loc[mine, "row"], pts.loc[mine, "col"]].all()
    # the sample does not depend on the band height or the threads
    other = design_sample(
        [p1, p2],
        n=300,
        seed=4,
        zones=zones,
        min_per_stratum=10,
        window_pixels=1,
        threads=3,
    )
    pd.testing.assert_frame_equal(d.points, other.points)
    pd.testing.assert_frame_equal(d.strata, other.strata)


def test_design_in_threads_touches_no_warning_filter(irregular, monkeypatch, recwarn):
    # warnings.catch_warnings() swaps the process-wide filter list, so a
    # thread using it can drop or revive another thread's filters: the
    # design (threads of pass 1 included) must not call it, nor warn
    import sys

    p1, p2, _, _, _, zones = irregular
    callers = []
    real = warnings.catch_warnings

    def spy(*args, **kwargs):
        callers.append(sys._getframe(1).f_globals.get("__name__", ""))
        return real(*args, **kwargs)

    monkeypatch.setattr(warnings, "catch_warnings", spy)
    design_sample([p1, p2], n=100, seed=1, zones=zones, threads=2)
    assert [c for c in callers if c.startswith("forestsink.sampling")] == []
    assert not [w for w in recwarn if w.category is NotGeoreferencedWarning]


def test_design_on_16_bit_maps(tmp_path):
    # 16-bit rasters take the per-map lookups (not the 8-bit pair table);
    # strata and points checked against the arrays
    rng = np.random.default_rng(5)
    shape = (130, 170)
    a = rng.choice([2, 1, 5, 0], size=shape, p=[0.5, 0.4, 0.05, 0.05])
    b = np.where(rng.random(shape) < 0.1, 3 - np.clip(a, 1, 2), a)
    b[a == 0] = 0
    paths = [
        write_tif(tmp_path / f"{name}.tif", arr, dtype="uint16")
        for name, arr in (("y1", a), ("y2", b))
    ]
    d = design_sample(paths, n=200, seed=3, min_per_stratum=10)
    cls, valid = map_classes(a, b)
    s = d.strata.set_index("stratum")
    for c, mask in cls.items():
        assert s.loc[c, "n_pixels"] == int((mask & valid).sum())
        pts = d.points[d.points["map_class"] == c]
        assert (mask & valid)[pts["row"], pts["col"]].all()
