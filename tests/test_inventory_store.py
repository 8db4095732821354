"""Forest-resource layers (一张图) in the GeoPackage store.

Frames are built here with known areas and volumes; expected sums are computed
in the test with pandas from the input frames, not by the store's code.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pg_fixture
import pyogrio
import pytest
import shapely
from delivery_factory import frame as delivery_frame
from delivery_factory import write

from forestsink.landing.deliveries import ingest_deliveries
from forestsink.store import GeoPackageStore, StoreError
from forestsink.store import gpkg as gpkg_module
from forestsink.store.inventory_schema import LAND_GROUPS, XIAOBAN_COLUMNS
from forestsink.store.migrate import migrate_store
from forestsink.store.postgis import PostGISStore

pg_server = pg_fixture.pg_server  # the session's own PostgreSQL + PostGIS server

T1, T2, T3, T4 = (
    "2021-03-01T08:00:00.000000Z",
    "2021-06-01T08:00:00.000000Z",
    "2021-09-01T08:00:00.000000Z",
    "2021-12-01T08:00:00.000000Z",
)
GROUPS = ["arbor", "bamboo", "other_shrub", "non_forest"]


def xiaoban(adcode="500101", year=2020, n=8, *, seed=0, x0=106.0, before=False):
    """A county-year frame of *n* square 小班 with known attributes."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    size = 0.001
    geoms = [
        shapely.box(x0 + k * 0.002, 29.0, x0 + k * 0.002 + size, 29.0 + size) for k in i
    ]
    geoms[0] = shapely.MultiPolygon([geoms[0]])  # both kinds of polygon come in
    volume = rng.uniform(20, 150, n).round(1)
    volume[::3] = np.nan  # some rows carry only a total stock
    stock = np.where(np.isnan(volume), rng.uniform(10, 90, n).round(2), np.nan)
    stock[3] = np.nan  # and one carries neither
    return gpd.GeoDataFrame(
        {
            "key": [f"{adcode}/镇/村/1/{k:03d}" for k in i],
            "adcode": adcode,
            "year": year,
            "township": "镇",
            "village": "村",
            "compartment": "1",
            "xiaoban": [f"{k:03d}" for k in i],
            "sub_xiaoban": "",
            "land_class_raw": "0301",
            "land_scheme": "ldbg",
            "land_code": "0301",
            "land_group": [GROUPS[k % len(GROUPS)] for k in i],
            "is_forest": [int(GROUPS[k % 4] != "non_forest") for k in i],
            "is_forest_land": 1,
            "land_class_before_raw": ["0307" if before and k % 2 else None for k in i],
            "land_group_before": ["treeless" if before and k % 2 else None for k in i],
            "area_mu": rng.uniform(1, 50, n).round(3),
            "area_reported_mu": rng.uniform(1, 50, n).round(3),
            "volume_m3_ha": volume,
            "stock_m3": stock,
            "species": "马尾松",
            "origin": "人工",
            "age_group": "中龄林",
            "canopy": 0.6,
            "change_reason": ["造林更新" if before and k % 2 else None for k in i],
            "forest_category": None,
            "source_row": i,
            "attrs": "{}",
        },
        geometry=geoms,
        crs=4490,
    )


def layer(frame, *, name="一张图.shp", sha=None, adcode=None, year=None):
    return {
        "adcode": adcode or str(frame["adcode"].iloc[0]),
        "year": int(year or frame["year"].iloc[0]),
        "frame": frame,
        "source_name": name,
        "source_sha256": sha or f"sha-{name}",
        "note": "encoding GB18030",
    }


@pytest.fixture
def gpkg_store(tmp_path):
    return GeoPackageStore(tmp_path / "store.gpkg", timeout=1)


@pytest.fixture(params=["gpkg", "postgis"])
def store(request, tmp_path):
    """A fresh store of each back end (the same semantics and answers)."""
    if request.param == "gpkg":
        return GeoPackageStore(tmp_path / "store.gpkg", timeout=1)
    url = request.getfixturevalue("pg_server")
    return PostGISStore(f"{url}?schema=t_{uuid.uuid4().hex[:12]}", timeout=1)


