"""Options shared by several commands."""

from __future__ import annotations

import logging
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from forestsink.errors import PlanError
from forestsink.io import TABLE_SUFFIXES
from forestsink.reference import read_plan

verbose_opt = click.option(
    "-v", "--verbose", count=True, help="更多日志 / More log output (repeatable)."
)
quiet_opt = click.option(
    "-q", "--quiet", is_flag=True, help="只显示错误 / Errors only."
)


class _StderrHandler(logging.StreamHandler):
    """A handler writing to the ``sys.stderr`` of the moment.

    Click's test runner (and a notebook) swap ``sys.stderr``; a handler
    holding the stream it was made with would write to a closed one.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        """The current ``sys.stderr``."""
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(verbose: int, quiet: bool) -> Callable[[], None]:
    """Set the level of the ``forestsink`` logger from ``-v``/``-q``.

    Warnings and errors by default, ``-v`` adds progress and decisions
    (INFO), ``-vv`` debugging detail; ``-q`` errors only. Records go to
    stderr through one handler on the ``forestsink`` logger (never two);
    other libraries' loggers are left as they are.

    Returns
    -------
    callable
        Puts the logger back as it was (level, handler): the command group
        calls it when the command ends, so a notebook or a test session that
        runs the CLI keeps its own logging set-up.
    """
    level = (
        logging.ERROR if quiet else max(logging.DEBUG, logging.WARNING - 10 * verbose)
    )
    logger = logging.getLogger("forestsink")
    before = logger.level
    logger.setLevel(level)
    added = None
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        added = _StderrHandler()
        added.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(added)

    def restore() -> None:
        logger.setLevel(before)
        if added is not None:
            logger.removeHandler(added)

    return restore


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
            default=None,
            help="规划期 / Plan period, YEAR-YEAR (default: the plan's period).",
        ),
        plan_opt,
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
            callback=report_path_ok,
            help="写出问题清单 / Write the issue report (.csv, .xlsx or .json); "
            "checked before anything is read or written.",
        ),
        click.option(
            "--max-unzipped",
            "max_unzipped",
            default="2G",
            show_default=True,
            callback=byte_size,
            help="zip解压上限 / Limit of the bytes a .zip delivery's layer files "
            "may unpack to (2G, 500M, 100K or bytes); a zip is also refused "
            "for more than 1,000 members or a member packed more than 200:1.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def byte_size(ctx, param, value) -> int | None:
    """Click callback: ``2G``, ``500M``, ``100K`` or a number of bytes → bytes."""
    if value is None or isinstance(value, int):
        return value
    text = str(value).strip().upper().removesuffix("IB").removesuffix("B")
    unit = text[-1:] if text[-1:] in _UNITS else ""
    number = text[: len(text) - len(unit)].strip()
    if not number.isascii() or not number.isdigit() or int(number) <= 0:
        raise click.BadParameter(
            f"{value!r} 不是大小 / is not a size; write 2G, 500M, 100K or a "
            "number of bytes."
        )
    return int(number) * _UNITS[unit]


def report_path_ok(ctx, param, value):
    """Click callback: refuse a report path that cannot be written, up front.

    Checked before any delivery is read or the store touched (the report is
    written after the batch lands): the suffix must be one the table writer
    (:func:`forestsink.io.write_table`) takes, the path not a folder, its
    folder an existing folder where a file can be created (tried with a
    probe file, removed at once) (the command also checks that it is
    not one of its inputs: :func:`report_not_an_input`).
    """
    if value is None:
        return None
    path = Path(value)
    problem = None
    if path.suffix.lower() not in TABLE_SUFFIXES:
        problem = (
            f"不支持的报告格式 / unsupported report format {path.suffix!r}; use "
            f"one of {', '.join(TABLE_SUFFIXES)}"
        )
    elif path.is_dir():
        problem = "是文件夹 / is a folder; give a file name"
    elif not path.resolve().parent.is_dir():
        problem = f"文件夹不存在 / folder {str(path.parent)!r} does not exist"
    else:
        try:  # (a probe file, removed at once: what the atomic write needs)
            fd, probe = tempfile.mkstemp(prefix=".forestsink-", dir=path.parent)
            os.close(fd)
            os.unlink(probe)
        except OSError as err:
            problem = f"不可写 / cannot be written there ({err.strerror})"
    if problem:
        raise click.BadParameter(f"{value}: {problem}.")
    return value


def report_not_an_input(report_path, paths, store=None) -> None:
    """Refuse a report path that is one of the deliveries or the store.

    Parameters
    ----------
    report_path : str or None
        ``--report``.
    paths : iterable of str
        The deliveries given (files or folders).
    store : str, optional (default: None)
        ``--store`` (a PostgreSQL URL is ignored).

    Raises
    ------
    click.BadParameter
        The report would overwrite an input.
    """
    if report_path is None:
        return
    target = Path(report_path).resolve()
    inputs = [Path(p) for p in paths]
    if store and "://" not in str(store):
        inputs.append(Path(store))
    for given in inputs:
        resolved = given.resolve()
        inside = resolved.is_dir() and resolved in target.parents
        if target == resolved or (inside and target.suffix.lower() == ".json"):
            raise click.BadParameter(
                f"{report_path}: 是输入文件之一 / is one of the inputs "
                f"({given}); choose another name.",
                param_hint="--report",
            )


#: Library parameter -> (command-line flag, what it takes). A library error
#: names the parameter in the library's words and carries it as
#: ``err.options`` (:class:`forestsink.errors.ForestsinkError`); the error
#: printer of :mod:`forestsink.cli.main` adds the flag as a hint line
#: (:func:`flag_hint`). Library messages never name a flag
#: (tests/test_flag_hints.py).
FLAGS: dict[str, tuple[str, str]] = {
    "aliases": ("--aliases", "FILE"),
    "as_of": ("--as-of", "DATE|BATCH"),
    "band": ("--band", "N"),
    "classes": ("--classes", "FILE"),
    "coverage": ("--coverage", "FILE"),
    "crs": ("--crs", "EPSG:…"),
    "district": ("--district", "NAME"),
    "districts": ("--district", "NAME"),
    "encoding": ("--encoding", "GBK|UTF-8"),
    "engine": ("--engine", "local|dask"),
    "extra_classes": ("--extra-class", "NAME"),
    "fix": ("--fix", ""),
    "font": ("--font", "FILE|FAMILY"),
    "layer": ("--layer", "NAME"),
    "max_cells": ("--max-boundary-cells", "N"),
    "max_unknown_pct": ("--max-unknown", "PCT"),
    "max_unzipped": ("--max-unzipped", "SIZE"),
    "out": ("--out", "PATH"),
    "params": ("--params", "FILE"),
    "period": ("--period", "YEAR-YEAR"),
    "plan": ("--plan", "FILE"),
    "product": ("--product", "NAME"),
    "programme": ("--programme", "NAME"),
    "project_type": ("--type", "TYPE"),
    "replace": ("--replace", ""),
    "scheduler": ("--scheduler", "tcp://HOST:8786"),
    "skip_errors": ("--skip-errors", ""),
    "store": ("--store", "PATH|postgresql://…"),
    "what": ("--what", "KIND"),
    "year": ("--year", "YEAR"),
    "year_from": ("--from", "YEAR"),
    "year_to": ("--to", "YEAR"),
    "years": ("--year", "YEAR (two rasters: --years Y1,Y2)"),
    "zone_id": ("--zone-id", "COLUMN"),
    "zones": ("--zones", "districts|units|FILE"),
}


def flag_hint(err: BaseException) -> str | None:
    """Return the line naming the flags for a library error's parameters.

    ``None`` when the error carries no parameter, or none that is a flag.

    Examples
    --------
    >>> from forestsink.errors import CRSError
    >>> flag_hint(CRSError("a.shp: no .prj; pass the CRS as crs.", option="crs"))
    '命令行 / on the command line: --crs EPSG:…'
    >>> flag_hint(CRSError("no parameter to name")) is None
    True
    """
    shown = []
    for name in getattr(err, "options", ()) or ():
        if name in FLAGS:
            flag, metavar = FLAGS[name]
            usage = f"{flag} {metavar}".strip()
            if usage not in shown:
                shown.append(usage)
    if not shown:
        return None
    return "命令行 / on the command line: " + "; ".join(shown)


def finite_number(ctx, param, value):
    """Click callback: refuse NaN and infinity (``float('nan')`` passes ranges)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number / 不是有限数值.")
    return value


