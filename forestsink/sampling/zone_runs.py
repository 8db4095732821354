"""Zone polygons as runs of pixel centres on a raster grid, found once.

A pixel belongs to the zone whose polygon holds its centre: GDAL's
rasterising rule without ``all_touched`` (``GDALdllImageFilledPolygon``,
``alg/llrasterize.cpp``), computed here for the whole grid in one vectorised
scan-line pass instead of one GDAL call per window: for each row of pixel
centres, the crossings of the polygon edges (an edge counts for the rows
whose centre line lies in ``[y_low, y_high)``, horizontal edges never, as in
GDAL) are rounded to the nearest pixel boundary, sorted, and filled in pairs
(even-odd, holes included); a bottom horizontal edge lying exactly on a
centre line is filled as GDAL fills it (every ring taken clockwise). Where
zones overlap, the later zone wins (GDAL burns shapes in order). Tested
against :func:`rasterio.features.rasterize` pixel for pixel.

The runs take memory in proportion to the zone boundaries (rows × crossings),
not to the raster; a window's zone numbers come from them by
:func:`numpy.repeat`. May import ``forestsink.errors``,
``forestsink.reference`` and ``forestsink.coverage``.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from forestsink.coverage import read_zones
from forestsink.errors import SamplingError
from forestsink.reference import read_districts

__all__ = ["ZoneRuns", "pieces", "zone_polygons", "zone_runs"]

_POLYGON = 3  # shapely type id


@dataclass(frozen=True)
class ZoneRuns:
    """Runs ``[start, end)`` of columns inside zone *value*, row by row.

    Attributes
    ----------
    ptr : numpy.ndarray
        ``int64`` of length ``height + 1``: the runs of row *r* are
        ``ptr[r]:ptr[r + 1]``, sorted by column, not overlapping.
    start, end : numpy.ndarray
        ``int64`` columns of each run (end excluded).
    value : numpy.ndarray
        ``int64`` zone number of each run (1-based: zone ``i`` of the list
        given to :func:`zone_runs` is ``i + 1``).
    width : int
        Columns of the grid.
    """

    ptr: np.ndarray
    start: np.ndarray
    end: np.ndarray
    value: np.ndarray
    width: int

    def window(
        self, r0: int, h: int, c0: int, w: int, *, scale: int = 1, dtype="uint8"
    ) -> np.ndarray:
        """Zone number × *scale* (0 outside every zone) of a window.

        Parameters
        ----------
        r0, h, c0, w : int
            First row, rows, first column, columns (inside the grid).
        scale : int, optional (default: 1)
            Factor applied to the zone numbers.
        dtype : str, optional (default: "uint8")
            Type of the result (must hold the largest zone number × *scale*).

        Returns
        -------
        numpy.ndarray
            Shape ``(h, w)``.
        """
        a, b = int(self.ptr[r0]), int(self.ptr[r0 + h])
        row = np.repeat(np.arange(h), np.diff(self.ptr[r0 : r0 + h + 1]))
        s = np.minimum(np.maximum(self.start[a:b] - c0, 0), w)
        e = np.minimum(np.maximum(self.end[a:b] - c0, 0), w)
        keep = e > s
        base = row[keep] * w
        # a partition of the window: gap, run, gap, run, ..., gap
        edges = np.empty(2 * int(keep.sum()) + 2, dtype=np.int64)
        edges[0], edges[-1] = 0, h * w
        edges[1:-1:2] = base + s[keep]
        edges[2:-1:2] = base + e[keep]
        values = np.zeros(len(edges) - 1, dtype=dtype)
        values[1::2] = self.value[a:b][keep] * scale
        return np.repeat(values, np.diff(edges)).reshape(h, w)

    def cells(self, r0: int, h: int, cell_cols: int, n_cells: int) -> np.ndarray:
        """Which column cells of *cell_cols* columns hold a zone pixel in rows.

        Returns a boolean array of length *n_cells* for rows ``r0 … r0+h−1``.
        """
        a, b = int(self.ptr[r0]), int(self.ptr[r0 + h])
        mark = np.zeros(n_cells + 1, dtype=np.int64)
        np.add.at(mark, self.start[a:b] // cell_cols, 1)
        np.add.at(mark, (self.end[a:b] - 1) // cell_cols + 1, -1)
        return np.cumsum(mark[:-1]) > 0


def _edges(geoms, inverse) -> tuple[np.ndarray, ...]:
    """Edges (x1, y1, x2, y2, zone) of the zones' rings, in pixels."""
    geoms = np.asarray(list(geoms), dtype=object)
    parts, of_geom = shapely.get_parts(geoms, return_index=True)
    polygon = shapely.get_type_id(parts) == _POLYGON
    parts, of_geom = parts[polygon], of_geom[polygon]
    rings, of_part = shapely.get_rings(parts, return_index=True)
    if len(rings) == 0:
        empty = np.empty(0)
        return empty, empty, empty, empty, np.empty(0, dtype=np.int64)
    # GDAL burns every ring as if clockwise (found by trial against
    # rasterize: it matters only for a bottom edge on a centre line)
    ccw = shapely.is_ccw(rings)
    rings[ccw] = shapely.reverse(rings[ccw])
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    a, b, c, d, e, f = inverse[:6]
    px = a * xy[:, 0] + b * xy[:, 1] + c
    py = d * xy[:, 0] + e * xy[:, 1] + f
    same = ring[1:] == ring[:-1]  # consecutive vertices of one (closed) ring
    zone = of_geom[of_part[ring[:-1][same]]].astype(np.int64)
    return px[:-1][same], py[:-1][same], px[1:][same], py[1:][same], zone


