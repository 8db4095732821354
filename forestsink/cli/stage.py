"""``forestsink stage``: deliveries straight into a GeoParquet dataset."""

from __future__ import annotations

import sys
from contextlib import nullcontext

import click
from rich.progress import Progress

from forestsink.cli.ingest import print_report
from forestsink.cli.options import (
    engine_opt,
    out_option,
    parse_period,
    plan_opt,
    rules_opt,
    scheduler_opt,
)
from forestsink.coverage import read_zone_layer
from forestsink.landing.staging import stage_deliveries
from forestsink.scale.distributed import dask_client


@click.command("stage")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@out_option(
    "输出数据集目录（须不存在）/ Dataset folder to create (must not exist).",
    folder=True,
)
@click.option(
    "--zones",
    type=click.Path(exists=True, dir_okay=False),
    help="区县边界图层 (含 adcode, name_zh) / District polygons with adcode and "
    "name_zh (default: Chongqing's 38 districts).",
)
@click.option(
    "--period",
    default=None,
    help="允许的年度 / Allowed years (default: the plan's period).",
)
@plan_opt
@rules_opt
@engine_opt
@scheduler_opt
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    help="问题清单 (.csv/.xlsx) / Write every issue to this file.",
)
def stage_cmd(paths, out, zones, period, plan, rules, engine, scheduler, report_path):
    """交付文件直接写成分区 GeoParquet / Check deliveries and write a dataset.

    For country-scale inventories (tens of millions of 小班): every file is
    read and checked as `validate` does, its ellipsoidal area added, and the
    polygons written to OUT as GeoParquet partitioned by district
    (adcode=…/), one task per file, on Dask workers with --engine dask.
    Nothing is written if any file has an error. No history is kept: use
    `ingest` for the versioned store. Progress then reads the dataset:
    `forestsink progress --store OUT --engine dask`.
    """
    zone_frame = None
    if zones:
        zone_frame = read_zone_layer(zones)
        missing = {"adcode", "name_zh"} - set(zone_frame.columns)
        if missing:
            raise click.BadParameter(
                f"{zones}: needs columns {sorted(missing)} (found "
                f"{list(zone_frame.columns)}).",
                param_hint="--zones",
            )

    cluster = dask_client(scheduler=scheduler) if engine == "dask" else nullcontext()
    bar = Progress(transient=True, disable=not sys.stderr.isatty())
    task = bar.add_task("读取与校验 / reading and checking", total=None)
    with cluster as client, bar:
        report = stage_deliveries(
            paths,
            out,
            zones=zone_frame,
            period=parse_period(period, plan),
            rules=rules,
            client=client,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    print_report(report, report_path)
    if not report.ok:
        click.secho(
            "有错误，未写出数据集 / Errors found: nothing was written.", fg="red"
        )
        sys.exit(1)
    click.echo(
        f"已写出 / Written: {report.written} ({report.polygons:,} polygons from "
        f"{report.files} files)"
    )
