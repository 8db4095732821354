"""``forestsink progress`` and ``forestsink carbon``: the plan's tables and CO₂."""

from __future__ import annotations

import math

import click
import pandas as pd

from forestsink.carbon import (
    AREA_ERROR_PCT,
    VOLUME_ERROR_PCT,
    choose_years,
    forest_sink_tables,
)
from forestsink.cli.options import (
    as_of_opt,
    engine_opt,
    growth_opt,
    out_option,
    params_opt,
    plan_opt,
    rules_opt,
    scheduler_opt,
    store_opt,
    targets_opt,
)
from forestsink.cli.plan import compare_plan_opt, transfers_opt
from forestsink.cli.table import print_table
from forestsink.errors import ForestsinkError
from forestsink.inventory.load import statistics_by_year
from forestsink.io import read_coverage_table
from forestsink.progress import (
    NO_DATA,
    VIEWS,
    carbon_tables,
    progress_tables_compared,
)
from forestsink.render.workbook import write_tables
from forestsink.store import open_store

#: how a city target was measured, as printed after its figure
_MEASURED_BY = {
    "resource_statistics": " — 森林资源一张图 / forest-resource map",
    "coverage": " — 遥感栅格 / land-cover raster",
    "cross_check": " — 遥感校核，非官方 / raster cross-check, not official",
}


def _fmt(value: float, unit: str = "") -> str:
    """Format a figure, or say it is not estimable."""
    if math.isnan(value):
        return "不可估算 / not estimable"
    return f"{value:,.0f}{' ' + unit if unit else ''}"


@click.command("progress")
@store_opt
@as_of_opt
@targets_opt
@click.option(
    "--by",
    type=click.Choice(VIEWS),
    default="district",
    show_default=True,
    help="汇总口径 / View: district, region, assessment unit or city.",
)
@click.option("--year", type=int, help="只看某一年度 / Only this year.")
@plan_opt
@rules_opt
@params_opt
@growth_opt
@click.option(
    "--coverage",
    "coverage_table",
    type=click.Path(exists=True, dir_okay=False),
    help="覆盖率表 (forestsink coverage 输出) / Coverage table for the plan's "
    "coverage target and the districts' coverage duties (without the "
    "forest-resource map).",
)
@transfers_opt
@compare_plan_opt
@engine_opt
@scheduler_opt
@click.option(
    "--partitions",
    type=int,
    help="分区数 / Dask partitions (groups of whole districts).",
)
@out_option("输出 (.csv/.xlsx/.json) / Output file (.csv, .xlsx or .json).")
def progress_cmd(
    store,
    as_of,
    targets,
    by,
    year,
    plan,
    rules,
    params,
    growth,
    coverage_table,
    transfers,
    compare,
    engine,
    scheduler,
    partitions,
    out,
):
    """项目作业与规划目标 / Project work, and what measures the plan's targets.

    Project work: areas in mu on the ellipsoid; overlaps counted once in net
    area; polygons crossing a district boundary split by area. Delivered 蓄积
    is shown as 现存蓄积 / standing stock, never as new stock volume. The
    plan's new forest area and new stock volume are whole-forest statistics:
    需森林资源一张图 / they need the forest-resource layers. CSV and JSON
    carry the chosen view (--by); Excel every view, the city targets and the
    sources. --transfers: indicator transfers, counted in the district
    duties' accounting only (district targets sheet). --compare-plan: the
    plans side by side (sheet "plans" of an .xlsx, and printed), each plan
    measured over its own period; 无数据 / no data where the store holds
    nothing for a plan's years.
    """
    coverage = None
    if coverage_table:
        coverage = read_coverage_table(coverage_table)
    target = open_store(store)
    result = progress_tables_compared(
        target,
        compare=compare,
        transfers=transfers,
        as_of=as_of,
        by=by,
        year=year,
        targets=targets,
        rules=rules,
        params=params,
        coverage=coverage,
        engine=engine,
        scheduler=scheduler,
        partitions=partitions,
        growth=growth,
        inventory=statistics_by_year(target, as_of=as_of),
        plan=plan,
    )
    write_tables(result, out, main="progress")
    _print_progress_summary(result)
    if "plans" in result.tables:
        _print_plans(result.tables["plans"])
    click.echo(f"已写出 / Written: {out}")


