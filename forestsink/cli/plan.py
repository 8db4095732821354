"""``forestsink plan``: check, show and track a plan (targets as data)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from forestsink.cli.options import (
    as_of_opt,
    growth_opt,
    out_option,
    plan_opt,
    rules_opt,
    store_opt,
)
from forestsink.cli.table import print_table
from forestsink.errors import PlanError
from forestsink.inventory.load import statistics_by_year
from forestsink.io import read_coverage_table
from forestsink.progress import Tables, plan_label, plan_status
from forestsink.reference import check_plan, read_plan, read_transfers
from forestsink.render.workbook import write_tables
from forestsink.store import open_store


def _check_transfers(ctx, param, value):
    """Click callback: check ``--transfers FILE`` at once (rows named)."""
    if value is None:
        return None
    try:
        read_transfers(value)
    except PlanError as err:
        raise click.BadParameter(str(err), param_hint="--transfers") from err
    return value


#: the word ``--compare-plan`` takes for the shipped plan
SEED = "seed"


def _load_plans(ctx, param, value):
    """Click callback: read and check every ``--compare-plan FILE`` (or seed)."""
    plans = []
    for v in value:
        if v == SEED:
            plans.append(read_plan())
            continue
        if not Path(v).is_file():
            raise click.BadParameter(
                f"{v}: no such file / 文件不存在; give a plan file, or "
                f"'{SEED}' for the shipped plan.",
                param_hint="--compare-plan",
            )
        try:
            plans.append(read_plan(v))
        except PlanError as err:
            raise click.BadParameter(str(err), param_hint="--compare-plan") from err
    return tuple(plans)


transfers_opt = click.option(
    "--transfers",
    type=click.Path(exists=True, dir_okay=False),
    callback=_check_transfers,
    help="森林面积指标交易表 (seller, buyer, area_wan_mu, year, price, document; "
    "格式见 data/transfers.EXAMPLE.csv) / Forest-area indicator transfers between "
    "districts: counted in the district duties' accounting only, never in the "
    "physical figures.",
)
compare_plan_opt = click.option(
    "--compare-plan",
    "compare",
    multiple=True,
    metavar="FILE|seed",
    callback=_load_plans,
    help="并列对比的规划文件，可多次使用 / Another plan shown side by side with "
    "--plan (default: the shipped plan), each over its own period from the same "
    "store; 'seed' is the shipped plan; repeat for more plans.",
)


@click.group("plan")
def plan_group() -> None:
    """规划：检查、显示、进度 / A plan: check a plan file, show it, track it."""


@plan_group.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def check_cmd(path) -> None:
    """检查规划文件 / Check a plan file, row by row (exit 1 on errors).

    PATH is a CSV (UTF-8 or GBK) or Excel file with the columns of
    data/plan_targets.csv plus plan_start and plan_end (see
    data/plan.EXAMPLE.csv).
    """
    problems = check_plan(path)
    if problems:
        click.secho(
            f"规划文件有 {len(problems)} 处错误 / {len(problems)} problem(s) "
            f"in {click.format_filename(path)}:",
            fg="red",
        )
        for problem in problems:
            click.echo(f"  {problem}")
        sys.exit(1)
    plan = read_plan(path)
    click.echo(
        f"规划文件无误 / The plan file is valid: {plan.name}, {plan.label}, "
        f"base year {plan.base_year}, {len(plan.targets)} targets "
        f"({len(plan.duties)} district duties)."
    )


@plan_group.command("show")
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False))
def show_cmd(path) -> None:
    """显示规划 / Print a plan (default: the shipped plan)."""
    plan = read_plan(path)
    click.echo(f"{plan.name}")
    if plan.name_en:
        click.echo(plan.name_en)
    click.echo(
        f"文号 / document: {plan.document or '—'} · 规划期 / period: {plan.label} · "
        f"基准年 / base year: {plan.base_year} · 来源 / source: {plan.source}"
    )
    columns = [
        "target_id",
        "metric",
        "value",
        "unit",
        "qualifier",
        "period_start",
        "period_end",
        "scope",
        "programme_zh",
        "project_type",
    ]
    print_table(plan.targets[columns], title="目标 / Targets")
    if len(plan.duties):
        print_table(plan.duties, title="区县任务 / District duties")


@plan_group.command("status")
@store_opt
@plan_opt
@as_of_opt
@click.option(
    "--coverage",
    "coverage_table",
    type=click.Path(exists=True, dir_okay=False),
    help="覆盖率表 (forestsink coverage 输出) / Coverage table for coverage targets.",
)
@transfers_opt
@rules_opt
@growth_opt
@out_option("输出 (.csv/.xlsx/.json) / Output file (.csv, .xlsx or .json).")
def status_cmd(
    store, plan, as_of, coverage_table, transfers, rules, growth, out
) -> None:
    """规划目标完成情况 / Every target of a plan: done, % done, measured by.

    measured_by: forest_resource_map (the store holds the plan's base year
    and a plan year of the forest-resource map), project_polygons (area
    treated or planted in the target's years; without inventory years, area
    and stock targets are measured by project work and the note says so),
    rasters (a coverage table) or not_measured.
    """
    plan = read_plan(plan)
    target = open_store(store)
    coverage = read_coverage_table(coverage_table) if coverage_table else None
    try:
        moved = read_transfers(transfers) if transfers else None
    except PlanError as err:
        raise click.BadParameter(str(err), param_hint="--transfers") from err
    table = plan_status(
        target,
        plan=plan,
        as_of=as_of,
        inventory=statistics_by_year(target, as_of=as_of),
        coverage=coverage,
        rules=rules,
        growth=growth,
        transfers=moved,
    )
    write_tables(
        Tables(tables={"plan_status": table}, settings={"plan": plan_label(plan)}),
        out,
        main="plan_status",
    )
    shown = table[["target_id", "value", "unit", "done", "pct_done", "measured_by"]]
    print_table(
        shown.assign(pct_done=shown["pct_done"].round(1)),
        title=f"{plan.name} {plan.label}",
    )
    click.echo(f"已写出 / Written: {out}")
