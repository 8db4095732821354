"""``forestsink map``: interactive and print-quality maps."""

from __future__ import annotations

from pathlib import Path

import click

from forestsink.cli.options import as_of_opt, out_option, plan_opt, targets_opt
from forestsink.cli.plan import transfers_opt
from forestsink.render.map import write_district_map
from forestsink.render.static import render_static_map


@click.command("map")
@click.option(
    "--what",
    type=click.Choice(
        ["districts", "progress", "carbon", "coverage", "projects", "duties"]
    ),
    default="districts",
    show_default=True,
    help="地图内容 / What to map: districts (.html only); progress, carbon, "
    "coverage, projects, duties (.png/.svg/.pdf). duties: the plan's district "
    "duties after --transfers, in fixed classes (met / short by how much; no "
    "duty grey hatched).",
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
@plan_opt
@transfers_opt
@targets_opt
@out_option(
    "输出文件 / Output: .html (interactive, districts) or .png/.svg/.pdf (static, A4)."
)
def map_cmd(
    what,
    store,
    as_of,
    coverage_table,
    year,
    font,
    dpi,
    growth,
    plan,
    transfers,
    targets,
    out,
) -> None:
    """绘制地图 / Draw a map (interactive HTML, or print-quality PNG/SVG/PDF)."""
    if what == "districts":
        if Path(out).suffix.lower() != ".html":
            raise click.BadParameter(
                "use an .html file name / 请使用 .html 文件名", param_hint="--out"
            )
        path = write_district_map(out)
    else:
        if store is None and what in ("progress", "carbon", "projects", "duties"):
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
            plan=plan,
            transfers=transfers,
            targets=targets,
        )
    click.echo(f"已写出 / Written: {path}")
