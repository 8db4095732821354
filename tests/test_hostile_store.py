"""Hostile ``--store`` values and store-level failures (issue #16 items 11, 12, 18).

Each case runs a real command and asserts the exit code, a message that tells
the user what the file is and what to do, no Python traceback, and a store (or
the foreign file given as one) byte-identical afterwards, with SQLite's
``PRAGMA integrity_check`` still "ok" where it is a database.
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from bad_input_helpers import batches, integrity, versions
from click.testing import CliRunner
from shapely.geometry import box

from forestsink.cli.main import cli
from forestsink.landing.deliveries import ingest_deliveries
from forestsink.store import GeoPackageStore

FORESTSINK = str(Path(sys.executable).with_name("forestsink"))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def grid(path: Path, n: int, *, prefix: str = "B") -> Path:
    """*n* 0.001° boxes in a grid inside 万州区 500101, one delivery file."""
    cols = 60
    geoms = [
        box(
            108.30 + (k % cols) * 0.0015,
            30.75 + (k // cols) * 0.0015,
            108.30 + (k % cols) * 0.0015 + 0.001,
            30.75 + (k // cols) * 0.0015 + 0.001,
        )
        for k in range(n)
    ]
    gdf = gpd.GeoDataFrame(
        {
            "小班号": [f"{prefix}{k}" for k in range(n)],
            "区县": "万州区",
            "年度": 2013,
            "工程类别": "人工造林",
        },
        geometry=geoms,
        crs=4490,
    )
    gdf.to_file(path)
    return path


@pytest.fixture
def store(tmp_path) -> Path:
    path = tmp_path / "store.gpkg"
    ingest_deliveries([grid(tmp_path / "d.gpkg", 5)], store=GeoPackageStore(path))
    return path


def run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def assert_refused(code: int, out: str, *phrases: str) -> None:
    assert code == 1, out
    assert "Traceback" not in out
    for phrase in phrases:
        assert phrase in out, out


# --------------------------------------------------------------------------
# --store that is not a store
# --------------------------------------------------------------------------


def _text(path: Path) -> Path:
    path.write_text("hello, not a database\n")
    return path


def _other_sqlite(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER, total REAL)")
    conn.commit()
    conn.close()
    return path


def _qgis_gpkg(path: Path) -> Path:
    gpd.GeoDataFrame(
        {"name": ["a"]}, geometry=[box(108.3, 30.7, 108.31, 30.71)], crs=4490
    ).to_file(path, layer="roads")
    return path


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


FOREIGN = {
    "text": (_text, "not a GeoPackage/SQLite database"),
    "other_sqlite": (_other_sqlite, "SQLite database of another application"),
    "qgis_gpkg": (_qgis_gpkg, "GeoPackage made by another program (layers: roads)"),
    "empty": (_empty, "empty file (0 bytes)"),
}

COMMANDS = {
    "ingest": lambda d, s: ["ingest", d, "--store", s],
    "batches": lambda d, s: ["batches", "--store", s],
    "current": lambda d, s: ["current", "--store", s],
    "history": lambda d, s: ["history", "500101/B1", "--store", s],
    "withdraw": lambda d, s: ["withdraw", "500101/B1", "--reason", "x", "--store", s],
    "undo": lambda d, s: ["undo", "1", "--store", s],
}


@pytest.mark.parametrize("kind", sorted(FOREIGN))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_file_that_is_not_a_store_is_named_and_left_alone(tmp_path, kind, command):
    make, phrase = FOREIGN[kind]
    target = make(tmp_path / "target.gpkg")
    before = sha(target)
    delivery = grid(tmp_path / "d.gpkg", 3)
    code, out = run(*COMMANDS[command](delivery, target))
    assert_refused(code, out, "target.gpkg", phrase)
    assert sha(target) == before
    if kind in ("other_sqlite", "qgis_gpkg"):
        assert integrity(target) == "ok"


@pytest.mark.parametrize("command", ["ingest", "batches", "current"])
def test_a_folder_as_store_is_refused(tmp_path, command):
    folder = tmp_path / "store.gpkg"
    folder.mkdir()
    delivery = grid(tmp_path / "d.gpkg", 3)
    code, out = run(*COMMANDS[command](delivery, folder))
    assert_refused(code, out, "is a folder")
    assert list(folder.iterdir()) == []


def test_a_damaged_store_missing_its_log_is_named(store):
    conn = sqlite3.connect(store)
    conn.execute("DROP TABLE batches")
    conn.commit()
    conn.close()
    before = sha(store)
    code, out = run("current", "--store", store)
    assert_refused(code, out, "missing: batches", "backup")
    assert sha(store) == before


# --------------------------------------------------------------------------
# malformed numbers, URLs and lists
# --------------------------------------------------------------------------

HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["undo", HUGE], "no such batch"),
        (["undo", "0"], "no such batch"),
        (["current", "--as-of", HUGE], "no such batch"),
        (["current", "--as-of", "²"], "give a batch number"),
        (["current", "--as-of", "99999-01-01"], "give a batch number"),
        (["diff", "--from", "1", "--to", HUGE], "no such batch"),
    ],
)
def test_malformed_batch_numbers_and_dates(store, args, phrase):
    before = sha(store)
    code, out = run(*args, "--store", store)
    assert_refused(code, out, phrase)
    assert sha(store) == before


@pytest.mark.parametrize(
    "url", ["postgresql://@[::1/forest", "postgresql://ann@db:port/forest"]
)
def test_malformed_postgres_url(url):
    code, out = run("batches", "--store", url)
    assert_refused(code, out, "malformed", "postgresql://USER@HOST:5432/DATABASE")


def test_header_only_withdrawal_list_records_nothing(store, tmp_path):
    listing = tmp_path / "withdrawals.csv"
    listing.write_text("区县,小班号,原因\n", encoding="utf-8")
    before = sha(store)
    code, out = run("withdraw", "--from-file", listing, "--store", store)
    assert_refused(code, out, "no rows", "nothing withdrawn")
    assert sha(store) == before
    assert integrity(store) == "ok"


# --------------------------------------------------------------------------
# read-only store, full disk, full temporary folder
# --------------------------------------------------------------------------


def test_read_only_store_is_refused_before_writing(store, tmp_path, monkeypatch):
    # the tests may run as root, for whom chmod does not stop a write: the
    # permission the process would see is what the store asks the OS for
    real_access = os.access

    def access(path, mode, *a, **k):
        if Path(path) == store and mode & os.W_OK:
            return False
        return real_access(path, mode, *a, **k)

    monkeypatch.setattr(os, "access", access)
    before = sha(store)
    delivery = grid(tmp_path / "more.gpkg", 4, prefix="R")
    for args in (
        ["ingest", delivery],
        ["withdraw", "500101/B1", "--reason", "x"],
        ["undo", "1"],
    ):
        code, out = run(*args, "--store", store)
        assert_refused(code, out, "read-only", "nothing was written")
    assert sha(store) == before


def _ingest_with_file_size_limit(store: Path, delivery: Path, extra: int):
    """``forestsink ingest`` in a process that may grow files to size + *extra*.

    RLIMIT_FSIZE makes every write past the limit fail with EFBIG, as a full
    disk does (SIGXFSZ ignored, so the write returns an error instead).
    """
    limit = store.stat().st_size + extra

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [FORESTSINK, "ingest", str(delivery), "--store", str(store)],
        preexec_fn=limited,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_full_disk_while_landing(store, tmp_path):
    # 1,500 rows are staged in memory (no temporary file): the store's own
    # write is what hits the limit
    delivery = grid(tmp_path / "more.gpkg", 1500, prefix="F")
    before = sha(store)
    result = _ingest_with_file_size_limit(store, delivery, 8192)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "rolled back" in result.stderr
    assert sha(store) == before
    assert integrity(store) == "ok"


def test_full_temporary_folder_while_staging(store, tmp_path):
    # 3,000 rows are staged in a temporary file first: it hits the limit
    delivery = grid(tmp_path / "more.gpkg", 3000, prefix="T")
    before = sha(store)
    result = _ingest_with_file_size_limit(store, delivery, 8192)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "temporary folder" in result.stderr
    assert "TMPDIR" in result.stderr
    assert sha(store) == before
    assert integrity(store) == "ok"


# --------------------------------------------------------------------------
# the same polygons in another form are not new versions (#16 item 6)
# --------------------------------------------------------------------------


def _rings(geom, *, clockwise: bool, shift: int):
    """*geom*'s exterior with the given orientation, starting *shift* vertices on."""
    from shapely.geometry import Polygon

    coords = list(geom.exterior.coords)[:-1]
    ccw = Polygon(coords).exterior.is_ccw
    if ccw == clockwise:
        coords.reverse()
    coords = coords[shift:] + coords[:shift]
    return Polygon(coords)


