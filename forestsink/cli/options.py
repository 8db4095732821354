"""Options shared by several commands."""

from __future__ import annotations

import logging
import math

import click

verbose_opt = click.option(
    "-v", "--verbose", count=True, help="更多日志 / More log output (repeatable)."
)
quiet_opt = click.option(
    "-q", "--quiet", is_flag=True, help="只显示错误 / Errors only."
)


def configure_logging(verbose: int, quiet: bool) -> None:
    """Set the log level from ``-v``/``-q``."""
    level = (
        logging.ERROR if quiet else max(logging.DEBUG, logging.WARNING - 10 * verbose)
    )
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def out_option(help_text: str, *, required: bool = True, folder: bool = False):
    """Return an ``--out FILE`` option (``--out DIR`` with *folder*)."""
    return click.option(
        "--out",
        "out",
        type=click.Path(file_okay=False) if folder else click.Path(dir_okay=False),
        required=required,
        help=help_text,
    )


store_opt = click.option(
    "--store",
    "store",
    required=True,
    help="项目库 (.gpkg 文件或 postgresql://…；progress/carbon/report 也可用 "
    "GeoParquet 数据集目录) / Project store (.gpkg or postgresql://…; progress, "
    "carbon and report also read a GeoParquet dataset folder).",
)

as_of_opt = click.option(
    "--as-of",
    "as_of",
    default=None,
    help="截至日期或批次号 / State as of a date (2014-06-30) or batch number.",
)


engine_opt = click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="计算引擎 / Engine: this process, or Dask workers.",
)

scheduler_opt = click.option(
    "--scheduler",
    help="Dask 调度器地址 / Existing Dask scheduler "
    "(tcp://host:8786); default: a local cluster.",
)


def delivery_options(func):
    """Options shared by ``ingest`` and ``validate``."""
    options = [
        click.option("--layer", help="GeoPackage 图层 / GeoPackage layer to read."),
        click.option(
            "--crs",
            help="坐标系 (覆盖文件自带) / CRS override, e.g. EPSG:4545.",
        ),
        click.option(
            "--encoding",
            help="属性表编码 / Shapefile text encoding (GBK, UTF-8); default: "
            ".cpg, else detected.",
        ),
        click.option(
            "--year",
            type=int,
            help="整个文件的年度（也填补空单元格）/ Year for the whole file (also "
            "fills the empty cells of its year column).",
        ),
        click.option(
            "--district",
            help="整个文件的区县（也填补空单元格）/ District for the whole file "
            "(also fills the empty cells of its district column).",
        ),
        click.option(
            "--type",
            "project_type",
            help="整个文件的项目类型（也填补空单元格）/ Project type for the whole "
            "file, e.g. 人工造林 or afforestation (also fills empty cells).",
        ),
        click.option(
            "--programme",
            help="整个文件的工程 / Programme for the whole file, e.g. 退耕还林 "
            "(also fills empty cells).",
        ),
        click.option(
            "--aliases",
            "aliases",
            multiple=True,
            type=click.Path(exists=True, dir_okay=False),
            help="自定义别名表 / Your aliases file (CSV/Excel: kind, alias, means, "
            "note), merged over the shipped tables; repeatable. Also read when "
            "present: forestsink_aliases.csv in your config folder and beside "
            "the store.",
        ),
        click.option(
            "--rules",
            type=click.Path(exists=True, dir_okay=False),
            help="项目类型规则 / Project-type rules CSV.",
        ),
        click.option(
            "--fix",
            is_flag=True,
            help="安全修复几何 / Repair invalid geometry (make_valid), drop slivers.",
        ),
        click.option(
            "--period",
            default="2011-2015",
            show_default=True,
            help="规划期 / Plan period, YEAR-YEAR.",
        ),
        click.option(
            "--workers",
            type=click.IntRange(min=0),
            default=None,
            help="辅助进程数 / Helper processes that read and check in parallel "
            "(default: cores - 1 for large files or many files; 0: none; "
            "never more than the cores or the files/chunks to check).",
        ),
        click.option(
            "--area-tolerance",
            type=click.FloatRange(min=0.0, max=10.0),
            callback=finite_number,
            default=0.10,
            show_default=True,
            help="面积容差 / Reported vs computed area tolerance (fraction).",
        ),
        click.option(
            "--report",
            "report_path",
            type=click.Path(dir_okay=False),
            help="写出问题清单 / Write the issue report (.csv or .xlsx).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def finite_number(ctx, param, value):
    """Click callback: refuse NaN and infinity (``float('nan')`` passes ranges)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number / 不是有限数值.")
    return value


def parse_period(text: str) -> tuple[int, int]:
    """Parse ``2011-2015`` into a tuple."""
    try:
        lo, hi = (int(p) for p in text.split("-"))
    except ValueError as err:
        raise click.BadParameter(
            "use YEAR-YEAR, e.g. 2011-2015", param_hint="--period"
        ) from err
    return lo, hi


def _file_option(name: str, help_text: str):
    return click.option(
        name, type=click.Path(exists=True, dir_okay=False), help=help_text
    )


rules_opt = _file_option("--rules", "项目类型规则 / Project-type rules CSV.")
params_opt = _file_option(
    "--params", "碳参数 / Carbon conversion parameter CSV (D, BEF, BVF, R, CF)."
)
targets_opt = _file_option(
    "--targets",
    "区县目标表 (CSV/Excel，由林业局提供) / Per-district targets the bureau supplies.",
)
