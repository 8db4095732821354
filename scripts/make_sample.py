#!/usr/bin/env python
"""Generate the deterministic forestsink sample data set.

Usage::

    python scripts/make_sample.py --out DIR [--seed 2012] [--resolution 300]

Everything is synthetic, drawn from seeded random generators over the real
district boundaries in ``data/districts.gpkg``. The same seed and resolution
give byte-identical files. Under ``DIR`` it writes:

``landcover/clcd_2010.tif``, ``landcover/clcd_2015.tif``
    CLCD-coded land cover (1 cropland, 2 forest, 3 shrub, 4 grassland, 5 water,
    6 snow/ice, 7 barren, 8 impervious, 9 wetland; 0 = nodata outside
    Chongqing), uint8, EPSG:4545 (CGCS2000 / 3-degree Gauss-Kruger CM 108E),
    grid aligned to the resolution, 256x256 tiles, DEFLATE. The 2015 map is
    derived from the 2010 map (gain of forest on cropland, grassland, barren
    and wetland; a little loss to impervious; shrub maturing to forest).
``deliveries/<year>/...``
    One project-polygon delivery per district and year (38 x 5) in the messy
    shape real deliveries have: Shapefiles in GBK (with and without ``.cpg``)
    or UTF-8, zipped Shapefiles, GeoPackages, GeoJSON; Chinese column names
    that vary; CGCS2000, Gauss-Kruger zones with and without zone prefix,
    Xi'an 1980, WGS 84; and a list of deliberate defects.
``deliveries/corrections/...``, ``deliveries/withdrawals.csv``
    A re-delivery that replaces one earlier polygon, and one withdrawal.
``inventory/...``
    Forest-resource (小班) layers for 2010 and 2015, per district, with
    defects apart (``scripts/make_inventory_sample.py``; manifest key
    ``inventory``).
``truth.csv``
    One row per delivered feature: file, row, id, true type, true area.
``manifest.json``
    Machine-readable description of all of the above (see ``build_manifest``).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import math
import shutil
import sys
import tempfile
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely
from affine import Affine
from pyproj import CRS, Geod, Transformer
from rasterio.features import rasterize
from rasterio.windows import Window
from shapely import affinity
from shapely.geometry import LineString, MultiPolygon, Polygon, box

GENERATOR_VERSION = "1.0.0"
ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data"
YEARS = (2011, 2012, 2013, 2014, 2015)
FIXED_DATE = "2015-12-31"
FIXED_DATETIME = "2015-12-31T00:00:00Z"
ZIP_DATE_TIME = (2015, 12, 31, 0, 0, 0)
M2_TO_MU = 15.0 / 10_000.0
GEOD = Geod(ellps="GRS80")
Progress = Callable[[str], None]

# ---------------------------------------------------------------------------
# Land cover
# ---------------------------------------------------------------------------

RASTER_EPSG = 4545
CROPLAND, FOREST, SHRUB, GRASSLAND, WATER = 1, 2, 3, 4, 5
SNOW, BARREN, IMPERVIOUS, WETLAND = 6, 7, 8, 9
CLASS_NAMES = {
    1: "cropland",
    2: "forest",
    3: "shrub",
    4: "grassland",
    5: "water",
    6: "snow_ice",
    7: "barren",
    8: "impervious",
    9: "wetland",
}
FOREST_CLASSES = (FOREST, SHRUB)
COLORMAP = {
    0: (0, 0, 0, 0),
    1: (250, 227, 156, 255),
    2: (68, 111, 51, 255),
    3: (51, 160, 44, 255),
    4: (171, 211, 123, 255),
    5: (30, 105, 180, 255),
    6: (166, 230, 255, 255),
    7: (249, 160, 255, 255),
    8: (228, 26, 28, 255),
    9: (26, 255, 255, 255),
}
CITY_TARGET_PCT = {2010: 37.0, 2015: 45.0}
URBAN_CORE = ("500103", "500104", "500105", "500108")
MAIN_CITY_RING = ("500106", "500107", "500109", "500112", "500113")
# Base profile of forest coverage (%) in 2010 and its 2011-2015 gain (pp), before
# the city-wide shift/scale that makes the totals land on 37 % and 45 %.
BASE_COVERAGE = {
    "500101": (38, 9),
    "500102": (36, 9),
    "500103": (10, 3),
    "500104": (15, 5),
    "500105": (18, 5),
    "500106": (28, 6),
    "500107": (24, 6),
    "500108": (22, 5),
    "500109": (40, 7),
    "500110": (40, 9),
    "500111": (24, 10),
    "500112": (30, 8),
    "500113": (36, 8),
    "500114": (50, 8),
    "500115": (28, 9),
    "500116": (40, 9),
    "500117": (25, 10),
    "500118": (30, 9),
    "500119": (45, 8),
    "500120": (30, 9),
    "500151": (24, 10),
    "500152": (18, 10),
    "500153": (22, 10),
    "500154": (42, 9),
    "500155": (32, 10),
    "500156": (50, 8),
    "500229": (60, 6),
    "500230": (38, 9),
    "500231": (22, 10),
    "500233": (32, 10),
    "500235": (40, 9),
    "500236": (44, 8),
    "500237": (50, 7),
    "500238": (58, 6),
    "500240": (48, 8),
    "500241": (45, 8),
    "500242": (55, 7),
    "500243": (50, 8),
}
FIELD_STEP = 250.0  # metres between nodes of the smooth random fields
PIXEL_TEXTURE = 0.2  # amplitude of the per-pixel hashed noise added to s, v, w
S_OCTAVES = ((24000.0, 1.0), (8000.0, 0.8), (2500.0, 0.55), (800.0, 0.35), (250.0, 0.2))
U_OCTAVES = ((3000.0, 1.0), (800.0, 0.5))
V_OCTAVES = ((6000.0, 1.0), (1500.0, 0.7), (500.0, 0.4))
W_OCTAVES = ((4000.0, 1.0), (1000.0, 0.6), (300.0, 0.3))
U_2010, U_2015 = 0.55, 0.47  # urban intensity above which land is impervious
SHRUB_W = {2010: 1.036, 2015: 1.175}  # ~15 % / ~12 % of forest is shrub
WET_W = 1.0
V_GRASS, V_BARREN = 0.842, 1.645  # 80 % cropland, 15 % grassland, 5 % barren
BLOCK = 1024
# Rough courses (lon, lat) and widths (m) of the main rivers; meandered by noise.
RIVERS = (
    (
        "长江",
        900.0,
        (
            (105.60, 28.86),
            (105.85, 29.02),
            (106.03, 29.10),
            (106.26, 29.29),
            (106.43, 29.43),
            (106.58, 29.56),
            (106.80, 29.62),
            (107.07, 29.82),
            (107.39, 29.71),
            (107.73, 29.87),
            (108.04, 30.30),
            (108.38, 30.81),
            (108.70, 30.94),
            (109.12, 30.98),
            (109.47, 31.03),
            (109.88, 31.08),
            (110.40, 31.04),
        ),
    ),
    (
        "嘉陵江",
        450.0,
        (
            (106.25, 30.55),
            (106.30, 30.20),
            (106.27, 29.99),
            (106.43, 29.83),
            (106.47, 29.65),
            (106.58, 29.56),
        ),
    ),
    (
        "乌江",
        350.0,
        (
            (108.60, 28.50),
            (108.45, 28.90),
            (108.17, 29.29),
            (107.76, 29.33),
            (107.55, 29.50),
            (107.39, 29.71),
        ),
    ),
    (
        "涪江",
        250.0,
        ((105.55, 30.45), (105.84, 30.19), (106.05, 30.08), (106.27, 29.99)),
    ),
    ("大宁河", 150.0, ((109.40, 31.60), (109.62, 31.40), (109.88, 31.08))),
    ("小江", 200.0, ((108.20, 31.30), (108.41, 31.16), (108.70, 30.94))),
    (
        "綦江",
        150.0,
        ((106.70, 28.55), (106.65, 28.97), (106.45, 29.15), (106.26, 29.29)),
    ),
)


def _rng(seed: int, *keys: object) -> np.random.Generator:
    """Return an independent generator for one component of the sample."""
    ints = [zlib.crc32(str(k).encode("utf-8")) for k in keys]
    return np.random.default_rng(np.random.SeedSequence([int(seed), *ints]))


def load_districts(data_dir: Path = DATA_DIR) -> gpd.GeoDataFrame:
    """Read the 38 district polygons (EPSG:4490) joined to districts.csv."""
    gdf = gpd.read_file(data_dir / "districts.gpkg", layer="districts")
    tab = pd.read_csv(data_dir / "districts.csv", dtype=str)
    gdf["adcode"] = gdf["adcode"].astype(str)
    gdf = gdf[["adcode", "geometry"]].merge(tab, on="adcode", how="inner")
    gdf = gdf.sort_values("adcode").reset_index(drop=True)
    if len(gdf) != 38:
        raise ValueError(f"expected 38 districts, found {len(gdf)}")
    return gdf


def _bspline_weights(t: np.ndarray) -> tuple[np.ndarray, ...]:
    t2 = t * t
    t3 = t2 * t
    return (
        (1.0 - t) ** 3 / 6.0,
        (3.0 * t3 - 6.0 * t2 + 4.0) / 6.0,
        (-3.0 * t3 + 3.0 * t2 + 3.0 * t + 1.0) / 6.0,
        t3 / 6.0,
    )


def _bspline_eval(grid, gx0, gy0, step, xs, ys) -> np.ndarray:
    """Evaluate a cubic B-spline surface over ``grid`` at the mesh ``ys x xs``.

    Node ``grid[i, j]`` sits at ``(gx0 + j * step, gy0 - i * step)``. Only
    elementwise float32 arithmetic is used (no BLAS), so results are exactly
    reproducible.
    """
    px = (np.asarray(xs, dtype=np.float64) - gx0) / step
    py = (gy0 - np.asarray(ys, dtype=np.float64)) / step
    ix = np.floor(px).astype(np.int64)
    iy = np.floor(py).astype(np.int64)
    wx = _bspline_weights((px - ix).astype(np.float32))
    wy = _bspline_weights((py - iy).astype(np.float32))
    ny, nx = grid.shape
    r0 = max(int(iy.min()) - 1, 0)
    r1 = min(int(iy.max()) + 3, ny)
    sub = grid[r0:r1]
    tmp = np.zeros((sub.shape[0], len(px)), dtype=np.float32)
    for k in range(4):
        tmp += sub[:, np.clip(ix + k - 1, 0, nx - 1)] * wx[k]
    out = np.zeros((len(py), len(px)), dtype=np.float32)
    for k in range(4):
        out += tmp[np.clip(iy + k - 1 - r0, 0, sub.shape[0] - 1)] * wy[k][:, None]
    return out


@dataclass(frozen=True)
class Fields:
    """Smooth random fields on a regular node grid in EPSG:4545 metres.

    ``s`` forest propensity (low = forest), ``u`` urban intensity (about 0-1),
    ``v`` non-forest class noise, ``w`` shrub / wetland noise.
    """

    x0: float
    y0: float
    step: float
    s: np.ndarray
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray

    salt: int = 0

    def sample(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, ...]:
        """Evaluate the four fields at the mesh of ``ys`` (rows) x ``xs``.

        ``s``, ``v`` and ``w`` get a little pixel-scale texture: a hash of the
        point's coordinates (rounded to metres), so it does not depend on the
        resolution either.
        """
        s, u, v, w = (
            _bspline_eval(g, self.x0, self.y0, self.step, xs, ys)
            for g in (self.s, self.u, self.v, self.w)
        )
        a, b = _hash_uniforms(xs, ys, self.salt)
        tri = a + b - np.float32(1.0)  # triangular on (-1, 1), std 0.41
        s += np.float32(PIXEL_TEXTURE) * tri
        u += np.float32(PIXEL_TEXTURE / 4) * tri
        v += np.float32(PIXEL_TEXTURE) * (a - b)
        w += np.float32(PIXEL_TEXTURE) * (b - a)
        return s, u, v, w


def _hash_uniforms(xs, ys, salt: int) -> tuple[np.ndarray, np.ndarray]:
    """Two uniform [0, 1) float32 arrays hashed from point coordinates."""
    kx = np.round(np.asarray(xs)).astype(np.int64).view(np.uint64)
    ky = np.round(np.asarray(ys)).astype(np.int64).view(np.uint64)
    h = (ky[:, None] * np.uint64(0x9E3779B97F4A7C15)) ^ (
        kx[None, :] * np.uint64(0xC2B2AE3D27D4EB4F)
    )
    h ^= np.uint64(salt)
    for mult in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        h ^= h >> np.uint64(33)
        h *= np.uint64(mult)
    h ^= h >> np.uint64(33)
    scale = np.float32(2.0**-32)
    lo = (h & np.uint64(0xFFFFFFFF)).astype(np.float32) * scale
    hi = (h >> np.uint64(32)).astype(np.float32) * scale
    return lo, hi


def build_fields(districts_4545: gpd.GeoDataFrame, seed: int) -> Fields:
    """Build the smooth fields; they do not depend on the output resolution."""
    rng = _rng(seed, "landcover-fields")
    minx, miny, maxx, maxy = districts_4545.total_bounds
    pad = 20_000.0
    x0 = math.floor((minx - pad) / 10_000.0) * 10_000.0
    x1 = math.ceil((maxx + pad) / 10_000.0) * 10_000.0
    y1 = math.floor((miny - pad) / 10_000.0) * 10_000.0
    y0 = math.ceil((maxy + pad) / 10_000.0) * 10_000.0
    nx = round((x1 - x0) / FIELD_STEP) + 1
    ny = round((y0 - y1) / FIELD_STEP) + 1
    xs = x0 + np.arange(nx) * FIELD_STEP
    ys = y0 - np.arange(ny) * FIELD_STEP

    def noise(octaves) -> np.ndarray:
        total = np.zeros((ny, nx), dtype=np.float32)
        for step, amp in octaves:
            n_ox = math.ceil((x1 - x0) / step) + 6
            n_oy = math.ceil((y0 - y1) / step) + 6
            g = rng.standard_normal((n_oy, n_ox)).astype(np.float32)
            gx0, gy0 = x0 - 2 * step, y0 + 2 * step
            total += np.float32(amp) * _bspline_eval(g, gx0, gy0, step, xs, ys)
        mean = float(total.mean(dtype=np.float64))
        std = float(total.std(dtype=np.float64))
        return ((total - np.float32(mean)) / np.float32(std)).astype(np.float32)

    s_noise = noise(S_OCTAVES)
    u_noise = noise(U_OCTAVES)
    v = noise(V_OCTAVES)
    w = noise(W_OCTAVES)

    # Urban intensity: Gaussian bumps at the main city and at each district's
    # representative point (a stand-in for the county seat).
    bumps = np.zeros((ny, nx), dtype=np.float32)
    to_grid = Transformer.from_crs(4490, RASTER_EPSG, always_xy=True)
    centres = [(*to_grid.transform(106.55, 29.56), 1.0, 9000.0)]
    for adcode, geom in zip(
        districts_4545["adcode"], districts_4545.geometry, strict=True
    ):
        pt = geom.representative_point()
        core = adcode in URBAN_CORE or adcode in MAIN_CITY_RING
        centres.append((pt.x, pt.y, 0.95 if core else 0.75, 4000.0 if core else 2200.0))
    for cx, cy, amp, sigma in centres:
        j0 = max(int((cx - 4 * sigma - x0) / FIELD_STEP), 0)
        j1 = min(int((cx + 4 * sigma - x0) / FIELD_STEP) + 2, nx)
        i0 = max(int((y0 - cy - 4 * sigma) / FIELD_STEP), 0)
        i1 = min(int((y0 - cy + 4 * sigma) / FIELD_STEP) + 2, ny)
        dx = xs[j0:j1] - cx
        dy = ys[i0:i1] - cy
        d2 = dy[:, None] ** 2 + dx[None, :] ** 2
        bump = (amp * np.exp(-d2 / (2.0 * sigma * sigma))).astype(np.float32)
        np.maximum(bumps[i0:i1, j0:j1], bump, out=bumps[i0:i1, j0:j1])
    u = (bumps + np.float32(0.08) * u_noise).astype(np.float32)
    s = (s_noise + np.float32(1.6) * u).astype(np.float32)
    salt = int(rng.integers(0, 2**63))
    return Fields(x0=x0, y0=y0, step=FIELD_STEP, s=s, u=u, v=v, w=w, salt=salt)


def build_rivers(seed: int) -> tuple[shapely.Geometry, shapely.Geometry]:
    """Return (water, riparian zone) polygons in EPSG:4545."""
    rng = _rng(seed, "rivers")
    tr = Transformer.from_crs(4490, RASTER_EPSG, always_xy=True)
    water, riparian = [], []
    for _name, width, pts in RIVERS:
        lon, lat = zip(*pts, strict=True)
        x, y = tr.transform(np.array(lon), np.array(lat))
        line = shapely.segmentize(LineString(np.c_[x, y]), 400.0)
        c = shapely.get_coordinates(line)
        t = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(c, axis=0).T))])
        knots = rng.standard_normal((1, int(t[-1] / 5000.0) + 8)).astype(np.float32)
        amp = 900.0 if width >= 400 else 600.0
        off = amp * _bspline_eval(knots, -2 * 5000.0, 0.0, 5000.0, t, [0.0])[0]
        tangent = np.gradient(c, axis=0)
        tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
        normal = np.c_[-tangent[:, 1], tangent[:, 0]]
        meander = LineString(c + off.astype(np.float64)[:, None] * normal)
        water.append(meander.buffer(width / 2.0, cap_style="flat"))
        riparian.append(meander.buffer(width / 2.0 + 400.0, cap_style="flat"))
    water_u = shapely.union_all(water)
    return water_u, shapely.difference(shapely.union_all(riparian), water_u)


def _origin(west: float, north: float, res: float) -> Affine:
    return Affine(res, 0.0, west, 0.0, -res, north)


@dataclass(frozen=True)
class RasterGrid:
    """A north-up pixel grid in EPSG:4545 aligned to multiples of ``res``."""

    x0: float
    y1: float
    res: float
    width: int
    height: int

    @classmethod
    def around(cls, bounds, res: float) -> RasterGrid:
        minx, miny, maxx, maxy = bounds
        x0 = math.floor(minx / res) * res
        y0 = math.floor(miny / res) * res
        x1 = math.ceil(maxx / res) * res
        y1 = math.ceil(maxy / res) * res
        return cls(x0, y1, res, round((x1 - x0) / res), round((y1 - y0) / res))

    @property
    def transform(self) -> Affine:
        return _origin(self.x0, self.y1, self.res)

    def blocks(self) -> Iterator[tuple[int, int, int, int]]:
        for row in range(0, self.height, BLOCK):
            for col in range(0, self.width, BLOCK):
                yield (
                    row,
                    col,
                    min(BLOCK, self.height - row),
                    min(BLOCK, self.width - col),
                )


@dataclass
class _LandcoverInputs:
    grid: RasterGrid
    districts: list  # (geometry in 4545, value 1..38, bounds)
    water: shapely.Geometry
    riparian: shapely.Geometry
    fields: Fields


def _block_inputs(inp: _LandcoverInputs, row, col, h, w):
    """Rasterize districts and rivers and sample the fields for one block."""
    g = inp.grid
    bx0 = g.x0 + col * g.res
    by1 = g.y1 - row * g.res
    bx1 = bx0 + w * g.res
    by0 = by1 - h * g.res
    shapes = []
    for geom, value, (gx0, gy0, gx1, gy1) in inp.districts:
        if gx0 > bx1 or gx1 < bx0 or gy0 > by1 or gy1 < by0:
            continue
        part = shapely.clip_by_rect(geom, bx0, by0, bx1, by1)
        if not part.is_empty:
            shapes.append((part, value))
    if not shapes:
        return None
    tr = _origin(bx0, by1, g.res)
    idx = rasterize(shapes, out_shape=(h, w), transform=tr, fill=0, dtype="uint8")
    if not idx.any():
        return None
    river_shapes = []
    for geom, value in ((inp.riparian, 1), (inp.water, 2)):
        part = shapely.clip_by_rect(geom, bx0, by0, bx1, by1)
        if not part.is_empty:
            river_shapes.append((part, value))
    if river_shapes:
        wat = rasterize(
            river_shapes, out_shape=(h, w), transform=tr, fill=0, dtype="uint8"
        )
    else:
        wat = np.zeros((h, w), dtype=np.uint8)
    xs = bx0 + (np.arange(w) + 0.5) * g.res
    ys = by1 - (np.arange(h) + 0.5) * g.res
    s, u, v, ww = inp.fields.sample(xs, ys)
    return idx, wat, s, u, v, ww


def _classify(idx, wat, s, u, v, w, q10_lut, q15_lut):
    """Return the 2010 and 2015 class arrays of one block."""
    valid = idx > 0
    water = valid & (wat == 2)
    land = valid & ~water
    f10 = land & (s < q10_lut[idx])
    imp10 = land & ~f10 & (u > U_2010)
    ring = land & (u > U_2015) & ~(u > U_2010)  # urban expansion 2011-2015
    f15 = land & ~ring & (f10 | ((s < q15_lut[idx]) & ~imp10))
    imp15 = land & ~f15 & (u > U_2015)
    other = np.full(idx.shape, CROPLAND, dtype=np.uint8)
    other[v > V_GRASS] = GRASSLAND
    other[v > V_BARREN] = BARREN
    other[(wat == 1) & (w > WET_W)] = WETLAND
    out = []
    for year, forest, imp in ((2010, f10, imp10), (2015, f15, imp15)):
        c = np.where(valid, other, np.uint8(0)).astype(np.uint8)
        c[imp] = IMPERVIOUS
        c[forest] = np.where(w[forest] > SHRUB_W[year], SHRUB, FOREST)
        c[water] = WATER
        out.append(c)
    return out[0], out[1], land, f10, f15


def _landcover_inputs(districts, seed, res) -> _LandcoverInputs:
    d4545 = districts.to_crs(RASTER_EPSG)
    geoms = [(g, i + 1, g.bounds) for i, g in enumerate(d4545.geometry)]
    water, riparian = build_rivers(seed)
    return _LandcoverInputs(
        grid=RasterGrid.around(d4545.total_bounds, res),
        districts=geoms,
        water=water,
        riparian=riparian,
        fields=build_fields(d4545, seed),
    )


def _solve(fn, lo, hi, target, n=60) -> float:
    """Bisection for an increasing function ``fn``."""
    for _ in range(n):
        mid = (lo + hi) / 2.0
        if fn(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def calibrate_coverage(inp: _LandcoverInputs, adcodes: list[str]) -> dict:
    """Choose per-district targets and field thresholds on a calibration grid.

    The calibration grid has the output resolution when that is >= 200 m,
    else the smallest multiple of it >= 200 m; the fields are point-sampled, so
    thresholds carry over to any resolution.
    """
    n = len(adcodes)
    res = inp.grid.res * max(1, math.ceil(200.0 / inp.grid.res))
    cal = _LandcoverInputs(
        grid=RasterGrid.around(
            (
                inp.grid.x0,
                inp.grid.y1 - inp.grid.height * inp.grid.res,
                inp.grid.x0 + inp.grid.width * inp.grid.res,
                inp.grid.y1,
            ),
            res,
        ),
        districts=inp.districts,
        water=inp.water,
        riparian=inp.riparian,
        fields=inp.fields,
    )
    s_parts, u_parts, i_parts = [], [], []
    for row, col, h, w in cal.grid.blocks():
        got = _block_inputs(cal, row, col, h, w)
        if got is None:
            continue
        idx, wat, s, u, _v, _w = got
        land = (idx > 0) & (wat != 2)
        s_parts.append(s[land])
        u_parts.append(u[land])
        i_parts.append(idx[land])
    s_all = np.concatenate(s_parts)
    u_all = np.concatenate(u_parts)
    i_all = np.concatenate(i_parts)
    order = np.argsort(i_all, kind="stable")
    s_all, u_all, i_all = s_all[order], u_all[order], i_all[order]
    bounds = np.searchsorted(i_all, np.arange(1, n + 2))
    per = []
    for k in range(n):
        s_d = s_all[bounds[k] : bounds[k + 1]]
        u_d = u_all[bounds[k] : bounds[k + 1]]
        per.append((s_d, np.sort(s_d), u_d))
    land_n = np.array([len(p[0]) for p in per], dtype=np.float64)
    if (land_n == 0).any():
        raise ValueError("a district has no land pixel on the calibration grid")

    base10 = np.array([BASE_COVERAGE[a][0] for a in adcodes], dtype=np.float64)
    gain = np.array([BASE_COVERAGE[a][1] for a in adcodes], dtype=np.float64)
    shiftable = np.array([a not in URBAN_CORE for a in adcodes], dtype=np.float64)

    def p10_of(c):
        return np.clip(base10 + c * shiftable, 3.0, 90.0)

    def city(p):
        return float((p * land_n).sum() / land_n.sum())

    c10 = _solve(lambda c: city(p10_of(c)), -40.0, 40.0, CITY_TARGET_PCT[2010])
    p10 = np.round(p10_of(c10), 2)

    q10 = np.empty(n)
    q15_cands, kept, max15 = [], np.empty(n), np.empty(n)
    for k, (s_d, s_sorted, u_d) in enumerate(per):
        m = len(s_d)
        k10 = round(p10[k] * m / 100.0)
        q10[k] = s_sorted[k10] if k10 < m else np.inf
        f10 = s_d < q10[k]
        imp10 = ~f10 & (u_d > U_2010)
        ring = (u_d > U_2015) & ~(u_d > U_2010)
        kept[k] = np.count_nonzero(f10 & ~ring)
        cand = np.sort(s_d[~ring & ~imp10 & ~f10])
        q15_cands.append(cand)
        max15[k] = 100.0 * (kept[k] + len(cand)) / m - 0.5

    def p15_of(scale):
        return np.clip(p10 + scale * gain, p10, np.maximum(max15, p10))

    k15 = _solve(lambda c: city(p15_of(c)), 0.0, 6.0, CITY_TARGET_PCT[2015])
    p15 = np.round(p15_of(k15), 2)
    q15 = np.empty(n)
    for k in range(n):
        need = round(p15[k] * land_n[k] / 100.0 - kept[k])
        cand = q15_cands[k]
        if need <= 0:
            q15[k] = q10[k]
        elif need < len(cand):
            q15[k] = max(float(cand[need]), q10[k])
        else:
            q15[k] = np.inf
    lut = np.full(n + 1, -np.inf, dtype=np.float32)
    q10_lut, q15_lut = lut.copy(), lut.copy()
    q10_lut[1:] = q10
    q15_lut[1:] = q15
    return {
        "target_pct": {2010: p10, 2015: p15},
        "q10_lut": q10_lut,
        "q15_lut": q15_lut,
        "calibration_res": res,
    }


def make_landcover(
    out_dir: Path,
    *,
    seed: int = 2012,
    resolution: float = 300.0,
    districts: gpd.GeoDataFrame | None = None,
    progress: Progress = print,
) -> dict:
    """Write ``landcover/clcd_2010.tif`` and ``clcd_2015.tif`` under ``out_dir``.

    Rasters are generated and written block by block (1024 x 1024 pixels), so
    memory stays bounded at 30 m. Returns the manifest's ``landcover`` section
    plus a ``transition_pixels`` table (key ``"<2010 class>-><2015 class>"``).
    """
    out_dir = Path(out_dir)
    if districts is None:
        districts = load_districts()
    adcodes = list(districts["adcode"])
    inp = _landcover_inputs(districts, seed, float(resolution))
    cal = calibrate_coverage(inp, adcodes)
    g = inp.grid
    progress(
        f"landcover: {g.width} x {g.height} px at {g.res:g} m "
        f"(calibrated on {cal['calibration_res']:g} m)"
    )
    lc_dir = out_dir / "landcover"
    lc_dir.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "dtype": "uint8",
        "count": 1,
        "width": g.width,
        "height": g.height,
        "crs": CRS.from_epsg(RASTER_EPSG),
        "transform": g.transform,
        "nodata": 0,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "interleave": "band",
    }
    n = len(adcodes)
    land_cnt = np.zeros(n + 1, dtype=np.int64)
    f_cnt = {2010: np.zeros(n + 1, dtype=np.int64), 2015: np.zeros(n + 1, np.int64)}
    class_cnt = {2010: np.zeros(10, np.int64), 2015: np.zeros(10, np.int64)}
    trans = np.zeros(100, dtype=np.int64)
    paths = {y: lc_dir / f"clcd_{y}.tif" for y in (2010, 2015)}
    blocks = list(g.blocks())
    t0 = time.perf_counter()
    with (
        rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True),
        rasterio.open(paths[2010], "w", **profile) as dst10,
        rasterio.open(paths[2015], "w", **profile) as dst15,
    ):
        for k, (row, col, h, w) in enumerate(blocks):
            win = Window(col, row, w, h)
            got = _block_inputs(inp, row, col, h, w)
            if got is None:
                zeros = np.zeros((h, w), dtype=np.uint8)
                dst10.write(zeros, 1, window=win)
                dst15.write(zeros, 1, window=win)
                continue
            idx, wat, s, u, v, ww = got
            c10, c15, land, f10, f15 = _classify(
                idx, wat, s, u, v, ww, cal["q10_lut"], cal["q15_lut"]
            )
            dst10.write(c10, 1, window=win)
            dst15.write(c15, 1, window=win)
            land_cnt += np.bincount(idx[land], minlength=n + 1)
            f_cnt[2010] += np.bincount(idx[f10], minlength=n + 1)
            f_cnt[2015] += np.bincount(idx[f15], minlength=n + 1)
            class_cnt[2010] += np.bincount(c10.ravel(), minlength=10)
            class_cnt[2015] += np.bincount(c15.ravel(), minlength=10)
            valid = idx > 0
            pair = c10[valid].astype(np.int64) * 10 + c15[valid]
            trans += np.bincount(pair, minlength=100)
            if (k + 1) % max(1, len(blocks) // 10) == 0 or k + 1 == len(blocks):
                progress(
                    f"  block {k + 1}/{len(blocks)} ({time.perf_counter() - t0:.1f} s)"
                )
        for dst, year in ((dst10, 2010), (dst15, 2015)):
            dst.write_colormap(1, COLORMAP)
            dst.set_band_description(1, f"CLCD land cover class {year} (synthetic)")
            dst.update_tags(
                source="synthetic sample, forestsink scripts/make_sample.py",
                seed=str(seed),
                year=str(year),
                classes=";".join(f"{c}={nm}" for c, nm in CLASS_NAMES.items()),
            )
    section = {}
    for year in (2010, 2015):
        forest = f_cnt[year]
        city = 100.0 * forest[1:].sum() / land_cnt[1:].sum()
        section[str(year)] = {
            "path": f"landcover/clcd_{year}.tif",
            "crs": f"EPSG:{RASTER_EPSG}",
            "resolution_m": _num(g.res),
            "nodata": 0,
            "classes": {str(c): nm for c, nm in CLASS_NAMES.items()},
            "forest_classes": list(FOREST_CLASSES),
            "target_city_coverage_pct": CITY_TARGET_PCT[year],
            "city_coverage_pct": round(float(city), 3),
            "district_target_coverage_pct": {
                a: round(float(p), 2)
                for a, p in zip(adcodes, cal["target_pct"][year], strict=True)
            },
            "district_coverage_pct": {
                a: round(100.0 * float(forest[i + 1]) / float(land_cnt[i + 1]), 3)
                for i, a in enumerate(adcodes)
            },
            "land_pixels": int(land_cnt[1:].sum()),
            "forest_pixels": int(forest[1:].sum()),
            "class_pixels": {str(c): int(class_cnt[year][c]) for c in range(1, 10)},
        }
        progress(f"landcover {year}: city forest coverage {city:.2f} %")
    section["transition_pixels"] = {
        f"{a}->{b}": int(trans[a * 10 + b])
        for a in range(1, 10)
        for b in range(1, 10)
        if trans[a * 10 + b]
    }
    return section


def _num(x: float):
    return int(x) if float(x).is_integer() else float(x)


# ---------------------------------------------------------------------------
# Project polygons
# ---------------------------------------------------------------------------

TYPE_ORDER = (
    "afforestation",
    "renovation",
    "grain_to_green",
    "rocky_desertification",
    "public_welfare",
    "tending",
    "nursery",
)
# Gross 2011-2015 city-wide area per type (mu), close to the plan's targets.
TYPE_TOTAL_MU = {
    "afforestation": 3_000_000.0,
    "grain_to_green": 2_500_000.0,
    "rocky_desertification": 1_000_000.0,
    "public_welfare": 3_000_000.0,
    "renovation": 8_000_000.0,
    "tending": 10_000_000.0,
    "nursery": 100_000.0,
}
SIZE_MEDIAN_MU = {
    "afforestation": 2000.0,
    "grain_to_green": 1500.0,
    "rocky_desertification": 1800.0,
    "public_welfare": 2500.0,
    "renovation": 3500.0,
    "tending": 4000.0,
    "nursery": 250.0,
}
YEAR_WEIGHTS = (0.16, 0.20, 0.22, 0.22, 0.20)
# Stock volume per mu (m3) by type: new plantations little, managed forest more.
VOLUME_PER_MU = {
    "afforestation": 0.8,
    "grain_to_green": 0.6,
    "rocky_desertification": 0.4,
    "public_welfare": 1.0,
    "renovation": 4.0,
    "tending": 5.5,
    "nursery": 0.2,
}
SPECIES = ("马尾松", "杉木", "柏木", "栎类", "其他阔叶", "针阔混", "竹")
SPECIES_P = {
    "rocky_desertification": (0.10, 0.05, 0.50, 0.10, 0.15, 0.05, 0.05),
    "default": (0.25, 0.20, 0.15, 0.12, 0.12, 0.10, 0.06),
}
VILLAGES = (
    "青杠",
    "黄桷",
    "石板",
    "双河",
    "柏林",
    "新华",
    "红岩",
    "大坪",
    "龙井",
    "白果",
    "桂花",
    "向阳",
    "三合",
    "长岭",
    "金竹",
)
REMARKS = ("", "已验收", "补植", "部分补植", "待验收", "自查合格")
COLUMN_CHOICES = {
    "project_id": ("小班号", "项目编号", "XMBH", "编号"),
    "district": ("区县", "县", "XIAN", "区县名称"),
    "year": ("年度", "实施年度", "ZLND", "造林年度"),
    "project_type": ("工程类别", "项目类型", "造林类别"),
    "area_mu": ("面积(亩)", "造林面积", "面积亩"),
    "area_ha": ("MIAN_JI",),
    "species": ("树种", "优势树种", "YOU_SHI_SZ"),
    "stock_volume_m3": ("蓄积", "蓄积量(m3)", "HUO_LMXJ"),
}
EXTRA_COLUMNS = {"remark": "备注", "village": "村"}
# A before/after volume pair of the same land (改造前/改造后蓄积) on the
# renovation rows of some GeoPackage/GeoJSON deliveries that give a stock
# volume (no DBF: its 10-byte names would cut the Chinese names). The "after"
# value is the delivered standing stock; "before" is lower by a synthetic
# 5-15 % gain over the work period. Chosen by a hash of district and year, so
# the random stream (and every other figure of the sample) is unchanged.
VOLUME_PAIR_COLUMNS = {"stock_before": "改造前蓄积", "stock_after": "改造后蓄积"}
VOLUME_PAIR_SHARE = 3  # one delivery in three of those eligible
UNKNOWN_TYPE_WORD = "森林康养"
OUTSIDE_TARGET_LONLAT = (110.72, 30.95)  # Badong/Zigui, Hubei
FORMATS = ("shp_gbk", "shp_utf8", "gpkg", "geojson", "shpzip")
FORMAT_P = (0.34, 0.14, 0.20, 0.16, 0.16)
CRS_KINDS = ("4490", "gk_prefixed", "gk", "4326")
CRS_P = (0.35, 0.22, 0.25, 0.18)
DISTRICT_FORMS = ("name", "name_2012", "short", "adcode", "adcode_2011_2015")
DISTRICT_FORM_P = (0.45, 0.2, 0.15, 0.1, 0.1)

# Deterministic placement of the deliberate defects: (adcode, year).
BOWTIE_AT = ("500101", 2012)
UNKNOWN_TYPE_AT = ("500230", 2013)
DUPLICATE_ID_AT = ("500116", 2014)
OUTSIDE_AT = ("500237", 2013)
WRONG_DISTRICT_AT = ("500112", 2011)
NOPRJ_LONLAT_AT = ("500231", 2012)
NOPRJ_PREFIXED_AT = ("500235", 2014)
NOPRJ_UNPREFIXED_AT = ("500155", 2015)
AREA_MISMATCH_AT = (("500119", 2013, 1.45), ("500114", 2012, 0.55))
YEAR_OUT_OF_RANGE_AT = ("500243", 2015, 2016)
REDELIVERY_OF = ("500110", 2012)
WITHDRAWAL_OF = ("500117", 2013)
GBK_NO_CPG_AT = (("500154", 2011), ("500242", 2013), ("500106", 2014))
XIAN80_AT = (("500101", 2013), ("500101", 2014))
HECTARE_AT = (
    ("500114", 2012),
    ("500229", 2014),
    ("500243", 2011),
    ("500106", 2013),
    ("500152", 2015),
)
REPLANTED_AT = (("500238", 2011, 2014), ("500241", 2012, 2015), ("500229", 2013, 2015))


def load_project_types(data_dir: Path = DATA_DIR) -> pd.DataFrame:
    """Read data/project_types.csv (index: canonical project_type)."""
    tab = pd.read_csv(data_dir / "project_types.csv", dtype=str)
    tab = tab.set_index("project_type")
    missing = set(TYPE_ORDER) - set(tab.index)
    if missing:
        raise ValueError(f"project_types.csv lacks {sorted(missing)}")
    return tab


def gk_cm(lon: float) -> int:
    """Central meridian of the 3-degree Gauss-Kruger zone containing ``lon``."""
    return 3 * math.floor(lon / 3.0 + 0.5)


def gk_epsg(lon: float, *, prefixed: bool, datum: str = "CGCS2000") -> int:
    """EPSG code of the 3-degree GK zone for ``lon`` (checked with pyproj).

    CGCS2000: zone-prefixed eastings EPSG:4513-4533 (zone 25-45), unprefixed
    EPSG:4534-4554 (CM 75E-135E). Xi'an 1980: EPSG:2349-2369 prefixed,
    EPSG:2370-2390 unprefixed (CM 75E-135E).
    """
    cm = gk_cm(lon)
    zone = cm // 3
    if datum == "CGCS2000":
        code = 4513 + zone - 25 if prefixed else 4534 + (cm - 75) // 3
    elif datum == "Xian1980":
        code = 2349 + zone - 25 if prefixed else 2370 + (cm - 75) // 3
    else:
        raise ValueError(datum)
    crs = CRS.from_epsg(code)
    params = {p.name: p.value for p in crs.coordinate_operation.params}
    want_fe = zone * 1_000_000 + 500_000 if prefixed else 500_000
    if (
        params["Longitude of natural origin"] != cm
        or params["False easting"] != want_fe
    ):
        raise AssertionError(f"EPSG:{code} is not the GK zone for CM {cm}")
    return code


@dataclass
class Feature:
    """One project polygon (geometry in EPSG:4545 until converted)."""

    key: tuple
    home: str  # adcode of the delivering district
    located: str  # adcode the polygon really lies in ('' = outside Chongqing)
    year: int
    ptype: str
    geom: shapely.Geometry
    geom4490: shapely.Geometry | None = None
    area_mu: float = 0.0
    species: str = ""
    volume: float = 0.0
    village: str = ""
    remark: str = ""
    project_id: str = ""
    type_value: str = ""
    year_value: int = 0
    area_factor: float = 1.0
    volume_noise: float = 1.0
    defects: list = field(default_factory=list)
    replants: Feature | None = None


@dataclass
class Delivery:
    """Attributes and rows of one delivery file."""

    adcode: str
    year: int
    fmt: str
    encoding: str
    cpg: str | None
    true_epsg: int
    write_prj: bool
    columns: dict  # canonical -> requested column name
    extra: dict  # extra key -> requested column name
    area_unit: str
    district_form: str
    id_form: int
    year_as_str: bool
    aliases: dict
    rows: list = field(default_factory=list)
    path: str = ""
    actual_columns: dict = field(default_factory=dict)
    actual_extra: dict = field(default_factory=dict)
    kind: str = "delivery"


def _blob(rng: np.random.Generator, area_m2: float) -> Polygon:
    """Irregular polygon of ``area_m2`` around the origin (planar metres)."""
    if rng.random() < 0.3:
        n = int(rng.integers(4, 9))
        heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.6, n))
        pts = np.vstack(
            [[0.0, 0.0], np.cumsum(np.c_[np.cos(heading), np.sin(heading)], axis=0)]
        )
        geom = LineString(pts).buffer(rng.uniform(0.35, 0.7), quad_segs=3)
        if geom.geom_type != "Polygon":  # pragma: no cover - defensive
            geom = geom.convex_hull
    else:
        n = int(rng.integers(24, 48))
        th = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
        r = np.ones(n)
        for k, amp in ((2, 0.15), (3, 0.10), (4, 0.07), (5, 0.05)):
            r += amp * rng.normal() * np.cos(k * th + rng.uniform(0, 2 * np.pi))
        r = np.clip(r, 0.45, None)
        aspect = math.sqrt(rng.uniform(1.0, 2.4))
        rot = rng.uniform(0, np.pi)
        x, y = r * np.cos(th) * aspect, r * np.sin(th) / aspect
        xr = x * math.cos(rot) - y * math.sin(rot)
        yr = x * math.sin(rot) + y * math.cos(rot)
        geom = Polygon(np.c_[xr, yr])
    c = geom.centroid
    geom = affinity.translate(geom, -c.x, -c.y)
    f = math.sqrt(area_m2 / geom.area)
    return affinity.scale(geom, f, f, origin=(0.0, 0.0))


def _shape(rng: np.random.Generator, area_m2: float, multi: bool):
    if not multi:
        return _blob(rng, area_m2)
    shares = (0.65, 0.35) if rng.random() < 0.6 else (0.5, 0.3, 0.2)
    parts = [_blob(rng, area_m2 * shares[0])]
    r_main = math.sqrt(area_m2 * shares[0] / math.pi)
    for share in shares[1:]:
        part = _blob(rng, area_m2 * share)
        r = math.sqrt(area_m2 * share / math.pi)
        for _ in range(20):
            ang = rng.uniform(0, 2 * np.pi)
            dist = (r_main + r) * rng.uniform(1.6, 2.4)
            cand = affinity.translate(part, dist * math.cos(ang), dist * math.sin(ang))
            if all(cand.distance(p) > 30.0 for p in parts):
                parts.append(cand)
                break
    if len(parts) == 1:
        return parts[0]
    return MultiPolygon(parts)


def _allocation(districts: gpd.GeoDataFrame, area_km2: np.ndarray, seed: int):
    """Target mu per (adcode, type, year)."""
    rng = _rng(seed, "allocation")
    weights = {}
    for t in TYPE_ORDER:
        w = []
        for adcode, region, a in zip(
            districts["adcode"], districts["region"], area_km2, strict=True
        ):
            f = 1.0
            if t == "grain_to_green":
                f = 0.6 if region == "一小时经济圈" else 1.4
            elif t == "rocky_desertification":
                f = {"渝东南翼": 2.2, "渝东北翼": 1.0}.get(region, 0.35)
            elif t == "tending":
                f = BASE_COVERAGE[adcode][0] / 37.0
            if adcode in URBAN_CORE:
                f *= 0.3 if t == "nursery" else 0.05
            elif adcode in MAIN_CITY_RING:
                f *= 0.6
            w.append(a * f)
        w = np.array(w)
        weights[t] = w / w.sum()
    alloc = {}
    for k, adcode in enumerate(districts["adcode"]):
        for t in TYPE_ORDER:
            yw = np.array(YEAR_WEIGHTS) * rng.lognormal(0.0, 0.25, len(YEARS))
            yw /= yw.sum()
            for y, share in zip(YEARS, yw, strict=True):
                alloc[(adcode, t, y)] = TYPE_TOTAL_MU[t] * weights[t][k] * share
    return alloc


def _plan_features(districts, area_km2, seed):
    """Draw sizes (mu) of every polygon: list of (adcode, year, type, mu, multi)."""
    alloc = _allocation(districts, area_km2, seed)
    rng = _rng(seed, "sizes")
    items = []
    for adcode, a_km2 in zip(districts["adcode"], area_km2, strict=True):
        cap = min(60_000.0, a_km2 * 1e6 * M2_TO_MU * 0.01)
        per_year = dict.fromkeys(YEARS, 0)
        for t in TYPE_ORDER:
            lo = 20.0 if t == "nursery" else 50.0
            sigma = 0.7 if t == "nursery" else 1.0
            for y in YEARS:
                remaining = alloc[(adcode, t, y)]
                while remaining >= lo:
                    a = float(
                        np.clip(
                            rng.lognormal(math.log(SIZE_MEDIAN_MU[t]), sigma),
                            lo,
                            max(cap, lo),
                        )
                    )
                    a = min(a, remaining)
                    multi = bool(a >= 300.0 and rng.random() < 0.08)
                    items.append((adcode, y, t, a, multi))
                    per_year[y] += 1
                    remaining -= a
        for y in YEARS:
            for _ in range(3 - per_year[y]):
                items.append((adcode, y, "tending", min(200.0, cap / 2), False))
    return items


class _Placer:
    """Sequential non-overlapping placement of polygons inside one district."""

    def __init__(self, geom: shapely.Geometry, rng: np.random.Generator):
        self.rng = rng
        self.inner = geom.buffer(-100.0)
        shapely.prepare(self.inner)
        self.geoms: list = []
        self.bounds = np.empty((0, 4))

    def free(self, cand) -> bool:
        if not len(self.geoms):
            return True
        b = cand.bounds
        gap = 25.0
        m = (
            (self.bounds[:, 0] < b[2] + gap)
            & (self.bounds[:, 2] > b[0] - gap)
            & (self.bounds[:, 1] < b[3] + gap)
            & (self.bounds[:, 3] > b[1] - gap)
        )
        if not m.any():
            return True
        near = [self.geoms[i] for i in np.flatnonzero(m)]
        return not shapely.dwithin(near, cand, gap).any()

    def add(self, geom) -> None:
        self.geoms.append(geom)
        self.bounds = np.vstack([self.bounds, geom.bounds])

    def place(self, area_mu: float, multi: bool, within=None):
        within = self.inner if within is None else within
        bx0, by0, bx1, by1 = within.bounds
        for shrink in (1.0, 0.75, 0.5, 0.3):
            area_m2 = area_mu * shrink / M2_TO_MU
            for _ in range(40):
                x, y = self.rng.uniform(bx0, bx1), self.rng.uniform(by0, by1)
                if not shapely.contains_xy(within, x, y):
                    continue
                cand = affinity.translate(self._shape(area_m2, multi), x, y)
                if shapely.contains(within, cand) and self.free(cand):
                    self.add(cand)
                    return cand
        return None

    def _shape(self, area_m2, multi):
        return _shape(self.rng, area_m2, multi)


def _place_all(districts, d4545, seed, progress) -> list[Feature]:
    area_km2 = d4545.area.to_numpy() / 1e6
    items = _plan_features(districts, area_km2, seed)
    wrong_home, wrong_year = WRONG_DISTRICT_AT
    home_geom = d4545.geometry[districts["adcode"] == wrong_home].iloc[0]
    neighbours = [
        (float(shapely.length(shapely.intersection(home_geom.boundary, g.boundary))), a)
        for a, g in zip(districts["adcode"], d4545.geometry, strict=True)
        if a != wrong_home and a not in URBAN_CORE and g.touches(home_geom)
    ]
    wrong_located = max(neighbours)[1]
    features: list[Feature] = []
    dropped = 0
    for k, adcode in enumerate(districts["adcode"]):
        rng = _rng(seed, "placement", adcode)
        placer = _Placer(d4545.geometry.iloc[k], rng)
        if adcode == wrong_located:
            inner = d4545.geometry.iloc[k].buffer(-2000.0)
            shapely.prepare(inner)
            geom = placer.place(900.0, False, within=inner)
            if geom is None:  # pragma: no cover
                raise AssertionError("could not place the wrong-district polygon")
            features.append(
                Feature(
                    ("wrong", 0), wrong_home, adcode, wrong_year, "afforestation", geom
                )
            )
        mine = [it for it in items if it[0] == adcode]
        order = sorted(
            range(len(mine)),
            key=lambda i: (-mine[i][3], mine[i][1], TYPE_ORDER.index(mine[i][2]), i),
        )
        for i in order:
            _, y, t, a, multi = mine[i]
            geom = placer.place(a, multi)
            if geom is None:
                dropped += 1
                continue
            features.append(Feature(("n", i), adcode, adcode, y, t, geom))
    progress(f"projects: placed {len(features)} polygons ({dropped} did not fit)")
    return features


def _replanted(features, seed) -> list[Feature]:
    """Extra polygons that re-plant part of an earlier area-adding polygon."""
    rng = _rng(seed, "replanted")
    adds = (
        "afforestation",
        "grain_to_green",
        "rocky_desertification",
        "public_welfare",
    )
    out = []
    for adcode, y1, y2 in REPLANTED_AT:
        pool = sorted(
            (
                f
                for f in features
                if f.home == adcode
                and f.year == y1
                and f.ptype in adds
                and f.geom.geom_type == "Polygon"
                and 800 <= f.geom.area * M2_TO_MU <= 8000
            ),
            key=lambda f: f.key,
        )
        src = pool[0]
        c = src.geom.centroid
        r = math.sqrt(src.geom.area / math.pi)
        half = box(-4 * r, -4 * r, rng.uniform(-0.2, 0.2) * r, 4 * r)
        half = affinity.rotate(half, rng.uniform(0, 360), origin=(0, 0))
        geom = src.geom.intersection(affinity.translate(half, c.x, c.y))
        if geom.geom_type != "Polygon":
            geom = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
        ptype = ("afforestation", "public_welfare")[int(rng.integers(0, 2))]
        out.append(
            Feature(("replant", y1), adcode, adcode, y2, ptype, geom, replants=src)
        )
    return out


def _bowtie(geom: shapely.Geometry) -> Polygon:
    """A self-intersecting ring (two unequal triangles) inside ``geom``."""
    c = geom.centroid
    h = math.sqrt(geom.area / 1.49) * 0.6
    while h > 5.0:
        ring = [(-h, -h), (0.7 * h, 0.7 * h), (0.7 * h, -0.7 * h), (-h, h), (-h, -h)]
        cand = Polygon([(c.x + x, c.y + y) for x, y in ring])
        if geom.contains(shapely.make_valid(cand)):
            return cand
        h *= 0.8
    raise AssertionError("could not fit the bow-tie")  # pragma: no cover


def _round_coords(geom, ndigits: int):
    return shapely.transform(geom, lambda c: np.round(c, ndigits))


def _true_area_mu(geom) -> float:
    g = geom if shapely.is_valid(geom) else shapely.make_valid(geom)
    g = shapely.orient_polygons(g, exterior_cw=False)
    if g.geom_type == "GeometryCollection":
        g = MultiPolygon([p for p in g.geoms if p.geom_type == "Polygon"])
    area, _ = GEOD.geometry_area_perimeter(g)
    return abs(area) * M2_TO_MU


def _short_name(row) -> str:
    if row["kind"] == "autonomous_county":
        return row["name_2012"]
    name = row["name_zh"]
    return name[:-1] if len(name) > 2 and name[-1] in "区县" else name


def _district_value(drow, form: str) -> str:
    return {
        "name": drow["name_zh"],
        "name_2012": drow["name_2012"],
        "short": _short_name(drow),
        "adcode": drow["adcode"],
        "adcode_2011_2015": drow["adcode_2011_2015"],
    }[form]


def _project_id(form: int, drow, year: int, seq: int) -> str:
    if form == 0:
        return f"{drow['adcode_2011_2015']}{year}{seq:04d}"
    if form == 1:
        return f"{year}-{seq:03d}"
    if form == 2:
        return f"XB{year % 100:02d}{seq:04d}"
    return f"{year}{seq:04d}"


def _choose(rng, options, p=None):
    return options[int(rng.choice(len(options), p=p))]


def _delivery_spec(adcode, year, lon, seed, types) -> Delivery:
    rng = _rng(seed, "delivery", adcode, year)
    fmt = _choose(rng, FORMATS, FORMAT_P)
    encoding, cpg = "UTF-8", None
    if fmt == "shp_gbk" or (fmt == "shpzip" and rng.random() < 0.6):
        encoding, cpg = "GBK", _choose(rng, ("936", "GBK"))
    elif fmt in ("shp_utf8", "shpzip"):
        cpg = "UTF-8"
    if fmt == "geojson":
        kind = _choose(rng, ("4490", "4326"))
    else:
        kind = _choose(rng, CRS_KINDS, CRS_P)
    epsg = {
        "4490": 4490,
        "4326": 4326,
        "gk_prefixed": gk_epsg(lon, prefixed=True),
        "gk": gk_epsg(lon, prefixed=False),
    }[kind]
    columns = {
        c: _choose(rng, COLUMN_CHOICES[c])
        for c in (
            "project_id",
            "district",
            "year",
            "project_type",
            "area_mu",
            "species",
        )
    }
    if rng.random() < 1 / 3:
        columns["stock_volume_m3"] = _choose(rng, COLUMN_CHOICES["stock_volume_m3"])
    extra = {k: v for k, v in EXTRA_COLUMNS.items() if rng.random() < 0.22}
    aliases = {
        t: _choose(rng, tuple(types.loc[t, "aliases_zh"].split("|")))
        for t in TYPE_ORDER
    }
    return Delivery(
        adcode=adcode,
        year=year,
        fmt=fmt,
        encoding=encoding,
        cpg=cpg,
        true_epsg=epsg,
        write_prj=True,
        columns=columns,
        extra=extra,
        area_unit="mu",
        district_form=_choose(rng, DISTRICT_FORMS, DISTRICT_FORM_P),
        id_form=int(rng.integers(0, 4)),
        year_as_str=bool(rng.random() < 0.15),
        aliases=aliases,
    )


def _force_specs(specs: dict, lon: dict) -> None:
    """Override the random choices where a defect needs a given file shape."""

    def set_(key, **kw):
        for k, v in kw.items():
            setattr(specs[key], k, v)

    set_(BOWTIE_AT, fmt="shp_gbk", encoding="GBK", cpg="GBK", true_epsg=4490)
    for key in GBK_NO_CPG_AT:
        set_(key, fmt="shp_gbk", encoding="GBK", cpg=None)
    set_(GBK_NO_CPG_AT[0], district_form="name_2012")
    set_(
        NOPRJ_LONLAT_AT,
        fmt="shp_gbk",
        encoding="GBK",
        cpg="936",
        true_epsg=4490,
        write_prj=False,
    )
    a, _ = NOPRJ_PREFIXED_AT
    set_(
        NOPRJ_PREFIXED_AT,
        fmt="shp_utf8",
        encoding="UTF-8",
        cpg="UTF-8",
        true_epsg=gk_epsg(lon[a], prefixed=True),
        write_prj=False,
    )
    a, _ = NOPRJ_UNPREFIXED_AT
    set_(
        NOPRJ_UNPREFIXED_AT,
        fmt="shp_gbk",
        encoding="GBK",
        cpg="GBK",
        true_epsg=gk_epsg(lon[a], prefixed=False),
        write_prj=False,
    )
    for key in XIAN80_AT:
        set_(
            key,
            fmt="shp_gbk",
            encoding="GBK",
            cpg="936",
            true_epsg=gk_epsg(lon[key[0]], prefixed=False, datum="Xian1980"),
        )
    for key in HECTARE_AT:
        spec = specs[key]
        spec.area_unit = "ha"
        spec.columns = {
            ("area_ha" if c == "area_mu" else c): (
                COLUMN_CHOICES["area_ha"][0] if c == "area_mu" else n
            )
            for c, n in spec.columns.items()
        }


def _dbf_names(names: list[str], encoding: str) -> list[str]:
    """Truncate to the 10-byte DBF limit at character boundaries, de-duplicated."""
    enc = "gbk" if encoding == "GBK" else "utf-8"
    out: list[str] = []
    for name in names:
        cut = name
        while len(cut.encode(enc)) > 10:
            cut = cut[:-1]
        base, i = cut, 1
        while cut in out:
            suffix = f"_{i}"
            cut = base
            while len((cut + suffix).encode(enc)) > 10:
                cut = cut[:-1]
            cut += suffix
            i += 1
        out.append(cut)
    return out


@contextmanager
def _gdal_options(**opts):
    pyogrio.set_gdal_config_options(opts)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(dict.fromkeys(opts))


def _add_volume_pair(spec: Delivery) -> None:
    """Give *spec* the before/after volume columns when it is chosen."""
    eligible = (
        spec.fmt in ("gpkg", "geojson")
        and "stock_volume_m3" in spec.columns
        and any(f.ptype == "renovation" for f in spec.rows)
    )
    chosen = zlib.crc32(f"{spec.adcode}/{spec.year}".encode()) % VOLUME_PAIR_SHARE
    if eligible and chosen == 0:
        spec.extra.update(VOLUME_PAIR_COLUMNS)


def _pair_value(f: Feature, key: str):
    if f.ptype != "renovation":
        return None
    if key == "stock_after":
        return f.volume
    gain = 0.05 + (zlib.crc32(str(f.key).encode()) % 101) / 1000.0
    return round(f.volume / (1.0 + gain), 1)


def _frame(spec: Delivery, drow) -> gpd.GeoDataFrame:
    """Build the attribute table with the delivery's own column names."""
    _add_volume_pair(spec)
    cols: dict[str, list] = {}
    canon = dict(spec.columns)
    for c, name in canon.items():
        vals: list = []
        for f in spec.rows:
            if c == "project_id":
                vals.append(f.project_id)
            elif c == "district":
                vals.append(_district_value(drow, spec.district_form))
            elif c == "year":
                vals.append(str(f.year_value) if spec.year_as_str else f.year_value)
            elif c == "project_type":
                vals.append(f.type_value)
            elif c == "area_mu":
                vals.append(round(f.area_mu * f.area_factor, 1))
            elif c == "area_ha":
                vals.append(round(f.area_mu * f.area_factor / 15.0, 4))
            elif c == "species":
                vals.append(f.species)
            elif c == "stock_volume_m3":
                vals.append(f.volume)
        cols[name] = vals
    for key, name in spec.extra.items():
        if key in VOLUME_PAIR_COLUMNS:
            cols[name] = [_pair_value(f, key) for f in spec.rows]
            continue
        cols[name] = [f.village if key == "village" else f.remark for f in spec.rows]
    geoms = gpd.GeoSeries([f.geom4490 for f in spec.rows], crs=4490)
    if spec.true_epsg != 4490:
        geoms = geoms.to_crs(spec.true_epsg)
    nd = 8 if CRS.from_epsg(spec.true_epsg).is_geographic else 3
    geoms = gpd.GeoSeries(
        [_round_coords(g, nd) for g in geoms],
        crs=spec.true_epsg if spec.write_prj else None,
    )
    return gpd.GeoDataFrame(pd.DataFrame(cols), geometry=geoms)


