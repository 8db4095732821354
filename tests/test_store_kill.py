"""The store survives SIGKILL and concurrent writers: all of a batch or none.

(a) ``forestsink ingest`` of one large delivery (20,000 polygons in 万州区) runs
in a subprocess against a store that already holds a first batch, and is
killed with SIGKILL at several points: after a fixed delay, when SQLite's
rollback journal appears, when the store file has grown (pages of the
unfinished batch already written into it: a *hot* journal), when the journal
is gone again (committed), and at fractions of a complete run. Afterwards the
store must hold exactly the old state or the old state plus the complete new
batch.

(b) Two writers at once: both are written (the second waits), or one gets a
clear StoreBusyError when the timeout is short; the store stays consistent.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from bad_input_helpers import (
    batches,
    dump_store,
    integrity,
    load_generator,
    rows_per_batch,
    rtree_count,
    rtree_mismatches,
    rw_connect,
    versions,
)
from click.testing import CliRunner
from shapely.geometry import box

from forestsink.landing.deliveries import check_deliveries, ingest_deliveries
from forestsink.store import GeoPackageStore, StoreBusyError

pytestmark = pytest.mark.slow  # processes killed mid-write


GEN = load_generator()
N_BIG = 20_000
CELL = 0.0006  # degrees; polygons are 0.0005 wide, 0.0001 apart
BUSY = "another process is writing"


def grid(n: int, origin, *, prefix: str, district: str, cols: int = 200):
    """*n* small disjoint squares in rows of *cols*, from *origin* (EPSG:4490)."""
    x0, y0 = origin
    size = CELL * 5 / 6
    geoms = [
        box(
            x0 + (i % cols) * CELL,
            y0 + (i // cols) * CELL,
            x0 + (i % cols) * CELL + size,
            y0 + (i // cols) * CELL + size,
        )
        for i in range(n)
    ]
    return gpd.GeoDataFrame(
        {
            "小班号": [f"{prefix}-{i:05d}" for i in range(n)],
            "区县": [district] * n,
            "年度": [2013] * n,
            "工程类别": ["人工造林"] * n,
        },
        geometry=geoms,
        crs="EPSG:4490",
    )


@dataclass
class Setup:
    folder: Path
    big: Path
    base: Path
    base_dump: dict
    base_live: int


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Setup:
    folder = tmp_path_factory.mktemp("kill")
    big = GEN.write_gpkg(
        grid(N_BIG, (108.30, 30.70), prefix="BIG", district="万州区"),
        folder / "万州_大批量.gpkg",
    )
    first = GEN.write_gpkg(
        GEN.base_frame(GEN.FULING, district="涪陵区", prefix="FL"),
        folder / "涪陵_首批.gpkg",
    )
    base = folder / "base.gpkg"
    ingest_deliveries([first], GeoPackageStore(base))
    return Setup(folder, big, base, dump_store(base), 3)


def _copy_store(src: Path, dst: Path) -> Path:
    shutil.copy2(src, dst)
    journal = Path(f"{src}-journal")
    if journal.exists():
        shutil.copy2(journal, Path(f"{dst}-journal"))
    return dst


def _journal(store: Path) -> Path:
    return Path(f"{store}-journal")


def _scratch(store: Path) -> Path:
    """The temporary folder of the ingest writing *store* (its ``TMPDIR``)."""
    return store.parent / f"{store.stem}-tmp"


def _start_ingest(store: Path, delivery: Path, log: Path) -> subprocess.Popen:
    """Run ``forestsink ingest`` with its temporary files under :func:`_scratch`.

    A process killed mid-write cannot remove its temporary files; kept in a
    folder of the test's own, they are removed with it (:func:`_kill_and_clean`).
    """
    scratch = _scratch(store)
    scratch.mkdir(exist_ok=True)
    with log.open("wb") as err:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "forestsink",
                "ingest",
                str(delivery),
                "--store",
                str(store),
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "TMPDIR": str(scratch)},
        )


def _poll(proc, condition, *, timeout: float = 60.0) -> bool:
    """Wait until *condition()*; False if the process ended first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        if proc.poll() is not None:
            return condition()
        time.sleep(0.0005)
    raise AssertionError("condition never met")


def _kill(proc) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")


def _is_hot(journal: Path) -> bool:
    """True if *journal* holds a rollback SQLite would still have to replay.

    A journal whose header magic is still zero (written before any page of
    the database changed) is ignored by SQLite and may stay behind.
    """
    if not journal.exists():
        return False
    with journal.open("rb") as fh:
        return fh.read(8) == JOURNAL_MAGIC


