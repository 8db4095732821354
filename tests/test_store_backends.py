"""The same store behaviour on both back ends: GeoPackage and PostgreSQL/PostGIS.

Every test taking ``backend`` runs twice, against a fresh GeoPackage file and
against a fresh schema in a PostgreSQL + PostGIS server this session started
(``pg_fixture.pg_server``), so the two stores cannot drift apart. Then checks
only PostGIS has (indexes, triggers against other programs, concurrent
writers, URL handling) and ``store migrate`` (full history, same answers).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pg_fixture
import pytest
from click.testing import CliRunner
from delivery_factory import FULING, frame, write
from pg_fixture import MISSING, SCRIPT

import forestsink.store
from forestsink.cli.main import cli
from forestsink.cli.store_cmd import store_group
from forestsink.landing.deliveries import IngestError, ingest_deliveries
from forestsink.store import GeoPackageStore, StoreBusyError, StoreError
from forestsink.store.base import Store, diff_states
from forestsink.store.migrate import migrate_store
from forestsink.store.postgis import PostGISStore, parse_url

pg_server = pg_fixture.pg_server  # the session's own PostgreSQL + PostGIS server


def _psycopg():
    import psycopg as module

    return module


# ---------------------------------------------------------------------------
# the two back ends behind one fixture
# ---------------------------------------------------------------------------


@dataclass
class Backend:
    """A fresh, empty store of one kind, and raw access as another program."""

    name: str
    location: str  # path or URL (with ?schema=)

    def open(self, **kw):
        if self.name == "gpkg":
            return GeoPackageStore(self.location, **kw)
        return PostGISStore(self.location, **kw)

    @property
    def schema(self) -> str:
        return parse_url(self.location)[1]

    def table(self, name: str) -> str:
        return name if self.name == "gpkg" else f'"{self.schema}".{name}'

    @property
    def error(self):
        return sqlite3.DatabaseError if self.name == "gpkg" else _psycopg().Error

    @contextlib.contextmanager
    def raw(self):
        """A plain DB-API connection, as QGIS or psql would open one."""
        if self.name == "gpkg":
            from forestsink.store.gpkg_codec import register_functions

            conn = sqlite3.connect(self.location, isolation_level=None)
            register_functions(conn)  # as GDAL does
        else:
            conn = _psycopg().connect(parse_url(self.location)[0], autocommit=True)
        try:
            yield conn
        finally:
            conn.close()

    def dump(self):
        """Every row of both tables, in id order."""
        versions, batches = self.table("project_versions"), self.table("batches")
        with self.raw() as conn:
            if self.name == "gpkg":
                v = conn.execute(f"SELECT * FROM {versions} ORDER BY fid").fetchall()
            else:
                v = conn.execute(
                    f"SELECT *, ST_AsEWKB(geom) FROM {versions} ORDER BY fid"
                ).fetchall()
            b = conn.execute(f"SELECT * FROM {batches} ORDER BY batch_id").fetchall()
        return v, b


def _new_schema_url(url: str) -> str:
    return f"{url}?schema=t_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["gpkg", "postgis"])
def backend(request, tmp_path) -> Backend:
    if request.param == "gpkg":
        return Backend("gpkg", str(tmp_path / "store.gpkg"))
    url = request.getfixturevalue("pg_server")
    return Backend("postgis", _new_schema_url(url))


@pytest.fixture
def store(backend):
    return backend.open(timeout=1)


def _ingest(store, path, **kw):
    return ingest_deliveries([path], store, **kw)[1][0]


def _history_store(store, tmp_path) -> None:
    """Ingest, re-deliver, add, withdraw, undo: every kind of batch."""
    _ingest(store, write(frame(), tmp_path / "a.gpkg"), user="ann")  # 1
    changed = frame(n=4)
    changed.loc[0, "geometry"] = changed.geometry.iloc[0].buffer(0.001)
    changed.loc[0, "面积(亩)"] = None
    _ingest(store, write(changed, tmp_path / "b.gpkg"), user="bo")  # 2
    store.withdraw("500101/P3", reason="项目取消 cancelled")  # 3
    _ingest(
        store,
        write(frame(FULING, district="涪陵区", n=2), tmp_path / "c.shp"),
    )  # 4
    store.undo(2)  # 5
    store.withdraw_many(
        [("500102/P1", "重复 duplicate"), ("500101/P2", "x")], source_name="w.csv"
    )  # 6
    store.undo(6)  # 7


# ---------------------------------------------------------------------------
# semantics, on both back ends
# ---------------------------------------------------------------------------


def test_both_implement_the_store_protocol(backend):
    store = backend.open()
    assert isinstance(store, Store)
    assert not store.exists


def test_first_ingest_and_identical_reingest(tmp_path, backend, store):
    path = write(frame(), tmp_path / "a.gpkg")
    out = _ingest(store, path, user="tester")
    assert (out["added"], out["changed"], out["batch_id"]) == (3, 0, 1)
    assert store.exists
    before = backend.dump()
    again = _ingest(store, path)
    assert again["batch_id"] is None and "identical to batch 1" in again["status"]
    assert backend.dump() == before
    batch = store.batches().iloc[0]
    assert batch["user"] == "tester" and batch["source_name"] == "a.gpkg"
    assert len(batch["source_sha256"]) == 64
    assert batch["kind"] == "ingest" and batch["n_added"] == 3
    assert batch["created_at"].endswith("Z") and len(batch["created_at"]) == 27
    assert store.find_batch_by_sha(batch["source_sha256"]) == 1
    assert store.find_batch_by_sha("0" * 64) is None
    assert store.integrity_check() == "ok"


def test_same_content_in_a_new_file_changes_nothing(tmp_path, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    out = _ingest(store, write(frame(), tmp_path / "a_copy.geojson"))
    assert out["batch_id"] is None and out["unchanged"] == 3
    assert "no changes" in out["status"]
    assert len(store.batches()) == 1


def test_same_polygons_with_other_ring_order_change_nothing(tmp_path, store):
    """Clockwise rings (Shapefile) or another start vertex: still unchanged."""
    from shapely.geometry import Polygon

    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    turned = frame()
    turned["geometry"] = [  # reversed ring, starting two vertices on
        Polygon(
            list(reversed(g.exterior.coords[:-1]))[2:]
            + list(reversed(g.exterior.coords[:-1]))[:2]
        )
        for g in turned.geometry
    ]
    assert not turned.geometry.geom_equals_exact(frame().geometry, 0).any()
    assert turned.geometry.geom_equals(frame().geometry).all()
    out = _ingest(store, write(turned, tmp_path / "turned.geojson"))
    assert out["batch_id"] is None and out["unchanged"] == 3
    assert len(store.batches()) == 1


def test_redelivery_creates_version_and_as_of_shows_the_old(tmp_path, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    t1 = store.batches()["created_at"].iloc[0]
    changed = frame()
    changed.loc[1, "geometry"] = changed.geometry.iloc[1].buffer(0.001)
    changed.loc[1, "面积(亩)"] = None
    out = _ingest(store, write(changed, tmp_path / "a_v2.gpkg"))
    assert (out["added"], out["changed"], out["unchanged"]) == (0, 1, 2)
    history = store.history("500101/P2")
    assert list(history["version"]) == [1, 2]
    assert list(history["batch_kind"]) == ["ingest", "ingest"]
    assert history["end_reason"].iloc[0] == "superseded"
    assert history["valid_to"].iloc[0] == history["valid_from"].iloc[1]
    now = store.current().set_index("key")
    then = store.current(as_of=t1).set_index("key")
    assert now.loc["500101/P2", "version"] == 2
    assert then.loc["500101/P2", "version"] == 1
    assert now.loc["500101/P2", "area_mu"] > then.loc["500101/P2", "area_mu"]
    assert store.current(as_of=1).set_index("key").loc["500101/P2", "version"] == 1
    assert store.current(as_of="1").set_index("key").loc["500101/P2", "version"] == 1
    assert len(store.current(as_of="2000-01-01")) == 0
    assert len(store.current(as_of=t1[:10])) == 3  # a bare date: end of that day
    diff = store.diff(1, 2)
    assert diff[["key", "change"]].values.tolist() == [["500101/P2", "changed"]]
    assert diff["version_from"].tolist() == [1] and diff["version_to"].tolist() == [2]
    assert store.current().crs.to_epsg() == 4490
    assert set(store.current().geom_type) == {"MultiPolygon"}
    with pytest.raises(StoreError, match="give a batch number"):
        store.current(as_of="last tuesday")


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
    with pytest.raises(StoreError, match="no polygon with key"):
        store.history("500101/NOPE")


def test_withdraw_many_is_all_or_nothing(tmp_path, backend, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    before = backend.dump()
    with pytest.raises(StoreError, match="does not exist"):
        store.withdraw_many(
            [("500101/P1", "a"), ("500101/NOPE", "b")], source_name="w.csv"
        )
    assert backend.dump() == before
    batch = store.withdraw_many(
        [("500101/P1", "a"), ("500101/P2", "b")], source_name="w.csv"
    )
    row = store.batches().set_index("batch_id").loc[batch]
    assert row["kind"] == "withdraw" and row["n_withdrawn"] == 2
    assert row["note"] == "500101/P1: a; 500101/P2: b"
    assert list(store.current()["key"]) == ["500101/P3"]
    assert store.integrity_check() == "ok"


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
    assert v1["content_hash"].iloc[2] == v1["content_hash"].iloc[0]
    batches = store.batches().set_index("batch_id")
    assert batches.loc[2, "undone_by"] == undo and batches.loc[undo, "undoes"] == 2
    assert batches.loc[undo, "kind"] == "undo"
    with pytest.raises(StoreError, match="already undone"):
        store.undo(2)
    with pytest.raises(StoreError, match="no batch 99"):
        store.undo(99)
    # re-ingesting the undone file works again (its batch is no longer live)
    assert _ingest(store, tmp_path / "b.gpkg")["batch_id"] == undo + 1
    assert store.integrity_check() == "ok"


def test_undo_refused_when_later_batches_changed_it(tmp_path, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    store.withdraw("500101/P1", reason="x")
    with pytest.raises(StoreError, match="later batches"):
        store.undo(1)


def test_undo_of_a_withdrawal_refused_after_the_polygon_came_back(
    tmp_path, backend, store, request
):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    withdrawal = store.withdraw("500101/P1", reason="x")
    back = _ingest(store, write(frame(), tmp_path / "a_again.geojson"))
    assert back["added"] == 1  # P1 delivered again: version 2
    with pytest.raises(StoreError, match="later batches"):
        store.undo(withdrawal)
    assert store.current()["key"].is_unique


def test_history_is_protected_by_the_store_itself(tmp_path, backend, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    store.withdraw("500101/P3", reason="x")
    versions, batches = backend.table("project_versions"), backend.table("batches")
    with backend.raw() as conn:
        with pytest.raises(backend.error, match="never deleted"):
            conn.execute(f"DELETE FROM {versions}")
        with pytest.raises(backend.error, match="never overwritten"):
            conn.execute(f"UPDATE {versions} SET area_mu = 0")
        with pytest.raises(backend.error, match="never overwritten"):  # ended
            conn.execute(
                f"UPDATE {versions} SET end_reason = 'other' WHERE ended_batch = 2"
            )
        with pytest.raises(backend.error, match="never deleted"):
            conn.execute(f"DELETE FROM {batches}")
    assert store.integrity_check() == "ok"


def test_errors_write_nothing(tmp_path, backend, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    before = backend.dump()
    bad = frame(n=2, ids=["X1", "X2"])
    bad.loc[1, "工程类别"] = "森林康养"
    with pytest.raises(IngestError) as err:
        _ingest(store, write(bad, tmp_path / "bad.gpkg"))
    assert "unknown_project_type" in set(err.value.report.issues["code"])
    assert backend.dump() == before
    out = _ingest(store, tmp_path / "bad.gpkg", skip_errors=True)
    assert out["added"] == 1 and out["skipped"] == 1
    assert "left out" in store.batches()["note"].iloc[-1]


def test_crash_inside_a_batch_rolls_back(tmp_path, backend, store, monkeypatch):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    before = backend.dump()
    original = store.transaction

    @contextlib.contextmanager
    def crash_before_commit(**kwargs):  # lock=False: staged first (PostGIS)
        with original(**kwargs) as conn:
            yield conn  # every row of the batch is written...
            raise RuntimeError("disk full")  # ...then the process dies

    monkeypatch.setattr(store, "transaction", crash_before_commit)
    changed = frame(n=5, ids=[f"N{i}" for i in range(5)])
    if backend.name == "postgis":
        # a landing commits in its own message: the crash is a statement
        # failing after every row of the batch is written, before the COMMIT
        sql = store._landing_sql()
        failing = sql.replace("\nCOMMIT", "\nSELECT 1 / 0;\nCOMMIT")
        assert failing != sql
        monkeypatch.setattr(store, "_landing_sql", lambda: failing)
        with pytest.raises(backend.error, match="division by zero"):
            _ingest(store, write(changed, tmp_path / "n.gpkg"))
    else:
        with pytest.raises(RuntimeError, match="disk full"):
            _ingest(store, write(changed, tmp_path / "n.gpkg"))
    with pytest.raises(RuntimeError, match="disk full"):
        store.withdraw("500101/P1", reason="x")
    with pytest.raises(RuntimeError, match="disk full"):
        store.undo(1)
    assert backend.dump() == before
    assert store.integrity_check() == "ok"


KILLED_WRITER = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from delivery_factory import frame
from forestsink.landing.deliveries import check_deliveries
from forestsink.store.gpkg import GeoPackageStore
from forestsink.store.postgis import PostGISStore
store = (GeoPackageStore if {name!r} == "gpkg" else PostGISStore)({location!r})
original = store.transaction
from contextlib import contextmanager
@contextmanager
def killed(**kwargs):
    with original(**kwargs) as conn:
        yield conn
        os.kill(os.getpid(), signal.SIGKILL)  # all rows written, not committed
store.transaction = killed
if {name!r} == "postgis":  # the landing commits in its message: die inside it
    import threading, time
    sql = store._landing_sql().replace("\\nCOMMIT", "\\nSELECT pg_sleep(4);\\nCOMMIT")
    assert "pg_sleep" in sql
    def die():
        time.sleep(1.0)  # every row written, the server sleeps before COMMIT
        os.kill(os.getpid(), signal.SIGKILL)
    def sql_then_die():  # asked for right before the message is sent
        threading.Thread(target=die, daemon=True).start()
        return sql
    store._landing_sql = sql_then_die
report = check_deliveries([{path!r}])
store.write_delivery(report.deliveries[0][1].frame, source_name="n.gpkg",
                     source_sha256="0" * 64)
"""


