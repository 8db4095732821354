"""Ellipsoidal polygon areas, vectorised, correct anywhere on the Earth.

Polygons in geographic coordinates (EPSG:4490, 4326 …) have their area
computed on the GRS80 ellipsoid (the CGCS2000 ellipsoid) with geodesic edges,
as ``pyproj.Geod(ellps="GRS80").geometry_area_perimeter`` does (the oracle).
Other CRSs are first transformed to EPSG:4490.

Two paths give that area (:func:`geographic_area_m2`):

* **fast path** (numpy, all polygons at once): the coordinates are mapped into
  an Albers equal-area conic on GRS80 centred on Chongqing
  (:data:`CHONGQING_ALBERS`) in closed form (the authalic function q(φ)) and
  planar areas are taken there. The map is exactly equal-area, so the only
  error is the difference between straight edges in the map and geodesic
  edges, which grows with edge length and with the distance in latitude from
  the standard parallels. It is used only where that difference stays at the
  1e-6 level (measured against ``pyproj.Geod``): a polygon whose
  bounding box spans at most :data:`FAST_SPAN_DEG` in longitude and latitude
  (any place with ``|lat| ≤ 85°``; worst 1e-7 on a 0.05° box), or one whose
  every edge is at most :data:`FAST_SPAN_DEG` long and which lies between
  latitudes :data:`FAST_LAT_BAND` (Chongqing's districts: 7e-8; the same
  shapes moved to 20° or 40° N: 8e-7).
* **geodesic path** (``pyproj.Geod``, one polygon at a time) for everything
  else: long edges, polygons far from the band, around a pole (Antarctica)
  or across the antimeridian (Russia). These used to be wrong on the fast
  path (Antarctica 564.7 M km² instead of 12.3 M km²; Russia +0.013 %).

Project polygons (tens of metres to a few km) all take the fast path:
``benchmarks/bench_progress.py --n 300000`` measured it 10.9x faster than the
per-geometry ``Geod`` loop (0.80 s against 8.74 s), largest relative
difference 2.9e-6 on irregular star-shaped polygons of 0.01-0.1 km² (99.9 %
of them within 7e-7), the same as before the geodesic path was added.

:func:`albers_xy` is ``pyproj.Transformer`` with :data:`CHONGQING_ALBERS`.
A closed-form numpy Albers stood here until issue #21; the benchmark that
decided (``benchmarks/bench_albers.py``, removed with it; the demo's 25,914
polygons, 1.08 M vertices, best of 5-7 on a shared 2-core machine) measured
the coordinates alone 2.3x faster in numpy (0.11 s against 0.24 s) but end
to end (projection plus ``shapely.area``, or :func:`area_m2` against
``to_crs(CHONGQING_ALBERS).area``) no gain beyond the noise (pyproj/numpy
0.8x to 1.5x over three runs): the geometry handling, not the projection,
dominates. So the library does it. Largest differences between the two:
9e-6 mm in the coordinates, 3e-11 relative in the areas.

Never computed in degrees or Web Mercator.
"""

from __future__ import annotations

import logging

import numpy as np
import shapely
from geopandas.array import from_shapely
from pyproj import CRS, Geod, Transformer

from forestsink.errors import CRSError
from forestsink.units import M2_PER_MU

#: Albers equal-area conic for Chongqing, GRS80 ellipsoid (CGCS2000).
CHONGQING_ALBERS = (
    "+proj=aea +lat_0=30 +lon_0=107.75 +lat_1=29 +lat_2=31.5 "
    "+x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs"
)


_log = logging.getLogger(__name__)
_GEOD = Geod(ellps="GRS80")

#: Longitude/latitude on the GRS80 ellipsoid (CGCS2000) → Chongqing Albers: a
#: pure projection, no datum shift (both sides are GRS80).
_TO_ALBERS = Transformer.from_crs(
    CRS.from_proj4("+proj=longlat +ellps=GRS80 +no_defs"),
    CRS.from_proj4(CHONGQING_ALBERS),
    always_xy=True,
)


def albers_xy(lon_deg: np.ndarray, lat_deg: np.ndarray) -> tuple:
    """Chongqing Albers (GRS80) coordinates in metres, from degrees.

    ``pyproj.Transformer`` with :data:`CHONGQING_ALBERS`. A closed-form numpy
    version used to stand here; ``benchmarks/bench_albers.py`` showed no
    end-to-end gain (see the module docstring), so the library does it.

    Parameters
    ----------
    lon_deg, lat_deg : array-like or float
        Longitude and latitude in degrees (CGCS2000 / GRS80), broadcastable.

    Returns
    -------
    tuple of numpy.ndarray (or floats for scalar input)
        ``x``, ``y`` in metres.
    """
    lon = np.asarray(lon_deg, dtype=np.float64)
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon, lat = np.broadcast_arrays(lon, lat)
    x, y = _TO_ALBERS.transform(lon, lat)
    if not lon.shape:  # scalars in, scalars out
        return float(x), float(y)
    return np.asarray(x), np.asarray(y)


def albers_geometries(gdf) -> np.ndarray:
    """Geometries of *gdf* in Chongqing Albers metres (numpy fast path)."""
    if gdf.crs is None:
        raise CRSError("the layer has no CRS.")
    series = gdf.geometry if hasattr(gdf, "geometry") else gdf
    return albers_of(series.values, gdf.crs)


def albers_of(geoms, crs) -> np.ndarray:
    """Geometries given in *crs* (not None), in Chongqing Albers metres."""
    if not crs.is_geographic:
        geoms = from_shapely(np.asarray(geoms, dtype=object), crs=crs).to_crs(4490)
    return geographic_to_albers(geoms)


