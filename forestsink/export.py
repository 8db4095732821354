"""Export the store's polygons for other engines (GeoParquet, partitioned).

``export_geoparquet`` writes the current (or as-of) polygons as a GeoParquet
dataset partitioned by district (hive style: ``adcode=500101/part-0.parquet``),
EPSG:4490, one file per district. Dask-geopandas, DuckDB, GDAL ≥ 3.8 and
geopandas read it directly; a country-scale run partitions the same way by
county code.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from forestsink.errors import ForestsinkError


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
    try:
        import pyarrow  # noqa: F401
    except ImportError as err:  # pragma: no cover - declared dependency
        raise ForestsinkError(
            "GeoParquet export needs pyarrow: pip install pyarrow"
        ) from err
    out = Path(out)
    if out.exists():
        raise ForestsinkError(f"{out}: already exists; give a new folder.")
    frame = store.current(as_of=as_of)
    if frame.empty:
        raise ForestsinkError(f"{store.path}: no polygons to export.")
    tmp = out.with_name(f".{out.name}.part")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for adcode, part in frame.groupby("adcode", sort=True):
            folder = tmp / f"adcode={adcode}"
            folder.mkdir(parents=True)
            part.drop(columns="adcode").reset_index(drop=True).to_parquet(
                folder / "part-0.parquet", index=False
            )
        tmp.replace(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_geoparquet(path):
    """Read a dataset written by :func:`export_geoparquet` (all partitions)."""
    import geopandas as gpd
    import pandas as pd

    parts = []
    for file in sorted(Path(path).glob("adcode=*/*.parquet")):
        part = gpd.read_parquet(file)
        part.insert(0, "adcode", file.parent.name.split("=", 1)[1])
        parts.append(part)
    if not parts:
        raise ForestsinkError(f"{path}: no GeoParquet partitions found.")
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs)
