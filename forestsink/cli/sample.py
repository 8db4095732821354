"""``forestsink sample``: reference-sample design and sample-based area estimates."""

from __future__ import annotations

import click

from forestsink.cli.options import out_option
from forestsink.cli.table import visible
from forestsink.sampling.tools import design_tool, estimate_tool

_GROUP_HELP = """参考样本：分层随机抽样设计与基于样本的面积估计 / Reference samples.

\b
地图像元计数受分类误差影响；按 Olofsson 等 (2014) 的良好实践，用分层随机
样本的判读结果估计无偏面积及其 95% 置信区间。
A map's pixel count is biased by its classification errors. `design` draws a
stratified random sample of pixels to label from better imagery; `estimate`
turns the labels into error-adjusted areas with 95 % intervals and the
accuracies of the map (Olofsson et al. 2014, RSE 148:42; Stehman 2014).
"""


@click.group("sample", help=_GROUP_HELP)
def sample_group() -> None:
    """Reference-sample commands."""


_DESIGN_HELP = """设计分层随机样本 / Draw a stratified random sample of pixels.

\b
层：一个栅格为 森林/非森林；两个栅格（同一像元网格）为 稳定森林/增加/减少/
稳定非森林；可再按区县（--zones）交叉。无数据与排除类别不抽。
Strata: one MAP gives forest / non_forest; MAP and MAP2 (year 1, year 2, one
pixel grid) give stable_forest / gain / loss / stable_non_forest; --zones
crosses them with districts (or your polygons). No data and excluded classes
are never sampled.

\b
样本量 / Sample size: --n N, or --target-se S for Olofsson et al. (2014)
eq. 13:  n = ( Σ_h W_h · S_h / S(Ô) )²,  S_h = √(U_h (1 − U_h)),
W_h the mapped area share of stratum h, U_h its expected user's accuracy
(--expected-ua FILE: class, users_accuracy; defaults: the paper's guesses),
S(Ô) the target standard error of overall accuracy (e.g. 0.01).

\b
Writes to --out DIR: sample.csv (point_id, stratum, map_class, lon, lat, x,
y, adcode, …, an empty ref_class to fill in), sample.gpkg (EPSG:4490),
sample.kml (Google Earth Pro), strata.csv (each stratum's mapped area on the
ellipsoid in ha and mu), design.json (the parameters).
"""


@sample_group.command("design", help=_DESIGN_HELP)
@click.argument("map_path", metavar="MAP", type=click.Path(exists=True, dir_okay=False))
@click.argument(
    "map2",
    metavar="[MAP2]",
    required=False,
    type=click.Path(exists=True, dir_okay=False),
)
@click.option(
    "--product",
    type=click.Choice(["clcd", "worldcover", "globeland30", "custom"]),
    default="clcd",
    show_default=True,
    help="地类代码预设 / Class-code preset (custom needs --classes).",
)
@click.option(
    "--classes",
    type=click.Path(exists=True, dir_okay=False),
    help="地类表 / Class table (code, counts_as), as for `forestsink coverage`.",
)
@click.option(
    "--zones",
    help="分区：districts 或面文件 / Cross strata with districts or a polygon "
    "file (its zone_id, adcode, id or name column names the zones).",
)
@click.option("--n", "n", type=click.IntRange(1), help="样本总数 / Points in all.")
@click.option(
    "--target-se",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="总体精度目标标准误 / Target standard error of overall accuracy (eq. 13).",
)
@click.option(
    "--min-per-stratum",
    type=click.IntRange(0),
    default=10,
    show_default=True,
    help="每层最少样点 / Fewest points per stratum.",
)
@click.option(
    "--allocation",
    type=click.Choice(["proportional", "equal", "neyman"]),
    default="proportional",
    show_default=True,
    help="分配方式 / How points are shared among strata.",
)
@click.option(
    "--expected-ua",
    type=click.Path(exists=True, dir_okay=False),
    help="预期用户精度表 / Expected user's accuracy (class, users_accuracy).",
)
@click.option(
    "--seed", type=int, default=2014, show_default=True, help="随机种子 / Seed."
)
@click.option("--crs", help="栅格无坐标系时指定 / CRS of rasters that carry none.")
@out_option("输出目录 / Output folder.", folder=True)
def design_cmd(
    map_path,
    map2,
    product,
    classes,
    zones,
    n,
    target_se,
    min_per_stratum,
    allocation,
    expected_ua,
    seed,
    crs,
    out,
) -> None:
    """Draw a stratified random sample (see the help text)."""
    if (n is None) == (target_se is None):
        raise click.UsageError("give --n N or --target-se S (one of them)")
    maps = [map_path] + ([map2] if map2 else [])
    paths, design = design_tool(
        maps,
        out=out,
        product=product,
        classes=classes,
        zones=zones,
        n=n,
        target_se=target_se,
        min_per_stratum=min_per_stratum,
        allocation=allocation,
        expected_ua=expected_ua,
        seed=seed,
        crs=crs,
    )
    strata = design.strata
    meta = design.meta
    if meta.get("n_eq13") is not None:
        click.echo(f"式 13 样本量 / n from eq. 13: {meta['n_eq13']}")
    if len(design.points) > (meta.get("n_requested") or 0):
        click.echo(
            f"每层至少 {min_per_stratum} 个样点，总数增至 {len(design.points)} / at "
            f"least {min_per_stratum} points per stratum raise n to "
            f"{len(design.points)}"
        )
    click.echo(
        f"{len(design.points)} 个样点，{len(strata)} 层 / {len(design.points)} points "
        f"in {len(strata)} strata; mapped area {strata['area_ha'].sum():,.1f} ha"
    )
    for path in paths:
        click.echo(f"已写出 / Written: {visible(path)}")


