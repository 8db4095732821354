"""The inventory tables of the GeoPackage store: schema, upgrade and styles.

The 小班 table, the snapshots table, the ``inventory_current`` view, the
R-tree of the 小班 and QGIS's ``layer_styles`` table are created on the
first inventory write (:func:`ensure_inventory_schema`, in the write's
transaction), also in older stores, whose ``batches`` table is first rebuilt
to allow the kind ``'inventory'``. The default styles fill the 小班 by land
group and the projects by project type (:func:`category_qml`).

CRS Notes
---------
The 小班 table and the view are EPSG:4490 (CGCS2000, degrees).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from forestsink.errors import StoreError
from forestsink.reference import read_project_types
from forestsink.store.common import BATCH_KINDS, VIEW
from forestsink.store.inventory_common import (
    INVENTORY_VIEW,
    SNAPSHOT_END,
    SNAPSHOT_FIELDS,
    SNAPSHOTS,
    STYLES,
    XIAOBAN,
)
from forestsink.store.inventory_schema import (
    LAND_GROUPS,
    XIAOBAN_COLUMNS,
    XIAOBAN_FIELDS,
)

__all__ = [
    "LAND_GROUP_COLOURS",
    "PROJECT_COLOURS",
    "RTREE",
    "RTREE_INSERT_SQL",
    "RTREE_TRIGGER",
    "category_qml",
    "default_styles",
    "ensure_inventory_schema",
    "table_names",
]


#: fill colours (R, G, B) of the land groups: forest greens, other forest
#: land yellows and browns, non-forest grey
LAND_GROUP_COLOURS = {
    "arbor": (26, 110, 40),
    "bamboo": (60, 160, 70),
    "special_shrub": (110, 190, 90),
    "other_shrub": (160, 210, 120),
    "sparse": (200, 220, 110),
    "unestablished": (235, 210, 90),
    "nursery": (230, 180, 60),
    "treeless": (200, 140, 70),
    "suitable": (170, 120, 80),
    "auxiliary": (140, 100, 70),
    "non_forest": (190, 190, 190),
}
#: fill colours of the project types, in the order of ``project_types.csv``
PROJECT_COLOURS = [
    (31, 120, 180),
    (227, 26, 28),
    (51, 160, 44),
    (255, 127, 0),
    (106, 61, 154),
    (177, 89, 40),
    (166, 206, 227),
    (251, 154, 153),
]


#: the R-tree of the 小班 (GDAL's name for it)
RTREE = f"rtree_{XIAOBAN}_geom"
#: the name of :data:`RTREE_INSERT_SQL`'s trigger
RTREE_TRIGGER = f"{RTREE}_insert"
#: GDAL's trigger that indexes a row another program inserts (rows are never
#: updated or deleted, so its update and delete triggers are not needed)
RTREE_INSERT_SQL = (
    f'CREATE TRIGGER "{RTREE_TRIGGER}" AFTER INSERT ON "{XIAOBAN}" '
    'WHEN (new."geom" NOT NULL AND NOT ST_IsEmpty(NEW."geom")) BEGIN '
    f'INSERT OR REPLACE INTO "{RTREE}" VALUES (NEW."fid", ST_MinX(NEW."geom"), '
    'ST_MaxX(NEW."geom"), ST_MinY(NEW."geom"), ST_MaxY(NEW."geom")); END'
)
_XIAOBAN_COLS = ", ".join(f'"{c}" {t}' for c, t in XIAOBAN_FIELDS.items())
_SNAPSHOT_PROTECT = " AND ".join(
    f'OLD."{c}" IS NEW."{c}"' for c in SNAPSHOT_FIELDS if c not in SNAPSHOT_END
)
_VIEW_COLS = ", ".join(f'x."{c}"' for c in XIAOBAN_COLUMNS)

#: A covering index of the columns the statistics and transfers sum: the
#: SQL GROUP BY then reads this index (about 60 bytes a row) instead of the
#: table, whose rows carry the geometry inline (about 700 bytes a row at 25
#: vertices). Stores made before it get it with their next inventory write.
_SUMS_INDEX_SQL = (
    f"CREATE INDEX IF NOT EXISTS idx_{XIAOBAN}_sums ON {XIAOBAN}(snapshot_id, "
    "adcode, land_group, land_group_before, change_reason, area_mu, "
    "area_reported_mu, volume_m3_ha, stock_m3)"
)

_INVENTORY_SQL = f"""
CREATE TABLE {XIAOBAN} (
    fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    geom MULTIPOLYGON,
    {_XIAOBAN_COLS},
    snapshot_id INTEGER NOT NULL
);
CREATE INDEX idx_{XIAOBAN}_snapshot ON {XIAOBAN}(snapshot_id);
{_SUMS_INDEX_SQL};
CREATE VIRTUAL TABLE {RTREE} USING rtree(id, minx, maxx, miny, maxy);
INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition,
                             scope)
