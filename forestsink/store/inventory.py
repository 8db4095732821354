"""Yearly forest-resource layers (森林资源"一张图") in the GeoPackage store.

:class:`InventoryMixin` gives :class:`~forestsink.store.gpkg.GeoPackageStore`
the inventory side of the store (its PostGIS twin is
:mod:`forestsink.store.inventory_pg`), with the semantics of the project side
(:mod:`forestsink.store.base`): nothing is ever deleted or overwritten, every
write is one batch (all or nothing), reads take ``as_of`` (a batch number or
a UTC date/time) and any batch can be undone as a new batch.

Layout (created on the first inventory write, also in older stores)
-------------------------------------------------------------------
``inventory_xiaoban`` (features, EPSG:4490, MultiPolygon)
    Every 小班 of every loaded county-year layer: the columns of
    :data:`forestsink.store.inventory_schema.XIAOBAN_FIELDS` plus ``fid`` and
    ``snapshot_id`` (the load that wrote it), indexed by ``snapshot_id`` and
    spatially (the GeoPackage R-tree, filled in bulk by each batch). Never
    deleted, never updated.
``inventory_snapshots`` (attributes)
    One row per county-year layer load (``snapshot_id``, ``adcode``,
    ``year``, ``batch_id``, ``rows_of``, ``n_xiaoban``, ``area_mu``,
    ``source_name``, ``source_sha256``, ``note``, ``valid_from``,
    ``ended_batch``, ``valid_to``, ``end_reason``). ``rows_of`` is the
    snapshot whose 小班 rows are this snapshot's: its own id for a load; an
    undo that brings an ended snapshot back adds a new snapshot row pointing
    to the old rows (no 小班 is copied). Only the end fields are set, once.
``inventory_current`` (features, a view)
    The 小班 of the live snapshots, for desktop GIS.
``layer_styles`` (attributes, QGIS's table)
    Default categorised styles: ``inventory_current`` by ``land_group`` and
    ``current_projects`` by ``project_type``.

A store made before this layout has a ``batches`` table whose CHECK does not
allow the kind ``'inventory'``; the first inventory write rebuilds that table
(SQLite's documented 12-step procedure: all rows, ids, triggers and indexes
kept) in the same transaction as the write.

CRS Notes
---------
Geometries go in and come out in EPSG:4490 (CGCS2000, degrees) as
MultiPolygons; areas are in mu (1 mu = 10000/15 m²), stock in m³.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import adbc_driver_manager
import adbc_driver_sqlite.dbapi
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from forestsink.reference import read_project_types
from forestsink.store import gpkg as _gpkg
from forestsink.store.inventory_schema import (
    LAND_GROUPS,
    XIAOBAN_COLUMNS,
    XIAOBAN_FIELDS,
)

__all__ = [
    "INVENTORY_VIEW",
    "SNAPSHOTS",
    "XIAOBAN",
    "InventoryMixin",
    "category_qml",
]

XIAOBAN = "inventory_xiaoban"
SNAPSHOTS = "inventory_snapshots"
INVENTORY_VIEW = "inventory_current"
STYLES = "layer_styles"
#: batch kinds a store's ``batches`` table allows
BATCH_KINDS = ("ingest", "withdraw", "undo", "inventory")

SNAPSHOT_FIELDS = {
    "snapshot_id": "INTEGER",
    "adcode": "TEXT",
    "year": "INTEGER",
    "batch_id": "INTEGER",
    "rows_of": "INTEGER",
    "n_xiaoban": "INTEGER",
    "area_mu": "REAL",
    "source_name": "TEXT",
    "source_sha256": "TEXT",
    "note": "TEXT",
    "valid_from": "TEXT",
    "ended_batch": "INTEGER",
    "valid_to": "TEXT",
    "end_reason": "TEXT",
}
_SNAPSHOT_END = ("ended_batch", "valid_to", "end_reason")
#: columns of :meth:`InventoryMixin.inventory_snapshots`
SNAPSHOT_COLUMNS = [*SNAPSHOT_FIELDS, "batch_kind", "batch_user"]
#: columns of :meth:`InventoryMixin.inventory_sums` besides the ``by`` ones
SUM_COLUMNS = [
    "n_xiaoban",
    "area_mu",
    "area_reported_mu",
    "stock_per_ha_m3",
    "n_per_ha",
    "stock_total_m3",
    "n_total",
]
TRANSFER_COLUMNS = [
    "adcode",
    "land_group_before",
    "land_group",
    "change_reason",
    "area_mu",
    "n_xiaoban",
]
#: 小班 rows turned into Python objects at a time while writing
_CHUNK = 100_000
_PANDAS_TYPES = {"TEXT": "string", "INTEGER": "Int64", "REAL": "float64"}

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


# --------------------------------------------------------------------------
# schema
# --------------------------------------------------------------------------

RTREE = f"rtree_{XIAOBAN}_geom"
_RTREE_TRIGGER = f"{RTREE}_insert"
#: GDAL's trigger that indexes a row another program inserts (rows are never
#: updated or deleted, so its update and delete triggers are not needed)
_RTREE_INSERT_SQL = (
    f'CREATE TRIGGER "{_RTREE_TRIGGER}" AFTER INSERT ON "{XIAOBAN}" '
    'WHEN (new."geom" NOT NULL AND NOT ST_IsEmpty(NEW."geom")) BEGIN '
    f'INSERT OR REPLACE INTO "{RTREE}" VALUES (NEW."fid", ST_MinX(NEW."geom"), '
    'ST_MaxX(NEW."geom"), ST_MinY(NEW."geom"), ST_MaxY(NEW."geom")); END'
)
_XIAOBAN_COLS = ", ".join(f'"{c}" {t}' for c, t in XIAOBAN_FIELDS.items())
_SNAPSHOT_PROTECT = " AND ".join(
    f'OLD."{c}" IS NEW."{c}"' for c in SNAPSHOT_FIELDS if c not in _SNAPSHOT_END
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
{_RTREE_INSERT_SQL};
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
        (_gpkg.VIEW, "project_type", category_qml("project_type", projects)),
    ]


def _tables(conn) -> set[str]:
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
        raise _gpkg.StoreError(
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
        raise _gpkg.StoreError(
            f"升级批次表时外键检查失败：{problems[:3]}；未写入任何内容。/ upgrading "
            "the batches table failed its foreign-key check; nothing was written."
        )
    return True


def ensure_inventory_schema(conn) -> None:
    """Create the inventory tables, view and styles (in the open transaction)."""
    _upgrade_batches(conn)
    names = _tables(conn)
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


def _live(spec, alias: str = "s") -> tuple[str, tuple]:
    """Return the SQL condition: snapshot *alias* is live as of *spec*."""
    if spec is None:
        return f"{alias}.ended_batch IS NULL", ()
    if spec[0] == "batch":
        return (
            f"{alias}.batch_id <= ? AND ({alias}.ended_batch IS NULL "
            f"OR {alias}.ended_batch > ?)",
            (spec[1], spec[1]),
        )
    return (
        f"{alias}.valid_from <= ? AND "
        f"({alias}.valid_to IS NULL OR {alias}.valid_to > ?)",
        (spec[1], spec[1]),
    )


def _check_columns(names, *, what: str) -> list[str]:
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in XIAOBAN_FIELDS]
    if unknown:
        raise _gpkg.StoreError(
            f"{what}：未知的小班字段 {unknown}。/ {what}: unknown 小班 column(s) "
            f"{unknown}; use names from {list(XIAOBAN_COLUMNS)}."
        )
    return names


def _layer_text(layer: dict) -> str:
    return (
        f"县 {layer.get('adcode')} 年度 {layer.get('year')} 文件 "
        f"{layer.get('source_name')}"
    )


def _layer_en(layer: dict) -> str:
    return (
        f"county {layer.get('adcode')}, year {layer.get('year')}, file "
        f"{layer.get('source_name')}"
    )


def _check_layers(layers) -> list[dict]:
    """Check the layers before the store is touched; return them normalised."""
    StoreError = _gpkg.StoreError
    checked, seen = [], {}
    for layer in layers:
        frame = layer["frame"]
        adcode, year = str(layer["adcode"]), int(layer["year"])
        item = {**layer, "adcode": adcode, "year": year}
        where_zh, where_en = _layer_text(item), _layer_en(item)
        if (adcode, year) in seen:
            raise StoreError(
                f"{where_zh}：同一县同一年度在本次载入中出现两次（另一个文件 "
                f"{seen[adcode, year]}），未写入任何内容。请每个县每年只给一个图层。"
                f" / {where_en}: the same county and year twice in one load (also "
                f"{seen[adcode, year]}); nothing was written. Give one layer per "
                "county and year."
            )
        seen[adcode, year] = layer.get("source_name")
        missing = [c for c in XIAOBAN_COLUMNS if c not in frame.columns]
        if missing:
            raise StoreError(
                f"{where_zh}：缺少字段 {missing}，未写入任何内容。/ {where_en}: "
                f"the frame lacks column(s) {missing}; nothing was written. Read "
                "the layer with forestsink's inventory reader."
            )
        if len(frame) and (frame.crs is None or frame.crs.to_epsg() != _gpkg.SRS_ID):
            raise StoreError(
                f"{where_zh}：坐标系应为 EPSG:4490（当前 {frame.crs}），未写入任何"
                f"内容。/ {where_en}: the frame is in {frame.crs}, not EPSG:4490; "
                "nothing was written. Reproject it (frame.to_crs(4490))."
            )
        other_county = frame["adcode"].astype("string") != adcode
        other_year = pd.to_numeric(frame["year"], errors="coerce") != year
        bad = (other_county.fillna(True) | other_year.fillna(True)).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            row = frame.iloc[i]
            raise StoreError(
                f"{where_zh}：{int(bad.sum())} 个小班的县代码或年度与图层不符（如第 "
                f"{i + 1} 行：{row['adcode']}/{row['year']}），未写入任何内容。"
                f"/ {where_en}: {int(bad.sum())} 小班 have another county code or "
                f"year than the layer (first: row {i + 1}, {row['adcode']}/"
                f"{row['year']}); nothing was written. Split the file by county "
                "and year, or give the layer's county and year."
            )
        dup = frame["key"].duplicated(keep=False)
        if dup.any():
            keys = sorted(frame.loc[dup, "key"].astype(str).unique())[:5]
            raise StoreError(
                f"{where_zh}：小班编号重复 {keys}，未写入任何内容。/ {where_en}: "
                f"小班 key(s) {keys} occur more than once; nothing was written. "
                "Fix the layer so each 小班 appears once."
            )
        kinds = frame.geometry.geom_type
        wrong = ~kinds.isin(["Polygon", "MultiPolygon"]).to_numpy()
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            raise StoreError(
                f"{where_zh}：第 {i + 1} 行的几何不是面（{kinds.iloc[i]}），未写入"
                f"任何内容。/ {where_en}: row {i + 1} has geometry "
                f"{kinds.iloc[i]}, not a polygon; nothing was written. Repair or "
                "drop it in the layer."
            )
        checked.append(item)
    return checked


def _already_loaded(layer: dict, live) -> Exception:
    """Refuse a county-year that has a live layer (naming its batch and file)."""
    return _gpkg.StoreError(
        f"{_layer_text(layer)}：该县该年度已由批次 {live[1]}（文件 {live[2]}）载入，"
        "未写入任何内容。用 --replace 作为新版本载入，旧版本保留在历史中。/ "
        f"{_layer_en(layer)}: this county and year is already loaded by batch "
        f"{live[1]} (file {live[2]}); nothing was written. --replace loads the new "
        "one as a new version, keeping the old one in history."
    )


def _undo_refused(batch_id: int, later: list) -> Exception:
    """Refuse an undo whose layers later batches ended or replaced."""
    shown = ", ".join(f"{a}/{y} (batch {b})" for a, y, b in later[:5])
    return _gpkg.StoreError(
        f"批次 {batch_id} 无法撤销：其图层已被之后的批次替换或撤销（{shown}）；"
        f"请先撤销那些批次（从最新的开始）。/ batch {batch_id} cannot be "
        f"undone: later batches ended or replaced its layers ({shown}); "
        "undo those first (newest first)."
    )


def undo_plan(conn, snapshots: str, batch_id: int, *, mark: str) -> tuple[list, list]:
    """Return the snapshots *batch_id* created and ended, or refuse the undo.

    Shared by both back ends (*snapshots*: the table's qualified name;
    *mark*: the driver's parameter mark, ``?`` or ``%s``). Refused when a
    later batch ended or replaced one of them.
    """
    created = conn.execute(
        "SELECT snapshot_id, adcode, year, ended_batch, n_xiaoban "
        f"FROM {snapshots} WHERE batch_id = {mark} ORDER BY snapshot_id",
        (batch_id,),
    ).fetchall()
    ended = conn.execute(
        f"SELECT snapshot_id, adcode, year, n_xiaoban FROM {snapshots} "
        f"WHERE ended_batch = {mark} ORDER BY snapshot_id",
        (batch_id,),
    ).fetchall()
    later = [(a, y, e) for _, a, y, e, _ in created if e is not None]
    for _, adcode, year, _ in ended:
        row = conn.execute(
            f"SELECT batch_id FROM {snapshots} WHERE adcode = {mark} AND year = "
            f"{mark} AND ended_batch IS NULL AND batch_id <> {mark}",
            (adcode, year, batch_id),
        ).fetchone()
        if row is not None:
            later.append((adcode, year, row[0]))
    if later:
        raise _undo_refused(batch_id, later)
    return created, ended


def _summary(layer: dict, snapshot_id: int, n_xiaoban: int) -> dict:
    """Return one item of the lists :meth:`InventoryMixin.write_inventory` returns."""
    return {
        "adcode": layer["adcode"],
        "year": layer["year"],
        "snapshot_id": int(snapshot_id),
        "n_xiaoban": int(n_xiaoban),
        "source_name": layer.get("source_name"),
    }


def _arrow_chunks(frame, *, geometry: bool = True):
    """Yield a layer's rows as Arrow tables (``geom`` blob, then the fields)."""
    types = {"TEXT": pa.string(), "INTEGER": pa.int64(), "REAL": pa.float64()}
    for at in range(0, len(frame), _CHUNK):
        chunk = frame.iloc[at : at + _CHUNK]
        columns = {}
        if geometry:
            columns["geom"] = _gpkg.to_gpkg_blobs(chunk.geometry.values)
        for name, kind in XIAOBAN_FIELDS.items():
            values = chunk[name]
            if values.dtype != _PANDAS_TYPES[kind]:
                values = values.astype(_PANDAS_TYPES[kind])
            columns[name] = pa.array(values, types[kind], from_pandas=True)
        yield pa.table(columns)


def _stage_layers(layers: list[dict], path: Path) -> None:
    """Write each layer's rows to table ``layer_<i>`` of a private SQLite file.

    Done before the store is locked, by the ADBC SQLite driver (Arrow to
    SQLite in C, a chunk of rows at a time); the write transaction then copies
    them with ``INSERT … SELECT`` (see :mod:`forestsink.store.gpkg`).
    """
    with adbc_driver_sqlite.dbapi.connect(str(path)) as conn:
        with conn.cursor() as cursor:
            for i, layer in enumerate(layers):
                for table in _arrow_chunks(layer["frame"]):
                    cursor.adbc_ingest(f"layer_{i}", table, mode="create_append")
        conn.commit()


# --------------------------------------------------------------------------
# the mixin
# --------------------------------------------------------------------------


class InventoryMixin:
    """Forest-resource layers (一张图) in a :class:`GeoPackageStore`.

    Needs the store's ``_read``, ``transaction``, ``_new_batch``, ``exists``
    and ``path``.
    """

    # ---- writes ---------------------------------------------------------------
    def write_inventory(
        self,
        layers: list[dict],
        *,
        replace: bool = False,
        user: str | None = None,
        now: str | None = None,
        note: str | None = None,
    ) -> dict:
        """Load county-year forest-resource layers as one batch (all or nothing).

        Parameters
        ----------
        layers : list of dict
            Each ``{adcode, year, frame, source_name, source_sha256, note}``:
            ``frame`` a GeoDataFrame (EPSG:4490) with
            :data:`~forestsink.store.inventory_schema.XIAOBAN_COLUMNS` and
            (Multi)Polygon geometry; every row of the county and year given.
        replace : bool, optional (default: False)
            Load a county-year that already has a live layer as a new version
            (the old one is ended, ``end_reason`` "replaced by batch N", and
            kept in history). A layer with the live one's SHA-256 is skipped.
        user : str, optional (default: the login name)
            Who loaded it.
        now : str, optional (default: the current time)
            ISO time of the batch (UTC).
        note : str, optional (default: None)
            Free text kept with the batch.

        Returns
        -------
        dict
            ``batch_id`` (None when nothing was written), and ``loaded``,
            ``replaced``, ``unchanged``: lists of dicts with ``adcode``,
            ``year``, ``snapshot_id``, ``n_xiaoban``, ``source_name``.

        Raises
        ------
        StoreError
            Two layers of one county-year, a county-year already loaded
            (without *replace*), rows of another county or year, missing
            columns, another CRS: nothing is written.

        Notes
        -----
        The batch (kind ``'inventory'``) records the file names in
        ``source_name``, the 小班 written in ``n_added`` and those of ended
        layers in ``n_withdrawn``; each snapshot keeps its own file's SHA-256
        (the batch none, so :meth:`find_batch_by_sha`, which is for project
        deliveries, never finds it). The rows are staged in a private SQLite
        file (ADBC, before the store is locked) and copied in SQL.

        CRS Notes: geometries are stored as given, in EPSG:4490, Polygons as
        one-part MultiPolygons; ``area_mu`` is the frame's (mu).

        Examples
        --------
        >>> store.write_inventory(  # doctest: +SKIP
        ...     [{"adcode": "500101", "year": 2020, "frame": xiaoban,
        ...       "source_name": "500101_2020.shp", "source_sha256": sha,
        ...       "note": None}], user="li")["loaded"][0]["n_xiaoban"]
        1532
        """
        layers = _check_layers(layers)
        if not layers:
            return {"batch_id": None, "loaded": [], "replaced": [], "unchanged": []}
        try:
            folder = Path(tempfile.mkdtemp(prefix="forestsink-inventory-"))
        except OSError as err:
            raise _gpkg._staging_error(err) from err
        try:  # the staging file goes whatever happens
            staged = folder / "staged.sqlite"
            try:
                _stage_layers(layers, staged)
            except (OSError, adbc_driver_manager.Error) as err:
                raise _gpkg._staging_error(err) from err
            self._writing.staged, self._writing.rows = staged, None
            try:
                return self._land_layers(
                    layers, replace=replace, user=user, now=now, note=note
                )
            finally:
                self._writing.staged = None
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _land_layers(self, layers, *, replace, user, now, note) -> dict:
        """Land staged layers (``staged.layer_<i>``) as one batch."""
        result: dict = {"batch_id": None, "loaded": [], "replaced": [], "unchanged": []}
        with self.transaction() as conn:
            have = XIAOBAN in _tables(conn)
            todo = []
            for i, layer in enumerate(layers):
                live = None
                if have:
                    live = conn.execute(
                        f"SELECT s.snapshot_id, s.batch_id, s.source_name, "
                        f"s.source_sha256, s.n_xiaoban FROM {SNAPSHOTS} s "
                        "WHERE s.adcode = ? AND s.year = ? AND s.ended_batch IS NULL",
                        (layer["adcode"], layer["year"]),
                    ).fetchone()
                if live is not None and not replace:
                    raise _already_loaded(layer, live)
                if (
                    live is not None
                    and live[3]
                    and live[3] == layer.get("source_sha256")
                ):
                    result["unchanged"].append(
                        {**_summary(layer, live[0], live[4]), "source_name": live[2]}
                    )
                    continue
                todo.append((i, layer, live))
            if not todo:
                return result  # nothing changed: the transaction wrote nothing
            ensure_inventory_schema(conn)
            batch_id, now = self._new_batch(
                conn,
                kind="inventory",
                source_name="; ".join(str(t[1].get("source_name")) for t in todo),
                note=note,
                user=user,
                now=now,
            )
            n_added = n_ended = 0
            next_id = conn.execute(
                f"SELECT COALESCE(MAX(snapshot_id), 0) FROM {SNAPSHOTS}"
            ).fetchone()[0]
            seq = conn.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = ?", (SNAPSHOTS,)
            ).fetchone()
            next_id = max(next_id, seq[0] if seq else 0)
            boxes: list[np.ndarray] = []  # each new row's bounds, per layer
            first_fid = conn.execute(
                f"SELECT MAX(COALESCE((SELECT MAX(fid) FROM {XIAOBAN}), 0), "
                "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?), 0))",
                (XIAOBAN,),
            ).fetchone()[0]
            # the R-tree trigger would call a Python function per row and
            # envelope: the new rows are indexed in bulk instead (_index_xiaoban)
            conn.execute(f'DROP TRIGGER IF EXISTS "{_RTREE_TRIGGER}"')
            cols = ", ".join(["geom", *(f'"{c}"' for c in XIAOBAN_COLUMNS)])
            for i, layer, live in todo:
                frame = layer["frame"]
                if live is not None:
                    conn.execute(
                        f"UPDATE {SNAPSHOTS} SET ended_batch = ?, valid_to = ?, "
                        "end_reason = ? WHERE snapshot_id = ?",
                        (batch_id, now, f"replaced by batch {batch_id}", live[0]),
                    )
                    n_ended += live[4]
                    result["replaced"].append(
                        {**_summary(layer, live[0], live[4]), "source_name": live[2]}
                    )
                next_id += 1
                area = (
                    float(pd.to_numeric(frame["area_mu"]).sum()) if len(frame) else 0.0
                )
                conn.execute(
                    f"INSERT INTO {SNAPSHOTS} (snapshot_id, adcode, year, batch_id, "
                    "rows_of, n_xiaoban, area_mu, source_name, source_sha256, note, "
                    "valid_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        next_id,
                        layer["adcode"],
                        layer["year"],
                        batch_id,
                        next_id,
                        len(frame),
                        area,
                        layer.get("source_name"),
                        layer.get("source_sha256"),
                        layer.get("note"),
                        now,
                    ),
                )
                if len(frame):
                    conn.execute(
                        f"INSERT INTO {XIAOBAN} ({cols}, snapshot_id) "
                        f"SELECT {cols}, ? FROM staged.layer_{i} ORDER BY rowid",
                        (next_id,),
                    )
                    boxes.append(shapely.bounds(np.asarray(frame.geometry.values)))
                n_added += len(frame)
                result["loaded"].append(_summary(layer, next_id, len(frame)))
            conn.execute(
                "UPDATE batches SET n_added = ?, n_withdrawn = ? WHERE batch_id = ?",
                (n_added, n_ended, batch_id),
            )
            _index_xiaoban(conn, first_fid, boxes)
            _touch_inventory(conn, now, [b for b in boxes if len(b)])
            result["batch_id"] = batch_id
        return result

    # ---- undo (called by GeoPackageStore.undo, inside its transaction) --------
    def _inventory_undo_plan(self, conn, batch_id: int) -> tuple[list, list]:
        """Return the snapshots *batch_id* created and ended, or refuse.

        Refused when a later batch ended or replaced one of them.
        """
        if SNAPSHOTS not in _tables(conn):
            return [], []
        return undo_plan(conn, SNAPSHOTS, batch_id, mark="?")

    def _inventory_undo_apply(
        self, conn, plan, *, new_id: int, now: str, batch_id: int
    ) -> tuple[int, int]:
        """End and restore snapshots for an undo; return (小班 restored, ended)."""
        created, ended = plan
        n_ended = n_restored = 0
        for snapshot_id, *_rest, n in created:
            conn.execute(
                f"UPDATE {SNAPSHOTS} SET ended_batch = ?, valid_to = ?, end_reason = ? "
                "WHERE snapshot_id = ?",
                (new_id, now, f"undo of batch {batch_id}", snapshot_id),
            )
            n_ended += n
        for snapshot_id, *_rest, n in ended:
            conn.execute(
                f"INSERT INTO {SNAPSHOTS} (adcode, year, batch_id, rows_of, n_xiaoban, "
                "area_mu, source_name, source_sha256, note, valid_from) "
                "SELECT adcode, year, ?, rows_of, n_xiaoban, area_mu, source_name, "
                f"source_sha256, note, ? FROM {SNAPSHOTS} WHERE snapshot_id = ?",
                (new_id, now, snapshot_id),
            )
            n_restored += n
        if created or ended:
            _touch_inventory(conn, now, [])
        return n_restored, n_ended

    # ---- reads ----------------------------------------------------------------
    def _inventory_ready(self) -> bool:
        if not self.exists:
            return False
        with self._read() as conn:
            return SNAPSHOTS in _tables(conn)

    def inventory_snapshots(
        self, *, as_of=None, year=None, adcode=None, history: bool = False
    ) -> pd.DataFrame:
        """County-year layer loads: live ones (as of), or every one ever.

        Parameters
        ----------
        as_of : int or str, optional (default: None, now)
            A batch number or a date/ISO time (UTC; a bare date is the end of
            that day). Ignored with *history*.
        year, adcode : optional (default: all)
            Only this year / county.
        history : bool, optional (default: False)
            Every snapshot ever, ended ones included.

        Returns
        -------
        pandas.DataFrame
            :data:`SNAPSHOT_COLUMNS` (``area_mu`` in mu), ordered by
            ``adcode``, ``year``, ``snapshot_id``.
        """
        spec = _gpkg.parse_as_of(as_of)
        if not self._inventory_ready():
            return pd.DataFrame({c: [] for c in SNAPSHOT_COLUMNS})
        where, params = ("1", ()) if history else _live(spec)
        if year is not None:
            where, params = f"{where} AND s.year = ?", (*params, int(year))
        if adcode is not None:
            where, params = f"{where} AND s.adcode = ?", (*params, str(adcode))
        with self._read() as conn:
            return pd.read_sql_query(
                f"SELECT s.*, b.kind AS batch_kind, b.user AS batch_user "
                f"FROM {SNAPSHOTS} s JOIN batches b ON b.batch_id = s.batch_id "
                f"WHERE {where} ORDER BY s.adcode, s.year, s.snapshot_id",
                conn,
                params=params,
            )[SNAPSHOT_COLUMNS].astype({"ended_batch": "Int64"})

    def inventory_years(self, *, as_of=None) -> list[int]:
        """Years with at least one live layer (as of), ascending."""
        spec = _gpkg.parse_as_of(as_of)
        if not self._inventory_ready():
            return []
        where, params = _live(spec)
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT DISTINCT s.year FROM {SNAPSHOTS} s WHERE {where} "
                "ORDER BY s.year",
                params,
            ).fetchall()
        return [int(r[0]) for r in rows]

    def _live_rows_sql(self, year, as_of, adcodes=None) -> tuple[str, tuple]:
        """FROM/WHERE of the 小班 ``x`` of the live layers of one year."""
        where, params = _live(_gpkg.parse_as_of(as_of))
        where, params = f"{where} AND s.year = ?", (*params, int(year))
        if adcodes is not None:
            codes = [
                str(a) for a in ([adcodes] if isinstance(adcodes, str) else adcodes)
            ]
            where = f"{where} AND s.adcode IN ({', '.join('?' * len(codes))})"
            params = (*params, *codes)
        return (
            f"FROM {SNAPSHOTS} s JOIN {XIAOBAN} x ON x.snapshot_id = s.rows_of "
            f"WHERE {where}",
            params,
        )

    def inventory_xiaoban(
        self, year: int, *, as_of=None, adcodes=None, columns=None, geometry=True
    ) -> gpd.GeoDataFrame | pd.DataFrame:
        """Return the 小班 of one year's live layers (as of), ordered by key.

        Parameters
        ----------
        year : int
            The year the layers describe.
        as_of : int or str, optional (default: None, now)
            A batch number or a date/ISO time (UTC).
        adcodes : str or list of str, optional (default: every county)
            Only these counties.
        columns : list of str, optional (default: every stored column)
            Names from :data:`~forestsink.store.inventory_schema.XIAOBAN_FIELDS`.
        geometry : bool, optional (default: True)
            Return a GeoDataFrame with the geometry, else a DataFrame.

        Returns
        -------
        geopandas.GeoDataFrame or pandas.DataFrame
            Columns as asked (areas in mu, volumes in m³/ha and m³); EPSG:4490.
        """
        names = _check_columns(
            XIAOBAN_COLUMNS if columns is None else columns, what="inventory_xiaoban"
        )
        picked = ", ".join(f'x."{c}"' for c in names)
        if not self._inventory_ready():
            empty = pd.DataFrame(
                {
                    c: pd.Series([], dtype=_PANDAS_TYPES[XIAOBAN_FIELDS[c]])
                    for c in names
                }
            )
            if geometry:
                return gpd.GeoDataFrame(empty, geometry=[], crs=_gpkg.SRS_ID)
            return empty
        body, params = self._live_rows_sql(year, as_of, adcodes)
        sql = f"SELECT {picked}{', x.geom' if geometry else ''} {body} ORDER BY x.key"
        with self._read() as conn:
            df = pd.read_sql_query(sql, conn, params=params)
        if not geometry:
            return df
        blobs = df.pop("geom")
        geoms = _gpkg.from_gpkg_blobs(blobs) if len(df) else []
        return gpd.GeoDataFrame(df, geometry=list(geoms), crs=_gpkg.SRS_ID)

    def inventory_sums(
        self, year: int, *, as_of=None, by=("adcode", "land_group")
    ) -> pd.DataFrame:
        """Areas, counts and stock of one year's live layers, summed in SQL.

        Parameters
        ----------
        year : int
            The year the layers describe.
        as_of : int or str, optional (default: None, now)
            A batch number or a date/ISO time (UTC).
        by : sequence of str, optional (default: ("adcode", "land_group"))
            Group columns, names from
            :data:`~forestsink.store.inventory_schema.XIAOBAN_FIELDS`; ``()`` for
            one total row.

        Returns
        -------
        pandas.DataFrame
            The *by* columns, then ``n_xiaoban``, ``area_mu`` (ellipsoidal,
            mu), ``area_reported_mu`` (MIAN_JI in mu; NaN if none reported),
            ``stock_per_ha_m3`` (Σ volume_m3_ha × area_mu / 15 over the rows
            with a per-hectare volume, m³), ``n_per_ha`` (those rows),
            ``stock_total_m3`` (Σ stock_m3 over rows with no per-hectare
            volume but a total, m³), ``n_total`` (those rows). Ordered by
            *by*.
        """
        names = _check_columns(by, what="inventory_sums by")
        if not self._inventory_ready():
            return pd.DataFrame({c: [] for c in [*names, *SUM_COLUMNS]})
        body, params = self._live_rows_sql(year, as_of)
        group = ", ".join(f'x."{c}"' for c in names)
        total_only = "x.volume_m3_ha IS NULL AND x.stock_m3 IS NOT NULL"
        sql = (
            f"SELECT {group + ', ' if names else ''}COUNT(*) AS n_xiaoban, "
            "TOTAL(x.area_mu) AS area_mu, SUM(x.area_reported_mu) AS area_reported_mu, "
            "TOTAL(x.volume_m3_ha * x.area_mu / 15.0) AS stock_per_ha_m3, "
            "COUNT(x.volume_m3_ha) AS n_per_ha, "
            f"TOTAL(CASE WHEN {total_only} THEN x.stock_m3 END) AS stock_total_m3, "
            f"TOTAL({total_only}) AS n_total {body}"
        )
        if names:
            sql += f" GROUP BY {group} ORDER BY {group}"
        with self._read() as conn:
            df = pd.read_sql_query(sql, conn, params=params)
        if not names and not df["n_xiaoban"].iloc[0]:
            df = df.iloc[:0]
        df["n_total"] = df["n_total"].astype("int64")
        return df

    def inventory_transfer(self, year: int, *, as_of=None) -> pd.DataFrame:
        """Land-group transfers recorded in one year's layers (Q_DI_LEI → DI_LEI).

        Parameters
        ----------
        year : int
            The year the layers describe.
        as_of : int or str, optional (default: None, now)
            A batch number or a date/ISO time (UTC).

        Returns
        -------
        pandas.DataFrame
            ``adcode``, ``land_group_before``, ``land_group``,
            ``change_reason``, ``area_mu`` (mu), ``n_xiaoban``: the rows with
            a previous class, grouped in SQL, ordered by the group columns.
        """
        if not self._inventory_ready():
            return pd.DataFrame({c: [] for c in TRANSFER_COLUMNS})
        body, params = self._live_rows_sql(year, as_of)
        group = "x.adcode, x.land_group_before, x.land_group, x.change_reason"
        sql = (
            "SELECT x.adcode AS adcode, x.land_group_before AS land_group_before, "
            "x.land_group AS land_group, x.change_reason AS change_reason, "
            f"TOTAL(x.area_mu) AS area_mu, COUNT(*) AS n_xiaoban {body} "
            f"AND x.land_group_before IS NOT NULL GROUP BY {group} ORDER BY {group}"
        )
        with self._read() as conn:
            return pd.read_sql_query(sql, conn, params=params)


