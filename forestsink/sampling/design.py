"""Stratified random sample design on land-cover rasters (two windowed passes).

Strata
------
One map: ``forest`` / ``non_forest``; two maps (years 1 and 2 on one pixel
grid): ``stable_forest`` / ``gain`` / ``loss`` / ``stable_non_forest``. What
counts as forest is the class table's (``forest`` and ``shrub_forest``, as
for coverage); every other listed class, water included, is non-forest; no
data, ``excluded`` classes and codes the table does not list are never
sampled. With zones (districts or a polygon file) each class is crossed with
each zone, a pixel belonging to the zone that holds its centre; pixels in no
zone are not sampled.

How the points are drawn (memory bounded by the window, not the raster)
----------------------------------------------------------------------
0. **Zones.** The zone polygons become runs of pixel centres, row by row,
   once (:func:`forestsink.sampling.zone_runs.zone_runs`: GDAL's
   rasterising rule in one vectorised scan-line pass, identical to
   ``rasterize`` pixel for pixel); a window's zones are cut from the runs.
1. **Count.** The rasters are read in row bands (about 2²⁰ pixels, a
   multiple of :data:`CELL_ROWS` rows), only the runs of cells of
   :data:`CELL_COLS` columns that hold a zone pixel; the pixels of each
   stratum are counted per *cell* of :data:`CELL_ROWS` × :data:`CELL_COLS`
   pixels (kept sparse: only non-empty (cell, stratum) pairs). Each pixel's
   class becomes a one in byte *class* of a ``uint32`` (one lookup of both
   maps' codes), and the bytes are summed over pieces of one zone, one row
   and at most 128 columns of one cell (``numpy.add.reduceat``), so no
   per-pixel zone or key array is built. A stratum's mapped area is the sum
   over its cells of count × the ellipsoidal area of the cell's centre
   pixel (:class:`forestsink.coverage.PixelAreaModel`, the coverage
   module's pixel areas; relative error below 1e-4 per cell, far less in
   sums).
2. **Draw.** For stratum *h* with ``N_h`` pixels, ``n_h`` distinct ranks are
   drawn uniformly from ``0 … N_h − 1`` (``numpy.random.default_rng(seed)``,
   strata in order: the same seed gives the same sample). The pixels of a
   stratum are ranked by cell, then row-major inside the cell, so a rank
   names a cell and an offset in it.
3. **Locate.** Only the cells that hold a drawn point are read again
   (64 × 256 pixels each), with the open rasters that read them in pass 1,
   so tiles still in GDAL's block cache are not decoded again; the
   offset-th pixel of the stratum in the cell is the point: its centre in
   the raster CRS (``x, y``) and in CGCS2000 longitude/latitude (EPSG:4490,
   within centimetres of WGS84, as KML needs).

Speed (``benchmarks/bench_sampling.py``; README "Speed"): on the 30 m
sample, two years × 38 districts (91.6 M pixels), against a windowed read of
both rasters, n = 1,000 takes 1.31–1.62× the read's CPU time and 1.16–1.81×
its wall time, n = 5,000 1.56–2.13× and 1.43–2.19× (the low ends at load
average 2.5–3, the high ends at 6–7 on a shared 2-core machine).

Every pixel of a stratum has the same chance, so the design is a stratified
random sample of pixels (Olofsson et al. 2014, section 4.1); the estimator is
:func:`forestsink.sampling.estimators.estimate_areas`.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import rasterio
from pyproj import CRS, Transformer
from rasterio.errors import RasterioError
from rasterio.windows import Window

from forestsink.coverage import (
    ClassScheme,
    PixelAreaModel,
    RasterInfo,
    inspect_raster,
    raster_read_error,
    read_class_scheme,
)
from forestsink.errors import SamplingError
from forestsink.reference import read_districts
from forestsink.sampling.allocation import (
    ALLOCATIONS,
    allocate,
    check_request,
    read_expected_accuracy,
)
from forestsink.sampling.estimators import sample_size_eq13
from forestsink.sampling.zone_runs import pieces, zone_polygons, zone_runs
from forestsink.units import MU_PER_HA

__all__ = [
    "ALLOCATIONS",
    "CELL_COLS",
    "CELL_ROWS",
    "CHANGE_CLASSES",
    "FOREST_CLASSES",
    "Design",
    "allocate",
    "design_sample",
    "read_expected_accuracy",
]

FOREST_CLASSES: tuple[str, ...] = ("forest", "non_forest")
"""Stratum classes of one map."""

CHANGE_CLASSES: tuple[str, ...] = ("stable_forest", "gain", "loss", "stable_non_forest")
"""Stratum classes of two maps (year 1 → year 2)."""

#: Rows and columns of a counting cell (the unit read again in pass 2).
CELL_ROWS = 64
CELL_COLS = 256

#: Cells between two runs of cells that are read as one window.
_GAP = 1

#: Columns of a piece of pass 1 (its class counts, below 256, fit a byte).
_PIECE = 128

_FOREST_KINDS = ("forest", "shrub_forest")


@dataclass(frozen=True)
class Design:
    """A drawn sample and its strata.

    Attributes
    ----------
    points : pandas.DataFrame
        ``point_id, stratum, map_class, lon, lat, x, y, adcode, row, col,
        map_code[, map_code2]``: pixel centres; ``x, y`` in the raster CRS,
        ``lon, lat`` in EPSG:4490 (degrees); ``adcode`` the zone id (the
        district's adcode with ``--zones districts``; without zones, the
        district holding the point, or empty).
    strata : pandas.DataFrame
        ``stratum, map_class, adcode, n_pixels, pixel_area_ha, area_ha,
        area_mu, weight, n_points``: mapped area on the ellipsoid of the
        raster's geodetic CRS, in ha and mu.
    crs : pyproj.CRS
        The raster CRS of ``x, y``.
    meta : dict
        Parameters and figures of the design (for ``design.json``).
    """

    points: pd.DataFrame
    strata: pd.DataFrame
    crs: object
    meta: dict


# --------------------------------------------------------------------------
# strata of a window
# --------------------------------------------------------------------------


def _lookup(table: pa.Array, index: np.ndarray) -> np.ndarray:
    """Return ``table[index]`` (Arrow's take: a third of numpy's time here)."""
    found = pc.take(table, pa.array(index.ravel()))
    return found.to_numpy(zero_copy_only=True).reshape(index.shape)


def _class_lut(info: RasterInfo, scheme: ClassScheme) -> np.ndarray:
    """Raster value -> 0 forest, 1 non-forest, 2 not sampled (uint8)."""
    index = scheme.lut(info.nodata, max_code=info.max_code)
    kinds = scheme.kinds()
    per_class = np.where(
        np.isin(kinds, _FOREST_KINDS), 0, np.where(kinds == "excluded", 2, 1)
    ).astype(np.uint8)
    return per_class[index]


class _Layout:
    """Rasters, class tables and zones: the stratum of any window.

    A window's strata come back as small integer keys (:meth:`keys_of`);
    ``_final(1)`` maps a key to its stratum, or to :attr:`n_strata` for
    pixels that are not sampled (no data, excluded, outside every zone).
    """

    def __init__(self, infos, scheme, zones) -> None:
        self.infos = infos
        self.grid = infos[0].grid
        # raster value -> 0 forest, 1 non-forest, 2 not sampled
        self.luts = [np.minimum(_class_lut(info, scheme), 2) for info in infos]
        self.offsets = [info.grid.offset_in(self.grid) for info in infos]
        self.classes = FOREST_CLASSES if len(infos) == 1 else CHANGE_CLASSES
        k = len(self.classes)
        self.zone_ids: list[str] = []
        self.runs = None
        if zones is not None:
            self.zone_ids, geoms = zones
            grid = self.grid
            self.runs = zone_runs(geoms, grid.transform, grid.height, grid.width)
        self.n_strata = k * max(1, len(self.zone_ids))
        none = self.n_strata
        if len(infos) == 1:
            combine = np.array([0, 1, k], dtype=np.int32)
        else:  # index c1 * 3 + c2: stable forest, gain, loss, stable non-forest
            combine = np.array([0, 2, k, 1, 3, k, k, k, k], dtype=np.int32)
        if zones is None:
            self.combine = np.where(combine == k, none, combine).astype(np.uint8)
            self.zone_lut = None
        else:
            self.combine = combine.astype(np.uint8)
            n_zones = len(self.zone_ids)
            lut = np.full((n_zones + 1, k + 1), none, dtype=np.int32)
            lut[1:, :k] = np.arange(n_zones)[:, None] * k + np.arange(k)[None, :]
            self.zone_lut = lut.ravel()
        # zone numbers come times (k + 1), the class is added
        size = (len(self.zone_ids) + 1) * (k + 1)
        self.zone_dtype = (
            "uint8" if size <= 1 << 8 else "uint16" if size <= 1 << 16 else "int32"
        )
        self.pair = None
        if len(infos) == 2 and all(i.max_code == 255 for i in infos):
            both = self.luts[0][:, None] * 3 + self.luts[1][None, :]
            self.pair = self.combine[both].ravel()
        # class -> one count in byte `class` of a uint32 (nothing when not
        # sampled): a sum over at most 255 pixels counts the classes at once
        onehot = np.zeros(max(int(self.combine.max()), k) + 1, dtype=np.uint32)
        onehot[:k] = 1 << (8 * np.arange(k, dtype=np.uint32))
        if self.pair is not None:
            classes_at = self.pair
        elif len(infos) == 1:
            classes_at = self.combine[self.luts[0]]
        else:
            classes_at = self.combine
        # the class (or, one-hot, its count) of each row of :meth:`_index`
        self.classes_at = pa.array(classes_at)
        self.onehot = pa.array(onehot[classes_at])

    def open(self) -> list:
        """Open every raster (one set per thread).

        The rasters passed :func:`forestsink.coverage.inspect_raster`, which
        refuses a file without a geotransform, so GDAL has no
        ``NotGeoreferencedWarning`` to give here: no warning filter is
        touched (``warnings.catch_warnings`` is not thread-safe).
        """
        srcs = []
        for info in self.infos:
            try:
                srcs.append(rasterio.open(info.path))
            except RasterioError as err:
                for src in srcs:
                    src.close()
                raise raster_read_error(info.path, err) from err
        return srcs

    def read(self, srcs, i: int, r0: int, c0: int, h: int, w: int) -> np.ndarray:
        """Raster *i*'s values on rows/cols of the first raster's grid."""
        src, info = srcs[i], self.infos[i]
        dr, dc = self.offsets[i]
        r, c = r0 - dr, c0 - dc
        inside = r >= 0 and c >= 0 and r + h <= src.height and c + w <= src.width
        fill = 0 if info.nodata is None else int(info.nodata)
        try:
            if inside:
                return src.read(info.band, window=Window(c, r, w, h))
            return src.read(
                info.band, window=Window(c, r, w, h), boundless=True, fill_value=fill
            )
        except RasterioError as err:
            raise raster_read_error(info.path, err) from err

    def _final(self, mult: int) -> np.ndarray:
        """Lookup to the stratum index × *mult* (intp, as bincount takes it)."""
        cache = self.__dict__.setdefault("_final_cache", {})
        if mult not in cache:
            base = (
                self.zone_lut
                if self.zone_lut is not None
                else np.arange(len(self.classes) + 1)
            )
            cache[mult] = base.astype(np.intp) * mult
        return cache[mult]

    @property
    def n_keys(self) -> int:
        """Values of :meth:`keys_of` (``_final(1)`` maps them to strata)."""
        return len(self._final(1))

    @property
    def none_key(self) -> int:
        """A key of :meth:`keys_of` that is no stratum's."""
        return 0 if self.zone_lut is not None else len(self.classes)

    def key_of_stratum(self, s: int) -> int:
        """Return the key of :meth:`keys_of` that stratum *s* has."""
        if self.zone_lut is None:
            return s
        k = len(self.classes)
        return (s // k + 1) * (k + 1) + s % k

    def keys_of(self, srcs, r0: int, c0: int, h: int, w: int):
        """Return (zone × (k + 1) + class, or the class without zones; raw codes).

        Small integers below :attr:`n_keys`; ``_final(1)`` maps them to the
        stratum (or :attr:`n_strata`, not sampled). The zone of a pixel is
        the same in any window (:class:`ZoneRuns`), so both passes agree.
        """
        codes = [self.read(srcs, i, r0, c0, h, w) for i in range(len(self.infos))]
        return self.keys_from(codes, r0, c0), codes

    def _index(self, codes) -> np.ndarray:
        """Each pixel's row in the class tables (:attr:`classes_at`, one-hot)."""
        if self.pair is not None:  # two 8-bit rasters: both codes in a uint16
            key = codes[0].astype(np.uint16)
            key <<= 8
            key |= codes[1]
            return key
        if len(codes) == 1:
            return codes[0]
        c = np.take(self.luts[0], codes[0])
        c *= np.uint8(3)
        c += np.take(self.luts[1], codes[1])
        return c

    def keys_from(self, codes, r0: int, c0: int, zone=None) -> np.ndarray:
        """Return the keys of :meth:`keys_of` for raw *codes* read at (*r0*, *c0*).

        *zone*: the window's :meth:`zones`, when cut already from a wider one.
        """
        h, w = codes[0].shape
        cls = _lookup(self.classes_at, self._index(codes))
        if self.runs is None:
            return cls
        zone = self.zones(r0, h, c0, w) if zone is None else zone.copy()
        zone += cls
        return zone

    def zones(self, r0: int, h: int, c0: int, w: int) -> np.ndarray:
        """Zone number × (k + 1) of each pixel of a window (0: in no zone)."""
        step = len(self.classes) + 1
        return self.runs.window(r0, h, c0, w, scale=step, dtype=self.zone_dtype)

    def onehot_of(self, srcs, r0: int, c0: int, h: int, w: int) -> np.ndarray:
        """Return each pixel's class as a count in byte *class* of a uint32."""
        codes = [self.read(srcs, i, r0, c0, h, w) for i in range(len(self.infos))]
        return _lookup(self.onehot, self._index(codes))

    def windows(self, r0: int, h: int, cells=None) -> list[tuple[int, int]]:
        """Column windows ``(c0, c1)`` of rows ``r0 … r0+h−1`` worth reading.

        Without zones the whole width; with zones the runs of cells of
        :data:`CELL_COLS` columns that hold a zone pixel (or, given, the
        cells *cells*), two runs at most :data:`_GAP` cells apart read as
        one. The cell grid, and with it the draw, does not depend on them.
        """
        width = self.grid.width
        ncb = -(-width // CELL_COLS)
        if cells is None:
            if self.runs is None:
                return [(0, width)]
            cells = np.flatnonzero(self.runs.cells(r0, h, CELL_COLS, ncb))
        if len(cells) == 0:
            return []
        cuts = np.flatnonzero(np.diff(cells) > _GAP + 1) + 1
        return [
            (int(run[0]) * CELL_COLS, min(width, (int(run[-1]) + 1) * CELL_COLS))
            for run in np.split(cells, cuts)
        ]


# --------------------------------------------------------------------------
# the two passes
# --------------------------------------------------------------------------


def _bands(grid, window_pixels: int):
    rows = max(
        CELL_ROWS, (window_pixels // max(grid.width, 1)) // CELL_ROWS * CELL_ROWS
    )
    for r0 in range(0, grid.height, rows):
        yield r0, min(grid.height, r0 + rows)


class _Readers:
    """Open rasters, one set per share of the row bands, kept for pass 2.

    Pass 2 reads the cells of a band with the set that read the band in
    pass 1, so tiles still in GDAL's block cache (bounded by
    ``GDAL_CACHEMAX``, 5 % of the RAM by default) are not decoded again;
    tiles it has dropped are decoded again, with the same result.
    """

    def __init__(self, layout: _Layout) -> None:
        self.layout = layout
        self.first_rows: list[int] = []
        self.sets: list[list] = []

    def open(self, first_rows: Sequence[int]) -> list[list]:
        """Open one set of rasters for each share starting at *first_rows*."""
        for r0 in first_rows:
            self.sets.append(self.layout.open())
            self.first_rows.append(r0)
        return self.sets

    def for_row(self, r0: int) -> list:
        """Return the set of rasters that read row *r0* in pass 1."""
        if not self.sets:
            self.open([0])
        return self.sets[max(0, bisect.bisect_right(self.first_rows, r0) - 1)]

    def close(self) -> None:
        """Close every open raster."""
        for srcs in self.sets:
            for src in srcs:
                src.close()
        self.sets, self.first_rows = [], []


def _count_bands(layout: _Layout, bands, tick, srcs) -> tuple:
    """Count one share of the bands with its own open rasters *srcs*."""
    grid = layout.grid
    width = grid.width
    ncb = -(-width // CELL_COLS)
    areas = layout.areas
    # per window: pieces of one zone in one cell row of at most 128 pixels
    # (a uint32 holds four class counts below 256), their one-hot class
    # bytes summed by reduceat, then added to (cell, zone and class) keys
    n_keys = layout.n_keys
    k = len(layout.classes)
    step = k + 1
    shifts = (8 * np.arange(k, dtype=np.uint32))[:, None]
    final = layout._final(1)
    order = np.argsort(final, kind="stable")
    present, starts = np.unique(final[order], return_index=True)
    area_m2 = np.zeros(layout.n_strata)
    cells, strata, counts = [], [], []
    for r0, r1 in bands:
        h = r1 - r0
        nrb = -(-h // CELL_ROWS)
        n_cells = nrb * ncb
        per_key = np.zeros(n_keys * n_cells)
        for c0, c1 in layout.windows(r0, h):
            w = c1 - c0
            onehot = layout.onehot_of(srcs, r0, c0, h, w)
            first, zone, col = pieces(layout.runs, r0, h, c0, w, _PIECE)
            sums = np.add.reduceat(onehot.ravel(), first, dtype=np.uint32)
            inside = zone >= 0
            cell = (first[inside] // w) // CELL_ROWS * ncb + col[inside] // CELL_COLS
            base = cell * n_keys + zone[inside] * step
            per_class = (sums[inside][None, :] >> shifts) & np.uint32(0xFF)
            per_key += np.bincount(
                (base[None, :] + np.arange(k)[:, None]).ravel(),
                weights=per_class.ravel(),
                minlength=n_keys * n_cells,
            )
        per_key = per_key.astype(np.int64)
        summed = np.add.reduceat(
            per_key.reshape(n_cells, n_keys)[:, order], starts, axis=1
        )
        table = np.zeros((layout.n_strata + 1, n_cells), dtype=np.int64)
        table[present] = summed.T
        table = table[: layout.n_strata]
        # ellipsoidal area at each cell's centre pixel
        rr = np.minimum(r0 + np.arange(nrb) * CELL_ROWS + CELL_ROWS // 2, r1 - 1)
        cc = np.minimum(np.arange(ncb) * CELL_COLS + CELL_COLS // 2, width - 1)
        cell_area = areas(rr[:, None], cc[None, :]).ravel()
        area_m2 += table @ cell_area
        s_idx, c_idx = np.nonzero(table)
        cells.append(c_idx + (r0 // CELL_ROWS) * ncb)
        strata.append(s_idx)
        counts.append(table[s_idx, c_idx])
        if tick:
            tick()
    return cells, strata, counts, area_m2


def _count(layout: _Layout, window_pixels: int, progress, threads: int, readers):
    """Pass 1: sparse (cell, stratum, count) triplets and stratum areas (m²).

    Row bands are shared out among *threads* threads in contiguous runs,
    each with its own open rasters (GDAL decodes and numpy works without the
    GIL); the triplets are
    sorted by stratum and cell afterwards, so the draw does not depend on
    the number of threads or the band height.
    """
    layout.areas = PixelAreaModel.build(layout.grid)
    bands = list(_bands(layout.grid, window_pixels))
    n_threads = max(1, min(threads, len(bands)))
    lock = threading.Lock()
    done = [0]

    def tick() -> None:
        if progress:
            with lock:
                done[0] += 1
                progress(done[0], len(bands))

    # contiguous shares: a tile row is decoded by one thread only
    cuts = [len(bands) * i // n_threads for i in range(n_threads + 1)]
    sets = readers.open([bands[cuts[i]][0] for i in range(n_threads)])

    def share(i: int) -> tuple:
        return _count_bands(layout, bands[cuts[i] : cuts[i + 1]], tick, sets[i])

    if n_threads == 1:
        parts = [share(0)]
    else:
        with ThreadPoolExecutor(n_threads, thread_name_prefix="sample") as pool:
            parts = list(pool.map(share, range(n_threads)))
    cell = np.concatenate([c for p in parts for c in p[0]]).astype(np.int64)
    stratum = np.concatenate([s for p in parts for s in p[1]]).astype(np.int64)
    count = np.concatenate([c for p in parts for c in p[2]]).astype(np.int64)
    area_m2 = sum(p[3] for p in parts)
    order = np.lexsort((cell, stratum))
    return cell[order], stratum[order], count[order], area_m2, len(bands)


def _distinct(rng: np.random.Generator, population: int, k: int) -> np.ndarray:
    """*k* distinct integers drawn uniformly from ``0 … population − 1``."""
    if k >= population:
        return np.arange(population, dtype=np.int64)
    if k > population // 4:
        return np.sort(rng.choice(population, size=k, replace=False))
    picked = np.unique(rng.integers(0, population, size=k))
    while len(picked) < k:
        more = rng.integers(0, population, size=k - len(picked))
        picked = np.unique(np.concatenate([picked, more]))
    return picked


def _draw(layout, cell, stratum, count, n_h, seed) -> tuple:
    """Ranks per stratum (seeded) as (cell, stratum, offset in the cell)."""
    rng = np.random.default_rng(seed)
    starts = np.searchsorted(stratum, np.arange(layout.n_strata))
    ends = np.searchsorted(stratum, np.arange(layout.n_strata), side="right")
    want_cell, want_stratum, want_offset = [], [], []
    for s in range(layout.n_strata):
        if n_h[s] == 0:
            continue
        c = count[starts[s] : ends[s]]
        cum = np.cumsum(c)
        ranks = _distinct(rng, int(cum[-1]), int(n_h[s]))
        where = np.searchsorted(cum, ranks, side="right")
        want_cell.append(cell[starts[s] : ends[s]][where])
        want_stratum.append(np.full(len(ranks), s))
        want_offset.append(ranks - (cum[where] - c[where]))
    if not want_cell:
        return None
    return (
        np.concatenate(want_cell),
        np.concatenate(want_stratum),
        np.concatenate(want_offset),
    )


def _locate(layout, cell, stratum, count, n_h, seed, readers) -> pd.DataFrame:
    """Draw ranks per stratum and find their pixels (pass 2).

    The cells holding a drawn point are read again one cell row at a time,
    runs of nearby cells in one window; only those cells' keys are compared.
    """
    drawn = _draw(layout, cell, stratum, count, n_h, seed)
    if drawn is None:
        return pd.DataFrame(columns=["stratum_index", "row", "col"])
    w_cell, w_stratum, w_offset = drawn
    order = np.lexsort((w_offset, w_stratum, w_cell))
    rows = np.empty(len(order), dtype=np.int64)
    cols = np.empty(len(order), dtype=np.int64)
    codes = np.zeros((len(order), len(layout.infos)), dtype=np.int64)
    grid = layout.grid
    ncb = -(-grid.width // CELL_COLS)
    # points of each cell: order[first[i]:first[i + 1]] for u_cells[i]
    u_cells, first = np.unique(w_cell[order], return_index=True)
    first = np.r_[first, len(order)]
    for band in np.unique(u_cells // ncb):
        at = np.flatnonzero(u_cells // ncb == band)
        r0 = int(band) * CELL_ROWS
        h = min(CELL_ROWS, grid.height - r0)
        srcs = readers.for_row(r0)
        for c0, c1 in layout.windows(r0, h, cells=u_cells[at] % ncb):
            # keys of the window (padded to whole cells with a key of no
            # stratum), the cells holding points gathered row-major
            keys, raw = layout.keys_of(srcs, r0, c0, h, c1 - c0)
            n_blocks = -(-(c1 - c0) // CELL_COLS)
            pad = n_blocks * CELL_COLS - (c1 - c0)
            if pad:
                keys = np.pad(keys, ((0, 0), (0, pad)), constant_values=layout.none_key)
            col0 = (u_cells[at] % ncb) * CELL_COLS
            mine = at[(col0 >= c0) & (col0 < c1)]
            block = ((u_cells[mine] % ncb) * CELL_COLS - c0) // CELL_COLS
            gathered = keys.reshape(h, n_blocks, CELL_COLS)[:, block, :]
            gathered = gathered.transpose(1, 0, 2).reshape(len(block), -1)
            for flat, i, b in zip(gathered, mine, block, strict=True):
                for k in order[first[i] : first[i + 1]]:
                    # the offset-th pixel of the stratum: its row by counts
                    # per row, then its column in that row
                    hit = (flat == layout.key_of_stratum(int(w_stratum[k]))).reshape(
                        h, CELL_COLS
                    )
                    cum = np.cumsum(np.add.reduce(hit, axis=1, dtype=np.int32))
                    if w_offset[k] >= cum[-1]:  # pass 1 and 2 agree
                        raise SamplingError(
                            f"internal: cell {u_cells[i]} holds {cum[-1]} pixels "
                            f"of stratum {w_stratum[k]} on the second read, fewer "
                            "than the first; is the raster being rewritten?"
                        )
                    dr = int(np.searchsorted(cum, w_offset[k], side="right"))
                    before = int(cum[dr - 1]) if dr else 0
                    in_row = np.flatnonzero(hit[dr])[w_offset[k] - before]
                    dc = int(b) * CELL_COLS + int(in_row)
                    rows[k], cols[k] = r0 + dr, c0 + dc
                    codes[k] = [int(v[dr, dc]) for v in raw]
    out = pd.DataFrame({"stratum_index": w_stratum, "row": rows, "col": cols})
    for n_raster in range(len(layout.infos)):
        out[f"code{n_raster}"] = codes[:, n_raster]
    # strata in order, each in the order drawn (ranks ascending)
    return out.sort_values(["stratum_index", "row", "col"], kind="stable")


def design_sample(
    maps: Sequence[str | Path],
    *,
    product: str = "clcd",
    classes: str | Path | None = None,
    zones: str | None = None,
    n: int | None = None,
    target_se: float | None = None,
    min_per_stratum: int = 10,
    allocation: str = "proportional",
    expected_ua: str | Path | None = None,
    seed: int = 2014,
    crs=None,
    window_pixels: int = 1 << 20,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Design:
    """Stratify one or two land-cover maps and draw a stratified random sample.

    Parameters
    ----------
    maps : sequence of str or Path
        One raster (strata forest / non-forest) or two on one pixel grid,
        year 1 then year 2 (stable forest / gain / loss / stable non-forest).
    product : str, optional (default: "clcd")
        Class preset: clcd, worldcover, globeland30, custom (with *classes*).
    classes : str or Path, optional (default: None)
        Class table overriding the preset (as for ``forestsink coverage``).
    zones : str, optional (default: None)
        ``districts`` or a polygon file: cross the classes with the zones;
        pixels outside every zone are not sampled.
    n : int, optional (default: None)
        Points in all. Give *n* or *target_se*.
    target_se : float, optional (default: None)
        Target standard error of overall accuracy (fraction); n from Olofsson
        et al. 2014 eq. 13, ``n = (Σ W_h S_h / S(Ô))²``, ``S_h = √(U_h(1−U_h))``.
    min_per_stratum : int, optional (default: 10)
        Fewest points per stratum (or all its pixels).
    allocation : str, optional (default: "proportional")
        proportional, equal or neyman (see :func:`allocate`).
    expected_ua : str or Path, optional (default: None)
        Expected user's accuracy per class (eq. 13 and neyman).
    seed : int, optional (default: 2014)
        Seed of the draw.
    crs : optional (default: None)
        CRS of rasters that carry none.
    window_pixels : int, optional (default: 2**20)
        Pixels per band of the counting pass.
    threads : int, optional (default: the CPUs, at most 4)
        Threads of the counting pass; the sample does not depend on it.
    progress : callable, optional (default: None)
        ``progress(done, total)`` after each band.

    Returns
    -------
    Design
        Areas in ha and mu on the ellipsoid of the raster's geodetic CRS.
    """
    check_request(maps, n=n, target_se=target_se, allocation=allocation)
    scheme = read_class_scheme(product, classes)
    infos = [inspect_raster(m, crs=crs) for m in maps]
    zone_polys = None if zones is None else zone_polygons(zones, infos[0].grid)
    layout = _Layout(infos, scheme, zone_polys)
    users = read_expected_accuracy(expected_ua)
    missing = [c for c in layout.classes if c not in users]
    if missing and (target_se is not None or allocation == "neyman"):
        raise SamplingError(
            f"预期用户精度缺少类别 {missing} / expected user's accuracy missing for "
            f"{missing}; add rows class, users_accuracy to the expected_ua table."
        )
    readers = _Readers(layout)
    try:
        cell, stratum, count, area_m2, n_bands = _count(
            layout,
            window_pixels,
            progress,
            threads or min(os.cpu_count() or 1, 4),
            readers,
        )
        n_pixels = _pixels_per_stratum(stratum, count, layout.n_strata)
        area_ha = area_m2 / 1e4
        n_h, eq13 = _points_per_stratum(
            layout,
            users,
            area_ha=area_ha,
            n_pixels=n_pixels,
            n=n,
            target_se=target_se,
            allocation=allocation,
            min_per_stratum=min_per_stratum,
        )
        if eq13 is not None:
            n = eq13
        found = _locate(layout, cell, stratum, count, n_h, seed, readers)
    finally:
        readers.close()
    return _assemble(
        layout,
        found,
        n_pixels=n_pixels,
        area_ha=area_ha,
        n_h=n_h,
        meta={
            "maps": [str(m) for m in maps],
            "product": scheme.product,
            "classes_file": None if classes is None else str(classes),
            "zones": zones,
            "n_requested": n,
            "target_se": target_se,
            "n_eq13": eq13,
            "allocation": allocation,
            "min_per_stratum": min_per_stratum,
            "seed": seed,
            "crs": layout.grid.crs.to_string(),
            "grid": layout.grid.describe(),
            "bands_read": n_bands,
        },
    )


def _pixels_per_stratum(
    stratum: np.ndarray, count: np.ndarray, n_strata: int
) -> np.ndarray:
    """Return the pixels counted in each stratum; refuse a map with none."""
    n_pixels = np.bincount(stratum, weights=count, minlength=n_strata)
    n_pixels = n_pixels.astype(np.int64)
    if not (n_pixels > 0).any():
        raise SamplingError(
            "栅格在分区内没有可抽样的像元 / the map(s) hold no pixel that can be "
            "sampled (all no data, excluded classes, or outside the zones)."
        )
    return n_pixels


def _points_per_stratum(
    layout: _Layout,
    users: dict[str, float],
    *,
    area_ha: np.ndarray,
    n_pixels: np.ndarray,
    n: int | None,
    target_se: float | None,
    allocation: str,
    min_per_stratum: int,
) -> tuple[np.ndarray, int | None]:
    """Return the points per stratum and, with *target_se*, n of eq. 13.

    Strata without pixels get none. The expected user's accuracy of a class
    missing from *users* is taken as 0.9 (it is only used for *target_se*
    and the neyman allocation, which require every class). *area_ha* in
    hectares on the ellipsoid.
    """
    keep = n_pixels > 0
    k = len(layout.classes)
    class_of = np.array([layout.classes[i % k] for i in range(layout.n_strata)])
    u = np.array([users.get(c, 0.9) for c in class_of])
    eq13 = None
    if target_se is not None:
        eq13 = sample_size_eq13(area_ha[keep], u[keep], target_se)
        n = eq13
    n_h = np.zeros(layout.n_strata, dtype=np.int64)
    n_h[keep] = allocate(
        area_ha[keep],
        n_pixels[keep],
        n=int(n),
        allocation=allocation,
        users_accuracy=u[keep],
        min_per_stratum=min_per_stratum,
    )
    return n_h, eq13


def _assemble(layout, found, *, n_pixels, area_ha, n_h, meta) -> Design:

    k = len(layout.classes)
    zone_of = [
        layout.zone_ids[i // k] if layout.zone_ids else ""
        for i in range(layout.n_strata)
    ]
    class_of = [layout.classes[i % k] for i in range(layout.n_strata)]
    names = [f"{z}_{c}" if z else c for z, c in zip(zone_of, class_of, strict=True)]
    keep = np.flatnonzero(n_pixels > 0)
    strata = pd.DataFrame(
        {
            "stratum": [names[i] for i in keep],
            "map_class": [class_of[i] for i in keep],
            "adcode": [zone_of[i] for i in keep],
            "n_pixels": n_pixels[keep],
            "pixel_area_ha": area_ha[keep] / n_pixels[keep],
            "area_ha": area_ha[keep],
            "area_mu": area_ha[keep] * MU_PER_HA,
            "weight": area_ha[keep] / area_ha[keep].sum(),
            "n_points": n_h[keep],
        }
    )
    if not layout.zone_ids:
        strata = strata.drop(columns="adcode")
    grid = layout.grid
    t = grid.transform
    x = (
        t.c
        + t.a * (found["col"].to_numpy() + 0.5)
        + t.b * (found["row"].to_numpy() + 0.5)
    )
    y = (
        t.f
        + t.d * (found["col"].to_numpy() + 0.5)
        + t.e * (found["row"].to_numpy() + 0.5)
    )
    to_ll = Transformer.from_crs(grid.crs, CRS.from_epsg(4490), always_xy=True)
    lon, lat = to_ll.transform(x, y)
    s = found["stratum_index"].to_numpy()
    points = pd.DataFrame(
        {
            "point_id": [f"P{i + 1:05d}" for i in range(len(found))],
            "stratum": [names[i] for i in s],
            "map_class": [class_of[i] for i in s],
            "lon": np.round(lon, 7),
            "lat": np.round(lat, 7),
            "x": x,
            "y": y,
            "adcode": [zone_of[i] for i in s],
            "row": found["row"].to_numpy(),
            "col": found["col"].to_numpy(),
            "map_code": found["code0"].to_numpy(),
        }
    )
    if len(layout.infos) == 2:
        points["map_code2"] = found["code1"].to_numpy()
    if not layout.zone_ids:
        points["adcode"] = _district_of(lon, lat)
    meta = {
        **meta,
        "cells_reread": len(
            set(
                zip(
                    found["row"] // CELL_ROWS,
                    found["col"] // CELL_COLS,
                    strict=True,
                )
            )
        ),
        "n_points": len(points),
        "total_area_ha": float(area_ha.sum()),
        "strata_classes": list(layout.classes),
    }
    return Design(points=points, strata=strata, crs=grid.crs, meta=meta)


def _district_of(lon, lat) -> list[str]:
    """Return the adcode of the district holding each point (EPSG:4490), or ''."""
    d = read_districts()
    pts = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4490"
    ).to_crs(d.crs)
    hit = gpd.sjoin(pts, d[["adcode", "geometry"]], how="left", predicate="within")
    hit = hit[~hit.index.duplicated(keep="first")]
    return hit["adcode"].fillna("").astype(str).tolist()
