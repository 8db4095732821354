"""The account tables in a PostGIS store (twin of :mod:`forestsink.store.users`).

Same tables and columns as in a GeoPackage store, in the store's schema
(``bigint`` identity ids, ``double precision`` failure times). They are
created on the first account write with ``CREATE TABLE IF NOT EXISTS``
under an advisory lock, on a connection of their own: an account write
never takes the project tables' write lock, so a login is not held up by an
ingest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from forestsink.store.common import FAILURES, USERS

__all__ = ["PostGISAccounts", "account_ddl"]


def account_ddl(schema: str) -> list[str]:
    """Return the statements creating the account tables in *schema* (if absent).

    Parameters
    ----------
    schema : str
        The store's PostgreSQL schema.

    Returns
    -------
    list of str
        SQL statements, each safe to run again.
    """
    s = f'"{schema}"'
    return [
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"""CREATE TABLE IF NOT EXISTS {s}.{USERS} (
    user_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    role text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    districts text NOT NULL DEFAULT '',
    password_hash text,
    disabled integer NOT NULL DEFAULT 0,
    session_version bigint NOT NULL DEFAULT 1,
    created_at text NOT NULL,
    updated_at text NOT NULL
)""",
        f"""CREATE TABLE IF NOT EXISTS {s}.{FAILURES} (
    failure_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at double precision NOT NULL,
    account text,
    address text
)""",
        f"CREATE INDEX IF NOT EXISTS {FAILURES}_account ON {s}.{FAILURES} "
        "(account, at)",
        f"CREATE INDEX IF NOT EXISTS {FAILURES}_address ON {s}.{FAILURES} "
        "(address, at)",
    ]


_PLACEHOLDER = re.compile(r"\?")


class _Connection:
    """A psycopg connection taking the SQLite ``?`` placeholders."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def execute(self, sql: str, params=()):
        return self.conn.execute(_PLACEHOLDER.sub("%s", sql), params)


class PostGISAccounts:
    """The account tables in a PostGIS store's schema."""

    def __init__(self, store) -> None:
        self.store = store

    def table(self, name: str) -> str:
        """Return the schema-qualified name of table *name*."""
        return f'"{self.store.schema}".{name}'

    def _have_tables(self, conn) -> bool:
        """Say whether the account tables exist (once true, kept by the store).

        Asked on every request of the web application (its session's
        account): a query each time was 2 % of a worker's samples under the
        load test (py-spy). Account tables are never dropped.
        """
        if self.store._seen_accounts:
            return True
        row = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
            (self.table(USERS), self.table(FAILURES)),
        ).fetchone()
        self.store._seen_accounts = bool(row[0])
        return self.store._seen_accounts

    @contextmanager
    def reading(self) -> Iterator:
        """Yield a connection, or None when the tables do not exist."""
        with self.store._connect(autocommit=True) as conn:
            yield _Connection(conn) if self._have_tables(conn) else None

    @contextmanager
    def writing(self) -> Iterator:
        """One transaction; the tables are created first if needed."""
        with self.store._connect() as conn:
            if not self._have_tables(conn):
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))",
                    (f"forestsink users {self.store.schema}",),
                )
                for statement in account_ddl(self.store.schema):
                    conn.execute(statement)
                conn.commit()
            yield _Connection(conn)
            conn.commit()
