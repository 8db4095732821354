"""The partitioned GeoParquet dataset other engines read.

Layout (hive style, one folder per district code, any number of files in it)::

    DATASET/adcode=500101/part-<name>.parquet
    DATASET/adcode=500102/...

Every file is GeoParquet (geometry WKB, EPSG:4490) without the ``adcode``
column — the folder name carries it. Dask workers, DuckDB, GDAL ≥ 3.8 and
geopandas read it directly; a national dataset has one folder per county
code, so a group of neighbouring counties (codes sorted) is a contiguous
piece of land and one task's work.

A dataset is written by :func:`forestsink.scale.export.export_geoparquet` (from
the store) or :func:`forestsink.landing.staging.stage_deliveries` (straight from
delivered files) into a hidden sibling folder and renamed into place at the
end, so a reader never sees half a dataset.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from forestsink.errors import DatasetError

PREFIX = "adcode="


def is_dataset(path) -> bool:
    """Return whether *path* is a folder holding ``adcode=`` partitions."""
    path = Path(path)
    return path.is_dir() and any(path.glob(f"{PREFIX}*"))


def partition_codes(root) -> list[str]:
    """District codes present in the dataset, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder.")
    codes = sorted(p.name[len(PREFIX) :] for p in root.glob(f"{PREFIX}*") if p.is_dir())
    if not codes:
        raise DatasetError(
            f"{root}: no {PREFIX}… partitions found; write a dataset from a "
            "store (forestsink.scale.export.export_geoparquet, the export "
            "command) or from deliveries (the stage command) first."
        )
    return codes


def write_partitions(frame, root, name: str) -> int:
    """Write *frame* (with an ``adcode`` column) as ``part-<name>`` files.

    Returns the number of files written.
    """
    root = Path(root)
    n = 0
    for adcode, part in frame.groupby("adcode", sort=True):
        folder = root / f"{PREFIX}{adcode}"
        folder.mkdir(parents=True, exist_ok=True)
        part.drop(columns="adcode").reset_index(drop=True).to_parquet(
            folder / f"part-{name}.parquet", index=False, compression="zstd"
        )
        n += 1
    return n


def read_partitions(
    root, adcodes: Iterable[str] | None = None, *, columns: Sequence[str] | None = None
):
    """Read the partitions of *adcodes* (default all) into one GeoDataFrame.

    ``adcode`` is added from the folder names; *columns* (besides geometry)
    limits what is read.
    """
    root = Path(root)
    codes = partition_codes(root) if adcodes is None else list(adcodes)
    parts = []
    for code in codes:
        for file in sorted((root / f"{PREFIX}{code}").glob("*.parquet")):
            cols = None if columns is None else [*columns, "geometry"]
            part = gpd.read_parquet(file, columns=cols)
            part.insert(0, "adcode", code)
            parts.append(part)
    if not parts:
        return gpd.GeoDataFrame(
            {"adcode": pd.Series(dtype="string")}, geometry=[], crs=4490
        )
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs)


def dataset_columns(root) -> list[str]:
    """Column names of a dataset (from its first partition file's schema)."""
    for file in sorted(Path(root).glob(f"{PREFIX}*/*.parquet")):
        return list(pq.read_schema(file).names)
    return []


def district_groups(codes: Sequence[str], n: int) -> list[list[str]]:
    """Split sorted district codes into *n* contiguous groups (tasks)."""
    codes = sorted(codes)
    n = max(1, min(n, len(codes)))
    return [list(g) for g in np.array_split(np.array(codes, dtype=object), n) if len(g)]


@contextmanager
def writing(out):
    """Write a dataset into a hidden sibling folder; rename on success.

    Nothing is left behind on error (or Ctrl-C); *out* must not exist.
    """
    out = Path(out)
    if out.exists():
        raise DatasetError(f"{out}: already exists; give a new folder.")
    tmp = out.with_name(f".{out.name}.part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        tmp.replace(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class Dataset:
    """A partitioned GeoParquet dataset opened where a store is expected.

    Read-only: ``current()`` returns every polygon (the dataset is one
    state, so ``as_of`` is refused); ``progress``, ``carbon`` and ``report``
    accept it as ``--store DIR``. With ``progress --engine dask`` the
    workers read its partitions themselves.
    """

    def __init__(self, path) -> None:
        self.path = Path(path)
        partition_codes(self.path)  # a clear error if it holds no partitions

    def current(self, as_of=None):
        """Return all polygons (EPSG:4490); *as_of* must be None."""
        if as_of is not None:
            raise DatasetError(
                f"{self.path}: a GeoParquet dataset holds one state; a state "
                f"as of {as_of!r} needs the versioned store (export that state "
                "from the store to a dataset first)."
            )
        return read_partitions(self.path)

    def batches(self):
        """Return no batches: a dataset has no history (an empty table)."""
        return pd.DataFrame(
            {"batch_id": pd.Series(dtype="int64"), "time": pd.Series(dtype="string")}
        )

    def inventory_years(self, *, as_of=None) -> list[int]:
        """Forest-resource years a project dataset holds: none (an empty list).

        A dataset of project polygons carries no forest-resource layers;
        progress and the report then show the resource targets as needing
        them. (``forestsink inventory export`` writes a layer dataset.)
        """
        return []

    def __getattr__(self, name):
        raise DatasetError(
            f"{self.path} is a GeoParquet dataset (read-only, no history): "
            f"it cannot {name.replace('_', ' ')}; use a .gpkg or PostgreSQL store."
        )
