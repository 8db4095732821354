"""Carbon: a hand-computed case, Monte Carlo against the analytic value, units;
the project increment (a standing stock is never an increment)."""

import numpy as np
import pandas as pd
import pytest

from forestsink.errors import GrowthTableError
from forestsink.progress import read_forest_types
from forestsink.progress.growth import (
    CO2_PER_C,
    Param,
    carbon_by_group,
    classify_species,
    factor,
    factor_rel_sd,
    project_increment,
    resolve_parameters,
    validate_growth_table,
)
from forestsink.reference import read_carbon_parameters, read_project_types


def test_hand_computed_case():
    # one polygon, one type: ΔV = 100 m³, D = 0.5 t/m³, BEF = 1.4, R = 0.25,
    # CF = 0.5 → biomass = 100 × 0.5 × 1.4 × 1.25 = 87.5 t dry matter,
    # carbon = 43.75 t C, CO2 = 43.75 × 44/12 = 160.4166… t CO2
    parts = {"D": Param(0.5), "BEF": Param(1.4), "R": Param(0.25), "CF": Param(0.5)}
    dv = pd.DataFrame(
        {
            "adcode": ["500101"],
            "forest_type": ["x"],
            "delta_v_m3": [100.0],
            "gross_area_mu": [15.0],
        }
    )
    out = carbon_by_group(dv, {"x": parts}, group="adcode", draws=100)
    assert out["co2_t_central"].iloc[0] == pytest.approx(43.75 * 44 / 12)
    assert out["co2_t_central"].iloc[0] == pytest.approx(160.41666666)
    # fixed parameters: no spread at all
    assert out["co2_t_p05"].iloc[0] == pytest.approx(out["co2_t_p95"].iloc[0])


def test_units_are_co2_not_carbon():
    parts = {"BVF": Param(1.0), "CF": Param(1.0)}
    assert factor(parts) == pytest.approx(44 / 12)  # 1 t C = 3.667 t CO2
    assert CO2_PER_C == pytest.approx(3.6666667)


def test_monte_carlo_mean_converges_to_analytic():
    parts = {
        "D": Param(0.45, "normal", sd=0.05),
        "BEF": Param(1.5, "uniform", low=1.3, high=1.7),
        "R": Param(0.24, "triangular", low=0.2, high=0.3),
        "CF": Param(0.47, "normal", sd=0.02),
    }
    dv = pd.DataFrame(
        {
            "adcode": ["a"],
            "forest_type": ["x"],
            "delta_v_m3": [1000.0],
            "gross_area_mu": [1.0],
        }
    )
    out = carbon_by_group(dv, {"x": parts}, group="adcode", draws=200_000, seed=1)
    # independent factors: E[product] = product of means (triangular mean ≠ mode)
    mean_r = (0.2 + 0.24 + 0.3) / 3
    analytic = 1000 * 0.45 * 1.5 * (1 + mean_r) * 0.47 * 44 / 12
    assert out["co2_t"].iloc[0] == pytest.approx(analytic, rel=2e-3)
    # and the IPCC approach-1 spread is close to the MC one for small errors
    mc_width = out["co2_t_p95"].iloc[0] - out["co2_t_p05"].iloc[0]
    ipcc_width = out["co2_t_ipcc_high"].iloc[0] - out["co2_t_ipcc_low"].iloc[0]
    assert ipcc_width == pytest.approx(mc_width, rel=0.1)


def test_same_seed_same_numbers_and_draws_matter():
    parts = {"BVF": Param(0.5, "normal", sd=0.05), "CF": Param(0.5)}
    dv = pd.DataFrame(
        {
            "adcode": ["a", "b"],
            "forest_type": ["x", "x"],
            "delta_v_m3": [10.0, 20.0],
            "gross_area_mu": [1.0, 1.0],
        }
    )
    one = carbon_by_group(dv, {"x": parts}, group="adcode", seed=5)
    two = carbon_by_group(dv, {"x": parts}, group="adcode", seed=5)
    pd.testing.assert_frame_equal(one, two)
    assert (one["co2_t_p95"] > one["co2_t_p05"]).all()


def test_rel_sd_of_product():
    parts = {"A": Param(2.0, "normal", sd=0.2), "B": Param(5.0, "normal", sd=0.25)}
    assert factor_rel_sd(parts) == pytest.approx(np.hypot(0.1, 0.05))


