"""The versioned project store in one GeoPackage file (the default back end).

Layout (a valid GeoPackage that QGIS and ArcGIS open directly):

``project_versions`` (features, EPSG:4490, MultiPolygon)
    Every version of every project polygon. Never deleted, never
    overwritten: a row's content is immutable; only its validity end
    (``ended_batch``, ``valid_to``, ``end_reason``) is set once, when a later
    batch supersedes, withdraws or undoes it. Triggers in the file enforce
    this, so even another program cannot delete history.
``current_projects`` (features, a view)
    The latest version of every polygon that is not withdrawn: what an
    analyst opens in desktop GIS.
``batches`` (attributes)
    One row per ingest, withdrawal or undo: who, when, source file and its
    SHA-256, counts, and a note.

Stable key: ``<adcode>/<project_id>``, the 6-digit adcode of today's district
(resolved from whatever name the delivery used) and the delivered project id,
stripped. A delivery of an existing key with different geometry or
attributes creates a new version; an identical one changes nothing.

Each batch is one SQLite transaction (``BEGIN IMMEDIATE``): either all its
rows land or none do, also if the process is killed (SQLite's rollback
journal is replayed on the next open). A second writer waits up to
``timeout`` seconds for the first, then fails with a clear message.

How an ingest is written (fast, and the store untouched until the commit):
the delivered rows and their content hashes are first written (Arrow to
SQLite through the ADBC driver) to a private staging file in a temporary
folder (outside the store, before it is locked); then, in the one
transaction, SQL decides what is new, changed or unchanged against the live
versions, ends the superseded ones and
copies the new ones with ``INSERT … SELECT``; the R-tree is packed in bulk
when the batch is large (:mod:`forestsink.store.rtree`), else extended row by
row. The staging file is never part of the store.
"""

from __future__ import annotations

import datetime as dt
import errno
import functools
import getpass
import hashlib
import os
import sqlite3
import struct
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import adbc_driver_manager
import numpy as np
import pandas as pd

from forestsink.errors import ForestsinkError
from forestsink.store.base import WithdrawMixin
from forestsink.store.inventory import InventoryMixin

SRS_ID = 4490
LAYER = "project_versions"
VIEW = "current_projects"
BATCHES = "batches"

VERSION_FIELDS = {
    "key": "TEXT",
    "adcode": "TEXT",
    "project_id": "TEXT",
    "version": "INTEGER",
    "year": "INTEGER",
    "project_type": "TEXT",
    "programme": "TEXT",
    "area_mu": "REAL",
    "area_reported_mu": "REAL",
    "species": "TEXT",
    "stock_volume_m3": "REAL",
    "attrs": "TEXT",
    "content_hash": "TEXT",
    "batch_id": "INTEGER",
    "valid_from": "TEXT",
    "ended_batch": "INTEGER",
    "valid_to": "TEXT",
    "end_reason": "TEXT",
    "source_file": "TEXT",
    "source_row": "INTEGER",
}
CONTENT_FIELDS = (
    "year",
    "project_type",
    "programme",
    "area_reported_mu",
    "species",
    "stock_volume_m3",
    "attrs",
)
MUTABLE_FIELDS = ("ended_batch", "valid_to", "end_reason")
#: deliveries up to this many rows are staged in memory, not in a file
SMALL_BATCH = 2_000
#: SQLite page cache of a write transaction (KiB)
WRITE_CACHE_KIB = 131_072


class StoreError(ForestsinkError):
    """The store cannot do what was asked (locked, unknown key, ...)."""


class StoreBusyError(StoreError, TimeoutError):
    """Another process holds the store's write lock."""


# --------------------------------------------------------------------------
# GeoPackage geometry blobs
# --------------------------------------------------------------------------


def to_gpkg_blobs(geoms):
    """Encode shapely geometries as GeoPackage blobs (MultiPolygon, envelope).

    A Polygon is written as a MultiPolygon of one part: its WKB behind the
    9-byte MultiPolygon header (the bytes GEOS writes for that MultiPolygon).
    Returns a ``pyarrow.BinaryArray`` (the pieces are joined in Arrow, in C);
    ``.to_pylist()`` gives ``bytes``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    wkb = shapely.to_wkb(geoms, byte_order=1, output_dimension=2, flavor="iso")
    n = len(geoms)
    header = np.zeros((n, 40), dtype=np.uint8)
    header[:, :8] = np.frombuffer(b"GP\x00\x03" + struct.pack("<i", SRS_ID), np.uint8)
    envelopes = shapely.bounds(geoms)[:, [0, 2, 1, 3]].astype("<f8")  # x x y y
    header[:, 8:] = np.ascontiguousarray(envelopes).view(np.uint8).reshape(n, 32)
    heads = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(40), n, [None, pa.py_buffer(header.tobytes())]
    ).cast(pa.large_binary())  # large: a chunk's blobs may pass 2 GiB
    single = (shapely.get_type_id(geoms) == 3).astype(np.int64)  # Polygon
    prefix = pa.array([b"", _ONE_PART], pa.large_binary()).take(pa.array(single))
    wkb = pa.array(wkb, pa.large_binary())
    return pc.binary_join_element_wise(
        heads, prefix, wkb, pa.scalar(b"", pa.large_binary())
    )


#: ISO WKB header of a little-endian 2-D MultiPolygon with one part
_ONE_PART = b"\x01" + struct.pack("<II", 6, 1)


_ENVELOPE_DOUBLES = {0: 0, 1: 4, 2: 6, 3: 6, 4: 8}


def _header_length(blob: bytes) -> int:
    flags = blob[3]
    return 8 + 8 * _ENVELOPE_DOUBLES[(flags >> 1) & 0x07]


def from_gpkg_blobs(blobs) -> np.ndarray:
    """Decode GeoPackage blobs into shapely geometries."""
    import shapely

    wkb = [None if b is None else bytes(b)[_header_length(b) :] for b in blobs]
    return shapely.from_wkb(np.asarray(wkb, dtype=object))


def _envelope(blob, index: int):
    if blob is None:
        return None
    blob = bytes(blob)
    flags = blob[3]
    if (flags >> 1) & 0x07:
        byte_order = "<" if flags & 1 else ">"
        return struct.unpack(byte_order + "4d", blob[8:40])[index]
    import shapely

    minx, miny, maxx, maxy = shapely.bounds(from_gpkg_blobs([blob])[0])
    return (minx, maxx, miny, maxy)[index]


def _is_empty(blob) -> int:
    if blob is None:
        return 1
    return int(bool(bytes(blob)[3] & 0x10))


def _register_functions(conn: sqlite3.Connection) -> None:
    """Register the SQL functions that GDAL's R-tree triggers call."""
    conn.create_function("ST_IsEmpty", 1, _is_empty, deterministic=True)
    for name, index in (("ST_MinX", 0), ("ST_MaxX", 1), ("ST_MinY", 2), ("ST_MaxY", 3)):
        conn.create_function(
            name, 1, lambda b, i=index: _envelope(b, i), deterministic=True
        )


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


