"""The exact coverage fractions of pixels by zone polygons (exactextract).

:func:`coverage_fractions` gives, for each zone, the share of every pixel the
polygon covers (area of polygon ∩ pixel ÷ pixel area), kept compactly as
:class:`Fractions`: runs of fully covered pixels plus the partial pixels on
the boundary. exactextract (``ops=["cell_id", "coverage"]``) is asked only
about a band along each boundary, cut into blocks and packed onto a small
synthetic grid; every other pixel is decided by one point test per run.

The work (boundary-band pixels plus zone rows) is estimated from the zones'
boundary length in pixels before anything is allocated (:func:`check_work`)
and refused above :data:`MAX_BAND_CELLS` (:class:`WorkLimitError`).
:func:`prepare_zones` brings zone polygons into the grid's CRS (zones go to
the raster, never the raster to the zones).

Why not ``exact_extract`` on every pixel: ``benchmarks/bench_coverage.py``
(38 districts on the 30 m sample, 92 M pixels, one run with all methods)
measured ``exact_extract(ops=["unique", "frac"])`` called directly at 5.53 s
against 2.82 s for this band engine (1.96x), with the same fractions
(tested cell by cell against exactextract's); figures in
``benchmarks/README.md``.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from exactextract import exact_extract
from exactextract.feature import Feature, FeatureSource
from exactextract.raster import RasterSource
from exactextract.writer import Writer
from pyproj import CRS

from forestsink.coverage.rasters import Grid
from forestsink.errors import CRSError, WorkLimitError


@dataclass(frozen=True)
class Fractions:
    """Exact pixel coverage of zones on one grid.

    Fully covered pixels come as runs along rows; boundary pixels one by one.

    Attributes
    ----------
    run_zone, run_row, run_col, run_len : numpy.ndarray of int64
        Zone index, row, first column and length of runs of pixels that lie
        entirely inside the zone.
    part_zone, part_row, part_col : numpy.ndarray of int64
        Boundary pixels.
    part_frac : numpy.ndarray of float64
        Share of each boundary pixel's area inside the zone, in (0, 1].
    """

    run_zone: np.ndarray
    run_row: np.ndarray
    run_col: np.ndarray
    run_len: np.ndarray
    part_zone: np.ndarray
    part_row: np.ndarray
    part_col: np.ndarray
    part_frac: np.ndarray

    def pixel_sum(self, n_zones: int) -> np.ndarray:
        """Return Σ coverage fractions per zone (in pixels)."""
        full = np.bincount(self.run_zone, weights=self.run_len, minlength=n_zones)
        part = np.bincount(self.part_zone, weights=self.part_frac, minlength=n_zones)
        return full + part

    def dense(self, zone: int, grid: Grid) -> np.ndarray:
        """Return one zone's coverage as a dense float array (for small grids)."""
        out = np.zeros((grid.height, grid.width))
        sel = self.run_zone == zone
        for r, c, n in zip(
            self.run_row[sel], self.run_col[sel], self.run_len[sel], strict=True
        ):
            out[r, c : c + n] = 1.0
        sel = self.part_zone == zone
        out[self.part_row[sel], self.part_col[sel]] = self.part_frac[sel]
        return out


#: Width of the band along zone boundaries whose fractions exactextract
#: computes, in pixel diagonals (>= 2: every pixel a boundary touches lies
#: wholly inside the band; see :func:`coverage_fractions`).
BAND_DIAGONALS = 2.0


#: Band pieces are cut at a lattice of blocks of this many pixels, so that
#: exactextract's work (which grows with the bounding box of each piece)
#: follows the boundary, not the zone's area.
_BLOCK = 256


#: Width (cells) of the synthetic grid the band pieces are packed into, and
#: most cells of one packed feature.
_ATLAS_WIDTH = 4096


_ATLAS_CELLS = 1 << 24


