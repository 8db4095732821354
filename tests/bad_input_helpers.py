"""Shared helpers for the bad-input and store-kill tests.

``load_generator`` imports ``scripts/make_bad_inputs.py``; ``dump_store``
reads every table of a store with plain sqlite3, so that "the store is exactly
as before" can be asserted row by row (geometry blobs included).
"""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATOR_NAME = "forestsink_make_bad_inputs"


def load_generator():
    """The ``scripts/make_bad_inputs.py`` module (imported once)."""
    if GENERATOR_NAME in sys.modules:
        return sys.modules[GENERATOR_NAME]
    spec = importlib.util.spec_from_file_location(
        GENERATOR_NAME, ROOT / "scripts" / "make_bad_inputs.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[GENERATOR_NAME] = module  # dataclasses look the module up
    spec.loader.exec_module(module)
    return module


def ro_connect(path: Path) -> sqlite3.Connection:
    """A read-only connection (a properly quoted URI: '#', '?', '%' are safe)."""
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)


def rw_connect(path: Path) -> sqlite3.Connection:
    """A read-write connection that never creates the file.

    Opening read-write lets SQLite roll back a hot journal left by a killed
    writer (a read-only connection cannot).
    """
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=rw", uri=True)


def dump_store(path: Path) -> dict[str, list]:
    """Every table of the store: ``{name: rows}``, plus ``"__schema__"``.

    ``project_versions`` is dumped ``ORDER BY fid`` and ``batches`` ``ORDER BY
    batch_id``, all columns including the geometry blob; the other tables
    (GeoPackage metadata, R-tree) by rowid.
    """
    conn = ro_connect(path)
    try:
        schema = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        out: dict[str, list] = {"__schema__": schema}
        order = {"project_versions": "fid", "batches": "batch_id"}
        for kind, name, _, _ in schema:
            if kind != "table":
                continue
            key = order.get(name, "rowid")
            try:
                rows = conn.execute(f'SELECT * FROM "{name}" ORDER BY {key}').fetchall()
            except sqlite3.OperationalError:  # no rowid
                rows = conn.execute(f'SELECT * FROM "{name}"').fetchall()
            out[name] = rows
        return out
    finally:
        conn.close()


def versions(path: Path) -> list[tuple]:
    """``SELECT * FROM project_versions ORDER BY fid`` (geometry included)."""
    conn = ro_connect(path)
    try:
        return conn.execute("SELECT * FROM project_versions ORDER BY fid").fetchall()
    finally:
        conn.close()


def batches(path: Path) -> list[tuple]:
    """``SELECT * FROM batches ORDER BY batch_id``."""
    conn = ro_connect(path)
    try:
        return conn.execute("SELECT * FROM batches ORDER BY batch_id").fetchall()
    finally:
        conn.close()


def rows_per_batch(path: Path) -> dict[int, int]:
    """``{batch_id: number of versions it created}``."""
    conn = ro_connect(path)
    try:
        return dict(
            conn.execute(
                "SELECT batch_id, COUNT(*) FROM project_versions GROUP BY batch_id"
            ).fetchall()
        )
    finally:
        conn.close()


def rtree_count(path: Path) -> int:
    """Number of entries in the spatial index of ``project_versions``."""
    conn = ro_connect(path)
    try:
        return conn.execute(
            "SELECT COUNT(*) FROM rtree_project_versions_geom"
        ).fetchone()[0]
    finally:
        conn.close()


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` through a plain read-only connection."""
    conn = ro_connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def rtree_mismatches(path: Path, *, tolerance: float = 1e-4) -> list[int]:
    """fids whose R-tree entry is missing or does not match the geometry bounds.

    GeoPackage R-tree boxes are float32, hence the tolerance (degrees).
    """
    import numpy as np
    import shapely

    from forestsink.store.gpkg import from_gpkg_blobs

    conn = ro_connect(path)
    try:
        rows = conn.execute(
            "SELECT v.fid, v.geom, r.minx, r.maxx, r.miny, r.maxy "
            "FROM project_versions v LEFT JOIN rtree_project_versions_geom r "
            "ON r.id = v.fid ORDER BY v.fid"
        ).fetchall()
    finally:
        conn.close()
    if not rows:
        return []
    fids = [r[0] for r in rows]
    boxes = np.array([r[2:] for r in rows], dtype="float64")  # minx maxx miny maxy
    bounds = shapely.bounds(from_gpkg_blobs([r[1] for r in rows]))
    expected = bounds[:, [0, 2, 1, 3]]
    bad = np.isnan(boxes).any(axis=1) | (np.abs(boxes - expected) > tolerance).any(
        axis=1
    )
    return [fid for fid, b in zip(fids, bad, strict=True) if b]
