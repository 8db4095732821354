"""``forestsink inventory``: the forest-resource map (森林资源"一张图").

``load`` reads, checks and stores a year's county layers; ``stats`` writes the
official statistics of a year; ``change`` the change between two years with
the land-class transfer matrix; ``list`` the layers the store holds;
``export`` writes one year as a partitioned GeoParquet year dataset.

``stats`` and ``change`` take ``--engine local|dask``: ``--store`` is a
GeoPackage store, a year dataset (``inventory export``) or a folder whose
sub-folders are year datasets (see :mod:`forestsink.inventory.partitioned`).
"""

from __future__ import annotations

import sys

import click
import pandas as pd
from rich.progress import Progress

from forestsink.cli.options import (
    as_of_opt,
    engine_opt,
    out_option,
    scheduler_opt,
    store_opt,
)
from forestsink.cli.table import print_table, visible
from forestsink.inventory.crosscheck import coverage_crosscheck
from forestsink.inventory.load import (
    inventory_stand_table,
    inventory_statistics,
    load_inventory,
)
from forestsink.inventory.partitioned import change_of, export_inventory, statistics_of
from forestsink.io import read_coverage_table, write_sheets, write_table
from forestsink.scale.dataset import is_dataset
from forestsink.store import open_store

#: columns printed on the terminal (the file has them all)
_SHOWN = ("adcode", "name_zh", "forest_area_mu", "coverage_pct", "stock_m3", "note")
#: --store of stats and change: a store, or exported year datasets
inventory_store_opt = click.option(
    "--store",
    "store",
    required=True,
    help="项目库 (.gpkg)，或 `inventory export` 写出的年度数据集目录 (或存放各年"
    "数据集子目录的目录) / Store (.gpkg), or a year dataset written by `inventory "
    "export`, or a folder whose sub-folders are year datasets.",
)

_SHOWN_CHANGE = (
    "adcode",
    "name_zh",
    "forest_area_change_mu",
    "forest_gain_mu",
    "forest_loss_mu",
    "stock_change_m3",
    "method",
)


@click.group("inventory")
def inventory_group() -> None:
    """森林资源一张图 / Forest-resource map (一张图): load, stats, change, crosscheck.

    The official coverage, forest area and stock come from the bureau's
    sub-compartment (小班) layers, one per county and year (state at
    31 December); project polygons are the work done, rasters a cross-check.
    """


@inventory_group.command("load")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--year",
    type=int,
    required=True,
    help="图层年度 (12月31日状态) / Year the layers describe (31 December).",
)
@store_opt
@click.option(
    "--district",
    help="整个文件的区县 / County for the whole file (where it has no XIAN column).",
)
@click.option("--crs", help="坐标系 (覆盖文件自带) / CRS override, e.g. EPSG:4545.")
@click.option(
    "--encoding",
    help="属性表编码 / Shapefile text encoding (GBK, UTF-8); default: .cpg, else "
    "detected.",
)
@click.option("--layer", help="GeoPackage 图层 / GeoPackage layer to read.")
@click.option(
    "--aliases",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="自定义别名表 / Your aliases file (kind, alias, means, note); repeatable.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="替换已载入的同年区县图层（旧版本保留在历史中）/ Replace a county's layer "
    "already loaded for this year (the old one stays in the history).",
)
@click.option("--user", help="操作人 / Who is loading (default: login name).")
@click.option("--note", help="批次备注 / Note kept with the batch.")
def load_cmd(
    paths, year, store, district, crs, encoding, layer, aliases, replace, user, note
):
    """载入森林资源图层 / Load a year's forest-resource layers (all or nothing).

    Every file is read and checked before anything is written; one problem
    anywhere (unknown land class, duplicate 小班 key, overlapping 小班, a
    volume on non-forest land …) leaves the store as it was.
    """
    target = open_store(store)
    bar = Progress(transient=True, disable=not sys.stderr.isatty())
    task = bar.add_task("读取与校验 / reading and checking", total=None)
    with bar:
        result = load_inventory(
            paths,
            store=target,
            year=year,
            district=district,
            crs=crs,
            encoding=encoding,
            layer=layer,
            aliases=aliases,
            replace=replace,
            user=user,
            note=note,
            on_file=lambda name: bar.update(task, description=name),
        )
    for item in result.files:
        for line in item.notes:
            click.echo(f"  {visible(item.name)}: {visible(line)}")
    rows = [
        {**r, "result": label}
        for label, items in (
            ("已载入 loaded", result.loaded),
            ("已替换 replaced", result.replaced),
            ("未变 unchanged", result.unchanged),
        )
        for r in items
    ]
    if rows:
        frame = pd.DataFrame(rows)
        cols = [
            c
            for c in ("adcode", "year", "n_xiaoban", "source_name", "result")
            if c in frame
        ]
        print_table(frame[cols].convert_dtypes(), title="载入结果 / Load result")
    if result.batch_id is None:
        click.echo("无变化，未写入 / Nothing changed; nothing written.")
    else:
        click.echo(f"批次 / batch {result.batch_id}")