def _wait_until_no_query_like(backend, pattern: str, seconds: float = 10.0) -> None:
    """Wait until no server process runs a query like *pattern* (PostGIS)."""
    deadline = time.monotonic() + seconds
    with backend.raw() as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s "
                "AND state = 'active' AND pid <> pg_backend_pid()",
                (pattern,),
            ).fetchone()
            if row[0] == 0:
                return
            time.sleep(0.1)
    raise AssertionError(f"a server process still runs {pattern}")


def test_killed_writer_leaves_the_store_as_it_was(tmp_path, backend, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    before = backend.dump()
    path = write(frame(n=5, ids=[f"N{i}" for i in range(5)]), tmp_path / "n.gpkg")
    code = KILLED_WRITER.format(
        tests=str(Path(__file__).parent),
        name=backend.name,
        location=backend.location,
        path=str(path),
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=60, check=False
    )
    assert run.returncode == -9, run.stderr.decode()
    if backend.name == "postgis":  # the dead writer's server process ends first
        _wait_until_no_query_like(backend, "%pg_sleep(4)%")
    assert backend.dump() == before
    assert store.integrity_check() == "ok"
    # and the next writer is not kept waiting by the dead one
    assert _ingest(backend.open(timeout=5), path)["added"] == 5


def test_busy_store_gives_clear_message(tmp_path, backend, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    before = backend.dump()
    with backend.open().transaction():  # another writer holds the store
        started = time.monotonic()
        with pytest.raises(StoreBusyError, match="another process is writing"):
            backend.open(timeout=0.3).withdraw("500101/P1", reason="x")
        # it waited its timeout first (a lower bound: never flaky)
        assert time.monotonic() - started >= 0.25
        # readers are not blocked by a writer
        assert len(backend.open(timeout=0.3).current()) == 3
    assert backend.dump() == before


def test_concurrent_writers_are_serialised(tmp_path, backend):
    """Four writers at once: one batch each, in some order, nothing lost."""
    store = backend.open(timeout=60)
    _ingest(store, write(frame(), tmp_path / "base.gpkg"))
    frames = []
    for i in range(4):
        f = frame(n=3, ids=[f"W{i}-{j}" for j in range(3)])
        f["geometry"] = f.translate(0, 0.01 * (i + 1)).geometry
        f["面积(亩)"] = None
        frames.append(write(f, tmp_path / f"w{i}.gpkg"))
    # and all of them deliver the same change of P1: one version wins
    changed = frame(n=1)
    changed.loc[0, "geometry"] = changed.geometry.iloc[0].buffer(0.0005)
    changed.loc[0, "面积(亩)"] = None
    p1 = _canonical(changed, tmp_path, "p1")
    outcomes, errors = [], []

    def work(path):
        try:
            mine = backend.open(timeout=60)
            outcomes.append(_ingest(mine, path))
            outcomes.append(
                mine.write_delivery(
                    p1,
                    source_name=f"p1-{path.stem}",
                    source_sha256=uuid.uuid4().hex * 2,
                )
            )
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(p,)) for p in frames]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    batches = store.batches()
    assert list(batches["batch_id"]) == list(range(1, len(batches) + 1))
    assert batches["created_at"].is_monotonic_increasing
    assert batches["created_at"].is_unique
    # each delivery of W* polygons landed once; the P1 change exactly once
    assert sum(o["added"] for o in outcomes) == 12
    assert sum(o["changed"] for o in outcomes) == 1
    assert len(batches) == 1 + 4 + 1
    assert list(store.history("500101/P1")["version"]) == [1, 2]
    assert len(store.current()) == 3 + 12
    assert store.integrity_check() == "ok"


