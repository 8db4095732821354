"""Project polygons reconciled with the forest-resource map (一张图).

Oracles: areas of the hand-computed intersection rectangles from
``pyproj.Geod(ellps="GRS80").geometry_area_perimeter``; flags and district sums
by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from inventory_frames import geod_mu, layer, projects
from shapely.geometry import box

from forestsink.errors import CRSError, InventoryError
from forestsink.inventory.reconcile import (
    ALL_TYPES,
    BEFORE_COLUMNS,
    CITY_ADCODE,
    DISTRICT_BEFORE_COLUMNS,
    DISTRICT_COLUMNS,
    PLANTED_ON_FOREST_SHARE,
    POLYGON_COLUMNS,
    overlay_areas,
    reconcile,
)
from forestsink.reference import read_project_types

REL = 1e-5  # area_mu is within ~1e-6 of pyproj.Geod


# 万州 (500101): two 小班 side by side, 0111 west of 106.51, 0141 east of it
A = box(106.49, 29.49, 106.51, 29.52)
B = box(106.51, 29.49, 106.53, 29.52)
# a farmland 小班 and an other-shrub 小班 further east
C = box(106.53, 29.49, 106.55, 29.52)
D = box(106.55, 29.49, 106.57, 29.52)


@pytest.fixture
def layer_2015():
    return layer(
        [
            ("500101", "0111", A),
            ("500101", "0141", B),
            ("500101", "0210", C),
            ("500101", "0132", D),
        ],
        2015,
    )


def test_half_on_arbor_forest_half_on_unestablished(layer_2015):
    p = box(106.50, 29.50, 106.52, 29.51)
    res = reconcile(projects([("500101", "P1", "afforestation", 2014, p)]), layer_2015)
    row = res.polygons.iloc[0]
    west = geod_mu(box(106.50, 29.50, 106.51, 29.51))
    east = geod_mu(box(106.51, 29.50, 106.52, 29.51))
    assert row["forest_mu"] == pytest.approx(west, rel=REL)
    assert row["unestablished_mu"] == pytest.approx(east, rel=REL)
    assert row["other_forest_land_mu"] == 0.0 and row["non_forest_mu"] == 0.0
    assert row["not_in_layer_mu"] == pytest.approx(0.0, abs=1e-6 * west)
    assert row["area_mu"] == pytest.approx(geod_mu(p), rel=REL)
    assert row["forest_share"] == pytest.approx(west / (west + east), rel=REL)
    assert 0.49 < row["forest_share"] < 0.51
    assert row["n_xiaoban"] == 2
    assert row["note"] == ""
    assert list(res.polygons.columns) == [*POLYGON_COLUMNS, "note"]
    assert res.year == 2015


def test_each_land_category_and_a_part_outside_the_layer(layer_2015):
    # spans C (farmland), D (other shrub) and 0.01° east of the layer
    p = box(106.54, 29.50, 106.58, 29.505)
    res = reconcile(projects([("500101", "P2", "tending", 2013, p)]), layer_2015)
    row = res.polygons.iloc[0]
    assert row["non_forest_mu"] == pytest.approx(
        geod_mu(box(106.54, 29.50, 106.55, 29.505)), rel=REL
    )
    assert row["other_forest_land_mu"] == pytest.approx(
        geod_mu(box(106.55, 29.50, 106.57, 29.505)), rel=REL
    )
    outside = geod_mu(box(106.57, 29.50, 106.58, 29.505))
    assert row["not_in_layer_mu"] == pytest.approx(outside, rel=REL)
    assert row["forest_mu"] == 0.0 and row["forest_share"] == 0.0
    assert "25% 不在2015年图层小班内" in row["note"]
    assert "25% lies on no 小班 of the 2015 layer" in row["note"]
    assert row["note"].index("不在") < row["note"].index("lies on")


def test_project_outside_the_layer(layer_2015):
    p = box(107.00, 30.00, 107.01, 30.01)
    res = reconcile(projects([("500101", "P3", "afforestation", 2014, p)]), layer_2015)
    row = res.polygons.iloc[0]
    assert row["not_in_layer_mu"] == pytest.approx(geod_mu(p), rel=REL)
    assert row[["forest_mu", "unestablished_mu", "non_forest_mu"]].sum() == 0
    assert row["n_xiaoban"] == 0
    assert "100% 不在" in row["note"]


def test_district_without_a_layer_is_said_so(layer_2015):
    p = box(107.00, 30.00, 107.01, 30.01)
    res = reconcile(projects([("500102", "F1", "afforestation", 2014, p)]), layer_2015)
    note = res.polygons.iloc[0]["note"]
    assert note.startswith("2015年图层无该区县小班")
    assert "the 2015 layer has no 小班 of this district" in note


def test_project_inside_one_xiaoban_is_all_forest(layer_2015):
    p = box(106.495, 29.495, 106.505, 29.505)
    res = reconcile(projects([("500101", "P4", "renovation", 2014, p)]), layer_2015)
    row = res.polygons.iloc[0]
    assert row["forest_mu"] == pytest.approx(geod_mu(p), rel=REL)
    assert row["forest_share"] == pytest.approx(1.0, rel=REL)


def test_bamboo_counts_as_forest_and_0142_as_unestablished():
    lay = layer(
        [
            ("500101", "0113", box(106.0, 29.0, 106.1, 29.1)),
            ("500101", "0142", box(106.1, 29.0, 106.2, 29.1)),
        ],
        2016,
    )
    p = box(106.05, 29.05, 106.15, 29.06)
    row = reconcile(projects([("500101", "X", "afforestation", 2016, p)]), lay)
    row = row.polygons.iloc[0]
    assert row["forest_mu"] == pytest.approx(
        geod_mu(box(106.05, 29.05, 106.1, 29.06)), rel=REL
    )
    assert row["unestablished_mu"] == pytest.approx(
        geod_mu(box(106.1, 29.05, 106.15, 29.06)), rel=REL
    )


# --------------------------------------------------------------------------
# planted on forest
# --------------------------------------------------------------------------

E = box(106.60, 29.50, 106.61, 29.51)  # afforestation, 70 % forest in 2012
F = box(106.62, 29.50, 106.63, 29.51)  # afforestation, 30 % forest in 2012
G = box(106.64, 29.50, 106.65, 29.51)  # renovation, 100 % forest in 2012
H = box(106.66, 29.50, 106.67, 29.51)  # afforestation of 2012, all forest in 2012


@pytest.fixture
def pair_of_layers():
    before = layer(
        [
            ("500101", "0111", box(106.595, 29.495, 106.607, 29.515)),
            ("500101", "0210", box(106.607, 29.495, 106.615, 29.515)),
            ("500101", "0111", box(106.615, 29.495, 106.623, 29.515)),
            ("500101", "0210", box(106.623, 29.495, 106.635, 29.515)),
            ("500101", "0111", box(106.635, 29.495, 106.68, 29.515)),
        ],
        2012,
    )
    after = layer([("500101", "0141", box(106.59, 29.49, 106.69, 29.52))], 2015)
    frame = projects(
        [
            ("500101", "E", "afforestation", 2013, E),
            ("500101", "F", "grain_to_green", 2014, F),
            ("500101", "G", "renovation", 2013, G),
            ("500101", "H", "afforestation", 2012, H),
        ]
    )
    return frame, after, before


def test_planted_on_forest_flag_with_an_earlier_layer(pair_of_layers):
    frame, after, before = pair_of_layers
    res = reconcile(frame, after, before=before)
    t = res.polygons.set_index("project_id")
    assert list(res.polygons.columns) == [*POLYGON_COLUMNS, *BEFORE_COLUMNS, "note"]
    assert res.before_year == 2012
    e_forest = geod_mu(box(106.60, 29.50, 106.607, 29.51))
    f_forest = geod_mu(box(106.62, 29.50, 106.623, 29.51))
    assert t.loc["E", "forest_before_mu"] == pytest.approx(e_forest, rel=REL)
    assert t.loc["F", "forest_before_mu"] == pytest.approx(f_forest, rel=REL)
    assert t.loc["G", "forest_before_mu"] == pytest.approx(geod_mu(G), rel=REL)
    assert e_forest / geod_mu(E) > PLANTED_ON_FOREST_SHARE > f_forest / geod_mu(F)
    assert bool(t.loc["E", "planted_on_forest"])
    assert not t.loc["F", "planted_on_forest"]  # 30 %: not mostly forest
    assert not t.loc["G", "planted_on_forest"]  # renovation adds no area
    assert pd.isna(t.loc["H", "planted_on_forest"])  # 2012 work, 2012 layer
    assert "2012年已有70% 为森林，不能新增森林面积" in t.loc["E", "note"]
    assert (
        "70% was already forest in 2012: cannot add forest area" in t.loc["E", "note"]
    )
    assert "无法判断" in t.loc["H", "note"] and "not assessed" in t.loc["H", "note"]
    assert t.loc["F", "note"] == "" and t.loc["G", "note"] == ""
    # the current layer: everything is 未成林造林地
    assert t["unestablished_mu"].to_numpy() == pytest.approx(t["area_mu"].to_numpy())


def test_flag_follows_the_project_types_table(pair_of_layers):
    frame, after, before = pair_of_layers
    types = read_project_types()
    assert types.loc["afforestation", "adds_forest_area"]
    assert not types.loc["renovation", "adds_forest_area"]
    # a table in which renovation added forest area would flag G
    types.loc["renovation", "adds_forest_area"] = True
    t = reconcile(frame, after, before=before, types=types).polygons
    assert bool(t.set_index("project_id").loc["G", "planted_on_forest"])


def test_district_sums_by_hand(pair_of_layers):
    frame, after, before = pair_of_layers
    extra = projects(
        [
            ("500102", "Q", "afforestation", 2014, box(106.60, 29.40, 106.61, 29.41)),
        ]
    )
    frame = pd.concat([frame, extra], ignore_index=True)
    res = reconcile(frame, after, before=before)
    d = res.districts
    assert list(d.columns) == [*DISTRICT_COLUMNS, *DISTRICT_BEFORE_COLUMNS, "note"]
    rows = d.set_index(["adcode", "project_type"])
    wz = rows.loc[("500101", "afforestation")]
    assert wz["name_zh"] == "万州区" and wz["name_en"] == "Wanzhou District"
    assert wz["type_zh"] == "人工造林"
    assert wz["n_polygons"] == 2  # E and H
    assert wz["area_mu"] == pytest.approx(geod_mu(E) + geod_mu(H), rel=REL)
    assert wz["unestablished_mu"] == pytest.approx(geod_mu(E) + geod_mu(H), rel=REL)
    assert wz["forest_before_mu"] == pytest.approx(
        geod_mu(box(106.60, 29.50, 106.607, 29.51)) + geod_mu(H), rel=REL
    )
    assert wz["n_planted_on_forest"] == 1  # E (H is not assessable)
    assert wz["planted_on_forest_mu"] == pytest.approx(geod_mu(E), rel=REL)
    assert "1 个造林图斑原已是森林" in wz["note"]
    total = rows.loc[("500101", ALL_TYPES)]
    assert total["n_polygons"] == 4
    assert total["area_mu"] == pytest.approx(
        sum(geod_mu(g) for g in (E, F, G, H)), rel=REL
    )
    assert total["forest_share"] == 0.0
    fl = rows.loc[("500102", "afforestation")]
    assert fl["name_zh"] == "涪陵区"
    assert fl["not_in_layer_mu"] == pytest.approx(
        geod_mu(box(106.60, 29.40, 106.61, 29.41)), rel=REL
    )
    city = rows.loc[(CITY_ADCODE, ALL_TYPES)]
    assert city["name_zh"] == "重庆市"
    assert city["n_polygons"] == 5
    assert city["area_mu"] == pytest.approx(frame["area_mu"].sum(), rel=REL)
    assert city["n_planted_on_forest"] == 1
    city_aff = rows.loc[(CITY_ADCODE, "afforestation")]
    assert city_aff["n_polygons"] == 3
    # city rows come last, each district's all-types row first
    assert d["adcode"].iloc[-1] == CITY_ADCODE
    assert d["project_type"].iloc[0] == ALL_TYPES


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------


def test_other_crs_is_transformed(layer_2015):
    p = box(106.50, 29.50, 106.52, 29.51)
    frame = projects([("500101", "P1", "afforestation", 2014, p)]).to_crs(4545)
    row = reconcile(frame, layer_2015.to_crs(4326)).polygons.iloc[0]
    assert row["forest_mu"] == pytest.approx(
        geod_mu(box(106.50, 29.50, 106.51, 29.51)), rel=1e-4
    )


def test_missing_crs_and_columns_are_refused(layer_2015):
    frame = projects([("500101", "P1", "afforestation", 2014, box(0, 0, 1, 1))])
    with pytest.raises(CRSError, match="no CRS"):
        reconcile(frame.set_crs(None, allow_override=True), layer_2015)
    with pytest.raises(InventoryError, match="land_group"):
        reconcile(frame, layer_2015.drop(columns="land_group"))
    bad = layer_2015.copy()
    bad["is_forest"] = bad["is_forest"].astype(object)
    bad.loc[1, "is_forest"] = None
    with pytest.raises(InventoryError, match=r"is_forest.*500101/1/1/1/2"):
        reconcile(frame, bad)


def test_invalid_xiaoban_is_repaired():
    bowtie = shapely.Polygon(
        [(106.0, 29.0), (106.1, 29.1), (106.1, 29.0), (106.0, 29.1), (106.0, 29.0)]
    )
    lay = layer([("500101", "0111", box(106.0, 29.0, 106.1, 29.1))], 2015)
    lay.loc[0, "geometry"] = bowtie
    p = box(106.0, 29.0, 106.1, 29.1)
    res = reconcile(projects([("500101", "P", "tending", 2015, p)]), lay)
    assert any("repaired 1 invalid 小班" in m for m in res.messages)
    # the two triangles of the bow-tie: half the square
    assert res.polygons.iloc[0]["forest_share"] == pytest.approx(0.5, rel=1e-3)


def test_overlapping_xiaoban_are_noted():
    lay = layer(
        [
            ("500101", "0111", box(106.0, 29.0, 106.1, 29.1)),
            ("500101", "0210", box(106.05, 29.0, 106.15, 29.1)),
        ],
        2015,
    )
    p = box(106.0, 29.0, 106.1, 29.1)
    res = reconcile(projects([("500101", "P", "tending", 2015, p)]), lay)
    assert "重叠" in res.polygons.iloc[0]["note"]
    assert res.polygons.iloc[0]["not_in_layer_mu"] == 0.0


def test_empty_projects(layer_2015):
    frame = projects([("500101", "P1", "afforestation", 2014, box(0, 0, 1, 1))])
    res = reconcile(frame.iloc[:0], layer_2015, before=layer_2015)
    assert res.polygons.empty and list(res.polygons.columns)[-1] == "note"
    assert res.districts.empty


def test_overlay_blocks_give_the_same_areas():
    rng = np.random.default_rng(7)
    # a 40 x 40 grid of 小班 and 300 random small projects
    xs = 106.0 + 0.005 * np.arange(41)
    ys = 29.0 + 0.005 * np.arange(41)
    cells = shapely.box(
        *np.meshgrid(xs[:-1], ys[:-1]), *np.meshgrid(xs[1:], ys[1:])
    ).ravel()
    cat = rng.integers(0, 4, len(cells))
    x0 = rng.uniform(105.99, 106.2, 300)
    y0 = rng.uniform(28.99, 29.2, 300)
    size = rng.uniform(0.001, 0.02, 300)
    proj = shapely.box(x0, y0, x0 + size, y0 + size)
    one, n1, _ = overlay_areas(proj, cells, cat, 4, block=10_000)
    many, n2, _ = overlay_areas(proj, cells, cat, 4, block=7)
    assert np.allclose(one, many, rtol=1e-12) and (n1 == n2).all()
    # the parts plus the uncovered part are the polygon's area (Geod oracle)
    covered = shapely.intersection(proj, box(106.0, 29.0, 106.2, 29.2))
    inside = np.array([geod_mu(g) if not g.is_empty else 0.0 for g in covered])
    assert one.sum(axis=1) == pytest.approx(inside, rel=REL, abs=1e-9)


def test_unknown_type_is_noted_and_not_judged(pair_of_layers):
    frame, after, before = pair_of_layers
    frame = frame.copy()
    frame.loc[frame["project_id"] == "E", "project_type"] = "pruning"
    res = reconcile(frame, after, before=before)
    e = res.polygons.set_index("project_id").loc["E"]
    assert pd.isna(e["planted_on_forest"])
    assert e["note"] == "未知项目类型 / unknown project type"
    row = res.districts.set_index(["adcode", "project_type"]).loc[("500101", "pruning")]
    assert pd.isna(row["type_zh"]) and "unknown project type" in row["note"]


def test_touching_along_an_edge_is_no_overlap(layer_2015):
    # shares the edge x = 106.51 with 小班 B, lies inside A
    p = box(106.505, 29.50, 106.51, 29.51)
    row = reconcile(
        projects([("500101", "T", "tending", 2014, p)]), layer_2015
    ).polygons.iloc[0]
    assert row["n_xiaoban"] == 1
    assert row["unestablished_mu"] == 0.0
    assert row["forest_mu"] == pytest.approx(geod_mu(p), rel=REL)