def test_shipped_parameters_resolve_for_every_group_but_bamboo():
    params = read_carbon_parameters()
    types = read_forest_types()
    resolved = resolve_parameters(params, types, bvf_includes_roots=True)
    expected = set(types["forest_type"]) - {
        "bamboo",
        "default",
        "other_broadleaf",
        "other_conifer",
    }
    assert expected <= set(resolved)
    assert "bamboo" not in resolved
    # masson pine: Fang's slope 0.5034 and the conifer CF, no (1+R) by default
    mp = resolved["masson_pine"]
    assert set(mp) == {"BVF", "CF"} and mp["BVF"].value == pytest.approx(0.5034)
    with_r = resolve_parameters(params, types, bvf_includes_roots=False)
    assert with_r["masson_pine"]["R"].value == pytest.approx(0.24)  # IPCC default


def test_species_words():
    types = read_forest_types()
    got = classify_species(
        pd.Series(
            [
                "马尾松",
                "杉木林",
                "柏木",
                "栎类",
                "其他阔叶",
                "针阔混",
                "毛竹",
                None,
                "不知道",
            ]
        ),
        types,
    )
    assert got.tolist() == [
        "masson_pine",
        "chinese_fir",
        "cypress",
        "oak",
        "mixed_broadleaf",
        "mixed",
        "bamboo",
        "mixed",
        "mixed",
    ]


def _growth(rows):
    table = pd.DataFrame(
        [r.split(",") for r in rows],
        columns=[
            "project_type",
            "forest_type",
            "age_from",
            "age_to",
            "growth_m3_ha_yr",
            "baseline_m3_ha_yr",
            "source",
        ],
    )
    return validate_growth_table(
        table,
        source="g.csv",
        project_types=read_project_types().index,
        forest_types=read_forest_types()["forest_type"],
    )


def _increment(pieces, growth=None, *, species=None, end_year=2015):
    types = read_forest_types()
    ft = classify_species(
        pd.Series(species or [None] * len(pieces), dtype=object), types
    )
    fallback = dict(zip(types["forest_type"], types["fallback"], strict=True))
    return project_increment(
        pieces,
        types=read_project_types(),
        forest_type=ft,
        fallback=fallback,
        growth=growth,
        end_year=end_year,
    )


STOCK_PIECES = pd.DataFrame(
    {
        "project_type": ["renovation", "tending"],
        "year": [2012, 2012],
        "gross_area_mu": [15.0, 15.0],  # 1 ha each
        "stock_volume_m3": [1000.0, 1000.0],  # standing stock, not growth
    }
)


def test_delivered_stock_is_not_an_increment_without_a_model():
    # Old code booked the 1,000 m³ as ΔV. Now: no pair, no model → not
    # estimable (NaN), never 1,000 and never a 0 posing as a measurement.
    out = _increment(STOCK_PIECES)
    assert out["increment_m3"].isna().all()
    assert out["method"].tolist() == ["not_estimable", "not_estimable"]


def test_with_a_growth_table_only_the_modelled_increment_over_baseline_counts():
    growth = _growth(
        [
            "renovation,default,1,10,3,1.5,test",
            "tending,default,1,2,2.5,2,test",
            "tending,default,3,10,2,2,test",
        ]
    )
    out = _increment(STOCK_PIECES, growth)
    # worked in 2012, counted to the end of 2015: seasons 2013, 2014, 2015.
    # renovation: 1 ha × 3 × (3 − 1.5) = 4.5 m³
    # tending: 1 ha × [(2.5 − 2) + (2.5 − 2) + (2 − 2)] = 1.0 m³
    assert out["increment_m3"].tolist() == pytest.approx([4.5, 1.0])
    assert set(out["method"]) == {"project_increment_model"}


def test_before_after_pair_gives_after_minus_before():
    pieces = STOCK_PIECES.assign(
        stock_before_m3=[400.0, np.nan], stock_after_m3=[460.0, np.nan]
    )
    out = _increment(pieces)
    assert out["increment_m3"].iloc[0] == pytest.approx(60.0)
    assert out["method"].iloc[0] == "project_increment_measured"
    assert np.isnan(out["increment_m3"].iloc[1])  # no pair, no model