def _recover(store: Path) -> None:
    """Open read-write once, as SQLite/GDAL/QGIS would: replays a hot journal."""
    conn = rw_connect(store)
    try:
        conn.execute("SELECT COUNT(*) FROM batches").fetchone()
    finally:
        conn.close()


def _state(store: Path, s: Setup) -> str:
    """``"old"`` or ``"new"`` (old + complete big batch); fail on anything else."""
    assert not _is_hot(_journal(store))
    assert integrity(store) == "ok"
    assert GeoPackageStore(store).integrity_check() == "ok"
    n_old = len(s.base_dump["project_versions"])
    rows = versions(store)
    assert rows[:n_old] == s.base_dump["project_versions"]  # history intact
    b = batches(store)
    assert b[: len(s.base_dump["batches"])] == s.base_dump["batches"]
    per_batch = rows_per_batch(store)
    # GDAL can open it and sees the same features
    info = pyogrio.read_info(store, layer="project_versions")
    assert info["features"] == len(rows)
    assert rtree_count(store) == len(rows)
    assert rtree_mismatches(store) == []  # spatial index matches the rows
    assert dump_store(store)["__schema__"] == s.base_dump["__schema__"]  # triggers
    live = GeoPackageStore(store).current()
    if len(b) == len(s.base_dump["batches"]):
        assert len(rows) == n_old
        assert dump_store(store) == s.base_dump
        assert len(live) == s.base_live
        return "old"
    assert len(b) == len(s.base_dump["batches"]) + 1, b
    new_id = b[-1][0]
    assert per_batch[new_id] == N_BIG, per_batch  # never a partial batch
    assert b[-1][6] == N_BIG  # n_added
    assert len(rows) == n_old + N_BIG
    assert len(live) == s.base_live + N_BIG
    return "new"


# ---------------------------------------------------------------------------
# (a) SIGKILL
# ---------------------------------------------------------------------------


@dataclass
class FullRun:
    seconds: float
    journal_at: float


@pytest.fixture(scope="module")
def full_run(setup, tmp_path_factory) -> FullRun:
    """One uninterrupted run: the reference state and its timings."""
    store = _copy_store(setup.base, tmp_path_factory.mktemp("full") / "s.gpkg")
    t0 = time.monotonic()
    proc = _start_ingest(store, setup.big, store.with_suffix(".log"))
    assert _poll(proc, _journal(store).exists), "no journal seen"
    journal_at = time.monotonic() - t0
    assert proc.wait(timeout=120) == 0, store.with_suffix(".log").read_text()
    seconds = time.monotonic() - t0
    assert _state(store, setup) == "new"
    return FullRun(seconds, journal_at)


def test_full_run_writes_one_complete_batch(full_run):
    assert full_run.journal_at < full_run.seconds


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ("after_0.5s", {"old"}),
        ("journal_appears", {"old"}),
        ("journal_gone", {"new"}),
        ("half_of_full_run", {"old", "new"}),
        ("90pc_of_full_run", {"old", "new"}),
    ],
)
def test_sigkill_leaves_old_or_complete_state(
    point, expected, setup, full_run, tmp_path
):
    store = _copy_store(setup.base, tmp_path / "s.gpkg")
    journal = _journal(store)
    t0 = time.monotonic()
    proc = _start_ingest(store, setup.big, tmp_path / "ingest.log")
    try:
        if point == "after_0.5s":
            time.sleep(0.5)
        elif point == "journal_appears":
            assert _poll(proc, journal.exists)
        elif point == "journal_gone":
            assert _poll(proc, journal.exists)
            _poll(proc, lambda: not journal.exists())
        else:
            share = 0.5 if point == "half_of_full_run" else 0.9
            time.sleep(max(0.0, share * full_run.seconds - (time.monotonic() - t0)))
    finally:
        _kill(proc)
        # what the killed process left in its TMPDIR goes with it
        shutil.rmtree(_scratch(store), ignore_errors=True)
    unfinished = journal.exists()  # rollback journal mode: commit deletes it
    _recover(store)
    state = _state(store, setup)
    assert state in expected
    if unfinished:
        assert state == "old"


@pytest.fixture(scope="module")
def killed_mid_write(setup, tmp_path_factory) -> Path:
    """A store killed while its file had grown: unfinished pages, hot journal.

    Returned untouched (the journal not yet replayed); tests work on copies.
    """
    folder = tmp_path_factory.mktemp("mid_write")
    store = _copy_store(setup.base, folder / "s.gpkg")
    size0 = store.stat().st_size
    proc = _start_ingest(store, setup.big, folder / "ingest.log")
    try:
        grown = _poll(
            proc,
            lambda: _journal(store).exists() and store.stat().st_size > 2 * size0,
        )
    finally:
        _kill(proc)
    assert grown, "the ingest finished before the store file grew"
    assert _is_hot(_journal(store))
    assert store.stat().st_size > 2 * size0  # pages of the new batch are in it
    return store