VALUES ('{XIAOBAN}', 'geom', 'gpkg_rtree_index',
        'http://www.geopackage.org/spec120/#extension_rtree', 'write-only');
{RTREE_INSERT_SQL};
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
VALUES ('{XIAOBAN}', 'features', '{XIAOBAN}',
        'forestsink: every 小班 of every loaded forest-resource layer', 4490);
INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name,
                                   srs_id, z, m)
VALUES ('{XIAOBAN}', 'geom', 'MULTIPOLYGON', 4490, 0, 0);
CREATE TABLE {SNAPSHOTS} (
    snapshot_id INTEGER PRIMARY KEY AUTOINCREMENT,
    adcode TEXT NOT NULL,
    year INTEGER NOT NULL,
    batch_id INTEGER NOT NULL REFERENCES batches(batch_id),
    rows_of INTEGER NOT NULL,
    n_xiaoban INTEGER NOT NULL,
    area_mu REAL,
    source_name TEXT,
    source_sha256 TEXT,
    note TEXT,
    valid_from TEXT NOT NULL,
    ended_batch INTEGER REFERENCES batches(batch_id),
    valid_to TEXT,
    end_reason TEXT,
    CHECK ((ended_batch IS NULL) = (valid_to IS NULL))
);
CREATE INDEX idx_{SNAPSHOTS}_year ON {SNAPSHOTS}(year, adcode);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
VALUES ('{SNAPSHOTS}', 'attributes', '{SNAPSHOTS}',
        'forestsink: one row per county-year forest-resource layer load');
CREATE VIEW {INVENTORY_VIEW} AS
SELECT x.fid AS fid, x.geom AS geom, {_VIEW_COLS}, s.snapshot_id AS snapshot_id,
       s.batch_id AS batch_id, s.valid_from AS valid_from
FROM {SNAPSHOTS} s JOIN {XIAOBAN} x ON x.snapshot_id = s.rows_of
WHERE s.ended_batch IS NULL;
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
VALUES ('{INVENTORY_VIEW}', 'features', '{INVENTORY_VIEW}',
        'forestsink: 小班 of the live forest-resource layers', 4490);
INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name,
                                   srs_id, z, m)
