"""The as-of and diff views, the Excel download, logout and the batch list.

The store: batch 1 = 万州区 P1-P3 by wz (web_helpers.build_store), batch 2 =
涪陵区 F1-F2 by admin, batch 3 = wz withdraws 500101/P1, batch 4 = admin
adds 万州区 A1. Expected areas come from pyproj.Geod on the squares the
delivery factory draws (CGCS2000's ellipsoid is GRS80 to 1e-10), in mu
(1 mu = 10000/15 m²), never from the code under test.
"""

from __future__ import annotations

import io
import uuid

import pg_fixture
import pytest
from delivery_factory import FULING, WANZHOU, frame, squares, write
from pyproj import Geod
from web_helpers import ACCOUNTS, PASSWORD, build_store, client, copy_store, login

from forestsink.landing.deliveries import ingest_deliveries
from forestsink.store import GeoPackageStore
from forestsink.store.postgis import PostGISStore
from forestsink.store.users import add_user

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
pg_server = pg_fixture.pg_server

GEOD = Geod(ellps="GRS80")
MU_M2 = 10000 / 15


def _mu(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / MU_M2


#: the squares' areas (mu): 万州区 P1-P3 and 涪陵区 F1-F2 (tests/delivery_factory)
WZ = [_mu(g) for g in squares(WANZHOU, 3)]
FL = [_mu(g) for g in squares(FULING, 2)]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web-views")
    path = build_store(folder)
    store = GeoPackageStore(path)
    fl = write(
        frame(FULING, district="涪陵区", n=2, ids=["F1", "F2"]), folder / "f.gpkg"
    )
    ingest_deliveries([fl], store, user="admin")
    store.withdraw("500101/P1", reason="重复图斑 duplicate", user="wz")
    a1 = write(frame(n=1, ids=["A1"]), folder / "a1.gpkg")
    ingest_deliveries([a1], store, user="admin")
    return path


@pytest.fixture
def store(template, tmp_path):
    return copy_store(template, tmp_path / "office")


def _districts(body) -> dict:
    return {r["adcode"]: (r["n_polygons"], r["area_mu"]) for r in body["districts"]}


# ---------------------------------------------------------------------------
# as of
# ---------------------------------------------------------------------------


def test_asof_batch_number_and_date(store):
    c = client(store)
    login(c, "viewer")
    r = c.get("/api/asof?as_of=1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["n_polygons"] == 3
    ((n, area),) = _districts(body).values()
    assert n == 3 and area == pytest.approx(sum(WZ), rel=1e-6)
    assert body["districts"][0]["name_zh"] == "万州区"
    assert len(body["features"]["features"]) == 3
    # after batch 3: P1 withdrawn; 涪陵区 added by batch 2
    now = _districts(c.get("/api/asof?as_of=3").json())
    assert now["500101"] == (2, pytest.approx(WZ[1] + WZ[2], rel=1e-6))
    assert now["500102"] == (2, pytest.approx(sum(FL), rel=1e-6))
    # no as_of: now (A1 is batch 4); a date before every batch: nothing
    assert c.get("/api/asof").json()["n_polygons"] == 5
    early = c.get("/api/asof?as_of=2000-01-01").json()
    assert early["n_polygons"] == 0 and early["districts"] == []


def test_asof_district_and_editor_rights(store):
    c = client(store)
    login(c, "admin")
    body = c.get("/api/asof?as_of=3&district=涪陵区").json()
    assert set(_districts(body)) == {"500102"}
    wz = client(store)
    login(wz, "wz")
    assert set(_districts(wz.get("/api/asof?as_of=3").json())) == {"500101"}
    r = wz.get("/api/asof?as_of=3&district=500102")
    assert r.status_code == 403
    assert r.json()["zh"] and "district" in r.json()["en"]


@pytest.mark.parametrize(
    ("url", "option"),
    [
        ("/api/asof?as_of=yesterday", "as_of"),
        ("/api/asof?district=Atlantis", "district"),
        ("/api/diff?a=1", "b"),
        ("/api/diff?a=x&b=2", "a"),
    ],
)
def test_bad_parameters_are_400_bilingual(store, url, option):
    c = client(store)
    login(c, "viewer")
    r = c.get(url)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["zh"] and body["en"] and body["option"] == option
    assert "--" not in body["zh"] + body["en"]  # no CLI flag named


def test_new_endpoints_without_session_401(store):
    c = client(store)
    for url in ("/api/asof", "/api/diff?a=1&b=2", "/api/progress.xlsx"):
        r = c.get(url)
        assert r.status_code == 401 and r.json()["zh"] and r.json()["en"]
    r = c.get("/asof", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


# ---------------------------------------------------------------------------
# diff
# ---------------------------------------------------------------------------


def test_diff_added_changed_withdrawn(store):
    c = client(store)
    login(c, "viewer")
    body = c.get("/api/diff?a=1&b=3").json()
    changes = {r["key"]: r for r in body["changes"]}
    assert set(changes) == {"500102/F1", "500102/F2", "500101/P1"}
    assert changes["500101/P1"]["change"] == "withdrawn"
    assert changes["500101/P1"]["area_mu_from"] == pytest.approx(WZ[0], rel=1e-6)
    assert changes["500102/F2"]["change"] == "added"
    assert changes["500102/F2"]["area_mu_to"] == pytest.approx(FL[1], rel=1e-6)
    summary = {r["change"]: r for r in body["summary"]}
    assert summary["added"]["n_polygons"] == 2
    assert summary["added"]["area_mu_to"] == pytest.approx(sum(FL), rel=1e-6)
    assert summary["withdrawn"]["n_polygons"] == 1
    per = {r["adcode"]: r for r in body["districts"]}
    assert (per["500101"]["n_withdrawn"], per["500102"]["n_added"]) == (1, 2)
    # an editor sees only their district's keys
    wz = client(store)
    login(wz, "wz")
    mine = wz.get("/api/diff?a=1&b=4").json()
    assert {r["key"] for r in mine["changes"]} == {"500101/P1", "500101/A1"}


# ---------------------------------------------------------------------------
# Excel
# ---------------------------------------------------------------------------


def _sheet(content: bytes, name: str = "区县 Districts"):
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    rows = list(book[name].iter_rows(values_only=True))
    return rows[0], rows[1:], book.sheetnames


@pytest.mark.parametrize(
    ("account", "adcodes"),
    [("viewer", {"500101", "500102"}), ("wz", {"500101"}), ("fl", {"500102"})],
)
def test_progress_xlsx(store, account, adcodes):
    c = client(store)
    login(c, account)
    r = c.get("/api/progress.xlsx?by=district")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in r.headers["content-disposition"]
    header, rows, sheets = _sheet(r.content)
    assert sheets[0] == "区县 Districts" and "来源与设置 Sources" in sheets
    col = next(i for i, h in enumerate(header) if str(h).startswith("行政区划代码"))
    assert {row[col] for row in rows} == adcodes


def test_progress_xlsx_district_and_refusals(store):
    c = client(store)
    login(c, "wz")
    assert c.get("/api/progress.xlsx?district=500102").status_code == 403
    assert c.get("/api/progress.xlsx?by=nation").status_code == 400
    v = client(store)
    login(v, "viewer")
    r = v.get("/api/progress.xlsx?by=district&district=涪陵区")
    header, rows, _ = _sheet(r.content)
    col = next(i for i, h in enumerate(header) if str(h).startswith("行政区划代码"))
    assert {row[col] for row in rows} == {"500102"}


def test_progress_page_links_the_workbook(store):
    c = client(store)
    login(c, "viewer")
    page = c.get("/progress").text
    assert 'href="/api/progress.xlsx?by=district"' in page


# ---------------------------------------------------------------------------
# logout revocation
# ---------------------------------------------------------------------------


def test_logout_revokes_the_old_cookie(store):
    c = client(store)
    token = login(c, "wz")
    cookie = c.cookies.get("forestsink_session")
    copy = client(store)  # the same cookie kept elsewhere (another worker)
    copy.cookies.set("forestsink_session", cookie)
    assert copy.get("/api/me").status_code == 200
    assert c.post("/api/logout", headers={"X-CSRF-Token": token}).status_code == 200
    r = copy.get("/api/me")
    assert r.status_code == 401
    assert "logged out" in r.json()["en"] and "已退出" in r.json()["zh"]
    # the account itself still works: a new login gets a new session
    again = client(store)
    login(again, "wz")
    assert again.get("/api/me").status_code == 200


def test_logout_ends_the_accounts_other_sessions(store):
    one, two = client(store), client(store)
    token = login(one, "viewer")
    login(two, "viewer", PASSWORD)
    one.post("/api/logout", headers={"X-CSRF-Token": token})
    assert two.get("/api/me").status_code == 401


# ---------------------------------------------------------------------------
# batches, withdraw reason
# ---------------------------------------------------------------------------


def _batches(store, account) -> dict[int, dict]:
    c = client(store)
    login(c, account)
    r = c.get("/api/batches")
    assert r.status_code == 200, r.text
    return {b["batch_id"]: b for b in r.json()["batches"]}


def test_editor_sees_batches_touching_their_districts(store):
    wz = _batches(store, "wz")
    assert set(wz) == {1, 3, 4}  # 4: admin's, in 万州区; 2 is 涪陵区's
    assert wz[4]["user"] == "admin" and wz[4]["districts"] == "500101"
    assert [wz[b]["may_undo"] for b in (1, 3, 4)] == [True, True, False]
    assert set(_batches(store, "fl")) == {2}
    viewer = _batches(store, "viewer")
    assert set(viewer) == {1, 2, 3, 4}
    assert not any(b["may_undo"] for b in viewer.values())
    assert all(b["may_undo"] for b in _batches(store, "admin").values())


def _page(c, query: str) -> tuple[list[int], bool]:
    r = c.get("/api/batches" + query)
    assert r.status_code == 200, r.text
    return [b["batch_id"] for b in r.json()["batches"]], r.json()["more"]


def test_batches_in_pages_newest_first(store):
    # the store: batches 1-4; wz sees 1, 3, 4 (see the test above)
    c = client(store)
    login(c, "viewer")
    assert _page(c, "") == ([1, 2, 3, 4], False)  # default: all
    assert _page(c, "?limit=3") == ([2, 3, 4], True)
    assert _page(c, "?limit=3&before=2") == ([1], False)
    assert _page(c, "?limit=2&before=4") == ([2, 3], True)
    assert _page(c, "?limit=4") == ([1, 2, 3, 4], False)
    login(c, "wz")
    assert _page(c, "?limit=2") == ([3, 4], True)
    assert _page(c, "?limit=2&before=3") == ([1], False)
    for bad in ("?limit=0", "?limit=x", "?before=-1", "?limit=1.5"):
        r = c.get("/api/batches" + bad)
        assert r.status_code == 400, bad
        assert "whole number of at least 1" in r.text and "整数" in r.text


def test_own_batch_outside_their_districts_still_listed(store, tmp_path):
    """A batch the account made stays in its list (e.g. districts reassigned)."""
    fl = frame(FULING, district="涪陵区", n=1, ids=["F9"])
    ingest_deliveries(
        [write(fl, tmp_path / "f9.gpkg")], GeoPackageStore(store), user="wz"
    )
    wz = _batches(store, "wz")
    assert set(wz) == {1, 3, 4, 5} and wz[5]["districts"] == "500102"


def test_withdraw_reason_in_history_and_batches(store):
    c = client(store)
    token = login(c, "wz")
    r = c.post(
        "/api/withdraw",
        json={"key": "500101/P2", "reason": "林地被占用 land taken"},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 200, r.text
    versions = c.get("/api/history/500101/P2").json()["versions"]
    assert "林地被占用 land taken" in versions[-1]["end_reason"]
    batches = {b["batch_id"]: b for b in c.get("/api/batches").json()["batches"]}
    assert "林地被占用 land taken" in batches[r.json()["batch_id"]]["note"]
    page = c.get("/history").text
    assert 'id="reason" required' in page and 'name="csrf-token"' in page


class _NoReads:
    """A store stand-in (a PostGIS store to the code) that must not be read."""

    exists = True
    _v = "versions"

    def current(self, *, as_of=None):
        raise AssertionError(f"state read (as_of={as_of})")

    def _query(self, sql, params=()):
        raise AssertionError(f"state read ({sql[:30]}…)")


def test_batch_districts_shared_by_workers_through_their_file(store, tmp_path):
    from forestsink.web.views import BatchDistricts

    real = GeoPackageStore(store)
    batches = real.batches()
    file = tmp_path / "shared" / "touched.json"
    first = BatchDistricts(file).of(real, batches)
    assert first == {
        1: {"500101"},
        2: {"500102"},
        3: {"500101"},
        4: {"500101"},
    }
    # another worker (or a restart) takes the answers from the file
    assert BatchDistricts(file).of(_NoReads(), batches) == first
    # a rebuilt store (same numbers, other times) is not taken for this one
    other = batches.assign(created_at="2030-01-01T00:00:00Z")
    with pytest.raises(AssertionError, match="state read"):
        BatchDistricts(file).of(_NoReads(), other)


def test_views_logout_and_batch_list_on_postgis(pg_server, tmp_path):
    """The same answers from a PostGIS store (accounts and versions in it)."""
    url = f"{pg_server}?schema=v_{uuid.uuid4().hex[:12]}"
    store = PostGISStore(url)
    for name, (role, districts) in ACCOUNTS.items():
        add_user(store, name, role=role, districts=districts, password=PASSWORD)
    wz = write(frame(), tmp_path / "wz.gpkg")
    ingest_deliveries([wz], store, user="wz")
    fl = write(
        frame(FULING, district="涪陵区", n=2, ids=["F1", "F2"]), tmp_path / "f.gpkg"
    )
    ingest_deliveries([fl], store, user="admin")
    store.withdraw("500101/P1", reason="重复图斑 duplicate", user="wz")
    c = client(url, upload_dir=tmp_path / "uploads")
    token = login(c, "wz")
    now = c.get("/api/asof").json()
    assert _districts(now) == {"500101": (2, pytest.approx(WZ[1] + WZ[2], rel=1e-6))}
    changes = c.get("/api/diff?a=1&b=3").json()["changes"]
    assert [(r["key"], r["change"]) for r in changes] == [("500101/P1", "withdrawn")]
    batches = {b["batch_id"]: b for b in c.get("/api/batches").json()["batches"]}
    assert set(batches) == {1, 3}
    cookie = c.cookies.get("forestsink_session")
    assert c.post("/api/logout", headers={"X-CSRF-Token": token}).status_code == 200
    copy = client(url, upload_dir=tmp_path / "uploads")
    copy.cookies.set("forestsink_session", cookie)
    assert copy.get("/api/me").status_code == 401
