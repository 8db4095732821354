"""Kept read connections of a PostGIS store (store/pgpool.py).

The server's own view (``pg_backend_pid``, ``pg_stat_activity``) is the
oracle: a kept connection is the same server process; a killed one is
replaced without the caller seeing an error; writes stay on their own
connection.
"""

from __future__ import annotations

import uuid

import pg_fixture
import psycopg
import pytest

from forestsink.store import pgpool
from forestsink.store.postgis import PostGISStore

pg_server = pg_fixture.pg_server


@pytest.fixture
def pg_store(pg_server):
    return PostGISStore(f"{pg_server}?schema=t_{uuid.uuid4().hex[:12]}", timeout=1)


def _backend_pid(store) -> int:
    with store._connect(autocommit=True) as conn:
        return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_reads_reuse_one_connection(pg_store):
    first = _backend_pid(pg_store)
    assert not pg_store.exists  # another read, on the same connection
    assert _backend_pid(pg_store) == first


def test_killed_connection_is_replaced(pg_store, pg_server):
    first = _backend_pid(pg_store)
    with psycopg.connect(pg_server, autocommit=True) as admin:
        # waits (up to 5 s) until the server process has ended
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (first,))
    second = _backend_pid(pg_store)  # no error: a new connection
    assert second != first


@pytest.mark.parametrize("check_after", [0.0, 3600.0])
def test_killed_connection_is_replaced_with_or_without_round_trip(
    pg_store, pg_server, monkeypatch, check_after
):
    monkeypatch.setattr(pgpool, "CHECK_AFTER_S", check_after)
    first = _backend_pid(pg_store)
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (first,))
    assert _backend_pid(pg_store) != first
    third = _backend_pid(pg_store)  # the new one is kept in turn
    assert third == _backend_pid(pg_store)


def test_at_most_idle_connections_kept(pg_store):
    held = [pg_store._connect(autocommit=True) for _ in range(pgpool.IDLE + 2)]
    conns = [h.__enter__() for h in held]
    pids = [c.execute("SELECT pg_backend_pid()").fetchone()[0] for c in conns]
    assert len(set(pids)) == pgpool.IDLE + 2  # in use at once: all distinct
    for h in held:
        h.__exit__(None, None, None)
    kept = pgpool._idle[pg_store._conninfo]
    assert len(kept) == pgpool.IDLE
