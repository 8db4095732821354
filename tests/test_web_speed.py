"""The web app's speed work: progress computed once per store state, upload index.

Expected tables come from ``progress_tables`` called directly (the CLI's
function), expected batch ids from the store's own batch list or the
landing's answer: never from the cache under test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from web_helpers import build_store, client, copy_store, delivery, login

from forestsink.errors import Denied, ForestsinkError, OptionError
from forestsink.store import GeoPackageStore
from forestsink.web.api import UploadIndex, progress_result
from forestsink.web.progress_cache import ProgressCache
from forestsink.web.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("web-speed-template"))


@pytest.fixture
def store(template, tmp_path):
    return copy_store(template, tmp_path / "office")


def _land(c, token, tmp_path, ids):
    data = delivery(tmp_path, ids=ids, name=f"{ids[0]}.gpkg")
    r = c.post(
        "/api/deliveries?land=1",
        files={"file": (f"{ids[0]}.gpkg", data)},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 200, r.text
    return r.json()["batches"][0]


def _direct(store_path) -> dict:
    """The tables as ``forestsink progress`` computes them now."""
    return progress_result(GeoPackageStore(store_path), "district")["tables"]


def test_progress_current_after_landing(store, tmp_path):
    c = client(store, progress_wait_s=60)
    token = login(c, "wz")
    first = c.get("/api/progress?by=district").json()
    assert first["current"] is True
    assert first["as_of"]["last_batch_id"] == 1  # build_store lands batch 1
    assert first["tables"] == _direct(store)
    batch = _land(c, token, tmp_path, ["N1", "N2"])
    after = c.get("/api/progress?by=district").json()
    assert after["current"] is True
    assert after["as_of"]["last_batch_id"] == batch
    assert after["as_of"]["batches"] == len(GeoPackageStore(store).batches())
    assert after["tables"] == _direct(store)
    assert after["tables"] != first["tables"]  # two more polygons count


def test_older_progress_is_marked_not_current(store, tmp_path):
    c = client(store, progress_wait_s=0, progress_interval_s=8)
    token = login(c, "wz")
    before = c.get("/api/progress?by=district").json()
    batch = _land(c, token, tmp_path, ["S1"])
    stale = c.get("/api/progress?by=district").json()
    assert stale["current"] is False
    assert stale["as_of"]["last_batch_id"] == 1
    assert stale["store_state"]["last_batch_id"] == batch
    assert stale["tables"] == before["tables"]
    # the refresh started by the landing ends; then the answer is current
    c.app.state.progress.refresh("district").join(60)
    fresh = c.get("/api/progress?by=district").json()
    assert fresh["current"] is True
    assert fresh["as_of"]["last_batch_id"] == batch
    assert fresh["tables"] == _direct(store)


def test_two_workers_compute_once(store, tmp_path):
    calls = []

    def counting(s, by):
        calls.append(by)
        return progress_result(s, by)

    folder = tmp_path / "cache"
    one = ProgressCache(GeoPackageStore(store), folder, counting)
    two = ProgressCache(GeoPackageStore(store), folder, counting)
    a = one.get("district")
    b = two.get("district")
    assert calls == ["district"]
    assert a["tables"] == b["tables"] == _direct(store)
    assert b["current"] is True


def test_progress_in_helper_process(store, tmp_path):
    c = client(store, progress_wait_s=60, progress_process=True)
    try:
        # started with the application, before any computation
        assert len(c.app.state.progress._pool._processes) == 1
        token = login(c, "wz")
        first = c.get("/api/progress?by=district").json()
        assert first["current"] is True
        assert first["tables"] == _direct(store)
        batch = _land(c, token, tmp_path, ["H1", "H2"])
        after = c.get("/api/progress?by=district").json()
        assert after["current"] is True
        assert after["as_of"]["last_batch_id"] == batch
        assert after["tables"] == _direct(store)
        pool = c.app.state.progress._pool
        pids = {p.pid for p in pool._processes.values()}
        assert pids and os.getpid() not in pids  # computed elsewhere
        # a SIGTERM to every process (systemd, kill of the group) leaves the
        # helper to its worker: the next computation still runs there
        (pid,) = pids
        os.kill(pid, signal.SIGTERM)
        time.sleep(0.2)  # (had it not ignored it, it would be gone by now)
        _land(c, token, tmp_path, ["H3"])
        assert c.get("/api/progress?by=district").json()["current"] is True
        assert {p.pid for p in pool._processes.values()} == {pid}
        parent = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(parent + 10, 19)
    finally:
        c.app.state.progress.close()


ORPHAN = """
import os, sys, time
from forestsink.store import GeoPackageStore
from forestsink.web.api import progress_result
from forestsink.web.progress_cache import ProgressCache
cache = ProgressCache(GeoPackageStore({store!r}), {folder!r}, progress_result,
                      location={store!r}, process=True)
