"""What a file at a GeoPackage store's path is, when it is not a store.

:func:`store_file_problem` looks at the first bytes and then (read-only) at
the tables of the file a store was pointed at, and names a folder, an empty
or non-SQLite file, another program's GeoPackage or SQLite database, or a
store missing some of its tables, with what to do.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from forestsink.store.common import BATCHES, LAYER, VIEW

__all__ = ["store_file_problem"]

#: the first 16 bytes of every SQLite 3 database (and so of every GeoPackage)
_SQLITE_MAGIC = b"SQLite format 3\x00"
#: how to make a store instead (the end of several messages)
_CREATE_HINT = (
    "Give the name of a new file instead (e.g. store.gpkg): forestsink "
    "creates its store there on the first ingest."
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