def geographic_to_albers(geoms) -> np.ndarray:
    """Geometries given in longitude/latitude degrees, in Albers metres."""
    geoms = np.asarray(geoms, dtype=object)
    coords = shapely.get_coordinates(geoms)
    x, y = albers_xy(coords[:, 0], coords[:, 1])
    return shapely.set_coordinates(geoms.copy(), np.column_stack([x, y]))


#: Largest bounding-box span and edge length (degrees) of the fast path.
FAST_SPAN_DEG = 0.05
#: Latitudes (degrees) between which polygons with short edges take the fast path.
FAST_LAT_BAND = (20.0, 40.0)
#: Latitude (degrees) beyond which even small polygons take the geodesic path.
FAST_MAX_ABS_LAT = 85.0


def _fast_path(geoms: np.ndarray) -> np.ndarray:
    """Tell which geometries the Albers fast path measures to 1e-6 (bool)."""
    xmin, ymin, xmax, ymax = shapely.bounds(geoms).T
    with np.errstate(invalid="ignore"):
        small = (
            (xmax - xmin <= FAST_SPAN_DEG)
            & (ymax - ymin <= FAST_SPAN_DEG)
            & (np.maximum(np.abs(ymin), np.abs(ymax)) <= FAST_MAX_ABS_LAT)
        )
        banded = (ymin >= FAST_LAT_BAND[0]) & (ymax <= FAST_LAT_BAND[1]) & ~small
    small |= np.isnan(xmin)  # empty or missing: area 0 either way
    todo = np.flatnonzero(banded)
    if len(todo):
        parts, part_of = shapely.get_parts(geoms[todo], return_index=True)
        rings, ring_of = shapely.get_rings(parts, return_index=True)
        coords, coord_of = shapely.get_coordinates(rings, return_index=True)
        same = coord_of[1:] == coord_of[:-1]
        edge = np.hypot(*np.diff(coords, axis=0).T)
        longest = np.zeros(len(todo))
        np.maximum.at(longest, part_of[ring_of[coord_of[1:][same]]], edge[same])
        small[todo] = longest <= FAST_SPAN_DEG
    return small


def _geodesic_area_m2(geom) -> float:
    """Area (m²) of one geometry on GRS80 with geodesic edges (pyproj.Geod)."""
    if geom is None or shapely.is_empty(geom):
        return 0.0
    # exterior rings counter-clockwise, holes clockwise: Geod's signed sum is
    # then the exterior minus the holes
    return abs(_GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))[0])


def geographic_area_m2(geoms) -> np.ndarray:
    """Ellipsoidal area (m²) of polygons given in longitude/latitude degrees.

    Parameters
    ----------
    geoms : array-like of shapely geometries
        Longitude/latitude in degrees on GRS80 / CGCS2000 / WGS 84 (EPSG:4490,
        4326); anywhere on the Earth, including around a pole and across
        the antimeridian.

    Returns
    -------
    numpy.ndarray
        float64 areas in square metres on the GRS80 ellipsoid with geodesic
        edges (0 for empty, missing or non-polygon geometry); equal to
        ``pyproj.Geod(ellps="GRS80").geometry_area_perimeter`` on the geodesic
        path, within about 1e-6 of it on the fast path.

    Notes
    -----
    Polygons that :func:`_fast_path` accepts are measured all at once in the
    Albers map (:func:`albers_xy`); the others one by one with ``pyproj.Geod``
    (see the module docstring for the bounds and the errors measured).

    Examples
    --------
    >>> import shapely
    >>> a = geographic_area_m2([shapely.box(106.5, 29.5, 106.51, 29.51)])
    >>> round(float(a[0]) / 1e6, 3)  # km²
    1.075
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.zeros(len(geoms), dtype="float64")
    fast = _fast_path(geoms)
    if fast.any():
        out[fast] = shapely.area(geographic_to_albers(geoms[fast]))
        out[shapely.is_missing(geoms)] = 0.0
    slow = np.flatnonzero(~fast)
    if len(slow):
        _log.debug("%d of %d polygons measured with pyproj.Geod", len(slow), len(out))
    for i in slow:
        out[i] = _geodesic_area_m2(geoms[i])
    return out


def area_m2(gdf) -> np.ndarray:
    """Return the ellipsoidal area of each geometry of *gdf* in m².

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or GeoSeries
        Any CRS that pyproj knows; must not be None. Geographic CRSs are
        used as they are (CGCS2000, WGS 84 and GRS80 differ far below the
        area tolerance); others are transformed to EPSG:4490 first.

    Returns
    -------
    numpy.ndarray
        float64 areas in square metres on the GRS80 ellipsoid with geodesic
        edges (0 for empty or non-polygon geometry), within about 1e-6 of
        ``pyproj.Geod`` anywhere on the Earth (:func:`geographic_area_m2`).

    Notes
    -----
    CRS: input in any CRS; areas on the ellipsoid of EPSG:4490 (GRS80), never
    in the input's planar units.
    """
    if gdf.crs is None:
        raise CRSError("cannot compute areas: the layer has no CRS.")
    series = gdf.geometry if hasattr(gdf, "geometry") else gdf
    if not gdf.crs.is_geographic:
        series = series.to_crs(4490)
    return np.asarray(geographic_area_m2(series.values), dtype="float64")


def area_mu(gdf) -> np.ndarray:
    """Return the ellipsoidal area of each geometry in mu (亩)."""
    return area_m2(gdf) / M2_PER_MU
