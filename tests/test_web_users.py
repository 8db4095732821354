"""Accounts in the store (both back ends) and ``forestsink users``."""

from __future__ import annotations

import logging
import sqlite3
import uuid

import pg_fixture
import pytest
from click.testing import CliRunner

from forestsink.cli.main import cli
from forestsink.errors import AccountError
from forestsink.store import GeoPackageStore
from forestsink.store.postgis import PostGISStore
from forestsink.store.users import (
    add_user,
    disable_user,
    get_user,
    list_users,
    login_blocked,
    record_login_failure,
    set_password,
    verify_login,
)

pg_server = pg_fixture.pg_server
PASSWORD = "Geheim-密码-2013"


@pytest.fixture(params=["gpkg", "postgis"])
def store(request, tmp_path):
    if request.param == "gpkg":
        return GeoPackageStore(tmp_path / "store.gpkg")
    url = request.getfixturevalue("pg_server")
    return PostGISStore(f"{url}?schema=u_{uuid.uuid4().hex[:12]}")


def _raw_rows(store) -> str:
    """Every row of the users table, as text (as another program reads it)."""
    if isinstance(store, GeoPackageStore):
        conn = sqlite3.connect(store.path)
        try:
            return repr(conn.execute("SELECT * FROM users").fetchall())
        finally:
            conn.close()
    import psycopg

    from forestsink.store.postgis import parse_url

    with psycopg.connect(parse_url(str(store._conninfo))[0]) as conn:
        return repr(conn.execute(f'SELECT * FROM "{store.schema}".users').fetchall())


def test_add_get_list_verify(store):
    account = add_user(
        store, "wz", role="editor", districts=["万州"], password=PASSWORD
    )
    assert account.role == "editor"
    assert account.districts == ("500101",)  # resolved by the district resolver
    assert get_user(store, "wz") == account
    assert get_user(store, "nobody") is None
    table = list_users(store)
    assert table["name"].tolist() == ["wz"]
    assert "password_hash" not in table.columns
    assert verify_login(store, "wz", PASSWORD) == account
    assert verify_login(store, "wz", PASSWORD + "x") is None
    assert verify_login(store, "nobody", PASSWORD) is None


def test_hash_never_the_password(store):
    add_user(store, "ann", role="admin", password=PASSWORD)
    rows = _raw_rows(store)
    assert PASSWORD not in rows
    assert "$argon2id$" in rows


def test_password_not_in_gpkg_file(tmp_path):
    store = GeoPackageStore(tmp_path / "store.gpkg")
    add_user(store, "ann", role="admin", password=PASSWORD)
    set_password(store, "ann", PASSWORD + "-2")
    data = store.path.read_bytes()
    for pw in (PASSWORD, PASSWORD + "-2"):
        assert pw.encode() not in data
        assert pw.encode("utf-16-le") not in data


def test_disable_and_passwd_raise_session_version(store):
    first = add_user(store, "v", role="viewer", password=PASSWORD)
    second = set_password(store, "v", "another-password")
    assert second.session_version == first.session_version + 1
    assert verify_login(store, "v", PASSWORD) is None
    assert verify_login(store, "v", "another-password") is not None
    third = disable_user(store, "v")
    assert third.disabled and third.session_version == second.session_version + 1
    assert verify_login(store, "v", "another-password") is None


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"role": "editor"}, "at least one district"),
        ({"role": "viewer", "districts": ["万州区"]}, "only editors"),
        ({"role": "editor", "districts": ["火星区"]}, "火星区"),
        ({"role": "boss"}, "not one of"),
    ],
)
def test_refused_accounts(tmp_path, kw, match):
    store = GeoPackageStore(tmp_path / "s.gpkg")
    with pytest.raises(AccountError, match=match):
        add_user(store, "x", password=PASSWORD, **kw)
    assert not store.path.exists()


def test_duplicate_short_password_unknown(tmp_path):
    store = GeoPackageStore(tmp_path / "s.gpkg")
    add_user(store, "a", role="admin", password=PASSWORD)
    with pytest.raises(AccountError, match="exists already"):
        add_user(store, "a", role="admin", password=PASSWORD)
    with pytest.raises(AccountError, match="at least 8"):
        add_user(store, "b", role="admin", password="short")
    with pytest.raises(AccountError, match="no account"):
        disable_user(store, "nobody")


def test_rate_limit_windows(store):
    add_user(store, "a", role="admin", password=PASSWORD)
    t0 = 1_000_000.0
    for i in range(3):
        record_login_failure(store, account="a", address="10.0.0.1", now=t0 + i)
    kw = {"limit": 3, "window": 300, "lockout": 300}
    wait = login_blocked(store, account="a", address="10.0.0.9", now=t0 + 10, **kw)
    assert 280 < wait <= 300
    # by address, for another account
    assert login_blocked(store, account="b", address="10.0.0.1", now=t0 + 10, **kw)
    # over after the lockout
    assert not login_blocked(store, account="a", address="x", now=t0 + 303, **kw)
    # failures spread wider than the window do not block
    for i in range(3):
        record_login_failure(store, account="c", address=f"a{i}", now=t0 + 400 * i)
    assert not login_blocked(store, account="c", address="z", now=t0 + 801, **kw)


# ---------------------------------------------------------------------------
# the CLI
# ---------------------------------------------------------------------------


def _run(args, stdin=None):
    return CliRunner().invoke(cli, args, input=stdin)


def test_cli_users(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    store = str(tmp_path / "store.gpkg")
    r = _run(
        [
            "users",
            "add",
            "wz",
            "--role",
            "editor",
            "--district",
            "万州区",
            "--district",
            "500101",
            "--store",
            store,
        ],
        stdin=PASSWORD + "\n",
    )
    assert r.exit_code == 0, r.output
    assert "500101" in r.output
    r = _run(["users", "add", "ann", "--role", "admin", "--store", store], PASSWORD)
    assert r.exit_code == 0, r.output
    r = _run(["users", "list", "--store", store])
    assert r.exit_code == 0 and "wz" in r.output and "ann" in r.output
    r = _run(["users", "passwd", "wz", "--store", store], stdin="new-password-1\n")
    assert r.exit_code == 0, r.output
    assert verify_login(GeoPackageStore(store), "wz", "new-password-1")
    r = _run(["users", "disable", "wz", "--store", store])
    assert r.exit_code == 0, r.output
    assert get_user(GeoPackageStore(store), "wz").disabled
    assert PASSWORD not in caplog.text and "new-password-1" not in caplog.text
    data = (tmp_path / "store.gpkg").read_bytes()
    assert PASSWORD.encode() not in data and b"new-password-1" not in data


def test_cli_refusals(tmp_path):
    store = str(tmp_path / "store.gpkg")
    r = _run(["users", "add", "x", "--role", "admin", "--store", store], stdin="")
    assert r.exit_code != 0 and "no password" in r.output
    r = _run(
        [
            "users",
            "add",
            "x",
            "--role",
            "editor",
            "--district",
            "火星",
            "--store",
            store,
        ],
        stdin=PASSWORD,
    )
    assert r.exit_code == 1 and "火星" in r.output
    r = _run(["users", "passwd", "nobody", "--store", store], stdin=PASSWORD)
    assert r.exit_code == 1 and "no account" in r.output
    # never an argument
    r = _run(
        ["users", "add", "x", "--role", "admin", "--password", "p", "--store", store]
    )
    assert r.exit_code == 2