cache.start()
time.sleep(1)
print(*[p.pid for p in cache._pool._processes.values()], flush=True)
os._exit(0)  # a worker killed outright: no orderly shutdown of its helper
"""


def test_helper_process_ends_when_its_worker_dies(store, tmp_path):
    code = ORPHAN.format(store=str(store), folder=str(tmp_path / "cache"))
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    (pid,) = [int(p) for p in run.stdout.split()]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and psutil.pid_exists(pid):
        if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.1)
    gone = not psutil.pid_exists(pid) or (
        psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    )
    assert gone, "the helper outlived its worker"


def refusing(store, by):
    """A computation failing with an error that cannot be pickled (Denied)."""
    raise Denied(409, "测试", f"test refusal of {by}")


def test_helper_process_error_reaches_the_caller(store, tmp_path):
    cache = ProgressCache(
        GeoPackageStore(store),
        tmp_path / "cache",
        refusing,
        location=str(store),
        process=True,
    )
    try:
        with pytest.raises(ForestsinkError, match="test refusal of district"):
            cache.get("district")
        assert not list((tmp_path / "cache").glob("progress-*.json"))  # no result
    finally:
        cache.close()


def test_refresh_waits_for_a_multiple_of_the_last_duration(store, tmp_path):
    starts = []

    def slow(s, by):
        starts.append(time.monotonic())
        time.sleep(0.3)
        return progress_result(s, by)

    cache = ProgressCache(
        GeoPackageStore(store), tmp_path / "cache", slow, interval_s=0
    )
    cache.get("district")
    GeoPackageStore(store).withdraw("500101/P1", reason="test")  # a new state
    cache.refresh("district").join(60)
    assert len(starts) == 2
    # interval 0, but the last computation took >= 0.3 s: 4 times that
    assert starts[1] - starts[0] >= 4 * 0.3


def test_upload_index_reads_each_manifest_once(tmp_path):
    index = UploadIndex(tmp_path / "uploads")
    assert index.by_batch() == {}
    (tmp_path / "uploads" / ".progress").mkdir(parents=True)
    (tmp_path / "uploads" / "a").mkdir()
    (tmp_path / "uploads" / "a" / "manifest.json").write_text(
        json.dumps({"batches": [3, 4]}), encoding="utf-8"
    )
    (tmp_path / "uploads" / "b").mkdir()  # an upload not landed yet
    assert index.by_batch() == {3: "a", 4: "a"}
    (tmp_path / "uploads" / "a" / "manifest.json").unlink()  # read once: kept
    (tmp_path / "uploads" / "b" / "manifest.json").write_text(
        json.dumps({"batches": [7]}), encoding="utf-8"
    )
    assert index.by_batch() == {3: "a", 4: "a", 7: "b"}


@pytest.mark.parametrize("name", ["progress_wait_s", "progress_interval_s"])
def test_negative_progress_settings_refused(name):
    with pytest.raises(OptionError, match=name):
        Settings.of({name: -1})
