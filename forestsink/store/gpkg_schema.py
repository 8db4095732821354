"""The GeoPackage store's own layout: its schema SQL and contents metadata.

GDAL writes the GeoPackage scaffolding and the ``project_versions`` layer
(:meth:`~forestsink.store.gpkg.GeoPackageStore` ``._create``); then
:data:`SCHEMA_SQL` adds the ``batches`` table, the indexes, the
``current_projects`` view and the triggers that refuse deletes and
overwrites. :func:`touch_contents` keeps ``gpkg_contents`` (change time and
extent) current after each batch.

CRS Notes
---------
The layer and the view are EPSG:4490 (CGCS2000 geographic, degrees).
"""

from __future__ import annotations

import numpy as np

from forestsink.store.common import (
    BATCHES,
    LAYER,
    MUTABLE_FIELDS,
    SRS_ID,
    VERSION_FIELDS,
    VIEW,
)

__all__ = ["SCHEMA_SQL", "touch_contents"]


_PROTECT = " AND ".join(
    f'OLD."{c}" IS NEW."{c}"'
    for c in ("geom", *VERSION_FIELDS)
    if c not in MUTABLE_FIELDS
)

# Indexes: (key, version) serves history and the live-version lookups (a
# key has few versions); an index on (ended_batch, key) made no query faster
# and doubled the cost of inserting a batch's keys, so stores no longer get
# one (stores made before keep theirs, harmlessly).
SCHEMA_SQL = f"""
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


def touch_contents(conn, now: str, new_bounds: np.ndarray | None = None) -> None:
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
