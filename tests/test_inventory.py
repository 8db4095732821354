"""Official statistics from a 小班 layer, checked against independent oracles.

Areas come from ``pyproj.Geod`` (the oracle), figures from hand computation or
from the published Chongqing totals (official-statistics.md §1).
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from pyproj import Geod
from shapely.geometry import box

from forestsink.area import area_mu
from forestsink.inventory import (
    forest_statistics,
    resolve_land_classes,
    transfer_matrix,
)
from forestsink.inventory.classes import land_columns
from forestsink.reference import read_land_classes
from forestsink.units import M2_PER_MU

GEOD = Geod(ellps="GRS80")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def classes():
    return read_land_classes()


def land_of(values: pd.Series, classes) -> dict:
    """The stored land-class columns of raw DI_LEI values."""
    resolved = land_columns(resolve_land_classes(values, classes), classes)
    return {c: resolved[c].to_numpy() for c in resolved}


def geod_mu(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / M2_PER_MU


def test_coverage_is_forest_polygons_over_the_district_on_the_ellipsoid(classes):
    district = box(108.0, 30.0, 108.2, 30.2)
    parts = [
        box(108.00, 30.00, 108.05, 30.05),  # 乔木林 as the number 111
        box(108.05, 30.00, 108.10, 30.04),  # 竹林地 by name
        box(108.10, 30.00, 108.16, 30.03),  # 其他灌木林地: forest land, not forest
        box(108.00, 30.10, 108.03, 30.12),  # 未成林造林地: not forest yet
        box(108.10, 30.10, 108.12, 30.19),  # 国家特别规定灌木林地 (三调 6 digits)
    ]
    values = pd.Series([111, "竹林地", "0132", 141.0, "030301"], dtype=object)
    layer = gpd.GeoDataFrame(
        {"adcode": "500101", **land_of(values, classes)},
        geometry=parts,
        crs=4490,
    )
    layer["area_mu"] = area_mu(layer)
    districts = pd.DataFrame(
        {
            "adcode": ["500101"],
            "name_zh": ["万州区"],
            "name_en": ["Wanzhou District"],
            "total_area_mu": [geod_mu(district)],
        }
    )
    stats = forest_statistics(layer, classes=classes, districts=districts, year=2015)
    row = stats.set_index("adcode").loc["500101"]
    forest = geod_mu(parts[0]) + geod_mu(parts[1]) + geod_mu(parts[4])
    land = sum(geod_mu(p) for p in parts)
    assert row["forest_area_mu"] == pytest.approx(forest, rel=1e-6)
    assert row["forest_land_area_mu"] == pytest.approx(land, rel=1e-6)
    assert row["coverage_pct"] == pytest.approx(
        100 * forest / geod_mu(district), rel=1e-6
    )
    assert row["n_xiaoban"] == 5 and row["year"] == 2015


def test_published_city_coverage_is_reproduced(classes):
    # 2015: forest 5,562 of 12,360 万亩 = 45.0 %; 2010: 4,574 → 37.0 %
    for forest_wan, expected in ((5_562, 45.0), (4_574, 37.0)):
        layer = pd.DataFrame(
            {
                "adcode": ["500101", "500101", "500102"],
                **land_of(pd.Series(["0111", "0210", "0111"]), classes),
                "area_mu": [forest_wan * 1e4 / 2, 1e6, forest_wan * 1e4 / 2],
            }
        )
        districts = pd.DataFrame(
            {
                "adcode": ["500101", "500102"],
                "name_zh": ["万州区", "涪陵区"],
                "name_en": ["Wanzhou", "Fuling"],
                "total_area_mu": [6_000e4, 6_360e4],
            }
        )
        city = forest_statistics(layer, classes=classes, districts=districts)
        city = city.set_index("adcode").loc["500000"]
        assert city["total_area_mu"] == 12_360e4
        assert city["forest_area_mu"] == forest_wan * 1e4
        assert round(city["coverage_pct"], 1) == expected


def test_stock_is_volume_per_hectare_times_area(classes):
    layer = pd.DataFrame(
        {
            "adcode": "500101",
            **land_of(pd.Series(["0111"] * 4), classes),
            "area_mu": [15.0, 30.0, 45.0, 7.5],
            "volume_m3_ha": [80.0, 100.0, None, None],  # HUO_LMGQXJ
            "stock_m3": [None, None, 55.0, None],  # a total where no per-ha
        }
    )
    districts = pd.DataFrame(
        {
            "adcode": ["500101"],
            "name_zh": ["万州区"],
            "name_en": ["W"],
            "total_area_mu": [1000.0],
        }
    )
    row = forest_statistics(layer, classes=classes, districts=districts).iloc[0]
    assert row["stock_m3"] == pytest.approx(1 * 80 + 2 * 100 + 55)  # by hand
    assert row["forest_stock_m3"] == pytest.approx(335.0)
    assert row["stock_basis"] == "mixed"


def test_a_missing_district_is_said_not_filled(classes):
    layer = pd.DataFrame(
        {
            "adcode": ["500101"],
            **land_of(pd.Series(["0111"]), classes),
            "area_mu": [10.0],
        }
    )
    districts = pd.DataFrame(
        {
            "adcode": ["500101", "500102"],
            "name_zh": ["万州区", "涪陵区"],
            "name_en": ["W", "F"],
            "total_area_mu": [100.0, 100.0],
        }
    )
    stats = forest_statistics(layer, classes=classes, districts=districts)
    fuling = stats.set_index("adcode").loc["500102"]
    assert pd.isna(fuling["forest_area_mu"]) and pd.isna(fuling["coverage_pct"])
    assert "no layer" in fuling["note"]
    city = stats.set_index("adcode").loc["500000"]
    assert city["total_area_mu"] == 100.0  # only the districts with a layer
    assert "涪陵区" in city["note"]


def test_transfer_matrix_by_hand(classes):
    # the earlier layer in the older codes (1111 纯林, 1410 未成林), the later
    # in 林地变更 codes: groups make them comparable
    before = land_of(pd.Series(["1111", "1410", "0111", "0132"]), classes)
    after = land_of(pd.Series(["0111", "0111", "0240", "0132"]), classes)
    later = pd.DataFrame(
        {
            "adcode": ["500101"] * 4,
            "land_group_before": before["land_group"],
            "land_group": after["land_group"],
            "change_reason": [None, "11", "41", None],
            "area_mu": [10.0, 20.0, 5.0, 7.0],
        }
    )
    matrix = transfer_matrix(later, classes=classes)
    cells = {(r.group_from, r.group_to): r.area_mu for r in matrix.itertuples()}
    assert cells == {
        ("arbor", "arbor"): 10.0,
        ("unestablished", "arbor"): 20.0,
        ("arbor", "non_forest"): 5.0,
        ("other_shrub", "other_shrub"): 7.0,
    }
    reasons = dict(
        zip(matrix.group_to + matrix.group_from, matrix.change_reason, strict=True)
    )
    assert reasons["non_forestarbor"] == "41"
    gain = matrix.loc[matrix.forest_to & ~matrix.forest_from, "area_mu"].sum()
    loss = matrix.loc[matrix.forest_from & ~matrix.forest_to, "area_mu"].sum()
    assert (gain, loss) == (20.0, 5.0)


@pytest.mark.parametrize(
    ("value", "code", "forest"),
    [
        ("0111", "0111", True),
        (111, "0111", True),
        ("111.0", "0111", True),
        ("乔木林地", "0111", True),
        ("0131", "0131", True),
        ("0132", "0132", False),
        ("0141", "0141", False),
        ("0301", "0301", True),
        (301, "0301", True),
        ("030100", "030100", True),
        (30100, "030100", True),
        ("030302", "030302", False),
        ("1130", "1130", True),
        ("1320", "1320", False),
        ("0250", "02", False),
        ("２", None, None),
        ("9999", None, None),
        ("森林", None, None),
    ],
)
def test_land_class_forms(classes, value, code, forest):
    label = resolve_land_classes(pd.Series([value], dtype=object), classes)[0]
    if code is None:
        assert pd.isna(label)
    else:
        assert classes.loc[label, "code"] == code
        assert bool(classes.loc[label, "counts_as_forest"]) is forest


def test_every_land_class_row_cites_a_source_in_data_readme(classes):
    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if "`land_classes.csv`" in line)
    cited = set(re.findall(r"`([a-z0-9_]+)`:", row))
    assert set(classes["source_id"]) <= cited
    # the forest classes are exactly those official-statistics.md lists
    forest = classes[classes["counts_as_forest"]]
    assert set(forest.loc[forest["scheme"] == "ldbg", "code"]) == {
        "0111",
        "0112",
        "0113",
        "0131",
    }
    assert set(forest.loc[forest["scheme"] == "sandiao", "code"]) == {
        "0301",
        "030100",
        "0302",
        "030200",
        "030301",
    }
