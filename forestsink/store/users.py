"""Accounts of the web application, kept in the store (GeoPackage or PostGIS).

Two tables of their own, created on the first account write (also in a store
made before them), beside the project tables; the project history is not
touched:

``users`` (attributes)
    One row per account: ``user_id``, ``name`` (unique), ``role`` (admin,
    editor or viewer), ``districts`` (the editor's adcodes, comma separated),
    ``password_hash`` (argon2id, PHC string; never the password),
    ``disabled`` (0/1), ``session_version`` (raised when the account is
    disabled, its password changes or it logs out: older session cookies
    stop working),
    ``created_at``, ``updated_at`` (ISO UTC).
``login_failures`` (attributes)
    One row per failed login (``at`` in Unix seconds, ``account``,
    ``address``): the rate limit reads it, so the limit holds across server
    workers. Rows older than a day are pruned on the next failure.

Passwords are hashed with argon2id (``argon2-cffi``, its RFC 9106 low-memory
profile: 64 MiB, 3 passes); a login for an unknown name costs one hash too,
so its time does not tell which names exist.

The PostGIS twin (same tables, same semantics) is
:mod:`forestsink.store.users_pg`.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from forestsink.errors import AccountError, UnknownNameError
from forestsink.reference import district_resolver
from forestsink.store.common import FAILURES, USERS
from forestsink.store.gpkg import GeoPackageStore
from forestsink.store.users_pg import PostGISAccounts

__all__ = [
    "ROLES",
    "Account",
    "add_user",
    "clear_login_failures",
    "disable_user",
    "end_sessions",
    "get_user",
    "get_user_by_id",
    "list_users",
    "login_blocked",
    "record_login_failure",
    "set_password",
    "verify_login",
]

ROLES = ("admin", "editor", "viewer")
#: shortest password accepted
MIN_PASSWORD = 8
#: failed-login rows are kept this long (seconds)
FAILURE_RETENTION_S = 86_400

_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
_DUMMY_HASH = _HASHER.hash("forestsink: no such account")

_COLUMNS = (
    "user_id",
    "name",
    "role",
    "districts",
    "disabled",
    "session_version",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class Account:
    """One account (without its password hash)."""

    user_id: int
    name: str
    role: str
    districts: tuple[str, ...]
    disabled: bool
    session_version: int
    created_at: str
    updated_at: str

    @classmethod
    def of_row(cls, row) -> Account:
        """Build from a ``users`` row in :data:`_COLUMNS` order."""
        uid, name, role, districts, disabled, version, created, updated = row
        return cls(
            int(uid),
            str(name),
            str(role),
            tuple(d for d in str(districts or "").split(",") if d),
            bool(disabled),
            int(version),
            str(created),
            str(updated),
        )


# --------------------------------------------------------------------------
# back ends: the same SQL (``?`` placeholders) on SQLite and PostgreSQL
# --------------------------------------------------------------------------

_SQLITE_DDL = [
    f"""CREATE TABLE IF NOT EXISTS {USERS} (
    user_id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    districts TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    session_version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)""",
    f"""CREATE TABLE IF NOT EXISTS {FAILURES} (
    failure_id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    account TEXT,
    address TEXT
)""",
    f"CREATE INDEX IF NOT EXISTS idx_{FAILURES}_account ON {FAILURES}(account, at)",
    f"CREATE INDEX IF NOT EXISTS idx_{FAILURES}_address ON {FAILURES}(address, at)",
    "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
    f"description) VALUES ('{USERS}', 'attributes', '{USERS}', "
    "'forestsink: web accounts (argon2id password hashes)')",
    "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
    f"description) VALUES ('{FAILURES}', 'attributes', '{FAILURES}', "
    "'forestsink: failed web logins (rate limit)')",
]


class _GeoPackageAccounts:
    """The account tables in a GeoPackage store (one SQLite file)."""

    def __init__(self, store) -> None:
        self.store = store

    def table(self, name: str) -> str:
        """Return the name of table *name* in SQL."""
        return name

    @contextmanager
    def reading(self) -> Iterator:
        """Yield a read connection, or None when the store or tables do not exist."""
        if not self.store.path.is_file():
            yield None
            return
        with self.store._read() as conn:
            have = conn.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' "
                "AND name IN (?, ?)",
                (USERS, FAILURES),
            ).fetchone()[0]
            yield conn if have == 2 else None

    @contextmanager
    def writing(self) -> Iterator:
        """One write transaction (the store's), tables created in it."""
        with self.store.transaction() as conn:
            for statement in _SQLITE_DDL:
                conn.execute(statement)
            yield conn


def _backend(store):
    """Return the account back end of *store* (a Store object)."""
    if isinstance(store, GeoPackageStore):
        return _GeoPackageAccounts(store)
    if type(store).__name__ == "PostGISStore":
        return PostGISAccounts(store)
    raise AccountError(
        f"{store.path}: this store cannot hold accounts (a GeoParquet dataset "
        "is read-only); use a GeoPackage or PostGIS store."
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------
# accounts
# --------------------------------------------------------------------------


def _check_name(name: str) -> str:
    text = str(name).strip()
    if not text or len(text) > 64 or any(ord(c) < 32 or c in "\x7f," for c in text):
        raise AccountError(
            f"account name {name!r}: give 1 to 64 printable characters "
            "(no commas or control characters)."
        )
    return text


def _check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError(
            f"密码太短 / the password needs at least {MIN_PASSWORD} characters; "
            "nothing was changed."
        )
    if "\n" in password or "\r" in password or "\x00" in password:
        raise AccountError(
            "密码含换行或空字符 / the password holds a line break or NUL; "
            "nothing was changed."
        )
    return password


def resolve_districts(names: Iterable[str], *, role: str) -> tuple[str, ...]:
    """Resolve district names (any known form) to adcodes, for *role*.

    Raises
    ------
    AccountError
        An editor without a district, a district for another role, or a name
        the shipped district table does not know.
    """
    if role not in ROLES:
        raise AccountError(
            f"role {role!r} is not one of {', '.join(ROLES)}; nothing was changed."
        )
    names = [str(n) for n in names if str(n).strip()]
    if role == "editor" and not names:
        raise AccountError(
            "编辑需要区县 / an editor needs at least one district in districts "
            "(the districts whose deliveries they may upload).",
            option="districts",
        )
    if role != "editor" and names:
        raise AccountError(
            f"only editors have districts; a {role} sees every district. "
            "Leave out districts.",
            option="districts",
        )
    resolver = district_resolver()
    codes = []
    for name in names:
        try:
            code = resolver.resolve(name, where="districts")
        except UnknownNameError as err:
            raise AccountError(str(err), option="districts") from err
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def add_user(
    store,
    name: str,
    /,
    *,
    role: str,
    password: str,
    districts: Iterable[str] = (),
) -> Account:
    """Add an account to *store* (creating the store and tables if needed).

    Parameters
    ----------
    store : Store
        A GeoPackage or PostGIS store object.
    name : str
        The login name (unique).
    role : str
        ``admin``, ``editor`` or ``viewer``.
    password : str
        At least :data:`MIN_PASSWORD` characters; only its argon2id hash is
        kept.
    districts : iterable of str, optional (default: none)
        An editor's districts, any known name form or adcode.

    Returns
    -------
    Account
        The new account.
    """
    name = _check_name(name)
    codes = resolve_districts(districts, role=role)
    digest = _HASHER.hash(_check_password(password))
    back = _backend(store)
    now = _now()
    with back.writing() as conn:
        users = back.table(USERS)
        if conn.execute(f"SELECT 1 FROM {users} WHERE name = ?", (name,)).fetchone():
            raise AccountError(
                f"账户已存在 / account {name!r} exists already; nothing was "
                "changed. Use `users passwd` to change its password."
            )
        conn.execute(
            f"INSERT INTO {users} (name, role, districts, password_hash, disabled, "
            "session_version, created_at, updated_at) VALUES (?, ?, ?, ?, 0, 1, ?, ?)",
            (name, role, ",".join(codes), digest, now, now),
        )
    account = get_user(store, name)
    assert account is not None  # just written
    return account


def list_users(store) -> pd.DataFrame:
    """All accounts, by name (no password hashes).

    Returns
    -------
    pandas.DataFrame
        ``user_id``, ``name``, ``role``, ``districts`` (adcodes, comma
        separated), ``disabled``, ``session_version``, ``created_at``,
        ``updated_at``.
    """
    back = _backend(store)
    with back.reading() as conn:
        rows = []
        if conn is not None:
            rows = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM {back.table(USERS)} ORDER BY name"
            ).fetchall()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(_COLUMNS))
    return frame.astype({"disabled": bool}) if len(frame) else frame