def _canonical(gdf, tmp_path, stem):
    """A validated canonical frame (as ingest passes to write_delivery)."""
    from forestsink.landing.deliveries import check_deliveries

    path = write(gdf, tmp_path / f"canon-{stem}.gpkg")
    report = check_deliveries([path])
    return report.deliveries[0][1].frame


def test_cli_round_trip(tmp_path, backend, monkeypatch):
    runner = CliRunner()
    path = write(frame(), tmp_path / "a.shp", encoding="GBK", cpg=False)
    store = backend.location
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
    if backend.name == "postgis":
        assert "***" in missing.output
        assert _password(PostGISStore(store)) not in missing.output


# ---------------------------------------------------------------------------
# diff logic shared by both back ends
# ---------------------------------------------------------------------------


def test_diff_states_matches_the_geopackage_diff(tmp_path):
    store = GeoPackageStore(tmp_path / "s.gpkg")
    _history_store(store, tmp_path)
    n = len(store.batches())
    for a in range(n + 1):
        for b in range(n + 1):
            expected = store.diff(a, b)
            got = diff_states(store.current(as_of=a), store.current(as_of=b))
            pd.testing.assert_frame_equal(got, expected)


# ---------------------------------------------------------------------------
# PostGIS only
# ---------------------------------------------------------------------------


