"""Hostile option values (issue #16 items 13, 14, 17): refused or capped, no trace."""

from __future__ import annotations

import math
import warnings

import pytest
from bad_input_helpers import load_generator
from click.testing import CliRunner

from forestsink.cli.main import cli
from forestsink.errors import OptionError
from forestsink.landing import chunked
from forestsink.landing.deliveries import IngestError, ingest_deliveries
from forestsink.store import GeoPackageStore
from forestsink.validate import validate_delivery

GEN = load_generator()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-0.5"])
def test_area_tolerance_must_be_a_finite_fraction(tmp_path, value):
    delivery = GEN.write_gpkg(GEN.base_frame(), tmp_path / "d.gpkg")
    result = CliRunner().invoke(
        cli, ["validate", str(delivery), f"--area-tolerance={value}"]
    )
    assert result.exit_code == 2, result.output  # a usage error, as click gives
    assert "--area-tolerance" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0])
def test_library_refuses_a_tolerance_that_switches_the_check_off(tmp_path, value):
    from forestsink.ingest import read_delivery

    path = GEN.write_gpkg(GEN.base_frame(), tmp_path / "d.gpkg")
    frame = read_delivery(path).frame
    with pytest.raises(OptionError, match="area_tolerance"):
        validate_delivery(frame, area_tolerance=value)


@pytest.mark.parametrize(
    ("asked", "cores", "tasks", "expected"),
    [(16, 2, 1, 1), (16, 2, 50, 2), (3, 8, 50, 3), (0, 8, 50, 0), (5, 8, 2, 2)],
)
def test_workers_capped_at_cores_and_work(monkeypatch, asked, cores, tasks, expected):
    monkeypatch.setattr(chunked.os, "cpu_count", lambda: cores)
    assert chunked.cap_workers(asked, tasks) == expected
    assert chunked.helper_count_files(tasks, workers=asked) == expected


def test_workers_for_a_large_file_capped_at_its_chunks(monkeypatch):
    monkeypatch.setattr(chunked.os, "cpu_count", lambda: 64)
    # 250,000 features in chunks of 100,000: three chunks, three helpers at most
    assert chunked.helper_count(250_000, workers=16, chunk_size=100_000) == 3


def test_infinite_coordinate_with_fix_is_an_error_without_warnings(tmp_path):
    case = next(c for c in GEN.CASES if c.name == "infinite_coordinate_fix")
    path = case.build(tmp_path)
    store = tmp_path / "store.gpkg"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(IngestError) as info:
            ingest_deliveries([path], GeoPackageStore(store), fix=True)
    issues = info.value.report.issues
    assert list(issues.loc[issues["severity"] == "error", "code"]) == [
        "nan_coordinates"
    ]
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [
        str(w.message) for w in caught
    ]
    assert not store.exists()


def test_max_unknown_nan_cannot_switch_the_product_check_off(tmp_path):
    result = CliRunner().invoke(
        cli,
        ["coverage", "x.tif", "--product", "clcd", "--max-unknown", "nan"],
    )
    assert result.exit_code == 2, result.output
    assert "--max-unknown" in result.output and "Traceback" not in result.output


def test_a_gbk_parameter_table_is_read_by_the_shared_reader(tmp_path):
    """--params/--rules files go through io.read_table: GBK CSV is accepted."""
    from forestsink.reference import _path, read_carbon_parameters

    text = _path("carbon_parameters.csv").read_text(encoding="utf-8")
    gbk = tmp_path / "params_gbk.csv"
    gbk.write_bytes(text.encode("gb18030"))
    table = read_carbon_parameters(gbk)
    shipped = read_carbon_parameters()
    assert table["name_zh"].tolist() == shipped["name_zh"].tolist()  # 马尾松 …
    assert table["value"].tolist() == shipped["value"].tolist()


def test_stage_keeps_the_delivered_attributes(tmp_path):
    """A staged dataset keeps attrs (before/after volumes live there)."""
    import json

    from forestsink.landing.staging import stage_deliveries
    from forestsink.scale.dataset import read_partitions

    gdf = GEN.base_frame()
    gdf["改造前蓄积"] = [100.0, 200.0, 300.0]
    path = GEN.write_gpkg(gdf, tmp_path / "d.gpkg")
    out = tmp_path / "ds"
    stage_deliveries([path], out)
    frame = read_partitions(out, ["500101"], columns=["key", "attrs"])
    stored = sorted(json.loads(a)["改造前蓄积"] for a in frame["attrs"])
    assert stored == [100.0, 200.0, 300.0]


def test_stage_zones_read_like_coverage_zones(tmp_path):
    """stage --zones goes through the zone reader: a bad file gets its message."""
    delivery = GEN.write_gpkg(GEN.base_frame(), tmp_path / "d.gpkg")
    zones = tmp_path / "zones.gpkg"
    zones.write_text("not a layer")
    result = CliRunner().invoke(
        cli,
        ["stage", str(delivery), "--out", str(tmp_path / "ds"), "--zones", str(zones)],
    )
    assert result.exit_code == 1, result.output
    assert "cannot read the zone layer" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "ds").exists()
