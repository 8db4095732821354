"""What changed in a store: one query each, both back ends (issue #20).

Expected sets are written by hand from what each batch of the hand-built
history did (which polygons of which district it added, changed, withdrew
or undid).
"""

from __future__ import annotations

import uuid

import pg_fixture
import pytest
from delivery_factory import FULING, frame, write

from forestsink.landing.deliveries import ingest_deliveries
from forestsink.store import GeoPackageStore
from forestsink.store.postgis import PostGISStore
from forestsink.store.touched import batch_districts, batch_state

pg_server = pg_fixture.pg_server


def _history(store, tmp_path) -> None:
    # 1: 万州区 P1-P3 added; 2: 涪陵区 F1-F2 added; 3: 万州区 P2 withdrawn;
    # 4: undo of 3 (P2 back in 万州区); 5: 涪陵区 F1 changed
    ingest_deliveries([write(frame(), tmp_path / "w.gpkg")], store, user="a")
    fl = frame(FULING, district="涪陵区", n=2, ids=["F1", "F2"])
    ingest_deliveries([write(fl, tmp_path / "f.gpkg")], store, user="b")
    store.withdraw("500101/P2", reason="test")
    store.undo(3)
    fl.loc[0, "geometry"] = fl.geometry.iloc[0].buffer(0.0005)
    ingest_deliveries([write(fl, tmp_path / "f2.gpkg")], store, user="b")


EXPECTED = {
    1: {"500101"},
    2: {"500102"},
    3: {"500101"},
    4: {"500101"},
    5: {"500102"},
}


@pytest.fixture(params=["gpkg", "postgis"])
def store(request, tmp_path):
    if request.param == "gpkg":
        return GeoPackageStore(tmp_path / "s.gpkg")
    url = request.getfixturevalue("pg_server")
    return PostGISStore(f"{url}?schema=t_{uuid.uuid4().hex[:12]}")


def test_batch_districts_one_query(store, tmp_path):
    assert batch_districts(store) == {}  # no store yet
    _history(store, tmp_path)
    assert len(store.batches()) == 5
    assert batch_districts(store) == EXPECTED
    assert batch_districts(store, after=3) == {4: {"500101"}, 5: {"500102"}}


def test_batch_state_one_query(store, tmp_path):
    assert batch_state(store) is None  # no store yet
    _history(store, tmp_path)
    # oracle: the whole batch table, as the store lists it
    batches = store.batches()
    assert batch_state(store) == {
        "batches": 5,
        "last_batch_id": 5,
        "last_batch_at": str(batches["created_at"].iloc[-1]),
    }
    store.undo(5)  # an undo is a batch: the state moves
    assert batch_state(store)["batches"] == 6
    assert batch_state(store)["last_batch_id"] == 6
