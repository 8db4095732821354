"""Staging a delivery's rows before they land in the GeoPackage store.

The rows of an ingest, with their content hashes and ready GeoPackage
blobs (:func:`staging_table`), are first written (Arrow to SQLite through
the ADBC driver) to a private staging file in a temporary folder, outside
the store and before it is locked (:class:`Stager`); a small delivery is
kept in memory instead (:class:`StagedRows`, :func:`fill_staged`).
:class:`~forestsink.store.gpkg.GeoPackageStore` then lands them in one
transaction. The staging file is never part of the store.

CRS Notes
---------
Geometries are EPSG:4490 (degrees); bounds are ``minx, miny, maxx, maxy``
in degrees.
"""

from __future__ import annotations

import functools
import shutil
import sqlite3
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import adbc_driver_sqlite.dbapi
import numpy as np
import pyarrow as pa

from forestsink.store.common import (
    MUTABLE_FIELDS,
    VERSION_FIELDS,
    content_hashes,
    normalize_geometries,
    shapely_bounds,
)
from forestsink.store.gpkg_codec import to_gpkg_blobs

__all__ = [
    "SMALL_BATCH",
    "STAGED_FIELDS",
    "STAGED_TABLE",
    "StagedRows",
    "Stager",
    "fill_staged",
    "staging_table",
    "write_staging_file",
]

#: deliveries up to this many rows are staged in memory, not in a file
SMALL_BATCH = 2_000
#: fields a delivery brings (the rest is set when the batch lands)
STAGED_FIELDS = tuple(
    c
    for c in VERSION_FIELDS
    if c not in ("version", "batch_id", "valid_from", *MUTABLE_FIELDS)
)
#: the staged rows' table (in the staging file, or attached as ``staged``)
STAGED_TABLE = "versions"
_DTYPES = {"TEXT": "string", "INTEGER": "Int64", "REAL": "float64"}


class Stager:
    """A delivery's rows staged in a private SQLite file, ready to land.

    Each :meth:`add` hands a validated chunk to one background thread, which
    writes it (:func:`_stage`) while the caller reads and checks the next
    chunk (SQLite's writing and GEOS's encoding release the GIL); at most one
    chunk waits, so memory stays bounded by two chunks. The store is not
    touched: :meth:`GeoPackageStore.write_delivery` lands the staged rows in
    one transaction. :meth:`close` removes the file (always call it).

    Parameters
    ----------
    folder : str or Path, optional (default: None)
        Where to keep the staging file (default: the system temp folder).
    """

    def __init__(self, folder=None) -> None:
        #: a private folder for files that belong with the staged rows
        self.folder = Path(tempfile.mkdtemp(prefix="forestsink-staged-", dir=folder))
        self.path = self.folder / "staged.sqlite"
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="stage")
        self._jobs: list = []  # one per staged chunk; each returns its bounds
        self.source_rows: list[np.ndarray] = []

    def add(self, frame, *, wait: bool = False) -> None:
        """Stage a validated chunk (in the background unless *wait*)."""
        chunk = frame.reset_index(drop=True)
        if not len(chunk):
            return
        self._submit(_stage, chunk, wait=wait)

    def add_table(self, table, bounds: np.ndarray) -> None:
        """Stage rows made ready elsewhere by :func:`staging_table`."""
        if not len(table):
            return
        self._submit(functools.partial(_write_ready, bounds=bounds), table)

    def _submit(self, fn, rows, *, wait: bool = False) -> None:
        if self._jobs:
            self._jobs[-1].result()  # one chunk at a time; re-raises its error
        names = rows.column_names if hasattr(rows, "column_names") else rows.columns
        if "source_row" in names:
            self.source_rows.append(np.asarray(rows["source_row"], dtype=np.int64))
        job = self._pool.submit(fn, rows, self.path, append=bool(self._jobs))
        self._jobs.append(job)
        if wait:
            job.result()

    def holds_any(self, rows) -> bool:
        """Whether any of these source rows was staged."""
        staged = np.concatenate(self.source_rows) if self.source_rows else []
        return bool(np.isin(staged, np.fromiter(rows, dtype=np.int64)).any())

    def finish(self) -> np.ndarray:
        """Wait for the writer; return every staged row's bounds, in order."""
        bounds = [job.result() for job in self._jobs]
        return np.concatenate(bounds) if bounds else np.empty((0, 4))

    def close(self) -> None:
        """Stop the writer and remove the staging file."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def _stage(chunk, path: Path, *, append: bool) -> np.ndarray:
    """Write validated rows to the staging file; return their bounds."""
    table, bounds = staging_table(chunk)
    write_staging_file(table, path, append=append)
    return bounds


@dataclass
class StagedRows:
    """Validated rows made ready to stage (:func:`staging_table`) elsewhere.

    :meth:`GeoPackageStore.write_delivery` takes them instead of a frame:
    the hashes and blobs are then already computed (in a helper process,
    while other files were checked).
    """

    table: object  # pyarrow.Table
    bounds: np.ndarray

    @classmethod
    def of(cls, frame) -> StagedRows:
        """Make *frame*'s rows ready."""
        return cls(*staging_table(frame.reset_index(drop=True)))

    def __len__(self) -> int:
        return len(self.table)


