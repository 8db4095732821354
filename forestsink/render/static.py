"""Static maps for documents: PNG, SVG and PDF drawn with matplotlib.

A static map is an A4 landscape page: a bilingual title (中文 first, English
below), the districts of Chongqing drawn in an Albers equal-area projection,
a classed choropleth (or the project polygons coloured by type), a legend
with class ranges and units, an inset of the dense central districts, a scale
bar, a north arrow and a source line.

The drawing functions render tables they are given; they never open a store.
:func:`render_static_map` is the tool behind ``forestsink map --what ...``: it
computes the tables (with :mod:`forestsink.progress`) and writes the file.

The parts live beside this module: CJK fonts in
:mod:`forestsink.render.fonts`, class breaks in
:mod:`forestsink.render.classification`, district labels in
:mod:`forestsink.render.labels`, title, legend, note, scale bar and north
arrow in :mod:`forestsink.render.furniture`.

Chinese needs a CJK font. :func:`find_cjk_font` looks for one (Noto Sans CJK,
Source Han Sans, WenQuanYi, Microsoft YaHei ...) and fails with the fix when
none is installed, rather than drawing boxes (豆腐块/tofu). SVG output turns
text into paths and PDF output embeds the font (TrueType/Type 42), so the
files show Chinese on machines without the font.

Layers: the computations below ``render`` (progress, store, reference, io);
matplotlib is imported inside the functions (an optional heavy dependency).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely
from PIL import Image, PngImagePlugin
from shapely.geometry import box as shapely_box

from forestsink.area import CHONGQING_ALBERS
from forestsink.errors import (
    CRSError,
    ForestsinkWarning,
    MapError,
    OptionError,
)
from forestsink.io import atomic_write, read_coverage_table
from forestsink.reference import read_districts, read_project_types
from forestsink.render.classification import (
    class_breaks,
    classify,
    display_breaks,
    format_edge,
)
from forestsink.render.duty_map import fill_duty_classes
from forestsink.render.fonts import find_cjk_font, font_rc
from forestsink.render.furniture import (
    CREDIT,
    draw_legend,
    draw_note,
    draw_titles,
    north_arrow,
    scale_bar,
)
from forestsink.render.labels import label_districts, label_point, leader_label
from forestsink.render.map_inputs import (
    carbon_values,
    coverage_values,
    duty_values,
    progress_values,
    project_polygons,
)
from forestsink.version import __version__

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CREDIT",
    "MAP_CRS",
    "WHAT",
    "class_breaks",
    "find_cjk_font",
    "read_coverage_table",
    "render_static_map",
    "static_map",
    "write_static_map",
]

#: What a static map can show.
WHAT: tuple[str, ...] = ("coverage", "progress", "carbon", "projects", "duties")

#: Projected CRS the maps are drawn in: Albers equal-area on GRS80 (the
#: CGCS2000 ellipsoid), standard parallels 29° and 31.5° N, central meridian
#: 107.75° E. Areas are true; the scale error is below 0.2 % over Chongqing.
MAP_CRS: str = CHONGQING_ALBERS

#: A4 landscape in inches.
A4_LANDSCAPE_IN: tuple[float, float] = (297 / 25.4, 210 / 25.4)

#: Resolution of PNG output (dots per inch).
DEFAULT_DPI: int = 200

SUFFIXES: tuple[str, ...] = (".png", ".svg", ".pdf")

# display-only simplification (numbers never come from drawn geometry)
_DISTRICT_TOLERANCE_M = 100.0
_PROJECT_TOLERANCE_M = 20.0


@dataclass(frozen=True)
class _Theme:
    """Titles, legend and units of one kind of map."""

    column: str
    title_zh: str
    title_en: str
    legend_zh: str
    legend_en: str
    divisor: float
    cmap: str
    note: str


THEMES: dict[str, _Theme] = {
    "progress": _Theme(
        "new_forest_area_mu",
        "重庆市各区县项目造林面积",
        "Project work: area planted by district, Chongqing",
        "项目造林面积（万亩）",
        "Area planted (10,000 mu)",
        10_000.0,
        "YlGn",
        "项目作业面积：造林类项目（造林、退耕还林等）的净面积，重叠地块只计\n"
        "一次；不是新增森林面积（需森林资源一张图）。括号内为区县数。\n"
        "Project work: net area planted by the project types that plant forest\n"
        "(afforestation, grain-to-green ...), overlaps once; not the new forest\n"
        "area (needs the forest-resource layers). (n): districts in the class.",
    ),
    "carbon": _Theme(
        "co2_t",
        "重庆市各区县项目增量 CO₂（实测或模型，扣除基线）",
        "Project increment CO₂ (measured, or model with baseline), Chongqing",
        "项目增量 CO₂（万吨）",
        "Project increment CO₂ (10,000 t)",
        10_000.0,
        "BuGn",
        "项目增量：改造前后实测蓄积之差，或生长表模型扣除基线，折算 CO₂；\n"
        "上报的现存蓄积不计入。无数据 = 不可估算。非森林碳汇（需森林资源一张图）。\n"
        "Project increment: after − before volumes, or a growth table net of its\n"
        "baseline, as CO₂; delivered standing stocks never count. No data = not\n"
        "estimable. Not the forest carbon sink (needs the forest-resource layers).",
    ),
    "coverage": _Theme(
        "coverage_pct",
        "重庆市各区县森林覆盖率",
        "Forest coverage by district, Chongqing",
        "森林覆盖率（%）",
        "Forest coverage (%)",
        1.0,
        "Greens",
        "森林覆盖率：土地覆盖栅格中森林像元面积占区县面积的比例。\n"
        "括号内为区县数。\n"
        "Forest coverage: forest share of the district's area in the\n"
        "land-cover raster. (n): number of districts in the class.",
    ),
    "duties": _Theme(
        "duty_class",
        "重庆市各区县任务完成情况（计入森林面积指标交易）",
        "District duties after forest-area indicator transfers, Chongqing",
        "任务余缺（固定分级）",
        "Duty balance (fixed classes)",
        1.0,
        "",
        "余缺 = 核算完成 − 任务；核算完成 = 实物量 − 售出 + 购入指标（仅面积任务）。\n"
        "覆盖率任务按百分点分级。灰色斜线 = 无任务。括号内为区县数。\n"
        "Balance = credited − duty; credited = physical − sold + bought\n"
        "indicators (area duties only); coverage in points. Grey hatched = no\n"
        "duty. (n): districts in the class.",
    ),
    "projects": _Theme(
        "project_type",
        "重庆市林业项目地块分布",
        "Forestry project polygons, Chongqing",
        "项目类型",
        "Project type",
        1.0,
        "",
        "地块按项目类型着色；括号内为地块数。\n"
        "Polygons coloured by project type; (n): number of polygons.",
    ),
}

# one colour per project type (qualitative, readable on white and in grey print)
TYPE_COLOURS: dict[str, str] = {
    "afforestation": "#1b7837",
    "grain_to_green": "#a6d96a",
    "rocky_desertification": "#d95f02",
    "public_welfare": "#1f78b4",
    "renovation": "#7570b3",
    "tending": "#66c2a5",
    "nursery": "#e7298a",
}
_OTHER_COLOUR = "#999999"
_NO_DATA_COLOUR = "#e0e0e0"
_EDGE = "#4d4d4d"


# --------------------------------------------------------------------------
# the map
# --------------------------------------------------------------------------


def _check_districts(districts) -> gpd.GeoDataFrame:
    """Return the districts in :data:`MAP_CRS`, simplified for display."""
    missing = {"adcode", "name_zh", "name_en"} - set(districts.columns)
    if missing:
        raise MapError(
            f"districts: column(s) {sorted(missing)} missing; pass the layer from "
            "forestsink.read_districts() (adcode, name_zh, name_en, geometry)."
        )
    if districts.crs is None:
        raise CRSError("districts: the layer has no CRS; expected EPSG:4490.")
    out = districts.to_crs(MAP_CRS).reset_index(drop=True)
    out["adcode"] = out["adcode"].astype(str)
    out["geometry"] = _simplify_coverage(out.geometry.to_numpy())
    return out


def _simplify_coverage(geoms):
    """Simplify district outlines for display, keeping shared edges shared.

    The boundaries are good to about 100 m; a 100 m tolerance is below a
    tenth of a millimetre on the page and shrinks vector output severalfold.
    """
    try:
        simple = shapely.coverage_simplify(geoms, _DISTRICT_TOLERANCE_M)
    except (AttributeError, shapely.errors.GEOSException):  # shapely < 2.1
        return shapely.simplify(geoms, _DISTRICT_TOLERANCE_M, preserve_topology=True)
    bad = shapely.is_empty(simple) | ~shapely.is_valid(simple)
    return np.where(bad, geoms, simple)


def _prepare_projects(projects):
    """Project polygons in the map CRS, simplified for display, non-empty."""
    if projects is None or "project_type" not in getattr(projects, "columns", ()):
        raise MapError(
            "projects: a GeoDataFrame of project polygons with a project_type "
            "column is needed for the projects map."
        )
    if projects.crs is None:
        raise MapError("projects: the layer has no CRS; expected EPSG:4490.")
    shown = projects[["project_type", "geometry"]].to_crs(MAP_CRS)
    shown = shown[shown.geometry.notna() & ~shown.geometry.is_empty].copy()
    shown["geometry"] = shown.geometry.simplify(_PROJECT_TOLERANCE_M)
    return shown


def _values_by_district(values, column: str, adcodes) -> pd.Series:
    """One value per district adcode, NaN where the table has none."""
    if values is None:
        raise MapError(
            f"values: a table with columns adcode and {column} is needed for this map."
        )
    missing = {"adcode", column} - set(values.columns)
    if missing:
        raise MapError(
            f"values table: column(s) {sorted(missing)} missing; it needs adcode "
            f"and {column} (one row per district)."
        )
    table = values[["adcode", column]].copy()
    table["adcode"] = table["adcode"].astype(str)
    table = table[table["adcode"] != "500000"]  # the city row, where present
    dup = table["adcode"][table["adcode"].duplicated()]
    if not dup.empty:
        raise MapError(
            f"values table: adcode {dup.iloc[0]} appears more than once; pass one "
            f"row per district (sum over years and types, or pick a year, first)."
        )
    unknown = sorted(set(table["adcode"]) - set(adcodes))
    if unknown:
        warnings.warn(
            f"values table: adcode(s) {unknown[:5]} are not districts on the map "
            "and are left out.",
            ForestsinkWarning,
            stacklevel=4,
        )
    numbers = pd.to_numeric(table[column], errors="coerce")
    return pd.Series(numbers.to_numpy(), index=table["adcode"]).reindex(adcodes)


def _layout(fig: Figure, bounds) -> tuple[Axes, list[float]]:
    """Add the main map axes sized to the data; return it and the panel box."""
    minx, miny, maxx, maxy = bounds
    pad = 0.03 * max(maxx - minx, maxy - miny)
    minx, maxx, miny, maxy = minx - pad, maxx + pad, miny - pad, maxy + pad
    fw, fh = fig.get_size_inches()
    top, bottom, left = 0.865, 0.065, 0.02
    height = top - bottom
    width = height * fh / fw * (maxx - minx) / (maxy - miny)
    ax = fig.add_axes((left, bottom, width, height))
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal", adjustable="box")
    ax.set_axis_off()
    panel_left = left + width + 0.025
    return ax, [panel_left, bottom, 0.985 - panel_left, height]


def _draw_districts(ax: Axes, gdf, *, lw: float):
    """Fill districts with their ``fill_colour``; hatch those without data."""
    gdf.plot(
        ax=ax, color=list(gdf["fill_colour"]), edgecolor=_EDGE, linewidth=lw, zorder=2
    )
    nodata = gdf[gdf["no_data"]]
    if len(nodata):
        nodata.plot(
            ax=ax,
            facecolor="none",
            edgecolor="#9a9a9a",
            hatch="////",
            linewidth=0,
            zorder=3,
        )
        nodata.boundary.plot(ax=ax, color=_EDGE, linewidth=lw, zorder=3)


def _theme(what: str):
    """Return the theme of map kind *what*; refuse an unknown kind."""
    if what not in THEMES:
        raise OptionError(
            f"map: unknown kind {what!r} (what); use one of {', '.join(WHAT)}.",
            option="what",
        )
    return THEMES[what]


def static_map(
    what: str,
    *,
    districts: gpd.GeoDataFrame,
    values: pd.DataFrame | None = None,
    projects: gpd.GeoDataFrame | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    legend_title: str | None = None,
    font=None,
    classes: int = 5,
    method: str = "natural_breaks",
    inset: bool = True,
    credit: str | None = None,
    note: str | None = None,
) -> Figure:
    """Draw a print-quality map of the districts on an A4 landscape page.

    Parameters
    ----------
    what : {"coverage", "progress", "carbon", "projects", "duties"}
        ``progress`` colours districts by ``new_forest_area_mu`` (shown in
        万亩), ``carbon`` by ``co2_t`` (shown in 万吨 CO₂), ``coverage`` by
        ``coverage_pct`` (%); ``projects`` draws the project polygons coloured
        by ``project_type``.
    districts : geopandas.GeoDataFrame
        District boundaries with ``adcode``, ``name_zh``, ``name_en``; any CRS
        (``forestsink.read_districts()`` gives EPSG:4490).
    values : pandas.DataFrame, optional (default: None)
        For choropleths: ``adcode`` and the value column above, one row per
        district (a city row ``500000`` is ignored). Districts without a row
        are drawn hatched as "no data".
    projects : geopandas.GeoDataFrame, optional (default: None)
        For ``projects``: polygons with ``project_type``; any CRS.
    title : str, optional (default: by *what*)
        Title; a newline separates the Chinese line from the English one.
    subtitle : str, optional (default: None)
        A smaller line under the title (as-of date, totals ...).
    legend_title : str, optional (default: by *what*, with units)
        Legend heading; a newline separates Chinese and English.
    font : str, path or FontProperties, optional (default: search)
        CJK font, as for :func:`find_cjk_font`.
    classes : int, optional (default: 5)
        Number of choropleth classes.
    method : {"natural_breaks", "quantiles"}, optional (default: "natural_breaks")
        How classes are formed (:func:`class_breaks`).
    inset : bool, optional (default: True)
        Draw districts whose names do not fit (the dense central districts)
        enlarged in an inset, labelled there.
    credit : str, optional (default: data and boundary sources)
        Source line at the foot of the page.
    note : str, optional (default: what the value means, by *what*)
        Short bilingual note under the inset; ``""`` for none.

    Returns
    -------
    matplotlib.figure.Figure
        A4 landscape (297 × 210 mm), not attached to pyplot; save it with
        :func:`write_static_map`. The title text has ``gid="title"``, the
        scale bar's segments ``gid="scale-bar"``.

    Notes
    -----
    CRS: everything is drawn in :data:`MAP_CRS` (Albers equal-area, metres),
    so the scale bar is measured in metres of that projection; its scale
    error over Chongqing is below 0.2 %. The north arrow points to true north
    at its position (the grid is rotated up to about 1.3° at the edges).
    """
    from matplotlib import rc_context  # noqa: PLC0415 (optional heavy dependency)
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 (optional heavy dependency)
    from matplotlib.figure import Figure  # noqa: PLC0415 (optional heavy dependency)

    theme = _theme(what)
    family = find_cjk_font(font).get_family()[0]
    gdf = _check_districts(districts)

    with rc_context(font_rc(family)):
        fig = Figure(figsize=A4_LANDSCAPE_IN, dpi=DEFAULT_DPI)
        FigureCanvasAgg(fig)
        renderer = fig.canvas.get_renderer()
        ax, panel = _layout(fig, gdf.total_bounds)

        # ---- districts and their colours (or the project polygons)
        handles, shown_projects = _draw_content(
            ax, gdf, theme, values=values, projects=projects, k=classes, method=method
        )

        # ---- labels; the ones that do not fit go to the inset
        _, small = label_districts(ax, renderer, gdf, size=7.5)

        legend_bottom, note_top = _draw_furniture(
            fig,
            ax,
            renderer,
            theme,
            handles,
            panel=panel,
            title=title,
            subtitle=subtitle,
            legend_title=legend_title,
            credit=credit,
            note=note,
        )
        if inset and small:
            inset_bottom = note_top + 0.035
            inset_top = legend_bottom - 0.045  # room for the inset's title
            _draw_inset(
                fig,
                ax,
                renderer,
                gdf,
                small,
                box=[panel[0], inset_bottom, panel[2], inset_top - inset_bottom],
                projects=shown_projects,
            )
    return fig


def _draw_content(
    ax: Axes, gdf, theme: _Theme, *, values, projects, k: int, method: str
) -> tuple[list, gpd.GeoDataFrame | None]:
    """Draw the districts classed by *values*, or under the *projects*.

    *projects* are drawn when *theme* is the projects map (its column is
    ``project_type``). Returns the legend handles and the projects as drawn
    (map CRS, simplified; None for a choropleth).
    """
    if theme.column == "project_type":
        shown_projects = _prepare_projects(projects)
        gdf["fill_colour"], gdf["no_data"] = "#f4f4f0", False
        _draw_districts(ax, gdf, lw=0.5)
        return _draw_projects(ax, shown_projects), shown_projects
    if theme.column == "duty_class":
        handles = fill_duty_classes(gdf, values)
    else:
        handles = _fill_classes(gdf, values, theme, classes=k, method=method)
    _draw_districts(ax, gdf, lw=0.5)
    return handles, None


def _draw_furniture(
    fig: Figure,
    ax: Axes,
    renderer,
    theme: _Theme,
    handles: list,
    *,
    panel: list[float],
    title: str | None,
    subtitle: str | None,
    legend_title: str | None,
    credit: str | None,
    note: str | None,
) -> tuple[float, float]:
    """Draw title, legend, north arrow, scale bar and note (defaults by *theme*).

    Returns the legend's bottom and the note's top (figure fractions): the
    inset goes between them.
    """
    # ---- title, subtitle, credit; legend at the top of the panel
    draw_titles(
        fig,
        title or f"{theme.title_zh}\n{theme.title_en}",
        subtitle=subtitle,
        credit=credit or CREDIT,
    )
    legend_bottom = draw_legend(
        fig,
        renderer,
        handles,
        panel=panel,
        title=legend_title or f"{theme.legend_zh}\n{theme.legend_en}",
    )
    # ---- north arrow and scale bar on the main map
    north_arrow(ax, crs=MAP_CRS, x_frac=0.07, y_frac=0.88, size_frac=0.07)
    scale_bar(ax, x_frac=0.04, y_frac=0.04, max_frac=0.25, fontsize=8, gid="scale-bar")
    # ---- note at the foot of the panel
    note_top = draw_note(
        fig, renderer, theme.note if note is None else note, panel=panel
    )
    return legend_bottom, note_top


def _fill_classes(
    gdf: gpd.GeoDataFrame, values, theme: _Theme, *, classes: int, method: str
) -> list:
    """Colour the districts by class of *theme*'s column; return legend handles.

    Sets ``fill_colour`` and ``no_data`` on *gdf* (in place): one colour of
    the theme's colour map per class (:func:`display_breaks`, in display
    units: the value divided by the theme's divisor), grey for districts
    without a number. The legend rows give each class's range and count.
    """
    import matplotlib as mpl  # noqa: PLC0415 (optional heavy dependency)
    from matplotlib.colors import to_hex  # noqa: PLC0415 (optional heavy dependency)
    from matplotlib.patches import Patch  # noqa: PLC0415 (optional heavy dependency)

    vals = _values_by_district(values, theme.column, gdf["adcode"])
    shown = vals.to_numpy(dtype=float)
    if not np.isfinite(shown).any():
        raise MapError(
            f"values table: no district has a number in {theme.column}; nothing to map."
        )
    edges, decimals = display_breaks(shown, theme.divisor, k=classes, method=method)
    cls = classify(shown / theme.divisor, edges)
    n = len(edges) - 1
    cmap = mpl.colormaps[theme.cmap]
    palette = [to_hex(cmap(0.15 + 0.8 * i / max(n - 1, 1))) for i in range(n)]
    gdf["fill_colour"] = [palette[c] if c >= 0 else _NO_DATA_COLOUR for c in cls]
    gdf["no_data"] = cls < 0
    handles = []
    for i in range(n):
        count = int((cls == i).sum())
        handles.append(
            Patch(
                facecolor=palette[i],
                edgecolor=_EDGE,
                linewidth=0.5,
                label=f"{format_edge(edges[i], decimals)} – "
                f"{format_edge(edges[i + 1], decimals)}  ({count})",
            )
        )
    if (cls < 0).any():
        handles.append(
            Patch(
                facecolor=_NO_DATA_COLOUR,
                edgecolor="#9a9a9a",
                hatch="////",
                linewidth=0.5,
                label=f"无数据 / no data  ({int((cls < 0).sum())})",
            )
        )
    return handles


def _draw_projects(ax: Axes, shown) -> list:
    """Draw projected project polygons coloured by type; return legend handles."""
    from matplotlib.patches import Patch  # noqa: PLC0415 (optional heavy dependency)

    types = read_project_types()
    handles = []
    order = [t for t in TYPE_COLOURS if t in set(types.index)]
    order += [t for t in types.index if t not in order]
    for ptype in order:
        part = shown[shown["project_type"] == ptype]
        colour = TYPE_COLOURS.get(ptype, _OTHER_COLOUR)
        if len(part):
            part.plot(
                ax=ax, facecolor=colour, edgecolor=colour, linewidth=0.35, zorder=4
            )
        handles.append(
            Patch(
                facecolor=colour,
                edgecolor=colour,
                label=f"{types.loc[ptype, 'name_zh']} {types.loc[ptype, 'name_en']}"
                f"  ({len(part):,})",
            )
        )
    other = shown[~shown["project_type"].isin(types.index)]
    if len(other):
        other.plot(ax=ax, facecolor=_OTHER_COLOUR, edgecolor=_OTHER_COLOUR, zorder=4)
        handles.append(
            Patch(
                facecolor=_OTHER_COLOUR,
                label=f"其他 / other  ({len(other):,})",
            )
        )
    return handles


def _draw_inset(fig, ax, renderer, gdf, small, *, box, projects=None):
    """Enlarged view of the districts in *small*, labelled, with its own scale."""
    from matplotlib.patches import Rectangle  # noqa: PLC0415 (optional heavy dependency)

    part = gdf[gdf["adcode"].isin(small)]
    minx, miny, maxx, maxy = part.total_bounds
    pad = 0.06 * max(maxx - minx, maxy - miny)
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    left, bottom, width, height = box
    fw, fh = fig.get_size_inches()
    # fit the extent's aspect into the box
    aspect_box = (width * fw) / (height * fh)
    aspect_data = (maxx - minx) / (maxy - miny)
    if aspect_data > aspect_box:  # wider: grow the extent vertically
        grow = (maxx - minx) / aspect_box - (maxy - miny)
        miny, maxy = miny - grow / 2, maxy + grow / 2
    else:
        grow = (maxy - miny) * aspect_box - (maxx - minx)
        minx, maxx = minx - grow / 2, maxx + grow / 2
    inset = fig.add_axes((left, bottom, width, height))
    frame = shapely_box(minx, miny, maxx, maxy)
    # draw only what is in view, so vector files do not carry the city twice
    _draw_districts(inset, gdf.clip(frame.buffer(0.02 * (maxx - minx))), lw=0.6)
    if projects is not None:
        _draw_projects(inset, projects.cx[minx:maxx, miny:maxy])
    inset.set_xlim(minx, maxx)
    inset.set_ylim(miny, maxy)
    inset.set_aspect("equal", adjustable="box")
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_xlabel("")
    inset.set_ylabel("")
    for spine in inset.spines.values():
        spine.set_edgecolor("#c0392b")
        spine.set_linewidth(0.9)
    inset.set_title(
        "主城区放大 / Central urban districts, enlarged",
        fontsize=9,
        loc="left",
        pad=4,
    )
    # label the small districts and the neighbours whose label point is in view
    in_view = {
        row.adcode
        for row in gdf.itertuples()
        if frame.contains(label_point(row.geometry))
    }
    placed, still = label_districts(
        inset, renderer, gdf, size=7.5, only=set(small) | in_view
    )
    for code in still:  # too small even here: name beside it, with a leader line
        if code in small:
            leader_label(
                inset,
                renderer,
                next(gdf[gdf["adcode"] == code].itertuples()),
                placed=placed,
                size=7.5,
            )
    scale_bar(
        inset,
        x_frac=0.05,
        y_frac=0.05,
        max_frac=0.3,
        fontsize=7,
        gid="inset-scale-bar",
        backdrop=projects is not None,
    )
    ax.add_patch(
        Rectangle(
            (minx, miny),
            maxx - minx,
            maxy - miny,
            fill=False,
            edgecolor="#c0392b",
            linewidth=0.9,
            zorder=5,
        )
    )
    return inset


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------


def write_static_map(
    fig: Figure, path, /, *, dpi: int = DEFAULT_DPI, palette: bool = True
) -> Path:
    """Write a static map as PNG, SVG or PDF (by the file's suffix), atomically.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        From :func:`static_map`.
    path : str or Path
        Output file ending in ``.png``, ``.svg`` or ``.pdf``. The file is
        written to a temporary file in the same folder and renamed, so a
        reader never sees half a map.
    dpi : int, optional (default: 200)
        Resolution of PNG output; A4 landscape at 200 dpi is 2339 × 1654 px.
    palette : bool, optional (default: True)
        PNG only: store 256 adaptive colours instead of 24-bit RGB, about a
        third of the size. A map has a handful of fill colours plus their
        anti-aliased edges, so the difference is not visible.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ForestsinkError
        For any other suffix, or when the folder does not exist.

    Notes
    -----
    SVG text is written as paths (``svg.fonttype = "path"``) and PDF embeds
    the font as TrueType (``pdf.fonttype = 42``), so Chinese shows on machines
    without a CJK font.
    """
    from matplotlib import rc_context  # noqa: PLC0415 (optional heavy dependency)

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise MapError(
            f"{path}: cannot write a static map as {suffix or 'a file without suffix'}"
            f"; use {', '.join(SUFFIXES)} (or .html for the interactive map)."
        )
    if not path.parent.is_dir():
        raise MapError(f"{path}: folder {path.parent} does not exist; create it first.")
    title = " ".join(t.get_text() for t in fig.texts if t.get_gid() == "title")
    software = f"forestsink {__version__}"
    family = fig.texts[0].get_fontfamily()[0] if fig.texts else "DejaVu Sans"
    # the temporary file keeps the suffix: matplotlib picks the format by it
    with atomic_write(path) as tmp, rc_context(font_rc(family)):
        if suffix == ".png":
            _write_png(fig, tmp, dpi=dpi, palette=palette, title=title)
        else:
            metadata = (
                {"Title": title, "Creator": software, "Date": None}
                if suffix == ".svg"
                else {"Title": title, "Creator": software, "CreationDate": None}
            )
            fig.savefig(tmp, format=suffix[1:], metadata=metadata, facecolor="white")
    return path


def _write_png(fig: Figure, path: Path, *, dpi: int, palette: bool, title: str):
    """Write *fig* as PNG with its title and the software in the metadata."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    buf.seek(0)
    image = Image.open(buf).convert("RGB")
    if palette:
        image = image.quantize(
            256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    info = PngImagePlugin.PngInfo()
    info.add_itxt("Title", title)
    info.add_text("Software", f"forestsink {__version__}")
    image.save(path, format="PNG", optimize=True, dpi=(dpi, dpi), pnginfo=info)


# --------------------------------------------------------------------------
# the tool
# --------------------------------------------------------------------------


def render_static_map(
    what: str,
    out,
    /,
    *,
    store=None,
    progress=None,
    carbon=None,
    coverage=None,
    as_of=None,
    year: int | None = None,
    font=None,
    districts: gpd.GeoDataFrame | None = None,
    dpi: int = DEFAULT_DPI,
    growth=None,
    plan=None,
    transfers=None,
    targets=None,
) -> Path:
    """Compute the tables a map needs and write it (``forestsink map``).

    Parameters
    ----------
    what : {"coverage", "progress", "carbon", "projects", "duties"}
        What to map.
    out : str or Path
        ``.png``, ``.svg`` or ``.pdf``.
    store : str, Path or store, optional (default: None)
        The project store; needed for ``progress``, ``carbon`` and
        ``projects`` unless their tables are given.
    progress : forestsink.progress.Tables or DataFrame, optional (default: None)
        Result of ``progress_tables`` (or its ``district`` table); computed
        from *store* when not given.
    carbon : forestsink.progress.Tables or DataFrame, optional (default: None)
        Result of ``carbon_tables`` (or its ``carbon`` table).
    coverage : str, Path or DataFrame, optional (default: None)
        Coverage table (``adcode``, ``coverage_pct``, ``year``), or the CSV or
        JSON file ``forestsink coverage`` wrote. Needed for ``coverage``.
    as_of : str or int, optional (default: None, the latest state)
        Date or batch number for the store's state.
    year : int, optional (default: None)
        ``progress``: only that year's new area (default: cumulative over
        the plan's years). ``coverage``: the year to show (default: the latest).
    font : str, path or FontProperties, optional (default: search)
        CJK font, as for :func:`find_cjk_font`.
    districts : geopandas.GeoDataFrame, optional (default: shipped boundaries)
        District boundaries.
    dpi : int, optional (default: 200)
        PNG resolution.
    growth : str, Path or DataFrame, optional (default: None)
        ``carbon``: growth (yield) table for the modelled project increment
        (:func:`forestsink.progress.read_growth_table`); without it only
        before/after volumes give a figure, other districts are no data.
    plan : Plan or path, optional (default: None, the seed plan)
        The plan (:func:`forestsink.reference.read_plan`) whose period and
        targets the titles give; ``duties`` maps its district duties.
    transfers : path or DataFrame, optional (default: None)
        ``duties``: forest-area indicator transfers, counted in the duty
        balance only (:func:`forestsink.progress.duties.duty_accounting`).
    targets : path, optional (default: None, the plan's duties)
        ``duties``: the bureau's district targets table instead.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    _theme(what)
    if Path(out).suffix.lower() not in SUFFIXES:  # fail before the slow part
        raise MapError(
            f"{out}: use a {', '.join(SUFFIXES)} file name for a static map."
        )
    font = find_cjk_font(font)
    districts = read_districts() if districts is None else districts
    values = projects = None
    if what == "progress":
        values, subtitle = progress_values(
            progress, store=store, as_of=as_of, year=year, plan=plan
        )
    elif what == "carbon":
        values, subtitle = carbon_values(
            carbon, store=store, as_of=as_of, growth=growth, plan=plan
        )
    elif what == "coverage":
        values, subtitle = coverage_values(coverage, year=year, plan=plan)
    elif what == "duties":
        values, subtitle = duty_values(
            progress,
            store=store,
            as_of=as_of,
            plan=plan,
            transfers=transfers,
            coverage=coverage,
            targets=targets,
        )
    else:
        projects, subtitle = project_polygons(store, as_of=as_of)
    fig = static_map(
        what,
        districts=districts,
        values=values,
        projects=projects,
        subtitle=subtitle,
        font=font,
    )
    return write_static_map(fig, out, dpi=dpi)