def parse_period(text: str | None, plan=None) -> tuple[int, int]:
    """Parse ``YEAR-YEAR`` into a tuple; None: the period of *plan*.

    *plan*: a :class:`forestsink.reference.Plan` (default: the seed plan).
    """
    if text is None:
        return read_plan(plan).period
    try:
        lo, hi = (int(p) for p in text.split("-"))
    except ValueError as err:
        raise click.BadParameter(
            "use START-END years, e.g. 2021-2025", param_hint="--period"
        ) from err
    return lo, hi


def load_plan(ctx, param, value):
    """Click callback: read and check ``--plan FILE`` (None: the seed plan later).

    A malformed plan file becomes a ``BadParameter`` listing its rows.
    """
    if value is None:
        return None
    try:
        return read_plan(value)
    except PlanError as err:
        raise click.BadParameter(str(err), param_hint="--plan") from err


plan_opt = click.option(
    "--plan",
    "plan",
    type=click.Path(exists=True, dir_okay=False),
    callback=load_plan,
    help="规划文件 (CSV/Excel，格式见 data/plan.EXAMPLE.csv) / Plan file: targets, "
    "period, base year and district duties (default: the shipped plan, "
    "data/plan.csv and data/plan_targets.csv). Check it with "
    "`forestsink plan check FILE`.",
)


def file_option(name: str, help_text: str):
    """Return an option *name* taking an existing file (not a folder)."""
    return click.option(
        name, type=click.Path(exists=True, dir_okay=False), help=help_text
    )


rules_opt = file_option("--rules", "项目类型规则 / Project-type rules CSV.")
params_opt = file_option(
    "--params", "碳参数 / Carbon conversion parameter CSV (D, BEF, BVF, R, CF)."
)
targets_opt = file_option(
    "--targets",
    "区县目标表 (CSV/Excel，由林业局提供) / Per-district targets the bureau supplies.",
)
growth_opt = file_option(
    "--growth",
    "生长表 (CSV/Excel：项目类型、树种组、年龄、生长量、基线及来源) / Your growth "
    "(yield) table by project type, species group and years since the work, with "
    "baseline and source; without it the increment is 不可估算 / not estimable "
    "unless before/after volumes were delivered. Format: "
    "data/growth_table.EXAMPLE.csv.",
)
