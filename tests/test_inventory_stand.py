"""Stand structure: arbor forest by species group × age group × origin.

Oracle: sums written by hand; group, age and origin words from the code
tables in ``field-names.md`` (LING_ZU 1–5, QI_YUAN 1x/2x/3x).
"""

from __future__ import annotations

import pandas as pd
import pytest

from forestsink.inventory.stand import age_group, origin, stand_table
from forestsink.progress import read_forest_types


@pytest.mark.parametrize(
    ("value", "code"),
    [("1", "young"), (3, "near_mature"), ("5.0", "over_mature"), ("成熟林", "mature"),
     ("中龄", "middle"), ("9", "unrecognised"), (None, "unrecognised")],
)  # fmt: skip
def test_age_groups(value, code):
    assert age_group(value)[0] == code


@pytest.mark.parametrize(
    ("value", "code"),
    [("11", "natural"), ("1", "natural"), ("21", "planted"), (23, "planted"),
     ("33", "coppice"), ("人工林", "planted"), ("天然", "natural"),
     ("x", "unrecognised")],
)  # fmt: skip
def test_origins(value, code):
    assert origin(value)[0] == code


def test_stand_table_sums_arbor_only_by_hand():
    sums = pd.DataFrame(
        {
            "adcode": ["500101", "500101", "500101", "500102", "500101"],
            "land_group": ["arbor", "arbor", "arbor", "arbor", "other_shrub"],
            "species": ["马尾松", "马尾松林", "121", "杉木", "马尾松"],
            "age_group": ["1", "幼龄林", "2", "2", "1"],
            "origin": ["21", "2", "11", "1", "21"],
            "n_xiaoban": [2, 1, 1, 4, 9],
            "area_mu": [30.0, 15.0, 10.0, 60.0, 99.0],
            "stock_per_ha_m3": [100.0, 50.0, 0.0, 400.0, 0.0],
            "stock_total_m3": [0.0, 0.0, 7.0, 0.0, 0.0],
        }
    )
    table = stand_table(sums, forest_types=read_forest_types(), year=2015)
    pine = table[(table.adcode == "500101") & (table.species_group == "masson_pine")]
    assert len(pine) == 1  # 马尾松 and 马尾松林, both young and planted
    row = pine.iloc[0]
    assert (row.age_group, row.origin) == ("young", "planted")
    assert (row.area_mu, row.stock_m3, row.n_xiaoban) == (45.0, 150.0, 3)
    code = table[(table.adcode == "500101") & (table.species_group == "unrecognised")]
    assert code.iloc[0].species_values == "121"  # a numeric code is shown, not guessed
    assert code.iloc[0].stock_m3 == 7.0
    city = table[table.adcode == "500000"]
    assert city["area_mu"].sum() == 115.0  # the shrub row is not arbor forest
    assert city["stock_m3"].sum() == 557.0
