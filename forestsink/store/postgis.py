"""The versioned project store in PostgreSQL/PostGIS (``--store postgresql://…``).

The same store as :mod:`forestsink.store.gpkg`, for a province or a national
office: many users ingesting at once, tens of millions of polygons. Same
semantics (see :mod:`forestsink.store.base`); the layout, in one schema
(``forestsink`` unless the URL says ``?schema=NAME``):

``project_versions`` (table, ``geometry(MultiPolygon, 4490)``)
    Every version of every polygon. GiST index on ``geom``; B-tree indexes on
    ``(key, version)`` (unique), on ``key`` of live versions (unique: a key
    has at most one live version, enforced by the database), on
    ``batch_id``, ``ended_batch`` and ``(valid_from, valid_to)``. Triggers
    refuse DELETE, TRUNCATE and any UPDATE other than setting a live
    version's end once.
``current_projects`` (view)
    The live version of every polygon that is not withdrawn: what an analyst
    opens in QGIS.
``batches`` (table)
    One row per ingest, withdrawal or undo. Never deleted; what a batch was
    (kind, time, user, source, SHA-256, note) never changes; its counts are
    set only by the transaction that wrote it; ``undone_by`` is set once.

Times are ``timestamptz`` in the database and ISO strings in UTC
(``2014-06-30T08:15:00.000000Z``) in the frames the store returns, as in the
GeoPackage store. A batch's time is the database server's clock when the
batch starts writing.

Each batch is one transaction. Writers take ``LOCK TABLE … IN SHARE ROW
EXCLUSIVE MODE`` on both tables (readers are not blocked; a second writer
waits), with ``lock_timeout`` set to the store's timeout, after which the
second writer fails with :class:`~forestsink.errors.StoreBusyError`
having written nothing. A landing stages its delivery (temporary table,
``COPY``) before it asks for the lock and sends the locked statements in one
message (:meth:`PostGISStore.write_delivery`); write connections are kept
open between transactions (:mod:`forestsink.store.pgpool`).

Needs the ``postgis`` extra (psycopg 3): ``pip install 'forestsink[postgis]'``.
The DDL and the history checks are in :mod:`forestsink.store.postgis_schema`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from forestsink.errors import StoreBusyError, StoreError
from forestsink.store.common import (
    BATCHES,
    LAYER,
    MUTABLE_FIELDS,
    SRS_ID,
    VERSION_FIELDS,
    VIEW,
    WithdrawMixin,
    check_batch_number,
    check_withdrawals,
    column_values,
    content_hashes,
    current_user,
    diff_states,
    normalize_geometries,
    parse_as_of,
    undo_note,
)
from forestsink.store.inventory_pg import PostGISInventoryMixin
from forestsink.store.pgcodec import hex_ewkb as _hex_ewkb
from forestsink.store.pgcodec import ts_text as _ts
from forestsink.store.pgpool import pooled
from forestsink.store.postgis_schema import (
    BATCH_COLUMNS,
    PG_TYPES,
    TIME_FIELDS,
    history_problems,
    schema_sql,
)

__all__ = ["DEFAULT_SCHEMA", "PostGISStore", "is_postgres_url"]

DEFAULT_SCHEMA = "forestsink"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# fields of a version copied from the delivered frame (the rest the store sets)
_DELIVERED = [
    c
    for c in VERSION_FIELDS
    if c not in ("version", "content_hash", "batch_id", "valid_from", *MUTABLE_FIELDS)
]
_INT_FIELDS = {c for c, t in VERSION_FIELDS.items() if t == "INTEGER"}


def is_postgres_url(location) -> bool:
    """Tell whether *location* is a ``postgresql://`` or ``postgres://`` URL."""
    return str(location).startswith(("postgresql://", "postgres://"))


def _psycopg():
    try:
        import psycopg  # noqa: PLC0415 (optional heavy dependency)
    except ImportError as err:  # pragma: no cover - depends on the install
        raise StoreError(
            "PostGIS stores need psycopg 3, which is not installed: "
            "pip install 'forestsink[postgis]'."
        ) from err
    return psycopg