#: what a batch records of its source (write_delivery's keywords)
_BATCH_FIELDS = ("source_name", "source_sha256", "note", "user", "now")
#: the counts of a write that changed nothing
_NO_CHANGE = {"added": 0, "changed": 0, "unchanged": 0, "batch_id": None}


def _batch_by_sha(conn, sha256: str) -> int | None:
    row = conn.execute(
        f"SELECT batch_id FROM {BATCHES} WHERE kind = 'ingest' AND "
        "source_sha256 = ? AND undone_by IS NULL ORDER BY batch_id DESC LIMIT 1",
        (sha256,),
    ).fetchone()
    return None if row is None else int(row[0])


def utc_now() -> str:
    """Return the current UTC time as an ISO string with microseconds."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: decimal places of degrees kept in stored geometry (1e-9° is about 0.1 mm)
COORDINATE_DECIMALS = 9


def normalize_geometries(geoms) -> np.ndarray:
    """Put polygons in one canonical form for the content hash.

    Coordinates are rounded to ``COORDINATE_DECIMALS`` decimal places of a
    degree (1e-9°, about 0.1 mm in EPSG:4490), then GEOS's normal form is
    applied (:func:`shapely.normalize`): exterior rings clockwise and holes
    counter-clockwise, each ring starting at its lowest-left vertex, parts
    and holes in a fixed order. The same polygons written by a Shapefile
    writer (clockwise rings), a GeoPackage writer (counter-clockwise) or with
    rings starting at another vertex then hash the same, so a re-delivery in
    another form is recognised as unchanged. The store keeps the geometry as
    delivered (its area is the one measured at ingest).

    Parameters
    ----------
    geoms : array of shapely geometries
        EPSG:4490 (degrees).

    Returns
    -------
    numpy.ndarray
        The canonical geometries (same shapes; areas equal to 1e-9° rounding).
    """
    import shapely

    rounded = shapely.transform(
        np.asarray(geoms), lambda xy: np.round(xy, COORDINATE_DECIMALS)
    )
    return shapely.normalize(rounded)


def content_hashes(frame, *, geometries=None) -> list[str]:
    r"""Hash each polygon's content: geometry (rounded to 1e-9°) and attributes.

    The same polygon re-exported through another format (coordinates that
    differ below 0.1 mm) hashes the same. Stable across library versions:
    plain text of the values and ISO WKB, through BLAKE2b. Per polygon the
    hashed bytes are ``name=value\x1f`` for each of ``CONTENT_FIELDS`` (value
    as ``str()``, floats rounded to 6 decimals, empty when missing), UTF-8,
    then the WKB. (Missing values were once written as NUL, which pandas'
    ``astype(str)`` turned into empty text; the hashes keep that.)

    The store hashes geometries in canonical form (:func:`normalize_geometries`,
    passed as *geometries*); without *geometries* the frame's own are rounded
    here, as always.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import shapely

    if geometries is None:
        rounded = shapely.transform(
            np.asarray(frame.geometry.values),
            lambda xy: np.round(xy, COORDINATE_DECIMALS),
        )
    else:
        rounded = np.asarray(geometries)
    wkbs = shapely.to_wkb(rounded, byte_order=1, output_dimension=2, flavor="iso")
    # each field's text per row, as the text of each distinct value taken by
    # its code, and all of it joined with the WKB in Arrow (C, not a Python
    # string concatenation per field and row)
    parts = []  # large_binary: a chunk's bytes may pass 2 GiB
    for name in CONTENT_FIELDS:
        words, codes = _field_words(frame, name)
        parts.append(pa.array(words, pa.large_binary()).take(pa.array(codes)))
    parts.append(pa.array(wkbs, pa.large_binary()))
    joined = pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.large_binary()))
    blake2b = hashlib.blake2b
    return [blake2b(b, digest_size=20).hexdigest() for b in joined.to_pylist()]


def _field_words(frame, name: str) -> tuple[list[bytes], np.ndarray]:
    r"""``name=value\x1f`` (UTF-8) of each distinct value, and each row's code."""
    n = len(frame)
    if name not in frame:
        return [f"{name}=\x1f".encode()], np.zeros(n, dtype=np.int64)
    column = frame[name]
    if pd.api.types.is_float_dtype(column):
        values = column.round(6).to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
        codes, bits = pd.factorize(values.view(np.int64))  # -0.0 is not 0.0
        uniques = bits.view(np.float64).tolist()
    else:
        missing = column.isna().to_numpy()
        values = column.to_numpy(dtype=object, na_value="")
        if pd.api.types.is_object_dtype(column) and pd.api.types.infer_dtype(
            values, skipna=False
        ) not in ("string", "empty"):  # 1 and 1.0 would be one value
            codes, uniques = np.arange(n), values.tolist()
        else:
            codes, uniques = pd.factorize(values)
    words = [f"{name}={v}\x1f".encode() for v in uniques]
    words.append(f"{name}=\x1f".encode())  # missing: empty text
    codes = np.asarray(codes, dtype=np.int64)
    codes[missing] = len(words) - 1
    return words, codes


#: the first 16 bytes of every SQLite 3 database (and so of every GeoPackage)
_SQLITE_MAGIC = b"SQLite format 3\x00"
#: largest batch number SQLite can hold (signed 64-bit INTEGER)
MAX_BATCH = 2**63 - 1
_CREATE_HINT = (
    "Give the name of a new file instead (e.g. --store store.gpkg): forestsink "
    "creates its store there on the first ingest."
)


def _staging_error(err: Exception) -> StoreError:
    """Say that the temporary staging file could not be written, and what to do."""
    return StoreError(
        f"the temporary folder {tempfile.gettempdir()} could not take the "
        f"delivery's staged rows ({err}); it is probably full. Nothing was "
        "written to the store. Free space there, or point TMPDIR to a folder "
        "on a disk with room, then run the command again."
    )


