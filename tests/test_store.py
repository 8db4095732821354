"""The versioned GeoPackage store: versions, as-of, history, diff, undo."""

import sqlite3

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from delivery_factory import frame, write

from forestsink.cli.main import cli
from forestsink.deliveries import IngestError, ingest_deliveries
from forestsink.store import GeoPackageStore, StoreBusyError, StoreError


def _dump(path):
    conn = sqlite3.connect(path)
    try:
        return (
            conn.execute("SELECT * FROM project_versions ORDER BY fid").fetchall(),
            conn.execute("SELECT * FROM batches ORDER BY batch_id").fetchall(),
        )
    finally:
        conn.close()


@pytest.fixture
def store(tmp_path):
    return GeoPackageStore(tmp_path / "store.gpkg", timeout=1)


def _ingest(store, path, **kw):
    return ingest_deliveries([path], store, **kw)[1][0]


def test_first_ingest_and_identical_reingest(tmp_path, store):
    path = write(frame(), tmp_path / "a.gpkg")
    out = _ingest(store, path, user="tester")
    assert (out["added"], out["changed"], out["batch_id"]) == (3, 0, 1)
    before = _dump(store.path)
    again = _ingest(store, path)
    assert again["batch_id"] is None and "identical to batch 1" in again["status"]
    assert _dump(store.path) == before
    batch = store.batches().iloc[0]
    assert batch["user"] == "tester" and batch["source_name"] == "a.gpkg"
    assert len(batch["source_sha256"]) == 64
    assert store.integrity_check() == "ok"


