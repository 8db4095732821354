"""A store with accounts and one landed delivery, and clients of its web app."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

from delivery_factory import FULING, frame, write

from forestsink.landing.deliveries import ingest_deliveries
from forestsink.store import GeoPackageStore
from forestsink.store.users import add_user

PASSWORD = "correct horse 9"
#: role of each test account (wz edits 万州区 500101, fl edits 涪陵区 500102)
ACCOUNTS = {
    "admin": ("admin", ()),
    "wz": ("editor", ("万州区",)),
    "fl": ("editor", ("涪陵区",)),
    "viewer": ("viewer", ()),
}
SECRET = "test-secret-" + "x" * 40


def build_store(folder: Path) -> Path:
    """A GeoPackage store: the four accounts; batch 1 = 3 polygons of 万州区 by wz."""
    path = folder / "store.gpkg"
    store = GeoPackageStore(path)
    for name, (role, districts) in ACCOUNTS.items():
        add_user(store, name, role=role, districts=districts, password=PASSWORD)
    ingest_deliveries([write(frame(), folder / "wz0.gpkg")], store, user="wz")
    return path


def copy_store(template: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "store.gpkg"
    shutil.copy(template, target)
    return target


def client(store: Path, **settings):
    """A TestClient of the app of *store* (its uploads beside it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from forestsink.web.app import create_app

    settings.setdefault("secret", SECRET)
    return TestClient(create_app(store, settings=settings))


def login(c, name: str, password: str = PASSWORD) -> str:
    """Log *c* in as *name*; return the CSRF token."""
    r = c.post("/api/login", json={"username": name, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["csrf_token"]


def delivery(folder: Path, district: str = "万州区", *, name="d.gpkg", ids=None):
    """Bytes of a small clean delivery of *district* (万州区 or 涪陵区)."""
    kw = {"district": district, "ids": ids, "n": len(ids) if ids else 3}
    gdf = frame(FULING, **kw) if district == "涪陵区" else frame(**kw)
    path = write(gdf, folder / name)
    return path.read_bytes()