def _index_xiaoban(conn, first_fid: int, boxes: list[np.ndarray]) -> None:
    """Add the rows after *first_fid* to the R-tree; restore its trigger.

    *boxes* are the new rows' bounds (``minx, miny, maxx, maxy``, EPSG:4490)
    in insertion order; rows without a shape are not indexed (as GDAL).
    """
    bounds = np.concatenate(boxes) if boxes else np.empty((0, 4))
    last = conn.execute(f"SELECT COALESCE(MAX(fid), 0) FROM {XIAOBAN}").fetchone()[0]
    if last != first_fid + len(bounds):  # pragma: no cover - fids are sequential
        raise _gpkg.StoreError(
            f"{XIAOBAN}: new rows numbered {first_fid + 1}..{last}, expected "
            f"{len(bounds)}; nothing was written."
        )
    fids = first_fid + 1 + np.arange(len(bounds))
    shaped = ~np.isnan(bounds).any(axis=1)
    if shaped.any():
        _gpkg._index_versions(conn, fids[shaped], bounds[shaped], rtree=RTREE)
    conn.execute(_RTREE_INSERT_SQL)


def _touch_inventory(conn, now: str, bounds: list) -> None:
    """Record the change time, and grow the inventory layers' extent."""
    conn.execute(
        "UPDATE gpkg_contents SET last_change = ? WHERE table_name IN (?, ?, ?, ?)",
        (now, XIAOBAN, SNAPSHOTS, INVENTORY_VIEW, "batches"),
    )
    if not bounds:
        return
    row = conn.execute(
        "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?",
        (XIAOBAN,),
    ).fetchone()
    both = np.vstack(bounds)
    if row is not None and None not in row:
        both = np.vstack([both, np.asarray(row, dtype=np.float64)])
    extent = (*np.nanmin(both[:, :2], axis=0), *np.nanmax(both[:, 2:], axis=0))
    conn.execute(
        "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? "
        "WHERE table_name IN (?, ?)",
        (*(float(v) for v in extent), XIAOBAN, INVENTORY_VIEW),
    )
