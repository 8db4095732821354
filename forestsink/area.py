"""Ellipsoidal polygon areas, vectorised.

Polygons in geographic coordinates (EPSG:4490, 4326 …) are mapped into an
Albers equal-area conic on the GRS80 ellipsoid (the CGCS2000 ellipsoid)
centred on Chongqing (:data:`CHONGQING_ALBERS`), in closed form with numpy
(the authalic function q(φ)). The map is exactly equal-area on the
ellipsoid and nearly conformal over Chongqing, so a polygon's planar area
there equals its area on the ellipsoid up to the difference between straight
and geodesic edges — negligible for project polygons (tests check agreement
with ``pyproj.Geod`` to 0.01 %; the benchmark measures ~1e-6 at worst).
Other CRSs are first transformed to EPSG:4490.

Never computed in degrees or Web Mercator.
"""

from __future__ import annotations

import numpy as np

from forestsink.units import M2_PER_MU

#: Albers equal-area conic for Chongqing, GRS80 ellipsoid (CGCS2000).
CHONGQING_ALBERS = (
    "+proj=aea +lat_0=30 +lon_0=107.75 +lat_1=29 +lat_2=31.5 "
    "+x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs"
)


GRS80_A = 6_378_137.0
GRS80_F = 1.0 / 298.257222101
_E2 = GRS80_F * (2.0 - GRS80_F)
_E = np.sqrt(_E2)


def authalic_q(lat_deg: np.ndarray) -> np.ndarray:
    """Authalic function q(φ) of the GRS80 ellipsoid (dimensionless)."""
    s = np.sin(np.radians(lat_deg))
    es = _E * s
    return (1.0 - _E2) * (
        s / (1.0 - es * es) - np.log((1.0 - es) / (1.0 + es)) / (2.0 * _E)
    )


def _m(lat_deg: float) -> float:
    s = np.sin(np.radians(lat_deg))
    return float(np.cos(np.radians(lat_deg)) / np.sqrt(1.0 - _E2 * s * s))


# Albers equal-area conic for Chongqing (the same as CHONGQING_ALBERS), in
# closed form (Snyder 1987, eqs. 14-3 to 14-12, ellipsoidal case)
_LAT0, _LON0, _LAT1, _LAT2 = 30.0, 107.75, 29.0, 31.5
_Q0, _Q1, _Q2 = (float(authalic_q(np.array(v))) for v in (_LAT0, _LAT1, _LAT2))
_N = (_m(_LAT1) ** 2 - _m(_LAT2) ** 2) / (_Q2 - _Q1)
_C = _m(_LAT1) ** 2 + _N * _Q1
_RHO0 = GRS80_A * np.sqrt(_C - _N * _Q0) / _N


def albers_xy(lon_deg: np.ndarray, lat_deg: np.ndarray) -> tuple:
    """Chongqing Albers (GRS80) coordinates in metres, vectorised numpy.

    Identical to ``pyproj.Transformer`` with :data:`CHONGQING_ALBERS` (tested
    to 1 mm); written out so that areas of millions of polygons need no
    per-call projection machinery.
    """
    lon = np.asarray(lon_deg, dtype=np.float64)
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon, lat = np.broadcast_arrays(lon, lat)
    shape = lon.shape
    lon, lat = lon.ravel(), lat.ravel()
    x, y = np.empty_like(lon), np.empty_like(lat)
    # blocks that stay in cache, reused buffers; artanh(e sin φ) / e is the
    # log term of q(φ) (authalic_q), one transcendental fewer
    for i in range(0, len(lon), _BLOCK):
        s = np.sin(np.radians(lat[i : i + _BLOCK]))
        es = s * _E
        rho = s / (1.0 - es * es)
        rho += np.arctanh(es, out=es) / _E
        rho *= -_N * (1.0 - _E2)
        rho += _C
        np.sqrt(rho, out=rho)
        rho *= GRS80_A / _N
        theta = np.radians(lon[i : i + _BLOCK] - _LON0)
        theta *= _N
        np.multiply(rho, np.sin(theta), out=x[i : i + _BLOCK])
        np.multiply(rho, np.cos(theta), out=y[i : i + _BLOCK])
        np.subtract(_RHO0, y[i : i + _BLOCK], out=y[i : i + _BLOCK])
    if not shape:  # scalars in, scalars out
        return x[0], y[0]
    return x.reshape(shape), y.reshape(shape)


#: coordinates per block in :func:`albers_xy`
_BLOCK = 1 << 16


def albers_geometries(gdf) -> np.ndarray:
    """Geometries of *gdf* in Chongqing Albers metres (numpy fast path)."""
    from forestsink.errors import CRSError

    if gdf.crs is None:
        raise CRSError("the layer has no CRS.")
    series = gdf.geometry if hasattr(gdf, "geometry") else gdf
    return albers_of(series.values, gdf.crs)


def albers_of(geoms, crs) -> np.ndarray:
    """Geometries given in *crs* (not None), in Chongqing Albers metres."""
    if not crs.is_geographic:
        from geopandas.array import from_shapely

        geoms = from_shapely(np.asarray(geoms, dtype=object), crs=crs).to_crs(4490)
    return geographic_to_albers(geoms)


def geographic_to_albers(geoms) -> np.ndarray:
    """Geometries given in longitude/latitude degrees, in Albers metres."""
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    coords = shapely.get_coordinates(geoms)
    x, y = albers_xy(coords[:, 0], coords[:, 1])
    return shapely.set_coordinates(geoms.copy(), np.column_stack([x, y]))


def geographic_area_m2(geoms) -> np.ndarray:
    """Ellipsoidal area (m²) of polygons given in longitude/latitude degrees.

    Maps every coordinate at once with :func:`albers_xy` (equal-area on the
    GRS80 ellipsoid) and takes planar areas there.
    """
    import shapely

    return shapely.area(geographic_to_albers(geoms))


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
        float64 areas in square metres (0 for empty or non-polygon geometry).
    """
    from forestsink.errors import CRSError

    if gdf.crs is None:
        raise CRSError("cannot compute areas: the layer has no CRS.")
    series = gdf.geometry if hasattr(gdf, "geometry") else gdf
    if not gdf.crs.is_geographic:
        series = series.to_crs(4490)
    return np.asarray(geographic_area_m2(series.values), dtype="float64")


def area_mu(gdf) -> np.ndarray:
    """Return the ellipsoidal area of each geometry in mu (亩)."""
    return area_m2(gdf) / M2_PER_MU