@inventory_group.command("stats")
@inventory_store_opt
@click.option("--year", type=int, required=True, help="年度 / Layer year.")
@as_of_opt
@out_option("输出表 (.csv/.xlsx/.json) / Output table (.csv/.xlsx/.json).")
@click.option(
    "--by-stand",
    "stand_out",
    type=click.Path(dir_okay=False),
    help="乔木林按优势树种组×龄组×起源另存 / Also write arbor forest by species "
    "group × age group × origin here (an .xlsx --out holds it as a second sheet).",
)
@engine_opt
@scheduler_opt
def stats_cmd(store, year, as_of, out, stand_out, engine, scheduler) -> None:
    """森林覆盖率、森林面积、蓄积 / Official coverage, forest area and stock.

    Per district and city: total area (district polygon on the ellipsoid,
    water included), forest area (乔木林+竹林+国家特别规定灌木林), coverage =
    forest ÷ total area, forest-land area, standing stock (Σ HUO_LMGQXJ × ha,
    or the 小班's own volume: stock_basis says which). A district without a
    layer for the year says so; it is never filled in.

    --engine dask sums the 小班 in Dask tasks, a group of districts each,
    from a year dataset (a store is exported to a temporary one first).
    """
    stats = statistics_of(
        store, year=year, as_of=as_of, engine=engine, scheduler=scheduler
    )
    xlsx = str(out).lower().endswith(".xlsx")
    stand = None
    if stand_out or (xlsx and not is_dataset(store)):
        # (from the store's SQL sums; a year dataset has no stand table)
        stand = inventory_stand_table(open_store(store), year=year, as_of=as_of)
    if xlsx and stand is not None:
        write_sheets({"statistics": stats, "by_stand": stand}, out)
    else:
        write_table(stats, out, sheet="statistics")
    if stand_out:
        write_table(stand, stand_out, sheet="by_stand")
    print_table(
        stats[list(_SHOWN)], title=f"{year} 年森林资源统计 / forest statistics {year}"
    )
    click.echo(f"已写出 / Written: {out}")


