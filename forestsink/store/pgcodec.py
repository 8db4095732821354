"""Values as PostGIS reads and writes them: hex EWKB geometries, ISO times.

Shared by :mod:`forestsink.store.postgis`, its inventory side
(:mod:`forestsink.store.inventory_pg`) and :mod:`forestsink.store.migrate`.
No database connection here.

CRS Notes
---------
Geometries are EPSG:4490 (CGCS2000, degrees), written with SRID 4490.
"""

from __future__ import annotations

import numpy as np
import shapely

from forestsink.store.common import SRS_ID

__all__ = ["hex_ewkb", "multi", "ts_text"]

_TS_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def ts_text(expr: str, alias: str) -> str:
    """Return SQL selecting a timestamptz column as an ISO UTC string.

    Examples
    --------
    >>> ts_text("s.valid_from", "valid_from")[:31]
    'to_char(s.valid_from AT TIME ZO'
    """
    return f"to_char({expr} AT TIME ZONE 'UTC', '{_TS_FORMAT}') AS {alias}"


def multi(geoms) -> np.ndarray:
    """Polygons as one-part MultiPolygons (the column type), others unchanged."""
    geoms = np.asarray(geoms, dtype=object)
    polys = np.flatnonzero(shapely.get_type_id(geoms) == 3)
    if len(polys):
        geoms = geoms.copy()
        geoms[polys] = shapely.multipolygons(
            geoms[polys], indices=np.arange(len(polys))
        )
    return geoms


def hex_ewkb(geoms) -> list:
    """Hex EWKB with SRID 4490 (what a PostGIS geometry column reads in COPY)."""
    geoms = shapely.set_srid(multi(geoms), SRS_ID)
    return shapely.to_wkb(geoms, hex=True, output_dimension=2, include_srid=True)