@pytest.fixture
def pg_store(pg_server):
    return PostGISStore(_new_schema_url(pg_server), timeout=1)


def _pg(store: PostGISStore):
    return _psycopg().connect(store._conninfo, autocommit=True)


def test_postgis_layout_and_indexes(tmp_path, pg_store):
    _ingest(pg_store, write(frame(), tmp_path / "a.gpkg"))
    pg_store.withdraw("500101/P2", reason="x")
    with _pg(pg_store) as conn:
        indexes = dict(
            conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s "
                "AND tablename = 'project_versions'",
                (pg_store.schema,),
            ).fetchall()
        )
        assert "USING gist (geom)" in indexes["project_versions_geom"]
        assert "btree (key, version)" in indexes["project_versions_key_version"]
        assert "UNIQUE" in indexes["project_versions_live_key"]
        assert "WHERE (ended_batch IS NULL)" in indexes["project_versions_live_key"]
        assert "btree (valid_from, valid_to)" in indexes["project_versions_valid"]
        columns = dict(
            conn.execute(
                "SELECT f_table_name, type || ':' || srid FROM geometry_columns "
                "WHERE f_table_schema = %s",
                (pg_store.schema,),
            ).fetchall()
        )
        assert columns == {
            "project_versions": "MULTIPOLYGON:4490",
            "current_projects": "MULTIPOLYGON:4490",
        }
        view = conn.execute(
            f'SELECT key FROM "{pg_store.schema}".current_projects ORDER BY key'
        ).fetchall()
        assert [r[0] for r in view] == ["500101/P1", "500101/P3"]
        # a bounding-box search uses the GiST index
        conn.execute("SET enable_seqscan = off")
        bbox = "ST_MakeEnvelope(108.379, 30.799, 108.385, 30.805, 4490)"
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                f'EXPLAIN SELECT key FROM "{pg_store.schema}".project_versions '
                f"WHERE geom && {bbox}"
            )
        )
        assert "project_versions_geom" in plan
        hit = conn.execute(
            f'SELECT key FROM "{pg_store.schema}".project_versions '
            f"WHERE ST_Intersects(geom, {bbox})"
        ).fetchall()
        assert [r[0] for r in hit] == ["500101/P1"]


