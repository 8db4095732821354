"""``forestsink coverage``: forest coverage per district from land-cover rasters."""

from __future__ import annotations

import logging
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import click
import pandas as pd
from rich.progress import Progress

from forestsink.cli.options import finite_number, flag_hint, out_option
from forestsink.cli.table import print_table, visible
from forestsink.coverage import (
    compute_coverage,
    make_overlay,
    write_coverage,
    write_overlay,
)
from forestsink.errors import ForestsinkWarning

_log = logging.getLogger(__name__)

_TABLE_SUFFIXES = (".csv", ".xlsx", ".json", ".gpkg", ".geojson")


def _parse_years(year: int | None, years: str | None, n: int) -> list[int] | None:
    if year is not None and years is not None:
        raise click.UsageError("give --year or --years, not both")
    if year is not None:
        if n != 1:
            raise click.UsageError(
                "--year is for one raster; with two use --years 2010,2015"
            )
        return [year]
    if years is None:
        return None
    try:
        parsed = [int(y) for y in years.replace(" ", "").split(",") if y]
    except ValueError as err:
        raise click.BadParameter(
            "use YEAR,YEAR, e.g. 2010,2015 / 请用 2010,2015 的形式",
            param_hint="--years",
        ) from err
    if len(parsed) != n:
        raise click.BadParameter(
            f"{n} raster(s) need {n} year(s), got {len(parsed)} / 年份个数与栅格不符",
            param_hint="--years",
        )
    return parsed