def store_file_problem(path: Path) -> str | None:
    """Why the file at *path* cannot be a forestsink store, or ``None``.

    ``None`` also when nothing exists at *path* yet (a store is created
    there on the first write). Looks at the first bytes, then at the tables
    (read-only): a folder, an empty or non-SQLite file, another program's
    GeoPackage or SQLite database, and a store missing some of its tables
    are each named, with what to do.

    Parameters
    ----------
    path : Path
        The ``--store`` path.

    Returns
    -------
    str or None
        The message (file name, what it is, what to do), or ``None``.
    """
    if path.is_dir():
        return f"{path}: is a folder, not a store file. {_CREATE_HINT}"
    if not path.exists():
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as err:
        return f"{path}: cannot be read ({err.strerror}). Check its permissions."
    if not head:
        return (
            f"{path}: is an empty file (0 bytes), not a store. Delete it and "
            "run the command again: forestsink creates its store on the first "
            "ingest."
        )
    if head != _SQLITE_MAGIC:
        return (
            f"{path}: is not a forestsink store (not a GeoPackage/SQLite "
            f"database: it begins with {head[:8]!r}). {_CREATE_HINT}"
        )
    return _tables_problem(path)


def _tables_problem(path: Path) -> str | None:
    """Why the SQLite file at *path* is not a forestsink store, or ``None``."""
    # read-write when possible, as _read: a killed writer's hot journal must
    # be rolled back on open, which a read-only connection cannot do
    mode = "rw" if os.access(path, os.W_OK) else "ro"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True)
        try:
            names = {
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table','view')"
                )
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        return (
            f"{path}: is a damaged SQLite database ({err}); it cannot be "
            "opened as a store. Restore it from a backup, or "
            + _CREATE_HINT[0].lower()
            + _CREATE_HINT[1:]
        )
    ours = {LAYER, VIEW, BATCHES}
    if ours <= names:
        return None
    if names & ours:
        return (
            f"{path}: has only some of forestsink's tables (missing: "
            f"{', '.join(sorted(ours - names))}): the store is damaged. Restore "
            "it from a backup."
        )
    internal = ("gpkg_", "rtree_", "sqlite_")
    shown = ", ".join(sorted(n for n in names if not n.startswith(internal)))
    if "gpkg_contents" in names:
        return (
            f"{path}: is a GeoPackage made by another program (layers: "
            f"{shown or 'none'}), not a forestsink store; forestsink does not "
            f"add its tables to another program's file. {_CREATE_HINT}"
        )
    return (
        f"{path}: is an SQLite database of another application (tables: "
        f"{shown or 'none'}), not a forestsink store. {_CREATE_HINT}"
    )


def check_batch_number(value, /, *, what: str = "batch", minimum: int = 1) -> int:
    """*value* as a batch number (*minimum* … 2⁶³−1), or a :class:`StoreError`.

    Parameters
    ----------
    value : int or str
        A batch number as given on the command line.
    what : str, optional (default: "batch")
        What the number is called in the message (``--as-of``, ``undo``).
    """
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()):
        raise StoreError(
            f"{what} {value!r}: a batch number is a whole number, e.g. 12."
        )
    number = int(text)
    if not minimum <= number <= MAX_BATCH:
        raise StoreError(
            f"{what} {value!r}: no such batch (batch numbers start at 1); "
            "forestsink batches --store FILE lists them."
        )
    return number