def test_postgis_triggers_refuse_what_other_programs_try(tmp_path, pg_store):
    _ingest(pg_store, write(frame(), tmp_path / "a.gpkg"))
    s = f'"{pg_store.schema}"'
    psycopg = _psycopg()
    with _pg(pg_store) as conn:
        for sql, message in [
            (f"TRUNCATE {s}.project_versions", "never deleted"),
            (f"TRUNCATE {s}.batches CASCADE", "never deleted"),
            (
                f"UPDATE {s}.project_versions SET geom = ST_Multi(ST_Buffer(geom, 1))",
                "never overwritten",
            ),
            (f"UPDATE {s}.project_versions SET fid = fid + 100", "never overwritten"),
            (
                f"UPDATE {s}.batches SET note = 'edited'",
                "batches are never overwritten",
            ),
            (f"UPDATE {s}.batches SET n_added = 99", "batches are never overwritten"),
            (f"UPDATE {s}.batches SET created_at = now()", "never overwritten"),
        ]:
            with pytest.raises(psycopg.Error, match=message):
                conn.execute(sql)
        # a second live version of a key is refused by the database itself
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                f"INSERT INTO {s}.project_versions (geom, key, version, "
                "content_hash, batch_id, valid_from) SELECT geom, key, 9, 'x', "
                f"batch_id, valid_from FROM {s}.project_versions WHERE fid = 1"
            )
        # the geometry type is enforced
        with pytest.raises(psycopg.Error, match="Geometry type"):
            conn.execute(
                f"INSERT INTO {s}.project_versions (geom, key, version, "
                "content_hash, batch_id, valid_from) SELECT "
                "ST_SetSRID(ST_MakePoint(108, 30), 4490), 'k/1', 1, 'x', "
                f"batch_id, valid_from FROM {s}.project_versions WHERE fid = 1"
            )
    assert pg_store.integrity_check() == "ok"