@inventory_group.command("change")
@inventory_store_opt
@click.option(
    "--from", "year_from", type=int, required=True, help="起始年 / Earlier year."
)
@click.option("--to", "year_to", type=int, required=True, help="终止年 / Later year.")
@as_of_opt
@out_option("输出表 (.csv/.xlsx/.json) / Output table (.csv/.xlsx/.json).")
@click.option(
    "--matrix",
    "matrix_out",
    type=click.Path(dir_okay=False),
    help="地类转移矩阵另存 / Also write the transfer matrix here (.csv/.xlsx/.json; "
    "an .xlsx --out holds it as a second sheet).",
)
@engine_opt
@scheduler_opt
def change_cmd(
    store, year_from, year_to, as_of, out, matrix_out, engine, scheduler
) -> None:
    """两期森林资源变化 / Change of forest area and stock between two years.

    Net change, gross gain and loss, and the land-class transfer matrix
    (from group → to group, mu, with the change reason). Per district, from
    the later layer's previous class (Q_DI_LEI) where it matches the earlier
    layer, else from an overlay of the two layers: `method` says which.

    With year datasets, --store is the folder holding both years' datasets
    (e.g. inv/ with inv/2015 and inv/2020 from `inventory export`).
    """
    result = change_of(
        store,
        year_from=year_from,
        year_to=year_to,
        as_of=as_of,
        engine=engine,
        scheduler=scheduler,
    )
    if str(out).lower().endswith(".xlsx"):
        write_sheets(
            {"change": result.districts, "transfer_matrix": result.matrix}, out
        )
    else:
        write_table(result.districts, out, sheet="change")
    if matrix_out:
        write_table(result.matrix, matrix_out, sheet="transfer_matrix")
    print_table(
        result.districts[list(_SHOWN_CHANGE)],
        title=f"{year_from}–{year_to} 森林资源变化 / forest change",
    )
    click.echo(f"已写出 / Written: {out}")


@inventory_group.command("export")
@store_opt
@click.option("--year", type=int, required=True, help="年度 / Layer year.")
@as_of_opt
@out_option(
    "输出目录 (须不存在) / Dataset folder to create (must not exist).", folder=True
)
def export_cmd(store, year, as_of, out) -> None:
    """导出年度数据集 / Write a year's 小班 as partitioned GeoParquet.

    OUT/adcode=<code>/part-store.parquet (every stored column, geometry WKB,
    EPSG:4490) and OUT/_inventory.json (year, source store, batch): what
    `inventory stats` and `inventory change` read with --engine dask. Put
    the years side by side (inv/2015, inv/2020) and give --store inv.
    """
    meta = export_inventory(open_store(store), out, year=year, as_of=as_of)
    click.echo(
        f"已写出 / Written: {out} ({meta['n_xiaoban']:,} 小班, "
        f"{len(meta['districts'])} 区县 districts, {year})"
    )


@inventory_group.command("list")
@store_opt
@as_of_opt
@click.option(
    "--history",
    is_flag=True,
    help="包括已替换或撤销的图层 / Include replaced and undone layers.",
)
def list_cmd(store, as_of, history) -> None:
    """已载入的图层 / The county layers the store holds, per year."""
    snaps = open_store(store).inventory_snapshots(as_of=as_of, history=history)
    cols = [
        c
        for c in (
            "year",
            "adcode",
            "n_xiaoban",
            "area_mu",
            "batch_id",
            "source_name",
            "ended_batch",
            "end_reason",
        )
        if c in snaps
    ]
    print_table(
        snaps[cols].convert_dtypes(), title="森林资源图层 / forest-resource layers"
    )


@inventory_group.command("crosscheck")
@store_opt
@click.option("--year", type=int, required=True, help="年度 / Layer year.")
@click.option(
    "--coverage",
    "coverage_table",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="forestsink coverage 输出的表 / The table `forestsink coverage` wrote "
    "(.csv/.xlsx).",
)
@as_of_opt
@out_option("输出表 (.csv/.xlsx/.json) / Output table (.csv/.xlsx/.json).")
def crosscheck_cmd(store, year, coverage_table, as_of, out) -> None:
    """遥感覆盖率与一张图对照 / Raster coverage beside the official coverage.

    Per district and city: the forest-resource map's coverage (official), the
    land-cover raster's, their difference in percentage points, and why they
    differ (the raster's forest classes and denominator).
    """
    stats = inventory_statistics(open_store(store), year=year, as_of=as_of)
    coverage = read_coverage_table(coverage_table)
    table = coverage_crosscheck(stats, coverage)
    write_table(table, out, sheet="crosscheck")
    print_table(
        table[
            [
                "adcode",
                "name_zh",
                "inventory_coverage_pct",
                "raster_coverage_pct",
                "difference_pp",
            ]
        ],
        title=f"{year} 覆盖率对照 / coverage cross-check",
    )
    click.echo(f"已写出 / Written: {out}")
