"""The HTML pages: login redirects, role refusals, assets served by the app."""

from __future__ import annotations

import pytest
from web_helpers import PASSWORD, build_store, client, copy_store, login

from forestsink.store import GeoPackageStore
from forestsink.store.users import add_user
from forestsink.web.security import CSP

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PAGES = ["/", "/upload", "/batches", "/history", "/progress", "/report"]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("web-template"))


@pytest.fixture
def store(template, tmp_path):
    return copy_store(template, tmp_path / "office")


@pytest.mark.parametrize("page", PAGES)
def test_pages_without_session_go_to_login(store, page):
    r = client(store).get(page, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_login_page_and_assets(store):
    c = client(store)
    r = c.get("/login")
    assert r.status_code == 200 and "登录" in r.text and "Log in" in r.text
    assert r.headers["content-security-policy"] == CSP
    assert "<script>" not in r.text  # scripts only from files (CSP)
    js = c.get("/assets/leaflet.js")
    assert js.status_code == 200 and "Leaflet" in js.text[:2000]
    assert c.get("/assets/leaflet.css").status_code == 200
    assert c.get("/static/app.js").status_code == 200
    assert c.get("/static/../api.py").status_code == 404


@pytest.mark.parametrize(
    ("account", "page", "status"),
    [
        ("wz", "/upload", 200),
        ("admin", "/upload", 200),
        ("viewer", "/upload", 403),
        ("viewer", "/progress", 200),
        ("viewer", "/batches", 200),
        ("wz", "/history", 200),
    ],
)
def test_page_rights(store, account, page, status):
    c = client(store)
    login(c, account)
    r = c.get(page)
    assert r.status_code == status
    if status == 403:
        assert "不能" in r.text or "无权" in r.text
        assert "may not" in r.text


def test_home_by_role(store):
    c = client(store)
    login(c, "viewer")
    assert c.get("/", follow_redirects=False).headers["location"] == "/progress"
    c = client(store)
    login(c, "wz")
    assert c.get("/", follow_redirects=False).headers["location"] == "/upload"


def test_names_escaped(store):
    add_user(
        GeoPackageStore(store),
        "<img src=x onerror=alert(1)>",
        role="viewer",
        password=PASSWORD,
    )
    c = client(store)
    login(c, "<img src=x onerror=alert(1)>")
    r = c.get("/progress")
    assert "<img src=x" not in r.text and "&lt;img src=x" in r.text


def test_report_download_for_viewer(store):
    c = client(store)
    login(c, "viewer")
    r = c.get("/report")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment")
    assert "<html" in r.text[:500].lower()