_ESTIMATE_HELP = """由判读样本估计面积与精度 / Error-adjusted areas from labels.

\b
--labels: point_id, stratum, map_class, ref_class (the design's sample.csv
with ref_class filled in); --strata: stratum, area_ha (or n_pixels,
pixel_area_ha), the design's strata.csv.
Output (.json, .csv, .xlsx): per class the mapped area, the sample-based
area with its 95 % half-width (ha, mu), user's and producer's accuracy with
95 % half-widths; overall accuracy; the error matrix in area proportions
(JSON, Excel). --zones districts adds each district whose every stratum
holds at least 10 labelled points; other districts are listed as refused.
"""


@sample_group.command("estimate", help=_ESTIMATE_HELP)
@click.option(
    "--labels",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="判读样本 / Labelled sample.",
)
@click.option(
    "--strata",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="层表 / Strata table.",
)
@click.option(
    "--zones",
    help="分区估计：districts（adcode 列）或样本表的列名 / Also per district "
    "(labels' adcode) or per value of another labels column.",
)
@click.option(
    "--extra-class",
    "extra_classes",
    multiple=True,
    help="地图没有的判读类别（可多次）/ A reference class no stratum maps "
    "(repeatable).",
)
@out_option("输出文件 (.json/.csv/.xlsx) / Output file.")
def estimate_cmd(labels, strata, zones, extra_classes, out) -> None:
    """Estimate areas and accuracies (see the help text)."""
    path, result = estimate_tool(
        labels, strata, out=out, zones=zones, extra_classes=extra_classes
    )
    city = result.city
    bound = city.overall_bound()
    spread = (
        f"± {city.z * city.overall_se:.3f}"
        if bound is None
        else f"(区间不可估计，保守下界 / no interval; conservative bound ≥ {bound:.3f})"
    )
    click.echo(
        f"总体精度 / overall accuracy {city.overall:.3f} {spread} "
        f"({city.n_points} points)"
    )
    for row in city.table().itertuples(index=False):
        if row.ci95_note:  # zero width: no interval, the conservative bound instead
            spread = (
                f"(区间不可估计，保守界 / no interval; conservative bound "
                f"{row.area_ha_bound_low:,.1f}–{row.area_ha_bound_high:,.1f} ha)"
            )
        else:
            spread = f"± {row.area_ha_ci95:,.1f} ha"
        click.echo(
            f"  {row[0]}: map {row.map_area_ha:,.1f} ha; sample-based "
            f"{row.area_ha:,.1f} {spread}"
        )
    click.echo(f"已写出 / Written: {visible(path)}")
