"""Delivered numbers (面积, 蓄积): read what is unambiguous, report the rest.

Issue 16 review item 4: ``pd.to_numeric(errors="coerce")`` turned ``1,000``,
``１０００``, ``0x10``, ``２５４．６`` and ``254.6亩`` into empty cells without
a word. Expected values below are worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from bad_input_helpers import load_generator
from click.testing import CliRunner

from forestsink.cli.main import cli
from forestsink.ingest import read_delivery
from forestsink.ingest.read import parse_numbers as _numbers
from forestsink.landing.deliveries import ingest_deliveries
from forestsink.store import GeoPackageStore
from forestsink.validate import validate_delivery

GEN = load_generator()


def _objects(values):
    return np.array(values, dtype=object)


def test_unambiguous_forms_read_as_plain_numbers():
    values = _objects(
        ["1,000", "１０００", "１，０００", "２５４．６", "-12,345.5", "7"]
    )
    bad: list = []
    got = _numbers(values, bad)
    assert got.tolist() == [1000.0, 1000.0, 1000.0, 254.6, -12345.5, 7.0]
    assert bad == []


def test_whole_numbers_keep_the_integer_type_of_the_plain_form():
    # a file that wrote "1000" and "5" reads as integers; "1,000" must too
    got = _numbers(_objects(["1,000", "5"]))
    assert got.dtype.kind == "i"
    assert got.tolist() == [1000, 5]


def test_everything_else_is_reported_with_its_position():
    values = _objects(
        [
            "0x10",
            "254.6亩",
            "1,00",
            "1.000,5",
            "",
            "  ",
            None,
            np.nan,
            "nan",
            "12",
            "0x10",
        ]
    )
    bad: list = []
    got = _numbers(values, bad)
    assert np.isnan(got[:9]).all() and got[9] == 12 and np.isnan(got[10])
    assert sorted(bad) == [
        (0, "0x10"),
        (1, "254.6亩"),
        (2, "1,00"),
        (3, "1.000,5"),
        (10, "0x10"),
    ]


def test_number_columns_are_untouched():
    values = np.array([1.5, np.nan, 3.0], dtype="float32")
    bad: list = []
    got = _numbers(values, bad)
    assert got.dtype == np.float32 and bad == []


def _delivery(tmp_path, volume, area=None):
    gdf = GEN.base_frame()
    gdf["小班蓄积"] = volume
    if area is not None:
        gdf = GEN._text_column(gdf, "面积(亩)", area)
    return GEN.write_gpkg(gdf, tmp_path / "万州_数字.gpkg")


def test_validate_reports_each_unreadable_cell(tmp_path):
    path = _delivery(tmp_path, ["0x10", "1,000", "300"], {2: "254.6亩"})
    delivery = read_delivery(path)
    # read: the unambiguous one is a number, the others are empty
    assert delivery.frame["stock_volume_m3"].tolist()[1:] == [1000.0, 300.0]
    assert np.isnan(delivery.frame["stock_volume_m3"].iloc[0])
    issues = validate_delivery(delivery.frame).issues
    bad = issues[issues["code"] == "not_a_number"]
    assert list(bad["severity"]) == ["error", "error"]
    assert list(bad["row"]) == [0, 2]  # (0-based here; the CLI adds 1)
    assert list(bad["field"]) == ["stock_volume_m3", "area"]
    assert list(bad["value"]) == ["0x10", "254.6亩"]
    assert "'小班蓄积'" in bad["message"].iloc[0]
    assert "'面积(亩)'" in bad["message"].iloc[1]
    assert "the unit belongs in the column name" in bad["action"].iloc[1]


def test_cli_names_row_from_one_column_value_and_fix(tmp_path):
    path = _delivery(tmp_path, ["300", "0x10", "250"])
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    line = next(x for x in result.output.splitlines() if "not_a_number" in x)
    assert "第2行/row 2" in line
    assert "'小班蓄积'" in line and "'0x10'" in line
    assert "write a plain number, e.g. 1000 or 254.6" in line


def test_skip_errors_stores_readable_numbers_and_leaves_out_the_rest(tmp_path):
    path = _delivery(tmp_path, ["１０００", "0x10", "1,000"], {1: "待核实"})
    store = GeoPackageStore(tmp_path / "store.gpkg")
    report, outcomes = ingest_deliveries([path], store, skip_errors=True)
    assert outcomes[0]["added"] == 2 and outcomes[0]["skipped"] == 1
    live = store.current().set_index("key")
    assert "500101/WZ-2013-002" not in live.index
    assert live.loc["500101/WZ-2013-001", "stock_volume_m3"] == 1000
    assert live.loc["500101/WZ-2013-003", "stock_volume_m3"] == 1000
    codes = report.issues[report.issues["row"] == 1]["code"].tolist()
    assert codes.count("not_a_number") == 2  # the volume and the area


@pytest.mark.parametrize("value", ["254.6亩", "约60", "60,5"])
def test_text_in_the_area_column_does_not_switch_off_the_check(tmp_path, value):
    path = _delivery(tmp_path, [None, None, None], {0: value})
    issues = validate_delivery(read_delivery(path).frame).issues
    assert issues[issues["code"] == "not_a_number"]["value"].tolist() == [value]


def test_rows_are_counted_in_the_file_when_read_in_chunks(tmp_path):
    from forestsink.landing.deliveries import IngestError

    gdf = GEN.base_frame(n=12)
    gdf["小班蓄积"] = ["100"] * 12
    gdf.loc[7, "小班蓄积"] = "0x10"  # in the second chunk of 5
    gdf.loc[11, "小班蓄积"] = "1,000"  # readable, in the third
    path = GEN.write_gpkg(gdf, tmp_path / "万州_分块.gpkg")
    store = GeoPackageStore(tmp_path / "store.gpkg")
    with pytest.raises(IngestError) as err:
        ingest_deliveries([path], store, chunk_size=5)
    issues = err.value.report.issues
    bad = issues[issues["code"] == "not_a_number"]
    assert list(zip(bad["row"], bad["value"], strict=True)) == [(7, "0x10")]
    _, (out,) = ingest_deliveries([path], store, chunk_size=5, skip_errors=True)
    assert out["added"] == 11
    live = store.current().set_index("key")
    assert live.loc["500101/WZ-2013-012", "stock_volume_m3"] == 1000