def _one(store, where: str, value) -> Account | None:
    back = _backend(store)
    with back.reading() as conn:
        if conn is None:
            return None
        row = conn.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM {back.table(USERS)} WHERE {where} = ?",
            (value,),
        ).fetchone()
    return None if row is None else Account.of_row(row)


def get_user(store, name: str, /) -> Account | None:
    """Return the account called *name*, or None."""
    return _one(store, "name", str(name))


def get_user_by_id(store, user_id: int, /) -> Account | None:
    """Return the account with id *user_id*, or None."""
    return _one(store, "user_id", int(user_id))


def _update(store, name: str, assignments: str, params: tuple) -> Account:
    back = _backend(store)
    with back.writing() as conn:
        users = back.table(USERS)
        row = conn.execute(f"SELECT 1 FROM {users} WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise AccountError(
                f"没有此账户 / no account {name!r}; see `forestsink users list`."
            )
        conn.execute(
            f"UPDATE {users} SET {assignments}, session_version = session_version "
            "+ 1, updated_at = ? WHERE name = ?",
            (*params, _now(), name),
        )
    account = get_user(store, name)
    assert account is not None
    return account


def disable_user(store, name: str, /) -> Account:
    """Disable an account: it cannot log in; its sessions stop working at once."""
    return _update(store, str(name), "disabled = ?", (1,))


