"""The whole sample through validate and ingest: every manifest defect caught.

This is the bureau's year of work end to end: check all deliveries, fix what
can be fixed, override what must be overridden, load the rest, apply the
correction and the withdrawal, and look back in time.
"""

import pandas as pd
import pytest

from forestsink.landing.deliveries import (
    check_deliveries,
    ingest_deliveries,
    read_withdrawals,
)
from forestsink.store import GeoPackageStore

YEARS = [2011, 2012, 2013, 2014, 2015]


@pytest.fixture(scope="module")
def checked(sample_dir):
    paths = [sample_dir / "deliveries" / str(y) for y in YEARS]
    return check_deliveries(paths)


def _defects(manifest, *classes):
    return [d for d in manifest["defects"] if d["class"] in classes]


def _name(defect):
    return defect["path"].rsplit("/", 1)[-1]


FEATURE_CODES = [
    "invalid_geometry",
    "unknown_project_type",
    "duplicate_id",
    "outside_chongqing",
    "wrong_district",
    "area_mismatch",
    "year_out_of_range",
]


@pytest.mark.parametrize("code", FEATURE_CODES)
def test_feature_defects_reported_where_the_manifest_says(
    checked, sample_manifest, code
):
    defects = _defects(sample_manifest, code)
    assert defects, f"manifest has no {code} defect"
    issues = checked.issues
    for d in defects:
        hit = issues[
            (issues["code"] == code)
            & (issues["file"] == _name(d))
            & (issues["row"] == d["row"])
        ]
        assert len(hit) == 1, (code, d)
        assert hit["project_id"].iloc[0] == d["project_id"]


def test_no_false_alarms(checked, sample_manifest):
    """Every error in the report is a planted defect."""
    planted = {(_name(d), d["row"]) for d in sample_manifest["defects"]}
    errors = checked.issues[checked.issues["severity"] == "error"]
    for rec in errors.to_dict("records"):
        if rec["code"] == "unreadable_file":
            continue
        if rec["code"] == "duplicate_id":  # both rows of the pair are named
            dup = _defects(sample_manifest, "duplicate_id")
            assert rec["project_id"] in {d["project_id"] for d in dup}, rec
            continue
        assert (rec["file"], rec["row"]) in planted, rec


def test_unprefixed_crs_refused_with_codes(checked, sample_manifest):
    (d,) = _defects(sample_manifest, "missing_crs_refused")
    issues = checked.issues
    hit = issues[(issues["file"] == _name(d)) & (issues["code"] == "unreadable_file")]
    assert len(hit) == 1
    assert "EPSG:4545" in hit["message"].iloc[0] and "as crs" in hit["message"].iloc[0]


def test_inferred_crs_and_encoding_are_told(checked, sample_manifest):
    notes = pd.DataFrame(checked.notes, columns=["file", "note"])
    for d in _defects(sample_manifest, "missing_crs_inferred"):
        said = notes[notes["file"] == _name(d)]["note"]
        assert (
            said.str.contains("no .prj").any() and said.str.contains("assumed").any()
        ), d
    for d in _defects(sample_manifest, "gbk_without_cpg"):
        said = notes[notes["file"] == _name(d)]["note"]
        assert (
            said.str.contains("no .cpg").any() and said.str.contains("GB18030").any()
        ), d
    # and no mojibake reached the frames: district names decode to Chinese
    for delivery, _ in checked.deliveries:
        raw = delivery.frame["district_raw"].dropna()
        assert not raw.str.contains("[ÀÁÂÃÄÅÍÒÖÝÇ]").any(), delivery.name


@pytest.mark.slow
def test_year_of_work_end_to_end(sample_dir, sample_manifest, tmp_path):
    store = GeoPackageStore(tmp_path / "store.gpkg")
    refused = _name(_defects(sample_manifest, "missing_crs_refused")[0])
    overlap_ids = {d["project_id"] for d in _defects(sample_manifest, "overlap")}
    seen_overlaps = set()
    for year in YEARS:
        folder = sample_dir / "deliveries" / str(year)
        files = [
            p
            for p in sorted(folder.iterdir())
            if p.suffix in (".shp", ".gpkg", ".geojson", ".zip") and p.name != refused
        ]
        report, outcomes = ingest_deliveries(
            files, store, fix=True, skip_errors=True, user="bureau"
        )
        issues = report.issues
        seen_overlaps |= set(issues[issues["code"] == "overlap_existing"]["project_id"])
        assert all(
            o["status"] in ("written", "no changes; nothing written") for o in outcomes
        )
    # the refused file lands once its CRS is given
    (path,) = sample_dir.glob(f"deliveries/*/{refused}")
    _, (outcome,) = ingest_deliveries([path], store, crs="EPSG:4545")
    assert outcome["added"] > 0
    assert overlap_ids <= seen_overlaps
    landed = store.current()
    planted_errors = {
        (_name(d), d["row"])
        for d in sample_manifest["defects"]
        if d["class"]
        in (
            "unknown_project_type",
            "outside_chongqing",
            "wrong_district",
            "year_out_of_range",
            "duplicate_id",
        )
    }
    landed_rows = set(zip(landed["source_file"], landed["source_row"], strict=True))
    assert not planted_errors & landed_rows
    fixed = _defects(sample_manifest, "invalid_geometry")[0]
    assert (_name(fixed), fixed["row"]) in landed_rows  # repaired by --fix
    total = sample_manifest["totals"]["features"]
    assert len(landed) >= total - 10  # everything but the planted errors
    before_correction = store.batches()["batch_id"].max()

    # the correction: a re-delivery of one polygon
    (redelivery,) = _defects(sample_manifest, "redelivery")
    _, (outcome,) = ingest_deliveries([sample_dir / redelivery["path"]], store)
    assert (outcome["changed"], outcome["added"]) == (1, 0)
    key = f"{_name(redelivery)[:6]}/{redelivery['project_id']}"
    assert key in set(landed["key"])
    history = store.history(key)
    assert list(history["version"]) == [1, 2]

    # the withdrawal list
    (withdrawal,) = _defects(sample_manifest, "withdrawal")
    items = read_withdrawals(sample_dir / withdrawal["path"])
    batch = store.withdraw_many(items, source_name="withdrawals.csv")
    gone = items[0][0]
    assert gone not in set(store.current()["key"])
    assert "建设用地" in store.history(gone)["end_reason"].iloc[-1]

    # as of before the correction and the withdrawal: the earlier state
    earlier = store.current(as_of=before_correction).set_index("key")
    assert gone in earlier.index
    assert earlier.loc[key, "version"] == 1
    diff = store.diff(before_correction, batch)
    assert sorted(diff["change"]) == ["changed", "withdrawn"]
    assert store.integrity_check() == "ok"
