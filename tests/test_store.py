"""GeoPackage-only store behaviour.

Versions, as-of, history, diff, withdraw, undo, protection, rollback and busy
stores are tested on both back ends in ``test_store_backends.py``.
"""

import struct

import numpy as np
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from delivery_factory import frame, write

from forestsink.cli.main import cli
from forestsink.landing.deliveries import IngestError, ingest_deliveries
from forestsink.store import GeoPackageStore


@pytest.fixture
def store(tmp_path):
    return GeoPackageStore(tmp_path / "store.gpkg", timeout=1)


def _ingest(store, path, **kw):
    return ingest_deliveries([path], store, **kw)[1][0]


def test_store_opens_as_geopackage_layers(tmp_path, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    store.withdraw("500101/P2", reason="x")
    layers = dict(pyogrio.list_layers(store.path))
    assert layers["project_versions"] == "MultiPolygon"
    assert layers["current_projects"] == "MultiPolygon"
    assert "batches" in layers
    current = pyogrio.read_dataframe(store.path, layer="current_projects")
    assert sorted(current["key"]) == ["500101/P1", "500101/P3"]
    assert current.crs.to_epsg() == 4490
    # the spatial index works through GDAL
    hit = pyogrio.read_dataframe(
        store.path, layer="project_versions", bbox=(108.379, 30.799, 108.385, 30.805)
    )
    assert sorted(hit["key"]) == ["500101/P1"]


def test_validate_refuses_an_exported_layer(tmp_path, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    out = tmp_path / "cur.geojson"
    runner = CliRunner()
    cur = runner.invoke(cli, ["current", "--store", str(store.path), "--out", str(out)])
    assert cur.exit_code == 0 and "3 polygons" in cur.output
    bad = runner.invoke(cli, ["validate", str(out)])
    assert bad.exit_code == 1  # an exported layer has no delivery columns
    assert "required column" in bad.output and "Traceback" not in bad.output


def test_large_file_in_chunks_equals_one_read(tmp_path):
    """Chunked reading lands exactly what a single read lands, as one batch."""
    gdf = frame(n=12, ids=[f"C{i}" for i in range(12)])
    gdf.loc[7, "工程类别"] = "森林康养"  # an error in the second chunk
    gdf.loc[10, "小班号"] = "C2"  # a duplicate across chunks
    path = write(gdf, tmp_path / "big.gpkg")
    chunked = GeoPackageStore(tmp_path / "a.gpkg")
    with pytest.raises(IngestError) as err:
        ingest_deliveries([path], chunked, chunk_size=5)
    issues = err.value.report.issues
    assert ("unknown_project_type", 7) in set(
        zip(issues["code"], issues["row"], strict=True)
    )
    dup = issues[issues["code"] == "duplicate_id"]
    # (messages count rows from 1: the feature at position 2 is row 3)
    assert 10 in set(dup["row"]) and "also row 3, counted from 1" in " ".join(
        dup["message"]
    )
    _, (out,) = ingest_deliveries([path], chunked, chunk_size=5, skip_errors=True)
    whole = GeoPackageStore(tmp_path / "b.gpkg")
    _, (ref,) = ingest_deliveries([path], whole, chunk_size=0, skip_errors=True)
    assert out["batch_id"] == 1 and out["added"] == ref["added"] == 9
    a = chunked.current().drop(columns=["valid_from", "geometry"])
    b = whole.current().drop(columns=["valid_from", "geometry"])
    pd.testing.assert_frame_equal(a.drop(columns="fid"), b.drop(columns="fid"))
    assert "read in chunks" in chunked.batches()["note"].iloc[0]


def test_large_file_staged_while_checked_equals_one_read(tmp_path, monkeypatch):
    """Chunks staged in the background (no second read) land what one read
    lands; errors inside a chunk are left out with --skip-errors; a chunk's
    rows flagged later (a duplicate in a later chunk) fall back to reading
    the file again."""
    from forestsink.landing import deliveries

    gdf = frame(n=12, ids=[f"C{i}" for i in range(12)])
    gdf.loc[7, "工程类别"] = "森林康养"  # an error inside the second chunk
    path = write(gdf, tmp_path / "big.gpkg")
    reread = []
    original = deliveries._large_frames
    monkeypatch.setattr(
        deliveries,
        "_large_frames",
        lambda *a: reread.append(1) or original(*a),
    )
    staged = GeoPackageStore(tmp_path / "a.gpkg")
    _, (out,) = ingest_deliveries([path], staged, chunk_size=5, skip_errors=True)
    assert not reread and out["added"] == 11 and out["skipped"] == 1
    whole = GeoPackageStore(tmp_path / "b.gpkg")
    ingest_deliveries([path], whole, chunk_size=0, skip_errors=True)
    a = staged.current().drop(columns=["valid_from", "fid"])
    b = whole.current().drop(columns=["valid_from", "fid"])
    pd.testing.assert_frame_equal(a, b)
    with staged.transaction() as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n_index = conn.execute(
            "SELECT COUNT(*) FROM rtree_project_versions_geom"
        ).fetchone()[0]
    assert n_index == 11
    # the same file again: identical, nothing staged or written
    _, (again,) = ingest_deliveries([path], staged, chunk_size=5, skip_errors=True)
    assert "identical" in again["status"] and len(staged.batches()) == 1
    # a duplicate of a staged row found in a later chunk: read again
    gdf.loc[10, "小班号"] = "C2"
    path2 = write(gdf, tmp_path / "big2.gpkg")
    other = GeoPackageStore(tmp_path / "c.gpkg")
    _, (out2,) = ingest_deliveries([path2], other, chunk_size=5, skip_errors=True)
    assert reread and out2["added"] == 9
    assert "C2" not in set(other.current()["project_id"])


def test_helper_processes_land_what_one_process_lands(
    tmp_path, monkeypatch, helpers_wait
):
    """Chunks checked in a helper process (workers=1) give the same report,
    the same rows in the same order, and need no second read: a repeat of
    an id whose first row had an error is left out of the helper's rows."""
    from forestsink.landing import deliveries

    gdf = frame(n=34, ids=[f"H{i}" for i in range(34)])  # in Wanzhou
    gdf.loc[3, "工程类别"] = "森林康养"  # an error in chunk 0 ...
    gdf.loc[8, "小班号"] = "H3"  # ... and its id again in chunk 1
    gdf.loc[23, "工程类别"] = "森林康养"  # an error in chunk 4
    gdf.loc[31, "年度"] = 2030  # and in chunk 6, outside the plan period
    path = write(gdf, tmp_path / "big.gpkg")
    seen, reread = [], []
    original_chunks = deliveries.checked_chunks

    def chunks(*args, **kwargs):
        for chunk in original_chunks(*args, **kwargs):
            seen.append(chunk.ready is not None)  # from a helper process?
            yield chunk

    monkeypatch.setattr(deliveries, "checked_chunks", chunks)
    original_frames = deliveries._large_frames
    monkeypatch.setattr(
        deliveries, "_large_frames", lambda *a: reread.append(1) or original_frames(*a)
    )
    results = {}
    for workers in (0, 1):
        seen.clear()
        store = GeoPackageStore(tmp_path / f"w{workers}.gpkg")
        report, (out,) = ingest_deliveries(
            [path], store, chunk_size=5, skip_errors=True, workers=workers
        )
        results[workers] = (report, out, store, list(seen))
    (report0, out0, store0, seen0), (report1, out1, store1, seen1) = results.values()
    assert not any(seen0) and any(seen1)  # helper chunks only with workers=1
    assert not reread
    key = ["row", "code", "message"]
    pd.testing.assert_frame_equal(
        report0.issues.sort_values(key).reset_index(drop=True),
        report1.issues.sort_values(key).reset_index(drop=True),
    )
    assert {(3, "unknown_project_type"), (8, "duplicate_id")} <= set(
        zip(report1.issues["row"], report1.issues["code"], strict=True)
    )
    assert out0["added"] == out1["added"] == 34 - 4 and out1["skipped"] == 4
    a = store0.current().drop(columns=["valid_from"])
    b = store1.current().drop(columns=["valid_from"])
    pd.testing.assert_frame_equal(a, b)  # same fids: same order
    assert "500101/H3" not in set(b["key"])
    assert store1.integrity_check() == "ok"


def test_content_hashes_are_stable():
    """Hashes written by earlier versions still match: re-deliveries stay equal."""
    import geopandas as gpd
    import numpy as np
    from shapely.geometry import MultiPolygon, box

    from forestsink.store.gpkg import content_hashes

    gdf = gpd.GeoDataFrame(
        {
            "year": pd.array([2013, None], dtype="Int64"),
            "project_type": pd.array(["afforestation", "renovation"], dtype="string"),
            "programme": [None, "长防林"],
            "area_reported_mu": [12.3456789, np.nan],
            "species": pd.array(["马尾松", None], dtype="string"),
            "stock_volume_m3": [np.nan, 1 / 3],
            "attrs": pd.array(['{"a": 1}', "{}"], dtype="string"),
        },
        geometry=[
            box(108.1, 30.1, 108.1012345678912, 30.1011),
            MultiPolygon(
                [box(108.2, 30.2, 108.201, 30.201), box(108.3, 30.3, 108.301, 30.301)]
            ),
        ],
        crs=4490,
    )
    assert content_hashes(gdf) == [  # computed by the first (pandas) implementation
        "4b1452fbdedf7f5a1e2735cc9e1c8218fa5b7821",
        "f928ae1d4e57762af6704a4fe3184202f21c9148",
    ]


def test_polygon_blobs_are_what_geos_writes_for_a_multipolygon():
    import shapely
    from shapely.geometry import MultiPolygon, box

    from forestsink.store.gpkg import from_gpkg_blobs, to_gpkg_blobs

    geoms = [
        box(108.1, 30.1, 108.2, 30.2).difference(box(108.12, 30.12, 108.13, 30.13))
    ]
    geoms.append(
        MultiPolygon([box(108, 30, 108.1, 30.1), box(108.3, 30.3, 108.4, 30.4)])
    )
    (one, two) = to_gpkg_blobs(geoms).to_pylist()
    multi = shapely.multipolygons([geoms[0]])
    assert one[40:] == shapely.to_wkb(multi, byte_order=1, flavor="iso")
    assert list(from_gpkg_blobs([one, two])) == [multi, geoms[1]]
    # header: magic, version 0, flags (little-endian, xy envelope), srs 4490
    assert one[:8] == b"GP\x00\x03" + (4490).to_bytes(4, "little")
    for blob, geom in ((one, geoms[0]), (two, geoms[1])):
        minx, miny, maxx, maxy = geom.bounds
        assert struct.unpack("<4d", blob[8:40]) == (minx, maxx, miny, maxy)


@pytest.mark.parametrize("n", [0, 1, 51, 52, 2_700])
def test_bulk_rtree_passes_sqlite_rtreecheck(tmp_path, n):
    """The packed R-tree is what SQLite's R*Tree module would accept and find."""
    import sqlite3

    import numpy as np

    from forestsink.store.rtree import write_rtree

    rng = np.random.default_rng(n)
    x, y, w = rng.uniform(105, 110, n), rng.uniform(28, 32, n), rng.uniform(0, 1e-2, n)
    bounds = np.column_stack([x, y, x + w, y + w])
    conn = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    conn.execute("CREATE VIRTUAL TABLE t USING rtree(id, minx, maxx, miny, maxy)")
    conn.execute("INSERT INTO t VALUES (999999, 1, 2, 3, 4)")  # replaced
    conn.execute("BEGIN")
    write_rtree(conn, "t", np.arange(1, n + 1), bounds)
    conn.execute("COMMIT")
    assert conn.execute("SELECT rtreecheck('t')").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == n
    stored = np.array(
        conn.execute("SELECT minx, miny, maxx, maxy FROM t ORDER BY id").fetchall()
    ).reshape(n, 4)
    assert (stored[:, :2] <= bounds[:, :2]).all() and (
        stored[:, 2:] >= bounds[:, 2:]
    ).all()
    q = (107.0, 29.0, 107.6, 29.5)
    found = {
        r[0]
        for r in conn.execute(
            "SELECT id FROM t WHERE minx <= ? AND maxx >= ? "
            "AND miny <= ? AND maxy >= ?",
            (q[2], q[0], q[3], q[1]),
        )
    }
    hit = (bounds[:, 0] <= q[2]) & (bounds[:, 2] >= q[0])
    hit &= (bounds[:, 1] <= q[3]) & (bounds[:, 3] >= q[1])
    assert found == set((np.flatnonzero(hit) + 1).tolist())
    conn.execute(
        "INSERT INTO t VALUES (?, 106, 106.1, 29, 29.1)", (n + 1,)
    )  # and grows
    assert conn.execute("SELECT rtreecheck('t')").fetchone()[0] == "ok"


def test_bulk_rtree_with_gaps_in_the_ids(tmp_path):
    """Runs of consecutive ids and scattered ids both land, each at its box."""
    import sqlite3

    import numpy as np

    from forestsink.store.rtree import write_rtree

    ids = np.concatenate(
        [np.arange(1, 301), np.arange(400, 700, 3), np.arange(5000, 5040)]
    )[::-1]  # not sorted either
    rng = np.random.default_rng(3)
    x, y = rng.uniform(105, 110, len(ids)), rng.uniform(28, 32, len(ids))
    bounds = np.column_stack([x, y, x + 0.01, y + 0.01])
    conn = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    conn.execute("CREATE VIRTUAL TABLE t USING rtree(id, minx, maxx, miny, maxy)")
    conn.execute("BEGIN")
    write_rtree(conn, "t", ids, bounds)
    conn.execute("COMMIT")
    assert conn.execute("SELECT rtreecheck('t')").fetchone()[0] == "ok"
    stored = {
        r[0]: r[1:] for r in conn.execute("SELECT id, minx, miny, maxx, maxy FROM t")
    }
    assert sorted(stored) == sorted(ids.tolist())
    for i, box in zip(ids.tolist(), bounds, strict=True):  # float32, rounded out
        assert np.allclose(stored[i], box, atol=1e-5)
        assert stored[i][0] <= box[0] and stored[i][2] >= box[2]


def _grid(n, prefix, *, dy=0.0):
    """*n* squares inside Wanzhou, rows of 20, ids ``<prefix><i>``."""
    rows = [
        frame(
            center=(108.30, 30.74 + dy + 0.006 * r),
            n=min(20, n - 20 * r),
            ids=[f"{prefix}{20 * r + i}" for i in range(min(20, n - 20 * r))],
        )
        for r in range(-(-n // 20))
    ]
    return pd.concat(rows, ignore_index=True)


def test_spatial_index_after_bulk_and_single_inserts(tmp_path, store):
    """A big batch packs the R-tree anew; a small one adds to it: both consistent."""
    import sqlite3

    from bad_input_helpers import rtree_mismatches

    def check(expected_rows):
        conn = sqlite3.connect(store.path)
        try:
            tree = conn.execute(
                "SELECT rtreecheck('rtree_project_versions_geom')"
            ).fetchone()[0]
            entries = conn.execute(
                "SELECT COUNT(*) FROM rtree_project_versions_geom"
            ).fetchone()[0]
            rows, last = conn.execute(
                "SELECT COUNT(*), MAX(fid) FROM project_versions"
            ).fetchone()
        finally:
            conn.close()
        assert tree == "ok" and entries == rows == last == expected_rows
        assert rtree_mismatches(store.path) == []
        assert store.integrity_check() == "ok"
        hit = pyogrio.read_dataframe(
            store.path,
            layer="current_projects",
            bbox=tuple(store.current().total_bounds.tolist()),
        )
        assert len(hit) == len(store.current())
        # the layer's recorded extent is that of every version stored
        every = pyogrio.read_dataframe(store.path, layer="project_versions")
        conn = sqlite3.connect(store.path)
        try:
            extent = conn.execute(
                "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents "
                "WHERE table_name = 'project_versions'"
            ).fetchone()
        finally:
            conn.close()
        assert np.allclose(extent, every.total_bounds, rtol=0, atol=1e-12)

    _ingest(store, write(frame(n=3), tmp_path / "a.gpkg"))
    out = _ingest(store, write(_grid(200, "B"), tmp_path / "b.gpkg"))
    assert out["added"] == 200  # packed in bulk: 200 new next to 3
    check(203)
    out = _ingest(store, write(_grid(2, "S", dy=0.07), tmp_path / "c.gpkg"))
    assert out["added"] == 2  # added one by one
    check(205)
    # a re-delivery: half unchanged, half moved, and new ones (bulk, no fid gaps)
    again = pd.concat([_grid(200, "B"), _grid(200, "N", dy=0.1)], ignore_index=True)
    again.loc[100:199, "geometry"] = again.loc[100:199].translate(0, 0.0001).geometry
    out = _ingest(store, write(again, tmp_path / "d.gpkg"))
    assert (out["unchanged"], out["changed"], out["added"]) == (100, 100, 200)
    check(505)


def test_one_store_object_shared_by_writer_threads(tmp_path, store):
    """Each thread lands its own staged rows, also through a shared object."""
    import threading

    store.timeout = 60
    paths = [
        write(_grid(40, f"T{k}-", dy=0.03 * k), tmp_path / f"t{k}.gpkg")
        for k in range(3)
    ]
    outcomes = []
    threads = [
        threading.Thread(target=lambda p=p: outcomes.append(_ingest(store, p)))
        for p in paths
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(o["added"] for o in outcomes) == [40, 40, 40]
    current = store.current()
    assert len(current) == 120
    for k in range(3):  # every batch holds its own file's polygons
        keys = current.loc[current["source_file"] == f"t{k}.gpkg", "key"]
        assert len(keys) == 40 and keys.str.contains(f"/T{k}-").all()
    assert store.integrity_check() == "ok"


def _checked(tmp_path, name, ids):
    """A delivery read and checked, its rows made ready, as ingest makes them."""
    from forestsink.ingest import read_delivery
    from forestsink.store.gpkg import StagedRows
    from forestsink.validate import validate_delivery

    delivery = read_delivery(write(frame(n=len(ids), ids=ids), tmp_path / name))
    result = validate_delivery(delivery.frame)
    assert result.ok
    return {
        "rows": StagedRows.of(result.frame),
        "source_name": delivery.name,
        "source_sha256": delivery.sha256,
        "note": "test",
        "user": "tests",
    }


def test_write_deliveries_is_write_delivery_file_by_file(tmp_path):
    """Several deliveries in one transaction: one batch each, the same
    versions, hashes and counts as writing them one by one; a file already
    loaded (also earlier in the same call) is not written again."""
    items = [
        _checked(tmp_path, "a.gpkg", ["G1", "G2"]),
        _checked(tmp_path, "b.gpkg", ["G2", "G3"]),  # G2 again: changed geometry
    ]
    items.append(items[0])  # the same file again
    grouped = GeoPackageStore(tmp_path / "grouped.gpkg")
    results = grouped.write_deliveries(items)
    assert [r["identical_to"] for r in results] == [None, None, 1]
    assert [(r["added"], r["changed"]) for r in results[:2]] == [(2, 0), (1, 1)]
    single = GeoPackageStore(tmp_path / "single.gpkg")
    for item in items[:2]:
        kw = {k: v for k, v in item.items() if k != "rows"}
        single.write_delivery(item["rows"], **kw)
    columns = ["batch_id", "source_name", "n_added", "n_changed"]
    pd.testing.assert_frame_equal(grouped.batches()[columns], single.batches()[columns])
    drop = ["valid_from", "valid_to"]
    pd.testing.assert_frame_equal(
        grouped.history("500101/G2").drop(columns=drop, errors="ignore"),
        single.history("500101/G2").drop(columns=drop, errors="ignore"),
    )
    assert grouped.integrity_check() == "ok"


def test_write_deliveries_keeps_the_ones_before_a_failure(tmp_path, monkeypatch):
    """A delivery that fails inside the shared transaction leaves nothing of
    itself or of the ones after it; the ones before it are kept whole."""
    items = [
        _checked(tmp_path, "a.gpkg", ["F1"]),
        _checked(tmp_path, "b.gpkg", ["F2", "F3"]),
        _checked(tmp_path, "c.gpkg", ["F4"]),
    ]
    store = GeoPackageStore(tmp_path / "s.gpkg")
    original = GeoPackageStore._land

    def land(self, conn, counts, bounds, source_name, *args):
        result = original(self, conn, counts, bounds, source_name, *args)
        if source_name == "b.gpkg":  # after its rows went in
            raise RuntimeError("disk full")
        return result

    monkeypatch.setattr(GeoPackageStore, "_land", land)
    with pytest.raises(RuntimeError, match="disk full"):
        store.write_deliveries(items)
    assert list(store.batches()["source_name"]) == ["a.gpkg"]
    assert sorted(store.current()["project_id"]) == ["F1"]
    assert store.integrity_check() == "ok"
    monkeypatch.setattr(GeoPackageStore, "_land", original)
    results = store.write_deliveries(items)  # again: a is in, b and c land
    assert [r["identical_to"] for r in results] == [1, None, None]
    assert sorted(store.current()["project_id"]) == ["F1", "F2", "F3", "F4"]


def test_write_deliveries_reports_the_real_error_when_sqlite_gives_up(
    tmp_path, monkeypatch
):
    """When SQLite abandons the whole transaction itself (disk full, I/O
    error), that error is raised — not a missing savepoint — and nothing of
    the group is kept."""
    import sqlite3

    items = [
        _checked(tmp_path, "a.gpkg", ["I1"]),
        _checked(tmp_path, "b.gpkg", ["I2"]),
    ]
    store = GeoPackageStore(tmp_path / "s.gpkg")
    original = GeoPackageStore._land

    def land(self, conn, counts, bounds, source_name, *args):
        if source_name == "b.gpkg":
            conn.execute("ROLLBACK")  # as SQLite does on SQLITE_FULL
            raise sqlite3.OperationalError("database or disk is full")
        return original(self, conn, counts, bounds, source_name, *args)

    monkeypatch.setattr(GeoPackageStore, "_land", land)
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        store.write_deliveries(items)
    assert store.batches().empty
    assert store.integrity_check() == "ok"


def _packed_tree(tmp_path, n=200):
    import sqlite3

    from forestsink.store.rtree import write_rtree

    rng = np.random.default_rng(7)
    x, y = rng.uniform(105, 110, n), rng.uniform(28, 32, n)
    bounds = np.column_stack([x, y, x + 0.01, y + 0.01])
    conn = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    conn.execute("CREATE VIRTUAL TABLE t USING rtree(id, minx, maxx, miny, maxy)")
    conn.execute("BEGIN")
    write_rtree(conn, "t", np.arange(1, n + 1), bounds)
    conn.execute("COMMIT")
    return conn


@pytest.mark.parametrize("damage", ["rowid", "node"])
def test_rtreecheck_catches_a_corrupted_rtree(tmp_path, damage):
    """A damaged shadow table is reported by rtreecheck() and raised as StoreError."""
    from forestsink.errors import StoreError
    from forestsink.store.rtree import check_rtree

    conn = _packed_tree(tmp_path)
    check_rtree(conn, "t")  # a freshly packed tree passes
    leaves = [r[0] for r in conn.execute("SELECT DISTINCT nodeno FROM t_rowid")]
    assert len(leaves) > 1
    if damage == "rowid":  # entry 1 said to be in a leaf that does not hold it
        (home,) = conn.execute("SELECT nodeno FROM t_rowid WHERE rowid = 1").fetchone()
        other = next(n for n in leaves if n != home)
        conn.execute("UPDATE t_rowid SET nodeno = ? WHERE rowid = 1", (other,))
    else:  # the first cell of a leaf moved far outside its parent's box
        data = bytearray(
            conn.execute(
                "SELECT data FROM t_node WHERE nodeno = ?", (leaves[0],)
            ).fetchone()[0]
        )
        data[12:16] = struct.pack(">f", 170.0)  # cell 0, minx (after its id)
        data[16:20] = struct.pack(">f", 171.0)  # cell 0, maxx
        conn.execute(
            "UPDATE t_node SET data = ? WHERE nodeno = ?", (bytes(data), leaves[0])
        )
    report = conn.execute("SELECT rtreecheck('t')").fetchone()[0]
    assert report != "ok"
    with pytest.raises(StoreError, match="rtreecheck"):
        check_rtree(conn, "t")


def test_a_wrongly_packed_rtree_fails_the_batch(tmp_path, store, monkeypatch):
    """write_rtree checks its result: a bad tree raises and nothing is written."""
    from forestsink.errors import StoreError
    from forestsink.store import rtree

    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    before = store.batches()
    original = rtree.pack

    def bad_pack(ids, bounds, capacity):
        nodes, parents, leaves = original(ids, bounds, capacity)
        leaves = leaves.copy()
        leaves[:, 1] += 1  # every rowid points to a node that is not its leaf
        return nodes, parents, leaves

    monkeypatch.setattr(rtree, "pack", bad_pack)
    big = _grid(60, "B")
    with pytest.raises(StoreError, match="rtreecheck"):
        _ingest(store, write(big, tmp_path / "b.gpkg"))
    monkeypatch.setattr(rtree, "pack", original)
    pd.testing.assert_frame_equal(store.batches(), before)
    assert store.integrity_check() == "ok"
    assert len(store.current()) == 3