def _stem(spec: Delivery, drow) -> str:
    label = _district_value(drow, spec.district_form)
    if label.isdigit():
        label = drow["name_zh"]
    return f"{spec.adcode}_{label}_{spec.year}"


def _write_shapefile(gdf, path: Path, spec: Delivery) -> None:
    gdf = gdf.copy()
    gdf.columns = [*_dbf_names(list(gdf.columns[:-1]), spec.encoding), "geometry"]
    gdf = gdf.set_geometry("geometry")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'crs' was not provided")
        pyogrio.write_dataframe(
            gdf,
            path,
            driver="ESRI Shapefile",
            encoding=spec.encoding,
            layer_options={"DBF_DATE_LAST_UPDATE": FIXED_DATE},
        )
    cpg = path.with_suffix(".cpg")
    if spec.cpg is None:
        cpg.unlink(missing_ok=True)
    else:
        cpg.write_bytes(spec.cpg.encode("ascii"))
    if not spec.write_prj:
        path.with_suffix(".prj").unlink(missing_ok=True)


def write_delivery(out_dir: Path, spec: Delivery, drow, subdir: str) -> Path:
    """Write one delivery file and fill ``spec.path`` / actual column names."""
    gdf = _frame(spec, drow)
    stem = _stem(spec, drow) + ("_更正" if spec.kind == "correction" else "")
    folder = out_dir / "deliveries" / subdir
    folder.mkdir(parents=True, exist_ok=True)
    if spec.fmt in ("shp_gbk", "shp_utf8"):
        path = folder / f"{stem}.shp"
        _write_shapefile(gdf, path, spec)
    elif spec.fmt == "shpzip":
        path = folder / f"{stem}.zip"
        with tempfile.TemporaryDirectory() as tmp:
            shp = Path(tmp) / f"{stem}.shp"
            _write_shapefile(gdf, shp, spec)
            with zipfile.ZipFile(path, "w") as zf:
                for part in sorted(Path(tmp).iterdir()):
                    info = zipfile.ZipInfo(part.name, date_time=ZIP_DATE_TIME)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.create_system = 3
                    info.external_attr = 0o100644 << 16
                    zf.writestr(info, part.read_bytes(), compresslevel=6)
    elif spec.fmt == "gpkg":
        path = folder / f"{stem}.gpkg"
        with _gdal_options(OGR_CURRENT_DATE=FIXED_DATETIME):
            pyogrio.write_dataframe(gdf, path, layer=stem, driver="GPKG")
    elif spec.fmt == "geojson":
        path = folder / f"{stem}.geojson"
        pyogrio.write_dataframe(
            gdf,
            path,
            driver="GeoJSON",
            layer_options={"COORDINATE_PRECISION": 8, "RFC7946": "NO"},
        )
    else:  # pragma: no cover
        raise ValueError(spec.fmt)
    spec.path = path.relative_to(out_dir).as_posix()
    info = pyogrio.read_info(
        path,
        encoding=spec.encoding
        if spec.cpg is None and spec.fmt.startswith("shp")
        else None,
    )
    names = list(info["fields"])
    if info["features"] != len(spec.rows):
        raise AssertionError(f"{path}: wrote {len(spec.rows)} read {info['features']}")
    canon = list(spec.columns) + [f"extra:{k}" for k in spec.extra]
    if len(names) != len(canon):
        raise AssertionError(f"{path}: columns {names} do not match {canon}")
    for c, actual in zip(canon, names, strict=True):
        if c.startswith("extra:"):
            spec.actual_extra[c[6:]] = actual
        else:
            spec.actual_columns[c] = actual
    return path


