"""The JSON API: validate, land, batches, history, progress, withdraw, undo."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import geopandas as gpd
import pandas as pd
import pytest
from delivery_factory import FULING, frame, write
from shapely.geometry import Polygon
from web_helpers import build_store, client, copy_store, delivery, login

from forestsink.landing import chunked
from forestsink.store import GeoPackageStore

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("web-template"))


@pytest.fixture
def store(template, tmp_path):
    return copy_store(template, tmp_path / "office")


def _post(c, token, data, *, name="d.gpkg", query=""):
    return c.post(
        "/api/deliveries" + query,
        files={"file": (name, data)},
        headers={"X-CSRF-Token": token},
    )


def _defective(tmp_path):
    """万州区 delivery whose first feature is a self-intersecting bow tie."""
    gdf = frame(ids=["B1", "B2", "B3"])
    x, y = gdf.geometry.iloc[0].bounds[:2]
    gdf.loc[0, "geometry"] = Polygon(
        [(x, y), (x + 0.004, y + 0.004), (x + 0.004, y), (x, y + 0.004)]
    )
    return write(gdf, tmp_path / "bad.gpkg").read_bytes()


def test_editor_flow_validate_land_history(store, tmp_path):
    c = client(store)
    token = login(c, "wz")
    bad = _defective(tmp_path)
    r = _post(c, token, bad, name="bad.gpkg")
    assert r.status_code == 200, r.text
    report = r.json()["report"]
    assert report["n_errors"] >= 1
    issue = next(i for i in report["issues"] if i["severity"] == "error")
    assert issue["row"] == 1 and issue["project_id"] == "B1"  # counted from 1
    # landing it as it is: refused, nothing written
    before = store.read_bytes()
    r = _post(c, token, bad, name="bad.gpkg", query="?land=1")
    assert r.status_code == 422
    assert r.json()["report"]["n_errors"] >= 1 and r.json()["zh"]
    assert store.read_bytes() == before
    # the fixed file lands as one batch made by wz
    good = delivery(tmp_path, ids=["B1", "B2", "B3"])
    r = _post(c, token, good, query="?land=1")
    assert r.status_code == 200, r.text
    # an upload's connection is closed after it (the workers share the users)
    assert r.headers["connection"] == "close"
    assert c.get("/api/me").headers.get("connection") != "close"
    body = r.json()
    (batch,) = body["batches"]
    assert body["outcomes"][0]["added"] == 3
    batches = GeoPackageStore(store).batches().set_index("batch_id")
    assert batches.loc[batch, "user"] == "wz"
    # the uploaded file is kept, with its SHA-256, in the batch's folder
    folder = store.with_name(store.name + ".uploads") / body["upload"]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["batches"] == [batch] and manifest["user"] == "wz"
    assert manifest["sha256"] == hashlib.sha256(good).hexdigest()
    assert (folder / "d.gpkg").read_bytes() == good
    assert batches.loc[batch, "source_sha256"] == manifest["sha256"]
    r = c.get("/api/history/500101/B2")
    assert r.status_code == 200
    (version,) = r.json()["versions"]
    assert version["batch_user"] == "wz" and version["batch_id"] == batch
    listed = {b["batch_id"]: b for b in c.get("/api/batches").json()["batches"]}
    assert listed[batch]["upload"] == body["upload"]


def test_fix_and_skip_errors_flags(store, tmp_path):
    c = client(store)
    token = login(c, "wz")
    bad = _defective(tmp_path)
    r = _post(c, token, bad, query="?land=1&skip_errors=1")
    assert r.status_code == 200, r.text
    assert r.json()["outcomes"][0]["added"] == 2
    (tmp_path / "x").mkdir()
    bad2 = _defective(tmp_path / "x")
    r = _post(c, token, bad2, name="b2.gpkg", query="?fix=1")
    assert r.status_code == 200
    assert r.json()["report"]["n_errors"] == 0
    assert r.json()["report"]["n_fixed"] >= 1


def test_editor_of_wanzhou_uploading_fuling_refused(store, tmp_path):
    c = client(store)
    token = login(c, "wz")
    before = store.read_bytes()
    uploads = store.with_name(store.name + ".uploads")
    fuling = delivery(tmp_path, "涪陵区", ids=["F1", "F2"])
    for query in ("", "?land=1", "?land=1&skip_errors=1"):
        r = _post(c, token, fuling, query=query)
        assert r.status_code == 403, r.text
        assert "涪陵区" in r.json()["zh"] and r.json()["districts"] == ["500102"]
    assert store.read_bytes() == before  # byte-identical
    assert not any(uploads.glob("*/*")) if uploads.exists() else True
    # the 涪陵区 editor may
    c2 = client(store)
    r = _post(c2, login(c2, "fl"), fuling, query="?land=1")
    assert r.status_code == 200, r.text


def test_mixed_delivery_refused_for_editor(store, tmp_path):
    a = frame(ids=["M1"], n=1)
    b = frame(FULING, district="涪陵区", ids=["M2"], n=1)
    both = gpd.GeoDataFrame(pd.concat([a, b], ignore_index=True), crs=a.crs)
    mixed = write(both, tmp_path / "m.gpkg").read_bytes()
    c = client(store)
    before = store.read_bytes()
    r = _post(c, login(c, "wz"), mixed, query="?land=1")
    assert r.status_code == 403
    assert store.read_bytes() == before
    admin = client(store)
    assert (
        _post(admin, login(admin, "admin"), mixed, query="?land=1").status_code == 200
    )


def test_zip_upload_and_zip_slip(store, tmp_path):
    c = client(store)
    token = login(c, "wz")
    zpath = write(frame(ids=["Z1", "Z2", "Z3"]), tmp_path / "z.zip")
    r = _post(c, token, zpath.read_bytes(), name="z.zip", query="?land=1")
    assert r.status_code == 200, r.text
    assert r.json()["outcomes"][0]["added"] == 3
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../evil.geojson", '{"type": "FeatureCollection"}')
    before = store.read_bytes()
    r = _post(c, token, buf.getvalue(), name="slip.zip", query="?land=1")
    assert r.status_code == 422
    assert any("outside" in i["message"] for i in r.json()["report"]["issues"])
    assert store.read_bytes() == before
    assert not list(tmp_path.parent.rglob("evil.geojson"))


def test_zip_of_several_deliveries(store, tmp_path):
    c = client(store)
    token = login(c, "wz")
    one = write(frame(ids=["S1", "S2"], n=2), tmp_path / "one.gpkg")
    (tmp_path / "sub").mkdir()
    two = write(frame(ids=["T1"], n=1), tmp_path / "sub" / "two.shp")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.write(one, "one.gpkg")
        for part in sorted(two.parent.glob("two.*")):
            zf.write(part, f"sub/{part.name}")
        zf.writestr("readme.txt", "not a layer")
    r = _post(c, token, buf.getvalue(), name="both.zip", query="?land=1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["batches"]) == 2
    assert sorted(o["added"] for o in body["outcomes"]) == [1, 2]
    names = set(GeoPackageStore(store).batches()["source_name"])
    assert {"one.gpkg", "two.shp"} <= names
    # zip-slip in a zip of several layers: refused before anything is written
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.write(one, "one.gpkg")
        zf.writestr("../../two.geojson", "{}")
    before = store.read_bytes()
    r = _post(c, token, buf.getvalue(), name="slip2.zip", query="?land=1")
    assert r.status_code == 400 and "outside" in r.json()["en"]
    assert store.read_bytes() == before
    assert not list(tmp_path.parent.rglob("two.geojson"))
    # a zip bomb among several layers
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(one, "one.gpkg")
        zf.writestr("bomb.geojson", b" " * (8 << 20))
    r = _post(c, token, buf.getvalue(), name="bomb.zip", query="?land=1")
    assert r.status_code == 400 and "zip炸弹" in r.json()["en"]
    assert store.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("../../../etc/passwd.gpkg", 200),
        ("..\\..\\x.gpkg", 200),
        ("notes.txt", 400),
        ("", 400),
        ("<script>.gpkg", 200),
    ],
)
def test_uploaded_names_never_paths(store, tmp_path, name, status):
    c = client(store)
    token = login(c, "wz")
    r = _post(c, token, delivery(tmp_path, ids=["U1"]), name=name, query="?land=1")
    assert r.status_code == status, r.text
    if status == 200:
        saved = r.json()["file"]
        assert "/" not in saved and "\\" not in saved and "<" not in saved
        folder = store.with_name(store.name + ".uploads") / r.json()["upload"]
        assert (folder / saved).is_file()
    else:
        assert r.json()["zh"] and r.json()["en"]


def test_no_file_field(store):
    c = client(store)
    token = login(c, "wz")
    r = c.post("/api/deliveries", data={"x": "1"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 400


def test_withdraw_and_undo_record_account(store):
    c = client(store)
    token = login(c, "wz")
    h = {"X-CSRF-Token": token}
    r = c.post("/api/withdraw", json={"key": "500101/P2", "reason": "取消"}, headers=h)
    assert r.status_code == 200, r.text
    withdrawn = r.json()["batch_id"]
    # the reason is required: refused in Chinese and English, nothing written
    before = GeoPackageStore(store).batches()
    for body in ({"batch_id": withdrawn}, {"batch_id": withdrawn, "reason": "  "}):
        r = c.post("/api/undo", json=body, headers=h)
        assert r.status_code == 400, r.text
        assert "原因" in r.json()["zh"] and "reason" in r.json()["en"]
    assert GeoPackageStore(store).batches().equals(before)
    r = c.post(
        "/api/undo",
        json={"batch_id": withdrawn, "reason": "误撤 by mistake"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    batches = GeoPackageStore(store).batches().set_index("batch_id")
    assert batches.loc[withdrawn, "user"] == "wz"
    assert batches.loc[r.json()["batch_id"], "user"] == "wz"
    assert batches.loc[r.json()["batch_id"], "note"] == (
        f"undo of batch {withdrawn}: 误撤 by mistake"
    )
    # bad bodies and unknown keys
    assert (
        c.post("/api/withdraw", json={"key": "500101/P2"}, headers=h).status_code == 400
    )
    r = c.post("/api/withdraw", json={"key": "500101/NOPE", "reason": "x"}, headers=h)
    assert r.status_code == 409
    assert (
        c.post("/api/undo", json={"batch_id": "1", "reason": "x"}, headers=h)
    ).status_code == 400
    assert (
        c.post("/api/undo", json={"batch_id": 999, "reason": "x"}, headers=h)
    ).status_code == 403


def test_admin_undoes_any_batch(store):
    c = client(store)
    token = login(c, "admin")
    r = c.post(
        "/api/undo",
        json={"batch_id": 1, "reason": "重复 duplicate"},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 200
    batches = GeoPackageStore(store).batches().set_index("batch_id")
    assert batches.loc[r.json()["batch_id"], "user"] == "admin"


def test_history_unknown_key_404(store):
    c = client(store)
    login(c, "viewer")
    r = c.get("/api/history/500101/NOPE")
    assert r.status_code == 404 and r.json()["zh"]


def test_progress_by(store):
    c = client(store)
    login(c, "viewer")
    r = c.get("/api/progress?by=district")
    assert r.status_code == 200
    rows = r.json()["tables"]["district"]
    assert any(row["adcode"] == "500101" for row in rows)
    assert c.get("/api/progress?by=city").status_code == 200
    assert c.get("/api/progress?by=../x").status_code == 400


def test_me_and_users(store):
    c = client(store)
    login(c, "admin")
    users = c.get("/api/users").json()["users"]
    assert {u["name"] for u in users} == {"admin", "wz", "fl", "viewer"}
    assert all("password_hash" not in u for u in users)
    assert c.get("/api/me").json()["role"] == "admin"


def test_landing_upload_is_checked_once(store, tmp_path, monkeypatch):
    # one validation per landing upload (ingest's), which also refuses
    # another district's features before writing (#20); the report answered
    # is that check's, overlap with the store included
    calls = []
    real = chunked.validate_delivery
    monkeypatch.setattr(
        chunked,
        "validate_delivery",
        lambda *a, **k: calls.append(1) or real(*a, **k),
    )
    c = client(store)
    token = login(c, "wz")
    r = _post(c, token, delivery(tmp_path, ids=["O1", "O2"]), query="?land=1")
    assert r.status_code == 200, r.text
    assert len(calls) == 1
    assert r.json()["outcomes"][0]["added"] == 2
    # P1-P3 (batch 1) lie where O1-O3 would: the same squares, other keys
    codes = {i["code"] for i in r.json()["report"]["issues"]}
    assert "overlap_existing" in codes
    calls.clear()
    before = store.read_bytes()
    fuling = delivery(tmp_path, "涪陵区", ids=["F9"], name="f.gpkg")
    r = _post(c, token, fuling, query="?land=1&skip_errors=1")
    assert r.status_code == 403 and r.json()["districts"] == ["500102"]
    assert len(calls) == 1 and store.read_bytes() == before
