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

The module holds the mixin; the tables' layout and styles are in
:mod:`.inventory_layout`, what both back ends share in
:mod:`.inventory_common`. Their public names are importable from here too.

CRS Notes
---------
Geometries go in and come out in EPSG:4490 (CGCS2000, degrees) as
MultiPolygons; areas are in mu (1 mu = 10000/15 m²), stock in m³.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import adbc_driver_manager
import adbc_driver_sqlite.dbapi
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from forestsink.errors import StoreError
from forestsink.store.common import SRS_ID, parse_as_of, staging_error
from forestsink.store.gpkg_codec import from_gpkg_blobs
from forestsink.store.inventory_common import (
    BATCH_KINDS,
    INVENTORY_VIEW,
    PANDAS_TYPES,
    SNAPSHOT_COLUMNS,
    SNAPSHOT_FIELDS,
    SNAPSHOTS,
    STYLES,
    SUM_COLUMNS,
    TRANSFER_COLUMNS,
    XIAOBAN,
    already_loaded,
    arrow_chunks,
    check_columns,
    check_layers,
    summary,
    undo_plan,
)
from forestsink.store.inventory_layout import (
    LAND_GROUP_COLOURS,
    PROJECT_COLOURS,
    RTREE,
    RTREE_INSERT_SQL,
    RTREE_TRIGGER,
    category_qml,
    default_styles,
    ensure_inventory_schema,
    table_names,
)
from forestsink.store.inventory_schema import XIAOBAN_COLUMNS, XIAOBAN_FIELDS
from forestsink.store.rtree import index_rtree

__all__ = [
    "BATCH_KINDS",
    "INVENTORY_VIEW",
    "LAND_GROUP_COLOURS",
    "PROJECT_COLOURS",
    "RTREE",
    "SNAPSHOTS",
    "SNAPSHOT_COLUMNS",
    "SNAPSHOT_FIELDS",
    "STYLES",
    "SUM_COLUMNS",
    "TRANSFER_COLUMNS",
    "XIAOBAN",
    "InventoryMixin",
    "category_qml",
    "default_styles",
    "ensure_inventory_schema",
    "undo_plan",
]


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


def _stage_layers(layers: list[dict], path: Path) -> None:
    """Write each layer's rows to table ``layer_<i>`` of a private SQLite file.

    Done before the store is locked, by the ADBC SQLite driver (Arrow to
    SQLite in C, a chunk of rows at a time); the write transaction then copies
    them with ``INSERT … SELECT`` (see :mod:`forestsink.store.gpkg`).
    """
    with adbc_driver_sqlite.dbapi.connect(str(path)) as conn:
        with conn.cursor() as cursor:
            for i, layer in enumerate(layers):
                for table in arrow_chunks(layer["frame"]):
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
        layers = check_layers(layers)
        if not layers:
            return {"batch_id": None, "loaded": [], "replaced": [], "unchanged": []}
        try:
            folder = Path(tempfile.mkdtemp(prefix="forestsink-inventory-"))
        except OSError as err:
            raise staging_error(err) from err
        try:  # the staging file goes whatever happens
            staged = folder / "staged.sqlite"
            try:
                _stage_layers(layers, staged)
            except (OSError, adbc_driver_manager.Error) as err:
                raise staging_error(err) from err
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
            have = XIAOBAN in table_names(conn)
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
                    raise already_loaded(layer, live)
                if (
                    live is not None
                    and live[3]
                    and live[3] == layer.get("source_sha256")
                ):
                    result["unchanged"].append(
                        {**summary(layer, live[0], live[4]), "source_name": live[2]}
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
            conn.execute(f'DROP TRIGGER IF EXISTS "{RTREE_TRIGGER}"')
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
                        {**summary(layer, live[0], live[4]), "source_name": live[2]}
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
                result["loaded"].append(summary(layer, next_id, len(frame)))
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
        if SNAPSHOTS not in table_names(conn):
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
            return SNAPSHOTS in table_names(conn)

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
        spec = parse_as_of(as_of)
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
        spec = parse_as_of(as_of)
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
        where, params = _live(parse_as_of(as_of))
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
        names = check_columns(
            XIAOBAN_COLUMNS if columns is None else columns, what="inventory_xiaoban"
        )
        picked = ", ".join(f'x."{c}"' for c in names)
        if not self._inventory_ready():
            empty = pd.DataFrame(
                {c: pd.Series([], dtype=PANDAS_TYPES[XIAOBAN_FIELDS[c]]) for c in names}
            )
            if geometry:
                return gpd.GeoDataFrame(empty, geometry=[], crs=SRS_ID)
            return empty
        body, params = self._live_rows_sql(year, as_of, adcodes)
        sql = f"SELECT {picked}{', x.geom' if geometry else ''} {body} ORDER BY x.key"
        with self._read() as conn:
            df = pd.read_sql_query(sql, conn, params=params)
        if not geometry:
            return df
        blobs = df.pop("geom")
        geoms = from_gpkg_blobs(blobs) if len(df) else []
        return gpd.GeoDataFrame(df, geometry=list(geoms), crs=SRS_ID)

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
        names = check_columns(by, what="inventory_sums by")
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
        raise StoreError(
            f"{XIAOBAN}: new rows numbered {first_fid + 1}..{last}, expected "
            f"{len(bounds)}; nothing was written."
        )
    fids = first_fid + 1 + np.arange(len(bounds))
    shaped = ~np.isnan(bounds).any(axis=1)
    if shaped.any():
        index_rtree(conn, fids[shaped], bounds[shaped], rtree=RTREE)
    conn.execute(RTREE_INSERT_SQL)


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
