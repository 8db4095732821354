"""The ``forestsink`` command group.

Each command parses its options, calls one library function and prints the
result. Library errors (:class:`~forestsink.errors.ForestsinkError`) become a
clean message and exit code 1; any other exception a one-line bilingual
message naming the command, exit code 1, and a traceback only with ``-v``.
Usage errors are click's (exit code 2).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click

from forestsink.cli.options import (
    as_of_opt,
    configure_logging,
    out_option,
    quiet_opt,
    verbose_opt,
)
from forestsink.cli.table import visible
from forestsink.errors import ForestsinkError

HELP = """forestsink — 森林碳汇跟踪 / forest carbon sink tracker.

\b
跟踪重庆市"十二五"造林与碳汇目标（渝府发〔2012〕102号）：
载入区县上报的项目图斑、校验、保存全部历史版本、按区县汇总、
由土地覆盖栅格计算森林覆盖率、估算项目增量（改造前后实测或生长表扣除基线）的
CO₂、生成地图与报告。上报蓄积为现存蓄积，不计为增量或碳汇；全市森林碳汇需森林资源一张图。
\b
Tracks Chongqing's 2011–2015 forest and carbon targets: loads the project
polygons counties deliver, checks them, keeps every version, aggregates the
project work per district, measures forest coverage from land-cover rasters,
estimates the CO₂ of the project increment (before/after volumes, or a growth
table net of its baseline), and renders maps and an offline report. A
delivered stock volume is a standing stock, never an increment or a sink; the
city's forest carbon sink needs the forest-resource layers.
"""


#: What click raises for usage errors, --help/--version and Ctrl-C: click
#: prints those itself (usage errors exit with 2).
_CLICK_OWN = (
    click.exceptions.ClickException,
    click.exceptions.Exit,
    click.exceptions.Abort,
    KeyboardInterrupt,
    SystemExit,
)


def _command_path(group: click.Group, ctx: click.Context, words: list[str]) -> str:
    """Return the command words the user typed (``coverage``, ``store migrate``)."""
    path: list[str] = []
    command: click.Command = group
    for word in words:
        if not isinstance(command, click.Group):
            break
        if word.startswith("-"):
            continue
        sub = command.get_command(ctx, word)
        if sub is None:
            break
        path.append(word)
        command = sub
    return " ".join(path) or (group.name or "forestsink")


class _Group(click.Group):
    """Turn every error into a one-line message and exit code 1.

    Library errors (:class:`~forestsink.errors.ForestsinkError`) print their
    message. Any other exception is a bug or an unforeseen condition: it
    prints one bilingual line naming the command and the exception, and
    advises ``-v``; with ``-v`` the Python traceback is printed as well.
    Click's own usage errors keep click's message and exit code 2.
    """

    def invoke(self, ctx: click.Context):
        words = [*getattr(ctx, "_protected_args", []), *ctx.args]
        try:
            return super().invoke(ctx)
        except ForestsinkError as err:
            click.secho(f"错误 / Error: {visible(err)}", fg="red", err=True)
            sys.exit(1)
        except _CLICK_OWN:
            raise
        except Exception as err:
            name = _command_path(self, ctx, words)
            if ctx.params.get("verbose"):
                click.echo(traceback.format_exc(), err=True, nl=False)
            detail = visible(" ".join(f"{type(err).__name__}: {err}".split()))
            click.secho(
                f"错误 / Error: 命令 `forestsink {name}` 意外出错（{detail}）；加 -v "
                f"查看详情：`forestsink -v {name} …` / the command `forestsink "
                f"{name}` failed unexpectedly ({detail}); run it again with -v "
                f"(`forestsink -v {name} …`) for the details, and report them if "
                "the input looks right.",
                fg="red",
                err=True,
            )
            sys.exit(1)


@click.group(
    cls=_Group, help=HELP, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(package_name="forestsink", message="forestsink %(version)s")
@verbose_opt
@quiet_opt
def cli(verbose: int, quiet: bool) -> None:
    """Entry point of the ``forestsink`` command."""
    configure_logging(verbose, quiet)


@cli.command("districts")
@out_option(
    "写出文件 (.csv/.xlsx/.gpkg/.geojson/.html) / Write to a file "
    "(.csv, .xlsx, .gpkg, .geojson, or .html for an interactive map).",
    required=False,
)
def districts_cmd(out: str | None) -> None:
    """列出重庆市38个区县 / List Chongqing's 38 county-level units."""
    from forestsink.reference import read_district_table

    table = read_district_table()
    if out:
        from forestsink.render.workbook import write_districts

        path = write_districts(out)
        click.echo(f"已写出 / Written: {path}")
        return
    from forestsink.cli.table import print_table

    print_table(
        table[
            [
                "adcode",
                "name_zh",
                "name_en",
                "kind",
                "region",
                "adcode_2011_2015",
                "name_2012",
            ]
        ],
        title="重庆市区县 / Chongqing county-level units",
    )


