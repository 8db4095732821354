"""A PostGIS landing: staged before the write lock, on a kept write connection.

The server's own view is the oracle: ``pg_stat_activity`` says which
backend runs what, whether it waits for a lock or sits in an open
transaction.
"""

from __future__ import annotations

import threading
import time
import uuid

import pg_fixture
import psycopg
import pytest
from delivery_factory import frame, write

from forestsink.landing.deliveries import check_deliveries
from forestsink.store import StoreBusyError, pgpool
from forestsink.store.postgis import PostGISStore

pg_server = pg_fixture.pg_server


@pytest.fixture
def pg_store(pg_server):
    return PostGISStore(f"{pg_server}?schema=t_{uuid.uuid4().hex[:12]}", timeout=5)


def _delivery(tmp_path, prefix: str, n: int = 3):
    gdf = frame(n=n, ids=[f"{prefix}{i}" for i in range(n)])
    path = write(gdf, tmp_path / f"{prefix}.gpkg")
    return check_deliveries([path]).deliveries[0][1].frame


def _land(store, canonical, name: str) -> dict:
    return store.write_delivery(canonical, source_name=name, source_sha256=name * 4)


def _kept_writers(store) -> list[int]:
    kept = pgpool._idle.get(f"write\x00{store._conninfo}", [])
    return [c.info.backend_pid for c, _ in kept]


def _activity(store, pid: int):
    with psycopg.connect(store._conninfo, autocommit=True) as conn:
        return conn.execute(
            "SELECT state, wait_event_type, query FROM pg_stat_activity WHERE pid = %s",
            (pid,),
        ).fetchone()


def test_landings_reuse_one_idle_write_connection(pg_store, tmp_path):
    a, b = _delivery(tmp_path, "A"), _delivery(tmp_path, "B")
    assert _land(pg_store, a, "a")["batch_id"] == 1
    (pid,) = _kept_writers(pg_store)
    state, _, _ = _activity(pg_store, pid)
    assert state == "idle"  # not "idle in transaction": no lock, no temp table
    assert _land(pg_store, b, "b")["batch_id"] == 2
    assert _kept_writers(pg_store) == [pid]  # the same server process
    # nothing changed: no batch, no batch number used
    assert _land(pg_store, b, "b2") == {
        "added": 0,
        "changed": 0,
        "unchanged": 3,
        "batch_id": None,
    }
    assert _land(pg_store, _delivery(tmp_path, "C"), "c")["batch_id"] == 3
    assert list(pg_store.batches()["batch_id"]) == [1, 2, 3]
    assert pg_store.integrity_check() == "ok"


def test_delivery_is_staged_before_the_lock(pg_store, tmp_path):
    _land(pg_store, _delivery(tmp_path, "A"), "a")
    b = _delivery(tmp_path, "B")
    done = {}
    with psycopg.connect(pg_store._conninfo) as holder:
        holder.execute(pg_store._lock_sql())  # another writer holds the lock
        thread = threading.Thread(target=lambda: done.update(_land(pg_store, b, "b")))
        thread.start()
        waiting = None
        watcher = psycopg.connect(pg_store._conninfo, autocommit=True)
        for _ in range(200):  # autocommit: a fresh pg_stat_activity each time
            rows = watcher.execute(
                "SELECT pid, query FROM pg_stat_activity WHERE wait_event_type = "
                "'Lock' AND datname = current_database() AND pid <> "
                "pg_backend_pid()"
            ).fetchall()
            if rows:
                waiting = rows[0]
                break
            time.sleep(0.05)
        watcher.close()
        assert waiting is not None
        # the waiting message starts after the COPY: staging is done
        assert waiting[1].startswith("ANALYZE incoming;\nLOCK TABLE")
        assert not done
    thread.join(30)  # the holder's transaction ended: the landing goes on
    assert done["batch_id"] == 2 and done["added"] == 3
    assert pg_store.integrity_check() == "ok"


def test_busy_landing_writes_nothing_and_is_not_kept(pg_server, tmp_path):
    store = PostGISStore(f"{pg_server}?schema=t_{uuid.uuid4().hex[:12]}", timeout=0.3)
    _land(store, _delivery(tmp_path, "A"), "a")
    before = store.batches()
    with psycopg.connect(store._conninfo) as holder:
        holder.execute(store._lock_sql())
        with pytest.raises(StoreBusyError, match="Nothing was written"):
            _land(store, _delivery(tmp_path, "B"), "b")
    assert store.batches().equals(before)
    assert _land(store, _delivery(tmp_path, "B"), "b")["batch_id"] == 2
    assert store.integrity_check() == "ok"
