"""Undo with a reason (issue #20): the store, the CLI, both back ends.

The oracle is the note as specified: "undo of batch N" (the old fixed
note, kept without a reason), then ": " and the reason, stripped.
"""

from __future__ import annotations

import uuid

import pg_fixture
import pytest
from click.testing import CliRunner
from delivery_factory import frame, write

from forestsink.cli.main import cli
from forestsink.landing.deliveries import ingest_deliveries
from forestsink.store import GeoPackageStore
from forestsink.store.postgis import PostGISStore

pg_server = pg_fixture.pg_server


@pytest.fixture(params=["gpkg", "postgis"])
def location(request, tmp_path) -> str:
    if request.param == "gpkg":
        return str(tmp_path / "store.gpkg")
    url = request.getfixturevalue("pg_server")
    return f"{url}?schema=t_{uuid.uuid4().hex[:12]}"


def _open(location: str):
    if location.startswith("postgresql://"):
        return PostGISStore(location, timeout=5)
    return GeoPackageStore(location, timeout=5)


def _two_batches(store, tmp_path) -> None:
    ingest_deliveries([write(frame(), tmp_path / "a.gpkg")], store, user="ann")
    store.withdraw("500101/P1", reason="重复 duplicate", user="ann")


def test_undo_reason_is_kept_in_the_note(location, tmp_path):
    store = _open(location)
    _two_batches(store, tmp_path)
    new = store.undo(2, user="bob", reason="  误撤 withdrawn by mistake ")
    batches = store.batches().set_index("batch_id")
    assert batches.loc[new, "note"] == "undo of batch 2: 误撤 withdrawn by mistake"
    assert batches.loc[new, "user"] == "bob"
    assert batches.loc[new, "undoes"] == 2 and batches.loc[2, "undone_by"] == new
    assert "500101/P1" in set(store.current()["key"])
    assert store.integrity_check() == "ok"


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_undo_without_a_reason_keeps_the_old_note(location, tmp_path, reason):
    store = _open(location)
    _two_batches(store, tmp_path)
    new = store.undo(2, reason=reason)
    assert store.batches().set_index("batch_id").loc[new, "note"] == "undo of batch 2"


def test_cli_undo_reason(location, tmp_path):
    store = _open(location)
    _two_batches(store, tmp_path)
    r = CliRunner().invoke(
        cli, ["undo", "2", "--store", location, "--reason", "退回 sent back"]
    )
    assert r.exit_code == 0, r.output
    assert "Batch 2 undone by batch 3" in r.output
    r = CliRunner().invoke(cli, ["undo", "1", "--store", location])
    assert r.exit_code != 0  # batch 3 restored P1, a later change: refused
    batches = store.batches().set_index("batch_id")
    assert batches.loc[3, "note"] == "undo of batch 2: 退回 sent back"
    assert len(batches) == 3


def test_cli_undo_without_reason_as_before(tmp_path):
    location = str(tmp_path / "store.gpkg")
    store = _open(location)
    ingest_deliveries([write(frame(), tmp_path / "a.gpkg")], store)
    r = CliRunner().invoke(cli, ["undo", "1", "--store", location])
    assert r.exit_code == 0, r.output
    assert store.batches().set_index("batch_id").loc[2, "note"] == "undo of batch 1"
