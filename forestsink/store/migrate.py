"""Copy a GeoPackage store into PostgreSQL/PostGIS with its full history.

``forestsink store migrate --from FILE.gpkg --to postgresql://…`` calls
:func:`migrate_store`. Every batch and every version is copied with the same
ids (``batch_id``, ``fid``), times, content hashes and validity, so as-of,
history and diff give the same answers on both stores. The web accounts
(names, roles, districts, password hashes, disabled flags) are copied with
their ids, so the office's users log in to the new store as before. The copy is one
transaction: the target gets all of it or nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from forestsink.errors import StoreError
from forestsink.store.common import BATCHES, LAYER, USERS, VERSION_FIELDS
from forestsink.store.gpkg import GeoPackageStore
from forestsink.store.gpkg_codec import from_gpkg_blobs
from forestsink.store.pgcodec import hex_ewkb, ts_text
from forestsink.store.postgis import PostGISStore
from forestsink.store.postgis_schema import BATCH_COLUMNS, history_problems
from forestsink.store.users_pg import account_ddl

__all__ = ["migrate_store"]

_TIMES = {"created_at", "undone_at", "valid_from", "valid_to"}


def _iso(value) -> str | None:
    """Return a stored time in the canonical ``%Y-%m-%dT%H:%M:%S.%fZ`` (UTC)."""
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fingerprint(hasher, rows) -> None:
    for row in rows:
        hasher.update("\x1f".join("" if v is None else str(v) for v in row).encode())
        hasher.update(b"\x1e")


def migrate_store(
    source,
    target,
    /,
    *,
    chunk_size: int = 20_000,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Copy every batch and version of a GeoPackage store into PostGIS.

    Parameters
    ----------
    source : str, Path or GeoPackageStore
        The ``.gpkg`` store to copy (read only; it is not changed).
    target : str or PostGISStore
        ``postgresql://…[?schema=NAME]``; the store there must not exist yet
        or be empty (no batches).
    chunk_size : int, optional (default: 20000)
        Versions read and copied at a time (bounds memory).
    progress : callable, optional (default: None)
        Called with a short message after each chunk.

    Returns
    -------
    dict
        ``batches``, ``versions`` and ``accounts`` copied, ``live`` (current polygons),
        ``source`` and ``target`` (the target's URL, password masked).

    Raises
    ------
    StoreError
        If the source is not a store, the target already holds batches, or
        the copy does not check out (then nothing is written).

    Notes
    -----
    CRS Notes: geometries stay in EPSG:4490 and are copied bit for bit (WKB).
    The source is read in one SQLite read transaction, so a writer working on
    it meanwhile cannot make the copy inconsistent.
    """
    source = source if isinstance(source, GeoPackageStore) else GeoPackageStore(source)
    target = target if isinstance(target, PostGISStore) else PostGISStore(target)
    if not source.exists:
        raise StoreError(
            f"{source.path}: not a forestsink store (no {LAYER}, {BATCHES} "
            "layers); give the .gpkg written by `forestsink ingest`."
        )
    say = progress or (lambda _msg: None)
    # read-write when possible, as GeoPackageStore reads: only so that a
    # journal a killed writer left behind can be rolled back; nothing is written
    mode = "rw" if os.access(source.path, os.W_OK) else "ro"
    uri = f"{Path(source.path).resolve().as_uri()}?mode={mode}"
    src = sqlite3.connect(uri, uri=True, timeout=source.timeout, isolation_level=None)
    try:
        src.execute("BEGIN")  # one snapshot for the whole copy
        layers = src.execute(
            f"SELECT COUNT(*) FROM {BATCHES} WHERE kind = 'inventory'"
        ).fetchone()[0]
        if layers:
            raise StoreError(
                f"{source.path}：含 {layers} 个森林资源图层（一张图）批次，本版本的 "
                "迁移不复制这些图层，未迁移任何内容。/ the store holds "
                f"{layers} forest-resource layer (inventory) batch(es), which "
                "store migrate does not copy in this version; nothing was "
                "migrated. Keep the GeoPackage store for the inventory layers, or "
                "load the layers into the PostGIS store again."
            )
        with target.transaction() as conn:
            held = conn.execute(f"SELECT count(*) FROM {target._b}").fetchone()[0]
            if held:
                raise StoreError(
                    f"{target.path}: the target store already holds {held} "
                    "batch(es); migrate into an empty one (a new database or "
                    "another ?schema=NAME)."
                )
            n_accounts = _copy_accounts(src, conn, target)
            say(f"accounts: {n_accounts}")
            n_batches, batch_print = _copy_batches(src, conn, target)
            say(f"batches: {n_batches}")
            n_versions, version_print = _copy_versions(
                src, conn, target, chunk_size=chunk_size, say=say
            )
            for table, column in ((target._b, "batch_id"), (target._v, "fid")):
                conn.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, %s), "
                    f"(SELECT max({column}) FROM {table}))",
                    (table, column),
                )
            _verify(conn, target, batch_print, version_print)
            live = conn.execute(
                f"SELECT count(*) FROM {target._v} WHERE ended_batch IS NULL"
            ).fetchone()[0]
    finally:
        src.close()
    return {
        "source": str(source.path),
        "target": target.path,
        "batches": n_batches,
        "versions": n_versions,
        "live": int(live),
        "accounts": n_accounts,
    }