def _raw(store):
    """A plain connection to the store, as another program would open."""
    if isinstance(store, GeoPackageStore):
        return sqlite3.connect(store.path)
    psycopg = pytest.importorskip("psycopg")
    conn = psycopg.connect(store._conninfo, autocommit=True)
    conn.execute(f"SET search_path = {store.schema}, public")
    return conn


def _bytes(store):
    """The whole stored state: the file's bytes, or every table's rows."""
    if isinstance(store, GeoPackageStore):
        return store.path.read_bytes()
    if not store.exists:
        return None
    conn = _raw(store)
    try:
        state = [conn.execute("SELECT * FROM batches ORDER BY 1").fetchall()]
        if store.inventory_years() or len(store.inventory_snapshots(history=True)):
            for table in ("inventory_snapshots", "inventory_xiaoban"):
                state.append(
                    conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                )
        return state
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# writing and reading back
# ---------------------------------------------------------------------------


def test_write_and_read_back(store):
    a, b = xiaoban("500101", seed=1), xiaoban("500102", seed=2, n=5, x0=107)
    out = store.write_inventory(
        [layer(a, name="a.shp"), layer(b, name="b.shp")], user="li", now=T1, note="n"
    )
    assert out["batch_id"] == 1 and out["replaced"] == out["unchanged"] == []
    assert [(d["adcode"], d["n_xiaoban"]) for d in out["loaded"]] == [
        ("500101", 8),
        ("500102", 5),
    ]
    batch = store.batches().iloc[-1]
    assert batch["kind"] == "inventory" and batch["user"] == "li"
    assert batch["n_added"] == 13 and batch["n_withdrawn"] == 0
    assert batch["source_name"] == "a.shp; b.shp" and batch["note"] == "n"
    assert store.integrity_check() == "ok"
    assert store.inventory_years() == [2020]

    snaps = store.inventory_snapshots()
    assert snaps["adcode"].tolist() == ["500101", "500102"]
    assert (snaps["rows_of"] == snaps["snapshot_id"]).all()
    assert snaps["area_mu"].tolist() == pytest.approx(
        [a["area_mu"].sum(), b["area_mu"].sum()]
    )
    assert set(snaps["batch_kind"]) == {"inventory"}
    assert snaps["source_sha256"].tolist() == ["sha-a.shp", "sha-b.shp"]

    got = store.inventory_xiaoban(2020, adcodes=["500101"])
    assert got.crs.to_epsg() == 4490
    assert list(got.columns) == [*XIAOBAN_COLUMNS, "geometry"]
    assert got["key"].tolist() == sorted(a["key"])
    assert set(got.geom_type) == {"MultiPolygon"}
    expected = a.sort_values("key").reset_index(drop=True)
    assert shapely.equals(got.geometry.values, expected.geometry.values).all()
    pd.testing.assert_series_equal(
        got["area_mu"], expected["area_mu"], check_exact=True
    )
    assert (got["sub_xiaoban"] == "").all()  # empty text is not missing
    assert got["species"].tolist() == ["马尾松"] * 8
    pd.testing.assert_series_equal(
        got["volume_m3_ha"], expected["volume_m3_ha"], check_dtype=False
    )
    assert got["land_group_before"].isna().all()

    plain = store.inventory_xiaoban(2020, columns=["key", "area_mu"], geometry=False)
    assert not isinstance(plain, gpd.GeoDataFrame)
    assert list(plain.columns) == ["key", "area_mu"] and len(plain) == 13
    assert store.inventory_xiaoban(2019).empty


