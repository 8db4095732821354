"""``forestsink report``: the officials' offline HTML report.

Apart from ``progress`` and ``carbon`` because the report module loads
matplotlib and mapclassify (seconds): only this command pays for them.
"""

from __future__ import annotations

from pathlib import Path

import click

from forestsink.cli.options import (
    as_of_opt,
    growth_opt,
    out_option,
    params_opt,
    plan_opt,
    rules_opt,
    store_opt,
    targets_opt,
)
from forestsink.cli.plan import compare_plan_opt, transfers_opt
from forestsink.progress import shown_path
from forestsink.render.coverage_layer import coverage_for_report
from forestsink.render.report import build_report
from forestsink.sampling.tools import read_estimate
from forestsink.store import open_store


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
@click.option(
    "--sample-estimate",
    "sample_estimate",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="参考样本估计（forestsink sample estimate 写出的 .json 或 .xlsx）/ The "
    "reference-sample estimate (.json or .xlsx written by forestsink sample "
    "estimate): coverage and change shown as map vs sample-based ± 95 % interval.",
)
@as_of_opt
@targets_opt
@params_opt
@rules_opt
@growth_opt
@plan_opt
@transfers_opt
@compare_plan_opt
@out_option("输出 HTML / Output HTML file, e.g. maps/report.html.")
def report_cmd(
    store,
    coverage,
    product,
    sample_estimate,
    as_of,
    targets,
    params,
    rules,
    growth,
    plan,
    transfers,
    compare,
    out,
):
    """生成离线 HTML 报告 / Write the officials' offline HTML report.

    One self-contained file: opens in any browser, from a USB stick, with no
    network. Its numbers are the same tables progress, carbon and coverage
    write. --transfers: the district duties' accounting after indicator
    transfers, apart from the physical figures; --compare-plan: plans side by
    side, each over its own period.
    """
    table, overlay, extra = None, None, {}
    if coverage:
        table, overlay = coverage_for_report(list(coverage), product=product)
        folder = Path(store).parent if "://" not in str(store) else None
        shown = ", ".join(shown_path(c, base=folder) for c in coverage)
        extra["land_cover"] = f"{product}: {shown}"
    estimate = None
    if sample_estimate:
        try:
            estimate = read_estimate(sample_estimate)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--sample-estimate") from err
        folder = Path(store).parent if "://" not in str(store) else None
        extra["sample_estimate"] = shown_path(sample_estimate, base=folder)
    path = build_report(
        open_store(store),
        out,
        as_of=as_of,
        targets=targets,
        params=params,
        rules=rules,
        growth=growth,
        coverage=table,
        overlay=overlay,
        settings=extra,
        sample_estimate=estimate,
        plan=plan,
        transfers=transfers,
        compare=compare,
    )
    click.echo(f"已写出 / Written: {path} ({path.stat().st_size / 1e6:.1f} MB)")
