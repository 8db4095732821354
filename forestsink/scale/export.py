"""Export the store's polygons for other engines (GeoParquet, partitioned).

``export_geoparquet`` writes the current (or as-of) polygons as a GeoParquet
dataset partitioned by district (hive style: ``adcode=500101/part-0.parquet``),
EPSG:4490, one file per district. Dask-geopandas, DuckDB, GDAL ≥ 3.8 and
geopandas read it directly; a country-scale run partitions the same way by
county code.
"""

from __future__ import annotations

from pathlib import Path

from forestsink.errors import NoDataError
from forestsink.scale.dataset import read_partitions, write_partitions, writing


def export_geoparquet(store, out, /, *, as_of=None) -> Path:
    """Write the store's polygons to a partitioned GeoParquet dataset.

    Parameters
    ----------
    store : Store
        A GeoPackage or PostGIS store.
    out : str or Path
        Folder to create; it must not exist (nothing is overwritten).
    as_of : optional (default: now)
        Batch number or date, as for ``forestsink current``.

    Returns
    -------
    Path
        The dataset folder.
    """
    out = Path(out)
    frame = store.current(as_of=as_of)
    if frame.empty:
        raise NoDataError(f"{store.path}: no polygons to export.")
    with writing(out) as tmp:
        write_partitions(frame, tmp, "0")
    return out


def read_geoparquet(path):
    """Read a dataset written by :func:`export_geoparquet` (all partitions)."""
    return read_partitions(path)
