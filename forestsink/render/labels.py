"""District labels of the static maps: bilingual names placed inside or beside.

A label is the Chinese name over the English one, at the pole of
inaccessibility of the district's largest part, with a halo. A label that
does not fit inside its district (or would touch another) is removed and
reported, so the map can label it in the inset, beside the district with a
leader line (:func:`leader_label`).

Layers: shapely only; matplotlib is imported inside the functions (an
optional heavy dependency). Coordinates are data units of the axes (metres
of the map CRS).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from shapely.geometry import Point, box
from shapely.ops import polylabel

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["label_districts", "label_point", "leader_label"]

# central urban districts are labelled in an inset when their names do not fit
_MIN_INSIDE = 0.85  # share of a label's box that must lie inside its district

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


def label_point(geom):
    """Return a point deep inside the largest part of *geom*.

    The pole of inaccessibility (shapely ``polylabel``) of the largest part,
    or its representative point for degenerate shapes; in *geom*'s CRS.
    """
    parts = list(getattr(geom, "geoms", [geom]))
    part = max(parts, key=lambda g: g.area)
    tol = max(math.sqrt(part.area) / 200.0, 1.0)
    try:
        return polylabel(part, tolerance=tol)
    except Exception:  # degenerate shapes: fall back
        return part.representative_point()


def _is_dark(colour: str) -> bool:
    """Whether black text would be hard to read on *colour* (WCAG luminance)."""
    from matplotlib.colors import to_rgb  # noqa: PLC0415 (optional heavy dependency)

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
    from matplotlib import patheffects  # noqa: PLC0415 (optional heavy dependency)

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
    from matplotlib.transforms import Bbox  # noqa: PLC0415 (optional heavy dependency)

    bbox = Bbox.union([t.get_window_extent(renderer) for t in texts])
    data = bbox.transformed(ax.transData.inverted())
    return box(data.x0, data.y0, data.x1, data.y1)


def _fits(rect, geom, others) -> bool:
    """Whether *rect* lies (mostly) inside *geom* and clear of the *others*."""
    if rect.area <= 0:
        return False
    inside = geom.intersection(rect).area / rect.area
    return inside >= _MIN_INSIDE and not any(rect.intersects(o) for o in others)


def label_districts(ax: Axes, renderer, gdf, *, size: float, only=None):
    """Label districts whose names fit; return (placed boxes, adcodes that did not).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes in the map CRS (metres) the districts are drawn on.
    renderer : matplotlib renderer
        Of the figure, to measure the text.
    gdf : geopandas.GeoDataFrame
        Districts with ``adcode``, ``name_zh``, ``name_en``, ``fill_colour``,
        in the axes' CRS.
    size : float
        Font size of the Chinese name (points); English is 0.72 of it.
    only : set of str, optional (default: None, all)
        Adcodes to label.

    Returns
    -------
    (list of shapely.Polygon, list of str)
        The placed label boxes (data units) and the adcodes not labelled.

    Notes
    -----
    Larger districts are placed first; a label that does not fit inside its
    district, or would touch another label, is removed.
    """
    placed, missing = [], []
    order = gdf.assign(_a=gdf.geometry.area).sort_values("_a", ascending=False)
    for row in order.itertuples():
        if only is not None and row.adcode not in only:
            continue
        point = label_point(row.geometry)
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


def leader_label(ax: Axes, renderer, row, *, placed: list, size: float) -> bool:
    """Label a district too small for its name beside it, with a leader line.

    Tries eight directions at two distances and keeps the first label box
    that stays inside the axes and clear of *placed* labels (appended to).
    *row* is a district row (``geometry``, ``name_zh``, ``name_en``) in the
    axes' CRS. Returns whether the label was placed.
    """
    from matplotlib.lines import Line2D  # noqa: PLC0415 (optional heavy dependency)

    point = label_point(row.geometry)
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
