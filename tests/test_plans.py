"""Plans as data: the seed plan, a user plan file, row-level errors (#19)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from delivery_factory import frame, write

from forestsink.cli.main import cli
from forestsink.errors import PlanError
from forestsink.ingest import read_delivery
from forestsink.progress import city_targets, status_table
from forestsink.reference import check_plan, data_path, read_plan, read_transfers
from forestsink.render.report import duty_rows
from forestsink.validate import validate_delivery

HEADER = (
    "target_id,metric,value,unit,qualifier,period_start,period_end,scope,"
    "programme_zh,programme_en,project_type,section,quote,district,"
    "plan_start,plan_end\n"
)


def plan_file(tmp_path, body: str, *, header: str = HEADER, encoding="utf-8"):
    path = tmp_path / "plan.csv"
    path.write_bytes((header + body).encode(encoding))
    return path


def test_seed_plan_is_the_2012_plan_unchanged():
    plan = read_plan()
    assert plan.period == (2011, 2015)
    assert plan.base_year == 2010
    assert plan.document == "渝府发〔2012〕102号"
    assert plan.years == [2011, 2012, 2013, 2014, 2015]
    # the seed's numbers, as printed in the plan (section 二)
    assert plan.target_of("new_forest_area_mu")["value"] == 9_000_000
    assert plan.target_of("new_stock_volume_m3")["value"] == 30_000_000
    assert plan.target_of("forest_coverage_pct")["value"] == 45
    assert len(plan.targets) == 15
    assert plan.duties.empty


def test_example_plan_reads_with_its_period_and_duties():
    plan = read_plan(data_path("plan.EXAMPLE.csv"))
    assert plan.period == (2013, 2014)
    assert plan.base_year == 2012
    assert "EXAMPLE" in plan.name
    assert sorted(plan.duties["adcode"]) == ["500101", "500102"]  # 万州区, 涪陵区
    assert check_plan(data_path("plan.EXAMPLE.csv")) == []


def test_gbk_plan_file_reads(tmp_path):
    path = plan_file(
        tmp_path,
        "a,project_area_mu,500,mu,eq,2013,2014,programme,造林,,afforestation,,,,"
        "2013,2014\n"
        "d,new_forest_area_mu,20,mu,eq,2013,2014,district,,,,,,万州,,\n",
        encoding="gbk",
    )
    plan = read_plan(path)
    assert plan.period == (2013, 2014)
    assert plan.base_year == 2012  # default: the year before the plan
    assert plan.duties["adcode"].tolist() == ["500101"]
    assert plan.targets.loc[0, "programme_zh"] == "造林"


def test_excel_plan_file_reads(tmp_path):
    path = tmp_path / "plan.xlsx"
    pd.DataFrame(
        {
            "target_id": ["a"],
            "metric": ["new_forest_area_mu"],
            "value": [100],
            "unit": ["mu"],
            "qualifier": ["eq"],
            "period_start": [2021],
            "period_end": [2025],
            "scope": ["city"],
            "plan_start": [2021],
            "plan_end": [2025],
        }
    ).to_excel(path, sheet_name="targets", index=False)
    assert read_plan(path).period == (2021, 2025)


def test_missing_column_names_it(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("target_id,metric,value\na,new_forest_area_mu,1\n")
    with pytest.raises(PlanError) as err:
        read_plan(path)
    text = str(err.value)
    assert "missing column(s)" in text and "unit" in text and "plan_end" in text
    assert "缺少列" in text
    assert isinstance(err.value, ValueError)


def test_malformed_rows_each_named(tmp_path):
    path = plan_file(
        tmp_path,
        "ok,new_forest_area_mu,100,mu,eq,2013,2014,city,,,,,,,2013,2014\n"
        "bad_metric,new_forest_m2,100,mu,eq,2013,2014,city,,,,,,,,\n"
        "backwards,new_forest_area_mu,100,mu,eq,2014,2013,city,,,,,,,,\n"
        "nowhere,new_forest_area_mu,100,mu,eq,2013,2014,district,,,,,,火星区,,\n",
    )
    problems = check_plan(path)
    assert len(problems) == 3
    assert problems[0].startswith("plan.csv: row 3, column 'metric'")
    assert "new_forest_m2" in problems[0] and "未知指标" in problems[0]
    assert problems[1].startswith("plan.csv: row 4: period end 2013 is before")
    assert "plan.csv: row 5, column 'district'" in problems[2]
    assert "火星区" in problems[2]
    with pytest.raises(PlanError, match="3 problem"):
        read_plan(path)


def test_plan_period_end_before_start(tmp_path):
    path = plan_file(
        tmp_path, "a,new_forest_area_mu,100,mu,eq,2013,2014,city,,,,,,,2015,2011\n"
    )
    (problem,) = check_plan(path)
    assert "plan period 2015–2011" in problem and "规划期终止年早于起始年" in problem


def test_unit_value_and_duplicate(tmp_path):
    path = plan_file(
        tmp_path,
        "a,new_forest_area_mu,900万亩,ha,eq,2013,2014,city,,,,,,,2013,2014\n"
        "a,project_area_mu,5,mu,eq,2013,2014,programme,,,,,,,,\n",
    )
    problems = check_plan(path)
    assert any("row 2, column 'unit'" in p for p in problems)
    assert any("row 2, column 'value'" in p for p in problems)
    assert any(
        "row 3: a programme target needs its project_type" in p for p in problems
    )
    assert any("row 3, column 'target_id'" in p and "repeats" in p for p in problems)


# ---------------------------------------------------------------------------
# a 2013–2014 plan changes the year range and the percent done (hand-computed)
# ---------------------------------------------------------------------------

SHORT_PLAN = (
    "area,new_forest_area_mu,1000,mu,eq,2013,2014,city,,,,,,,2013,2014\n"
    "stock,new_stock_volume_m3,100,m3,eq,2013,2014,city,,,,,,,,\n"
    "aff,project_area_mu,1000,mu,eq,2013,2014,programme,造林,,afforestation,,,,,\n"
    "tend,project_area_mu,4000,mu,eq,2013,2014,programme,抚育,,tending,,,,,\n"
    "wz,new_forest_area_mu,500,mu,eq,2013,2014,district,,,,,,万州区,,\n"
)


@pytest.fixture
def short_plan(tmp_path):
    return read_plan(plan_file(tmp_path, SHORT_PLAN))


def hand_base() -> pd.DataFrame:
    """District × year × type rows, as the district view gives them (mu, m³)."""
    rows = [  # adcode, year, type, gross, new forest, measured increment
        ("500101", 2012, "afforestation", 100.0, 100.0, np.nan),
        ("500101", 2013, "afforestation", 300.0, 250.0, 30.0),
        ("500102", 2014, "afforestation", 200.0, 200.0, np.nan),
        ("500101", 2014, "tending", 1000.0, 0.0, 10.0),
        ("500101", 2015, "afforestation", 400.0, 400.0, 99.0),
    ]
    base = pd.DataFrame(
        rows,
        columns=[
            "adcode",
            "year",
            "project_type",
            "gross_area_mu",
            "new_forest_area_mu",
            "increment_measured_m3",
        ],
    )
    base["increment_model_m3"] = np.nan
    return base


def test_short_plan_changes_percent_done(short_plan):
    city = city_targets(hand_base(), plan=short_plan).set_index(["target_id", "year"])
    assert sorted(set(city.index.get_level_values("year"))) == [2013, 2014]
    # afforestation treated in 2013–2014: 300 + 200 = 500 of 1,000 mu
    assert city.loc[("type_afforestation", 2013), "cumulative"] == 300
    assert city.loc[("type_afforestation", 2014), "cumulative"] == 500
    assert city.loc[("type_afforestation", 2014), "pct_done"] == pytest.approx(50.0)
    # tending: 1,000 of 4,000 mu
    assert city.loc[("type_tending", 2014), "pct_done"] == pytest.approx(25.0)
    # planted (net) in the period: 250 + 200
    assert city.loc[("project_planted_area", 2014), "cumulative"] == 450
    # no coverage or protection target in this plan: no such rows
    assert "forest_coverage" not in city.index.get_level_values(0)


def test_seed_plan_percent_done_on_the_same_work():
    city = city_targets(hand_base()).set_index(["target_id", "year"])
    assert sorted(set(city.index.get_level_values("year"))) == list(range(2011, 2016))
    # afforestation in 2011–2015: 100 + 300 + 200 + 400 = 1,000 mu of the
    # seed's 2,400,000 (Three Gorges) + 3,000,000 (forest programme) mu
    row = city.loc[("type_afforestation", 2015)]
    assert row["target"] == 5_400_000
    assert row["cumulative"] == 1000
    assert row["pct_done"] == pytest.approx(100 * 1000 / 5_400_000)


def test_status_without_inventory_uses_project_work(short_plan):
    status = status_table(hand_base(), short_plan).set_index("target_id")
    assert status.loc["aff", "done"] == 500
    assert status.loc["aff", "pct_done"] == pytest.approx(50.0)
    assert status.loc["aff", "measured_by"] == "project_polygons"
    # area target without inventory years: project work, net area planted 450
    assert status.loc["area", "done"] == 450
    assert status.loc["area", "pct_done"] == pytest.approx(45.0)
    assert status.loc["area", "measured_by"] == "project_polygons"
    assert "no inventory years" in status.loc["area", "note"]
    # stock: measured increments of 2013–2014 only, 30 + 10 = 40 of 100 m³
    assert status.loc["stock", "done"] == 40
    assert status.loc["stock", "pct_done"] == pytest.approx(40.0)
    # the 万州区 duty: its own planted area in 2013–2014, 250 of 500 mu
    assert status.loc["wz", "adcode"] == "500101"
    assert status.loc["wz", "done"] == 250
    assert status.loc["wz", "pct_done"] == pytest.approx(50.0)
    assert list(status.reset_index().columns[:11]) == [
        "target_id",
        "metric",
        "scope",
        "adcode",
        "value",
        "unit",
        "period_start",
        "period_end",
        "done",
        "pct_done",
        "measured_by",
    ]


def test_status_with_inventory_uses_the_map(short_plan):
    def stats(area, stock, cov):
        return pd.DataFrame(
            {
                "adcode": ["500000", "500101"],
                "forest_area_mu": [area, area / 10],
                "forest_stock_m3": [stock, stock / 10],
                "coverage_pct": [cov, cov],
            }
        )

    inventory = {2012: stats(10_000, 5_000, 40.0), 2014: stats(10_600, 5_080, 41.0)}
    status = status_table(hand_base(), short_plan, inventory=inventory)
    status = status.set_index("target_id")
    assert status.loc["area", "done"] == 600  # 10,600 − 10,000 mu
    assert status.loc["area", "pct_done"] == pytest.approx(60.0)
    assert status.loc["area", "measured_by"] == "forest_resource_map"
    assert status.loc["stock", "done"] == 80  # 5,080 − 5,000 m³
    assert status.loc["wz", "done"] == pytest.approx(60.0)  # 1,060 − 1,000
    # programme work stays project work
    assert status.loc["aff", "measured_by"] == "project_polygons"


def test_short_plan_changes_validation_year_range(tmp_path, short_plan):
    gdf = frame(n=3, year=2013)
    gdf.loc[1, "年度"] = 2012
    gdf.loc[2, "年度"] = 2015
    read = read_delivery(write(gdf, tmp_path / "d.gpkg")).frame
    seed = validate_delivery(read)
    assert list(seed.issues["code"]) == []  # 2012, 2013, 2015 in 2011–2015
    short = validate_delivery(read, plan=short_plan)
    out = short.issues[short.issues["code"] == "year_out_of_range"]
    assert sorted(out["row"]) == [1, 2]
    assert out["message"].str.contains("2013–2014").all()


# ---------------------------------------------------------------------------
# CLI: plan check / show / status, --plan on validate
# ---------------------------------------------------------------------------


def test_cli_plan_check(tmp_path):
    bad = plan_file(
        tmp_path,
        "ok,new_forest_area_mu,100,mu,eq,2013,2014,city,,,,,,,2013,2014\n"
        "x,new_forest_m2,100,mu,eq,2013,2014,city,,,,,,,,\n"
        "y,new_forest_area_mu,100,mu,eq,2013,2014,district,,,,,,火星区,,\n",
    )
    result = CliRunner().invoke(cli, ["plan", "check", str(bad)])
    assert result.exit_code == 1
    assert "2 problem(s)" in result.output
    assert "row 3, column 'metric'" in result.output
    assert "row 4, column 'district'" in result.output
    good = CliRunner().invoke(
        cli, ["plan", "check", str(data_path("plan.EXAMPLE.csv"))]
    )
    assert good.exit_code == 0, good.output
    assert "2013–2014" in good.output and "2 district duties" in good.output


def test_cli_plan_show_default_is_the_seed():
    result = CliRunner().invoke(cli, ["plan", "show"])
    assert result.exit_code == 0, result.output
    assert "渝府发〔2012〕102号" in result.output
    assert "2011–2015" in result.output and "2010" in result.output


def test_cli_bad_plan_is_a_usage_error(tmp_path):
    bad = plan_file(
        tmp_path, "a,new_forest_area_mu,100,mu,eq,2014,2013,city,,,,,,,2013,2014\n"
    )
    d = write(frame(n=1), tmp_path / "d.gpkg")
    result = CliRunner().invoke(cli, ["validate", str(d), "--plan", str(bad)])
    assert result.exit_code == 2
    assert "--plan" in result.output and "row 2" in result.output


def test_cli_validate_with_plan(tmp_path, short_plan):
    plan = plan_file(tmp_path, SHORT_PLAN)
    d = write(frame(n=2, year=2015), tmp_path / "d.gpkg")
    assert CliRunner().invoke(cli, ["validate", str(d)]).exit_code == 0
    result = CliRunner().invoke(cli, ["validate", str(d), "--plan", str(plan)])
    assert result.exit_code == 1
    assert "2013–2014" in result.output


def test_cli_plan_status(tmp_path, small_store):
    store_path, treated = small_store
    plan = plan_file(tmp_path, SHORT_PLAN)
    out = tmp_path / "status.csv"
    args = ["plan", "status", "--store", str(store_path), "--plan", str(plan)]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    status = pd.read_csv(out, dtype={"adcode": str}).set_index("target_id")
    assert status.loc["aff", "done"] == pytest.approx(treated, rel=1e-6)
    assert status.loc["aff", "pct_done"] == pytest.approx(treated / 1000 * 100, 1e-6)
    assert status.loc["area", "measured_by"] == "project_polygons"
    assert status.loc["tend", "done"] == 0
    assert status.loc["wz", "done"] == pytest.approx(treated, rel=1e-6)
    assert (status["period_start"] == 2013).all()


def test_cli_progress_and_report_with_plan(tmp_path, small_store):
    store_path, treated = small_store
    plan = plan_file(tmp_path, SHORT_PLAN)
    out = tmp_path / "p.xlsx"
    args = ["progress", "--store", str(store_path), "--plan", str(plan)]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    city = pd.read_excel(out, sheet_name="全市目标 City targets")
    assert set(city["年度 Year"]) == {2013, 2014}
    city = city.set_index(["目标代码 Target", "年度 Year"])
    pct = city.loc[("type_afforestation", 2014), "完成率 Percent done (%)"]
    assert pct == pytest.approx(treated / 1000 * 100, rel=1e-3)
    html = tmp_path / "r.html"
    args = ["report", "--store", str(store_path), "--plan", str(plan)]
    result = CliRunner().invoke(cli, [*args, "--out", str(html)])
    assert result.exit_code == 0, result.output
    text = html.read_text(encoding="utf-8")
    assert 'id="year" min="2013" max="2014"' in text
    assert "2013–2014 目标" in text
    duties = text[text.index('id="duty-table"') :]
    duties = duties[: duties.index("</table>")]
    assert "万州区" in duties and "needs the forest-resource layers" in duties
    assert f"{treated:,.0f}" in duties  # project work, shown apart


def test_report_duty_rows_met_or_short():
    table = pd.DataFrame(
        {
            "name_zh": ["万州区", "涪陵区"],
            "name_en": ["Wanzhou", "Fuling"],
            "metric": ["new_forest_area_mu", "new_stock_volume_m3"],
            "target": [500.0, 100.0],
            "done": [620.0, 70.0],
            "pct_done": [124.0, 70.0],
            "project_work": [300.0, np.nan],
        }
    )
    met, short = duty_rows({"district_targets": table})
    assert met["state"] == "met" and met["short_by"] == 0
    assert short["state"] == "short" and short["short_by"] == 30  # 100 − 70 m³
    assert short["unit"] == "m³" and short["project_work"] is None


# ---------------------------------------------------------------------------
# district duties and forest-area indicator transfers (hand-computed)
# ---------------------------------------------------------------------------


def test_duty_balance_with_a_transfer(tmp_path):
    plan = read_plan(
        plan_file(
            tmp_path,
            SHORT_PLAN
            + "fl,new_forest_area_mu,100,mu,eq,2013,2014,district,,,,,,涪陵区,,\n",
        )
    )
    moves = tmp_path / "transfers.csv"
    moves.write_text(
        "seller,buyer,area_wan_mu,year,price,document\n"
        "涪陵区,万州,0.008,2014,1000,示例\n"  # 80 mu, counted
        "涪陵区,万州区,0.1,2016,,\n",  # after the plan's period: not counted
        encoding="utf-8",
    )
    transfers = read_transfers(moves)
    assert transfers["area_mu"].tolist() == [80.0, 1000.0]
    status = status_table(hand_base(), plan, transfers=transfers)
    status = status.set_index("target_id")
    # physical figures unchanged: 万州 planted 250 mu, 涪陵 200 mu in 2013–2014
    assert status.loc["wz", "done"] == 250 and status.loc["fl", "done"] == 200
    # 涪陵 sold 80: credited 200 − 80 = 120 ≥ 100, met (surplus 100 → 20)
    assert status.loc["fl", "sold_mu"] == 80
    assert status.loc["fl", "credited_mu"] == 120
    assert status.loc["fl", "duty_status"] == "met"
    assert status.loc["fl", "short_by_mu"] == 0
    # 万州 bought 80: credited 250 + 80 = 330 of 500, short by 170
    assert status.loc["wz", "bought_mu"] == 80
    assert status.loc["wz", "credited_mu"] == 330
    assert status.loc["wz", "duty_status"] == "short"
    assert status.loc["wz", "short_by_mu"] == 170
    # city figures carry no duty accounting
    assert np.isnan(status.loc["area", "credited_mu"])
    assert status.loc["area", "duty_status"] == ""


def test_transfer_rows_are_checked(tmp_path):
    moves = tmp_path / "t.csv"
    moves.write_text(
        "seller,buyer,area_wan_mu,year\n涪陵区,火星区,1,2014\n万州区,万州区,-2,20x4\n",
        encoding="utf-8",
    )
    with pytest.raises(PlanError) as err:
        read_transfers(moves)
    text = str(err.value)
    assert "t.csv: row 2, column 'buyer'" in text and "火星区" in text
    assert "t.csv: row 3: seller and buyer are the same district" in text
    assert "t.csv: row 3, column 'area_wan_mu'" in text
    assert "t.csv: row 3, column 'year'" in text
    missing = tmp_path / "m.csv"
    missing.write_text("seller,buyer\n涪陵区,万州区\n", encoding="utf-8")
    with pytest.raises(PlanError, match="missing column"):
        read_transfers(missing)