def parse_as_of(value) -> tuple[str, object] | None:
    """Interpret ``--as-of``: a batch number or a date/time (UTC).

    A bare date means the end of that day (``2014-06-30`` → everything that
    landed on or before 30 June 2014).
    """
    if value is None:
        return None
    if isinstance(value, int | np.integer) or (
        isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()
    ):
        return ("batch", check_batch_number(value, what="--as-of", minimum=0))
    text = str(value).strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return ("time", f"{day.isoformat()}T23:59:59.999999Z")
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise StoreError(
            f"--as-of {value!r}: give a batch number (e.g. 12) or a date "
            "(2014-06-30) or an ISO date-time."
        ) from err
    except OverflowError as err:  # a year past 9999 in an ISO text
        raise StoreError(f"--as-of {value!r}: not a date this store can hold.") from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return ("time", moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


# --------------------------------------------------------------------------
# the store
# --------------------------------------------------------------------------


class GeoPackageStore(InventoryMixin, WithdrawMixin):
    """A versioned project store in one GeoPackage file.

    Parameters
    ----------
    path : str or Path
        The ``.gpkg`` file; created on first write.
    timeout : float, optional (default: 60)
        Seconds a writer waits for another writer before giving up.
    """

    #: write_delivery takes an iterable of chunks (bounded memory)
    accepts_chunks = True

    def __init__(self, path, /, *, timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        # the staging file of the write in progress, per thread: one store
        # object may be shared by threads (see write_delivery)
        self._writing = threading.local()
        self._file_ok = False

    # ---- connection ---------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        _register_functions(conn)
        conn.execute("PRAGMA foreign_keys = ON")
        staged = getattr(self._writing, "staged", None)
        if staged is not None:  # SQLite attaches only outside a transaction
            conn.execute("ATTACH DATABASE ? AS staged", (str(staged),))
            rows = getattr(self._writing, "rows", None)
            if rows is not None:  # staged in memory (see write_delivery)
                _fill_staged(conn, rows)
        return conn

    @property
    def exists(self) -> bool:
        """True if the store file exists and has the forestsink layout."""
        self._check_file()
        if not self.path.is_file():
            return False
        with self._read() as conn:
            names = {
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table','view')"
                )
            }
        return {LAYER, VIEW, BATCHES} <= names

    def _check_file(self) -> None:
        """Refuse a path that holds something other than a store (once per object)."""
        if getattr(self, "_file_ok", False):
            return
        problem = store_file_problem(self.path)
        if problem:
            raise StoreError(problem)
        self._file_ok = self.path.is_file()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        self._check_file()
        if not self.path.is_file():
            raise StoreError(
                f"{self.path}: no such store. Ingest a delivery first "
                "(forestsink ingest PATH --store FILE)."
            )
        # read-write when possible: a reader must be able to roll back the
        # journal a killed writer left behind (a read-only one cannot)
        mode = "rw" if os.access(self.path, os.W_OK) else "ro"
        uri = f"{self.path.resolve().as_uri()}?mode={mode}"
        conn = sqlite3.connect(uri, uri=True, timeout=self.timeout)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; waits for other writers, rolls back on error."""
        self._check_writable()
        if not self.exists:
            self._create()
        try:
            conn = self._connect()
        except sqlite3.OperationalError as err:
            raise self._write_error(err) from err
        try:
            # a large batch keeps its index pages in memory instead of spilling
            # them to the file mid-transaction (a ceiling, allocated on demand)
            conn.execute(f"PRAGMA cache_size = -{WRITE_CACHE_KIB}")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as err:
                raise self._busy(err) from err
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as err:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(err, sqlite3.OperationalError) and _is_busy(err):
                    raise self._busy(err) from err
                if isinstance(err, sqlite3.OperationalError | OSError):
                    translated = self._write_error(err)
                    if translated is not err:
                        raise translated from err
                raise
        finally:
            conn.close()

    def _check_writable(self) -> None:
        """Refuse a write the file system will not allow, before anything starts."""
        self._check_file()
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise StoreError(
                f"{self.path}: the store is read-only for this user; nothing was "
                "written. Ask for write permission, or work on a copy."
            )
        if folder.is_dir() and not os.access(folder, os.W_OK):
            raise StoreError(
                f"{self.path}: the folder {folder} is read-only for this user "
                "(SQLite keeps its journal beside the store while writing); "
                "nothing was written. Ask for write permission, or work on a copy."
            )

    def _write_error(self, err: Exception) -> Exception:
        """Turn a full disk or a read-only file into a clear :class:`StoreError`."""
        name = getattr(err, "sqlite_errorname", "")
        code = getattr(err, "errno", None)
        if name == "SQLITE_FULL" or code in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            return StoreError(
                f"{self.path}: the disk is full ({err}). Nothing was written: "
                "the batch was rolled back and the store is as it was. Free "
                "space on the disk of the store and of the temporary folder "
                f"({tempfile.gettempdir()}; TMPDIR chooses another), then run "
                "the command again."
            )
        if name.startswith("SQLITE_IOERR"):
            return StoreError(
                f"{self.path}: the disk reported an error while writing ({err}; "
                "often a full disk). Nothing was written: the batch was rolled "
                "back. Check free space and the disk, then run the command again."
            )
        if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
            return StoreError(
                f"{self.path}: the store cannot be written ({err}); nothing was "
                "written. Check that the file and its folder are writable."
            )
        return err

    def _busy(self, err: Exception) -> Exception:
        if not _is_busy(err):
            return err
        return StoreBusyError(
            f"{self.path}: another process is writing to this store (or holding "
            "it open) "
            f"(waited {self.timeout:g} s). Nothing was written; try again when "
            "it has finished."
        )

    def _create(self) -> None:
        """Create an empty store (GDAL writes the GeoPackage scaffolding)."""
        import geopandas as gpd
        import pyogrio

        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(
            f".creating-{os.getpid()}-{threading.get_ident()}-{self.path.name}"
        )
        tmp.unlink(missing_ok=True)
        dtypes = {"TEXT": "string", "INTEGER": "Int64", "REAL": "float64"}
        empty = gpd.GeoDataFrame(
            {
                name: pd.Series([], dtype=dtypes[t])
                for name, t in VERSION_FIELDS.items()
            },
            geometry=gpd.GeoSeries([], crs=SRS_ID),
        )
        pyogrio.write_dataframe(
            empty,
            tmp,
            driver="GPKG",
            layer=LAYER,
            geometry_type="MultiPolygon",
            layer_options={"FID": "fid", "GEOMETRY_NAME": "geom"},
        )
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.executescript(_SCHEMA_SQL)
            finally:
                conn.close()
            try:  # atomic, and refuses to replace a store another process made
                os.link(tmp, self.path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)

    # ---- reads ----------------------------------------------------------------
    def batches(self) -> pd.DataFrame:
        """All batches, oldest first."""
        with self._read() as conn:
            return pd.read_sql_query(f"SELECT * FROM {BATCHES} ORDER BY batch_id", conn)

    def _frame(self, sql: str, params=()):
        import geopandas as gpd

        with self._read() as conn:
            df = pd.read_sql_query(sql, conn, params=params)
        blobs = df.pop("geom")
        geoms = from_gpkg_blobs(blobs) if len(df) else []
        return gpd.GeoDataFrame(df, geometry=list(geoms), crs=SRS_ID)

    def current(self, *, as_of=None):
        """Polygons valid now, or as of a batch number or date (UTC).

        Returns
        -------
        geopandas.GeoDataFrame
            One row per live key, EPSG:4490.
        """
        spec = parse_as_of(as_of)
        if spec is None:
            where, params = "ended_batch IS NULL", ()
        elif spec[0] == "batch":
            where = "batch_id <= ? AND (ended_batch IS NULL OR ended_batch > ?)"
            params = (spec[1], spec[1])
        else:
            where = "valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
            params = (spec[1], spec[1])
        return self._frame(f"SELECT * FROM {LAYER} WHERE {where} ORDER BY key", params)

    def history(self, key: str):
        """Every version of one polygon, oldest first, with batch details."""
        frame = self._frame(
            f"SELECT v.*, b.kind AS batch_kind, b.user AS batch_user, "
            f"b.source_name AS batch_source FROM {LAYER} v "
            f"JOIN {BATCHES} b ON b.batch_id = v.batch_id WHERE v.key = ? "
            "ORDER BY v.version",
            (key,),
        )
        if frame.empty:
            raise StoreError(
                f"{self.path}: no polygon with key {key!r}. Keys are "
                "<adcode>/<project id>, e.g. 500101/WZ-2013-001."
            )
        return frame

    def diff(self, a, b) -> pd.DataFrame:
        """Return what changed between two states (batch numbers or dates).

        Returns
        -------
        pandas.DataFrame
            ``key``, ``change`` (added / changed / withdrawn), ``project_type``,
            ``version_from``, ``version_to``, ``area_mu_from``, ``area_mu_to``.
        """
        from forestsink.store.base import diff_states

        return diff_states(self.current(as_of=a), self.current(as_of=b))

    def integrity_check(self) -> str:
        """SQLite ``PRAGMA integrity_check`` result (``'ok'`` when healthy)."""
        with self._read() as conn:
            return conn.execute("PRAGMA integrity_check").fetchone()[0]

    def find_batch_by_sha(self, sha256: str) -> int | None:
        """Return the live ingest batch that loaded a file with this hash."""
        if not self.exists:
            return None
        with self._read() as conn:
            return _batch_by_sha(conn, sha256)

    # ---- writes ---------------------------------------------------------------
    def _new_batch(
        self,
        conn,
        *,
        kind,
        source_name=None,
        source_sha256=None,
        note=None,
        user=None,
        now=None,
        undoes=None,
    ) -> tuple[int, str]:
        if now is not None:  # normalise a caller's time to the stored format
            spec = parse_as_of(now)
            now = spec[1] if spec and spec[0] == "time" else utc_now()
        now = now or utc_now()
        last = conn.execute(f"SELECT MAX(created_at) FROM {BATCHES}").fetchone()[0]
        if last is not None and now <= last:  # keep time strictly increasing
            now = (
                dt.datetime.fromisoformat(last.replace("Z", "+00:00"))
                + dt.timedelta(microseconds=1)
            ).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        cur = conn.execute(
            f"INSERT INTO {BATCHES} (kind, created_at, user, source_name, "
            "source_sha256, note, undoes) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (kind, now, user or _user(), source_name, source_sha256, note, undoes),
        )
        return int(cur.lastrowid), now

    def write_delivery(
        self,
        frame,
        *,
        source_name: str,
        source_sha256: str,
        note: str | None = None,
        user: str | None = None,
        now: str | None = None,
    ) -> dict:
        """Write one validated delivery as one batch (all or nothing).

        Parameters
        ----------
        frame : geopandas.GeoDataFrame or iterable of them
            Validated canonical frame (EPSG:4490) with ``key``, ``adcode``,
            ``project_id``, ``area_mu`` and the content fields — or the chunks
            of a large delivery, staged one by one (memory stays bounded by
            the chunk) and landed in one transaction; or such rows made
            ready beforehand (:class:`StagedRows`), or a :class:`Stager`.

        Returns
        -------
        dict
            ``batch_id`` (None when nothing changed), counts ``added``,
            ``changed``, ``unchanged``.
        """
        batch = {
            "source_name": source_name,
            "source_sha256": source_sha256,
            "note": note,
            "user": user,
            "now": now,
        }
        if isinstance(frame, pd.DataFrame) and 0 < len(frame) <= SMALL_BATCH:
            frame = StagedRows.of(frame)
        if isinstance(frame, StagedRows) and len(frame) > SMALL_BATCH:
            frame = [frame]  # staged in a file, below
        elif isinstance(frame, StagedRows) and not frame:
            frame = []  # nothing to stage: no change, no batch
        elif isinstance(frame, StagedRows):
            # a small delivery is staged in memory, inside the connection
            # that lands it (no staging file, thread or driver to start)
            return self._land_staged(":memory:", frame.table, frame.bounds, batch)
        try:
            stager = frame if isinstance(frame, Stager) else Stager()
        except OSError as err:
            raise _staging_error(err) from err
        try:  # the staging file goes whatever happens
            try:
                if stager is not frame:
                    for chunk in [frame] if isinstance(frame, pd.DataFrame) else frame:
                        if isinstance(chunk, StagedRows):
                            stager.add_table(chunk.table, chunk.bounds)
                        else:
                            stager.add(chunk, wait=True)
                bounds = stager.finish()
            except (OSError, adbc_driver_manager.Error) as err:
                raise _staging_error(err) from err
            staged = stager.path if len(bounds) else None
            return self._land_staged(staged, None, bounds, batch)
        finally:
            stager.close()

    def _land_staged(self, staged, rows, bounds, batch: dict) -> dict:
        """Land staged rows as one batch (see :meth:`_connect`).

        *staged* is the staging file, or ``":memory:"`` (filled from *rows*),
        or None when nothing was staged.
        """
        self._writing.staged, self._writing.rows = staged, rows
        try:
            return self._write_staged(bounds, **batch)
        finally:
            self._writing.staged = self._writing.rows = None

    def stager(self, folder=None) -> Stager:
        """Return a :class:`Stager` whose rows :meth:`write_delivery` lands."""
        return Stager(folder)

    def _write_staged(
        self, bounds, *, source_name, source_sha256, note, user, now
    ) -> dict:
        """Land the staged rows (``staged.versions``) as one batch, in SQL.

        The staged file was written before the store was locked (by ADBC, in
        C); inside the transaction the new state is decided against the live
        one and copied with ``INSERT … SELECT``, so the write lock is held for
        the copy only, and the decision sees every earlier writer's batch.
        """
        with self.transaction() as conn:
            return self._land_incoming(
                conn,
                bounds,
                source_name=source_name,
                source_sha256=source_sha256,
                note=note,
                user=user,
                now=now,
            )

    def write_deliveries(self, deliveries: list[dict]) -> list[dict]:
        """Write several small deliveries, each its own batch, in one transaction.

        Each item holds ``rows`` (:class:`StagedRows` of at most
        ``SMALL_BATCH`` rows) and the keywords of :meth:`write_delivery`
        (``source_name``, ``source_sha256``, ``note``, ``user``). Every batch
        is all or nothing, as with :meth:`write_delivery` (a savepoint each);
        they are committed together, with one disk sync instead of one each
        (a county's file of forty features landed in ~20 ms, half of it the
        sync). A file already loaded (same SHA-256, not undone) is not
        written again. If one fails, the ones before it are committed and
        its error is raised; nothing of it or after it is written (unless
        SQLite itself abandoned the transaction — disk full, I/O error —
        when none of them is).

        Returns
        -------
        list of dict
            Per item: ``identical_to`` (the batch that loaded the same file,
            else None) and the counts :meth:`write_delivery` returns.
        """
        if any(len(item["rows"]) > SMALL_BATCH for item in deliveries):
            raise ValueError(
                f"write_deliveries takes deliveries of at most {SMALL_BATCH} "
                "rows; write larger ones with write_delivery"
            )
        results: list[dict] = []
        failed = None
        self._writing.staged, self._writing.rows = ":memory:", None
        try:
            with self.transaction() as conn:
                for item in deliveries:
                    conn.execute("SAVEPOINT delivery")
                    try:
                        result = self._write_one(conn, item["rows"], item)
                    except BaseException as err:
                        if not conn.in_transaction:
                            # SQLite rolled the whole transaction back itself
                            # (disk full, I/O error): nothing of it is kept
                            raise
                        conn.execute("ROLLBACK TO delivery")
                        conn.execute("RELEASE delivery")
                        failed = err
                        break
                    conn.execute("RELEASE delivery")
                    results.append(result)
        finally:
            self._writing.staged = None
        if failed is not None:
            raise failed
        return results

    def _write_one(self, conn, rows, item: dict) -> dict:
        """One delivery of :meth:`write_deliveries`, inside its transaction."""
        previous = _batch_by_sha(conn, item["source_sha256"])
        if previous is not None:
            return {"identical_to": previous, **_NO_CHANGE}
        if not len(rows):
            return {"identical_to": None, **_NO_CHANGE}
        _fill_staged(conn, rows.table)
        batch = {k: item.get(k) for k in _BATCH_FIELDS}
        try:
            counts = self._land_incoming(conn, rows.bounds, **batch)
        finally:
            conn.execute(f"DROP TABLE IF EXISTS staged.{_STAGED}")
        return {"identical_to": None, **counts}

    def _land_incoming(
        self, conn, bounds, *, source_name, source_sha256, note, user, now
    ) -> dict:
        """Land ``staged.versions`` as one batch, in the open transaction."""
        counts = dict(_NO_CHANGE)
        if not len(bounds):
            return counts
        staged = conn.execute(
            f"SELECT COUNT(*), MAX(fid) FROM staged.{_STAGED}"
        ).fetchone()
        if staged != (len(bounds), len(bounds)):  # pragma: no cover - fids from 1
            raise StoreError(
                f"staging file holds {staged[0]} rows (fid up to {staged[1]}), "
                f"expected {len(bounds)} numbered from 1; nothing was written."
            )
        conn.execute(
            "CREATE TEMP TABLE incoming AS SELECT s.fid AS sfid, s.key AS key, "
            "s.content_hash = v.content_hash AS same, v.fid IS NOT NULL AS live, "
            f"(SELECT MAX(version) FROM {LAYER} m WHERE m.key = s.key) AS last "
            f"FROM staged.{_STAGED} s LEFT JOIN {LAYER} v "
            "ON v.key = s.key AND v.ended_batch IS NULL"
        )
        try:
            return self._land(
                conn, counts, bounds, source_name, source_sha256, note, user, now
            )
        finally:
            conn.execute("DROP TABLE IF EXISTS temp.incoming")

    def _land(
        self, conn, counts, bounds, source_name, source_sha256, note, user, now
    ) -> dict:
        unchanged, changed, added = conn.execute(
            "SELECT COALESCE(SUM(live AND same), 0), "
            "COALESCE(SUM(live AND NOT same), 0), COALESCE(SUM(NOT live), 0) "
            "FROM incoming"
        ).fetchone()
        counts.update(added=added, changed=changed, unchanged=unchanged)
        if not added + changed:
            return counts  # nothing changed: the transaction wrote nothing
        batch_id, now = self._new_batch(
            conn,
            kind="ingest",
            source_name=source_name,
            source_sha256=source_sha256,
            note=note,
            user=user,
            now=now,
        )
        conn.execute(
            f"UPDATE {LAYER} SET ended_batch = ?, valid_to = ?, "
            "end_reason = 'superseded' WHERE ended_batch IS NULL AND key IN "
            "(SELECT key FROM incoming WHERE live AND NOT same)",
            (batch_id, now),
        )
        sfids = np.arange(1, len(bounds) + 1)  # the staged rows that land
        if unchanged:
            sql = "SELECT sfid FROM incoming WHERE NOT (live AND same) ORDER BY sfid"
            sfids = np.fromiter((r[0] for r in conn.execute(sql)), dtype=np.int64)
        first = conn.execute(f"SELECT COALESCE(MAX(fid), 0) FROM {LAYER}").fetchone()[0]
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND name IN (?, ?)",
            (_RTREE_TRIGGER, _COUNT_TRIGGER),
        ).fetchall()
        for name, _ in triggers:  # see _RTREE_TRIGGER
            conn.execute(f'DROP TRIGGER "{name}"')
        # new fids follow the last one without gaps; when every staged row is
        # new, that is simply its staged fid (no window function to sort by)
        fid = "? + s.fid" if not unchanged else "? + ROW_NUMBER() OVER (ORDER BY s.fid)"
        cols = ", ".join(_STAGED_FIELDS)
        picked = ", ".join(f"s.{c}" for c in _STAGED_FIELDS)
        conn.execute(
            f"INSERT INTO {LAYER} (fid, geom, {cols}, version, batch_id, valid_from) "
            f"SELECT {fid}, s.geom, {picked}, "
            "COALESCE(i.last, 0) + 1, ?, ? "
            f"FROM staged.{_STAGED} s JOIN incoming i ON i.sfid = s.fid "
            "WHERE NOT (i.live AND i.same) ORDER BY s.fid",
            (first, batch_id, now),
        )
        conn.execute(
            "UPDATE gpkg_ogr_contents SET feature_count = "
            f"(SELECT COUNT(*) FROM {LAYER}) WHERE lower(table_name) = lower(?)",
            (LAYER,),
        )
        for _, sql in triggers:
            conn.execute(sql)
        _index_versions(conn, first + 1 + np.arange(len(sfids)), bounds[sfids - 1])
        conn.execute(
            f"UPDATE {BATCHES} SET n_added = ?, n_changed = ?, n_unchanged = ? "
            "WHERE batch_id = ?",
            (added, changed, unchanged, batch_id),
        )
        counts["batch_id"] = batch_id
        _touch_contents(conn, now, bounds[sfids - 1])
        return counts

    def withdraw_many(
        self,
        items: list[tuple[str, str]],
        *,
        source_name: str,
        user: str | None = None,
        now: str | None = None,
    ) -> int:
        """Withdraw several polygons in one batch (all or none).

        Parameters
        ----------
        items : list of (key, reason)
        source_name : str
            What the batch records as its source (a key or a file name).
        """
        from forestsink.store.base import check_withdrawals

        check_withdrawals(items, where=str(self.path))
        with self.transaction() as conn:
            fids = []
            for key, _ in items:
                row = conn.execute(
                    f"SELECT fid FROM {LAYER} WHERE key = ? AND ended_batch IS NULL",
                    (key,),
                ).fetchone()
                if row is None:
                    known = conn.execute(
                        f"SELECT COUNT(*) FROM {LAYER} WHERE key = ?", (key,)
                    ).fetchone()[0]
                    state = "is already withdrawn" if known else "does not exist"
                    raise StoreError(
                        f"{self.path}: polygon {key!r} {state}; nothing "
                        "withdrawn. See `forestsink history KEY`."
                    )
                fids.append(row[0])
            note = "; ".join(f"{k}: {str(r).strip()}" for k, r in items)
            batch_id, now = self._new_batch(
                conn,
                kind="withdraw",
                source_name=source_name,
                note=note,
                user=user,
                now=now,
            )
            conn.executemany(
                f"UPDATE {LAYER} SET ended_batch = ?, valid_to = ?, end_reason = ? "
                "WHERE fid = ?",
                [
                    (batch_id, now, f"withdrawn: {str(r).strip()}", fid)
                    for fid, (_, r) in zip(fids, items, strict=True)
                ],
            )
            conn.execute(
                f"UPDATE {BATCHES} SET n_withdrawn = ? WHERE batch_id = ?",
                (len(items), batch_id),
            )
            _touch_contents(conn, now)
        return batch_id

    def undo(
        self, batch_id: int, *, user: str | None = None, now: str | None = None
    ) -> int:
        """Undo a whole batch as a new batch; history is kept.

        Versions the batch created are ended; versions it ended are restored
        as new versions. Refused if a later batch changed the same polygons.
        """
        batch_id = check_batch_number(batch_id, what="undo")
        with self.transaction() as conn:
            batch = conn.execute(
                f"SELECT kind, undone_by FROM {BATCHES} WHERE batch_id = ?",
                (batch_id,),
            ).fetchone()
            if batch is None:
                raise StoreError(f"{self.path}: no batch {batch_id}.")
            if batch[1] is not None:
                raise StoreError(
                    f"batch {batch_id} was already undone by batch {batch[1]}."
                )
            created = conn.execute(
                f"SELECT fid, key, ended_batch FROM {LAYER} WHERE batch_id = ?",
                (batch_id,),
            ).fetchall()
            ended = conn.execute(
                f"SELECT fid, key FROM {LAYER} WHERE ended_batch = ?", (batch_id,)
            ).fetchall()
            live = {  # live versions some other (later) batch made
                r[0]
                for r in conn.execute(
                    f"SELECT key FROM {LAYER} WHERE ended_batch IS NULL "
                    "AND batch_id != ?",
                    (batch_id,),
                )
            }
            later = [k for _, k, e in created if e is not None]
            later += [k for _, k in ended if k in live]  # brought back later
            if later:
                raise StoreError(
                    f"batch {batch_id} cannot be undone: polygon(s) {later[:5]} were "
                    "changed by later batches; undo those first (newest first)."
                )
            layers = self._inventory_undo_plan(conn, batch_id)  # may refuse
            new_id, now = self._new_batch(
                conn,
                kind="undo",
                source_name=f"batch {batch_id}",
                note=f"undo of batch {batch_id}",
                user=user,
                now=now,
                undoes=batch_id,
            )
            for fid, _key, _ in created:
                conn.execute(
                    f"UPDATE {LAYER} SET ended_batch = ?, valid_to = ?, end_reason = ? "
                    "WHERE fid = ?",
                    (new_id, now, f"undo of batch {batch_id}", fid),
                )
            restored = 0
            for fid, key in ended:
                versions = conn.execute(
                    f"SELECT MAX(version) FROM {LAYER} WHERE key = ?", (key,)
                ).fetchone()[0]
                cols = [
                    c
                    for c in VERSION_FIELDS
                    if c not in ("version", "batch_id", "valid_from", *MUTABLE_FIELDS)
                ]
                conn.execute(
                    f"INSERT INTO {LAYER} (geom, {', '.join(cols)}, version, batch_id, "
                    f"valid_from) SELECT geom, {', '.join(cols)}, ?, ?, ? FROM {LAYER} "
                    "WHERE fid = ?",
                    (versions + 1, new_id, now, fid),
                )
                restored += 1
            xiaoban_restored, xiaoban_ended = self._inventory_undo_apply(
                conn, layers, new_id=new_id, now=now, batch_id=batch_id
            )
            conn.execute(
                f"UPDATE {BATCHES} SET undone_by = ?, undone_at = ? WHERE batch_id = ?",
                (new_id, now, batch_id),
            )
            conn.execute(
                f"UPDATE {BATCHES} SET n_added = ?, n_withdrawn = ? WHERE batch_id = ?",
                (restored + xiaoban_restored, len(created) + xiaoban_ended, new_id),
            )
            _touch_contents(conn, now)
        return new_id


def _is_busy(err: Exception) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def _clean(value):
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def shapely_bounds(frame) -> np.ndarray:
    """Bounds (minx, miny, maxx, maxy) of each geometry of *frame*."""
    import shapely

    return shapely.bounds(np.asarray(frame.geometry.values))


def _column(frame, name) -> list:
    if name not in frame:
        return [None] * len(frame)
    column = frame[name]
    values = column.to_numpy(dtype=object, na_value=None).tolist()
    if pd.api.types.is_object_dtype(column):  # may hold numpy scalars
        return [v.item() if isinstance(v, np.generic) else v for v in values]
    return values


#: GDAL's triggers that keep the R-tree and the feature count: while a batch
#: lands they are dropped (the R-tree insert trigger would call a Python
#: function five times per row to read each envelope) and restored before it
#: commits, so other programs that write to the file keep them
_RTREE_TRIGGER = f"rtree_{LAYER}_geom_insert"
_COUNT_TRIGGER = f"trigger_insert_feature_count_{LAYER}"

#: fields a delivery brings (the rest is set when the batch lands)
_STAGED_FIELDS = tuple(
    c
    for c in VERSION_FIELDS
    if c not in ("version", "batch_id", "valid_from", *MUTABLE_FIELDS)
)
_STAGED = "versions"
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
        import tempfile
        from concurrent.futures import ThreadPoolExecutor

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
        import shutil

        self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def _stage(chunk, path: Path, *, append: bool) -> np.ndarray:
    """Write validated rows to the staging file; return their bounds."""
    table, bounds = staging_table(chunk)
    _write_staged(table, path, append=append)
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
    fields = ", ".join(f"{c} {VERSION_FIELDS[c]}" for c in _STAGED_FIELDS)
    return f"(fid INTEGER PRIMARY KEY, geom BLOB, {fields})"


def _fill_staged(conn, table) -> None:
    """Stage rows (:func:`staging_table`) in the attached ``staged`` database."""
    names = table.column_names
    conn.execute(f"CREATE TABLE staged.{_STAGED} {_staged_schema()}")
    conn.executemany(
        f"INSERT INTO staged.{_STAGED} ({', '.join(names)}) "
        f"VALUES ({', '.join('?' * len(names))})",
        zip(*(table.column(c).to_pylist() for c in names), strict=True),
    )


def _write_ready(table, path: Path, *, append: bool, bounds) -> np.ndarray:
    _write_staged(table, path, append=append)
    return bounds


def staging_table(chunk):
    """Return validated rows' store columns, ready to stage, and their bounds.

    Pure computation (no file): an Arrow table with the store's column types,
    each row's content hash (:func:`content_hashes`) and its ready GeoPackage
    geometry blob (:func:`to_gpkg_blobs`) in ``geom``; and the bounds of
    every row (``minx, miny, maxx, maxy``, EPSG:4490), for the spatial index.
    """
    import pyarrow as pa

    types = {"TEXT": pa.string(), "INTEGER": pa.int64(), "REAL": pa.float64()}
    columns = {}
    for name in _STAGED_FIELDS:
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


def _write_staged(table, path: Path, *, append: bool) -> None:
    """Append rows (:func:`staging_table`) to the staging file.

    A plain SQLite table (``fid INTEGER PRIMARY KEY``, then the store's
    columns and types) filled from Arrow by the ADBC SQLite driver, in C and
    without holding Python's GIL (GDAL's Arrow writer holds it, so checking
    the next chunk had to wait); ``fid`` 1, 2, … across appended chunks.
    """
    import adbc_driver_sqlite.dbapi

    if not append:
        conn = sqlite3.connect(path)
        try:
            conn.execute(f"CREATE TABLE {_STAGED} {_staged_schema()}")
            conn.commit()
        finally:
            conn.close()
    with adbc_driver_sqlite.dbapi.connect(str(path)) as conn:
        with conn.cursor() as cursor:
            cursor.adbc_ingest(_STAGED, table, mode="append")
        conn.commit()


#: rebuild the whole R-tree when the new rows are at least this share of it
RTREE_REBUILD_SHARE = 0.2


def _index_versions(
    conn, fids: np.ndarray, bounds: np.ndarray, *, rtree: str = f"rtree_{LAYER}_geom"
) -> None:
    """Add new versions to the spatial index (the GeoPackage R-tree *rtree*).

    Few new rows next to many old ones go in one by one; otherwise the whole
    tree is packed again from the old entries and the new ones
    (:func:`forestsink.store.rtree.write_rtree`), several times faster.
    Both happen inside the batch's transaction.
    """
    from forestsink.store.rtree import write_rtree

    old = conn.execute(f'SELECT COUNT(*) FROM "{rtree}_rowid"').fetchone()[0]
    block = 100_000  # rows turned into Python objects at a time
    if len(fids) < RTREE_REBUILD_SHARE * (old + len(fids)):
        for at in range(0, len(fids), block):
            conn.executemany(
                f"INSERT INTO {rtree} VALUES (?, ?, ?, ?, ?)",
                zip(
                    fids[at : at + block].tolist(),
                    *bounds[at : at + block][:, [0, 2, 1, 3]].T.tolist(),
                    strict=True,
                ),
            )
        return
    if old:
        cursor = conn.execute(f"SELECT id, minx, miny, maxx, maxy FROM {rtree}")
        kept = [np.empty((0, 5))]
        while rows := cursor.fetchmany(block):
            kept.append(np.array(rows, dtype=np.float64))
        kept = np.concatenate(kept)
        fids = np.concatenate([kept[:, 0].astype(np.int64), fids])
        bounds = np.concatenate([kept[:, 1:], bounds])
    write_rtree(conn, rtree, fids, bounds)


def _touch_contents(conn, now: str, new_bounds: np.ndarray | None = None) -> None:
    """Record the change time, and the layer's extent when rows were added.

    Versions are never deleted and withdrawals and undos add no new shapes,
    so the extent only grows, by the *new_bounds* of an ingest (``minx,
    miny, maxx, maxy``): their union with the recorded extent; scanned from
    the spatial index when none was recorded (stores from GDAL start so).
    """
    conn.execute(
        "UPDATE gpkg_contents SET last_change = ? WHERE table_name IN (?, ?, ?)",
        (now, LAYER, VIEW, BATCHES),
    )
    if new_bounds is None or not len(new_bounds):
        return
    row = conn.execute(
        "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?",
        (LAYER,),
    ).fetchone()
    recorded = row is not None and None not in row
    old_rows = conn.execute(
        f"SELECT COUNT(*) > {len(new_bounds)} FROM rtree_{LAYER}_geom_rowid"
    ).fetchone()[0]
    if old_rows and not recorded:
        row = conn.execute(
            f"SELECT MIN(minx), MIN(miny), MAX(maxx), MAX(maxy) FROM rtree_{LAYER}_geom"
        ).fetchone()
    elif old_rows:
        both = np.vstack([new_bounds, np.asarray(row, dtype=np.float64)])
        row = (*both[:, :2].min(axis=0), *both[:, 2:].max(axis=0))
    else:
        row = (*new_bounds[:, :2].min(axis=0), *new_bounds[:, 2:].max(axis=0))
    conn.execute(
        "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? "
        "WHERE table_name IN (?, ?)",
        (*(float(v) for v in row), LAYER, VIEW),
    )


_PROTECT = " AND ".join(
    f'OLD."{c}" IS NEW."{c}"'
    for c in ("geom", *VERSION_FIELDS)
    if c not in MUTABLE_FIELDS
)

# Indexes: (key, version) serves history and the live-version lookups (a
# key has few versions); an index on (ended_batch, key) made no query faster
# and doubled the cost of inserting a batch's keys, so stores no longer get
# one (stores made before keep theirs, harmlessly).
_SCHEMA_SQL = f"""
CREATE TABLE {BATCHES} (
    batch_id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('ingest', 'withdraw', 'undo', 'inventory')),
    created_at TEXT NOT NULL,
    user TEXT,
    source_name TEXT,
    source_sha256 TEXT,
    n_added INTEGER DEFAULT 0,
    n_changed INTEGER DEFAULT 0,
    n_unchanged INTEGER DEFAULT 0,
    n_withdrawn INTEGER DEFAULT 0,
    note TEXT,
    undoes INTEGER REFERENCES {BATCHES}(batch_id),
    undone_by INTEGER REFERENCES {BATCHES}(batch_id),
    undone_at TEXT
);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
VALUES ('{BATCHES}', 'attributes', '{BATCHES}',
        'forestsink: one row per ingest, withdrawal or undo');