def _progress():
    """Return (progress bar, callback(done, total))."""
    bar = Progress(transient=True, disable=not sys.stderr.isatty())
    task = bar.add_task("读取栅格 / reading rasters", total=None)

    def tick(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, tick


def _print_summary(result) -> None:

    table = result.table
    years = result.years
    n = len(years)
    first = table.iloc[::n].reset_index(drop=True)
    last = table.iloc[n - 1 :: n].reset_index(drop=True)
    ids = ["zone_id"] if "zone_id" in table.columns else ["adcode"]
    out = pd.DataFrame({c: first[c] for c in [*ids, "name_zh"]})
    out[f"森林 forest {years[-1]} 万亩"] = last["forest_area_mu"] / 1e4
    out[f"土地 land {years[-1]} 万亩"] = last["land_area_mu"] / 1e4
    for i, y in enumerate(years):
        out[f"覆盖率 coverage {y} %"] = table.iloc[i::n]["coverage_pct"].to_numpy()
    if n == 2:
        out["变化 change pp"] = last["coverage_change_pp"]
        if "forest_gain_mu" in last.columns:
            out["增 gain 万亩"] = last["forest_gain_mu"] / 1e4
            out["减 loss 万亩"] = last["forest_loss_mu"] / 1e4
    print_table(out, title="森林覆盖率 / forest coverage")
    if result.transitions is not None:
        _print_matrix(result)


def _print_matrix(result) -> None:
    tr = result.transitions
    top = tr[tr["level"].isin(["city", "total"])]
    if top.empty:
        return
    label = top["from_code"] + " " + top["from_name_zh"]
    to = top["to_code"] + " " + top["to_name_zh"]
    matrix = (
        top.assign(src=label, dst=to)
        .pivot_table(index="src", columns="dst", values="area_mu", aggfunc="sum")
        .fillna(0.0)
        / 1e4
    )
    matrix.index.name = f"{result.years[0]} → {result.years[1]}"
    where = (
        "全部区域合计，万亩）/ class transitions, all zones (sum)"
        if result.zones.kind == "file"
        else "全市，万亩）/ class transitions, city-wide"
    )
    print_table(matrix.reset_index(), title=f"地类转移矩阵（{where}, 10,000 mu")


_HELP = """由土地覆盖栅格计算各区县森林覆盖率及其变化 / Forest coverage per district.

\b
森林覆盖率 = 森林（含灌木林）÷ 土地面积（不含水体）；两个栅格时给出
变化（百分点）与地类转移矩阵（亩）。区县边界按比例精确切分像元，面积
按椭球计算。
Coverage = forest (incl. shrub counted as forest) ÷ land (water and no
data excluded), per district and city-wide (adcode 500000). With RASTER2:
the change in percentage points and the class transition matrix in mu.
Pixels cut by a boundary count by their exact share; areas are on the
ellipsoid.
"""


@click.command("coverage", help=_HELP)
@click.argument("raster", type=click.Path(exists=True, dir_okay=False))
@click.argument("raster2", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--product",
    type=click.Choice(["clcd", "worldcover", "globeland30", "custom"]),
    default="clcd",
    show_default=True,
    help="土地覆盖产品（决定哪些代码算森林）/ Land-cover product: which codes "
    "count as forest (custom: only your --classes file).",
)
@click.option(
    "--classes",
    type=click.Path(exists=True, dir_okay=False),
    help="地类表 CSV/XLSX（code, counts_as），覆盖预设 / Class table (code, "
    "counts_as = forest|shrub_forest|land|water|excluded) overriding the preset.",
)
@click.option(
    "--zones",
    default="districts",
    show_default=True,
    help="统计单元：districts（38区县）、units（附件1考核单元）或面文件 / "
    "Zones: districts (38), units (annex 1 assessment units) or a polygon file.",
)
@click.option(
    "--zone-id",
    help="面文件的编号字段 / Identifier column of a zone file.",
)
@click.option("--year", type=int, help="栅格年份（单个栅格）/ Year of RASTER.")
@click.option(
    "--years",
    help="两个栅格的年份，如 2010,2015 / Years of RASTER and RASTER2 "
    "(default: the 4-digit year in each file name).",
)
@click.option(
    "--crs",
    help="栅格坐标系，替代栅格自带的（缺失时必需）/ CRS of the rasters, replacing "
    "theirs (needed when they carry none), e.g. EPSG:4545.",
)
@click.option(
    "--water-in-land",
    is_flag=True,
    help="水体计入土地面积（分母）/ Count water in the land area (denominator).",
)
@click.option(
    "--overlay",
    type=click.Path(dir_okay=False),
    help="地图叠加图层 .png（另写同名 .json 范围）/ Map overlay: a .png in Web "
    "Mercator plus a .json with its bounds, for the report.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="计算引擎 / Engine: this process, or Dask workers (row bands of the "
    "raster, each read by its worker).",
)
@click.option(
    "--scheduler",
    help="Dask 调度器地址 / Existing Dask scheduler (tcp://host:8786); default: "
    "a local cluster. Workers must see the raster paths.",
)
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    help="分区数 / Dask partitions: row bands of the raster (default 4 per worker).",
)
@click.option(
    "--max-unknown",
    "max_unknown",
    type=click.FloatRange(0, 100),
    callback=finite_number,
    default=5.0,
    show_default=True,
    metavar="PCT",
    help="地类表中没有的代码最多可占区域像元的百分比，超过则拒绝（多为选错 "
    "--product）/ Largest percent of the zone pixels whose codes the class table "
    "does not list; above it the raster is refused (usually a wrong --product).",
)
@click.option(
    "--band",
    type=click.IntRange(min=1),
    metavar="N",
    help="地类代码所在波段（从 1 起）；多波段栅格未指定时用第 1 波段并警告 / "
    "Band holding the class codes (1-based). A raster with several bands and no "
    "--band: band 1 is used, with a warning naming the band count.",
)
@click.option(
    "--max-boundary-cells",
    "max_cells",
    type=click.IntRange(min=1),
    metavar="N",
    help="区县边界精确切分的工作单元上限（默认 30,000,000，约 90 字节/单元），"
    "超过则在分配内存前拒绝 / Most work cells (default 30,000,000, about 90 "
    "bytes each) of the exact boundary fractions: boundary-band pixels plus "
    "zone rows. Above it the raster is refused before memory is allocated (tiny "
    "pixels, or a header that claims 10^12 pixels).",
)
@out_option(
    "输出 (.csv/.xlsx/.json，或 .gpkg/.geojson 含区县面) / Output table "
    "(.csv, .xlsx, .json) or zones with figures (.gpkg, .geojson)."
)
def coverage_cmd(
    raster,
    raster2,
    product,
    classes,
    zones,
    zone_id,
    year,
    years,
    crs,
    water_in_land,
    overlay,
    engine,
    scheduler,
    partitions,
    max_unknown,
    band,
    max_cells,
    out,
) -> None:
    """由土地覆盖栅格计算森林覆盖率 / Forest coverage per district (see _HELP)."""
    if Path(out).suffix.lower() not in _TABLE_SUFFIXES:
        raise click.BadParameter(
            f"use one of {', '.join(_TABLE_SUFFIXES)} / 请使用表格或图层文件名",
            param_hint="--out",
        )
    if overlay and Path(overlay).suffix.lower() != ".png":
        raise click.BadParameter(
            "use a .png file name / 请使用 .png 文件名", param_hint="--overlay"
        )
    rasters = [raster] if raster2 is None else [raster, raster2]
    year_list = _parse_years(year, years, len(rasters))
    bar, tick = _progress()
    # forestsink's warnings are printed as one line each, as they come; the
    # others (numpy, GDAL, pyogrio) are issued again after the run, through
    # Python's warning filters (not swallowed). GDAL's own log records are
    # held back to -v (each failure is a message of its own already)
    others: list = []
    with warnings.catch_warnings(record=True) as caught, _quiet_gdal():
        warnings.simplefilter("always", ForestsinkWarning)
        with bar:
            result = compute_coverage(
                rasters,
                product=product,
                classes=classes,
                zones=zones,
                years=year_list,
                crs=crs,
                water_in_land=water_in_land,
                zone_id=zone_id,
                progress=tick,
                engine=engine,
                scheduler=scheduler,
                partitions=partitions,
                max_unknown_pct=max_unknown,
                band=band,
                **({} if max_cells is None else {"max_cells": max_cells}),
            )
        image = (
            make_overlay(
                result.rasters, result.scheme, result.zones, years=result.years
            )
            if overlay
            else None
        )
        others += _print_warnings(caught, ForestsinkWarning)
        caught.clear()
        _print_summary(result)
        written = write_coverage(result, out)
        if image is not None:
            written += write_overlay(image, overlay)
        others += _print_warnings(caught, ForestsinkWarning)
    _reissue(others)
    for path in written:
        click.echo(f"已写出 / Written: {path}")


def _print_warnings(caught, ours) -> list:
    """Print forestsink's warnings; return the others (numpy, GDAL, pyogrio)."""
    others = []
    for item in caught:
        if issubclass(item.category, ours):
            click.secho(
                f"警告 / Warning: {visible(item.message)}", fg="yellow", err=True
            )
            hint = flag_hint(item.message)
            if hint is not None:
                click.secho(hint, fg="yellow", err=True)
        else:
            others.append(item)
    return others


def _reissue(others) -> None:
    """Issue other libraries' warnings again, through Python's filters."""
    for item in others:
        _log.debug("%s: %s", item.category.__name__, item.message)
        warnings.warn_explicit(
            item.message, item.category, item.filename, item.lineno, source=item.source
        )


@contextmanager
def _quiet_gdal():
    """Hold GDAL's log records (rasterio loggers) below -v."""
    logger = logging.getLogger("rasterio")
    before = logger.level
    if not logging.getLogger("forestsink").isEnabledFor(logging.INFO):
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(before)
