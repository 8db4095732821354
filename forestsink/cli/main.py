"""The ``forestsink`` command group.

Each command parses its options, calls one library function and prints the
result. Library errors (:class:`~forestsink.errors.ForestsinkError`) become a
clean message and exit code 1; any other exception a one-line bilingual
message naming the command, exit code 1, and a traceback only with ``-v``.
Usage errors are click's (exit code 2). ``-v``/``-q`` set the level of the
``forestsink`` logger (:func:`forestsink.cli.options.configure_logging`).

The commands live a module per command group (``forestsink.cli.coverage``,
``forestsink.cli.history`` …), each importing what it uses at its top; this
module names them in :data:`COMMANDS` and imports a command's module only
when that command runs, so ``forestsink --help`` and ``forestsink resolve``
do not load the whole library (rasters, the store, the web application).
"""

from __future__ import annotations

import importlib
import sys
import traceback

import click

from forestsink.cli.options import (
    configure_logging,
    flag_hint,
    quiet_opt,
    verbose_opt,
)
from forestsink.cli.table import visible
from forestsink.errors import ForestsinkError

HELP = """forestsink — 森林碳汇跟踪 / forest carbon sink tracker.

\b
跟踪重庆市造林与碳汇规划目标（默认为渝府发〔2012〕102号，--plan 选其他规划）：
载入区县上报的项目图斑、校验、保存全部历史版本、按区县汇总、
由土地覆盖栅格计算森林覆盖率、估算项目增量（改造前后实测或生长表扣除基线）的
CO₂、生成地图与报告。上报蓄积为现存蓄积，不计为增量或碳汇；全市森林碳汇需森林资源一张图。
\b
Tracks Chongqing's forest and carbon plan targets (by default those of
渝府发〔2012〕102号; --plan FILE for another plan): loads the project
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
        if isinstance(command, _Group) and word in COMMANDS:
            path.append(word)  # (its module may be the one that failed to load)
            command = command.commands.get(word)
            continue
        sub = command.get_command(ctx, word)
        if sub is None:
            break
        path.append(word)
        command = sub
    return " ".join(path) or (group.name or "forestsink")


#: Command name -> (module, attribute, the first paragraph of its help).
#: ``forestsink --help`` lists the commands from the third field without
#: importing them (tests/test_cli.py checks it against each command's help).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "districts": (
        "forestsink.cli.reference",
        "districts_cmd",
        "列出重庆市38个区县 / List Chongqing's 38 county-level units.",
    ),
    "resolve": (
        "forestsink.cli.reference",
        "resolve_cmd",
        "把区县名称解析为行政区划代码 / Resolve district names to adcodes.",
    ),
    "check-data": (
        "forestsink.cli.reference",
        "check_data_cmd",
        "校验参考数据 / Validate the reference tables (and your overrides).",
    ),
    "map": (
        "forestsink.cli.map",
        "map_cmd",
        "绘制地图 / Draw a map (interactive HTML, or print-quality PNG/SVG/PDF).",
    ),
    "validate": (
        "forestsink.cli.ingest",
        "validate_cmd",
        "校验上报文件，不写入项目库 / Check deliveries without touching the store.",
    ),
    "ingest": (
        "forestsink.cli.ingest",
        "ingest_cmd",
        "载入上报的项目图斑到项目库 / Load delivered project polygons into the store.",
    ),
    "history": (
        "forestsink.cli.history",
        "history_cmd",
        "显示一个图斑的全部版本 / Show every version of one polygon.",
    ),
    "diff": (
        "forestsink.cli.history",
        "diff_cmd",
        "比较两个时间点 / What was added, changed, withdrawn between two states.",
    ),
    "withdraw": (
        "forestsink.cli.history",
        "withdraw_cmd",
        "撤销图斑（保留历史）/ Withdraw polygons (history is kept).",
    ),
    "undo": (
        "forestsink.cli.history",
        "undo_cmd",
        "撤回整个批次（作为新批次）/ Undo a whole batch, as a new batch.",
    ),
    "current": (
        "forestsink.cli.history",
        "current_cmd",
        "当前（或某时点）有效图斑 / Polygons valid now or as of a date or batch.",
    ),
    "batches": (
        "forestsink.cli.history",
        "batches_cmd",
        "列出全部批次 / List every batch (who, when, file, counts).",
    ),
    "progress": (
        "forestsink.cli.progress",
        "progress_cmd",
        "项目作业与规划目标 / Project work, and what measures the plan's targets.",
    ),
    "carbon": (
        "forestsink.cli.progress",
        "carbon_cmd",
        "森林碳汇或项目增量 CO₂ / The whole forest's carbon sink, or project CO₂.",
    ),
    "report": (
        "forestsink.cli.report",
        "report_cmd",
        "生成离线 HTML 报告 / Write the officials' offline HTML report.",
    ),
    "store": (
        "forestsink.cli.store_cmd",
        "store_group",
        "项目库管理 / Manage project stores (GeoPackage, PostgreSQL/PostGIS).",
    ),
    "coverage": (
        "forestsink.cli.coverage",
        "coverage_cmd",
        "由土地覆盖栅格计算各区县森林覆盖率及其变化 / Forest coverage per district.",
    ),
    "reconcile": (
        "forestsink.cli.reconcile",
        "reconcile_cmd",
        "项目图斑与森林资源一张图核对 / Reconcile project polygons with the 小班 map.",
    ),
    "export": (
        "forestsink.cli.store_cmd",
        "export_cmd",
        "导出图斑供其他引擎使用 / Export polygons for other engines (Dask, DuckDB).",
    ),
    "stage": (
        "forestsink.cli.stage",
        "stage_cmd",
        "交付文件直接写成分区 GeoParquet / Check deliveries and write a dataset.",
    ),
    "inventory": (
        "forestsink.cli.inventory",
        "inventory_group",
        "森林资源一张图 / Forest-resource map (一张图): load, stats, change, "
        "crosscheck.",
    ),
    "sample": (
        "forestsink.cli.sample",
        "sample_group",
        "参考样本：分层随机抽样设计与基于样本的面积估计 / Reference samples.",
    ),
    "plan": (
        "forestsink.cli.plan",
        "plan_group",
        "规划：检查、显示、进度 / A plan: check a plan file, show it, track it.",
    ),
    "users": (
        "forestsink.cli.users",
        "users_group",
        "网页账户 / Accounts of the web application (kept in the store).",
    ),
    "serve": (
        "forestsink.cli.serve",
        "serve_cmd",
        "启动网页服务 / Run the web application (uvicorn, N worker processes).",
    ),
}


class _Group(click.Group):
    """Turn every error into a one-line message and exit code 1.

    Library errors (:class:`~forestsink.errors.ForestsinkError`) print their
    message, then the command-line flags of the parameters the error names
    (:func:`forestsink.cli.options.flag_hint`). Any other exception is a bug
    or an unforeseen condition: it prints one bilingual line naming the
    command and the exception, and advises ``-v``; with ``-v`` the Python
    traceback is printed as well.
    Click's own usage errors keep click's message and exit code 2.
    """

    def invoke(self, ctx: click.Context):
        words = [*getattr(ctx, "_protected_args", []), *ctx.args]
        try:
            return super().invoke(ctx)
        except ForestsinkError as err:
            click.secho(f"错误 / Error: {visible(err)}", fg="red", err=True)
            hint = flag_hint(err)
            if hint is not None:
                click.secho(hint, fg="red", err=True)
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

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return every command name, registered or not yet imported."""
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str):
        """Return the command *cmd_name*, importing its module on first use."""
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute, _ = COMMANDS[cmd_name]
            self.add_command(
                getattr(importlib.import_module(module), attribute), cmd_name
            )
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter) -> None:
        """List the commands with their one-line help, without importing them."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in self.commands:
                command = self.commands[name]
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(limit)))
            else:
                listed = click.Command(name, help=COMMANDS[name][2])
                rows.append((name, listed.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=_Group, help=HELP, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(package_name="forestsink", message="forestsink %(version)s")
@verbose_opt
@quiet_opt
def cli(verbose: int, quiet: bool) -> None:
    """Entry point of the ``forestsink`` command."""
    click.get_current_context().call_on_close(configure_logging(verbose, quiet))