@cli.command("resolve")
@click.argument("names", nargs=-1, required=True)
def resolve_cmd(names: tuple[str, ...]) -> None:
    """把区县名称解析为行政区划代码 / Resolve district names to adcodes.

    Accepts today's and 2012 names (开县, 潼南县), short forms (石柱), pinyin
    (Kaizhou) and the adcodes in force 2011–2015 (500234).
    """
    from forestsink.reference import DistrictResolver

    resolver = DistrictResolver()
    failed = False
    for name in names:
        try:
            code = resolver.resolve(name)
        except ForestsinkError as err:
            click.secho(
                f"{visible(name)}\t错误 / Error: {visible(err)}", fg="red", err=True
            )
            failed = True
            continue
        click.echo(
            f"{name}\t{code}\t{resolver.name_zh[code]}\t{resolver.name_en[code]}"
        )
    if failed:
        sys.exit(1)


@cli.command("check-data")
@click.option(
    "--rules",
    type=click.Path(exists=True, dir_okay=False),
    help="项目类型规则文件 / Your own project-type rules CSV.",
)
@click.option(
    "--params",
    type=click.Path(exists=True, dir_okay=False),
    help="碳参数文件 / Your own carbon parameter CSV.",
)
def check_data_cmd(rules: str | None, params: str | None) -> None:
    """校验参考数据 / Validate the reference tables (and your overrides)."""
    from forestsink.reference import data_dir, validate_reference_data

    counts = validate_reference_data(rules=rules, params=params)
    click.echo(f"参考数据目录 / Reference data: {data_dir()}")
    for name, n in counts.items():
        click.echo(f"  OK  {name}: {n} rows")


@cli.command("map")
@click.option(
    "--what",
    type=click.Choice(["districts", "progress", "carbon", "coverage", "projects"]),
    default="districts",
    show_default=True,
    help="地图内容 / What to map: districts (.html only); progress, carbon, "
    "coverage, projects (.png/.svg/.pdf).",
)
@click.option("--store", "store", help="项目库文件 (.gpkg) / Project store.")
@as_of_opt
@click.option(
    "--coverage",
    "coverage_table",
    type=click.Path(exists=True, dir_okay=False),
    help="覆盖率表 (forestsink coverage 输出) / Coverage table (.csv/.json/.xlsx).",
)
@click.option(
    "--year",
    type=int,
    help="年度 / Year: progress in that year only; coverage of that year.",
)
@click.option("--font", help="中文字体文件或名称 / CJK font file or family name.")
@click.option(
    "--dpi",
    type=click.IntRange(72, 600),
    default=200,
    show_default=True,
    help="PNG 分辨率 / PNG resolution.",
)
@click.option(
    "--growth",
    type=click.Path(exists=True, dir_okay=False),
    help="生长表（--what carbon）/ Growth table for the project increment "
    "(--what carbon); see forestsink carbon --help.",
)
@out_option(
    "输出文件 / Output: .html (interactive, districts) or .png/.svg/.pdf (static, A4)."
)
def map_cmd(what, store, as_of, coverage_table, year, font, dpi, growth, out) -> None:
    """绘制地图 / Draw a map (interactive HTML, or print-quality PNG/SVG/PDF)."""
    if what == "districts":
        from forestsink.render.map import write_district_map

        if Path(out).suffix.lower() != ".html":
            raise click.BadParameter(
                "use an .html file name / 请使用 .html 文件名", param_hint="--out"
            )
        path = write_district_map(out)
    else:
        from forestsink.render.static import render_static_map

        if store is None and what in ("progress", "carbon", "projects"):
            raise click.BadParameter(
                f"--what {what} needs --store / 需要 --store", param_hint="--store"
            )
        path = render_static_map(
            what,
            out,
            store=store,
            coverage=coverage_table,
            as_of=as_of,
            year=year,
            font=font,
            dpi=dpi,
            growth=growth,
        )
    click.echo(f"已写出 / Written: {path}")


def _register() -> None:
    from forestsink.cli.coverage import coverage_cmd
    from forestsink.cli.history import (
        batches_cmd,
        current_cmd,
        diff_cmd,
        history_cmd,
        undo_cmd,
        withdraw_cmd,
    )
    from forestsink.cli.ingest import ingest_cmd, validate_cmd
    from forestsink.cli.inventory import inventory_group
    from forestsink.cli.progress import carbon_cmd, progress_cmd, report_cmd
    from forestsink.cli.reconcile import reconcile_cmd
    from forestsink.cli.sample import sample_group
    from forestsink.cli.serve import serve_cmd
    from forestsink.cli.stage import stage_cmd
    from forestsink.cli.store_cmd import export_cmd, store_group
    from forestsink.cli.users import users_group

    for command in (
        validate_cmd,
        ingest_cmd,
        history_cmd,
        diff_cmd,
        withdraw_cmd,
        undo_cmd,
        current_cmd,
        batches_cmd,
        progress_cmd,
        carbon_cmd,
        report_cmd,
        store_group,
        coverage_cmd,
        reconcile_cmd,
        export_cmd,
        stage_cmd,
        inventory_group,
        sample_group,
        users_group,
        serve_cmd,
    ):
        cli.add_command(command)


_register()