@click.command("carbon")
@store_opt
@as_of_opt
@params_opt
@click.option(
    "--draws",
    type=int,
    default=10_000,
    show_default=True,
    help="蒙特卡洛次数 / Monte Carlo draws.",
)
@click.option(
    "--seed",
    type=int,
    default=2012,
    show_default=True,
    help="随机种子 / Random seed (same seed, same numbers).",
)
@click.option(
    "--bvf-excludes-roots",
    is_flag=True,
    help="生物量-蓄积换算不含根 / Treat Fang's B as above-ground: apply (1+R).",
)
@click.option(
    "--from",
    "year_from",
    type=int,
    default=None,
    help="森林资源一张图起始年 / First inventory year of the whole-forest sink "
    "(default: the plan's base year if held, else the first year held).",
)
@click.option(
    "--to",
    "year_to",
    type=int,
    default=None,
    help="森林资源一张图终止年 / Last inventory year (default: the plan's last "
    "year if held, else the last year held).",
)
@click.option(
    "--method",
    type=click.Choice(["stock-difference", "gain-loss", "both", "project-increment"]),
    default="both",
    show_default=True,
    help="全森林碳汇方法 / Whole-forest sink route: stock difference (IPCC Eq. "
    "2.8), gain-loss (needs GR/CR rows in --params) or both; project-increment "
    "reports the projects' increment CO₂ even when inventory years are held.",
)
@click.option(
    "--area-error",
    type=float,
    default=AREA_ERROR_PCT,
    show_default=True,
    help="面积测量误差 %（1σ，项目假设）/ Relative error of each species group's "
    "yearly area total (%, 1σ; a stated assumption).",
)
@click.option(
    "--volume-error",
    type=float,
    default=VOLUME_ERROR_PCT,
    show_default=True,
    help="蓄积测量误差 %（1σ，项目假设）/ Relative error of each species group's "
    "yearly volume total (%, 1σ; a stated assumption).",
)
@rules_opt
@growth_opt
@plan_opt
@out_option("输出 (.csv/.xlsx/.json) / Output file (.csv, .xlsx or .json).")
def carbon_cmd(
    store,
    as_of,
    params,
    draws,
    seed,
    bvf_excludes_roots,
    year_from,
    year_to,
    method,
    area_error,
    volume_error,
    rules,
    growth,
    plan,
    out,
):
    """森林碳汇或项目增量 CO₂ / The whole forest's carbon sink, or project CO₂.

    With two forest-resource inventory years in the store (一张图; or --from
    and --to), the whole forest's sink per district and city: stock
    difference (IPCC 2006 Vol. 4 Eq. 2.8, biomass B = a·V + b per species
    group × CF, × 44/12; positive = removal from the atmosphere) and, when
    --params supplies GR/CR, gain-loss; Monte Carlo over every input, the
    IPCC approach-1 interval, a sensitivity table and the parameters'
    sources.

    Otherwise the project increment only: before/after volumes delivered for
    the same land, or your growth table (--growth) net of its baseline.
    Delivered standing stocks (蓄积) never enter; without either, 不可估算 /
    not estimable. CO2 = ΔV × D × BEF × (1+R) × CF × 44/12 per forest type
    (Fang's biomass–volume slope replaces D × BEF where shipped).
    """
    opened = open_store(store)
    try:  # a GeoParquet dataset holds no inventory layers: project increment
        years = opened.inventory_years(as_of=as_of)
    except (AttributeError, ForestsinkError):
        years = []
    chosen = (
        None
        if method == "project-increment"
        else choose_years(years, year_from, year_to, plan=plan)
    )
    if chosen is not None:
        _sink(
            opened,
            chosen,
            as_of=as_of,
            params=params,
            draws=draws,
            seed=seed,
            roots_excluded=bvf_excludes_roots,
            method=method,
            area_error=area_error,
            volume_error=volume_error,
            out=out,
        )
        return
    result = carbon_tables(
        opened,
        as_of=as_of,
        params=params,
        rules=rules,
        draws=draws,
        seed=seed,
        bvf_includes_roots=not bvf_excludes_roots,
        growth=growth,
        plan=plan,
    )
    write_tables(result, out, main="carbon")
    _print_increment_summary(result)
    click.echo(f"已写出 / Written: {out}")