def _polygon_runs(geoms, inverse, height: int, width: int) -> tuple:
    """Line (zone × height + row), starts, ends of the runs of all zones."""
    x1, y1, x2, y2, zone = _edges(geoms, inverse)
    # GDAL's orientation: (dx1, dy1) is the end with the smaller y
    up = y1 < y2
    lo_y, hi_y = np.where(up, y1, y2), np.where(up, y2, y1)
    lo_x, hi_x = np.where(up, x1, x2), np.where(up, x2, x1)
    slant = y1 != y2
    first = np.maximum(np.ceil(lo_y - 0.5), 0)
    last = np.minimum(np.ceil(hi_y - 0.5) - 1, height - 1)
    count = np.where(slant, np.maximum(last - first + 1, 0), 0).astype(np.int64)
    which = np.repeat(np.arange(len(count)), count)
    step = np.arange(len(which)) - np.repeat(np.cumsum(count) - count, count)
    rows = (first[which] + step).astype(np.int64)
    dy = rows + 0.5
    dy1, dy2, dx1, dx2 = lo_y[which], hi_y[which], lo_x[which], hi_x[which]
    x = np.floor((dy - dy1) * (dx2 - dx1) / (dy2 - dy1) + dx1 + 0.5)
    # clipping to the grid keeps the order, and the runs are clipped anyway
    x = np.clip(x, 0, width).astype(np.int64)
    line = zone[which] * height + rows  # one scan line of one zone
    order = np.argsort(line * (width + 1) + x, kind="stable")
    line, x = line[order], x[order]
    # pair the crossings of each line: 1st with 2nd, 3rd with 4th, ...
    new_line = np.r_[True, line[1:] != line[:-1]]
    group_start = np.maximum.accumulate(np.where(new_line, np.arange(len(line)), 0))
    rank = np.arange(len(line)) - group_start
    opens = np.flatnonzero((rank % 2 == 0)[:-1] & (line[1:] == line[:-1]))
    out_line, out_s, out_e = [line[opens]], [x[opens]], [x[opens + 1]]
    # a horizontal edge on a centre line, drawn right to left, is filled too
    flat = ~slant & (np.floor(y1 - 0.5) + 0.5 == y1) & (x1 > x2)
    flat &= (y1 - 0.5 >= 0) & (y1 - 0.5 < height)
    out_line.append(zone[flat] * height + (y1[flat] - 0.5).astype(np.int64))
    out_s.append(np.floor(x2[flat] + 0.5).astype(np.int64))
    out_e.append(np.floor(x1[flat] + 0.5).astype(np.int64))
    r, s, e = (np.concatenate(v) for v in (out_line, out_s, out_e))
    s, e = np.clip(s, 0, width), np.clip(e, 0, width)
    keep = e > s
    # pairs of sorted crossings are sorted and never overlap; only the
    # horizontal edges' runs need merging
    return r[keep], s[keep], e[keep], bool(flat.any())


