"""``forestsink validate`` and ``forestsink ingest``."""

from __future__ import annotations

import sys

import click
import pandas as pd
from rich.progress import Progress

from forestsink.cli.options import (
    delivery_options,
    flag_hint,
    parse_period,
    report_not_an_input,
    store_opt,
)
from forestsink.cli.table import print_table, visible
from forestsink.errors import ForestsinkError
from forestsink.ingest import find_delivery_files
from forestsink.ingest.vocabulary import store_aliases_path, user_aliases_path
from forestsink.io import write_table
from forestsink.landing.deliveries import (
    IngestError,
    check_deliveries,
    ingest_deliveries,
)
from forestsink.store import open_store


def _progress(paths):
    """Return (context manager, callback) showing a progress bar over files."""
    files = find_delivery_files(paths)
    bar = Progress(transient=True, disable=not sys.stderr.isatty())
    task = bar.add_task("读取与校验 / reading and checking", total=len(files))
    return bar, lambda _path: bar.advance(task)


def numbered_from_one(issues: pd.DataFrame) -> pd.DataFrame:
    """Return *issues* with ``row`` counted from 1, as a user counts features.

    The library numbers rows from 0 (positions in the file); people, and
    the attribute table of a GIS, count the first feature as row 1. A
    GeoPackage's ``fid`` (what QGIS shows) is kept in its own column.
    """
    rows = pd.to_numeric(issues["row"], errors="coerce").astype("Int64") + 1
    return issues.assign(row=rows)


_LABEL = {"error": "错误 ERROR", "warning": "警告 WARN", "fixed": "已修复 FIXED"}
_COLOUR = {"error": "red", "warning": "yellow", "fixed": "green"}
MAX_SHOWN = 200


def _option_hint(option) -> str | None:
    """Return the flag line for an issue's ``option`` (``"crs"``, ``"layer,crs"``)."""
    if not isinstance(option, str) or not option:
        return None
    return flag_hint(ForestsinkError(option=tuple(option.split(","))))


def print_report(report, report_path) -> None:
    r"""Print notes and issues, one line each, and write the full report.

    Delivered text (file names, notes, ids, fields, messages that quote
    values) is printed through :func:`forestsink.cli.table.visible`: a
    control character or an ESC sequence shows as ``\x1b``, it never
    reaches the terminal. The report file goes through
    :func:`forestsink.io.write_table` (formulas neutralised, control
    characters escaped in Excel).
    """
    for name, note in report.notes:
        click.echo(f"  {visible(name)}: {visible(note)}")
    issues = numbered_from_one(report.issues)
    for rec in issues.head(MAX_SHOWN).to_dict("records"):
        where = visible(rec["file"])
        if not pd.isna(rec["row"]):
            where += f" 第{int(rec['row'])}行/row {int(rec['row'])}"
        if not pd.isna(rec.get("fid")):
            where += f" (fid {int(rec['fid'])})"
        if rec["project_id"]:
            where += f" [{visible(rec['project_id'])}]"
        field = f" {visible(rec['field'])}:" if rec["field"] else ""
        click.secho(
            f"{_LABEL[rec['severity']]} {rec['code']} {where}{field} "
            f"{visible(rec['message'])} → {visible(rec['action'])}",
            fg=_COLOUR[rec["severity"]],
        )
        hint = _option_hint(rec.get("option"))
        if hint:
            click.echo(f"    {hint}")
    if len(issues) > MAX_SHOWN:
        click.echo(f"... {len(issues) - MAX_SHOWN} more; write all with --report FILE")
    counts = issues["severity"].value_counts().to_dict()
    click.echo(
        f"错误 errors: {counts.get('error', 0)}, 警告 warnings: "
        f"{counts.get('warning', 0)}, 已修复 fixed: {counts.get('fixed', 0)}"
    )
    if report_path:
        try:
            write_table(issues, report_path, sheet="issues")
        except (ForestsinkError, OSError) as err:  # (checked up front: rare)
            click.secho(
                f"错误 / Error: 问题清单未写出 / the report was not written "
                f"({visible(err)}).",
                fg="red",
                err=True,
            )
            sys.exit(1)
        click.echo(f"问题清单已写出 / Report written: {visible(report_path)}")


def alias_files(given, store=None) -> list[str]:
    """Return the aliases files of a run, later ones winning.

    The per-user file (if it exists), the per-store file beside a
    GeoPackage store (if it exists), then every ``--aliases FILE``.
    """
    defaults = [user_aliases_path()]
    if store is not None:
        defaults.append(store_aliases_path(store))
    found = [str(p) for p in defaults if p is not None and p.is_file()]
    return found + [str(p) for p in given]


def _check_kwargs(kw: dict, store=None) -> dict:
    return {
        "layer": kw["layer"],
        "crs": kw["crs"],
        "encoding": kw["encoding"],
        "year": kw["year"],
        "district": kw["district"],
        "project_type": kw["project_type"],
        "programme": kw["programme"],
        "aliases": alias_files(kw["aliases"], store),
        "rules": kw["rules"],
        "fix": kw["fix"],
        "period": parse_period(kw["period"], kw["plan"]),
        "area_tolerance": kw["area_tolerance"],
        "workers": kw["workers"],
        "max_unzipped": kw["max_unzipped"],
    }


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@delivery_options
def validate_cmd(paths, report_path, **kw) -> None:
    """校验上报文件，不写入项目库 / Check deliveries without touching the store.

    PATHS are files (.shp .gpkg .geojson .zip) or folders of them. Exit code 1
    when any error is found; warnings do not fail.
    """
    report_not_an_input(report_path, paths)
    bar, tick = _progress(paths)
    with bar:
        report = check_deliveries(paths, progress=tick, **_check_kwargs(kw))
    print_report(report, report_path)
    if report.n_errors:
        sys.exit(1)


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@store_opt
@delivery_options
@click.option(
    "--dry-run", is_flag=True, help="只校验不写入 / Check only, write nothing."
)
@click.option(
    "--skip-errors",
    is_flag=True,
    help="跳过有错误的图斑，其余入库 / Leave out features with errors, load the rest.",
)
@click.option("--user", help="操作人 / Who is ingesting (default: login name).")
def ingest_cmd(paths, store, report_path, dry_run, skip_errors, user, **kw) -> None:
    """载入上报的项目图斑到项目库 / Load delivered project polygons into the store.

    Each file becomes one batch (all of its features land, or none). Nothing is
    written while any error remains, unless --skip-errors.
    """
    report_not_an_input(report_path, paths, store)
    target = open_store(store)
    bar, tick = _progress(paths)
    try:
        with bar:
            report, outcomes = ingest_deliveries(
                paths,
                target,
                skip_errors=skip_errors,
                dry_run=dry_run,
                user=user,
                progress=tick,
                **_check_kwargs(kw, store),
            )
    except IngestError as err:
        print_report(err.report, report_path)
        click.secho(f"错误 / Error: {visible(err)}", fg="red", err=True)
        sys.exit(1)
    print_report(report, report_path)
    # counts and batch numbers as integers (a skipped file has none: blank)
    print_table(
        pd.DataFrame(outcomes).convert_dtypes(), title="入库结果 / Ingest result"
    )