def test_sigkill_mid_write_rolls_back_to_old_state(killed_mid_write, setup, tmp_path):
    store = _copy_store(killed_mid_write, tmp_path / "s.gpkg")
    _recover(store)
    assert _state(store, setup) == "old"
    # and the store is usable again: the same delivery now lands completely
    _, outcomes = ingest_deliveries([setup.big], GeoPackageStore(store))
    assert outcomes[0]["added"] == N_BIG
    assert _state(store, setup) == "new"


def test_store_usable_right_after_sigkill(killed_mid_write, setup, tmp_path):
    store = _copy_store(killed_mid_write, tmp_path / "s.gpkg")
    assert _journal(store).exists()
    s = GeoPackageStore(store)
    assert s.integrity_check() == "ok"
    assert len(s.current()) == setup.base_live
    _, outcomes = ingest_deliveries([setup.big], s)
    assert outcomes[0]["added"] == N_BIG


# ---------------------------------------------------------------------------
# (b) concurrency
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_deliveries(setup) -> tuple[Path, Path]:
    a = GEN.write_gpkg(
        grid(3000, (108.30, 30.66), prefix="A", district="万州区", cols=60),
        setup.folder / "a_万州.gpkg",
    )
    b = GEN.write_gpkg(
        grid(3000, (107.36, 29.66), prefix="B", district="涪陵区", cols=60),
        setup.folder / "b_涪陵.gpkg",
    )
    return a, b


def _consistent(store: Path, setup: Setup, expected_new: list[int]) -> None:
    assert integrity(store) == "ok"
    n_old = len(setup.base_dump["project_versions"])
    assert versions(store)[:n_old] == setup.base_dump["project_versions"]
    b = batches(store)
    per_batch = rows_per_batch(store)
    new = [row for row in b if row[0] not in {r[0] for r in setup.base_dump["batches"]}]
    assert sorted(per_batch[row[0]] for row in new) == sorted(expected_new)
    for row in new:
        assert per_batch[row[0]] == row[6]  # each batch complete (n_added)
    assert rtree_count(store) == sum(per_batch.values())
    assert rtree_mismatches(store) == []
    assert dump_store(store)["__schema__"] == setup.base_dump["__schema__"]
    live = GeoPackageStore(store).current()
    assert len(live) == setup.base_live + sum(expected_new)
    assert live["key"].is_unique


