"""Carbon: a hand-computed case, Monte Carlo against the analytic value, units."""

import numpy as np
import pandas as pd
import pytest

from forestsink.carbon import (
    CO2_PER_C,
    Param,
    carbon_by_group,
    classify_species,
    delta_volume,
    factor,
    factor_rel_sd,
    resolve_parameters,
)
from forestsink.progress import read_forest_types
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


def test_delta_volume_delivered_or_growth():
    types = read_project_types()
    pieces = pd.DataFrame(
        {
            "project_type": ["afforestation", "afforestation", "nursery", "tending"],
            "stock_volume_m3": [120.0, np.nan, 50.0, np.nan],
            "year": [2012, 2013, 2013, 2015],
            "gross_area_mu": [150.0, 150.0, 150.0, 150.0],
        }
    )
    dv = delta_volume(pieces, types=types, growth_m3_ha_yr=4.0, end_year=2015)
    # delivered 120; 10 ha × 4 m³/ha/yr × 2 years = 80; nursery adds none;
    # planted in the last year: no growth yet
    assert dv.tolist() == pytest.approx([120.0, 80.0, 0.0, 0.0])