def test_sums_match_pandas(store):
    a, b = xiaoban("500101", seed=3, n=11), xiaoban("500102", seed=4, n=7, x0=107)
    store.write_inventory([layer(a, name="a"), layer(b, name="b")])
    both = pd.concat([a, b])
    both["per_ha"] = both["volume_m3_ha"] * both["area_mu"] / 15
    only_total = both["volume_m3_ha"].isna() & both["stock_m3"].notna()
    both["total"] = both["stock_m3"].where(only_total)
    both["has_per_ha"] = both["volume_m3_ha"].notna().astype(int)
    both["has_total"] = only_total.astype(int)
    want = (
        both.groupby(["adcode", "land_group"])
        .agg(
            n_xiaoban=("key", "size"),
            area_mu=("area_mu", "sum"),
            area_reported_mu=("area_reported_mu", "sum"),
            stock_per_ha_m3=("per_ha", "sum"),
            n_per_ha=("has_per_ha", "sum"),
            stock_total_m3=("total", "sum"),
            n_total=("has_total", "sum"),
        )
        .reset_index()
    )
    got = store.inventory_sums(2020)
    assert got[["adcode", "land_group"]].values.tolist() == (
        want[["adcode", "land_group"]].values.tolist()
    )
    for col in want.columns[2:]:
        assert got[col].to_numpy() == pytest.approx(want[col].to_numpy()), col
    total = store.inventory_sums(2020, by=())
    assert total["n_xiaoban"].item() == 18
    assert total["area_mu"].item() == pytest.approx(both["area_mu"].sum())
    assert total["stock_per_ha_m3"].item() == pytest.approx(both["per_ha"].sum())
    assert total["stock_total_m3"].item() == pytest.approx(both["total"].sum())
    by_group = store.inventory_sums(2020, by=["land_group"])
    assert by_group["land_group"].tolist() == sorted(set(GROUPS))
    with pytest.raises(StoreError, match="area_mu; DROP"):
        store.inventory_sums(2020, by=["area_mu; DROP TABLE batches"])
    assert store.inventory_sums(2019).empty


def test_transfer_matches_pandas(store):
    a = xiaoban("500101", seed=5, n=9, before=True)
    store.write_inventory([layer(a)])
    rows = a[a["land_group_before"].notna()]
    want = (
        rows.groupby(["adcode", "land_group_before", "land_group", "change_reason"])
        .agg(area_mu=("area_mu", "sum"), n_xiaoban=("key", "size"))
        .reset_index()
    )
    got = store.inventory_transfer(2020)
    assert got.columns.tolist() == want.columns.tolist()
    assert got.iloc[:, :4].values.tolist() == want.iloc[:, :4].values.tolist()
    assert got["area_mu"].to_numpy() == pytest.approx(want["area_mu"].to_numpy())
    assert got["n_xiaoban"].tolist() == want["n_xiaoban"].tolist()


def test_empty_and_missing_store_reads(store):
    assert store.inventory_years() == []
    assert store.inventory_snapshots().empty
    assert store.inventory_sums(2020).empty
    assert store.inventory_xiaoban(2020).empty
    assert store.inventory_transfer(2020).empty


# ---------------------------------------------------------------------------
# refusals: nothing written, the file byte-identical
# ---------------------------------------------------------------------------


def test_refusals_leave_the_store_untouched(store):
    a = xiaoban("500101", seed=1)
    store.write_inventory([layer(a, name="first.shp")], now=T1)
    before, batches = _bytes(store), store.batches()

    def refused(layers, match, **kw):
        with pytest.raises(StoreError, match=match) as err:
            store.write_inventory(layers, **kw)
        assert _bytes(store) == before
        pd.testing.assert_frame_equal(store.batches(), batches)
        return str(err.value)

    # the same county-year already live: names batch and file, says replace=True
    text = refused([layer(xiaoban("500101", seed=2), name="second.shp")], "batch 1")
    assert text.index("500101") < text.index("/ ")  # Chinese first
    assert "first.shp" in text and "replace=True" in text and "2020" in text
    assert "--replace" not in text  # the CLI adds the flag (test_inventory_cli)
    assert "second.shp" in text
    # two layers of one county-year in one call
    b = xiaoban("500102", x0=107)
    text = refused(
        [layer(b, name="x.shp"), layer(b, name="y.shp")], "same county and year"
    )
    assert "500102" in text and "y.shp" in text
    # rows of another county or year than the layer's
    c = xiaoban("500103", x0=108)
    c.loc[2, "year"] = 2019
    text = refused([layer(c, name="c.shp")], "another county code or")
    assert "500103" in text and "c.shp" in text and "row 3" in text
    d = xiaoban("500104", x0=108)
    refused([layer(d, name="d.shp", adcode="500105")], "another county code")
    # a good layer with a bad one: none of it lands
    refused([layer(xiaoban("500106", x0=109)), layer(c, name="c.shp")], "row 3")
    # another CRS
    refused([layer(d.to_crs(4326), name="d.shp")], "EPSG:4490")
    # a missing column
    refused([layer(d.drop(columns="land_group"), name="d.shp")], "land_group")


