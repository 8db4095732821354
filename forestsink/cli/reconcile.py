"""``forestsink reconcile``: project polygons against the forest-resource map."""

from __future__ import annotations

from pathlib import Path

import click

from forestsink.cli.options import as_of_opt, out_option, store_opt
from forestsink.cli.table import visible
from forestsink.inventory.reconcile import ALL_TYPES, CITY_ADCODE, reconcile_store
from forestsink.io import TABLE_SUFFIXES, write_sheets, write_table
from forestsink.store import open_store

#: sheet names of the Excel output
SHEETS = {"districts": "区县 Districts", "polygons": "图斑 Polygons"}


def _check_out(out: str) -> None:
    """Refuse an output suffix the table writer cannot write, before any work."""
    if Path(out).suffix.lower() not in TABLE_SUFFIXES:
        raise click.BadParameter(
            f"{out}: 不支持的格式 / unsupported format {Path(out).suffix!r}; "
            f"use one of {', '.join(TABLE_SUFFIXES)}.",
            param_hint="--out",
        )


def write_reconcile(result, out: str | Path) -> list[Path]:
    """Write the district table to *out* and the polygon table beside it.

    ``.xlsx``: one workbook with the sheets of :data:`SHEETS`; ``.csv`` and
    ``.json``: the district table in *out*, the polygon table in
    ``<stem>_polygons<suffix>``. Each file is written atomically.
    """
    out = Path(out)
    if out.suffix.lower() == ".xlsx":
        return [
            write_sheets(
                {
                    SHEETS["districts"]: result.districts,
                    SHEETS["polygons"]: result.polygons,
                },
                out,
            )
        ]
    side = out.with_name(f"{out.stem}_polygons{out.suffix}")
    return [
        write_table(result.districts, out, sheet="districts"),
        write_table(result.polygons, side, sheet="polygons"),
    ]


@click.command("reconcile")
@store_opt
@click.option(
    "--year",
    type=int,
    required=True,
    help="一张图年度 / Inventory year (forest-resource map at 31 December).",
)
@click.option(
    "--before",
    type=int,
    help="前期一张图年度 / Earlier inventory year: flags afforestation on land "
    "that was already forest.",
)
@as_of_opt
@out_option("输出 (.csv/.xlsx/.json) / Output file (.csv, .xlsx or .json).")
def reconcile_cmd(store, year, before, as_of, out) -> None:
    """项目图斑与森林资源一张图核对 / Reconcile project polygons with the 小班 map.

    Splits each project polygon's area (mu, on the ellipsoid) by what the
    year's forest-resource map says the land is: forest, 未成林地 (0141/0142),
    other forest land, non-forest land, or no 小班. With --before, flags
    afforestation on land that was mostly forest then: it cannot add forest
    area. CSV/JSON: the district table, and the polygons in
    <name>_polygons.csv beside it; Excel: both sheets.
    """
    _check_out(out)
    result = reconcile_store(open_store(store), year=year, before=before, as_of=as_of)
    paths = write_reconcile(result, out)
    for message in result.messages:
        click.echo(f"  {visible(message)}")
    d = result.districts
    city = d[(d["adcode"] == CITY_ADCODE) & (d["project_type"] == ALL_TYPES)]
    if city.empty:
        click.echo("  没有项目图斑 / no project polygons")
    else:
        c = city.iloc[0]
        click.echo(
            f"  {year} 一张图 / {year} layer: {int(c['n_polygons']):,} 个图斑 / "
            f"polygons, {c['area_mu']:,.0f} mu; 森林 / forest {c['forest_mu']:,.0f} "
            f"mu ({100 * c['forest_share']:.1f} %), 未成林地 / not yet established "
            f"{c['unestablished_mu']:,.0f} mu, 其他林地 / other forest land "
            f"{c['other_forest_land_mu']:,.0f} mu, 非林地 / non-forest "
            f"{c['non_forest_mu']:,.0f} mu, 无小班 / on no 小班 "
            f"{c['not_in_layer_mu']:,.0f} mu"
        )
        if before is not None:
            click.echo(
                f"  造林于{before}年已是森林的图斑 / afforestation on land already "
                f"forest in {before}: {int(c['n_planted_on_forest']):,} "
                f"({c['planted_on_forest_mu']:,.0f} mu) — 不能新增森林面积 / "
                "cannot add forest area"
            )
    for path in paths:
        click.echo(f"已写出 / Written: {path}")
