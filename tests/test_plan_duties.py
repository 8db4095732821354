"""District duties: coverage duties, transfers and the duty choropleth (#19).

Every expected figure is computed by hand in the comments from the inputs
typed in here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forestsink.progress import district_targets
from forestsink.reference import read_plan
from forestsink.render.duty_section import (
    DUTY_CLASSES,
    duty_class,
    duty_classes,
    duty_layers,
    duty_rows,
)

WZ, FL, YZ = "500101", "500102", "500103"  # 万州区, 涪陵区, 渝中区

PLAN = (
    "target_id,metric,value,unit,qualifier,period_start,period_end,scope,"
    "programme_zh,programme_en,project_type,section,quote,district,"
    "plan_start,plan_end\n"
    "area,new_forest_area_mu,1000,mu,eq,2013,2014,city,,,,,,,2013,2014\n"
    "wz_area,new_forest_area_mu,500,mu,eq,2013,2014,district,,,,,,万州区,,\n"
    "fl_area,new_forest_area_mu,100,mu,eq,2013,2014,district,,,,,,涪陵区,,\n"
    "wz_cov,forest_coverage_pct,45,%,gt,2013,2014,district,,,,,,万州区,,\n"
    "fl_cov,forest_coverage_pct,40,%,gt,2013,2014,district,,,,,,涪陵区,,\n"
)


@pytest.fixture
def plan(tmp_path):
    path = tmp_path / "plan.csv"
    path.write_text(PLAN, encoding="utf-8")
    return read_plan(path)


def base() -> pd.DataFrame:
    """Project work: 万州 planted 120 mu in 2013, 涪陵 60 mu in 2014."""
    return pd.DataFrame(
        {
            "adcode": [WZ, FL],
            "year": [2013, 2014],
            "project_type": ["afforestation", "afforestation"],
            "gross_area_mu": [120.0, 60.0],
            "new_forest_area_mu": [120.0, 60.0],
            "increment_measured_m3": [np.nan, np.nan],
            "increment_model_m3": [np.nan, np.nan],
        }
    )


def inventory() -> dict:
    """Forest-resource statistics of the base year 2012 and of 2014."""

    def stats(wz_area, fl_area, wz_cov, fl_cov):
        return pd.DataFrame(
            {
                "adcode": ["500000", WZ, FL],
                "n_xiaoban": [10, 5, 5],
                "forest_area_mu": [wz_area + fl_area, wz_area, fl_area],
                "forest_stock_m3": [0.0, 0.0, 0.0],
                "coverage_pct": [50.0, wz_cov, fl_cov],
            }
        )

    return {
        2012: stats(1000.0, 2000.0, 43.9, 41.0),
        2014: stats(1300.0, 2150.0, 44.2, 41.5),
    }


def transfers() -> pd.DataFrame:
    """涪陵 sells 40 mu (0.004 万亩) to 万州 in 2014; a 2016 trade is outside."""
    return pd.DataFrame(
        {
            "seller": [FL, FL],
            "buyer": [WZ, WZ],
            "area_mu": [40.0, 1000.0],
            "year": [2014, 2016],
            "price": ["", ""],
            "document": ["", ""],
            "row": [2, 3],
        }
    )


def test_duty_balance_with_coverage_duty_and_transfer(plan):
    table = district_targets(
        base(),
        plan.duties,
        inventory=inventory(),
        plan=plan,
        transfers=transfers(),
    ).set_index(["adcode", "metric"])
    wz = table.loc[(WZ, "new_forest_area_mu")]
    fl = table.loc[(FL, "new_forest_area_mu")]
    # physical: the map's change 2012→2014, never changed by the transfer
    assert wz["done"] == 300  # 1,300 − 1,000 mu
    assert fl["done"] == 150  # 2,150 − 2,000 mu
    assert wz["pct_done"] == pytest.approx(60.0)  # 300 / 500
    # 万州 bought 40 mu: credited 340 of 500, short by 160 mu (−0.016 万亩)
    assert wz["bought_mu"] == 40 and wz["sold_mu"] == 0
    assert wz["credited"] == 340
    assert wz["balance"] == -160
    assert wz["balance_wan_mu"] == pytest.approx(-0.016)
    assert wz["duty_status"] == "short" and wz["short_by"] == 160
    # 涪陵 sold 40 mu: credited 110 of 100, over by 10 mu (+0.001 万亩)
    assert fl["sold_mu"] == 40 and fl["credited"] == 110
    assert fl["balance_wan_mu"] == pytest.approx(0.001)
    assert fl["duty_status"] == "met" and fl["short_by"] == 0
    # coverage duties: the map's 2014 rate against the duty, in points
    wz_cov = table.loc[(WZ, "forest_coverage_pct")]
    fl_cov = table.loc[(FL, "forest_coverage_pct")]
    assert wz_cov["done"] == pytest.approx(44.2)
    assert wz_cov["balance"] == pytest.approx(-0.8)  # 44.2 − 45
    assert wz_cov["duty_status"] == "short"
    assert wz_cov["short_by"] == pytest.approx(0.8)
    assert fl_cov["balance"] == pytest.approx(1.5)  # 41.5 − 40
    assert fl_cov["duty_status"] == "met"
    assert wz_cov["status"] == "resource_statistics"
    assert "forest-resource map" in wz_cov["note"]
    # transfers never touch a coverage duty
    assert np.isnan(wz_cov["bought_mu"]) and wz_cov["credited"] == wz_cov["done"]
    # project work stays apart: 万州 planted 120 mu
    assert wz["project_work"] == 120


def test_coverage_duty_from_rasters_without_the_map(plan):
    coverage = pd.DataFrame(
        {
            "adcode": [WZ, WZ, FL],
            "year": [2013, 2015, 2015],
            "coverage_pct": [42.0, 43.0, 40.0],
        }
    )
    table = district_targets(
        base(), plan.duties, plan=plan, coverage=coverage, transfers=transfers()
    ).set_index(["adcode", "metric"])
    wz_cov = table.loc[(WZ, "forest_coverage_pct")]
    # the latest raster year, as plan status takes it: 43.0 − 45 = −2.0 points
    assert wz_cov["status"] == "coverage"
    assert wz_cov["done"] == 43.0 and wz_cov["balance"] == pytest.approx(-2.0)
    assert "raster, 2015" in wz_cov["note"]
    fl_cov = table.loc[(FL, "forest_coverage_pct")]
    assert fl_cov["balance"] == 0 and fl_cov["duty_status"] == "met"  # exactly met
    # area duties without the map: not measured, but the trade is listed
    wz = table.loc[(WZ, "new_forest_area_mu")]
    assert np.isnan(wz["done"]) and np.isnan(wz["credited"])
    assert wz["bought_mu"] == 40 and wz["duty_status"] == ""
    assert wz["status"] == "needs_resource_layers"


def test_report_rows_show_physical_and_duty_apart(plan):
    table = district_targets(
        base(), plan.duties, inventory=inventory(), plan=plan, transfers=transfers()
    )
    rows = {
        (r["name_zh"], r["metric"]): r for r in duty_rows({"district_targets": table})
    }
    wz = rows[("万州区", "new_forest_area_mu")]
    assert wz["done"] == 300 and wz["credited"] == 340
    assert wz["state"] == "short" and wz["short_by"] == 160
    cov = rows[("万州区", "forest_coverage_pct")]
    assert cov["unit"] == "%" and cov["short_by"] == pytest.approx(0.8)


# ---------------------------------------------------------------------------
# the duty choropleth: fixed classes (module docstring of duty_section)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "target", "balance", "expected"),
    [
        # area: balance as % of the duty
        ("new_forest_area_mu", 1000.0, 100.0, "over"),  # +10 %: over
        ("new_forest_area_mu", 1000.0, 99.0, "met"),  # +9.9 %
        ("new_forest_area_mu", 1000.0, 0.0, "met"),  # exactly met
        ("new_forest_area_mu", 1000.0, -1.0, "short_1"),  # −0.1 %
        ("new_forest_area_mu", 1000.0, -100.0, "short_1"),  # −10 %
        ("new_forest_area_mu", 1000.0, -101.0, "short_2"),  # −10.1 %
        ("new_forest_area_mu", 1000.0, -250.0, "short_2"),  # −25 %
        ("new_forest_area_mu", 1000.0, -251.0, "short_3"),  # −25.1 %
        ("new_stock_volume_m3", 200.0, -100.0, "short_3"),  # −50 %
        # coverage: balance in points
        ("forest_coverage_pct", 45.0, 1.0, "over"),
        ("forest_coverage_pct", 45.0, 0.5, "met"),
        ("forest_coverage_pct", 45.0, -0.8, "short_1"),
        ("forest_coverage_pct", 45.0, -1.0, "short_1"),
        ("forest_coverage_pct", 45.0, -2.0, "short_2"),
        ("forest_coverage_pct", 45.0, -3.0, "short_2"),
        ("forest_coverage_pct", 45.0, -3.5, "short_3"),
        ("forest_coverage_pct", 45.0, np.nan, "unmeasured"),
        ("forest_coverage_pct", np.nan, np.nan, "no_duty"),
    ],
)
def test_duty_class_breaks(metric, target, balance, expected):
    assert duty_class(metric, target, balance) == expected


def test_duty_classes_of_a_hand_built_table():
    table = pd.DataFrame(
        {
            "adcode": [WZ, FL, YZ, WZ],
            "metric": ["new_forest_area_mu"] * 3 + ["forest_coverage_pct"],
            "target": [500.0, 100.0, 50.0, 45.0],
            "done": [300.0, 150.0, np.nan, 44.2],
            "balance": [-160.0, 10.0, np.nan, -0.8],
        }
    )
    area = duty_classes(table, "new_forest_area_mu").set_index("adcode")
    assert len(area) == 38  # every district of the map
    assert area.loc[WZ, "duty_class"] == "short_3"  # −160 / 500 = −32 %
    assert area.loc[FL, "duty_class"] == "over"  # +10 / 100 = +10 %
    assert area.loc[YZ, "duty_class"] == "unmeasured"
    assert area.loc["500104", "duty_class"] == "no_duty"  # 大渡口区: no duty
    assert (area["duty_class"] == "no_duty").sum() == 35
    cov = duty_classes(table, "forest_coverage_pct").set_index("adcode")
    assert cov.loc[WZ, "duty_class"] == "short_1"  # −0.8 points
    assert cov.loc[FL, "duty_class"] == "no_duty"
    layers = duty_layers(table)
    assert [layer["metric"] for layer in layers] == [
        "new_forest_area_mu",
        "forest_coverage_pct",
    ]
    legend = layers[0]["legend"]
    assert [r["key"] for r in legend] == list(DUTY_CLASSES)
    assert legend[-1]["label"] == "无任务 / no duty"
    assert "short by 0 – 10 %" in legend[2]["label"]


def test_static_duty_map_classes_and_file(tmp_path, plan):
    from forestsink.progress import Tables
    from forestsink.render.map_inputs import duty_values
    from forestsink.render.static import render_static_map

    table = district_targets(
        base(), plan.duties, inventory=inventory(), plan=plan, transfers=transfers()
    )
    progress = Tables(tables={"district_targets": table})
    values, subtitle = duty_values(progress, store=None, as_of=None, plan=plan)
    classes = values.set_index("adcode")["duty_class"]
    # area duties after the transfer: 万州 −160 / 500 = −32 %, 涪陵 +10 / 100
    assert classes[WZ] == "short_3" and classes[FL] == "over"
    assert (classes == "no_duty").sum() == 36
    assert values.attrs["metric"] == "new_forest_area_mu"
    assert "met: 1, 差 short: 1" in subtitle
    out = render_static_map(
        "duties", tmp_path / "duties.png", progress=progress, plan=plan, dpi=72
    )
    assert out.stat().st_size > 0


def test_duty_map_without_duties_says_so(tmp_path):
    from forestsink.errors import MapError
    from forestsink.progress import Tables
    from forestsink.render.map_inputs import duty_values

    with pytest.raises(MapError, match="no district duties"):
        duty_values(Tables(tables={}), store=None, as_of=None)


def test_bureau_targets_table_takes_coverage_duties(tmp_path, plan):
    from forestsink.progress import read_district_targets

    path = tmp_path / "targets.csv"
    path.write_text(
        "区县,metric,value\n万州,forest_coverage_pct,45\n涪陵区,new_forest_area_mu,100\n",
        encoding="utf-8",
    )
    targets = read_district_targets(path)
    assert targets["metric"].tolist() == ["forest_coverage_pct", "new_forest_area_mu"]
    table = district_targets(
        base(), targets, inventory=inventory(), plan=plan
    ).set_index(["adcode", "metric"])
    # 万州 coverage 44.2 % on the 2014 map against 45 %: short by 0.8 points
    assert table.loc[(WZ, "forest_coverage_pct"), "short_by"] == pytest.approx(0.8)
    # no transfers: credited = done = 150 mu, over by 50 mu
    assert table.loc[(FL, "new_forest_area_mu"), "balance"] == 50
    bad = tmp_path / "bad.csv"
    bad.write_text("区县,metric,value\n万州,coverage,45\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"row 2.*forest_coverage_pct"):
        read_district_targets(bad)
