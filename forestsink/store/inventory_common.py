"""What both back ends' inventory sides share: names, columns and checks.

The GeoPackage side (:mod:`forestsink.store.inventory`) and the PostGIS side
(:mod:`forestsink.store.inventory_pg`) of the yearly forest-resource layers
(森林资源"一张图") use the same table names, snapshot fields and result
columns, check the layers the same way before the store is touched
(:func:`check_layers`), refuse the same undos (:func:`undo_plan`) and turn a
layer's rows into the same Arrow tables (:func:`arrow_chunks`).

CRS Notes
---------
Layers are EPSG:4490 (CGCS2000, degrees); areas in mu, stock in m³.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from forestsink.errors import StoreError
from forestsink.store.common import BATCH_KINDS, SRS_ID
from forestsink.store.gpkg_codec import to_gpkg_blobs
from forestsink.store.inventory_schema import XIAOBAN_COLUMNS, XIAOBAN_FIELDS

__all__ = [
    "BATCH_KINDS",
    "CHUNK",
    "INVENTORY_VIEW",
    "PANDAS_TYPES",
    "SNAPSHOTS",
    "SNAPSHOT_COLUMNS",
    "SNAPSHOT_END",
    "SNAPSHOT_FIELDS",
    "STYLES",
    "SUM_COLUMNS",
    "TRANSFER_COLUMNS",
    "XIAOBAN",
    "already_loaded",
    "arrow_chunks",
    "check_columns",
    "check_layers",
    "summary",
    "undo_plan",
]

XIAOBAN = "inventory_xiaoban"
SNAPSHOTS = "inventory_snapshots"
INVENTORY_VIEW = "inventory_current"
STYLES = "layer_styles"
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
#: the fields of a snapshot set once, when it ends
SNAPSHOT_END = ("ended_batch", "valid_to", "end_reason")
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
CHUNK = 100_000
PANDAS_TYPES = {"TEXT": "string", "INTEGER": "Int64", "REAL": "float64"}


def check_columns(names, *, what: str) -> list[str]:
    """Return *names* (one or several) if all are 小班 columns, else refuse.

    *what* names the caller in the message (``inventory_sums by``).
    """
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in XIAOBAN_FIELDS]
    if unknown:
        raise StoreError(
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


def check_layers(layers) -> list[dict]:
    """Check the layers before the store is touched; return them normalised."""
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
        if len(frame) and (frame.crs is None or frame.crs.to_epsg() != SRS_ID):
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


def already_loaded(layer: dict, live) -> Exception:
    """Refuse a county-year that has a live layer (naming its batch and file)."""
    return StoreError(
        f"{_layer_text(layer)}：该县该年度已由批次 {live[1]}（文件 {live[2]}）载入，"
        "未写入任何内容。用 replace=True 作为新版本载入，旧版本保留在历史中。/ "
        f"{_layer_en(layer)}: this county and year is already loaded by batch "
        f"{live[1]} (file {live[2]}); nothing was written. replace=True loads the "
        "new one as a new version, keeping the old one in history.",
        option="replace",
    )


def _undo_refused(batch_id: int, later: list) -> Exception:
    """Refuse an undo whose layers later batches ended or replaced."""
    shown = ", ".join(f"{a}/{y} (batch {b})" for a, y, b in later[:5])
    return StoreError(
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


def summary(layer: dict, snapshot_id: int, n_xiaoban: int) -> dict:
    """Return one item of the lists :meth:`InventoryMixin.write_inventory` returns."""
    return {
        "adcode": layer["adcode"],
        "year": layer["year"],
        "snapshot_id": int(snapshot_id),
        "n_xiaoban": int(n_xiaoban),
        "source_name": layer.get("source_name"),
    }


def arrow_chunks(frame, *, geometry: bool = True):
    """Yield a layer's rows as Arrow tables (``geom`` blob, then the fields)."""
    types = {"TEXT": pa.string(), "INTEGER": pa.int64(), "REAL": pa.float64()}
    for at in range(0, len(frame), CHUNK):
        chunk = frame.iloc[at : at + CHUNK]
        columns = {}
        if geometry:
            columns["geom"] = to_gpkg_blobs(chunk.geometry.values)
        for name, kind in XIAOBAN_FIELDS.items():
            values = chunk[name]
            if values.dtype != PANDAS_TYPES[kind]:
                values = values.astype(PANDAS_TYPES[kind])
            columns[name] = pa.array(values, types[kind], from_pandas=True)
        yield pa.table(columns)