def _print_progress_summary(result) -> None:
    """Print the city targets and the city's stock and increment figures."""
    city = result.tables["city_targets"]
    final = city[city["year"] == city["year"].max()]
    for r in final.itertuples():
        if r.status == "needs_resource_layers":
            click.echo(
                f"  {r.name_zh} / {r.name_en}: 需森林资源一张图 / needs the "
                "forest-resource layers (not measurable from project polygons)"
            )
        elif r.pct_done == r.pct_done:  # not NaN
            digits = 1 if r.unit == "%" else 0
            what = _MEASURED_BY.get(r.status, "")
            click.echo(
                f"  {r.name_zh} / {r.name_en}: {r.cumulative:,.{digits}f} / "
                f"{r.target:,.{digits}f} {r.unit} ({r.pct_done:.1f} %){what}"
            )
        elif r.status == "project_work":
            click.echo(f"  {r.name_zh} / {r.name_en}: {r.cumulative:,.0f} {r.unit}")
    base = result.tables["city"]
    stock = base["stock_volume_m3"].sum(min_count=1)
    measured = base["increment_measured_m3"].sum(min_count=1)
    model = base["increment_model_m3"].sum(min_count=1)
    click.echo(
        f"  现存蓄积（上报，非增量）/ standing stock delivered (not an increment): "
        f"{_fmt(stock, 'm³')}"
    )
    click.echo(
        f"  项目增量（改造前后实测）/ project increment (measured before/after): "
        f"{_fmt(measured, 'm³')}"
    )
    click.echo(
        f"  项目增量（模型，扣除基线）/ project increment (model, with baseline): "
        f"{_fmt(model, 'm³')}"
    )
    click.echo(
        f"  增量不可估算面积 / area with increment not estimable: "
        f"{base['increment_not_estimable_mu'].sum():,.0f} mu"
    )


#: what measured a figure of the plans compared, as printed after it
_BY = {
    "forest_resource_map": " 一张图 map",
    "project_polygons": " 项目 projects",
    "rasters": " 栅格 raster",
}


#: the resource statistics (measured by project work only without the map)
_RESOURCE_METRICS = ("new_forest_area_mu", "new_stock_volume_m3")


def _print_plans(table: pd.DataFrame) -> None:
    """Print the plans side by side: per plan, done / target (% done)."""
    shown = table[["item_zh", "unit"]].copy()
    for plan in table.attrs.get("plans", []):
        label = plan["label"]
        cells = []
        for metric, done, target, pct, by in zip(
            table["metric"],
            table[f"{label} done"],
            table[f"{label} target"],
            table[f"{label} pct_done"],
            table[f"{label} measured_by"],
            strict=True,
        ):
            if pd.isna(target):
                cells.append("")
            elif isinstance(done, str) or pd.isna(done):
                cells.append(
                    f"{done if isinstance(done, str) else '—'} / {target:,.0f}"
                )
            else:
                digits = 1 if abs(target) < 100 else 0
                pct_text = f" ({pct:.1f} %)" if pd.notna(pct) else ""
                what = _BY.get(by, "")
                if by == "project_polygons" and metric in _RESOURCE_METRICS:
                    what = " 项目作业，非资源变化 / project work, not resource change"
                cells.append(
                    f"{done:,.{digits}f} / {target:,.{digits}f}{pct_text}{what}"
                )
        shown[f"{label} 完成/目标 done/target"] = cells
    print_table(
        shown,
        title="规划对比 / Plans side by side: "
        + "; ".join(f"{p['label']} {p['name']}" for p in table.attrs.get("plans", [])),
    )
    click.echo(
        f"  {NO_DATA}: 库中无该规划期的数据 / the store holds nothing for those years"
    )