def test_two_cli_ingests_at_once_both_land(setup, two_deliveries, tmp_path):
    store = _copy_store(setup.base, tmp_path / "s.gpkg")
    procs = [
        _start_ingest(store, d, tmp_path / f"{i}.log")
        for i, d in enumerate(two_deliveries)
    ]
    codes = [p.wait(timeout=120) for p in procs]
    logs = [(tmp_path / f"{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], logs
    assert all("Traceback" not in log for log in logs)
    _consistent(store, setup, [3000, 3000])


def test_two_threads_short_timeout_written_or_busy(setup, two_deliveries, tmp_path):
    store = _copy_store(setup.base, tmp_path / "s.gpkg")
    outcome: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def run(name, delivery):
        s = GeoPackageStore(store, timeout=0.05)
        barrier.wait()
        try:
            outcome[name] = ingest_deliveries([delivery], s)[1][0]["status"]
        except StoreBusyError as err:
            outcome[name] = err
        except Exception as err:  # anything else is a failure below
            outcome[name] = ("unexpected", err)

    threads = [
        threading.Thread(target=run, args=(name, d))
        for name, d in zip("ab", two_deliveries, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    written = [k for k, v in outcome.items() if v == "written"]
    busy = [k for k, v in outcome.items() if isinstance(v, StoreBusyError)]
    assert sorted(written + busy) == ["a", "b"], outcome
    assert written, outcome  # one of them got the lock
    for name in busy:
        assert BUSY in str(outcome[name])
        assert str(store) in str(outcome[name])
    _consistent(store, setup, [3000] * len(written))


def _validated_frame(delivery: Path):
    report = check_deliveries([delivery])
    assert report.n_errors == 0
    (delivery_obj, result), *_ = report.deliveries
    return delivery_obj, result.frame


@pytest.fixture
def small(setup) -> Path:
    return GEN.write_gpkg(
        GEN.base_frame(GEN.WANZHOU, prefix="SMALL"), setup.folder / "small.gpkg"
    )


def test_busy_store_gives_clear_message_and_changes_nothing(setup, small, tmp_path):
    store = _copy_store(setup.base, tmp_path / "s.gpkg")
    delivery, frame = _validated_frame(small)
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        s = GeoPackageStore(store, timeout=0.5)
        t0 = time.monotonic()
        with pytest.raises(StoreBusyError, match=BUSY) as info:
            s.write_delivery(
                frame, source_name=delivery.name, source_sha256=delivery.sha256
            )
        # it waited its timeout first (a lower bound: never flaky)
        assert time.monotonic() - t0 >= 0.5
        assert str(store) in str(info.value)
        assert isinstance(info.value, TimeoutError)
        # the whole tool says the same, not IngestError or a sqlite3 error
        with pytest.raises(StoreBusyError, match=BUSY):
            ingest_deliveries([small], s)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert dump_store(store) == setup.base_dump
    # once the lock is gone the same write lands
    counts = GeoPackageStore(store, timeout=0.5).write_delivery(
        frame, source_name=delivery.name, source_sha256=delivery.sha256
    )
    assert counts["added"] == 3
    _consistent(store, setup, [3])


def test_cli_busy_store_exit_1_no_traceback(setup, small, tmp_path, monkeypatch):
    import forestsink.cli.ingest
    from forestsink.cli.main import cli

    store = _copy_store(setup.base, tmp_path / "s.gpkg")
    monkeypatch.setattr(
        forestsink.cli.ingest,
        "open_store",
        lambda location, **_: GeoPackageStore(location, timeout=0.3),
    )
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = CliRunner().invoke(cli, ["ingest", str(small), "--store", str(store)])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert BUSY in result.output
    assert "Traceback" not in result.output
    assert dump_store(store) == setup.base_dump


def test_writer_waits_for_the_other_writer(setup, small, tmp_path):
    store = _copy_store(setup.base, tmp_path / "s.gpkg")
    holder = sqlite3.connect(store, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Event()

    def release():
        released.set()  # before the ROLLBACK: the writer cannot finish earlier
        holder.execute("ROLLBACK")

    timer = threading.Timer(1.0, release)
    timer.start()
    try:
        _, outcomes = ingest_deliveries([small], GeoPackageStore(store, timeout=20))
        # the write landed only after the other writer let go: it waited
        assert released.is_set()
    finally:
        timer.join()
        holder.close()
    assert outcomes[0]["status"] == "written"
    _consistent(store, setup, [3])


def test_open_reader_gives_busy_error_not_sqlite_error(setup, small, tmp_path):
    store = _copy_store(setup.base, tmp_path / "s.gpkg")
    reader = sqlite3.connect(store, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM project_versions").fetchone()
    try:
        with pytest.raises(StoreBusyError):
            ingest_deliveries([small], GeoPackageStore(store, timeout=0.5))
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    assert dump_store(store) == setup.base_dump


def test_busy_message_states_the_real_wait(setup, small, tmp_path):
    store = _copy_store(setup.base, tmp_path / "s.gpkg")
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreBusyError) as info:
            ingest_deliveries([small], GeoPackageStore(store, timeout=0.5))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "0.5 s" in str(info.value)


def test_two_first_ingests_into_a_new_store(tmp_path):
    a = GEN.write_gpkg(GEN.base_frame(prefix="NA"), tmp_path / "a.gpkg")
    b = GEN.write_gpkg(
        GEN.base_frame(GEN.FULING, district="涪陵区", prefix="NB"),
        tmp_path / "b.gpkg",
    )
    for trial in range(5):
        store = tmp_path / f"new{trial}.gpkg"
        outcome: dict[str, object] = {}
        barrier = threading.Barrier(2)

        def run(name, delivery, store=store, outcome=outcome, barrier=barrier):
            s = GeoPackageStore(store)
            barrier.wait()
            try:
                outcome[name] = ingest_deliveries([delivery], s)[1][0]["status"]
            except Exception as err:
                outcome[name] = err

        threads = [
            threading.Thread(target=run, args=(n, d)) for n, d in (("a", a), ("b", b))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert outcome == {"a": "written", "b": "written"}, (trial, outcome)
        assert len(GeoPackageStore(store).current()) == 6
        assert integrity(store) == "ok"


def test_store_path_with_hash_sign(setup, small, tmp_path):
    store = tmp_path / "项目库#2.gpkg"
    _, outcomes = ingest_deliveries([small], GeoPackageStore(store))
    assert outcomes[0]["status"] == "written"
    s = GeoPackageStore(store)
    assert len(s.current()) == 3
    assert s.integrity_check() == "ok"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["项目库#2.gpkg"]
