"""Security of the web application: sessions, CSRF, rights, limits, headers.

Every test runs Starlette's TestClient (in process, no socket) against a
GeoPackage store made by the test (``web_helpers.build_store``).
"""

from __future__ import annotations

import logging

import pytest
from web_helpers import (
    PASSWORD,
    SECRET,
    build_store,
    client,
    copy_store,
    delivery,
    login,
)

from forestsink.store import GeoPackageStore
from forestsink.store.users import disable_user, set_password
from forestsink.web.security import CSP, RIGHTS

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("web-template"))


@pytest.fixture
def store(template, tmp_path):
    return copy_store(template, tmp_path / "office")


def _snapshot(store) -> bytes:
    return store.read_bytes()


# ---------------------------------------------------------------------------
# one request per endpoint; each returns the response
# ---------------------------------------------------------------------------


def _upload(c, token, folder, *, district="万州区", land=False, ids=None):
    data = delivery(folder, district, ids=ids or ["N1", "N2"])
    headers = {"X-CSRF-Token": token} if token else {}
    url = "/api/deliveries" + ("?land=1" if land else "")
    return c.post(url, files={"file": ("d.gpkg", data)}, headers=headers)


def _headers(token):
    return {"X-CSRF-Token": token} if token else {}


REQUESTS = {
    "logout": lambda c, t, f: c.post("/api/logout", headers=_headers(t)),
    "me": lambda c, t, f: c.get("/api/me"),
    "validate": _upload,
    "land": lambda c, t, f: _upload(c, t, f, land=True),
    "batches": lambda c, t, f: c.get("/api/batches"),
    "history": lambda c, t, f: c.get("/api/history/500101/P1"),
    "progress": lambda c, t, f: c.get("/api/progress?by=district"),
    "withdraw": lambda c, t, f: c.post(
        "/api/withdraw",
        json={"key": "500101/P1", "reason": "测试 test"},
        headers=_headers(t),
    ),
    "undo": lambda c, t, f: c.post(
        "/api/undo", json={"batch_id": 1, "reason": "测试 test"}, headers=_headers(t)
    ),
    "users": lambda c, t, f: c.get("/api/users"),
    "asof": lambda c, t, f: c.get("/api/asof?as_of=1&district=500101"),
    "diff": lambda c, t, f: c.get("/api/diff?a=0&b=1&district=500101"),
    "download": lambda c, t, f: c.get("/api/progress.xlsx?by=district&district=500101"),
}
STATE_CHANGING = ["logout", "validate", "land", "withdraw", "undo"]


def test_rights_table_covers_every_endpoint():
    assert set(REQUESTS) == set(RIGHTS)


def _expected(action: str, role: str, account: str) -> int:
    right = RIGHTS[action][role]
    if right == "no":
        return 403
    if right == "own" and account == "fl":  # 涪陵区's editor, targets of 万州区/wz
        return 403
    return 200


CELLS = [
    (action, account)
    for action in RIGHTS
    for account in ("admin", "wz", "fl", "viewer")
]


@pytest.mark.parametrize(("action", "account"), CELLS)
def test_rights_cell(store, tmp_path, action, account):
    """Each role x endpoint cell; ``own`` cells both ways (wz's own, fl's not)."""
    role = {"admin": "admin", "wz": "editor", "fl": "editor", "viewer": "viewer"}
    expected = _expected(action, role[account], account)
    if action == "batches" or (action in ("progress", "me", "logout")):
        expected = 200  # readable by all (an editor sees only their batches)
    c = client(store)
    token = login(c, account)
    before = _snapshot(store)
    r = REQUESTS[action](c, token, tmp_path)
    assert r.status_code == expected, (action, account, r.text)
    if expected == 403:
        body = r.json()
        assert body["zh"] and body["en"]
        assert _snapshot(store) == before  # refused: the store is untouched
    if action == "batches":
        users = {b["user"] for b in r.json()["batches"]}
        assert users == ({"wz"} if account != "fl" else set())