def end_sessions(store, name: str, /) -> Account:
    """End every session of an account (the web logout).

    Raises the account's ``session_version``: every session cookie made
    before, in any browser and any server worker, is refused from the next
    request on. The account itself is unchanged (it can log in again).

    Parameters
    ----------
    store : Store
        A GeoPackage or PostGIS store holding the accounts.
    name : str
        The account's login name.

    Returns
    -------
    Account
        The account with its new ``session_version``.

    Raises
    ------
    AccountError
        If there is no account *name*.
    """
    # a no-op assignment: _update raises session_version (and updated_at)
    return _update(store, str(name), "disabled = disabled", ())


def set_password(store, name: str, /, password: str) -> Account:
    """Set an account's password; its other sessions stop working."""
    digest = _HASHER.hash(_check_password(password))
    return _update(store, str(name), "password_hash = ?", (digest,))


def verify_login(store, name: str, password: str) -> Account | None:
    """Return the account if *name* and *password* match and it is enabled.

    An unknown name is checked against a dummy hash (same time as a real
    one), so timing does not reveal which names exist.
    """
    back = _backend(store)
    row = None
    with back.reading() as conn:
        if conn is not None:
            row = conn.execute(
                f"SELECT {', '.join(_COLUMNS)}, password_hash FROM "
                f"{back.table(USERS)} WHERE name = ?",
                (str(name),),
            ).fetchone()
    digest = row[-1] if row is not None and row[-1] else _DUMMY_HASH
    try:
        ok = _HASHER.verify(digest, str(password))
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None:
        return None
    account = Account.of_row(row[:-1])
    return None if account.disabled else account


# --------------------------------------------------------------------------
# failed logins (the rate limit)
# --------------------------------------------------------------------------


def record_login_failure(
    store, *, account: str, address: str, now: float | None = None
) -> None:
    """Log one failed login (and prune rows older than a day)."""
    at = time.time() if now is None else float(now)
    back = _backend(store)
    with back.writing() as conn:
        failures = back.table(FAILURES)
        conn.execute(
            f"INSERT INTO {failures} (at, account, address) VALUES (?, ?, ?)",
            (at, str(account)[:200], str(address)[:200]),
        )
        conn.execute(
            f"DELETE FROM {failures} WHERE at < ?", (at - FAILURE_RETENTION_S,)
        )


def clear_login_failures(store, *, account: str) -> None:
    """Forget an account's failed logins (after a successful one)."""
    back = _backend(store)
    with back.writing() as conn:
        conn.execute(
            f"DELETE FROM {back.table(FAILURES)} WHERE account = ?", (str(account),)
        )


def _blocked_until(times: list[float], limit: int, window: float, lockout: float):
    """When the last run of *limit* failures within *window* ends its lockout."""
    until = 0.0
    for i in range(limit - 1, len(times)):
        if times[i] - times[i - limit + 1] <= window:
            until = max(until, times[i] + lockout)
    return until


def login_blocked(
    store,
    *,
    account: str,
    address: str,
    limit: int = 10,
    window: float = 300.0,
    lockout: float = 300.0,
    now: float | None = None,
) -> float:
    """Seconds a login must wait (0: not blocked).

    After *limit* failures for one account, or from one address, within
    *window* seconds, further attempts are refused for *lockout* seconds
    from the failure that reached the limit.
    """
    at = time.time() if now is None else float(now)
    back = _backend(store)
    longest = 0.0
    try:
        with back.reading() as conn:
            if conn is None:
                return 0.0
            for column, value in (("account", account), ("address", address)):
                rows = conn.execute(
                    f"SELECT at FROM {back.table(FAILURES)} WHERE {column} = ? "
                    "AND at >= ? ORDER BY at",
                    (str(value)[:200], at - window - lockout),
                ).fetchall()
                times = [float(r[0]) for r in rows]
                until = _blocked_until(times, limit, window, lockout)
                longest = max(longest, until - at)
    except sqlite3.OperationalError:  # a store being created: not blocked
        return 0.0
    return max(longest, 0.0)
