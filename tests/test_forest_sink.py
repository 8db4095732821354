"""The whole forest's carbon sink (issue #22 Parts 2–3).

Oracles are computed in the tests by hand or from the published numbers typed
here (李银 et al. 2016 Table 1 as quoted in official-statistics.md §4;
Thomas & Martin 2012 CF as in carbon_parameters.csv), 小班 by 小班, never
through the module's group sums.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from inventory_frames import layer as inv_layer

from forestsink.carbon import (
    GAIN_LOSS,
    STOCK_DIFFERENCE,
    choose_years,
    compute_sink,
    forest_sink_tables,
    resolve_sink_parameters,
)
from forestsink.cli.main import cli
from forestsink.inventory.load import district_areas, load_inventory
from forestsink.progress import read_forest_types
from forestsink.progress.growth import CarbonParameterError
from forestsink.reference import (
    read_biomass_volume,
    read_carbon_parameters,
    read_parameter_sources,
)
from forestsink.store import GeoPackageStore

CO2_PER_C = 44 / 12
# published numbers, typed from official-statistics.md §4 / carbon_parameters.csv
MASSON = {"a": 0.5034, "b": 20.547, "cf": 0.5054}
OAK = {"a": 1.1453, "b": 8.5473, "cf": 0.481}
SUM_COLS = [
    "n_xiaoban",
    "area_mu",
    "area_reported_mu",
    "stock_per_ha_m3",
    "n_per_ha",
    "stock_total_m3",
    "n_total",
]


def _shipped() -> pd.DataFrame:
    shipped = pd.concat(
        [
            read_carbon_parameters().assign(origin="data/carbon_parameters.csv"),
            read_biomass_volume().assign(origin="data/biomass_volume.csv"),
        ],
        ignore_index=True,
    )
    return shipped[shipped["parameter"].isin(["CF", "R", "a", "b"])]


def _params(rows) -> pd.DataFrame:
    """User parameter rows: (forest_type, parameter, value, sd, distribution)."""
    out = []
    for ft, name, value, sd, dist, *rest in rows:
        low, high = rest if rest else (np.nan, np.nan)
        out.append(
            {
                "forest_type": ft,
                "name_zh": ft,
                "name_en": ft,
                "parameter": name,
                "value": value,
                "unit": "",
                "low": low,
                "high": high,
                "sd": sd,
                "distribution": dist,
                "source_id": "test_by_hand",
                "note": "",
            }
        )
    return pd.DataFrame(out)


def _sums(rows) -> pd.DataFrame:
    """inventory_sums rows: (adcode, land_group, species, area_mu, Σ V·ha)."""
    frame = pd.DataFrame(
        [
            {
                "adcode": a,
                "land_group": g,
                "species": s,
                "n_xiaoban": 1,
                "area_mu": mu,
                "area_reported_mu": mu,
                "stock_per_ha_m3": v,
                "n_per_ha": 1 if v else 0,
                "stock_total_m3": 0.0,
                "n_total": 0,
            }
            for a, g, s, mu, v in rows
        ]
    )
    return frame[["adcode", "land_group", "species", *SUM_COLS]]


def _compute(sums_from, sums_to, *, user=None, method="both", **kw):
    return compute_sink(
        sums_from,
        sums_to,
        year_from=kw.pop("year_from", 2010),
        year_to=kw.pop("year_to", 2015),
        shipped=kw.pop("shipped", _shipped()),
        known_sources=read_parameter_sources(),
        forest_types=read_forest_types(),
        names=district_areas(),
        user=user,
        method=method,
        **kw,
    )


def _city(out, method=STOCK_DIFFERENCE) -> pd.Series:
    sink = out["sink"]
    return sink[(sink["adcode"] == "500000") & (sink["method"] == method)].iloc[0]


# ---------------------------------------------------------------------------
# hand-computed stock difference: three 小班, two years, two species groups,
# one converted to construction land
# ---------------------------------------------------------------------------


def _boxes():
    return [
        shapely.box(106.0 + 0.01 * k, 29.0, 106.008 + 0.01 * k, 29.006)
        for k in range(3)
    ]


def _hand_layers():
    geoms = _boxes()
    y1 = inv_layer([("500101", "0111", g) for g in geoms], 2010)
    y1["species"] = ["马尾松", "栎类", "马尾松"]
    y1["volume_m3_ha"] = [60.0, 80.0, 40.0]
    y2 = inv_layer(
        [
            ("500101", "0111", geoms[0]),
            ("500101", "0111", geoms[1]),
            ("500101", "0210", geoms[2]),
        ],
        2015,
    )
    y2["species"] = ["马尾松", "栎类", ""]
    y2["volume_m3_ha"] = [75.0, 95.0, np.nan]
    y2["land_class_before_raw"] = ["0111", "0111", "0111"]
    y2["land_group_before"] = ["arbor", "arbor", "arbor"]
    return y1, y2


def _store_of(tmp_path, frames):
    store = GeoPackageStore(tmp_path / "s.gpkg", timeout=5)
    store.write_inventory(
        [
            {
                "adcode": str(f["adcode"].iloc[0]),
                "year": int(f["year"].iloc[0]),
                "frame": f,
                "source_name": f"layer{i}.shp",
                "source_sha256": f"sha{i}",
                "note": None,
            }
            for i, f in enumerate(frames)
        ]
    )
    return store


def _hand_carbon(frame) -> float:
    """Σ over 小班 of (a·V + b) × ha × CF, t C, 小班 by 小班."""
    total = 0.0
    for row in frame.itertuples():
        if row.land_group != "arbor":
            continue
        p = MASSON if row.species == "马尾松" else OAK
        ha = row.area_mu / 15.0
        total += (p["a"] * row.volume_m3_ha + p["b"]) * ha * p["cf"]
    return total


def test_hand_computed_stock_difference(tmp_path):
    y1, y2 = _hand_layers()
    store = _store_of(tmp_path, [y1, y2])
    c1, c2 = _hand_carbon(y1), _hand_carbon(y2)
    expected = (c2 - c1) / (2015 - 2010) * CO2_PER_C
    result = forest_sink_tables(store, year_from=2010, year_to=2015, draws=2000)
    sink = result.tables["sink"]
    sd = sink[sink["method"] == STOCK_DIFFERENCE].set_index("adcode")
    for code in ("500101", "500000"):
        assert sd.loc[code, "co2_t_per_yr"] == pytest.approx(expected, rel=1e-9)
        assert sd.loc[code, "carbon_t_from"] == pytest.approx(c1, rel=1e-9)
        assert sd.loc[code, "carbon_t_to"] == pytest.approx(c2, rel=1e-9)
    # the converted 小班 leaves C₂: it is a loss, and the transfer shows it
    assert sd.loc["500000", "conversion_area_mu"] == pytest.approx(
        y2["area_mu"].iloc[2]
    )
    third = y1.iloc[[2]]
    assert _hand_carbon(third) > 0  # its whole stock is part of the loss
    # gain-loss without GR/CR: not estimable, saying which parameters
    gl = sink[(sink["method"] == GAIN_LOSS) & (sink["adcode"] == "500000")].iloc[0]
    assert np.isnan(gl["co2_t_per_yr"])
    assert "GR" in gl["note"] and "CR" in gl["note"] and "masson_pine" in gl["note"]
    # parameter sources are listed
    src = result.tables["sources"]
    a_row = src[(src["forest_type"] == "masson_pine") & (src["parameter"] == "a")]
    assert a_row["source_id"].iloc[0] == "fang_bvf_via_li_2016"
    assert a_row["origin"].iloc[0] == "data/biomass_volume.csv"


def test_ipcc_eq_2_8_arithmetic_by_hand():
    # a = 0.5 t/m³, b = 0, CF = 0.5, one hectare (15 mu):
    # C₁ = 0.5 × 400 × 0.5 = 100 t C, C₂ = 0.5 × 640 × 0.5 = 160 t C
    # ΔC = (160 − 100)/(2015 − 2010) = 12 t C/yr → 12 × 44/12 = 44 t CO₂/yr
    user = _params(
        [
            ("masson_pine", "a", 0.5, 0.0, ""),
            ("masson_pine", "b", 0.0, 0.0, ""),
            ("masson_pine", "CF", 0.5, 0.0, ""),
        ]
    )
    out = _compute(
        _sums([("500101", "arbor", "马尾松", 15.0, 400.0)]),
        _sums([("500101", "arbor", "马尾松", 15.0, 640.0)]),
        user=user,
        area_error_pct=0.0,
        volume_error_pct=0.0,
        draws=100,
    )
    city = _city(out)
    assert city["carbon_t_from"] == pytest.approx(100.0)
    assert city["carbon_t_to"] == pytest.approx(160.0)
    assert city["co2_t_per_yr"] == pytest.approx(44.0)
    assert city["n_arbor_no_volume_from"] == 0
    # with every input fixed, the interval collapses onto the figure
    assert city["co2_t_per_yr_p05"] == pytest.approx(44.0)
    assert city["co2_t_per_yr_p95"] == pytest.approx(44.0)
    # a loss is negative: the same stock falling is an emission
    back = _compute(
        _sums([("500101", "arbor", "马尾松", 15.0, 640.0)]),
        _sums([("500101", "arbor", "马尾松", 15.0, 400.0)]),
        user=user,
        draws=100,
    )
    assert _city(back)["co2_t_per_yr"] == pytest.approx(-44.0)


def test_mc_mean_matches_analytic_mean_and_shares_sum_to_one():
    # independent inputs, each once per product: E[S] = S at the inputs' means
    user = _params(
        [
            ("masson_pine", "a", 0.5, 0.05, "normal"),
            ("masson_pine", "b", 20.0, 2.0, "normal"),
            ("masson_pine", "CF", 0.47, np.nan, "triangular", 0.45, 0.52),
            ("oak", "a", 1.1, 0.1, "normal"),
            ("oak", "b", 8.0, 1.0, "normal"),
            ("oak", "CF", 0.48, 0.01, "normal"),
        ]
    )
    w1, w2, mu1, mu2 = 3000.0, 4000.0, 150.0, 165.0  # Σ V·ha (m³), area (mu)
    o1, o2 = 2000.0, 2600.0
    out = _compute(
        _sums(
            [
                ("500101", "arbor", "马尾松", mu1, w1),
                ("500102", "arbor", "栎类", mu1, o1),
            ]
        ),
        _sums(
            [
                ("500101", "arbor", "马尾松", mu2, w2),
                ("500102", "arbor", "栎类", mu2, o2),
            ]
        ),
        user=user,
        draws=200_000,
        seed=7,
    )
    cf_mean = (0.45 + 0.47 + 0.52) / 3
    masson = (0.5 * (w2 - w1) + 20.0 * (mu2 - mu1) / 15) * cf_mean
    oak = (1.1 * (o2 - o1) + 8.0 * (mu2 - mu1) / 15) * 0.48
    analytic = (masson + oak) / 5 * CO2_PER_C
    city = _city(out)
    spread = (city["co2_t_per_yr_p95"] - city["co2_t_per_yr_p05"]) / (2 * 1.645)
    assert city["co2_t_per_yr_mc_mean"] == pytest.approx(analytic, abs=4 * spread / 447)
    # the central figure uses the mode (0.47) of the triangular CF
    central = ((0.5 * (w2 - w1) + 20.0 * (mu2 - mu1) / 15) * 0.47 + oak) / 5 * CO2_PER_C
    assert city["co2_t_per_yr"] == pytest.approx(central)
    sens = out["sensitivity"]
    sens = sens[sens["method"] == STOCK_DIFFERENCE]
    assert sens["variance_share"].sum() == pytest.approx(1.0)
    assert sens["ipcc_share"].sum() == pytest.approx(1.0)
    assert (sens["variance_share"] >= 0).all()
    # activity errors are inputs too: one per year and group
    assert {"area_error", "volume_error"} <= set(sens["parameter"])
    # approach 1 and the Monte Carlo agree for this nearly linear case
    a1 = (city["co2_t_per_yr_ipcc_high"] - city["co2_t_per_yr_ipcc_low"]) / 2
    mc = (city["co2_t_per_yr_p95"] - city["co2_t_per_yr_p05"]) / 2
    assert a1 == pytest.approx(mc, rel=0.1)


def test_seeded_draws_repeat():
    kw = {"draws": 500, "seed": 3}
    s1 = _sums([("500101", "arbor", "马尾松", 150.0, 3000.0)])
    s2 = _sums([("500101", "arbor", "马尾松", 160.0, 3600.0)])
    a, b = _compute(s1, s2, **kw), _compute(s1, s2, **kw)
    pd.testing.assert_frame_equal(a["sink"], b["sink"])


def test_unsourced_parameter_refused_unless_supplied():
    shipped = pd.concat(
        [
            _shipped(),
            _params([("bamboo", "biomass_t_ha", 50.0, 5.0, "normal")]).assign(
                source_id="a_number_from_memory", origin="data/x.csv"
            ),
        ],
        ignore_index=True,
    )
    with pytest.raises(CarbonParameterError, match="params=FILE") as err:
        resolve_sink_parameters(
            shipped,
            forest_types=read_forest_types(),
            known_sources=read_parameter_sources(),
        )
    assert err.value.option == "params" and "--params" not in str(err.value)
    # the same number supplied by the user is accepted and named as theirs
    params = resolve_sink_parameters(
        _shipped(),
        forest_types=read_forest_types(),
        known_sources=read_parameter_sources(),
        user=_params([("bamboo", "biomass_t_ha", 50.0, 5.0, "normal")]),
        user_name="params mine.csv",
    )
    got = params.by_group["bamboo"]["biomass_t_ha"]
    assert got.origin == "params mine.csv" and got.source_id == "test_by_hand"


def test_bamboo_flagged_when_no_per_area_value():
    s1 = _sums(
        [
            ("500101", "arbor", "马尾松", 150.0, 3000.0),
            ("500101", "bamboo", "毛竹", 30.0, 0.0),
        ]
    )
    s2 = _sums(
        [
            ("500101", "arbor", "马尾松", 150.0, 3300.0),
            ("500101", "bamboo", "毛竹", 45.0, 0.0),
        ]
    )
    out = _compute(s1, s2, draws=200)
    city = _city(out)
    assert city["area_not_counted_to_mu"] == pytest.approx(45.0)
    assert city["area_counted_to_mu"] == pytest.approx(150.0)
    assert "bamboo" in city["note"] and "not counted" in city["note"]
    novol = _compute(
        s1, _sums([("500101", "arbor", "马尾松", 150.0, 0.0)]), draws=50
    )  # an arbor 小班 without volume is counted with b only, and counted here
    assert _city(novol)["n_arbor_no_volume_to"] == 1
    nc = out["not_counted"]
    assert set(nc["land_group"]) == {"bamboo"}
    # with a per-area value the bamboo counts: +15 mu × 50 t/ha × CF 0.47
    user = _params([("bamboo", "biomass_t_ha", 50.0, 5.0, "normal")])
    counted = _city(_compute(s1, s2, user=user, draws=200))
    extra = 15.0 / 15 * 50.0 * 0.47 / 5 * CO2_PER_C
    assert counted["co2_t_per_yr"] == pytest.approx(city["co2_t_per_yr"] + extra)
    assert counted["area_not_counted_to_mu"] == 0


def test_gain_loss_with_user_rates_and_its_note():
    user = _params(
        [
            ("default", "GR", 0.06, 0.01, "normal"),
            ("default", "CR", 0.03, 0.01, "normal"),
        ]
    )
    s1 = _sums([("500101", "arbor", "马尾松", 150.0, 3000.0)])
    s2 = _sums([("500101", "arbor", "马尾松", 150.0, 3600.0)])
    out = _compute(s1, s2, user=user, draws=2000)
    gl = _city(out, GAIN_LOSS)
    # a × mean stock × (GR − CR) × CF × 44/12, no conversion
    expected = MASSON["a"] * 3300.0 * 0.03 * MASSON["cf"] * CO2_PER_C
    assert gl["co2_t_per_yr"] == pytest.approx(expected)
    assert "differs from the stock difference" in gl["note"]
    assert "test_by_hand" in gl["note"]


def test_choose_years():
    assert choose_years([]) is None
    assert choose_years([2015]) is None
    assert choose_years([2005, 2010, 2015, 2018]) == (2010, 2015)
    assert choose_years([2012, 2016, 2018]) == (2012, 2018)
    assert choose_years([2012, 2016, 2018], 2016, None) == (2016, 2018)


def test_cli_sink_and_outputs(tmp_path):
    y1, y2 = _hand_layers()
    _store_of(tmp_path, [y1, y2])
    runner = CliRunner()
    out = tmp_path / "sink.json"
    res = runner.invoke(
        cli,
        [
            "carbon",
            "--store",
            str(tmp_path / "s.gpkg"),
            "--draws",
            "500",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "全森林碳汇" in res.output and "whole-forest carbon sink" in res.output
    assert "not estimable" in res.output  # gain-loss without GR/CR
    rows = json.loads(out.read_text(encoding="utf-8"))
    rows = rows if isinstance(rows, list) else rows.get("data", rows)
    frame = pd.DataFrame(rows)
    for col in (
        "adcode",
        "name_zh",
        "name_en",
        "co2_t_per_yr",
        "co2_t_per_yr_p05",
        "co2_t_per_yr_p95",
        "method",
    ):
        assert col in frame
    xlsx = tmp_path / "sink.xlsx"
    res = runner.invoke(
        cli,
        [
            "carbon",
            "--store",
            str(tmp_path / "s.gpkg"),
            "--draws",
            "500",
            "--method",
            "stock-difference",
            "--out",
            str(xlsx),
        ],
    )
    assert res.exit_code == 0, res.output
    sheets = pd.ExcelFile(xlsx).sheet_names
    assert "敏感性 Sensitivity" in sheets and "参数来源 Parameter sources" in sheets
    head = pd.read_excel(xlsx, sheet_name=0, nrows=1).columns
    assert not any("项目增量" in str(c) for c in head)  # labelled as the sink
    # a year the store does not hold is refused, naming the years held
    res = runner.invoke(
        cli,
        [
            "carbon",
            "--store",
            str(tmp_path / "s.gpkg"),
            "--from",
            "2011",
            "--to",
            "2015",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code != 0 and "2010" in res.output


# ---------------------------------------------------------------------------
# the demo: the sample's two inventory years
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_store(sample_dir, tmp_path_factory):
    store = GeoPackageStore(tmp_path_factory.mktemp("sink") / "s.gpkg", timeout=5)
    inv = sample_dir / "inventory"
    load_inventory([inv / "2010", inv / "2010-late"], store=store, year=2010)
    load_inventory([inv / "2015"], store=store, year=2015)
    return store


@pytest.mark.slow
def test_demo_city_sink_interval_is_wide(sample_store):
    result = forest_sink_tables(sample_store, year_from=2010, year_to=2015)
    sink = result.tables["sink"]
    city = sink[(sink["adcode"] == "500000") & (sink["method"] == STOCK_DIFFERENCE)]
    city = city.iloc[0]
    assert city["co2_t_per_yr"] > 0  # the sample's forest grows: a sink
    half = (city["co2_t_per_yr_p95"] - city["co2_t_per_yr_p05"]) / 2
    assert half / city["co2_t_per_yr"] > 0.10  # wider than ±10 %
    assert city["co2_t_per_yr_p05"] < city["co2_t_per_yr"] < city["co2_t_per_yr_p95"]
    # drivers named; bamboo (no sourced per-area value) listed as not counted
    assert len(result.tables["drivers"]) == 3
    assert "bamboo" in set(result.tables["not_counted"]["land_group"])
    assert city["area_not_counted_to_mu"] > 0
    # every district of the sample has a row
    assert sink["adcode"].nunique() == 39


def test_cli_one_year_named_without_the_other_is_refused(tmp_path):
    y1, _ = _hand_layers()
    _store_of(tmp_path, [y1])
    res = CliRunner().invoke(
        cli,
        [
            *("carbon", "--store", str(tmp_path / "s.gpkg"), "--to", "2015"),
            *("--out", str(tmp_path / "x.csv")),
        ],
    )
    assert res.exit_code != 0 and "years held: 2010" in res.output