@pytest.mark.parametrize(
    ("clockwise", "shift", "suffix"),
    [(True, 0, ".shp"), (False, 2, ".geojson"), (True, 3, ".gpkg")],
)
def test_same_polygons_in_another_ring_form_are_unchanged(
    tmp_path, clockwise, shift, suffix
):
    import shapely

    first = grid(tmp_path / "first.gpkg", 3)
    path = tmp_path / "store.gpkg"
    store = GeoPackageStore(path)
    ingest_deliveries([first], store=store)
    delivered = gpd.read_file(first)
    other = delivered.copy()
    other["geometry"] = [
        _rings(g, clockwise=clockwise, shift=shift) for g in delivered.geometry
    ]
    # the oracle: same shapes; the rings differ in orientation or start
    pairs = list(zip(other.geometry, delivered.geometry, strict=True))
    assert all(shapely.equals(a, b) for a, b in pairs)
    assert not any(shapely.equals_exact(a, b, 0) for a, b in pairs)
    again = tmp_path / f"again{suffix}"
    other.to_file(again)
    n_batches, n_versions = len(batches(path)), len(versions(path))
    ingest_deliveries([again], store=store)
    assert len(batches(path)) == n_batches  # identical: no new batch
    assert len(versions(path)) == n_versions == 3
    assert integrity(path) == "ok"
