"""Open connections kept for the next read or write of a PostGIS store.

A PostgreSQL connection costs a server process and a SCRAM exchange: about
30 ms on the load test's machine, against 1.5 ms for a query on an open
connection, and a web request made three or four of them (the account,
the store's existence, the batch list). Reads (autocommit, no session
state) therefore reuse up to :data:`IDLE` open connections per server and
process. Writes have a pool of their own (``kind="write"``: transaction
connections, never handed to a read): one is kept only when its transaction
has ended (committed or rolled back, so it holds no lock, and its temporary
tables, made ``ON COMMIT DROP``, are gone); one that raised is closed. A
landing thus saves the ~30 ms connection it used to open. Before reuse a
kept connection's socket is polled (no round trip): an idle connection has
nothing to read, so anything readable (the server's goodbye when it ended
the session or restarted, or the closed socket) means it is not reusable,
and it is closed. One kept longer than :data:`CHECK_AFTER_S` is also
checked with a round trip. A connection that fails either check is closed
and another taken or opened. (A round trip on every reuse was 8 % of a
server worker's samples under the load test, py-spy.)
Connections are never shared across a fork: a child process starts with
none (the parent's are left alone, not closed under it).
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["CHECK_AFTER_S", "IDLE", "pooled"]

#: open idle connections kept per server (conninfo) and process
IDLE = 4
#: a connection kept longer than this (seconds) is checked with a round trip
CHECK_AFTER_S = 30.0

_lock = threading.Lock()
_idle: dict[str, list] = {}
_owner = {"pid": os.getpid()}
_inherited: list = []  # a parent's connections: never used, never closed


def _take(key: str):
    with _lock:
        if os.getpid() != _owner["pid"]:  # forked: the parent's are not ours
            _inherited.extend(c for conns in _idle.values() for c, _ in conns)
            _idle.clear()
            _owner["pid"] = os.getpid()
        conns = _idle.get(key)
        return conns.pop() if conns else (None, 0.0)


def _give(key: str, conn) -> bool:
    with _lock:
        conns = _idle.setdefault(key, [])
        if os.getpid() == _owner["pid"] and len(conns) < IDLE:
            conns.append((conn, time.monotonic()))
            return True
    return False


def _alive(conn, kept_since: float) -> bool:
    if conn.closed or conn.broken:
        return False
    try:  # an idle connection has nothing to read: anything is a goodbye
        if select.select([conn.fileno()], [], [], 0)[0]:
            return False
    except (OSError, ValueError):
        return False
    if time.monotonic() - kept_since < CHECK_AFTER_S:
        return True
    try:
        conn.execute("SELECT 1").fetchone()
        if not conn.autocommit:
            conn.rollback()  # the check's transaction is not the caller's
    except Exception:  # any failure: not reusable
        return False
    return True


@contextmanager
def pooled(key: str, connect: Callable, *, kind: str = "read") -> Iterator:
    """Yield an open connection to server *key*, kept afterwards.

    Parameters
    ----------
    key : str
        The connection string (one pool per server and credentials).
    connect : callable
        Opens a new connection when none is kept (autocommit for reads).
    kind : str, optional (default: "read")
        Which pool: ``"read"`` (autocommit) or ``"write"`` (transactions).
        Kept only when the block ends without an error and no transaction
        is open.
    """
    if kind != "read":  # the read pool keeps the plain key
        key = f"{kind}\x00{key}"
    conn, kept_since = _take(key)
    while conn is not None and not _alive(conn, kept_since):
        conn.close()
        conn, kept_since = _take(key)
    if conn is None:
        conn = connect()
        # no server-side prepared statements: a kept connection must not hold
        # a plan that a migration (a new column) would make invalid
        conn.prepare_threshold = None
    ok = False
    try:
        yield conn
        ok = True
    finally:
        idle = ok and not conn.closed and not conn.broken
        if not (idle and conn.info.transaction_status == 0 and _give(key, conn)):
            conn.close()
