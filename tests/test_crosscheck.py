"""Raster coverage beside the inventory coverage, on hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forestsink.errors import InventoryError
from forestsink.inventory.crosscheck import CROSSCHECK_COLUMNS, coverage_crosscheck


@pytest.fixture
def stats():
    # as forest_statistics writes it: 万州 and 涪陵 measured, 渝中 missing
    return pd.DataFrame(
        {
            "adcode": ["500101", "500102", "500103", "500000"],
            "name_zh": ["万州区", "涪陵区", "渝中区", "重庆市"],
            "name_en": [
                "Wanzhou District",
                "Fuling District",
                "Yuzhong District",
                "Chongqing",
            ],
            "year": pd.array([2015] * 4, dtype="Int64"),
            "total_area_mu": [5_000_000.0, 4_000_000.0, 33_000.0, 9_000_000.0],
            "forest_area_mu": [2_500_000.0, 1_800_000.0, np.nan, 4_300_000.0],
            "coverage_pct": [50.0, 45.0, np.nan, 100 * 4_300_000 / 9_000_000],
            "note": [
                "",
                "",
                "该年无此区县图层 / no layer for this district in this year",
                "不含 / without: 渝中区",
            ],
        }
    )


@pytest.fixture
def coverage():
    # as `forestsink coverage` writes it (CSV read back: adcodes as numbers)
    return pd.DataFrame(
        {
            "level": ["city", "district", "district", "district"],
            "adcode": [500000, 500101, 500102, 500104],
            "name_zh": ["重庆市", "万州区", "涪陵区", "大渡口区"],
            "name_en": [
                "Chongqing (city-wide)",
                "Wanzhou District",
                "Fuling District",
                "Dadukou District",
            ],
            "year": [2015, 2015, 2015, 2015],
            "land_area_mu": [8_800_000.0, 4_900_000.0, 3_900_000.0, 150_000.0],
            "forest_area_mu": [4_840_000.0, 2_744_000.0, 1_911_000.0, 30_000.0],
            "coverage_pct": [55.0, 56.0, 49.0, 20.0],
            "shrub_forest_area_mu": [400_000.0, 250_000.0, 150_000.0, 0.0],
            "water_area_mu": [150_000.0, 80_000.0, 70_000.0, 2_000.0],
            "excluded_area_mu": [50_000.0, 20_000.0, 30_000.0, 0.0],
            "measured_area_mu": [9_000_000.0, 5_000_000.0, 4_000_000.0, 152_000.0],
        }
    )


def test_both_tables_side_by_side(stats, coverage):
    out = coverage_crosscheck(stats, coverage)
    assert list(out.columns) == list(CROSSCHECK_COLUMNS)
    row = out.set_index("adcode").loc["500101"]
    assert row["name_zh"] == "万州区" and row["year"] == 2015
    assert row["inventory_coverage_pct"] == 50.0
    assert row["raster_coverage_pct"] == 56.0
    assert row["difference_pp"] == pytest.approx(6.0)
    assert row["inventory_denominator_mu"] == 5_000_000.0
    assert row["raster_denominator_mu"] == 4_900_000.0
    assert row["raster_shrub_forest_mu"] == 250_000.0
    note = row["note"]
    assert note.index("一张图为官方数据") < note.index(
        "the inventory (一张图) is the official"
    )
    assert "250,000 亩" in note and "250,000 mu" in note
    assert "水体 80,000 亩" in note and "water 80,000 mu" in note
    assert "no data or unlisted codes 20,000 mu" in note
    fl = out.set_index("adcode").loc["500102"]
    assert fl["difference_pp"] == pytest.approx(4.0)


def test_city_row_keeps_the_inventory_name_and_its_note(stats, coverage):
    city = coverage_crosscheck(stats, coverage).set_index("adcode").loc["500000"]
    assert city["name_en"] == "Chongqing"
    assert city["difference_pp"] == pytest.approx(55.0 - 100 * 43 / 90)
    assert "不含 / without: 渝中区" in city["note"]


def test_rows_in_one_table_only_are_noted_never_filled(stats, coverage):
    out = coverage_crosscheck(stats, coverage).set_index("adcode")
    yz = out.loc["500103"]  # inventory row, no raster row (and no layer)
    assert np.isnan(yz["raster_coverage_pct"]) and np.isnan(yz["difference_pp"])
    assert np.isnan(yz["inventory_coverage_pct"])
    assert yz["note"].startswith("栅格覆盖率表无此区县/年度，未填补")
    assert "no layer for this district" in yz["note"]
    ddk = out.loc["500104"]  # raster row, not in the inventory statistics
    assert ddk["name_zh"] == "大渡口区"
    assert ddk["raster_coverage_pct"] == 20.0
    assert np.isnan(ddk["inventory_coverage_pct"]) and np.isnan(ddk["difference_pp"])
    assert "一张图统计无此区县/年度，未填补" in ddk["note"]
    assert "not in the inventory statistics" in ddk["note"]
    # order: the inventory's rows first, then the raster's extra rows
    assert list(out.index) == ["500101", "500102", "500103", "500000", "500104"]


def test_other_years_and_unit_rows_of_the_raster_table_are_left_out(stats, coverage):
    earlier = coverage.assign(year=2010, coverage_pct=40.0)
    unit = coverage.iloc[[1]].assign(level="unit", adcode="500101,500102")
    both = pd.concat([coverage, earlier, unit], ignore_index=True)
    out = coverage_crosscheck(stats, both)
    assert len(out) == 5 and set(out["year"]) == {2015}
    assert out.set_index("adcode").loc["500101", "raster_coverage_pct"] == 56.0


def test_a_year_without_a_raster_gives_notes_only(stats, coverage):
    out = coverage_crosscheck(stats, coverage.assign(year=2010))
    assert len(out) == 4
    assert out["raster_coverage_pct"].isna().all()
    assert out["note"].str.startswith("栅格覆盖率表无此区县").all()


def test_repeated_rows_and_missing_columns_are_refused(stats, coverage):
    with pytest.raises(InventoryError, match="500101"):
        coverage_crosscheck(stats, pd.concat([coverage, coverage.iloc[[1]]]))
    with pytest.raises(InventoryError, match="land_area_mu"):
        coverage_crosscheck(stats, coverage.drop(columns="land_area_mu"))
    with pytest.raises(InventoryError, match="coverage_pct"):
        coverage_crosscheck(stats.drop(columns="coverage_pct"), coverage)


def test_without_water_and_no_data_columns_the_note_says_may(stats, coverage):
    cov = coverage.drop(columns=["water_area_mu", "excluded_area_mu"])
    note = coverage_crosscheck(stats, cov).set_index("adcode").loc["500101", "note"]
    assert "may leave out water and no-data pixels" in note


def test_statistics_without_a_year_take_the_single_raster_year(stats, coverage):
    no_year = stats.assign(year=pd.array([pd.NA] * 4, dtype="Int64"))
    out = coverage_crosscheck(no_year, coverage)
    assert set(out["year"]) == {2015}
    assert out.set_index("adcode").loc["500101", "difference_pp"] == pytest.approx(6)
    two = pd.concat([coverage, coverage.assign(year=2010)], ignore_index=True)
    with pytest.raises(InventoryError, match="without a year"):
        coverage_crosscheck(no_year, two)
