"""``forestsink serve`` (uvicorn, several workers) on loopback, on both stores."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pg_fixture
import pytest
from delivery_factory import FULING, frame, write
from web_helpers import ACCOUNTS, PASSWORD, SECRET, client, login

from forestsink.store.postgis import PostGISStore
from forestsink.store.users import add_user

pg_server = pg_fixture.pg_server
ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.slow,  # a real server (and browser)
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_two_workers(tmp_path):
    store = tmp_path / "store.gpkg"
    from forestsink.store import GeoPackageStore

    add_user(GeoPackageStore(store), "ann", role="admin", password=PASSWORD)
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FORESTSINK_SECRET": SECRET,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "forestsink",
            "serve",
            "--store",
            str(store),
            "--port",
            str(port),
            "--workers",
            "2",
            "--login-limit",
            "3",
            "--upload-dir",
            str(tmp_path / "up"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
        with httpx.Client(base_url=base) as c:
            r = c.post("/api/login", json={"username": "ann", "password": PASSWORD})
            assert r.status_code == 200
            token = r.json()["csrf_token"]
            # the session works in whichever worker answers
            for _ in range(10):
                assert c.get("/api/me").status_code == 200
            r = c.post("/api/logout", headers={"X-CSRF-Token": token})
            assert r.status_code == 200
            assert "server" not in {k.lower() for k in r.headers}
            # --login-limit 3 holds across both workers
            for _ in range(3):
                bad = {"username": "ann", "password": "wrong-pass"}
                assert c.post("/api/login", json=bad).status_code == 401
            r = c.post("/api/login", json={"username": "ann", "password": PASSWORD})
            assert r.status_code == 429
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def test_api_on_postgis(pg_server, tmp_path):
    """Login, land, batches, history on a PostGIS store: the same answers."""
    url = f"{pg_server}?schema=w_{uuid.uuid4().hex[:12]}"
    store = PostGISStore(url)
    for name, (role, districts) in ACCOUNTS.items():
        add_user(store, name, role=role, districts=districts, password=PASSWORD)
    c = client(url, upload_dir=tmp_path / "uploads")
    token = login(c, "wz")
    data = write(frame(ids=["G1", "G2"], n=2), tmp_path / "g.gpkg").read_bytes()
    r = c.post(
        "/api/deliveries?land=1",
        files={"file": ("g.gpkg", data)},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 200, r.text
    (batch,) = r.json()["batches"]
    assert store.batches().set_index("batch_id").loc[batch, "user"] == "wz"
    assert (tmp_path / "uploads" / r.json()["upload"] / "g.gpkg").is_file()
    versions = c.get("/api/history/500101/G1").json()["versions"]
    assert versions[0]["batch_user"] == "wz"
    fuling = write(
        frame(FULING, district="涪陵区", n=1),
        tmp_path / "f.gpkg",
    ).read_bytes()
    before = store.batches()
    r = c.post(
        "/api/deliveries?land=1",
        files={"file": ("f.gpkg", fuling)},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 403
    assert len(store.batches()) == len(before)
    # rate limit across workers: the failures live in the database
    other = client(url, login_limit=2)
    for _ in range(2):
        other.post("/api/login", json={"username": "fl", "password": "wrong-pass"})
    third = client(url, login_limit=2)
    r = third.post("/api/login", json={"username": "fl", "password": PASSWORD})
    assert r.status_code == 429