@pytest.mark.parametrize("action", sorted(RIGHTS))
def test_no_session_is_401(store, tmp_path, action):
    c = client(store)
    before = _snapshot(store)
    r = REQUESTS[action](c, None, tmp_path)
    assert r.status_code == 401, r.text
    assert "未登录" in r.json()["zh"] and r.json()["en"]
    assert _snapshot(store) == before


@pytest.mark.parametrize("action", STATE_CHANGING)
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_state_change_without_csrf_refused(store, tmp_path, action, token):
    c = client(store)
    login(c, "admin")
    before = _snapshot(store)
    r = REQUESTS[action](c, token, tmp_path)
    assert r.status_code == 403, r.text
    assert "CSRF" in r.json()["en"]
    assert _snapshot(store) == before
    assert c.get("/api/me").status_code == 200  # still logged in (logout refused)


def test_csrf_as_form_field(store, tmp_path):
    c = client(store)
    token = login(c, "wz")
    data = delivery(tmp_path, ids=["F1"])
    r = c.post(
        "/api/deliveries",
        files={"file": ("d.gpkg", data)},
        data={"csrf_token": token},
    )
    assert r.status_code == 200, r.text


def test_disabled_account_cookie_stops_working(store):
    c = client(store)
    login(c, "wz")
    assert c.get("/api/me").status_code == 200
    disable_user(GeoPackageStore(store), "wz")
    r = c.get("/api/me")
    assert r.status_code == 401
    assert "disabled" in r.json()["en"]
    # the old cookie replayed in another client (another worker) fails too
    r = c.post("/api/login", json={"username": "wz", "password": PASSWORD})
    assert r.status_code == 401


def test_password_change_ends_other_sessions(store):
    c = client(store)
    login(c, "viewer")
    cookie = c.cookies.get("forestsink_session")
    set_password(GeoPackageStore(store), "viewer", "new-password-2")
    other = client(store)
    other.cookies.set("forestsink_session", cookie)
    assert other.get("/api/me").status_code == 401


def test_tampered_or_foreign_cookie_is_401(store):
    c = client(store)
    login(c, "viewer")
    cookie = c.cookies.get("forestsink_session")
    payload, _, sig = cookie.partition(".")
    other = client(store)
    other.cookies.set("forestsink_session", payload + "." + sig[::-1])
    assert other.get("/api/me").status_code == 401
    foreign = client(store, secret="another-secret-" + "y" * 40)
    foreign.cookies.set("forestsink_session", cookie)
    assert foreign.get("/api/me").status_code == 401


def test_cookie_flags(store):
    c = client(store)
    r = c.post("/api/login", json={"username": "wz", "password": PASSWORD})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie
    secure = client(store, https_only=True)
    r = secure.post("/api/login", json={"username": "wz", "password": PASSWORD})
    assert "secure" in r.headers["set-cookie"].lower()


def test_login_form_and_logout(store):
    c = client(store)
    r = c.post("/api/login", data={"username": "viewer", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["role"] == "viewer"
    token = r.json()["csrf_token"]
    assert c.post("/api/logout", headers={"X-CSRF-Token": token}).status_code == 200
    assert c.get("/api/me").status_code == 401


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}],
)
def test_login_from_another_site_refused(store, headers):
    c = client(store)
    form = {"username": "wz", "password": PASSWORD}
    r = c.post("/api/login", data=form, headers=headers)
    assert r.status_code == 403
    assert "forestsink_session" not in c.cookies
    same = c.post("/api/login", data=form, headers={"Origin": "http://testserver"})
    assert same.status_code == 200