# ---------------------------------------------------------------------------
# replace, unchanged, as of, history, undo
# ---------------------------------------------------------------------------


def test_replace_as_of_and_history(store):
    a1, a2 = xiaoban(seed=1, n=8), xiaoban(seed=2, n=5)
    store.write_inventory([layer(a1, name="v1.shp")], now=T1)
    # the same file again with --replace: unchanged, no batch
    before = _bytes(store)
    out = store.write_inventory([layer(a1, name="v1.shp")], replace=True, now=T2)
    assert out["batch_id"] is None and out["loaded"] == []
    assert [d["snapshot_id"] for d in out["unchanged"]] == [1]
    assert _bytes(store) == before

    b = xiaoban("500102", seed=3, x0=107)
    out = store.write_inventory(
        [layer(a2, name="v2.shp"), layer(b, name="b.shp")], replace=True, now=T2
    )
    assert out["batch_id"] == 2
    assert [d["source_name"] for d in out["replaced"]] == ["v1.shp"]
    assert [d["source_name"] for d in out["loaded"]] == ["v2.shp", "b.shp"]
    batch = store.batches().iloc[-1]
    assert (batch["n_added"], batch["n_withdrawn"]) == (5 + 8, 8)

    hist = store.inventory_snapshots(history=True, adcode="500101")
    assert hist["snapshot_id"].tolist() == [1, 2]
    assert hist["end_reason"].tolist()[0] == "replaced by batch 2"
    assert hist["ended_batch"].tolist()[0] == 2

    def keys(**kw):
        return len(store.inventory_xiaoban(2020, adcodes="500101", **kw))

    assert keys() == 5
    assert keys(as_of=1) == 8 and keys(as_of=2) == 5 and keys(as_of=0) == 0
    assert keys(as_of="2021-03-01") == 8 and keys(as_of=T2) == 5
    assert keys(as_of="2021-01-01") == 0
    assert store.inventory_years(as_of="2021-01-01") == []
    sums = store.inventory_sums(2020, as_of=1, by=["adcode"])
    assert sums["adcode"].tolist() == ["500101"]
    assert sums["area_mu"].item() == pytest.approx(a1["area_mu"].sum())
    assert len(store.inventory_snapshots(as_of=1)) == 1
    assert len(store.inventory_snapshots(year=2020)) == 2
    assert store.integrity_check() == "ok"