def _merge(rows, s, e, width: int) -> tuple:
    """Union of the runs of each line (*rows*: zone × height + row)."""
    order = np.lexsort((s, rows))
    rows, s, e = rows[order], s[order], e[order]
    ks, ke = rows * (width + 1) + s, rows * (width + 1) + e
    reach = np.maximum.accumulate(ke)
    opens = np.r_[True, ks[1:] > reach[:-1]]
    idx = np.flatnonzero(opens)
    ends = np.maximum.reduceat(ke, idx) - rows[idx] * (width + 1)
    return rows[idx], s[idx], ends


def _paint(rows, s, e, v, width: int) -> tuple:
    """Resolve overlapping runs of different zones (later wins), per row."""
    out = ([], [], [], [])
    buf = np.zeros(width, dtype=np.int64)
    for r in np.unique(rows):
        buf[:] = 0
        for i in np.flatnonzero(rows == r):  # in zone order
            buf[s[i] : e[i]] = v[i]
        change = np.flatnonzero(np.diff(np.r_[0, buf, 0]))
        starts, ends = change[:-1], change[1:]
        vals = buf[starts]
        keep = vals > 0
        out[0].append(np.full(int(keep.sum()), r))
        out[1].append(starts[keep])
        out[2].append(ends[keep])
        out[3].append(vals[keep])
    return tuple(np.concatenate(x).astype(np.int64) for x in out)


def zone_runs(geoms, transform, height: int, width: int) -> ZoneRuns:
    """Find the runs of pixel centres inside each zone polygon.

    Parameters
    ----------
    geoms : sequence of shapely geometry
        Zone polygons (Polygon or MultiPolygon; other parts are ignored) in
        the grid's CRS; zone ``i`` gets value ``i + 1``.
    transform : affine.Affine
        The grid's transform (pixel column, row -> CRS x, y).
    height, width : int
        Rows and columns of the grid.

    Returns
    -------
    ZoneRuns
        The zone of every pixel whose centre a polygon holds, as GDAL's
        ``rasterize`` (without ``all_touched``) would burn it.
    """
    line, s, e, flat = _polygon_runs(geoms, tuple(~transform), height, width)
    if flat:
        line, s, e = _merge(line, s, e, width)  # sorted by zone, then row
    rows, v = line % max(height, 1), line // max(height, 1) + 1
    # by row and start; stable: zone order kept on ties
    order = np.argsort(rows * (width + 1) + s, kind="stable")
    rows, s, e, v = rows[order], s[order], e[order], v[order]
    reach = np.maximum.accumulate(rows * (width + 1) + e)
    clash = rows[1:] * (width + 1) + s[1:] < reach[:-1]
    if clash.any():  # overlapping zones: repaint the rows concerned
        bad = np.unique(rows[1:][clash])
        hit = np.isin(rows, bad)
        zone_order = np.lexsort((np.arange(len(rows))[hit], v[hit], rows[hit]))
        painted = _paint(*(x[hit][zone_order] for x in (rows, s, e, v)), width)
        rows, s, e, v = (
            np.concatenate([x[~hit], y])
            for x, y in zip((rows, s, e, v), painted, strict=True)
        )
        order = np.lexsort((s, rows))
        rows, s, e, v = rows[order], s[order], e[order], v[order]
    ptr = np.searchsorted(rows, np.arange(height + 1)).astype(np.int64)
    return ZoneRuns(ptr=ptr, start=s, end=e, value=v, width=width)


