"""``forestsink districts``, ``resolve`` and ``check-data``: the reference tables."""

from __future__ import annotations

import sys

import click

from forestsink.cli.options import out_option
from forestsink.cli.table import print_table, visible
from forestsink.errors import ForestsinkError
from forestsink.reference import (
    DistrictResolver,
    data_dir,
    read_district_table,
    validate_reference_data,
)
from forestsink.render.workbook import write_districts


@click.command("districts")
@out_option(
    "写出文件 (.csv/.xlsx/.gpkg/.geojson/.html) / Write to a file "
    "(.csv, .xlsx, .gpkg, .geojson, or .html for an interactive map).",
    required=False,
)
def districts_cmd(out: str | None) -> None:
    """列出重庆市38个区县 / List Chongqing's 38 county-level units."""
    table = read_district_table()
    if out:
        path = write_districts(out)
        click.echo(f"已写出 / Written: {path}")
        return
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


@click.command("resolve")
@click.argument("names", nargs=-1, required=True)
def resolve_cmd(names: tuple[str, ...]) -> None:
    """把区县名称解析为行政区划代码 / Resolve district names to adcodes.

    Accepts today's and 2012 names (开县, 潼南县), short forms (石柱), pinyin
    (Kaizhou) and the adcodes in force 2011–2015 (500234).
    """
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


@click.command("check-data")
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
    counts = validate_reference_data(rules=rules, params=params)
    click.echo(f"参考数据目录 / Reference data: {data_dir()}")
    for name, n in counts.items():
        click.echo(f"  OK  {name}: {n} rows")
