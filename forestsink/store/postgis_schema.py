"""The PostGIS store's schema: its DDL and the checks of its history.

:func:`schema_sql` is the DDL of a store in one schema (tables, indexes,
view, and the triggers that refuse deletes and overwrites);
:func:`history_problems` lists what is wrong with a store's history (used by
``integrity_check`` and by :mod:`forestsink.store.migrate`).

CRS Notes
---------
``geom`` is ``geometry(MultiPolygon, 4490)`` (EPSG:4490, degrees).
"""

from __future__ import annotations

from forestsink.store.common import (
    BATCHES,
    LAYER,
    MUTABLE_FIELDS,
    SRS_ID,
    VERSION_FIELDS,
    VIEW,
)

__all__ = ["BATCH_COLUMNS", "PG_TYPES", "TIME_FIELDS", "history_problems", "schema_sql"]

#: PostgreSQL types of the store's SQLite column types
PG_TYPES = {"TEXT": "text", "INTEGER": "bigint", "REAL": "double precision"}
#: version fields kept as ``timestamptz``
TIME_FIELDS = ("valid_from", "valid_to")
#: the columns of the ``batches`` table, in order
BATCH_COLUMNS = [
    "batch_id",
    "kind",
    "created_at",
    "user",
    "source_name",
    "source_sha256",
    "n_added",
    "n_changed",
    "n_unchanged",
    "n_withdrawn",
    "note",
    "undoes",
    "undone_by",
    "undone_at",
]


def history_problems(
    conn, versions: str, batches: str, *, snapshots: str | None = None
) -> list[str]:
    """List what is wrong with a store's history (empty when healthy).

    With *snapshots* (the inventory snapshots table), a batch's counts also
    take the 小班 of the layers it loaded or restored (added) and ended
    (withdrawn).
    """
    made_layers = ended_layers = ""
    if snapshots:
        made_layers = f" UNION ALL SELECT batch_id, n_xiaoban FROM {snapshots}"
        ended_layers = (
            f" UNION ALL SELECT ended_batch, n_xiaoban FROM {snapshots} "
            "WHERE ended_batch IS NOT NULL"
        )
    checks = [
        (
            "keys with more than one live version",
            f"SELECT key FROM {versions} WHERE ended_batch IS NULL GROUP BY key "
            "HAVING count(*) > 1 ORDER BY key LIMIT 5",
        ),
        (
            "keys whose versions are not numbered 1..n",
            f"SELECT key FROM {versions} GROUP BY key HAVING min(version) <> 1 "
            "OR max(version) <> count(*) OR count(DISTINCT version) <> count(*) "
            "ORDER BY key LIMIT 5",
        ),
        (
            "versions whose valid_from is not their batch's time",
            f"SELECT v.fid FROM {versions} v LEFT JOIN {batches} b "
            "ON b.batch_id = v.batch_id WHERE b.created_at IS DISTINCT FROM "
            "v.valid_from ORDER BY v.fid LIMIT 5",
        ),
        (
            "versions whose end is not their ending batch's time",
            f"SELECT v.fid FROM {versions} v LEFT JOIN {batches} b "
            "ON b.batch_id = v.ended_batch WHERE v.ended_batch IS NOT NULL AND "
            "(b.created_at IS DISTINCT FROM v.valid_to OR v.end_reason IS NULL "
            "OR v.ended_batch <= v.batch_id) ORDER BY v.fid LIMIT 5",
        ),
        (
            "batches whose counts do not match their versions",
            f"""
            WITH made AS (SELECT b, sum(n) AS n FROM (
                            SELECT batch_id AS b, 1 AS n FROM {versions}
                            {made_layers}) m GROUP BY b),
                 ended AS (SELECT b, sum(n) AS n FROM (
                            SELECT ended_batch AS b, 1 AS n FROM {versions}
                            WHERE ended_batch IS NOT NULL {ended_layers}) e
                           GROUP BY b)
            SELECT t.batch_id FROM {batches} t
            LEFT JOIN made m ON m.b = t.batch_id
            LEFT JOIN ended e ON e.b = t.batch_id
            WHERE NOT CASE t.kind
              WHEN 'ingest' THEN
                coalesce(m.n, 0) = t.n_added + t.n_changed
                AND coalesce(e.n, 0) = t.n_changed
              WHEN 'withdraw' THEN
                coalesce(m.n, 0) = 0 AND coalesce(e.n, 0) = t.n_withdrawn
              ELSE
                coalesce(m.n, 0) = t.n_added AND coalesce(e.n, 0) = t.n_withdrawn
            END
            ORDER BY t.batch_id LIMIT 5
            """,
        ),
        (
            "batches whose undo links disagree",
            f"SELECT t.batch_id FROM {batches} t LEFT JOIN {batches} u "
            "ON u.batch_id = t.undone_by WHERE (t.undone_by IS NOT NULL AND "
            "(u.undoes IS DISTINCT FROM t.batch_id OR u.created_at IS DISTINCT "
            "FROM t.undone_at)) OR (t.undoes IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {batches} x WHERE x.batch_id = t.undoes "
            "AND x.undone_by = t.batch_id)) ORDER BY t.batch_id LIMIT 5",
        ),
    ]
    problems = []
    for label, sql in checks:
        found = [r[0] for r in conn.execute(sql).fetchall()]
        if found:
            problems.append(f"{label}: {found}")
    return problems