def _delivery_entry(spec: Delivery) -> dict:
    fmt_name = {
        "shp_gbk": "shapefile",
        "shp_utf8": "shapefile",
        "shpzip": "shapefile_zip",
        "gpkg": "gpkg",
        "geojson": "geojson",
    }[spec.fmt]
    is_shp = spec.fmt.startswith("shp")
    columns = dict(spec.actual_columns)
    columns["extra"] = dict(spec.actual_extra)
    return {
        "path": spec.path,
        "kind": spec.kind,
        "adcode": spec.adcode,
        "year": spec.year,
        "format": fmt_name,
        "encoding": spec.encoding,
        "has_cpg": bool(is_shp and spec.cpg is not None),
        "cpg": spec.cpg if is_shp else None,
        "has_prj": bool(spec.write_prj) if is_shp else None,
        "crs": f"EPSG:{spec.true_epsg}" if spec.write_prj else None,
        "true_crs": f"EPSG:{spec.true_epsg}",
        "columns": columns,
        "area_unit": spec.area_unit,
        "district_value_form": spec.district_form,
        "n_features": len(spec.rows),
    }


def make_projects(
    out_dir: Path,
    *,
    seed: int = 2012,
    districts: gpd.GeoDataFrame | None = None,
    data_dir: Path = DATA_DIR,
    progress: Progress = print,
) -> dict:
    """Write the deliveries, corrections, withdrawals and ``truth.csv``.

    Returns the manifest's ``deliveries``, ``defects`` and ``totals`` entries.
    """
    out_dir = Path(out_dir)
    if districts is None:
        districts = load_districts(data_dir)
    types = load_project_types(data_dir)
    adds_area = {
        t for t in TYPE_ORDER if types.loc[t, "adds_forest_area"].lower() == "true"
    }
    d4545 = districts.to_crs(RASTER_EPSG)
    drows = {r["adcode"]: r for _, r in districts.iterrows()}
    lon = {
        a: g.centroid.x
        for a, g in zip(districts["adcode"], districts.geometry, strict=True)
    }
    t0 = time.perf_counter()
    features = _place_all(districts, d4545, seed, progress)
    features += _replanted(features, seed)

    # Group into deliveries, shuffle rows, number them.
    specs = {
        (a, y): _delivery_spec(a, y, lon[a], seed, types)
        for a in sorted(drows)
        for y in YEARS
    }
    _force_specs(specs, lon)
    by_file: dict = {k: [] for k in specs}
    for f in features:
        by_file[(f.home, f.year)].append(f)
    for key, spec in specs.items():
        rng = _rng(seed, "rows", *key)
        rows = sorted(by_file[key], key=lambda f: (f.key, TYPE_ORDER.index(f.ptype)))
        spec.rows = [rows[i] for i in rng.permutation(len(rows))]
        for seq, f in enumerate(spec.rows, start=1):
            f.project_id = _project_id(spec.id_form, drows[key[0]], key[1], seq)
            f.type_value = spec.aliases[f.ptype]
            f.year_value = f.year
            p = SPECIES_P.get(f.ptype, SPECIES_P["default"])
            f.species = SPECIES[int(rng.choice(len(SPECIES), p=p))]
            f.village = VILLAGES[int(rng.integers(len(VILLAGES)))] + "村"
            f.remark = REMARKS[int(rng.integers(len(REMARKS)))]
            f.volume_noise = float(rng.lognormal(0.0, 0.35))

    defects: list[dict] = []
    # Geometry defects are made in EPSG:4545 before conversion.
    bow = _pick(specs[BOWTIE_AT], lambda f: f.geom.geom_type == "Polygon")
    bow.geom = _bowtie(bow.geom)

    to4490 = Transformer.from_crs(RASTER_EPSG, 4490, always_xy=True)
    for f in features:
        g = shapely.transform(
            f.geom, lambda c: np.c_[to4490.transform(c[:, 0], c[:, 1])]
        )
        f.geom4490 = _round_coords(g, 8)
    out_f = _pick(specs[OUTSIDE_AT], lambda f: True)
    c = out_f.geom4490.centroid
    out_f.geom4490 = _round_coords(
        affinity.translate(
            out_f.geom4490,
            OUTSIDE_TARGET_LONLAT[0] - c.x,
            OUTSIDE_TARGET_LONLAT[1] - c.y,
        ),
        8,
    )
    out_f.located = ""
    for f in features:
        f.area_mu = _true_area_mu(f.geom4490)
        f.volume = round(f.area_mu * VOLUME_PER_MU[f.ptype] * f.volume_noise, 1)
    progress(f"projects: {len(features)} features ({time.perf_counter() - t0:.1f} s)")

    # Attribute defects (applied to rows; paths filled in after writing).
    pending: list[tuple] = []  # (class, spec, feature, field, expect, detail-fn)
    pending.append(
        (
            "invalid_geometry",
            specs[BOWTIE_AT],
            bow,
            "geometry",
            "invalid_geometry",
            lambda f: (
                f"polygon ring self-intersects (bow-tie); make_valid "
                f"gives 2 triangles of {f.area_mu:.1f} mu; report, do not "
                "silently drop"
            ),
        )
    )
    f = _pick(specs[UNKNOWN_TYPE_AT], lambda f: True)
    f.type_value = UNKNOWN_TYPE_WORD
    pending.append(
        (
            "unknown_project_type",
            specs[UNKNOWN_TYPE_AT],
            f,
            "project_type",
            "unknown_project_type",
            lambda f: (
                f"project type '{UNKNOWN_TYPE_WORD}' is not in "
                "project_types.csv (no alias matches)"
            ),
        )
    )
    spec = specs[DUPLICATE_ID_AT]
    first = _pick(spec, lambda f: True, start=3)
    dup = spec.rows[spec.rows.index(first) + 1]
    dup.project_id = first.project_id
    first_row = spec.rows.index(first)
    pending.append(
        (
            "duplicate_id",
            spec,
            dup,
            "project_id",
            "duplicate_id",
            lambda f: (
                f"project id {f.project_id} occurs twice in the "
                f"file (rows {first_row} and {first_row + 1}), with different "
                "geometries"
            ),
        )
    )
    pending.append(
        (
            "outside_chongqing",
            specs[OUTSIDE_AT],
            out_f,
            "geometry",
            "outside_chongqing",
            lambda f: (
                "polygon lies in Hubei (about "
                f"{OUTSIDE_TARGET_LONLAT[0]}E {OUTSIDE_TARGET_LONLAT[1]}N), "
                "outside every Chongqing district"
            ),
        )
    )
    wrong = next(f for f in features if f.key == ("wrong", 0))
    pending.append(
        (
            "wrong_district",
            specs[WRONG_DISTRICT_AT],
            wrong,
            "district",
            "wrong_district",
            lambda f: (
                f"district column says {f.home} "
                f"({drows[f.home]['name_zh']}) but the polygon lies inside "
                f"{f.located} ({drows[f.located]['name_zh']})"
            ),
        )
    )
    for key, factor in ((k[:2], k[2]) for k in AREA_MISMATCH_AT):
        spec = specs[key]
        f = _pick(spec, lambda f: True, start=4 if spec.area_unit == "mu" else 1)
        f.area_factor = factor
        col = "area_mu" if spec.area_unit == "mu" else "area_ha"
        pending.append(
            (
                "area_mismatch",
                spec,
                f,
                col,
                "area_mismatch",
                lambda f, u=spec.area_unit: (
                    "reported area "
                    f"{f.area_mu * f.area_factor / (15.0 if u == 'ha' else 1):.4g}"
                    f" {u} vs geometry {f.area_mu:.1f} mu (factor "
                    f"{f.area_factor}; >20 % off)"
                ),
            )
        )
    key, bad_year = YEAR_OUT_OF_RANGE_AT[:2], YEAR_OUT_OF_RANGE_AT[2]
    f = _pick(specs[key], lambda f: True, start=2)
    f.year_value = bad_year
    pending.append(
        (
            "year_out_of_range",
            specs[key],
            f,
            "year",
            "year_out_of_range",
            lambda f: (
                f"year {f.year_value} is outside 2011-2015 "
                f"(file delivered for {f.year})"
            ),
        )
    )
    for f in features:
        if f.replants is not None:
            pending.append(
                (
                    "overlap",
                    specs[(f.home, f.year)],
                    f,
                    "geometry",
                    "overlap",
                    lambda f: (
                        f"re-plants part of {f.replants.project_id} "
                        f"({f.replants.year}, {f.replants.ptype}): overlaps "
                        f"{_overlap_mu(f):.1f} mu; net new forest area counts "
                        "it once"
                    ),
                )
            )

    # Write all deliveries.
    for (adcode, year), spec in specs.items():
        write_delivery(out_dir, spec, drows[adcode], str(year))
    progress(
        f"projects: wrote {len(specs)} deliveries ({time.perf_counter() - t0:.1f} s)"
    )
    for cls, spec, f, fld, expect, detail in pending:
        defects.append(_defect(cls, spec, f, fld, expect, detail(f)))
    for key, what, detail in (
        (
            NOPRJ_LONLAT_AT,
            "missing_crs_inferred",
            "no .prj; coordinates are degrees within Chongqing: assume EPSG:4490 "
            "(CGCS2000) and warn",
        ),
        (
            NOPRJ_PREFIXED_AT,
            "missing_crs_inferred",
            "no .prj; eastings carry the zone prefix {zone}: infer "
            "EPSG:{epsg} (CGCS2000 3-degree GK zone {zone}) and warn",
        ),
        (
            NOPRJ_UNPREFIXED_AT,
            "missing_crs_refused",
            "no .prj; eastings around 500 km have no zone prefix (true CRS "
            "EPSG:{epsg}): the zone cannot be inferred, refuse the file and ask "
            "for a .prj / --crs",
        ),
    ):
        spec = specs[key]
        zone = CRS.from_epsg(spec.true_epsg).name.rsplit(" ", 1)[-1]
        defects.append(
            _defect(
                what,
                spec,
                None,
                "crs",
                what,
                detail.format(zone=zone, epsg=spec.true_epsg),
            )
        )
    for key in GBK_NO_CPG_AT:
        spec = specs[key]
        defects.append(
            _defect(
                "gbk_without_cpg",
                spec,
                None,
                "encoding",
                "encoding_inferred",
                "no .cpg and no code page in the .dbf: text is "
                "GBK; decode as GBK/GB18030 (not UTF-8 or "
                "ISO-8859-1) and record the inferred encoding",
            )
        )

    # Re-delivery of one polygon, and one withdrawal.
    orig_spec = specs[REDELIVERY_OF]
    orig = _pick(orig_spec, lambda f: f.geom.geom_type == "Polygon", start=3)
    new_geom = orig.geom.buffer(-80.0).simplify(10.0)
    corr = Feature(("corr", 0), orig.home, orig.home, orig.year, orig.ptype, new_geom)
    for name in (
        "project_id",
        "type_value",
        "year_value",
        "species",
        "village",
        "remark",
    ):
        setattr(corr, name, getattr(orig, name))
    corr.geom4490 = _round_coords(
        shapely.transform(
            new_geom, lambda c: np.c_[to4490.transform(c[:, 0], c[:, 1])]
        ),
        8,
    )
    corr.area_mu = _true_area_mu(corr.geom4490)
    corr.volume = round(corr.area_mu * VOLUME_PER_MU[corr.ptype], 1)
    corr_spec = Delivery(
        **{
            **{
                k: getattr(orig_spec, k)
                for k in (
                    "adcode",
                    "year",
                    "columns",
                    "extra",
                    "area_unit",
                    "district_form",
                    "id_form",
                    "year_as_str",
                    "aliases",
                )
            },
            "fmt": "gpkg",
            "encoding": "UTF-8",
            "cpg": None,
            "true_epsg": 4490,
            "write_prj": True,
            "rows": [corr],
            "kind": "correction",
        }
    )
    write_delivery(out_dir, corr_spec, drows[orig.home], "corrections")
    orig_row = orig_spec.rows.index(orig)
    d = _defect(
        "redelivery",
        corr_spec,
        corr,
        "geometry",
        "redelivery",
        f"replaces project {orig.project_id} of {orig.home} {orig.year} "
        f"({orig_spec.path} row {orig_row}): area {orig.area_mu:.1f} -> "
        f"{corr.area_mu:.1f} mu; keep the old version in the history",
    )
    d["replaces"] = {
        "path": orig_spec.path,
        "row": orig_row,
        "project_id": orig.project_id,
    }
    defects.append(d)

    wd_spec = specs[WITHDRAWAL_OF]
    wd = _pick(wd_spec, lambda f: True, start=2)
    wd_path = out_dir / "deliveries" / "withdrawals.csv"
    with wd_path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["district", "project_id", "reason", "date"])
        writer.writerow(
            [
                drows[wd.home]["name_zh"],
                wd.project_id,
                "地块调整为建设用地，申请撤销",
                "2014-06-30",
            ]
        )
    wd_row = wd_spec.rows.index(wd)
    defects.append(
        {
            "id": "",
            "class": "withdrawal",
            "path": "deliveries/withdrawals.csv",
            "row": 0,
            "project_id": wd.project_id,
            "field": None,
            "expect": "withdrawal",
            "detail": f"withdraws project {wd.project_id} of {wd.home} {wd.year} "
            f"({wd_spec.path} row {wd_row}) as of 2014-06-30; it must "
            "leave current totals but stay in the history",
            "withdraws": {
                "path": wd_spec.path,
                "row": wd_row,
                "project_id": wd.project_id,
            },
        }
    )
    for i, d in enumerate(defects, start=1):
        d["id"] = f"D{i:02d}"
    _tag_truth(defects, specs)
    _write_truth(out_dir, specs, corr_spec)
    totals = _totals(specs, adds_area)
    deliveries = [_delivery_entry(s) for s in specs.values()]
    deliveries.append(_delivery_entry(corr_spec))
    progress(
        f"projects: {totals['features']} features, {len(defects)} defects "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    withdrawn = {
        (d["withdraws"]["path"], d["withdraws"]["row"])
        for d in defects
        if d.get("withdraws")
    }
    truth = [
        {
            "path": spec.path,
            "row": i,
            "project_id": f.project_id,
            "home": f.home,
            "located": f.located,
            "year": f.year,
            "ptype": f.ptype,
            "geometry": f.geom4490,
            "withdrawn": (spec.path, i) in withdrawn,
        }
        for spec in specs.values()
        for i, f in enumerate(spec.rows)
    ]
    return {
        "deliveries": deliveries,
        "defects": defects,
        "totals": totals,
        "truth": truth,
    }


def _pick(spec: Delivery, cond, start: int = 2) -> Feature:
    """First row at index >= ``start`` that meets ``cond`` and has no defect."""
    n = len(spec.rows)
    for i in list(range(start, n)) + list(range(min(start, n))):
        f = spec.rows[i]
        if cond(f) and not f.defects and f.replants is None and f.key[0] == "n":
            f.defects.append("picked")
            return f
    raise AssertionError(f"no row to pick in {spec.adcode} {spec.year}")


def _overlap_mu(f: Feature) -> float:
    inter = shapely.intersection(f.geom4490, f.replants.geom4490)
    return _true_area_mu(inter) if not inter.is_empty else 0.0


def _defect(cls, spec: Delivery, f: Feature | None, fld, expect, detail) -> dict:
    row = spec.rows.index(f) if f is not None else None
    column = None
    if fld in spec.actual_columns:
        column = spec.actual_columns[fld]
    return {
        "id": "",
        "class": cls,
        "path": spec.path,
        "row": row,
        "project_id": f.project_id if f is not None else None,
        "field": fld,
        "column": column,
        "expect": expect,
        "detail": detail,
    }


def _tag_truth(defects: list[dict], specs: dict) -> None:
    by_path = {s.path: s for s in specs.values()}
    for s in specs.values():
        for f in s.rows:
            f.defects = []
    for d in defects:
        spec = by_path.get(d["path"])
        if spec is None:
            continue
        rows = spec.rows if d["row"] is None else [spec.rows[d["row"]]]
        for f in rows:
            f.defects.append(d["id"])
    for d in defects:
        ref = d.get("withdraws") or d.get("replaces")
        if ref:
            by_path[ref["path"]].rows[ref["row"]].defects.append(d["id"])


def _write_truth(out_dir: Path, specs: dict, corr_spec: Delivery) -> None:
    with (out_dir / "truth.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(
            [
                "path",
                "row",
                "project_id",
                "home_adcode",
                "located_adcode",
                "year",
                "project_type",
                "type_value",
                "area_mu",
                "reported_area",
                "area_unit",
                "multipart",
                "defects",
            ]
        )
        for spec in [*specs.values(), corr_spec]:
            for i, f in enumerate(spec.rows):
                unit = spec.area_unit
                rep = f.area_mu * f.area_factor / (15.0 if unit == "ha" else 1.0)
                w.writerow(
                    [
                        spec.path,
                        i,
                        f.project_id,
                        f.home,
                        f.located,
                        f.year_value,
                        f.ptype if f.type_value != UNKNOWN_TYPE_WORD else "",
                        f.type_value,
                        f"{f.area_mu:.3f}",
                        f"{round(rep, 4 if unit == 'ha' else 1)}",
                        unit,
                        int(f.geom4490.geom_type == "MultiPolygon"),
                        "|".join(x for x in f.defects if x != "picked"),
                    ]
                )


def _totals(specs: dict, adds_area: set) -> dict:
    gross = dict.fromkeys(TYPE_ORDER, 0.0)
    reported = dict.fromkeys(TYPE_ORDER, 0.0)
    by_year = {str(y): dict.fromkeys(TYPE_ORDER, 0.0) for y in YEARS}
    n = 0
    new_geoms = []
    per_fmt: dict = {}
    for spec in specs.values():
        per_fmt[spec.fmt] = per_fmt.get(spec.fmt, 0) + 1
        for f in spec.rows:
            n += 1
            if f.type_value == UNKNOWN_TYPE_WORD:
                continue
            gross[f.ptype] += f.area_mu
            reported[f.ptype] += f.area_mu * f.area_factor
            by_year[str(f.year)][f.ptype] += f.area_mu
            if f.ptype in adds_area:
                g = f.geom
                new_geoms.append(g if g.is_valid else shapely.make_valid(g))
    union = shapely.union_all(new_geoms)
    # union computed in EPSG:4545 planar metres; scale by the summed ratio of
    # ellipsoidal to planar area so it is comparable with the gross figure.
    planar = sum(g.area for g in new_geoms)
    gross_new = sum(gross[t] for t in adds_area)
    net_new = union.area / planar * gross_new if planar else 0.0
    return {
        "features": n,
        "by_type_gross_mu": {t: round(v, 1) for t, v in gross.items()},
        "by_type_reported_mu": {t: round(v, 1) for t, v in reported.items()},
        "by_year_type_gross_mu": {
            y: {t: round(v, 1) for t, v in d.items()} for y, d in by_year.items()
        },
        "new_forest_area_types": sorted(adds_area),
        "new_forest_gross_mu": round(gross_new, 1),
        "new_forest_net_mu": round(net_new, 1),
        "note": (
            "gross = ellipsoidal (GRS80) area of every delivered geometry with a "
            "known type (make_valid for the bow-tie), before corrections and "
            "withdrawals; reported = the files' area columns in mu; net = union "
            "of area-adding types (removes re-planting overlaps)"
        ),
    }


# ---------------------------------------------------------------------------
# Manifest and CLI
# ---------------------------------------------------------------------------


def build_manifest(seed, resolution, landcover: dict, projects: dict) -> dict:
    """Assemble the manifest (``landcover`` keyed by year, as strings)."""
    lc = {k: v for k, v in landcover.items() if k != "transition_pixels"}
    return {
        "seed": int(seed),
        "resolution_m": _num(resolution),
        "generator_version": GENERATOR_VERSION,
        "landcover": lc,
        "landcover_transition_pixels": landcover.get("transition_pixels", {}),
        "deliveries": projects["deliveries"],
        "defects": projects["defects"],
        "totals": projects["totals"],
        "withdrawals_path": "deliveries/withdrawals.csv",
        "truth_path": "truth.csv",
    }


def write_manifest(out_dir: Path, manifest: dict) -> Path:
    path = Path(out_dir) / "manifest.json"
    text = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=1)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _inventory_module():
    """``scripts/make_inventory_sample.py`` (the 2010/2015 小班 layers)."""
    name = "make_inventory_sample"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("make_inventory_sample.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def generate(
    out_dir: Path,
    *,
    seed: int = 2012,
    resolution: float = 300.0,
    data_dir: Path = DATA_DIR,
    progress: Progress = print,
) -> dict:
    """Generate the whole sample into ``out_dir``; return the manifest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("landcover", "deliveries", "inventory"):
        shutil.rmtree(out_dir / name, ignore_errors=True)
    for name in ("manifest.json", "truth.csv"):
        (out_dir / name).unlink(missing_ok=True)
    districts = load_districts(data_dir)
    landcover = make_landcover(
        out_dir,
        seed=seed,
        resolution=resolution,
        districts=districts,
        progress=progress,
    )
    projects = make_projects(
        out_dir, seed=seed, districts=districts, data_dir=data_dir, progress=progress
    )
    manifest = build_manifest(seed, resolution, landcover, projects)
    manifest["inventory"] = _inventory_module().make_inventory(
        out_dir,
        seed,
        deliveries_truth=projects["truth"],
        districts=districts,
        base_coverage=BASE_COVERAGE,
        progress=progress,
    )
    write_manifest(out_dir, manifest)
    return manifest


# --------------------------------------------------------------------------
# labels for a reference sample (forestsink sample design -> estimate; #18)
# --------------------------------------------------------------------------

#: Deliberate map errors of the demo: P(reference class | map class). The
#: generated rasters are the map; the truth at a point is its map class
#: replaced at these rates, drawn with the seed in point order, so the same
#: sample always gets the same labels. The true area of a class is then
#: Σ_m (mapped area of m) × P(class | m): exact in expectation, and within
#: about 1e-4 of the realised truth on a map of 10^7-10^8 pixels.
MAP_ERRORS: dict[str, dict[str, float]] = {
    "forest": {"non_forest": 0.08},
    "non_forest": {"forest": 0.05},
    "stable_forest": {"loss": 0.02, "stable_non_forest": 0.05},
    "gain": {"stable_non_forest": 0.30, "stable_forest": 0.10},
    "loss": {"stable_forest": 0.35, "stable_non_forest": 0.05},
    "stable_non_forest": {"gain": 0.02, "stable_forest": 0.04},
}


def label_sample(sample_dir: Path, *, seed: int = 2012) -> tuple[Path, dict]:
    """Label a design's sample from the generator's truth (with map errors).

    Reads ``sample.csv`` and ``strata.csv`` that ``forestsink sample design``
    wrote in *sample_dir*, writes ``labels.csv`` (the sample with
    ``ref_class`` filled in) and ``labels_truth.json`` (the true area of each
    class in ha, and the confusion used), and returns (labels path, truth).
    """
    sample = pd.read_csv(sample_dir / "sample.csv", dtype=str, keep_default_na=False)
    strata = pd.read_csv(sample_dir / "strata.csv", dtype={"stratum": str})
    rng = _rng(seed, "reference-labels")
    u = rng.random(len(sample))
    ref = sample["map_class"].to_numpy().copy()
    for i, (mapped, draw) in enumerate(zip(sample["map_class"], u, strict=True)):
        edge = 0.0
        for other, p in MAP_ERRORS.get(mapped, {}).items():
            edge += p
            if draw < edge:
                ref[i] = other
                break
    sample["ref_class"] = ref
    labels = sample_dir / "labels.csv"
    sample.to_csv(labels, index=False, encoding="utf-8")
    mapped_ha = strata.groupby("map_class")["area_ha"].sum()
    truth: dict[str, float] = {}
    for m, area in mapped_ha.items():
        errors = MAP_ERRORS.get(str(m), {})
        truth[str(m)] = truth.get(str(m), 0.0) + area * (1 - sum(errors.values()))
        for other, p in errors.items():
            truth[other] = truth.get(other, 0.0) + area * p
    doc = {
        "true_area_ha": truth,
        "map_area_ha": {str(k): float(v) for k, v in mapped_ha.items()},
        "map_errors": MAP_ERRORS,
        "seed": seed,
    }
    (sample_dir / "labels_truth.json").write_text(json.dumps(doc, indent=1))
    return labels, doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="output folder")
    parser.add_argument(
        "--label-sample",
        type=Path,
        help="label the reference sample a `forestsink sample design --out DIR` "
        "wrote in DIR (labels.csv, labels_truth.json) and stop",
    )
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument(
        "--resolution",
        type=float,
        default=300.0,
        help="raster pixel size in metres (default 300)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DATA_DIR,
        help="folder with districts.gpkg etc.",
    )
    args = parser.parse_args(argv)
    if args.label_sample is not None:
        path, _truth = label_sample(args.label_sample, seed=args.seed)
        print(f"labels written to {path}")
        return 0
    if args.out is None:
        parser.error("--out is required")
    if args.resolution <= 0:
        parser.error("--resolution must be positive")
    t0 = time.perf_counter()
    generate(
        args.out, seed=args.seed, resolution=args.resolution, data_dir=args.data_dir
    )
    print(f"sample written to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
