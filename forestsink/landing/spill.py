"""Checked chunks kept on disk: Arrow IPC files, geometry as WKB.

A large file's chunks, once checked, are written here (when no store stager
takes them) so that ingest lands them without reading and checking the file
again (:mod:`forestsink.landing.deliveries`). The CRS is kept in the file's
schema metadata as WKT.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

#: column holding the geometry (WKB) in a spilled file
_WKB = "__forestsink_wkb"


def spill_frame(frame, path: Path) -> Path:
    """Write a checked frame to an Arrow IPC file (geometry as WKB).

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        A checked chunk, any CRS (kept as WKT in the file).
    path : Path
        File to write.

    Returns
    -------
    Path
        *path*.
    """
    name = frame.geometry.name
    table = pa.Table.from_pandas(
        pd.DataFrame(frame.drop(columns=name)), preserve_index=False
    )
    wkb = shapely.to_wkb(np.asarray(frame.geometry.values, dtype=object))
    table = table.append_column(_WKB, pa.array(wkb, type=pa.binary()))
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), b"forestsink_crs": frame.crs.to_wkt()}
    )
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    return path


def read_spilled(path: Path):
    """Read back a frame written by :func:`spill_frame` (memory-mapped).

    Returns
    -------
    geopandas.GeoDataFrame
        The frame, in the CRS it was written in.
    """
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    crs = table.schema.metadata[b"forestsink_crs"].decode()
    wkb = table.column(_WKB).to_numpy(zero_copy_only=False)
    frame = table.drop_columns([_WKB]).to_pandas()
    return gpd.GeoDataFrame(frame, geometry=shapely.from_wkb(wkb), crs=crs)