def test_same_content_in_a_new_file_changes_nothing(tmp_path, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    out = _ingest(store, write(frame(), tmp_path / "a_copy.geojson"))
    assert out["batch_id"] is None and out["unchanged"] == 3
    assert len(store.batches()) == 1


def test_redelivery_creates_version_and_as_of_shows_the_old(tmp_path, store):
    _ingest(
        store,
        write(frame(), tmp_path / "a.gpkg"),
    )
    t1 = store.batches()["created_at"].iloc[0]
    changed = frame()
    changed.loc[1, "geometry"] = changed.geometry.iloc[1].buffer(0.001)
    changed.loc[1, "面积(亩)"] = None
    out = _ingest(store, write(changed, tmp_path / "a_v2.gpkg"))
    assert (out["added"], out["changed"], out["unchanged"]) == (0, 1, 2)
    history = store.history("500101/P2")
    assert list(history["version"]) == [1, 2]
    assert history["end_reason"].iloc[0] == "superseded"
    assert history["valid_to"].iloc[0] == history["valid_from"].iloc[1]
    now = store.current().set_index("key")
    then = store.current(as_of=t1).set_index("key")
    assert now.loc["500101/P2", "version"] == 2
    assert then.loc["500101/P2", "version"] == 1
    assert now.loc["500101/P2", "area_mu"] > then.loc["500101/P2", "area_mu"]
    assert store.current(as_of=1).set_index("key").loc["500101/P2", "version"] == 1
    assert len(store.current(as_of="2000-01-01")) == 0
    diff = store.diff(1, 2)
    assert diff[["key", "change"]].values.tolist() == [["500101/P2", "changed"]]


def test_withdraw_keeps_history(tmp_path, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    batch = store.withdraw("500101/P3", reason="项目取消 cancelled")
    assert "500101/P3" not in set(store.current()["key"])
    assert "500101/P3" in set(store.current(as_of=1)["key"])
    history = store.history("500101/P3")
    assert history["end_reason"].iloc[0] == "withdrawn: 项目取消 cancelled"
    assert int(history["ended_batch"].iloc[0]) == batch
    assert store.diff(1, batch)["change"].tolist() == ["withdrawn"]
    with pytest.raises(StoreError, match="already withdrawn"):
        store.withdraw("500101/P3", reason="again")
    with pytest.raises(StoreError, match="does not exist"):
        store.withdraw("500101/NOPE", reason="x")
    with pytest.raises(StoreError, match="needs a reason"):
        store.withdraw("500101/P1", reason=" ")


def test_undo_is_a_new_batch(tmp_path, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    changed = frame(n=4)
    changed.loc[0, "geometry"] = changed.geometry.iloc[0].buffer(0.001)
    changed.loc[0, "面积(亩)"] = None
    _ingest(store, write(changed, tmp_path / "b.gpkg"))  # P1 changed, P4 added
    assert set(store.current()["key"]) == {f"500101/P{i}" for i in (1, 2, 3, 4)}
    undo = store.undo(2)
    current = store.current().set_index("key")
    assert set(current.index) == {"500101/P1", "500101/P2", "500101/P3"}
    assert current.loc["500101/P1", "version"] == 3  # restored as a new version
    v1 = store.history("500101/P1")
    assert v1.geometry.iloc[2].equals(v1.geometry.iloc[0])
    assert store.batches().set_index("batch_id").loc[2, "undone_by"] == undo
    with pytest.raises(StoreError, match="already undone"):
        store.undo(2)
    # re-ingesting the undone file works again (its batch is no longer live)
    assert _ingest(store, tmp_path / "b.gpkg")["batch_id"] == undo + 1


def test_undo_refused_when_later_batches_changed_it(tmp_path, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    store.withdraw("500101/P1", reason="x")
    with pytest.raises(StoreError, match="later batches"):
        store.undo(1)


def test_history_is_protected_by_the_file_itself(tmp_path, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    from forestsink.store.gpkg import _register_functions

    conn = sqlite3.connect(store.path)
    _register_functions(conn)  # as GDAL (QGIS, ogr2ogr) does
    with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
        conn.execute("DELETE FROM project_versions")
    with pytest.raises(sqlite3.DatabaseError, match="never overwritten"):
        conn.execute("UPDATE project_versions SET area_mu = 0")
    with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
        conn.execute("DELETE FROM batches")
    conn.close()


def test_errors_write_nothing(tmp_path, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    before = _dump(store.path)
    bad = frame(n=2, ids=["X1", "X2"])
    bad.loc[1, "工程类别"] = "森林康养"
    with pytest.raises(IngestError) as err:
        _ingest(store, write(bad, tmp_path / "bad.gpkg"))
    assert "unknown_project_type" in set(err.value.report.issues["code"])
    assert _dump(store.path) == before
    out = _ingest(store, tmp_path / "bad.gpkg", skip_errors=True)
    assert out["added"] == 1 and out["skipped"] == 1
    assert "left out" in store.batches()["note"].iloc[-1]


def test_crash_inside_a_batch_rolls_back(tmp_path, store, monkeypatch):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    before = _dump(store.path)
    from forestsink.store import gpkg

    def boom(conn, rows, bounds):
        conn.executemany(
            "INSERT INTO batches (kind, created_at) VALUES (?, ?)", [("ingest", "x")]
        )
        raise RuntimeError("disk full")

    monkeypatch.setattr(gpkg, "_insert_versions", boom)
    with pytest.raises(RuntimeError):
        _ingest(
            store,
            write(frame(n=5, ids=[f"N{i}" for i in range(5)]), tmp_path / "n.gpkg"),
        )
    assert _dump(store.path) == before
    assert store.integrity_check() == "ok"


def test_busy_store_gives_clear_message(tmp_path, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreBusyError, match="another process is writing"):
            GeoPackageStore(store.path, timeout=0.2).withdraw("500101/P1", reason="x")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


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


def test_cli_round_trip(tmp_path):
    runner = CliRunner()
    path = write(frame(), tmp_path / "a.shp", encoding="GBK", cpg=False)
    store = str(tmp_path / "s.gpkg")
    result = runner.invoke(cli, ["ingest", str(path), "--store", store, "--user", "u"])
    assert result.exit_code == 0, result.output
    assert "GB18030" in result.output and "written" in result.output
    again = runner.invoke(cli, ["ingest", str(path), "--store", store])
    assert again.exit_code == 0 and "identical to batch 1" in again.output
    result = runner.invoke(
        cli, ["withdraw", "500101/P1", "--reason", "取消", "--store", store]
    )
    assert result.exit_code == 0 and "batch 2" in result.output
    hist = runner.invoke(cli, ["history", "500101/P1", "--store", store])
    assert hist.exit_code == 0 and "withdrawn: 取消" in hist.output
    diff = runner.invoke(cli, ["diff", "--store", store, "--from", "1", "--to", "2"])
    assert diff.exit_code == 0 and "withdrawn: 1" in diff.output
    out = tmp_path / "cur.geojson"
    cur = runner.invoke(
        cli, ["current", "--store", store, "--as-of", "1", "--out", str(out)]
    )
    assert cur.exit_code == 0 and "3 polygons" in cur.output
    undo = runner.invoke(cli, ["undo", "2", "--store", store])
    assert undo.exit_code == 0
    missing = runner.invoke(cli, ["history", "500101/ZZ", "--store", store])
    assert missing.exit_code == 1 and "no polygon with key" in missing.output
    bad = runner.invoke(cli, ["validate", str(tmp_path / "cur.geojson")])
    assert bad.exit_code == 1  # exported layer has no delivery columns
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
    assert ("unknown_project_type", 7) in set(zip(issues["code"], issues["row"],
                                                   strict=True))
    dup = issues[issues["code"] == "duplicate_id"]
    assert 10 in set(dup["row"]) and "also row 2" in " ".join(dup["message"])
    _, (out,) = ingest_deliveries([path], chunked, chunk_size=5,
                                       skip_errors=True)
    whole = GeoPackageStore(tmp_path / "b.gpkg")
    _, (ref,) = ingest_deliveries([path], whole, chunk_size=0, skip_errors=True)
    assert out["batch_id"] == 1 and out["added"] == ref["added"] == 9
    a = chunked.current().drop(columns=["valid_from", "geometry"])
    b = whole.current().drop(columns=["valid_from", "geometry"])
    pd.testing.assert_frame_equal(a.drop(columns="fid"), b.drop(columns="fid"))
    assert "read in chunks" in chunked.batches()["note"].iloc[0]