VALUES ('{INVENTORY_VIEW}', 'geom', 'MULTIPOLYGON', 4490, 0, 0);
CREATE TRIGGER forestsink_xiaoban_no_delete BEFORE DELETE ON {XIAOBAN}
BEGIN SELECT RAISE(ABORT, 'forestsink store: 小班 rows are never deleted'); END;
CREATE TRIGGER forestsink_xiaoban_no_update BEFORE UPDATE ON {XIAOBAN}
BEGIN SELECT RAISE(ABORT, 'forestsink store: 小班 rows are never overwritten'); END;
CREATE TRIGGER forestsink_snapshots_no_delete BEFORE DELETE ON {SNAPSHOTS}
BEGIN SELECT RAISE(ABORT, 'forestsink store: snapshots are never deleted'); END;
CREATE TRIGGER forestsink_snapshots_no_overwrite BEFORE UPDATE ON {SNAPSHOTS}
WHEN NOT ({_SNAPSHOT_PROTECT}) OR (OLD.ended_batch IS NOT NULL)
BEGIN SELECT RAISE(ABORT, 'forestsink store: snapshots are never overwritten'); END;
"""

_STYLES_SQL = f"""
CREATE TABLE IF NOT EXISTS {STYLES} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    f_table_catalog TEXT(256),
    f_table_schema TEXT(256),
    f_table_name TEXT(256),
    f_geometry_column TEXT(256),
    styleName TEXT(30),
    styleQML TEXT,
    styleSLD TEXT,
    useAsDefault BOOLEAN,
    description TEXT,
    owner TEXT(30),
    ui TEXT(30),
    update_time DATETIME DEFAULT CURRENT_TIMESTAMP
)
"""


def category_qml(
    attribute: str, categories: list[tuple[str, str, tuple[int, int, int]]]
) -> str:
    """Return a QGIS style (QML) filling polygons by the categories of a column.

    Parameters
    ----------
    attribute : str
        The column the categories are values of.
    categories : list of (value, label, (r, g, b))
        One fill colour (0–255) and legend label per value, in legend order.

    Returns
    -------
    str
        The QML document (a ``categorizedSymbol`` renderer).

    Examples
    --------
    >>> qml = category_qml("land_group", [("arbor", "乔木林地 arbor", (0, 99, 0))])
    >>> ET.fromstring(qml).find(".//category").get("label")
    '乔木林地 arbor'
    """
    root = ET.Element("qgis", version="3.28.0", styleCategories="Symbology")
    renderer = ET.SubElement(
        root,
        "renderer-v2",
        type="categorizedSymbol",
        attr=attribute,
        forceraster="0",
        symbollevels="0",
        enableorderby="0",
    )
    cats = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for i, (value, label, colour) in enumerate(categories):
        ET.SubElement(
            cats, "category", symbol=str(i), value=value, label=label, render="true"
        )
        symbol = ET.SubElement(
            symbols,
            "symbol",
            type="fill",
            name=str(i),
            alpha="1",
            clip_to_extent="1",
            force_rhr="0",
        )
        layer = ET.SubElement(
            symbol, "layer", {"class": "SimpleFill", "enabled": "1", "pass": "0"}
        )
        options = ET.SubElement(layer, "Option", type="Map")
        for name, text in (
            ("color", ",".join(map(str, colour)) + ",255"),
            ("outline_color", "90,90,90,255"),
            ("outline_style", "solid"),
            ("outline_width", "0.1"),
            ("outline_width_unit", "MM"),
            ("style", "solid"),
        ):
            ET.SubElement(options, "Option", name=name, type="QString", value=text)
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body


def default_styles() -> list[tuple[str, str, str]]:
    """Return ``(table, column, QML)`` of the store's default QGIS styles."""
    groups = [
        (g, f"{zh} {en}", LAND_GROUP_COLOURS[g]) for g, (zh, en) in LAND_GROUPS.items()
    ]
    types = read_project_types().reset_index()
    projects = [
        (row.project_type, f"{row.name_zh} {row.name_en}", colour)
        for row, colour in zip(
            types.itertuples(), PROJECT_COLOURS[: len(types)], strict=True
        )
    ]
    return [
        (INVENTORY_VIEW, "land_group", category_qml("land_group", groups)),
        (VIEW, "project_type", category_qml("project_type", projects)),
    ]


def table_names(conn) -> set[str]:
    """Return the names of the tables and views of an SQLite connection."""
    return {
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
        )
    }


