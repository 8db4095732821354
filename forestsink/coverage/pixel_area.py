"""Ellipsoidal pixel areas (m²).

A pixel's area is the area on the ellipsoid of the raster's geodetic CRS of
the quadrilateral spanned by its four corners, computed in an equal-area
cylindrical projection of that ellipsoid (:func:`pixel_area_m2`; agrees with
``pyproj.Geod`` to 1e-7). :class:`PixelAreaModel` gives every pixel's area
cheaply: exact per row on geographic rasters, exact at a lattice of pixels
about 4 km apart and bilinear in between on projected ones (error < 1e-7),
with cuts of runs so that a piece's area changes by less than
:data:`AREA_TOLERANCE`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from pyproj import CRS, Transformer
from pyproj.crs import ProjectedCRS
from pyproj.crs.coordinate_operation import LambertCylindricalEqualAreaConversion

from forestsink.coverage.rasters import Grid

#: Largest relative change of pixel area along one run piece (projected grids).
AREA_TOLERANCE = 1e-4


#: Largest lattice spacing (pixels) of exact pixel areas on projected grids;
#: nodes are also at most about 4 km apart.
AREA_LATTICE_STEP = 128


#: Most lattice nodes along a side (a raster over 262,144 pixels a side gets
#: a coarser step in pixels; nodes then lie closer than 4 km on any real
#: raster over Chongqing, so the error bound holds).
_LATTICE_NODES = 2048


def _equal_area_transformer(crs):
    """Return a transformer from *crs* to equal-area cylindrical on its ellipsoid."""
    geodetic = crs.geodetic_crs or CRS.from_epsg(4326)
    lon0 = 0.0
    if crs.area_of_use is not None:
        w, _s, e, _n = crs.area_of_use.bounds
        lon0 = (w + e) / 2.0 if w <= e else 0.0
    cea = ProjectedCRS(
        conversion=LambertCylindricalEqualAreaConversion(
            latitude_first_parallel=0.0, longitude_natural_origin=lon0
        ),
        geodetic_crs=geodetic,
    )
    return Transformer.from_crs(crs, cea, always_xy=True)


def pixel_area_m2(grid: Grid, rows, cols) -> np.ndarray:
    """Return the exact ellipsoidal area of pixels, in m².

    Parameters
    ----------
    grid : Grid
        The pixel grid (any geographic or projected CRS).
    rows, cols : array_like of int
        Pixel indices (broadcast together).

    Returns
    -------
    numpy.ndarray
        float64 areas in m².

    Notes
    -----
    The four corners of each pixel are transformed to a Lambert cylindrical
    equal-area projection *on the ellipsoid of the grid's geodetic CRS*
    (CGCS2000/GRS80 for EPSG:4490 and its Gauss-Krüger zones) and the
    quadrilateral's area is taken there. That projection preserves ellipsoidal
    area exactly and maps meridians and parallels to straight lines, so for a
    geographic grid the result is the exact area of the latitude–longitude
    cell; for a projected grid the only approximation is that the pixel's
    edges, straight in the raster's projection, are taken as straight in the
    equal-area one (relative error below 1e-10 for pixels up to 1 km).
    """
    rows, cols = np.broadcast_arrays(
        np.asarray(rows, dtype=np.float64), np.asarray(cols, dtype=np.float64)
    )
    t = grid.transform
    cx = np.stack([cols, cols + 1, cols + 1, cols])
    cy = np.stack([rows, rows, rows + 1, rows + 1])
    x = t.c + t.a * cx
    y = t.f + t.e * cy
    if grid.crs.is_geographic:
        y = np.clip(y, -90.0, 90.0)
    ex, ey = _equal_area_transformer(grid.crs).transform(x, y)
    ex, ey = np.asarray(ex), np.asarray(ey)
    # relative to the first corner: absolute coordinates (~1e7 m) would lose
    # about 1e-4 of a 30 m pixel's area to cancellation
    dx, dy = ex[1:] - ex[0], ey[1:] - ey[0]
    shoelace = dx[0] * dy[1] - dx[1] * dy[0] + dx[1] * dy[2] - dx[2] * dy[1]
    return np.abs(shoelace) / 2.0


@dataclass
class PixelAreaModel:
    """Ellipsoidal pixel area anywhere on a grid, fast.

    Geographic grids: exact per row (area does not depend on the column).
    Projected grids: exact at a lattice of pixels about 4 km (at most
    :data:`AREA_LATTICE_STEP` pixels) apart and bilinear in between (relative
    error below 1e-7 for conformal and equal-area projections of Chongqing).

    Attributes
    ----------
    grid : Grid
    run_piece : int or None
        Longest run piece (pixels) over which the area changes by less than
        :data:`AREA_TOLERANCE`; None when the area does not vary along rows.
    """

    grid: Grid
    run_piece: int | None = None
    _row_area: np.ndarray | None = field(default=None, repr=False)
    _lat_rows: np.ndarray | None = field(default=None, repr=False)
    _lat_cols: np.ndarray | None = field(default=None, repr=False)
    _lattice: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def build(cls, grid: Grid) -> PixelAreaModel:
        """Compute the exact areas this model interpolates from."""
        model = cls(grid)
        if grid.crs.is_geographic:
            rows = np.arange(grid.height)
            model._row_area = pixel_area_m2(grid, rows, np.zeros_like(rows))
            return model
        # about 4 km between lattice nodes: bilinear error < 1e-7 (TM, 30°N)
        mid = pixel_area_m2(grid, grid.height // 2, grid.width // 2)
        step = int(np.clip(4000.0 / math.sqrt(float(mid)), 1, AREA_LATTICE_STEP))
        # at most _LATTICE_NODES nodes a side, whatever the raster's size
        step = max(step, -(-max(grid.width, grid.height) // _LATTICE_NODES))
        lr = np.unique(np.r_[np.arange(0, grid.height, step), grid.height - 1])
        lc = np.unique(np.r_[np.arange(0, grid.width, step), grid.width - 1])
        lattice = pixel_area_m2(grid, lr[:, None], lc[None, :])
        model._lat_rows, model._lat_cols, model._lattice = lr, lc, lattice
        if len(lc) > 1:
            grad = np.abs(np.diff(lattice, axis=1)) / np.diff(lc)[None, :]
            rel = float(np.max(grad / lattice[:, :-1]))
        else:
            rel = 0.0
        if rel > 1e-12:
            piece = int(AREA_TOLERANCE / rel)
            model.run_piece = max(8, 1 << max(3, piece.bit_length() - 1))
        return model

    def __call__(self, rows, cols) -> np.ndarray:
        """Return pixel areas in m² at integer (rows, cols)."""
        rows = np.asarray(rows)
        if self._row_area is not None:
            return self._row_area[rows] * np.ones(np.shape(cols))
        cols = np.asarray(cols)
        i0, tr = _frac_index(self._lat_rows, rows)
        j0, tc = _frac_index(self._lat_cols, cols)
        lat = self._lattice
        i1 = np.minimum(i0 + 1, lat.shape[0] - 1)
        j1 = np.minimum(j0 + 1, lat.shape[1] - 1)
        top = lat[i0, j0] * (1 - tc) + lat[i0, j1] * tc
        bottom = lat[i1, j0] * (1 - tc) + lat[i1, j1] * tc
        return top * (1 - tr) + bottom * tr


def _frac_index(nodes: np.ndarray, x) -> tuple[np.ndarray, np.ndarray]:
    """Interval index and position in it of *x* among lattice *nodes*.

    The nodes are 0, step, 2·step, ... and a last, closer node.
    """
    x = np.asarray(x, dtype=np.float64)
    if len(nodes) < 2:
        return np.zeros(x.shape, dtype=np.int64), np.zeros(x.shape)
    step = nodes[1] - nodes[0]
    i = np.minimum((x // step).astype(np.int64), len(nodes) - 2)
    np.maximum(i, 0, out=i)
    return i, (x - nodes[i]) / (nodes[i + 1] - nodes[i])