def _staged_schema() -> str:
    fields = ", ".join(f"{c} {VERSION_FIELDS[c]}" for c in STAGED_FIELDS)
    return f"(fid INTEGER PRIMARY KEY, geom BLOB, {fields})"


def fill_staged(conn, table) -> None:
    """Stage rows (:func:`staging_table`) in the attached ``staged`` database."""
    names = table.column_names
    conn.execute(f"CREATE TABLE staged.{STAGED_TABLE} {_staged_schema()}")
    conn.executemany(
        f"INSERT INTO staged.{STAGED_TABLE} ({', '.join(names)}) "
        f"VALUES ({', '.join('?' * len(names))})",
        zip(*(table.column(c).to_pylist() for c in names), strict=True),
    )


def _write_ready(table, path: Path, *, append: bool, bounds) -> np.ndarray:
    write_staging_file(table, path, append=append)
    return bounds


def staging_table(chunk):
    """Return validated rows' store columns, ready to stage, and their bounds.

    Pure computation (no file): an Arrow table with the store's column types,
    each row's content hash (:func:`content_hashes`) and its ready GeoPackage
    geometry blob (:func:`to_gpkg_blobs`) in ``geom``; and the bounds of
    every row (``minx, miny, maxx, maxy``, EPSG:4490), for the spatial index.
    """
    types = {"TEXT": pa.string(), "INTEGER": pa.int64(), "REAL": pa.float64()}
    columns = {}
    for name in STAGED_FIELDS:
        kind = VERSION_FIELDS[name]
        if name == "content_hash":
            hashed = normalize_geometries(chunk.geometry.values)
            hashes = content_hashes(chunk, geometries=hashed)
            columns[name] = pa.array(hashes, pa.string())
        elif name in chunk:
            values = chunk[name]
            if values.dtype != _DTYPES[kind]:  # (a step worth skipping)
                values = values.astype(_DTYPES[kind])
            columns[name] = pa.array(values, types[kind], from_pandas=True)
        else:
            columns[name] = pa.nulls(len(chunk), types[kind])
    columns["geom"] = to_gpkg_blobs(chunk.geometry.values)
    return pa.table(columns), shapely_bounds(chunk)


def write_staging_file(table, path: Path, *, append: bool) -> None:
    """Append rows (:func:`staging_table`) to the staging file.

    A plain SQLite table (``fid INTEGER PRIMARY KEY``, then the store's
    columns and types) filled from Arrow by the ADBC SQLite driver, in C and
    without holding Python's GIL (GDAL's Arrow writer holds it, so checking
    the next chunk had to wait); ``fid`` 1, 2, … across appended chunks.
    """
    if not append:
        conn = sqlite3.connect(path)
        try:
            conn.execute(f"CREATE TABLE {STAGED_TABLE} {_staged_schema()}")
            conn.commit()
        finally:
            conn.close()
    with adbc_driver_sqlite.dbapi.connect(str(path)) as conn:
        with conn.cursor() as cursor:
            cursor.adbc_ingest(STAGED_TABLE, table, mode="append")
        conn.commit()