def _upgrade_batches(conn) -> bool:
    """Let ``batches`` take the kind ``'inventory'`` (in the open transaction).

    SQLite cannot alter a CHECK constraint, so the table is rebuilt by the
    documented procedure (https://sqlite.org/lang_altertable.html, "Making
    Other Kinds Of Table Schema Changes"): a new table with the new
    definition, every row copied with its id, the old one dropped, the new
    one renamed, its indexes and triggers made again, the AUTOINCREMENT
    counter kept. The ``gpkg_contents`` row (by name) stays. Returns True if
    the table was rebuilt.
    """
    sql = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'batches'"
    ).fetchone()[0]
    if "'inventory'" in sql:
        return False
    kinds = ", ".join(f"'{k}'" for k in BATCH_KINDS)
    new_sql, n = re.subn(r"kind\s+IN\s*\([^)]*\)", f"kind IN ({kinds})", sql, count=1)
    if n != 1:  # pragma: no cover - every store has this CHECK
        raise StoreError(
            "批次表结构无法识别，未写入任何内容。/ the batches table of this store has "
            "an unexpected definition; nothing was written. Migrate it to a new "
            "store first."
        )
    extras = conn.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'batches' "
        "AND type IN ('index', 'trigger') AND sql IS NOT NULL"
    ).fetchall()
    seq = conn.execute(
        "SELECT seq FROM sqlite_sequence WHERE name = 'batches'"
    ).fetchone()
    new_sql = re.sub(
        r"^CREATE TABLE\s+\"?batches\"?", "CREATE TABLE batches_new", new_sql
    )
    # the new table refers to itself (undoes, undone_by) under its new
    # name, which RENAME turns back into "batches": nothing refers to the
    # old table, so dropping it breaks no foreign key (SQLite cannot turn
    # foreign keys off inside the write transaction)
    new_sql = re.sub(
        r'REFERENCES\s+"?batches"?\s*\(', "REFERENCES batches_new(", new_sql
    )
    conn.execute(new_sql)
    conn.execute("INSERT INTO batches_new SELECT * FROM batches")
    conn.execute("DROP TABLE batches")
    conn.execute("ALTER TABLE batches_new RENAME TO batches")
    for (statement,) in extras:
        conn.execute(statement)
    if seq is not None:
        conn.execute(
            "UPDATE sqlite_sequence SET seq = ? WHERE name = 'batches'", (seq[0],)
        )
    problems = conn.execute("PRAGMA foreign_key_check(batches)").fetchall()
    if problems:  # pragma: no cover - the rows are copied as they were
        raise StoreError(
            f"升级批次表时外键检查失败：{problems[:3]}；未写入任何内容。/ upgrading "
            "the batches table failed its foreign-key check; nothing was written."
        )
    return True


def ensure_inventory_schema(conn) -> None:
    """Create the inventory tables, view and styles (in the open transaction)."""
    _upgrade_batches(conn)
    names = table_names(conn)
    if XIAOBAN not in names:
        for statement in _split_sql(_INVENTORY_SQL):
            conn.execute(statement)
    else:
        conn.execute(_SUMS_INDEX_SQL)
    if STYLES not in names:
        conn.execute(_STYLES_SQL)
        conn.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, "
            "description) VALUES (?, 'attributes', ?, 'QGIS layer styles')",
            (STYLES, STYLES),
        )
    for table, _column, qml in default_styles():
        have = conn.execute(
            f"SELECT 1 FROM {STYLES} WHERE f_table_name = ?", (table,)
        ).fetchone()
        if have is None:  # a style a user saved from QGIS is kept
            conn.execute(
                f"INSERT INTO {STYLES} (f_table_catalog, f_table_schema, "
                "f_table_name, f_geometry_column, styleName, styleQML, styleSLD, "
                "useAsDefault, description, owner, ui) "
                "VALUES ('', '', ?, 'geom', ?, ?, '', 1, ?, 'forestsink', NULL)",
                (table, f"{table} (forestsink)", qml, "forestsink default style"),
            )


def _split_sql(script: str) -> list[str]:
    """Split a script of CREATE/INSERT statements (triggers end in ``END;``)."""
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        is_trigger = text.upper().startswith("CREATE TRIGGER")
        if (is_trigger and text.endswith("END;")) or (
            not is_trigger and text.endswith(";")
        ):
            statements.append(text)
            current = []
    return statements