def test_login_bad_bodies(store):
    c = client(store)
    assert c.post("/api/login", json={"username": "x"}).status_code == 400
    assert (
        c.post(
            "/api/login", content=b"{", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )


def test_rate_limit_per_account(store):
    c = client(store, login_limit=3)
    for _ in range(3):
        r = c.post("/api/login", json={"username": "wz", "password": "wrong-one"})
        assert r.status_code == 401
    r = c.post("/api/login", json={"username": "wz", "password": PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert r.json()["zh"] and r.json()["en"]
    # another worker (another app on the same store) sees the same limit
    other = client(store, login_limit=3)
    r = other.post("/api/login", json={"username": "wz", "password": PASSWORD})
    assert r.status_code == 429
    # another account from another address is not limited ... but this
    # client's address is: 3 failures for wz came from it
    r = c.post("/api/login", json={"username": "viewer", "password": PASSWORD})
    assert r.status_code == 429


def test_rate_limit_default_is_ten(store):
    c = client(store)
    for _ in range(10):
        r = c.post("/api/login", json={"username": "nobody", "password": "x" * 9})
        assert r.status_code == 401
    r = c.post("/api/login", json={"username": "nobody", "password": "x" * 9})
    assert r.status_code == 429


def test_successful_login_clears_account_failures(store):
    c = client(store, login_limit=3)
    for _ in range(2):
        c.post("/api/login", json={"username": "wz", "password": "wrong-one"})
    login(c, "wz")
    r = c.post("/api/login", json={"username": "wz", "password": "wrong-one"})
    assert r.status_code == 401  # not 429: the count restarted (address: 3)


def test_password_never_logged(store, caplog):
    caplog.set_level(logging.DEBUG)
    c = client(store)
    login(c, "wz")
    c.post("/api/login", json={"username": "wz", "password": "Wrong-Secret-77"})
    assert PASSWORD not in caplog.text and "Wrong-Secret-77" not in caplog.text
    data = store.read_bytes()
    assert PASSWORD.encode() not in data and b"Wrong-Secret-77" not in data


def test_security_headers_on_every_response(store):
    c = client(store)
    for r in (
        c.get("/api/me"),  # 401
        c.get("/nowhere"),  # 404
        c.post("/api/login", json={"username": "wz", "password": PASSWORD}),
    ):
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "same-origin"
    assert "cache-control" in c.get("/api/me").headers


def test_upload_limit(store, tmp_path):
    c = client(store, max_upload_bytes=10_000)
    token = login(c, "wz")
    before = _snapshot(store)
    r = _upload(c, token, tmp_path, land=True)
    assert r.status_code == 413
    assert "MB" in r.json()["en"]
    assert _snapshot(store) == before


def test_upload_limit_without_content_length(store, tmp_path):
    """A chunked body (no Content-Length) is counted as it arrives."""
    c = client(store, max_upload_bytes=10_000)
    token = login(c, "wz")

    def chunks():
        yield b'--b\r\nContent-Disposition: form-data; name="file"; '
        yield b'filename="d.gpkg"\r\n\r\n'
        for _ in range(20):
            yield b"x" * 1000
        yield b"\r\n--b--\r\n"

    r = c.post(
        "/api/deliveries",
        content=chunks(),
        headers={
            "X-CSRF-Token": token,
            "content-type": "multipart/form-data; boundary=b",
        },
    )
    assert r.status_code == 413


def test_secret_file_made_once_beside_store(tmp_path, monkeypatch):
    from forestsink.web.settings import Settings, load_secret

    monkeypatch.delenv("FORESTSINK_SECRET", raising=False)
    path = tmp_path / "s.gpkg"
    one = load_secret(path, Settings())
    assert load_secret(path, Settings()) == one
    secret_file = tmp_path / "s.gpkg.web-secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("FORESTSINK_SECRET", SECRET)
    assert load_secret(path, Settings()) == SECRET


def test_import_forestsink_loads_no_web_stack():
    import subprocess
    import sys

    code = (
        "import sys, forestsink, forestsink.store; "
        "bad = [m for m in ('starlette', 'uvicorn', 'argon2', 'forestsink.web') "
        "if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
