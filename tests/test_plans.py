"""Plans as data: the seed plan, a user plan file, row-level errors (#19)."""

from __future__ import annotations

import pandas as pd
import pytest

from forestsink.errors import PlanError
from forestsink.reference import check_plan, read_plan

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
    from forestsink.reference import data_path

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