# --------------------------------------------------------------------------
# schema
# --------------------------------------------------------------------------


def schema_sql(schema: str) -> str:
    """DDL of a store in *schema* (tables, indexes, view, triggers)."""
    s = f'"{schema}"'
    v, b = f"{s}.{LAYER}", f"{s}.{BATCHES}"
    return _tables_sql(s, v, b) + _triggers_sql(s, v, b)


def _version_fields(b: str) -> list[str]:
    """Column definitions of the versions table (*b*: the batches table)."""
    fields = []
    for name, kind in VERSION_FIELDS.items():
        pg = "timestamptz" if name in TIME_FIELDS else PG_TYPES[kind]
        extra = ""
        if name == "key":
            extra = ' COLLATE "C" NOT NULL'  # code point order, as SQLite/Python
        elif name in ("version", "content_hash", "valid_from"):
            extra = " NOT NULL"
        elif name in ("batch_id", "ended_batch"):
            extra = f" REFERENCES {b} DEFERRABLE INITIALLY DEFERRED"
            extra = (" NOT NULL" if name == "batch_id" else "") + extra
        fields.append(f"{name} {pg}{extra}")
    return fields


def _tables_sql(s: str, v: str, b: str) -> str:
    """Return the schema, tables, indexes and view (*s*, *v*, *b*: their names)."""
    fields = _version_fields(b)
    return f"""
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE {b} (
    batch_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('ingest', 'withdraw', 'undo', 'inventory')),
    created_at timestamptz NOT NULL,
    "user" text,
    source_name text,
    source_sha256 text,
    n_added bigint DEFAULT 0,
    n_changed bigint DEFAULT 0,
    n_unchanged bigint DEFAULT 0,
    n_withdrawn bigint DEFAULT 0,
    note text,
    undoes bigint REFERENCES {b} DEFERRABLE INITIALLY DEFERRED,
    undone_by bigint REFERENCES {b} DEFERRABLE INITIALLY DEFERRED,
    undone_at timestamptz
);
COMMENT ON TABLE {b} IS 'forestsink: one row per ingest, withdrawal or undo';
CREATE UNIQUE INDEX batches_created_at ON {b} (created_at);
CREATE INDEX batches_sha256 ON {b} (source_sha256) WHERE kind = 'ingest';
CREATE TABLE {v} (
    fid bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    geom geometry(MultiPolygon, {SRS_ID}),
    {", ".join(fields)},
    CHECK ((ended_batch IS NULL) = (valid_to IS NULL))
);
COMMENT ON TABLE {v} IS
    'forestsink: every version of every project polygon (never deleted)';
CREATE UNIQUE INDEX {LAYER}_key_version ON {v} (key, version);
CREATE UNIQUE INDEX {LAYER}_live_key ON {v} (key) WHERE ended_batch IS NULL;
CREATE INDEX {LAYER}_batch ON {v} (batch_id);
CREATE INDEX {LAYER}_ended ON {v} (ended_batch);
CREATE INDEX {LAYER}_valid ON {v} (valid_from, valid_to);
CREATE INDEX {LAYER}_geom ON {v} USING gist (geom);
CREATE VIEW {s}.{VIEW} AS SELECT * FROM {v} WHERE ended_batch IS NULL;
COMMENT ON VIEW {s}.{VIEW} IS
    'forestsink: latest version of every polygon that is not withdrawn';
"""


