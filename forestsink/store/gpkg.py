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

The module holds the store class; its parts live beside it: the schema SQL
(:mod:`.gpkg_schema`), the blob codec (:mod:`.gpkg_codec`), the staging of
rows (:mod:`.gpkg_staging`), the checks of a file at the store's path
(:mod:`.gpkg_file`), the R-tree writer (:mod:`.rtree`) and what both back
ends share (:mod:`.common`). Their public names are importable from here too.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import adbc_driver_manager
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from forestsink.errors import StoreBusyError, StoreError
from forestsink.store.common import (
    BATCHES,
    CONTENT_FIELDS,
    COORDINATE_DECIMALS,
    LAYER,
    MAX_BATCH,
    MUTABLE_FIELDS,
    SRS_ID,
    VERSION_FIELDS,
    VIEW,
    WithdrawMixin,
    check_batch_number,
    check_withdrawals,
    content_hashes,
    current_user,
    diff_states,
    normalize_geometries,
    parse_as_of,
    shapely_bounds,
    staging_error,
    undo_note,
    utc_now,
)
from forestsink.store.gpkg_codec import (
    from_gpkg_blobs,
    register_functions,
    to_gpkg_blobs,
)
from forestsink.store.gpkg_file import store_file_problem
from forestsink.store.gpkg_schema import SCHEMA_SQL, touch_contents
from forestsink.store.gpkg_staging import (
    SMALL_BATCH,
    STAGED_FIELDS,
    STAGED_TABLE,
    StagedRows,
    Stager,
    fill_staged,
    staging_table,
)
from forestsink.store.inventory import InventoryMixin
from forestsink.store.rtree import (
    RTREE_MEETS,
    RTREE_REBUILD_SHARE,
    index_rtree,
    rtree_meets_params,
)

__all__ = [
    "BATCHES",
    "CONTENT_FIELDS",
    "COORDINATE_DECIMALS",
    "LAYER",
    "MAX_BATCH",
    "MUTABLE_FIELDS",
    "RTREE_REBUILD_SHARE",
    "SMALL_BATCH",
    "SRS_ID",
    "VERSION_FIELDS",
    "VIEW",
    "WRITE_CACHE_KIB",
    "GeoPackageStore",
    "StagedRows",
    "Stager",
    "StoreBusyError",
    "StoreError",
    "check_batch_number",
    "content_hashes",
    "from_gpkg_blobs",
    "normalize_geometries",
    "parse_as_of",
    "shapely_bounds",
    "staging_table",
    "store_file_problem",
    "to_gpkg_blobs",
    "utc_now",
]

#: SQLite page cache of a write transaction (KiB)
WRITE_CACHE_KIB = 131_072
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


#: GDAL's triggers that keep the R-tree and the feature count: while a batch
#: lands they are dropped (the R-tree insert trigger would call a Python
#: function five times per row to read each envelope) and restored before it
#: commits, so other programs that write to the file keep them
_RTREE_TRIGGER = f"rtree_{LAYER}_geom_insert"
_COUNT_TRIGGER = f"trigger_insert_feature_count_{LAYER}"


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
    #: current() takes bounds (read by the R-tree)
    reads_near = True

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
        register_functions(conn)
        conn.execute("PRAGMA foreign_keys = ON")
        staged = getattr(self._writing, "staged", None)
        if staged is not None:  # SQLite attaches only outside a transaction
            conn.execute("ATTACH DATABASE ? AS staged", (str(staged),))
            rows = getattr(self._writing, "rows", None)
            if rows is not None:  # staged in memory (see write_delivery)
                fill_staged(conn, rows)
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
                f"{self.path}: no such store. Ingest a delivery into it first "
                "(`forestsink ingest`, or ingest_deliveries).",
                option="store",
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
                conn.executescript(SCHEMA_SQL)
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
        with self._read() as conn:
            df = pd.read_sql_query(sql, conn, params=params)
        blobs = df.pop("geom")
        geoms = from_gpkg_blobs(blobs) if len(df) else []
        return gpd.GeoDataFrame(df, geometry=list(geoms), crs=SRS_ID)

    def current(self, *, as_of=None, bounds=None):
        """Polygons valid now, or as of a batch number or date (UTC).

        *bounds* (``minx, miny, maxx, maxy``, EPSG:4490): only those whose
        bounding box meets it, found by the R-tree (see ``Store.current``).

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
        if bounds is not None:
            where += f" AND fid IN ({RTREE_MEETS})"
            params += rtree_meets_params(bounds)
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
            (
                kind,
                now,
                user or current_user(),
                source_name,
                source_sha256,
                note,
                undoes,
            ),
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
            raise staging_error(err) from err
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
                raise staging_error(err) from err
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
        fill_staged(conn, rows.table)
        batch = {k: item.get(k) for k in _BATCH_FIELDS}
        try:
            counts = self._land_incoming(conn, rows.bounds, **batch)
        finally:
            conn.execute(f"DROP TABLE IF EXISTS staged.{STAGED_TABLE}")
        return {"identical_to": None, **counts}

    def _land_incoming(
        self, conn, bounds, *, source_name, source_sha256, note, user, now
    ) -> dict:
        """Land ``staged.versions`` as one batch, in the open transaction."""
        counts = dict(_NO_CHANGE)
        if not len(bounds):
            return counts
        staged = conn.execute(
            f"SELECT COUNT(*), MAX(fid) FROM staged.{STAGED_TABLE}"
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
            f"FROM staged.{STAGED_TABLE} s LEFT JOIN {LAYER} v "
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
        cols = ", ".join(STAGED_FIELDS)
        picked = ", ".join(f"s.{c}" for c in STAGED_FIELDS)
        conn.execute(
            f"INSERT INTO {LAYER} (fid, geom, {cols}, version, batch_id, valid_from) "
            f"SELECT {fid}, s.geom, {picked}, "
            "COALESCE(i.last, 0) + 1, ?, ? "
            f"FROM staged.{STAGED_TABLE} s JOIN incoming i ON i.sfid = s.fid "
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
        index_rtree(conn, first + 1 + np.arange(len(sfids)), bounds[sfids - 1])
        conn.execute(
            f"UPDATE {BATCHES} SET n_added = ?, n_changed = ?, n_unchanged = ? "
            "WHERE batch_id = ?",
            (added, changed, unchanged, batch_id),
        )
        counts["batch_id"] = batch_id
        touch_contents(conn, now, bounds[sfids - 1])
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
            touch_contents(conn, now)
        return batch_id

    def undo(self, batch_id: int, *, user=None, reason=None, now=None) -> int:
        """Undo a whole batch as a new batch (see ``Store.undo``); history is kept.

        *reason* is appended to the note. Refused if a later batch changed
        the same polygons.
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
                note=undo_note(batch_id, reason),
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
            touch_contents(conn, now)
        return new_id


def _is_busy(err: Exception) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text