def test_postgis_integrity_check_finds_problems(tmp_path, pg_store):
    _ingest(pg_store, write(frame(), tmp_path / "a.gpkg"))
    s = f'"{pg_store.schema}"'
    with _pg(pg_store) as conn:  # an owner who disables the triggers can
        conn.execute(f"ALTER TABLE {s}.project_versions DISABLE TRIGGER USER")
        conn.execute(f"DELETE FROM {s}.project_versions WHERE key = '500101/P3'")
    problems = pg_store.integrity_check()
    assert "counts do not match" in problems and "[1]" in problems


def test_postgis_waiting_writer_proceeds_when_the_first_commits(tmp_path, pg_store):
    _ingest(pg_store, write(frame(), tmp_path / "a.gpkg"))
    waited = {}

    def second():
        other = PostGISStore(pg_store._conninfo, schema=pg_store.schema, timeout=30)
        waited["batch"] = other.withdraw("500101/P2", reason="second")

    with pg_store.transaction():
        thread = threading.Thread(target=second)
        thread.start()
        # the second writer is waiting for the lock, not failing
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with _pg(pg_store) as watch:
                waiting = watch.execute(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a "
                    "USING (pid) WHERE NOT l.granted AND "
                    "a.application_name = 'forestsink'"
                ).fetchone()[0]
            if waiting:
                break
            time.sleep(0.05)
        assert waiting
        # seen waiting on the lock, so it cannot have written yet
        assert "batch" not in waited
    thread.join(30)
    assert waited["batch"] == 2
    assert pg_store.integrity_check() == "ok"