#: Default most work cells :func:`coverage_fractions` takes on: boundary-band
#: pixels (boundary length in pixels × band width) plus one per zone and
#: raster row. Its peak memory is about :data:`BYTES_PER_CELL` per cell
#: (measured: 2.2 GB for 2.5e7 cells, Chongqing's districts at 3 m), so the
#: default stays near 3 GB; Chongqing's districts reach it at about 2.5 m
#: pixels. Settable (``max_cells=``, ``forestsink coverage
#: --max-boundary-cells``).
MAX_BAND_CELLS = 30_000_000


#: Approximate peak memory (bytes) per work cell of :func:`coverage_fractions`.
BYTES_PER_CELL = 90


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Repair invalid zones and keep their polygonal parts (None when empty)."""
    geoms = np.asarray(geoms, dtype=object).copy()
    missing = np.array([g is None for g in geoms], dtype=bool)
    present = ~missing
    if present.any():
        sub = geoms[present]
        bad = ~shapely.is_valid(sub)
        if bad.any():
            sub[bad] = shapely.make_valid(sub[bad])
        mixed = shapely.get_type_id(sub) == 7  # GeometryCollection from make_valid
        for i in np.flatnonzero(mixed):
            parts = shapely.get_parts(sub[i])
            polys = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
            sub[i] = shapely.union_all(polys) if len(polys) else None
        geoms[present] = sub
    for i, g in enumerate(geoms):
        if g is not None and (g.is_empty or shapely.get_type_id(g) not in (3, 6)):
            geoms[i] = None
    return geoms


def _to_pixels(geoms: np.ndarray, grid: Grid) -> np.ndarray:
    """Return geometries in pixel space: X = column, Y = -row.

    Pixel (r, c) is the unit square X in [c, c + 1], Y in [-r - 1, -r].
    """
    t = grid.transform

    def move(xy):
        return np.column_stack([(xy[:, 0] - t.c) / t.a, -(xy[:, 1] - t.f) / t.e])

    out = np.full(len(geoms), None, dtype=object)
    ok = np.array([g is not None for g in geoms], dtype=bool)
    if ok.any():
        out[ok] = shapely.transform(geoms[ok], move)
    return out


def _clip_to_grid(pix: np.ndarray, h: int, w: int, margin: float = 8.0) -> None:
    """Clip zones (pixel space, in place) to the grid plus a margin.

    The margin (pixels) keeps the cut's own band and core outside the grid,
    so the fractions inside are unchanged; a row band of a large raster then
    costs only its share of the boundary.
    """
    ok = np.flatnonzero([g is not None for g in pix])
    if len(ok) == 0:
        return
    b = shapely.bounds(pix[ok])
    lim = (-margin, -h - margin, w + margin, margin)
    out = (b[:, 0] < lim[0]) | (b[:, 1] < lim[1]) | (b[:, 2] > lim[2])
    out |= b[:, 3] > lim[3]
    for i in ok[out]:
        cut = shapely.clip_by_rect(pix[i], *lim)
        if not cut.is_empty and not cut.is_valid:
            cut = shapely.make_valid(cut)
            parts = shapely.get_parts(cut)
            parts = parts[shapely.get_type_id(parts) == 3]
            cut = shapely.multipolygons(parts) if len(parts) else None
        pix[i] = None if cut is None or cut.is_empty or cut.area == 0 else cut


def _band_pieces(pix: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Cut each zone's boundary band into pieces of at most one block.

    Returns the polygon parts (pixel space, inside the grid) and their zone.
    """
    ok = np.flatnonzero([g is not None for g in pix])
    if len(ok) == 0:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
    radius = BAND_DIAGONALS * math.sqrt(2.0)
    zones = pix[ok]
    band = shapely.intersection(zones, shapely.buffer(shapely.boundary(zones), radius))
    h, w, s = grid.height, grid.width, _BLOCK
    pieces, owner = [], []
    for z, geom in zip(ok, band, strict=True):
        if geom is None or geom.is_empty:
            continue
        x0, y0, x1, y1 = geom.bounds
        c0, c1 = max(math.floor(x0), 0), min(math.ceil(x1), w)
        r0, r1 = max(math.floor(-y1), 0), min(math.ceil(-y0), h)
        if c0 >= c1 or r0 >= r1:
            continue
        inside = x0 >= 0 and x1 <= w and y0 >= -h and y1 <= 0
        if inside and c1 - c0 <= s and r1 - r0 <= s:
            pieces.append(geom)
            owner.append(z)
            continue
        for bx in range(c0 // s, (c1 - 1) // s + 1):
            xa, xb = max(bx * s, 0), min((bx + 1) * s, w)
            column = shapely.clip_by_rect(geom, xa, -h, xb, 0)
            if column.is_empty:
                continue
            _, cy0, _, cy1 = column.bounds
            for by in range(
                max(math.floor(-cy1), 0) // s, (math.ceil(-cy0) - 1) // s + 1
            ):
                ya, yb = -min((by + 1) * s, h), -by * s
                piece = shapely.clip_by_rect(column, xa, ya, xb, yb)
                if not piece.is_empty:
                    pieces.append(piece)
                    owner.append(z)
    if not pieces:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
    parts, index = shapely.get_parts(np.array(pieces, dtype=object), return_index=True)
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)
    return parts[keep], np.asarray(owner, dtype=np.int64)[index[keep]]


