"""Zone weights on one grid: m² of each pixel inside each zone.

:func:`zone_weights` combines the exact fractions
(:func:`~forestsink.coverage.fractions.coverage_fractions`) with the
ellipsoidal pixel areas (:class:`~forestsink.coverage.pixel_area.PixelAreaModel`)
into :class:`ZoneWeights`, computed once per grid and reused for every year
on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from forestsink.coverage.fractions import (
    MAX_BAND_CELLS,
    Fractions,
    coverage_fractions,
    prepare_zones,
    zone_geometries,
)
from forestsink.coverage.pixel_area import PixelAreaModel
from forestsink.coverage.rasters import Grid


@dataclass(frozen=True)
class ZoneWeights:
    """Pixel weights (m² of each pixel inside each zone) on one grid.

    Compute once per grid with :func:`zone_weights`; reuse for every year.

    Attributes
    ----------
    grid : Grid
    n_zones : int
    row, col, length, zone : numpy.ndarray
        Pieces of runs of fully covered pixels, sorted by row.
    area : numpy.ndarray of float32
        Ellipsoidal area (m²) of a pixel of each piece.
    p_row, p_col, p_zone : numpy.ndarray
        Boundary pixels, sorted by row.
    p_weight : numpy.ndarray of float64
        Their area inside the zone (fraction × pixel area, m²).
    covered_m2 : numpy.ndarray
        Per zone: ellipsoidal area inside the grid (m²).
    inside_share : numpy.ndarray
        Per zone: share of the polygon's area that lies inside the grid.
    """

    grid: Grid
    n_zones: int
    row: np.ndarray
    col: np.ndarray
    length: np.ndarray
    zone: np.ndarray
    area: np.ndarray
    p_row: np.ndarray
    p_col: np.ndarray
    p_zone: np.ndarray
    p_weight: np.ndarray
    covered_m2: np.ndarray
    inside_share: np.ndarray

    @property
    def pixels(self) -> int:
        """Number of (zone, pixel) pairs the weights touch."""
        return int(self.length.sum()) + len(self.p_row)


def _split_runs(frac: Fractions, piece: int | None):
    """Cut runs at multiples of *piece* columns (None: keep whole)."""
    row, col, length, zone = frac.run_row, frac.run_col, frac.run_len, frac.run_zone
    if piece is None or len(row) == 0:
        return row, col, length, zone
    first = col // piece
    last = (col + length - 1) // piece
    n = (last - first + 1).astype(np.int64)
    idx = np.repeat(np.arange(len(row)), n)
    k = np.arange(len(idx)) - np.repeat(np.cumsum(n) - n, n)
    start = np.maximum(col[idx], (first[idx] + k) * piece)
    end = np.minimum(col[idx] + length[idx], (first[idx] + k + 1) * piece)
    return row[idx], start, end - start, zone[idx]


def zone_weights(
    geoms,
    grid: Grid,
    *,
    crs=None,
    areas: PixelAreaModel | None = None,
    max_cells: int | None = MAX_BAND_CELLS,
) -> ZoneWeights:
    """Compute every zone's pixel weights on a grid (once per grid).

    Parameters
    ----------
    geoms : geopandas.GeoSeries, GeoDataFrame or array of geometries
        Zone polygons in any CRS (a GeoSeries/GeoDataFrame carries its own;
        otherwise pass *crs*). They are reprojected to the grid's CRS.
    grid : Grid
        The raster grid.
    crs : optional (default: None)
        CRS of *geoms* when they do not carry one.
    areas : PixelAreaModel, optional (default: None)
        Reuse a model built for this grid.
    max_cells : int or None, optional (default: :data:`MAX_BAND_CELLS`)
        Most work cells; see :func:`coverage_fractions`.

    Returns
    -------
    ZoneWeights
        Weights in m² on the ellipsoid of the grid's geodetic CRS.

    Raises
    ------
    WorkLimitError
        Above *max_cells*, before anything the size of the band is allocated.
    """
    values, src_crs = zone_geometries(geoms, crs)
    local = prepare_zones(values, src_crs, grid)
    frac = coverage_fractions(local, grid, max_cells=max_cells)
    n = len(local)
    areas = areas or PixelAreaModel.build(grid)
    row, col, length, zone = _split_runs(frac, areas.run_piece)
    order = np.argsort(row, kind="stable")
    row, col, length, zone = row[order], col[order], length[order], zone[order]
    area = areas(row, col + (length - 1) / 2.0).astype(np.float32)
    p_order = np.argsort(frac.part_row, kind="stable")
    p_row, p_col = frac.part_row[p_order], frac.part_col[p_order]
    p_zone = frac.part_zone[p_order]
    p_weight = frac.part_frac[p_order] * areas(p_row, p_col)
    covered = np.bincount(zone, weights=area * length, minlength=n) + np.bincount(
        p_zone, weights=p_weight, minlength=n
    )
    t = grid.transform
    planar = shapely.area(local)
    pix = frac.pixel_sum(n) * abs(t.a * t.e)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(planar > 0, np.minimum(pix / planar, 1.0), 0.0)
    return ZoneWeights(
        grid=grid,
        n_zones=n,
        row=row.astype(np.int32),
        col=col.astype(np.int32),
        length=length.astype(np.int32),
        zone=zone.astype(np.int32),
        area=area,
        p_row=p_row.astype(np.int32),
        p_col=p_col.astype(np.int32),
        p_zone=p_zone.astype(np.int32),
        p_weight=p_weight,
        covered_m2=covered,
        inside_share=share,
    )