def _password(store: PostGISStore) -> str:
    return store._conninfo.split("//", 1)[1].split("@", 1)[0].split(":", 1)[1]


def test_postgis_url_handling(pg_server):
    conninfo, schema, masked = parse_url(pg_server + "?x=1")
    assert schema is None and "***" in masked and "x=1" in conninfo
    store = PostGISStore(pg_server)
    assert store.schema == "forestsink" and "***" in store.path
    assert _password(store) not in store.path and _password(store) not in repr(store)
    with pytest.raises(StoreError, match="not a plain SQL name"):
        PostGISStore(pg_server + "?schema=a;drop")
    with pytest.raises(StoreError, match="not a PostgreSQL URL"):
        PostGISStore("store.gpkg")
    wrong = pg_server.replace(_password(store), "wrong-password")
    with pytest.raises(StoreError, match="cannot connect") as err:
        PostGISStore(wrong).current()
    assert "wrong-password" not in str(err.value) and "***" in str(err.value)
    empty = PostGISStore(_new_schema_url(pg_server))
    assert empty.find_batch_by_sha("0" * 64) is None
    with pytest.raises(StoreError, match="no such store"):
        empty.current()


def test_open_store_gives_a_postgis_store(pg_server):
    store = forestsink.store.open_store(pg_server, timeout=5)
    assert isinstance(store, PostGISStore) and store.timeout == 5


# ---------------------------------------------------------------------------
# store migrate: GeoPackage -> PostGIS with the full history
# ---------------------------------------------------------------------------


def _same_answers(a, b) -> None:
    """Both stores answer every question identically."""
    pd.testing.assert_frame_equal(a.batches(), b.batches())
    batches = a.batches()
    moments = [None, "2000-01-01", *batches["created_at"], batches["created_at"][0]]
    moments += [t[:10] for t in batches["created_at"]]
    states = [*range(len(batches) + 1), *moments]
    for state in states:
        pd.testing.assert_frame_equal(a.current(as_of=state), b.current(as_of=state))
    for key in a.current(as_of=len(batches))["key"]:
        pd.testing.assert_frame_equal(a.history(key), b.history(key))
    for x in range(len(batches) + 1):
        for y in range(len(batches) + 1):
            pd.testing.assert_frame_equal(a.diff(x, y), b.diff(x, y))


@pytest.mark.slow
def test_migrate_copies_full_history(tmp_path, pg_server):
    source = GeoPackageStore(tmp_path / "s.gpkg")
    _history_store(source, tmp_path)
    before = Backend("gpkg", str(source.path)).dump()
    url = _new_schema_url(pg_server)
    out = migrate_store(source.path, url, chunk_size=3)
    assert out["batches"] == 7 and out["versions"] == len(before[0])
    assert out["live"] == len(source.current())
    assert Backend("gpkg", str(source.path)).dump() == before  # source untouched
    target = PostGISStore(url)
    assert target.integrity_check() == "ok"
    dumped = Backend("postgis", url).dump()
    assert [r[0] for r in dumped[0]] == [r[0] for r in before[0]]  # same fids
    _same_answers(source, target)
    # both go on the same way: batch and fid numbers continue
    nxt = frame(n=5)
    nxt.loc[4, "geometry"] = nxt.geometry.iloc[4].buffer(0.0001)
    canonical = _canonical(nxt, tmp_path, "next")
    for store in (source, target):
        out = store.write_delivery(
            canonical,
            source_name="next.gpkg",
            source_sha256="f" * 64,
            user="carol",
            now="2030-01-01T00:00:00.000000Z",
        )
        assert out == {"added": 3, "changed": 0, "unchanged": 2, "batch_id": 8}
        assert (
            store.withdraw("500101/P5", reason="y", now="2030-01-02T00:00:00.000000Z")
            == 9
        )
        assert store.undo(9, now="2030-01-03T00:00:00.000000Z") == 10
        assert store.find_batch_by_sha("f" * 64) == 8
    assert max(source.current(as_of=8)["fid"]) == max(target.current(as_of=8)["fid"])
    _same_answers(source, target)


