"""``forestsink progress`` and ``forestsink carbon``."""

from __future__ import annotations

import click

from forestsink.cli.options import (
    as_of_opt,
    engine_opt,
    out_option,
    params_opt,
    rules_opt,
    scheduler_opt,
    store_opt,
    targets_opt,
)


@click.command("progress")
@store_opt
@as_of_opt
@targets_opt
@click.option(
    "--by",
    type=click.Choice(["district", "region", "unit", "city"]),
    default="district",
    show_default=True,
    help="汇总口径 / View: district, region, assessment unit or city.",
)
@click.option("--year", type=int, help="只看某一年度 / Only this year.")
@rules_opt
@params_opt
@click.option(
    "--coverage",
    "coverage_table",
    type=click.Path(exists=True, dir_okay=False),
    help="覆盖率表 (forestsink coverage 输出) / Coverage table for the 45 % target.",
)
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
    rules,
    params,
    coverage_table,
    engine,
    scheduler,
    partitions,
    out,
):
    """规划目标完成情况 / Progress against the plan's targets.

    Areas in mu on the ellipsoid; overlaps counted once in net area; polygons
    crossing a district boundary split by area. CSV and JSON carry the chosen
    view (--by); Excel carries every view, the city targets and the sources.
    """
    from forestsink.io import read_table, write_tables
    from forestsink.progress import progress_tables
    from forestsink.store import open_store

    coverage = None
    if coverage_table:
        coverage = read_table(coverage_table, dtype={"adcode": str}, sheet="coverage")
    result = progress_tables(
        open_store(store),
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
    )
    write_tables(result, out, main="progress")
    city = result.tables["city_targets"]
    final = city[city["year"] == city["year"].max()]
    for r in final.itertuples():
        if r.pct_done == r.pct_done:  # not NaN
            click.echo(
                f"  {r.name_zh} / {r.name_en}: {r.cumulative:,.0f} / "
                f"{r.target:,.0f} {r.unit} ({r.pct_done:.1f} %)"
            )
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
@rules_opt
@out_option("输出 (.csv/.xlsx/.json) / Output file (.csv, .xlsx or .json).")
def carbon_cmd(store, as_of, params, draws, seed, bvf_excludes_roots, rules, out):
    """碳汇估算及不确定性 / Carbon sink with its 90 % interval.

    CO2 = ΔV × D × BEF × (1+R) × CF × 44/12 per forest type (Fang's
    biomass–volume slope replaces D × BEF where shipped); Monte Carlo over the
    parameters whose sources give a spread, and the IPCC approach-1 figure.
    """
    from forestsink.io import write_tables
    from forestsink.progress import carbon_tables
    from forestsink.store import open_store

    result = carbon_tables(
        open_store(store),
        as_of=as_of,
        params=params,
        rules=rules,
        draws=draws,
        seed=seed,
        bvf_includes_roots=not bvf_excludes_roots,
    )
    write_tables(result, out, main="carbon")
    city = result.tables["carbon"].set_index("adcode").loc["500000"]
    click.echo(
        f"  全市碳汇 / city sink: {city['co2_t']:,.0f} t CO₂ "
        f"(90 %: {city['co2_t_p05']:,.0f} – {city['co2_t_p95']:,.0f}); "
        f"IPCC approach 1: {city['co2_t_ipcc_low']:,.0f} – "
        f"{city['co2_t_ipcc_high']:,.0f}"
    )
    if city["area_not_estimated_mu"] > 0:
        click.echo(
            f"  未估算面积 / area not estimated: "
            f"{city['area_not_estimated_mu']:,.0f} mu (bamboo or no ΔV)"
        )
    click.echo(f"已写出 / Written: {out}")


@click.command("report")
@store_opt
@click.option(
    "--coverage",
    "coverage",
    nargs=2,
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="两期土地覆盖栅格 T1 T2 / Two land-cover rasters (first and last year).",
)
@click.option(
    "--product",
    default="clcd",
    show_default=True,
    help="土地覆盖产品 / Land-cover product of the rasters.",
)
@as_of_opt
@targets_opt
@params_opt
@rules_opt
@out_option("输出 HTML / Output HTML file, e.g. maps/report.html.")
def report_cmd(store, coverage, product, as_of, targets, params, rules, out):
    """生成离线 HTML 报告 / Write the officials' offline HTML report.

    One self-contained file: opens in any browser, from a USB stick, with no
    network. Its numbers are the same tables progress, carbon and coverage
    write.
    """
    from forestsink.render.report import build_report
    from forestsink.store import open_store

    table, overlay, extra = None, None, {}
    if coverage:
        from forestsink.render.coverage_layer import coverage_for_report

        table, overlay = coverage_for_report(list(coverage), product=product)
        extra["land_cover"] = f"{product}: {', '.join(coverage)}"
    path = build_report(
        open_store(store),
        out,
        as_of=as_of,
        targets=targets,
        params=params,
        rules=rules,
        coverage=table,
        overlay=overlay,
        settings=extra,
    )
    click.echo(f"已写出 / Written: {path} ({path.stat().st_size / 1e6:.1f} MB)")