def test_new_planting_grows_by_age_not_at_a_flat_rate():
    growth = _growth(
        [
            "afforestation,default,1,3,0,0,test",
            "afforestation,default,4,10,2,0,test",
            "afforestation,masson_pine,1,2,0,0,test",
            "afforestation,masson_pine,3,20,1,0,test",
        ]
    )
    pieces = pd.DataFrame(
        {
            "project_type": ["afforestation", "afforestation", "afforestation"],
            "year": [2011, 2011, 2014],
            "gross_area_mu": [30.0, 30.0, 30.0],  # 2 ha
            "stock_volume_m3": [np.nan, 500.0, np.nan],
        }
    )
    out = _increment(pieces, growth, species=["柏木", "马尾松", "柏木"])
    # 柏木 → cypress → other_conifer → default rows. Planted 2011: seasons
    # 2012–2015 are ages 1–4: 2 ha × (0 + 0 + 0 + 2) = 4 m³ (flat 4.23 m³/ha/yr
    # would have given 2 × 4.23 × 4 = 33.84). 马尾松 has its own rows: 2 ha ×
    # (0 + 0 + 1 + 1) = 4 m³, the delivered 500 m³ stock ignored. Planted
    # 2014: age 1 only, 未成林 → 0 m³ (a model result, not "not estimable").
    assert out["increment_m3"].tolist() == pytest.approx([4.0, 4.0, 0.0])
    # older than the table covers: not estimable, not extrapolated
    short = _growth(["afforestation,default,1,2,1,0,test"])
    assert np.isnan(_increment(pieces.iloc[:1], short)["increment_m3"].iloc[0])


def test_nurseries_add_no_increment():
    pieces = pd.DataFrame(
        {
            "project_type": ["nursery"],
            "year": [2012],
            "gross_area_mu": [15.0],
            "stock_volume_m3": [50.0],
        }
    )
    out = _increment(pieces)
    assert out["increment_m3"].tolist() == [0.0] and out["method"].tolist() == ["none"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("afforestation,default,1,3,x,0,src", "row 2, column growth_m3_ha_yr"),
        ("afforestation,default,1,3,2,,src", "row 2, column baseline_m3_ha_yr"),
        ("非人工造林,default,1,3,2,0,src", "row 2, column project_type"),
        ("afforestation,pine,1,3,2,0,src", "row 2, column forest_type"),
        ("afforestation,default,0,3,2,0,src", "row 2, column age_from"),
        ("afforestation,default,1,3,2,0,", "row 2, column source"),
        ("afforestation,default,1,3,99,0,src", "between 0 and 60"),
    ],
)
def test_growth_table_errors_name_row_and_column(row, message):
    with pytest.raises(GrowthTableError, match=message) as err:
        _growth([row])
    assert "g.csv" in str(err.value)


def test_growth_table_ages_without_gaps():
    with pytest.raises(GrowthTableError, match="gap at year 4"):
        _growth(["afforestation,default,1,3,0,0,s", "afforestation,default,5,9,2,0,s"])
    with pytest.raises(GrowthTableError, match="overlap"):
        _growth(["afforestation,default,1,3,0,0,s", "afforestation,default,3,9,2,0,s"])


def test_example_growth_table_is_valid_and_marked_illustrative():
    from forestsink.progress import read_growth_table
    from forestsink.reference import data_dir

    path = data_dir() / "growth_table.EXAMPLE.csv"
    table = read_growth_table(path)
    assert table["source"].str.contains("ILLUSTRATIVE").all()


def test_module_docstring_no_longer_claims_the_guideline():
    from forestsink.progress import growth as carbon

    doc = carbon.__doc__
    assert "as used in China's provincial GHG inventory guideline" not in doc
    assert "not the forest's carbon sink" in " ".join(doc.split())


def test_flat_growth_row_feeds_nothing():
    from forestsink import progress

    assert not hasattr(progress, "growth_parameter")


def test_growth_table_takes_the_words_of_type_and_species(tmp_path):
    from forestsink.progress import read_growth_table

    path = tmp_path / "g.csv"
    path.write_text(
        "project_type,forest_type,age_from,age_to,growth_m3_ha_yr,"
        "baseline_m3_ha_yr,source\n"
        "人工造林,马尾松,1,3,2,0,src\n"
        "低效林改造,default,1,3,3,1,src\n",
        encoding="utf-8",
    )
    table = read_growth_table(path)
    # by hand: project_types.csv 人工造林 = afforestation, 低效林改造 =
    # renovation; forest_types.csv 马尾松 = masson_pine
    assert table["project_type"].tolist() == ["afforestation", "renovation"]
    assert table["forest_type"].tolist() == ["masson_pine", "default"]


@pytest.mark.parametrize(
    ("row", "zh"),
    [
        ("afforestation,default,1,3,x,0,src", "不是 0–60 m³/ha/yr 的生长量"),
        ("planting_x,default,1,3,2,0,src", "未知项目类型"),
        ("afforestation,pine,1,3,2,0,src", "未知森林类型"),
        ("afforestation,default,0,3,2,0,src", "不是 ≥ 1 的整年数"),
        ("afforestation,default,1,3,2,0,", "来源为空"),
    ],
)
def test_growth_table_messages_are_chinese_first(row, zh):
    with pytest.raises(GrowthTableError) as err:
        _growth([row])
    text = str(err.value)
    assert zh in text
    assert text.index(zh) < text.index(" / ")