def test_undo_and_undo_of_undo(store):
    a1, a2 = xiaoban(seed=1, n=8), xiaoban(seed=2, n=5)
    store.write_inventory([layer(a1, name="v1.shp")], now=T1)
    store.write_inventory([layer(a2, name="v2.shp")], replace=True, now=T2)
    # batch 1's snapshot was replaced by batch 2: undo 2 first
    before = _bytes(store)
    with pytest.raises(StoreError, match="undo those first"):
        store.undo(1)
    assert _bytes(store) == before

    n_rows = _count(store, "inventory_xiaoban")
    assert store.undo(2, now=T3) == 3
    live = store.inventory_snapshots()
    assert live["snapshot_id"].tolist() == [3] and live["rows_of"].tolist() == [1]
    assert live["batch_kind"].tolist() == ["undo"]
    assert _count(store, "inventory_xiaoban") == n_rows  # no row copied
    got = store.inventory_xiaoban(2020)
    assert sorted(got["key"]) == sorted(a1["key"]) and len(got) == 8
    batches = store.batches().set_index("batch_id")
    assert batches.loc[2, "undone_by"] == 3
    assert (batches.loc[3, "n_added"], batches.loc[3, "n_withdrawn"]) == (8, 5)

    assert store.undo(3, now=T4) == 4  # the undo of the undo: v2 again
    live = store.inventory_snapshots()
    assert live["rows_of"].tolist() == [2] and len(store.inventory_xiaoban(2020)) == 5
    assert len(store.inventory_xiaoban(2020, as_of=3)) == 8
    assert len(store.inventory_xiaoban(2020, as_of="2021-10-01")) == 8
    hist = store.inventory_snapshots(history=True)
    assert hist["end_reason"].tolist()[:3] == [
        "replaced by batch 2",
        "undo of batch 2",
        "undo of batch 3",
    ]
    assert pd.isna(hist["end_reason"].iloc[3])


def test_undo_first_load_then_reload(store):
    store.write_inventory([layer(xiaoban())])
    store.undo(1)
    assert store.inventory_years() == []
    out = store.write_inventory([layer(xiaoban(seed=9))])
    assert out["loaded"][0]["snapshot_id"] == 2
    assert store.inventory_years() == [2020]


def test_find_batch_by_sha_ignores_inventory(store):
    store.write_inventory([layer(xiaoban(), sha="abc")])
    assert store.find_batch_by_sha("abc") is None
    assert store.batches()["source_sha256"].isna().all()


def test_project_side_unchanged(tmp_path, store):
    ingest_deliveries([write(delivery_frame(), tmp_path / "a.gpkg")], store)
    store.write_inventory([layer(xiaoban())])
    assert len(store.current()) == 3 and store.exists
    store.withdraw("500101/P2", reason="x")
    assert len(store.current()) == 2
    assert store.undo(3) == 4 and len(store.current()) == 3
    assert store.inventory_years() == [2020]


# ---------------------------------------------------------------------------
# the file itself: triggers, layers, styles, older stores
# ---------------------------------------------------------------------------


def _count(store, table):
    conn = _raw(store)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def test_triggers_refuse_other_programs(gpkg_store):
    store = gpkg_store
    store.write_inventory([layer(xiaoban())], now=T1)
    store.write_inventory([layer(xiaoban(seed=2), name="v2")], replace=True, now=T2)
    conn = sqlite3.connect(store.path)
    try:
        for sql in (
            "DELETE FROM inventory_xiaoban",
            "UPDATE inventory_xiaoban SET area_mu = 0",
            "UPDATE inventory_xiaoban SET snapshot_id = 9",
            "DELETE FROM inventory_snapshots",
            "UPDATE inventory_snapshots SET area_mu = 0 WHERE snapshot_id = 2",
            "UPDATE inventory_snapshots SET rows_of = 2 WHERE snapshot_id = 1",
            # an end is set once
            "UPDATE inventory_snapshots SET end_reason = 'x' WHERE snapshot_id = 1",
            "DELETE FROM batches",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="never"):
                conn.execute(sql)
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute("INSERT INTO batches (kind, created_at) VALUES ('other', 'x')")
    finally:
        conn.close()