def test_migrate_copies_the_accounts(tmp_path, pg_server):
    from forestsink.store.users import add_user, get_user, verify_login

    source = GeoPackageStore(tmp_path / "s.gpkg")
    _history_store(source, tmp_path)
    add_user(source, "city", role="admin", password="correct horse 1")
    add_user(
        source, "wz", role="editor", password="battery staple 2", districts=["万州区"]
    )
    url = _new_schema_url(pg_server)
    assert migrate_store(source, url)["accounts"] == 2
    target = PostGISStore(url)
    wz = get_user(target, "wz")
    assert (wz.role, wz.districts) == ("editor", ("500101",))  # 万州区's code
    assert wz.user_id == get_user(source, "wz").user_id
    assert verify_login(target, "wz", "battery staple 2") is not None
    assert verify_login(target, "wz", "wrong") is None
    # ids go on after the copied ones
    assert add_user(target, "fl", role="viewer", password="x" * 12).user_id == 3
    # a target with accounts is refused, nothing copied
    other = _new_schema_url(pg_server)
    add_user(PostGISStore(other), "someone", role="viewer", password="y" * 12)
    with pytest.raises(StoreError, match="already has 1 account"):
        migrate_store(source, other)
    assert len(PostGISStore(other).batches()) == 0


def test_migrate_refuses_a_non_empty_target_and_is_all_or_nothing(
    tmp_path, pg_server, monkeypatch
):
    source = GeoPackageStore(tmp_path / "s.gpkg")
    _history_store(source, tmp_path)
    url = _new_schema_url(pg_server)
    from forestsink.store import migrate

    def broken(conn, target, *args):
        raise StoreError("the copy does not match the source (simulated)")

    monkeypatch.setattr(migrate, "_verify", broken)
    with pytest.raises(StoreError, match="simulated"):
        migrate_store(source, url)
    target = PostGISStore(url)
    assert target.exists and len(target.batches()) == 0
    monkeypatch.undo()
    migrate_store(source, url)
    with pytest.raises(StoreError, match="already holds 7 batch"):
        migrate_store(source, url)
    with pytest.raises(StoreError, match="not a forestsink store"):
        migrate_store(tmp_path / "none.gpkg", _new_schema_url(pg_server))


def test_store_migrate_cli(tmp_path, pg_server, monkeypatch):
    source = GeoPackageStore(tmp_path / "s.gpkg")
    _history_store(source, tmp_path)
    url = _new_schema_url(pg_server)
    monkeypatch.setitem(cli.commands, "store", store_group)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["store", "migrate", "--from", str(source.path), "--to", url]
    )
    assert result.exit_code == 0, result.output
    assert "Copied 7 batches" in result.output and "***" in result.output
    assert _password(PostGISStore(url)) not in result.output
    again = runner.invoke(
        cli, ["store", "migrate", "--from", str(source.path), "--to", url]
    )
    assert again.exit_code == 1 and "already holds 7 batch" in again.output
    bad = runner.invoke(
        cli, ["store", "migrate", "--from", str(source.path), "--to", "x.gpkg"]
    )
    assert bad.exit_code == 2 and "postgresql:// URL" in bad.output


# ---------------------------------------------------------------------------
# the test server itself
# ---------------------------------------------------------------------------


def test_server_script_fails_clearly_without_postgres(tmp_path):
    env = {**os.environ, "FORESTSINK_PG_LIB": str(tmp_path / "nowhere")}
    run = subprocess.run(
        ["bash", str(SCRIPT), "start", str(tmp_path / "pg")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 3 and MISSING in run.stderr
    assert not (tmp_path / "pg").exists()
    from pg_fixture import start_server

    with pytest.raises(pytest.fail.Exception, match="run make test"):
        start_server(str(tmp_path / "pg"), env=env)


def test_server_script_refuses_folders_it_did_not_make(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "precious.txt").write_text("keep")
    for command in ("start", "stop"):
        run = subprocess.run(
            ["bash", str(SCRIPT), command, str(folder)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 1 and "not made by this script" in run.stderr
    assert (folder / "precious.txt").read_text() == "keep"
    assert Path(SCRIPT).stat().st_mode & 0o111


def test_psycopg_is_loaded_only_when_a_postgis_store_is_used():
    code = (
        "import sys, forestsink, forestsink.store.postgis, forestsink.store.migrate, "
        "forestsink.cli.store_cmd, forestsink.store.base; "
        "print('psycopg' in sys.modules)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == "False"