def _pack(parts: np.ndarray):
    """Lay polygon parts side by side, whole pixels apart, on a synthetic grid.

    Translating a part by whole pixels keeps every pixel's coverage fraction,
    so exactextract can process all parts at once in one small grid instead
    of one large bounding box per zone. Returns the moved parts, one
    multipolygon per chunk, and per part its chunk, slot origin (atlas row,
    column) and pixel origin (grid row, column) and size.
    """
    b = shapely.bounds(parts)
    col0 = np.floor(b[:, 0]).astype(np.int64)
    row0 = np.floor(-b[:, 3]).astype(np.int64)
    wid = np.ceil(b[:, 2]).astype(np.int64) - col0
    hgt = np.ceil(-b[:, 1]).astype(np.int64) - row0
    n = len(parts)
    chunk = np.zeros(n, dtype=np.int64)
    orow = np.zeros(n, dtype=np.int64)
    ocol = np.zeros(n, dtype=np.int64)
    shelf_lim = max(1, _ATLAS_CELLS // _ATLAS_WIDTH)
    k = x = y = shelf = 0
    for i in np.argsort(-hgt, kind="stable").tolist():
        wi, hi = int(wid[i]), int(hgt[i])
        if x + wi > _ATLAS_WIDTH:  # next shelf
            y, x, shelf = y + shelf + 1, 0, 0
        if y + hi > shelf_lim and y > 0:  # next chunk
            k, x, y, shelf = k + 1, 0, 0, 0
        chunk[i], orow[i], ocol[i] = k, y, x
        shelf = max(shelf, hi)
        x += wi + 1
    coords, index = shapely.get_coordinates(parts, return_index=True)
    coords[:, 0] += (ocol - col0)[index]
    coords[:, 1] += (row0 - orow)[index]
    moved = shapely.set_coordinates(parts.copy(), coords)
    features = [shapely.multipolygons(moved[chunk == j]) for j in range(k + 1)]
    height = int((orow + hgt).max()) + 1
    return features, chunk, orow, ocol, row0, col0, wid, hgt, height


def _exactextract_cells(features, width: int, height: int):
    """Run exactextract (ops cell_id, coverage) on packed features.

    Returns per feature (cell ids, coverage) on a synthetic grid of unit
    pixels, *width* x *height*, with origin (0, 0) at its top-left corner.
    """
    wkt = CRS.from_epsg(3857).to_wkt()  # planar units; never transformed

    class _Blank(RasterSource):
        """The synthetic grid; no values are needed, only cells."""

        def res(self):
            return 1.0, 1.0

        def extent(self):
            return 0.0, -float(height), float(width), 0.0

        def nodata_value(self):
            return None

        def read_window(self, x0, y0, nx, ny):
            return np.zeros((ny, nx), dtype=np.uint8)

        def srs_wkt(self):
            return wkt

    class _Feat(Feature):
        def __init__(self, wkb=None, index=None):
            Feature.__init__(self)
            self.wkb, self.props = wkb, {} if index is None else {"i": index}

        def geometry(self):
            return self.wkb

        def set_geometry(self, wkb):
            self.wkb = wkb

        def set_geometry_format(self):
            return "wkb"

        def get(self, name):
            return self.props[name]

        def set(self, name, value):
            self.props[name] = value

        def fields(self):
            return list(self.props)

    class _Source(FeatureSource):
        def __init__(self, wkbs):
            super().__init__()
            self.wkbs = wkbs

        def count(self):
            return len(self.wkbs)

        def __iter__(self):
            for i, wkb in enumerate(self.wkbs):
                yield _Feat(wkb, i)

        def srs_wkt(self):
            return wkt

    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    class _Collect(Writer):
        def add_operation(self, op):
            pass

        def write(self, feature):
            f = _Feat()
            feature.copy_to(f)
            out[f.props["i"]] = (
                np.asarray(f.props.get("cell_id", []), dtype=np.int64),
                np.asarray(f.props.get("coverage", []), dtype=np.float64),
            )

        def features(self):
            return None

    exact_extract(
        _Blank(),
        _Source(list(shapely.to_wkb(np.asarray(features, dtype=object)))),
        ["cell_id", "coverage"],
        include_cols=["i"],
        output=_Collect(),
        max_cells_in_memory=max(width * height + 1, 30_000_000),
    )
    return [
        out.get(i, (np.zeros(0, np.int64), np.zeros(0))) for i in range(len(features))
    ]


def _work_cells(pix: np.ndarray, grid: Grid) -> tuple[int, float]:
    """Estimate the work cells of zones in pixel space (clipped to the grid).

    Returns (cells, boundary length in pixels): the boundary band holds about
    length × (2 r + 2) pixels (r = :data:`BAND_DIAGONALS` diagonals, plus the
    pixels the band's edges cut), and every zone row inside the grid holds at
    least one run. Vector work only: nothing the size of the band is made.
    """
    ok = np.flatnonzero([g is not None for g in pix])
    if len(ok) == 0:
        return 0, 0.0
    length = float(shapely.length(pix[ok]).sum())
    b = shapely.bounds(pix[ok])
    rows = np.clip(np.ceil(-b[:, 1]), 0, grid.height) - np.clip(
        np.floor(-b[:, 3]), 0, grid.height
    )
    width = 2.0 * BAND_DIAGONALS * math.sqrt(2.0) + 2.0
    return int(length * width + rows.sum()), length


def _refuse_work(cells: int, length: float, grid: Grid, max_cells: int) -> None:
    """Raise :class:`WorkLimitError` when *cells* exceeds *max_cells*."""
    if cells <= max_cells:
        return
    t = grid.transform
    unit = "°" if grid.crs.is_geographic else " m"
    gb = cells * BYTES_PER_CELL / 1e9
    factor = math.ceil(cells / max_cells * 10) / 10  # cells ~ 1 / pixel size
    size = f"{abs(t.a):g}{unit} x {abs(t.e):g}{unit}"
    coarser = f"{abs(t.a) * factor:g} {abs(t.e) * factor:g}"
    raise WorkLimitError(
        f"栅格 {grid.width:,} x {grid.height:,} 像元（像元 {size}）：区域边界长约 "
        f"{length:,.0f} 像元，精确计算边界像元需约 {cells:,} 个单元、约 {gb:.1f} GB "
        f"内存，超过上限 {max_cells:,} 个单元；未开始计算。请用更粗的栅格（如 "
        f"`gdalwarp -tr {coarser} -r mode IN.tif OUT.tif`），或更少、更小的区域；"
        "内存足够时可提高 max_cells。 / "
        f"the raster is {grid.width:,} x {grid.height:,} pixels of {size}: the zone "
        f"boundaries are about {length:,.0f} pixels long, so their exact boundary "
        f"pixels need about {cells:,} work cells and {gb:.1f} GB of memory, above "
        f"the limit of {max_cells:,} cells; nothing was computed. Use a coarser "
        f"raster (e.g. `gdalwarp -tr {coarser} -r mode IN.tif OUT.tif`) or fewer, "
        "smaller zones; with enough memory, raise max_cells.",
        option="max_cells",
    )


def zone_geometries(geoms, crs) -> tuple[np.ndarray, Any]:
    """Return the zone geometries as an object array and their CRS.

    *geoms* is a GeoDataFrame, GeoSeries or array of shapely geometries;
    *crs* (when given) overrides the CRS they carry.
    """
    if hasattr(geoms, "geometry"):
        geoms = geoms.geometry
    src_crs = getattr(geoms, "crs", None) if crs is None else crs
    return np.asarray(getattr(geoms, "values", geoms), dtype=object), src_crs


def check_work(geoms, grid: Grid, *, crs=None, max_cells: int = MAX_BAND_CELLS):
    """Refuse zones whose boundary work on *grid* exceeds *max_cells*.

    Parameters
    ----------
    geoms : geopandas.GeoSeries, GeoDataFrame or array of geometries
        Zone polygons in any CRS (reprojected to the grid's CRS, as
        :func:`zone_weights` does).
    grid : Grid
    crs : optional (default: None)
        CRS of *geoms* when they do not carry one.
    max_cells : int, optional (default: :data:`MAX_BAND_CELLS`)
        Most work cells (boundary-band pixels plus zone rows).

    Returns
    -------
    int
        The estimated work cells.

    Raises
    ------
    WorkLimitError
        Above *max_cells*, before anything the size of the band is allocated.
    """
    values, src_crs = zone_geometries(geoms, crs)
    pix = _to_pixels(_polygonal(prepare_zones(values, src_crs, grid)), grid)
    _clip_to_grid(pix, grid.height, grid.width)
    cells, length = _work_cells(pix, grid)
    _refuse_work(cells, length, grid, max_cells)
    return cells


def _band_cells(pix: np.ndarray, grid: Grid):
    """Exact coverage of each zone's boundary band: (zone, row, col, fraction)."""
    parts, owner = _band_pieces(pix, grid)
    empty = np.zeros(0, dtype=np.int64)
    if len(parts) == 0:
        return empty, empty, empty, np.zeros(0)
    features, chunk, orow, ocol, row0, col0, wid, hgt, height = _pack(parts)
    cells = _exactextract_cells(features, _ATLAS_WIDTH, height)
    zs, rs, cs, fs = [], [], [], []
    for j, (cell_all, frac_all) in enumerate(cells):
        keep = frac_all > 0
        cell, frac = cell_all[keep], frac_all[keep]
        mine = np.flatnonzero(chunk == j)
        # parts of this chunk ordered by (slot row, slot column)
        order = mine[np.lexsort((ocol[mine], orow[mine]))]
        ar, ac = np.divmod(cell, _ATLAS_WIDTH)
        key_parts = orow[order] * (_ATLAS_WIDTH + 1) + ocol[order]
        # the part whose slot starts at or before the cell in its shelf: the
        # shelf is the last slot row <= the cell's row
        shelves = np.unique(orow[order])
        shelf = shelves[np.searchsorted(shelves, ar, side="right") - 1]
        p = order[
            np.searchsorted(key_parts, shelf * (_ATLAS_WIDTH + 1) + ac, "right") - 1
        ]
        r, c = ar - orow[p], ac - ocol[p]
        valid = (r >= 0) & (r < hgt[p]) & (c >= 0) & (c < wid[p])
        zs.append(owner[p][valid])
        rs.append((r + row0[p])[valid])
        cs.append((c + col0[p])[valid])
        fs.append(frac[valid])
    return (
        np.concatenate(zs),
        np.concatenate(rs),
        np.concatenate(cs),
        np.concatenate(fs),
    )


def coverage_fractions(
    geoms, grid: Grid, *, max_cells: int | None = MAX_BAND_CELLS
) -> Fractions:
    """Return the exact share of each pixel covered by each polygon.

    Parameters
    ----------
    geoms : array_like of shapely geometries
        Polygons or MultiPolygons **in the grid's CRS** (invalid ones are
        repaired with ``make_valid``; non-polygonal parts are ignored; None
        is an empty zone). Zone *i* is ``geoms[i]``. Zones may overlap.
    grid : Grid
        The pixel grid.
    max_cells : int or None, optional (default: :data:`MAX_BAND_CELLS`)
        Most work cells (boundary-band pixels plus zone rows), estimated from
        the boundary length in pixels before anything is allocated; memory
        is about :data:`BYTES_PER_CELL` bytes per cell. None: no limit.

    Returns
    -------
    Fractions
        Runs of fully covered pixels and boundary pixels with their share,
        for pixels inside the grid (fractions as exactextract gives them,
        float32 precision; shares within 1e-6 of 1 count as whole).

    Raises
    ------
    WorkLimitError
        The estimated work exceeds *max_cells* (a raster whose pixels are
        tiny against the zones: its header may claim 10¹² pixels).

    Notes
    -----
    exactextract computes the fractions, but only where they can be partial.
    A pixel the zone boundary does not touch lies wholly inside the zone or
    wholly outside it; only pixels the boundary touches need a fraction.

    1. **Band.** For each zone Z, the band ``Z ∩ buffer(∂Z, r)`` with
       r = :data:`BAND_DIAGONALS` pixel diagonals. A pixel the boundary
       touches lies within one diagonal of it, hence wholly inside the
       buffer, so its share of the band equals its share of Z.
    2. **exactextract on the band only.** Its cost grows with the bounding
       box of each polygon, so the band is cut at a lattice of blocks
       (:data:`_BLOCK` pixels; every pixel falls in one block) and the
       pieces are laid side by side, whole pixels apart, on a small synthetic
       grid (translation by whole pixels keeps every fraction), then
       ``exact_extract(ops=["cell_id", "coverage"])`` runs once per packed
       grid and the cells are mapped back.
    3. **The rest is whole.** Along each row of a zone's bounding box, the
       pixels between two band pixels (a gap) are all inside or all outside
       Z: two neighbours in a gap cannot differ, since a boundary between
       them would touch both, and touched pixels are in the band. One point
       test (the centre of the gap's first pixel, well away from the
       boundary) decides each gap. Band pixels crossed only by the band's
       inner edge (not by ∂Z) are wholly inside Z; a point test of their
       centre against Z shrunk by one diagonal tells them from the pixels
       ∂Z touches (centres within half a diagonal of it).
    """
    geoms = _polygonal(np.asarray(geoms, dtype=object))
    pix = _to_pixels(geoms, grid)
    h, w = grid.height, grid.width
    _clip_to_grid(pix, h, w)
    if max_cells is not None:
        _refuse_work(*_work_cells(pix, grid), grid, max_cells)
    ok = np.flatnonzero([g is not None for g in pix])
    with ThreadPoolExecutor(1, thread_name_prefix="core") as pool:
        # the core (below) is computed while exactextract runs: GEOS releases
        # the GIL, exactextract does not
        core_job = pool.submit(_core, pix, ok)
        zone, row, col, frac = _band_cells(pix, grid)
        core = core_job.result()
    zone, row, col, frac, group = _merge_band_cells(zone, row, col, frac, h, w)
    gz, gr, gs, ge = _gaps(group, zone, row, col, _zone_rows(pix, ok, h, w), h)
    inside = _in_core(core, gz, gr, gs)
    gz, gr, gs, ge = gz[inside], gr[inside], gs[inside], ge[inside]
    # band pixels crossed only by the band's inner edge are wholly inside
    whole = frac >= 1.0 - 1e-6
    partial = np.flatnonzero(~whole)
    whole[partial[_in_core(core, zone[partial], row[partial], col[partial])]] = True
    # runs: whole band pixels and inside gaps, merged where contiguous
    run_zone, run_row, run_col, run_len = _merge_runs(
        np.concatenate([zone[whole], gz]),
        np.concatenate([row[whole], gr]),
        np.concatenate([col[whole], gs]),
        np.concatenate([col[whole] + 1, ge]),
        h,
        w,
    )
    part = ~whole
    return Fractions(
        run_zone=run_zone,
        run_row=run_row,
        run_col=run_col,
        run_len=run_len,
        part_zone=zone[part],
        part_row=row[part],
        part_col=col[part],
        part_frac=frac[part],
    )


def _zone_rows(pix: np.ndarray, ok: np.ndarray, h: int, w: int) -> tuple:
    """Every (zone, row) of each zone's bounding box inside the grid.

    Returns ``(zone, row, col0, col1)`` arrays: the zone index, the pixel row
    and the bounding box's columns on that row (half-open, clipped to the
    grid of *h* rows and *w* columns). *pix* holds the zones in pixel
    coordinates (x = column, y = -row); *ok* the indexes of the non-empty.
    """
    b = shapely.bounds(pix[ok]) if len(ok) else np.zeros((0, 4))
    zc0 = np.clip(np.floor(b[:, 0]), 0, w).astype(np.int64)
    zc1 = np.clip(np.ceil(b[:, 2]), 0, w).astype(np.int64)
    zr0 = np.clip(np.floor(-b[:, 3]), 0, h).astype(np.int64)
    zr1 = np.clip(np.ceil(-b[:, 1]), 0, h).astype(np.int64)
    nrows = np.where(zc1 > zc0, np.maximum(zr1 - zr0, 0), 0)
    wz = np.repeat(ok, nrows)
    wrow = np.repeat(zr0, nrows) + (
        np.arange(int(nrows.sum())) - np.repeat(np.cumsum(nrows) - nrows, nrows)
    )
    return wz, wrow, np.repeat(zc0, nrows), np.repeat(zc1, nrows)


def _merge_band_cells(zone, row, col, frac, h: int, w: int) -> tuple:
    """Sort band cells by (zone, row, col) and add the shares of duplicates.

    Parts of one band piece may share a pixel: their shares are added (at
    most 1). Returns ``(zone, row, col, frac, group)`` with one entry per
    distinct cell, *group* = ``zone * h + row``.
    """
    key = (zone * h + row) * (w + 1) + col
    order = np.argsort(key, kind="stable")
    key, frac = key[order], frac[order]
    heads = np.flatnonzero(np.r_[True, key[1:] != key[:-1]][: len(key)])
    if len(key):
        frac = np.minimum(np.add.reduceat(frac, heads), 1.0)
    order = order[heads]
    key, zone, row, col = key[heads], zone[order], row[order], col[order]
    return zone, row, col, frac, key // (w + 1)


def _gaps(group, zone, row, col, zone_rows: tuple, h: int) -> tuple:
    """Find the runs of pixels between band cells along each (zone, row).

    Gaps between two band cells of the same (zone, row), before the first
    and after the last band cell of each (zone, row) of the zones' bounding
    boxes (*zone_rows*, :func:`_zone_rows`), and whole rows without band
    cells. Returns ``(zone, row, col0, col1)`` of the non-empty gaps
    (half-open columns).
    """
    wz, wrow, wc0, wc1 = zone_rows
    same = group[1:] == group[:-1]
    g_between = np.flatnonzero(same & (col[1:] > col[:-1] + 1))
    gz = [zone[g_between]]
    gr = [row[g_between]]
    gs = [col[g_between] + 1]
    ge = [col[g_between + 1]]
    wkey = wz * h + wrow
    first = np.searchsorted(group, wkey, side="left")
    last = np.searchsorted(group, wkey, side="right") - 1
    has = last >= first
    lead_end = np.where(
        has, col[np.minimum(first, len(col) - 1)] if len(col) else 0, wc1
    )
    trail_start = np.where(has, col[np.maximum(last, 0)] + 1 if len(col) else 0, wc1)
    gz += [wz, wz[has]]
    gr += [wrow, wrow[has]]
    gs += [wc0, trail_start[has]]
    ge += [np.minimum(lead_end, wc1), wc1[has]]
    gz, gr, gs, ge = (np.concatenate(a) for a in (gz, gr, gs, ge))
    real = ge > gs
    return gz[real], gr[real], gs[real], ge[real]


def _in_core(core: np.ndarray, z, r, c) -> np.ndarray:
    """Whether the centre of pixel (row *r*, col *c*) lies in zone *z*'s core.

    The core (:func:`_core`) tells inside gaps and pixels from the rest.
    """
    if len(z) == 0:
        return np.zeros(0, dtype=bool)
    # one thread: a prepared geometry builds its indexes lazily and must
    # not be used by two threads at once (that corrupted the heap)
    return shapely.contains_xy(core[z], c + 0.5, -(r + 0.5))


def _merge_runs(rz, rr, rs, re_, h: int, w: int) -> tuple:
    """Merge runs ``[rs, re_)`` of one (zone, row) where they are contiguous.

    Returns ``(zone, row, col, length)`` of the merged runs, sorted by
    (zone, row, col).
    """
    order = np.argsort((rz * h + rr) * (w + 1) + rs, kind="stable")
    rz, rr, rs, re_ = rz[order], rr[order], rs[order], re_[order]
    new = np.ones(len(rz), dtype=bool)
    new[1:] = (rz[1:] != rz[:-1]) | (rr[1:] != rr[:-1]) | (rs[1:] != re_[:-1])
    heads = np.flatnonzero(new)
    tails = np.r_[heads[1:], len(rz)][: len(heads)] - 1
    return rz[heads], rr[heads], rs[heads], re_[tails] - rs[heads]


def _core(pix: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Return the zones' cores (prepared), None where a zone is empty.

    The core holds the points more than one pixel diagonal inside the
    boundary. Centres of untouched inside pixels lie in it (they are >= r -
    d/2 from the boundary), centres of touched or outside pixels do not
    (<= d/2).
    """
    core = np.full(len(pix), None, dtype=object)
    core[ok] = shapely.buffer(pix[ok], -math.sqrt(2.0))
    shapely.prepare(core[ok])
    return core


def prepare_zones(geoms, src_crs, grid: Grid) -> np.ndarray:
    """Densify and reproject zone polygons into the grid's CRS.

    Parameters
    ----------
    geoms : array-like of shapely geometries
        Zone polygons in *src_crs*.
    src_crs : pyproj.CRS or None
        CRS of *geoms*; ``None`` is refused (:class:`CRSError`).
    grid : Grid
        The raster grid whose CRS the zones go to.

    Returns
    -------
    numpy.ndarray of shapely geometries
        The zones in the grid's CRS, segmentized first (every 0.01° on a
        geographic CRS, every 1000 m on a projected one) so that edges follow
        the curvature of the reprojection.
    """
    series = gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=src_crs)
    if src_crs is None:
        raise CRSError("the zone polygons have no CRS; set one before measuring.")
    if series.crs == grid.crs:
        return np.asarray(series.values, dtype=object)
    step = 0.01 if series.crs.is_geographic else 1000.0
    dense = gpd.GeoSeries(shapely.segmentize(series.values, step), crs=series.crs)
    return np.asarray(dense.to_crs(grid.crs).values, dtype=object)