def _print_increment_summary(result) -> None:
    """Print the city's project-increment CO₂, its spread and what is not estimable."""
    city = result.tables["carbon"].set_index("adcode").loc["500000"]
    label = "全市项目增量 CO₂ / city project increment CO₂"
    if city["method"] == "not_estimable":
        click.echo(
            f"  {label}: 不可估算 / not estimable (no before/after volumes "
            "delivered and no --growth table)"
        )
    else:
        if city["co2_t_p95"] - city["co2_t_p05"] > 0:
            spread = (
                f"90 %: {city['co2_t_p05']:,.0f} – {city['co2_t_p95']:,.0f}; "
                f"IPCC approach 1: {city['co2_t_ipcc_low']:,.0f} – "
                f"{city['co2_t_ipcc_high']:,.0f}"
            )
        else:  # no parameter of the types used has a stated spread
            spread = "无给定不确定度 / no stated spread"
        if pd.isna(city["co2_t_per_yr"]):
            per_yr = (
                "年均不适用：实测前后蓄积无测量年份 / no per-year figure: the "
                "before/after measurement has no stated years"
            )
        else:
            per_yr = f"{city['co2_t_per_yr']:,.0f} t CO₂/yr over {city['years']} years"
        click.echo(
            f"  {label} ({city['method']}): {city['co2_t']:,.0f} t CO₂ by "
            f"{result.settings['growth_end_year']} ({spread}); {per_yr}"
        )
    if city["area_not_estimable_mu"] > 0:
        click.echo(
            f"  不可估算面积 / area not estimable: "
            f"{city['area_not_estimable_mu']:,.0f} mu (no before/after volumes, "
            "no growth-table row, or bamboo)"
        )
    click.echo(
        "  非森林碳汇（全市碳汇由两期森林资源一张图计算：forestsink carbon 不加 "
        "--method project-increment）/ not the forest carbon sink (computed from "
        "two forest-resource inventories: forestsink carbon without --method "
        "project-increment)"
    )


def _sink(store, years, *, out, **kw) -> None:
    """Whole-forest sink: call the library verb, write, print the city line."""
    year_from, year_to = years
    result = forest_sink_tables(
        store,
        year_from=year_from,
        year_to=year_to,
        as_of=kw["as_of"],
        params=kw["params"],
        draws=kw["draws"],
        seed=kw["seed"],
        roots_excluded=kw["roots_excluded"],
        method=kw["method"],
        area_error_pct=kw["area_error"],
        volume_error_pct=kw["volume_error"],
    )
    write_tables(result, out, main="sink")
    sink = result.tables["sink"]
    drivers = result.tables["drivers"]
    click.echo(
        f"全森林碳汇 {year_from}–{year_to}（正值=从大气移除）/ whole-forest carbon "
        f"sink {year_from}–{year_to} (positive = removal from the atmosphere):"
    )
    for row in sink[sink["adcode"] == "500000"].itertuples():
        label = {
            "stock_difference": "存量差法 / stock difference",
            "gain_loss": "增减法 / gain-loss",
        }[row.method]
        if math.isnan(row.co2_t_per_yr):
            click.echo(f"  {label}: {row.note}")
            continue
        click.echo(
            f"  {label}: {row.co2_t_per_yr:,.0f} t CO₂/yr "
            f"(90 %: {row.co2_t_per_yr_p05:,.0f} – {row.co2_t_per_yr_p95:,.0f}, "
            f"±{row.interval_pct:.0f} %; IPCC approach 1: "
            f"{row.co2_t_per_yr_ipcc_low:,.0f} – {row.co2_t_per_yr_ipcc_high:,.0f})"
        )
        top = drivers[drivers["method"] == row.method]
        if len(top):
            words = "; ".join(
                f"{d.zh} / {d.en} {d.variance_share:.0%}" for d in top.itertuples()
            )
            click.echo(
                f"    不确定性主要来源 / main drivers of the uncertainty: {words}"
            )
        click.echo(
            f"    另一种根系读法 / other reading of roots: "
            f"{row.co2_t_per_yr_other_roots:,.0f} t CO₂/yr"
        )
    click.echo(f"已写出 / Written: {out}")