def test_layers_open_in_gis(gpkg_store):
    store = gpkg_store
    store.write_inventory([layer(xiaoban())])
    layers = dict(pyogrio.list_layers(store.path))
    assert layers["inventory_xiaoban"] == "MultiPolygon"
    assert layers["inventory_current"] == "MultiPolygon"
    assert "inventory_snapshots" in layers and "layer_styles" in layers
    current = pyogrio.read_dataframe(store.path, layer="inventory_current")
    assert current.crs.to_epsg() == 4490 and len(current) == 8
    assert current["area_mu"].sum() == pytest.approx(xiaoban()["area_mu"].sum())
    full = pyogrio.read_dataframe(store.path, layer="inventory_xiaoban")
    assert set(XIAOBAN_COLUMNS) < set(full.columns) and "snapshot_id" in full
    info = pyogrio.read_info(store.path, layer="inventory_xiaoban")
    assert info["crs"] == "EPSG:4490"
    # the spatial index: GDAL finds one 小班 by its box, also after a second load
    store.write_inventory([layer(xiaoban("500102", x0=107), name="b")])
    hit = pyogrio.read_dataframe(
        store.path, layer="inventory_xiaoban", bbox=(107.0, 29.0, 107.0005, 29.0005)
    )
    assert hit["key"].tolist() == ["500102/镇/村/1/000"]
    with sqlite3.connect(store.path) as conn:
        rtree = "rtree_inventory_xiaoban_geom"
        assert conn.execute(f"SELECT rtreecheck('{rtree}')").fetchone() == ("ok",)
        assert conn.execute(f"SELECT COUNT(*) FROM {rtree}").fetchone() == (16,)
        assert conn.execute(
            "SELECT min_x, max_x FROM gpkg_contents WHERE table_name = ?",
            ("inventory_xiaoban",),
        ).fetchone() == pytest.approx((106.0, 107.015))


def test_layer_styles_name_every_category(gpkg_store):
    store = gpkg_store
    store.write_inventory([layer(xiaoban())])
    with sqlite3.connect(store.path) as conn:
        styles = dict(
            conn.execute(
                "SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault"
            ).fetchall()
        )
    projects = pd.read_csv(Path(__file__).parents[1] / "data/project_types.csv")
    for table, attr, expected in (
        (
            "inventory_current",
            "land_group",
            {g: f"{zh} {en}" for g, (zh, en) in LAND_GROUPS.items()},
        ),
        (
            "current_projects",
            "project_type",
            {r.project_type: f"{r.name_zh} {r.name_en}" for r in projects.itertuples()},
        ),
    ):
        root = ET.fromstring(styles[table])
        renderer = root.find("renderer-v2")
        assert renderer.get("type") == "categorizedSymbol"
        assert renderer.get("attr") == attr
        cats = {c.get("value"): c.get("label") for c in root.iter("category")}
        assert cats == expected
        assert len(root.findall(".//symbols/symbol")) == len(expected)
    root = ET.fromstring(styles["inventory_current"])
    colours = {
        c.get("value"): s.find(".//Option[@name='color']").get("value")
        for c, s in zip(root.iter("category"), root.iter("symbol"), strict=True)
    }
    r, g, b, _ = map(int, colours["arbor"].split(","))
    assert g > r and g > b  # forest green
    r, g, b, _ = map(int, colours["non_forest"].split(","))
    assert r == g == b  # grey