_ACCOUNT_COLUMNS = (
    "user_id",
    "name",
    "role",
    "districts",
    "password_hash",
    "disabled",
    "session_version",
    "created_at",
    "updated_at",
)


def _copy_accounts(src, conn, target) -> int:
    """Copy the web accounts (same ids, hashes, roles; not the failed logins).

    The failed-login records are not copied: they only rate-limit the next
    few minutes. A target that already has accounts is refused (their ids
    and names would clash; add accounts after the copy instead).
    """
    have = src.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
        (USERS,),
    ).fetchone()[0]
    if not have:
        return 0
    names = ", ".join(_ACCOUNT_COLUMNS)
    rows = src.execute(f"SELECT {names} FROM {USERS} ORDER BY user_id").fetchall()
    if not rows:
        return 0
    for statement in account_ddl(target.schema):
        conn.execute(statement)
    table = f'"{target.schema}".{USERS}'
    held = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    if held:
        raise StoreError(
            f"{target.path}：目标库已有 {held} 个账户，未迁移任何内容；"
            "请迁移到无账户的库，迁移后再添加账户。/ the target store already "
            f"has {held} "
            "account(s); nothing was migrated. Migrate into a store without "
            "accounts and add accounts after the copy."
        )
    cells = ", ".join(["%s"] * len(_ACCOUNT_COLUMNS))
    with conn.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({names}) OVERRIDING SYSTEM VALUE VALUES ({cells})",
            rows,
        )
    conn.execute(
        "SELECT setval(pg_get_serial_sequence(%s, 'user_id'), "
        f"(SELECT max(user_id) FROM {table}))",
        (table,),
    )
    return len(rows)


def _copy_batches(src, conn, target) -> tuple[int, str]:
    names = ", ".join(f'"{c}"' for c in BATCH_COLUMNS)
    rows = src.execute(f"SELECT {names} FROM {BATCHES} ORDER BY batch_id").fetchall()
    times = [i for i, c in enumerate(BATCH_COLUMNS) if c in _TIMES]
    rows = [
        tuple(_iso(v) if i in times else v for i, v in enumerate(row)) for row in rows
    ]
    if not rows:
        return 0, hashlib.sha256().hexdigest()
    with conn.cursor().copy(f"COPY {target._b} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    hasher = hashlib.sha256()
    _fingerprint(hasher, rows)
    return len(rows), hasher.hexdigest()


def _copy_versions(src, conn, target, *, chunk_size, say) -> tuple[int, str]:
    fields = list(VERSION_FIELDS)
    cursor = src.execute(
        f"SELECT fid, geom, {', '.join(fields)} FROM {LAYER} ORDER BY fid"
    )
    times = {i for i, c in enumerate(fields) if c in _TIMES}
    hasher = hashlib.sha256()
    total = 0
    names = ", ".join(["fid", "geom", *fields])
    while rows := cursor.fetchmany(chunk_size):
        blobs = [r[1] for r in rows]
        present = [i for i, b in enumerate(blobs) if b is not None]
        geoms: list = [None] * len(rows)
        if present:
            decoded = hex_ewkb(from_gpkg_blobs([blobs[i] for i in present]))
            for i, g in zip(present, decoded, strict=True):
                geoms[i] = g
        records = [
            (
                row[0],
                geom,
                *(_iso(v) if i in times else v for i, v in enumerate(row[2:])),
            )
            for row, geom in zip(rows, geoms, strict=True)
        ]
        with conn.cursor().copy(f"COPY {target._v} ({names}) FROM STDIN") as copy:
            for record in records:
                copy.write_row(record)
        _fingerprint(hasher, records)
        total += len(records)
        say(f"versions: {total}")
    return total, hasher.hexdigest()


def _verify(conn, target, batch_print, version_print) -> None:
    """Read the copy back and compare it with what was read from the source."""
    cols = ", ".join(ts_text(c, c) if c in _TIMES else f'"{c}"' for c in BATCH_COLUMNS)
    hasher = hashlib.sha256()
    _fingerprint(
        hasher, conn.execute(f"SELECT {cols} FROM {target._b} ORDER BY batch_id")
    )
    same_batches = hasher.hexdigest() == batch_print
    fields = ", ".join(ts_text(c, c) if c in _TIMES else c for c in VERSION_FIELDS)
    hasher = hashlib.sha256()
    cur = conn.cursor(name="forestsink_verify")  # server-side: bounded memory
    cur.execute(
        f"SELECT fid, upper(encode(ST_AsEWKB(geom, 'NDR'), 'hex')), "
        f"{fields} FROM {target._v} ORDER BY fid"
    )
    _fingerprint(hasher, cur)
    cur.close()
    same_versions = hasher.hexdigest() == version_print
    problems = history_problems(conn, target._v, target._b)
    if not (same_batches and same_versions) or problems:
        raise StoreError(
            f"{target.path}: the copy does not match the source "
            f"(batches {'ok' if same_batches else 'differ'}, versions "
            f"{'ok' if same_versions else 'differ'}"
            + (f"; {'; '.join(problems)}" if problems else "")
            + "); nothing was written."
        )