def pieces(runs: ZoneRuns | None, r0: int, h: int, c0: int, w: int, step: int):
    """Cut a window into pieces of one zone and one column block each.

    Parameters
    ----------
    runs : ZoneRuns or None
        The zones; None: every pixel in one zone numbered 0.
    r0, h, c0, w : int
        First row, rows, first column, columns of the window.
    step : int
        Pieces of a zone run are cut at multiples of *step* columns of the
        grid (so a piece is at most *step* pixels of one row).

    Returns
    -------
    tuple of numpy.ndarray
        ``(start, zone, col)``: each piece's first pixel as an index into the
        flattened window (strictly increasing, from 0: a partition for
        :func:`numpy.ufunc.reduceat`), its zone number (-1 for the gaps
        between runs, which are pieces too but uncut and spanning rows) and
        its first column in the grid.
    """
    if runs is None:
        row = np.arange(h)
        s = np.full(h, c0, dtype=np.int64)
        e = np.full(h, c0 + w, dtype=np.int64)
        v = np.zeros(h, dtype=np.int64)
    else:
        a, b = int(runs.ptr[r0]), int(runs.ptr[r0 + h])
        row = np.repeat(np.arange(h), np.diff(runs.ptr[r0 : r0 + h + 1]))
        s = np.minimum(np.maximum(runs.start[a:b], c0), c0 + w)
        e = np.minimum(np.maximum(runs.end[a:b], c0), c0 + w)
        keep = e > s
        row, s, e, v = row[keep], s[keep], e[keep], runs.value[a:b][keep]
    # each run cut at multiples of step, then one slot for the gap after it:
    # in that order the starts are sorted already
    n = (e - 1) // step - s // step + 1
    total = h * w
    flat_s, flat_e = row * w + s - c0, row * w + e - c0
    gap_ok = (flat_e != np.r_[flat_s[1:], -1]) & (flat_e < total)
    slots = n + 1
    run = np.repeat(np.arange(len(s)), slots)
    j = np.arange(len(run)) - np.repeat(np.cumsum(slots) - slots, slots)
    is_gap = j == n[run]
    keep = ~is_gap | gap_ok[run]
    run, j, is_gap = run[keep], j[keep], is_gap[keep]
    col = np.where(j == 0, s[run], (s[run] // step + j) * step)
    col = np.where(is_gap, e[run], col)
    start = row[run] * w + col - c0
    zone = np.where(is_gap, -1, v[run])
    if len(start) == 0 or start[0] != 0:  # the gap before the first run
        start, zone, col = np.r_[0, start], np.r_[-1, zone], np.r_[c0, col]
    return start, zone, col


def zone_polygons(zones: str, grid) -> tuple[list[str], np.ndarray]:
    """Return zone ids and polygons (densified, in the grid's CRS).

    Parameters
    ----------
    zones : str
        ``districts`` (the shipped district boundaries) or a polygon file
        (:func:`forestsink.coverage.read_zones`).
    grid : forestsink.coverage.Grid
        The raster grid whose CRS the polygons are moved to.

    Returns
    -------
    tuple
        ``(ids, polygons)``: zone ids (str) and an object array of shapely
        geometries in the grid's CRS, densified (0.01° or 1 km) first.
    """
    if str(zones) == "units":
        raise SamplingError(
            "zones='units' 不可用于抽样（考核单元由区县合成），"
            "请用 districts 或面文件。"
            " / zones='units' cannot stratify a sample (the assessment units are "
            "built from districts); use zones='districts' or a polygon file.",
            option="zones",
        )
    if str(zones) == "districts":  # the boundaries only (no city union)
        geoms = read_districts()[["adcode", "geometry"]]
        ids = geoms["adcode"].astype(str).tolist()
    else:
        zs = read_zones(zones)
        geoms = zs.geoms
        ids = zs.rows.loc[zs.rows["level"] == "zone", "zone_id"]
        ids = ids.astype(str).tolist()
    series = gpd.GeoSeries(geoms.geometry.values, crs=geoms.crs)
    if series.crs is None:
        raise SamplingError(f"{zones}：分区没有坐标系 / the zones have no CRS.")
    if series.crs != grid.crs:
        step = 0.01 if series.crs.is_geographic else 1000.0
        series = gpd.GeoSeries(
            shapely.segmentize(series.values, step), crs=series.crs
        ).to_crs(grid.crs)
    return ids, np.asarray(series.values, dtype=object)