def test_old_store_is_upgraded(tmp_path, monkeypatch):
    """A store made before the inventory: batches CHECK without 'inventory'."""
    old_schema = gpkg_module.SCHEMA_SQL.replace("'undo', 'inventory')", "'undo')")
    assert old_schema != gpkg_module.SCHEMA_SQL
    monkeypatch.setattr(gpkg_module, "SCHEMA_SQL", old_schema)
    store = GeoPackageStore(tmp_path / "old.gpkg")
    ingest_deliveries([write(delivery_frame(), tmp_path / "a.gpkg")], store)
    store.withdraw("500101/P2", reason="x")
    store.undo(2)
    monkeypatch.undo()
    with sqlite3.connect(store.path) as conn:
        assert (
            "'inventory'"
            not in conn.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'batches'"
            ).fetchone()[0]
        )
    old_batches = store.batches()

    # a refused inventory write leaves the old store as it was
    before = _bytes(store)
    bad = xiaoban()
    bad.loc[0, "adcode"] = "500102"
    with pytest.raises(StoreError):
        store.write_inventory([layer(bad)])
    assert _bytes(store) == before

    out = store.write_inventory([layer(xiaoban())])
    assert out["batch_id"] == 4
    new_batches = store.batches()
    pd.testing.assert_frame_equal(new_batches.iloc[:3], old_batches)
    with sqlite3.connect(store.path) as conn:
        sql = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'batches'"
        ).fetchone()[0]
        assert "'inventory'" in sql and "AUTOINCREMENT" in sql
        triggers = {
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'batches'"
            )
        }
        assert triggers == {"forestsink_batches_no_delete"}
        assert conn.execute(
            "SELECT data_type FROM gpkg_contents WHERE table_name = 'batches'"
        ).fetchone() == ("attributes",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        with pytest.raises(sqlite3.DatabaseError, match="never"):
            conn.execute("DELETE FROM batches")
    assert store.integrity_check() == "ok"
    # the project side still works, batch ids go on
    assert store.withdraw("500101/P1", reason="y") == 5
    assert store.undo(4) == 6 and store.inventory_years() == []


# ---------------------------------------------------------------------------
# PostGIS: refused clearly in this version
# ---------------------------------------------------------------------------


def test_postgis_triggers_refuse_other_programs(pg_server):
    store = PostGISStore(f"{pg_server}?schema=t_{uuid.uuid4().hex[:12]}")
    store.write_inventory([layer(xiaoban())], now=T1)
    store.write_inventory([layer(xiaoban(seed=2), name="v2")], replace=True, now=T2)
    psycopg = pytest.importorskip("psycopg")
    conn = _raw(store)
    try:
        for sql in (
            "DELETE FROM inventory_xiaoban",
            "TRUNCATE inventory_xiaoban",
            "UPDATE inventory_xiaoban SET area_mu = 0",
            "DELETE FROM inventory_snapshots",
            "TRUNCATE inventory_snapshots CASCADE",
            "UPDATE inventory_snapshots SET area_mu = 0 WHERE snapshot_id = 2",
            "UPDATE inventory_snapshots SET end_reason = 'x' WHERE snapshot_id = 1",
        ):
            with pytest.raises(psycopg.Error, match="never"):
                conn.execute(sql)
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO batches (kind, created_at) VALUES ('other', now())"
            )
    finally:
        conn.close()


def test_postgis_store_made_before_is_upgraded(pg_server):
    """A PostGIS store whose batches CHECK does not allow 'inventory'."""
    store = PostGISStore(f"{pg_server}?schema=t_{uuid.uuid4().hex[:12]}")
    store._create()
    conn = _raw(store)
    try:
        conn.execute("ALTER TABLE batches DROP CONSTRAINT batches_kind_check")
        conn.execute(
            "ALTER TABLE batches ADD CONSTRAINT batches_kind_check "
            "CHECK (kind IN ('ingest', 'withdraw', 'undo'))"
        )
    finally:
        conn.close()
    assert store.write_inventory([layer(xiaoban())])["batch_id"] == 1
    assert store.undo(1) == 2 and store.inventory_years() == []
    assert store.integrity_check() == "ok"


def test_migrate_to_postgis_refuses_inventory(tmp_path, pg_server):
    source = GeoPackageStore(tmp_path / "s.gpkg")
    ingest_deliveries([write(delivery_frame(), tmp_path / "a.gpkg")], source)
    source.write_inventory([layer(xiaoban())])
    url = f"{pg_server}?schema=t_{uuid.uuid4().hex[:12]}"
    with pytest.raises(StoreError, match="does not copy") as err:
        migrate_store(source.path, url)
    assert str(err.value).index("一张图") < str(err.value).index("/ ")


@pytest.mark.parametrize(
    "module",
    [
        "forestsink.store.inventory",
        "forestsink.store.inventory_pg",
        "forestsink.store.pgcodec",
    ],
)
def test_store_modules_import_first(module):
    """Each module imports on its own (the mixins and stores import each other)."""
    run = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