def parse_url(url: str) -> tuple[str, str | None, str]:
    """Split a store URL into (libpq URL, schema, URL with password masked).

    ``?schema=NAME`` is read by forestsink and removed before connecting;
    every other query parameter goes to libpq (``sslmode``, ...).

    Examples
    --------
    >>> parse_url("postgresql://ann:s3cret@db:5432/forest?schema=cq&sslmode=require")
    ('postgresql://ann:s3cret@db:5432/forest?sslmode=require', 'cq', \
'postgresql://ann:***@db:5432/forest?schema=cq&sslmode=require')
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError as err:
        raise StoreError(
            f"store URL {url.rsplit('@', maxsplit=1)[-1]!r} is malformed ({err}); "
            "the form is postgresql://USER@HOST:5432/DATABASE[?schema=NAME] "
            "(an IPv6 host in brackets: postgresql://USER@[::1]:5432/DATABASE)."
        ) from err
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = None
    kept = []
    for name, value in query:
        if name == "schema":
            schema = value
        else:
            kept.append((name, value))
    conninfo = urlunsplit(parts._replace(query=urlencode(kept)))
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    masked_query = urlencode(
        [(n, "***" if n == "password" else v) for n, v in query], safe="*"
    )
    masked = urlunsplit(parts._replace(netloc=netloc, query=masked_query))
    return conninfo, schema, masked


def _ints(values: list) -> list:
    """Whole floats (2013.0, from a column with gaps) as ints for bigint."""
    return [
        int(v) if isinstance(v, float) and np.isfinite(v) and v.is_integer() else v
        for v in values
    ]


class PostGISStore(PostGISInventoryMixin, WithdrawMixin):
    """A versioned project store in a PostgreSQL/PostGIS database.

    Parameters
    ----------
    url : str
        ``postgresql://user:password@host:port/database[?schema=NAME]``; any
        libpq parameter may follow (``sslmode=require``). Without a password
        in the URL, libpq reads ``PGPASSWORD`` or ``~/.pgpass``.
    schema : str, optional (default: the URL's ``schema``, else "forestsink")
        Schema holding the store's tables; created on first write.
    timeout : float, optional (default: 60)
        Seconds a writer waits for another writer before giving up.

    Attributes
    ----------
    path : str
        The URL with its password masked (for messages and reports).

    Notes
    -----
    The database needs the PostGIS extension; the store creates it on first
    write when the user may (``CREATE EXTENSION postgis``), otherwise a
    database owner must.
    """

    #: current() takes bounds (read by the GiST index)
    reads_near = True

    def __init__(
        self, url, /, *, schema: str | None = None, timeout: float = 60.0
    ) -> None:
        url = str(url)
        if not is_postgres_url(url):
            raise StoreError(
                f"{url!r} is not a PostgreSQL URL; use "
                "postgresql://user@host:5432/database[?schema=NAME]."
            )
        self._conninfo, url_schema, self.path = parse_url(url)
        self.schema = schema or url_schema or DEFAULT_SCHEMA
        if not _IDENTIFIER.fullmatch(self.schema):
            raise StoreError(
                f"{self.path}: schema {self.schema!r} is not a plain SQL name; "
                "use letters, digits and _ (at most 63), e.g. ?schema=forestsink."
            )
        self.timeout = timeout
        q = f'"{self.schema}"'
        self._v, self._b = f"{q}.{LAYER}", f"{q}.{BATCHES}"
        self._seen_layout = False  # see exists
        self._seen_accounts = False  # see users_pg.PostGISAccounts._have_tables

    def __repr__(self) -> str:
        return f"PostGISStore({self.path!r}, schema={self.schema!r})"

    # ---- connection ---------------------------------------------------------
    def _connect(self, *, autocommit: bool = False):
        """Return a connection; autocommit ones are kept for the next read (pgpool)."""
        if autocommit:
            return pooled(self._conninfo, lambda: self._open(autocommit=True))
        return self._open(autocommit=False)

    def _write_connection(self):
        """Return a transaction connection kept for the next write (own pool)."""
        return pooled(
            self._conninfo, lambda: self._open(autocommit=False), kind="write"
        )

    def _open(self, *, autocommit: bool):
        psycopg = _psycopg()
        try:
            return psycopg.connect(
                self._conninfo,
                autocommit=autocommit,
                connect_timeout=10,
                application_name="forestsink",
            )
        except psycopg.OperationalError as err:
            reason = str(err).strip().splitlines()[-1] if str(err).strip() else ""
            raise StoreError(
                f"{self.path}: cannot connect to PostgreSQL ({reason}). Check "
                "the host, port, database, user and password (or PGPASSWORD / "
                "~/.pgpass)."
            ) from err

    def _missing(self) -> StoreError:
        return StoreError(
            f"{self.path} (schema {self.schema}): no such store. Ingest a delivery "
            "into it first (`forestsink ingest`, or ingest_deliveries).",
            option="store",
        )

    def _has_layout(self, conn) -> bool:
        names = [f'"{self.schema}".{n}' for n in (LAYER, VIEW, BATCHES)]
        row = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL "
            "AND to_regclass(%s) IS NOT NULL",
            names,
        ).fetchone()
        return bool(row[0])

    @property
    def exists(self) -> bool:
        """True if the schema holds the forestsink tables and view.

        Once true it is remembered by this object (forestsink never drops a
        store's tables; a store removed under a running server makes its
        reads fail with the store-missing error instead): the question was
        asked on most requests of the web application (7 % of a worker's
        samples under the load test, py-spy).
        """
        if self._seen_layout:
            return True
        with self._connect(autocommit=True) as conn:
            self._seen_layout = self._has_layout(conn)
        return self._seen_layout

    def _query(self, sql: str, params=()) -> tuple[list[str], list[tuple]]:
        psycopg = _psycopg()
        with self._connect(autocommit=True) as conn:
            try:
                cur = conn.execute(sql, params)
            except (
                psycopg.errors.UndefinedTable,
                psycopg.errors.InvalidSchemaName,
            ) as err:
                raise self._missing() from err
            columns = [d.name for d in cur.description]
            return columns, cur.fetchall()

    def _table(self, sql: str, params=()) -> pd.DataFrame:
        columns, rows = self._query(sql, params)
        # as pandas.read_sql_query builds frames (same dtypes as the GPKG store)
        return pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)

    @contextmanager
    def transaction(self, *, lock: bool = True) -> Iterator:
        """One write transaction holding the store's write lock.

        Waits up to ``timeout`` seconds for another writer, then raises
        :class:`StoreBusyError`. Commits at the end, rolls back on error.
        The connection is one of the process's kept write connections
        (:mod:`~forestsink.store.pgpool`), idle between transactions.

        Parameters
        ----------
        lock : bool, optional (default: True)
            Take the write lock first. ``False``: the caller stages what does
            not depend on the store's state, then sends :meth:`_lock_sql`
            itself (``lock_timeout`` is set either way).
        """
        psycopg = _psycopg()
        if not self.exists:
            self._create()
        with self._write_connection() as conn:
            try:
                try:
                    ms = max(1, round(self.timeout * 1000))
                    # a writer that dies while the server runs its statements:
                    # rolled back when the server notices (checked each second)
                    conn.execute(
                        f"SET LOCAL lock_timeout = {ms}; "
                        "SET LOCAL client_connection_check_interval = 1000"
                    )
                    if lock:
                        conn.execute(self._lock_sql())
                except psycopg.errors.LockNotAvailable as err:
                    raise self._busy() from err
                yield conn
                conn.commit()
            except BaseException as err:
                if not conn.closed:
                    conn.rollback()
                if isinstance(err, psycopg.errors.LockNotAvailable):
                    raise self._busy() from err
                raise

    def _lock_sql(self) -> str:
        return f"LOCK TABLE {self._b}, {self._v} IN SHARE ROW EXCLUSIVE MODE"

    def _busy(self) -> StoreBusyError:
        return StoreBusyError(
            f"{self.path}: another process is writing to this store "
            f"(waited {self.timeout:g} s). Nothing was written; try again when "
            "it has finished."
        )

    def _create(self) -> None:
        """Create the schema, tables, indexes, view and triggers (once)."""
        psycopg = _psycopg()
        with self._connect() as conn:
            # two first writers at once: the second waits, then finds it made
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                (f"forestsink create {self.schema}",),
            )
            if self._has_layout(conn):
                return
            has_postgis = conn.execute(
                "SELECT 1 FROM pg_extension WHERE extname = 'postgis'"
            ).fetchone()
            if not has_postgis:
                try:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                except psycopg.Error as err:
                    raise StoreError(
                        f"{self.path}: the database has no PostGIS extension "
                        f"and this user cannot add it ({err.sqlstate}). Ask its "
                        "owner to run: CREATE EXTENSION postgis;"
                    ) from err
            conn.execute(schema_sql(self.schema))

    # ---- reads ----------------------------------------------------------------
    def _version_columns(self, alias: str = "v") -> str:
        cols = [f"{alias}.fid", f"ST_AsBinary({alias}.geom) AS geom"]
        for name in VERSION_FIELDS:
            if name in TIME_FIELDS:
                cols.append(_ts(f"{alias}.{name}", name))
            else:
                cols.append(f"{alias}.{name}")
        return ", ".join(cols)

    def _frame(self, sql: str, params=()):
        df = self._table(sql, params)
        geoms = (
            shapely.from_wkb(np.asarray(df.pop("geom"), dtype=object))
            if len(df)
            else []
        )
        if not len(df):
            df = df.drop(columns="geom")
        return gpd.GeoDataFrame(df, geometry=list(geoms), crs=SRS_ID)

    def batches(self) -> pd.DataFrame:
        """All batches, oldest first."""
        cols = [
            _ts(c, c) if c in ("created_at", "undone_at") else f'"{c}"'
            for c in BATCH_COLUMNS
        ]
        return self._table(f"SELECT {', '.join(cols)} FROM {self._b} ORDER BY batch_id")

    @staticmethod
    def _as_of_where(spec, alias: str = "v") -> tuple[str, tuple]:
        if spec is None:
            return f"{alias}.ended_batch IS NULL", ()
        if spec[0] == "batch":
            return (
                f"{alias}.batch_id <= %s AND ({alias}.ended_batch IS NULL "
                f"OR {alias}.ended_batch > %s)",
                (spec[1], spec[1]),
            )
        return (
            f"{alias}.valid_from <= %s::timestamptz AND ({alias}.valid_to IS NULL "
            f"OR {alias}.valid_to > %s::timestamptz)",
            (spec[1], spec[1]),
        )

    def current(self, *, as_of=None, bounds=None):
        """Polygons valid now, or as of a batch number or date (UTC).

        Parameters
        ----------
        as_of : int or str, optional (default: None, now)
            A batch number or a date / ISO date-time (UTC).
        bounds : sequence of float, optional (default: None, everywhere)
            ``minx, miny, maxx, maxy`` (EPSG:4490): only the polygons whose
            bounding box meets this box (``&&``, the GiST index).

        Returns
        -------
        geopandas.GeoDataFrame
            One row per live key, ordered by key, EPSG:4490.
        """
        where, params = self._as_of_where(parse_as_of(as_of))
        if bounds is not None:
            where += f" AND v.geom && ST_MakeEnvelope(%s, %s, %s, %s, {SRS_ID})"
            params += tuple(float(b) for b in bounds)
        return self._frame(
            f"SELECT {self._version_columns()} FROM {self._v} v WHERE {where} "
            "ORDER BY v.key",
            params,
        )

    def history(self, key: str):
        """Every version of one polygon, oldest first, with batch details."""
        frame = self._frame(
            f"SELECT {self._version_columns()}, b.kind AS batch_kind, "
            'b."user" AS batch_user, b.source_name AS batch_source '
            f"FROM {self._v} v JOIN {self._b} b ON b.batch_id = v.batch_id "
            "WHERE v.key = %s ORDER BY v.version",
            (key,),
        )
        if frame.empty:
            raise StoreError(
                f"{self.path}: no polygon with key {key!r}. Keys are "
                "<adcode>/<project id>, e.g. 500101/WZ-2013-001."
            )
        return frame

    def _state(self, as_of) -> pd.DataFrame:
        where, params = self._as_of_where(parse_as_of(as_of))
        return self._table(
            f"SELECT v.key, v.fid, v.version, v.project_type, v.area_mu "
            f"FROM {self._v} v WHERE {where} ORDER BY v.key",
            params,
        )

    def diff(self, a, b) -> pd.DataFrame:
        """Return what changed between two states (batch numbers or dates).

        Returns
        -------
        pandas.DataFrame
            ``key``, ``change`` (added / changed / withdrawn), ``project_type``,
            ``version_from``, ``version_to``, ``area_mu_from``, ``area_mu_to``.
        """
        return diff_states(self._state(a), self._state(b))

    def integrity_check(self) -> str:
        """Check the history's invariants; ``'ok'`` when healthy.

        Checks that each key has at most one live version, versions are
        numbered 1..n, validity times are their batches' times, every batch's
        counts match the versions it wrote and ended, and undo links agree.
        """
        if not self.exists:
            raise self._missing()
        with self._connect(autocommit=True) as conn:
            snapshots = self._inv_names()[1] if self._inventory_ready(conn) else None
            problems = history_problems(conn, self._v, self._b, snapshots=snapshots)
        return "; ".join(problems) if problems else "ok"

    def find_batch_by_sha(self, sha256: str) -> int | None:
        """Return the live ingest batch that loaded a file with this hash."""
        if not self.exists:
            return None
        _, rows = self._query(
            f"SELECT batch_id FROM {self._b} WHERE kind = 'ingest' AND "
            "source_sha256 = %s AND undone_by IS NULL ORDER BY batch_id DESC "
            "LIMIT 1",
            (sha256,),
        )
        return int(rows[0][0]) if rows else None

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
    ):
        """Insert a batch row; returns (batch_id, its time as a datetime)."""
        row = conn.execute(
            f'INSERT INTO {self._b} (kind, created_at, "user", source_name, '
            "source_sha256, note, undoes) "
            "SELECT %s::text, GREATEST(COALESCE(%s::timestamptz, clock_timestamp()), "
            "COALESCE(MAX(created_at) + interval '1 microsecond', '-infinity')), "
            "%s::text, %s::text, %s::text, %s::text, %s::bigint "
            f"FROM {self._b} RETURNING batch_id, created_at",
            (
                kind,
                now,
                user or current_user(),
                source_name,
                source_sha256,
                note,
                undoes,
            ),
        ).fetchone()
        return int(row[0]), row[1]

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
        frame : geopandas.GeoDataFrame
            Validated canonical frame (EPSG:4490) with ``key``, ``adcode``,
            ``project_id``, ``area_mu`` and the content fields.
        source_name : str
            File name recorded with the batch.
        source_sha256 : str
            SHA-256 of the delivered file.
        note : str, optional (default: None)
            Kept with the batch.
        user : str, optional (default: the login name)
            Who ingested it.
        now : str, optional (default: the server's clock)
            ISO time of the batch (UTC).

        Returns
        -------
        dict
            ``batch_id`` (None when nothing changed), counts ``added``,
            ``changed``, ``unchanged``.

        Notes
        -----
        The delivery is staged before the write lock is taken: copied
        (``COPY``) into a temporary table and analysed, which does not depend
        on the store's state. Then one message of statements
        (:meth:`_landing_sql`, client-side bound, one round trip) takes the
        lock, compares the delivery with the live versions, writes the batch
        row, ends the superseded versions, inserts the new ones and commits,
        which releases the lock. The ``COMMIT`` is in the message: the
        server releases the lock as soon as the statements are done, not
        once the client (a Python thread that may wait for its interpreter
        lock under load) has read the answer and sent ``COMMIT`` in another
        round trip (under the load test the landings waited 255 ms on average
        for the lock, ``pg_stat_statements``; see the README for after). A
        writer killed while the server runs the message leaves the whole
        batch (the server finished it) or nothing (it noticed the dead client
        first: ``client_connection_check_interval``), never a part. Nothing
        changed: no batch row, no batch number used.
        """
        frame = frame.reset_index(drop=True)
        columns = {
            "ord": list(range(len(frame))),
            **{
                c: _ints(column_values(frame, c))
                if c in _INT_FIELDS
                else column_values(frame, c)
                for c in _DELIVERED
            },
            "content_hash": content_hashes(
                frame,
                geometries=normalize_geometries(frame.geometry.values),
            ),
            "geom": _hex_ewkb(frame.geometry.values) if len(frame) else [],
        }
        psycopg = _psycopg()
        with self.transaction(lock=False) as conn:
            typed = ", ".join(
                f"{c} {PG_TYPES[VERSION_FIELDS[c]]}"
                + (' COLLATE "C"' if c == "key" else "")
                for c in (*_DELIVERED, "content_hash")
            )
            conn.execute(
                f"CREATE TEMP TABLE incoming (ord bigint, {typed}, geom geometry) "
                "ON COMMIT DROP; CREATE TEMP TABLE landing (batch_id bigint, "
                "created_at timestamptz, added bigint, changed bigint, "
                "unchanged bigint) ON COMMIT DROP"
            )
            with conn.cursor().copy(
                f"COPY incoming ({', '.join(columns)}) FROM STDIN"
            ) as copy:
                for row in zip(*columns.values(), strict=True):
                    copy.write_row(row)
            cur = psycopg.ClientCursor(conn)
            cur.execute(
                self._landing_sql(),
                (
                    now,
                    user or current_user(),
                    source_name,
                    source_sha256,
                    note,
                ),
            )
            row = None
            while True:  # the one result with rows: the landing's
                if cur.description is not None:
                    row = cur.fetchone()
                if not cur.nextset():
                    break
            batch_id, added, changed, unchanged = row
        return {
            "added": added,
            "changed": changed,
            "unchanged": unchanged,
            "batch_id": None if batch_id is None else int(batch_id),
        }

    def _landing_sql(self) -> str:
        """Return the statements of a landing staged in ``incoming``, sent at once.

        ``ANALYZE`` runs before the lock; the rest holds it, up to the
        ``COMMIT`` that ends the message. Parameters: the batch's time (or
        None), user, source name, SHA-256, note. The statement before the
        ``COMMIT`` returns ``batch_id`` (NULL when nothing changed) and the
        counts. A statement that fails skips the rest (the ``COMMIT`` too):
        the caller rolls back.
        """
        delivered = ", ".join(f"i.{c}" for c in _DELIVERED)
        live = "v.key = i.key AND v.ended_batch IS NULL"
        return f"""ANALYZE incoming;
{self._lock_sql()};
INSERT INTO landing (added, changed, unchanged)
SELECT count(*) FILTER (WHERE v.fid IS NULL),
    count(*) FILTER (WHERE v.content_hash <> i.content_hash),
    count(*) FILTER (WHERE v.content_hash = i.content_hash)
FROM incoming i LEFT JOIN {self._v} v ON {live};
WITH b AS (
    INSERT INTO {self._b} (kind, created_at, "user", source_name, source_sha256,
        note, n_added, n_changed, n_unchanged)
    SELECT 'ingest', GREATEST(COALESCE(%s::timestamptz, clock_timestamp()),
        COALESCE((SELECT MAX(created_at) FROM {self._b})
            + interval '1 microsecond', '-infinity')),
        %s::text, %s::text, %s::text, %s::text, l.added, l.changed, l.unchanged
    FROM landing l WHERE l.added + l.changed > 0
    RETURNING batch_id, created_at)
UPDATE landing SET batch_id = b.batch_id, created_at = b.created_at FROM b;
UPDATE {self._v} v SET ended_batch = l.batch_id, valid_to = l.created_at,
    end_reason = 'superseded'
FROM incoming i, landing l
WHERE l.batch_id IS NOT NULL AND {live} AND v.content_hash <> i.content_hash;
INSERT INTO {self._v} (geom, {", ".join(_DELIVERED)}, version, content_hash,
    batch_id, valid_from)
SELECT ST_SetSRID(ST_Multi(i.geom), {SRS_ID}), {delivered},
    COALESCE(m.version, 0) + 1, i.content_hash, l.batch_id, l.created_at
FROM incoming i CROSS JOIN landing l
LEFT JOIN (SELECT p.key, MAX(p.version) AS version FROM {self._v} p
    JOIN incoming USING (key) GROUP BY p.key) m USING (key)
WHERE l.batch_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {self._v} x
    WHERE x.key = i.key AND x.ended_batch IS NULL)
ORDER BY i.ord;
SELECT batch_id, added, changed, unchanged FROM landing;
COMMIT"""

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
        items : list of (str, str)
            ``(key, reason)`` pairs.
        source_name : str
            What the batch records as its source (a key or a file name).
        user : str, optional (default: the login name)
            Who withdrew them.
        now : str, optional (default: the server's clock)
            ISO time of the batch (UTC).

        Returns
        -------
        int
            The new batch's id.
        """
        keys = check_withdrawals(items, where=self.path)
        with self.transaction() as conn:
            live = dict(
                conn.execute(
                    f"SELECT key, fid FROM {self._v} WHERE key = ANY(%s::text[]) "
                    "AND ended_batch IS NULL",
                    (keys,),
                ).fetchall()
            )
            missing = [k for k in keys if k not in live]
            if missing:
                known = {
                    r[0]
                    for r in conn.execute(
                        f"SELECT DISTINCT key FROM {self._v} "
                        "WHERE key = ANY(%s::text[])",
                        (missing,),
                    )
                }
                key = missing[0]
                state = "is already withdrawn" if key in known else "does not exist"
                raise StoreError(
                    f"{self.path}: polygon {key!r} {state}; nothing "
                    "withdrawn. See `forestsink history KEY`."
                )
            note = "; ".join(f"{k}: {str(r).strip()}" for k, r in items)
            batch_id, now = self._new_batch(
                conn,
                kind="withdraw",
                source_name=source_name,
                note=note,
                user=user,
                now=now,
            )
            conn.execute(
                f"UPDATE {self._v} v SET ended_batch = %s, valid_to = %s, "
                "end_reason = u.reason FROM unnest(%s::bigint[], %s::text[]) "
                "AS u(fid, reason) WHERE v.fid = u.fid",
                (
                    batch_id,
                    now,
                    [live[k] for k in keys],
                    [f"withdrawn: {str(r).strip()}" for _, r in items],
                ),
            )
            conn.execute(
                f"UPDATE {self._b} SET n_withdrawn = %s WHERE batch_id = %s",
                (len(items), batch_id),
            )
        return batch_id

    def undo(
        self,
        batch_id: int,
        *,
        user: str | None = None,
        reason: str | None = None,
        now: str | None = None,
    ) -> int:
        """Undo a whole batch as a new batch; history is kept.

        Versions the batch created are ended; versions it ended are restored
        as new versions. Refused if a later batch changed the same polygons
        (also when a later batch re-delivered a polygon the batch withdrew).
        *reason* is appended to the batch's note (see ``Store.undo``).

        Returns
        -------
        int
            The new (undo) batch's id.
        """
        batch_id = check_batch_number(batch_id, what="undo")
        with self.transaction() as conn:
            batch = conn.execute(
                f"SELECT kind, undone_by FROM {self._b} WHERE batch_id = %s",
                (batch_id,),
            ).fetchone()
            if batch is None:
                raise StoreError(f"{self.path}: no batch {batch_id}.")
            if batch[1] is not None:
                raise StoreError(
                    f"batch {batch_id} was already undone by batch {batch[1]}."
                )
            created = conn.execute(
                f"SELECT fid, key, ended_batch FROM {self._v} WHERE batch_id = %s "
                "ORDER BY fid",
                (batch_id,),
            ).fetchall()
            ended = conn.execute(
                f"SELECT fid, key FROM {self._v} WHERE ended_batch = %s ORDER BY fid",
                (batch_id,),
            ).fetchall()
            later = [k for _, k, e in created if e is not None]
            # a polygon this batch ended that a later batch brought back
            revived = conn.execute(
                f"SELECT l.key FROM {self._v} l WHERE l.ended_batch IS NULL "
                "AND l.batch_id <> %s AND l.key = ANY(%s::text[]) ORDER BY l.key",
                (batch_id, [k for _, k in ended]),
            ).fetchall()
            later += [r[0] for r in revived]
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
            conn.execute(
                f"UPDATE {self._v} SET ended_batch = %s, valid_to = %s, "
                "end_reason = %s WHERE batch_id = %s",
                (new_id, now, f"undo of batch {batch_id}", batch_id),
            )
            copied = [
                c
                for c in VERSION_FIELDS
                if c not in ("version", "batch_id", "valid_from", *MUTABLE_FIELDS)
            ]
            cols = ", ".join(copied)
            old = ", ".join(f"o.{c}" for c in copied)
            conn.execute(
                f"INSERT INTO {self._v} (geom, {cols}, version, batch_id, valid_from) "
                f"SELECT o.geom, {old}, (SELECT MAX(p.version) FROM {self._v} p "
                "WHERE p.key = o.key) + 1, %s, %s "
                f"FROM {self._v} o WHERE o.fid = ANY(%s::bigint[]) ORDER BY o.fid",
                (new_id, now, [f for f, _ in ended]),
            )
            xiaoban_restored, xiaoban_ended = self._inventory_undo_apply(
                conn, layers, new_id=new_id, now=now, batch_id=batch_id
            )
            conn.execute(
                f"UPDATE {self._b} SET undone_by = %s, undone_at = %s "
                "WHERE batch_id = %s",
                (new_id, now, batch_id),
            )
            conn.execute(
                f"UPDATE {self._b} SET n_added = %s, n_withdrawn = %s "
                "WHERE batch_id = %s",
                (
                    len(ended) + xiaoban_restored,
                    len(created) + xiaoban_ended,
                    new_id,
                ),
            )
        return new_id