CREATE INDEX idx_versions_key ON {LAYER}(key, version);
CREATE INDEX idx_versions_batch ON {LAYER}(batch_id);
CREATE INDEX idx_versions_valid ON {LAYER}(valid_from, valid_to);
CREATE VIEW {VIEW} AS SELECT * FROM {LAYER} WHERE ended_batch IS NULL;
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
VALUES ('{VIEW}', 'features', '{VIEW}',
        'forestsink: latest version of every polygon that is not withdrawn', {SRS_ID});
INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name,
                                   srs_id, z, m)
VALUES ('{VIEW}', 'geom', 'MULTIPOLYGON', {SRS_ID}, 0, 0);
CREATE TRIGGER forestsink_no_delete BEFORE DELETE ON {LAYER}
BEGIN SELECT RAISE(ABORT, 'forestsink store: versions are never deleted'); END;
CREATE TRIGGER forestsink_no_overwrite BEFORE UPDATE ON {LAYER}
WHEN NOT ({_PROTECT}) OR (OLD.ended_batch IS NOT NULL)
BEGIN SELECT RAISE(ABORT, 'forestsink store: versions are never overwritten'); END;
CREATE TRIGGER forestsink_batches_no_delete BEFORE DELETE ON {BATCHES}
BEGIN SELECT RAISE(ABORT, 'forestsink store: batches are never deleted'); END;
"""
