"""ingest_deliveries(check=…): one check per upload, refused before writing (#20).

And the district boundaries read once per process and file version.
"""

from __future__ import annotations

import shutil

import pytest
from delivery_factory import FULING, frame, write

from forestsink.errors import Denied, IngestError
from forestsink.landing import deliveries as deliveries_module
from forestsink.landing.deliveries import ingest_deliveries
from forestsink.reference import data as reference_data
from forestsink.reference import read_districts
from forestsink.store import GeoPackageStore


class Refused(Exception):
    pass


def _delivery(tmp_path, name="d.gpkg", **kw):
    return write(frame(**kw), tmp_path / name)


def test_check_sees_the_report_and_may_refuse_before_anything_is_written(
    tmp_path,
):
    store = GeoPackageStore(tmp_path / "s.gpkg")
    ingest_deliveries([_delivery(tmp_path, ids=["K1"], n=1)], store)
    before = store.path.read_bytes()
    seen = []

    def refuse(report):
        seen.append(report)
        raise Refused("not this district")

    fuling = _delivery(tmp_path, "f.gpkg", center=FULING, district="涪陵区")
    for skip in (False, True):
        with pytest.raises(Refused):
            ingest_deliveries([fuling], store, skip_errors=skip, check=refuse)
    assert store.path.read_bytes() == before
    report, again = seen
    assert sorted(report.deliveries[0][1].frame["adcode"]) == ["500102"] * 3
    assert again.n_errors == 0


def test_check_once_per_ingest_and_errors_still_refuse(tmp_path, monkeypatch):
    store = GeoPackageStore(tmp_path / "s.gpkg")
    calls = []
    real = deliveries_module.validate_delivery
    monkeypatch.setattr(
        "forestsink.landing.chunked.validate_delivery",
        lambda *a, **k: calls.append(1) or real(*a, **k),
    )
    seen = []
    report, outcomes = ingest_deliveries(
        [_delivery(tmp_path, ids=["C1", "C2"], n=2)], store, check=seen.append
    )
    assert len(calls) == 1  # the delivery was validated once
    assert seen == [report] and outcomes[0]["added"] == 2
    # a delivery with errors: the hook sees it first, then ingest refuses
    bad = frame(ids=["E1", "E1"], n=2)  # the same id twice: an error
    path = write(bad, tmp_path / "bad.gpkg")
    seen.clear()
    with pytest.raises(IngestError) as err:
        ingest_deliveries([path], store, check=seen.append)
    assert seen == [err.value.report] and err.value.report.n_errors >= 1
    assert len(store.batches()) == 1


def test_skip_errors_with_check_lands_after_the_check(tmp_path):
    # without the hook, skip_errors lands each file as soon as it is
    # checked; with it, nothing lands before the hook has seen every file
    store = GeoPackageStore(tmp_path / "s.gpkg")
    a = _delivery(tmp_path, "a.gpkg", ids=["A1"], n=1)
    b = _delivery(tmp_path, "b.gpkg", ids=["B1"], n=1, center=(108.40, 30.82))
    batches_when_checked = []

    def check(report):
        batches_when_checked.append(len(store.batches()) if store.exists else 0)
        if len(report.deliveries) != 2:
            raise Denied(403, "拒绝", "refused")

    _, outcomes = ingest_deliveries([a, b], store, skip_errors=True, check=check)
    assert batches_when_checked == [0]
    assert [o["added"] for o in outcomes] == [1, 1]


def test_districts_read_once_per_file_version(tmp_path, monkeypatch):
    first, again = read_districts(), read_districts()
    assert first.equals(again) and first is not again
    first.loc[0, "name_zh"] = "changed"  # a copy: the next call is untouched
    assert read_districts().loc[0, "name_zh"] != "changed"
    # another reference folder, with a different boundary file: read anew
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(reference_data.data_path("districts.csv"), folder)
    layer = read_districts()
    layer.loc[layer["adcode"] == "500101", "name_en"] = "Wanzhou (test copy)"
    layer.drop(columns="region_en").to_file(
        folder / "districts.gpkg", layer="districts", driver="GPKG"
    )
    monkeypatch.setattr(reference_data, "data_dir", lambda: folder)
    other = read_districts().set_index("adcode")
    assert other.loc["500101", "name_en"] == "Wanzhou (test copy)"
    monkeypatch.undo()
    assert read_districts().set_index("adcode").loc["500101", "name_en"] != (
        "Wanzhou (test copy)"
    )