def _triggers_sql(s: str, v: str, b: str) -> str:
    """Return the triggers refusing deletes and overwrites of versions, batches."""
    fixed = ["fid", "geom", *(c for c in VERSION_FIELDS if c not in MUTABLE_FIELDS)]

    def row(prefix: str) -> str:
        return ", ".join(
            f"ST_AsEWKB({prefix}.geom)" if c == "geom" else f"{prefix}.{c}"
            for c in fixed
        )

    fixed_batch = ", ".join(
        f'{{p}}."{c}"'
        for c in (
            "batch_id",
            "kind",
            "created_at",
            "user",
            "source_name",
            "source_sha256",
            "note",
            "undoes",
        )
    )
    counts = ", ".join(
        f"{{p}}.{c}" for c in ("n_added", "n_changed", "n_unchanged", "n_withdrawn")
    )
    return f"""
CREATE FUNCTION {s}.forestsink_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'forestsink store: % are never %', TG_ARGV[0], TG_ARGV[1]
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER forestsink_no_delete BEFORE DELETE ON {v}
    FOR EACH ROW EXECUTE FUNCTION {s}.forestsink_refuse('versions', 'deleted');
CREATE TRIGGER forestsink_no_truncate BEFORE TRUNCATE ON {v}
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.forestsink_refuse('versions', 'deleted');
CREATE TRIGGER forestsink_batches_no_delete BEFORE DELETE ON {b}
    FOR EACH ROW EXECUTE FUNCTION {s}.forestsink_refuse('batches', 'deleted');
CREATE TRIGGER forestsink_batches_no_truncate BEFORE TRUNCATE ON {b}
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.forestsink_refuse('batches', 'deleted');

-- a version's content never changes; its end is set once
CREATE FUNCTION {s}.forestsink_version_update() RETURNS trigger LANGUAGE plpgsql
AS $$
BEGIN
    IF OLD.ended_batch IS NOT NULL
       OR ROW({row("OLD")}) IS DISTINCT FROM ROW({row("NEW")}) THEN
        RAISE EXCEPTION 'forestsink store: versions are never overwritten'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER forestsink_no_overwrite BEFORE UPDATE ON {v}
    FOR EACH ROW EXECUTE FUNCTION {s}.forestsink_version_update();

-- what a batch was never changes; counts only in the transaction that wrote
-- it; undone_by / undone_at set once
CREATE FUNCTION {s}.forestsink_batch_update() RETURNS trigger LANGUAGE plpgsql
AS $$
BEGIN
    IF ROW({fixed_batch.format(p="OLD")}) IS DISTINCT FROM
           ROW({fixed_batch.format(p="NEW")})
       OR (OLD.undone_by IS NOT NULL AND (NEW.undone_by, NEW.undone_at)
           IS DISTINCT FROM (OLD.undone_by, OLD.undone_at))
       OR (ROW({counts.format(p="OLD")}) IS DISTINCT FROM ROW({counts.format(p="NEW")})
           AND (SELECT t.xmin::text FROM {b} t WHERE t.batch_id = OLD.batch_id)
               <> pg_current_xact_id()::xid::text) THEN
        RAISE EXCEPTION 'forestsink store: batches are never overwritten'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER forestsink_batches_no_overwrite BEFORE UPDATE ON {b}
    FOR EACH ROW EXECUTE FUNCTION {s}.forestsink_batch_update();
"""
