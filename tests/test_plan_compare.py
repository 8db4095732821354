"""Plans side by side, and --transfers / --compare-plan on the CLI (#19).

Expected figures are hand computations from the rows typed in here.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from test_plans import hand_base  # the same hand-built district rows

from forestsink.cli.main import cli
from forestsink.progress import NO_DATA, plans_side_by_side, status_table
from forestsink.reference import data_path, read_plan

HEADER = (
    "target_id,metric,value,unit,qualifier,period_start,period_end,scope,"
    "programme_zh,programme_en,project_type,section,quote,district,"
    "plan_start,plan_end\n"
)
LATER = (  # a 2021–2025 plan: the store below holds nothing of those years
    "area,new_forest_area_mu,2000000,mu,eq,2021,2025,city,,,,,,,2021,2025\n"
    "aff,project_area_mu,1000000,mu,eq,2021,2025,programme,造林,,afforestation,,,,,\n"
    "cov,forest_coverage_pct,55,%,gt,2021,2025,city,,,,,,,,\n"
)
SHORT = (  # a 2013–2014 plan
    "area,new_forest_area_mu,1000,mu,eq,2013,2014,city,,,,,,,2013,2014\n"
    "aff,project_area_mu,1000,mu,eq,2013,2014,programme,造林,,afforestation,,,,,\n"
)


def plan_file(tmp_path, name: str, body: str):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_three_plans_side_by_side(tmp_path):
    plans = [
        read_plan(),
        read_plan(plan_file(tmp_path, "later.csv", LATER)),
        read_plan(plan_file(tmp_path, "short.csv", SHORT)),
    ]
    base = hand_base()
    table = plans_side_by_side([(p, status_table(base, p), base) for p in plans])
    rows = table.set_index(["scope", "metric", "item_en"])
    area = rows.loc[("city", "new_forest_area_mu", "New forest area")]
    # seed 2011–2015: net planted 100 + 250 + 200 + 0 + 400 = 950 of 9,000,000 mu
    assert area["2011–2015 target"] == 9_000_000
    assert area["2011–2015 done"] == 950
    assert area["2011–2015 pct_done"] == pytest.approx(100 * 950 / 9_000_000)
    assert area["2011–2015 measured_by"] == "project_polygons"
    # and the row says what that figure is: area planted, not new forest
    assert "not the resource's new forest area" in area["2011–2015 note"]
    # 2021–2025: the store holds no work of those years: no data, not 0
    assert area["2021–2025 target"] == 2_000_000
    assert area["2021–2025 done"] == NO_DATA
    assert np.isnan(area["2021–2025 pct_done"])
    # 2013–2014: 250 + 200 = 450 of 1,000 mu
    assert area["2013–2014 done"] == 450
    assert area["2013–2014 pct_done"] == pytest.approx(45.0)
    programme = table[table["scope"] == "programme"].set_index("item_en")
    aff = programme.loc[programme.index.str.contains("fforestation")].iloc[0]
    # seed: the two afforestation programmes add up, 2,400,000 + 3,000,000 mu;
    # treated in 2011–2015: 100 + 300 + 200 + 400 = 1,000 mu
    assert aff["2011–2015 target"] == 5_400_000
    assert aff["2011–2015 done"] == 1000
    assert aff["2021–2025 done"] == NO_DATA
    assert aff["2013–2014 done"] == 500  # 300 + 200
    assert aff["2013–2014 pct_done"] == pytest.approx(50.0)
    # stock: only the seed has a target; measured increments 30 + 10 + 99
    stock = rows.loc[("city", "new_stock_volume_m3", "New stock volume")]
    assert stock["2011–2015 done"] == 139
    assert "not the resource's new stock" in stock["2011–2015 note"]
    assert np.isnan(stock["2021–2025 target"]) and np.isnan(stock["2013–2014 target"])
    # coverage: nothing measures it in either plan (no map, no rasters)
    cov = rows.loc[("city", "forest_coverage_pct", "Forest coverage")]
    assert cov["2011–2015 done"] == NO_DATA and cov["2021–2025 done"] == NO_DATA
    assert cov["2011–2015 target"] == 45 and cov["2021–2025 target"] == 55
    # seed's renovation: work exists in 2011–2015 but none of that type: 0, not no data
    reno = programme.loc[programme.index.str.contains("enovation")].iloc[0]
    assert reno["2011–2015 done"] == 0
    assert reno["2011–2015 target"] == 8_720_000  # 3,000,000 + 400,000 + 5,320,000


def test_same_period_twice_gets_numbered_columns():
    seed = read_plan()
    base = hand_base()
    table = plans_side_by_side(
        [(seed, status_table(base, seed), base), (seed, status_table(base, seed), base)]
    )
    assert "2011–2015 (1) done" in table and "2011–2015 (2) done" in table


# ---------------------------------------------------------------------------
# the command line, on a small store (three 人工造林 squares in 万州区, 2013)
# ---------------------------------------------------------------------------


def test_cli_progress_compare_plan(tmp_path, small_store):
    store_path, treated = small_store
    later = plan_file(tmp_path, "later.csv", LATER)
    out = tmp_path / "p.xlsx"
    args = ["progress", "--store", str(store_path), "--compare-plan"]
    result = CliRunner().invoke(
        cli,
        [
            *args,
            str(data_path("plan.EXAMPLE.csv")),
            "--compare-plan",
            str(later),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "规划对比 / Plans side by side" in result.output
    # new forest area measured by project work is labelled as such
    assert "project work, not resource change" in result.output
    assert NO_DATA in result.output
    plans = pd.read_excel(out, sheet_name="plans")
    assert [c for c in plans.columns if c.endswith(" done")] == [
        "2011–2015 done",
        "2013–2014 done",
        "2021–2025 done",
    ]
    aff = plans[plans["item_en"].str.contains("fforestation")].iloc[0]
    # seed: afforestation treated in 2011–2015 = the three squares
    assert aff["2011–2015 done"] == pytest.approx(treated, rel=1e-6)
    assert aff["2013–2014 done"] == pytest.approx(treated, rel=1e-6)
    assert aff["2021–2025 done"] == NO_DATA


def test_cli_progress_and_report_with_transfers(tmp_path, small_store):
    store_path, _treated = small_store
    example = str(data_path("plan.EXAMPLE.csv"))
    moves = str(data_path("transfers.EXAMPLE.csv"))  # 涪陵 sells 0.8 万亩 to 万州
    out = tmp_path / "p.xlsx"
    args = ["progress", "--store", str(store_path), "--plan", example]
    result = CliRunner().invoke(cli, [*args, "--transfers", moves, "--out", str(out)])
    assert result.exit_code == 0, result.output
    duties = pd.read_excel(out, sheet_name="区县目标 District targets")
    duties = duties.set_index(duties.columns[0])  # adcode
    sold = [c for c in duties.columns if "sold" in c.lower()]
    bought = [c for c in duties.columns if "bought" in c.lower()]
    assert duties.loc[500102, sold[0]] == 8000  # 0.8 万亩 = 8,000 mu
    assert duties.loc[500101, bought[0]] == 8000
    html = tmp_path / "r.html"
    args = ["report", "--store", str(store_path), "--plan", example]
    result = CliRunner().invoke(
        cli,
        [*args, "--transfers", moves, "--compare-plan", "seed", "--out", str(html)],
    )
    assert result.exit_code == 0, result.output
    text = html.read_text(encoding="utf-8")
    duty = text[text.index('id="duty-table"') :]
    duty = duty[: duty.index("</table>")]
    assert "实物量 Physical" in duty and "Duty accounting (after transfers)" in duty
    assert "8,000" in duty  # sold and bought, apart from the physical figure
    data = json.loads(text.split('id="forestsink-data">')[1].split("</script>")[0])
    (layer,) = data["duty_layers"]
    # no map in the store: both duties are unmeasured, the rest have no duty
    assert layer["classes"]["500101"] == "unmeasured"
    assert layer["classes"]["500104"] == "no_duty"
    plans = text[text.index('id="plans-table"') :]
    plans = plans[: plans.index("</table>")]
    assert "2013–2014" in plans and "2011–2015" in plans


def test_cli_bad_transfers_is_a_usage_error(tmp_path, small_store):
    store_path, _ = small_store
    bad = tmp_path / "t.csv"
    bad.write_text("seller,buyer,area_wan_mu,year\n涪陵区,火星区,1,2014\n", "utf-8")
    result = CliRunner().invoke(
        cli,
        [
            "progress",
            "--store",
            str(store_path),
            "--transfers",
            str(bad),
            "--out",
            str(tmp_path / "p.csv"),
        ],
    )
    assert result.exit_code == 2
    assert "--transfers" in result.output and "火星区" in result.output
