"""Interactive maps (folium/Leaflet) written as self-contained HTML.

Maps are drawn in Web Mercator by Leaflet for display only; no number shown
on a map is computed from display geometry.

Layers: reference tables and :mod:`forestsink.io`; folium is imported inside
the functions (an optional heavy dependency).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from forestsink.io import atomic_write
from forestsink.reference import REGION_EN, read_districts
from forestsink.render.offline import inline_assets, offline_map_class

if TYPE_CHECKING:
    import geopandas as gpd

REGION_COLOURS: dict[str, str] = {
    "一小时经济圈": "#8dd3c7",
    "渝东北翼": "#bebada",
    "渝东南翼": "#fdb462",
}

_DISPLAY_TOLERANCE_DEG = 0.002  # ~200 m: display only; numbers use full geometry


def district_map(districts: gpd.GeoDataFrame | None = None):
    """Return a folium map of the districts, coloured by annex-1 region.

    Parameters
    ----------
    districts : geopandas.GeoDataFrame, optional (default: the shipped layer)
        Must have ``adcode``, ``name_zh``, ``name_en``, ``region``; any CRS
        (reprojected to EPSG:4326 for Leaflet).

    Returns
    -------
    folium.Map
        With a bilingual label per district, a tooltip, a legend of the
        three regions and a scale bar; no basemap (works offline).
    """
    import folium  # noqa: PLC0415 (optional heavy dependency)

    gdf = read_districts() if districts is None else districts
    gdf = gdf.to_crs(4326)
    shown = gdf.copy()
    shown["geometry"] = shown.geometry.simplify(_DISPLAY_TOLERANCE_DEG)
    for column in ("name_zh", "name_en", "region"):
        shown[column] = shown[column].map(lambda s: html.escape(str(s)))
    minx, miny, maxx, maxy = gdf.total_bounds
    fmap = offline_map_class()(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=7,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
    )
    fmap.get_root().header.add_child(folium.Element('<meta charset="utf-8">'))
    layer = folium.GeoJson(
        shown[["adcode", "name_zh", "name_en", "region", "geometry"]].to_json(),
        name="区县 / Districts",
        style_function=lambda f: {
            "fillColor": REGION_COLOURS.get(f["properties"]["region"], "#cccccc"),
            "color": "#444444",
            "weight": 1,
            "fillOpacity": 0.6,
        },
        highlight_function=lambda f: {"weight": 3, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(
            fields=["name_zh", "name_en", "adcode", "region"],
            aliases=["名称 / Name", "English", "代码 / Adcode", "片区 / Region"],
        ),
    )
    layer.add_to(fmap)
    for row in shown.itertuples():
        point = gdf.loc[row.Index, "geometry"].representative_point()
        folium.Marker(
            [point.y, point.x],
            icon=folium.DivIcon(
                html=(
                    '<div class="fs-label">'
                    f"{row.name_zh}<br><small>{row.name_en}</small></div>"
                ),
                icon_size=(110, 30),
                icon_anchor=(55, 15),
            ),
        ).add_to(fmap)
    legend = "".join(
        f'<div><span style="background:{c}"></span>{html.escape(r)} / '
        f"{html.escape(REGION_EN[r])}</div>"
        for r, c in REGION_COLOURS.items()
    )
    fmap.get_root().html.add_child(
        folium.Element(
            "<style>"
            ".fs-label{font:12px/1.1 'Noto Sans CJK SC','Microsoft YaHei',"
            "'PingFang SC',sans-serif;text-align:center;color:#222;"
            "text-shadow:0 0 3px #fff,0 0 3px #fff;white-space:nowrap}"
            ".fs-label small{font-size:9px;color:#444}"
            ".fs-legend{position:absolute;bottom:30px;right:10px;z-index:1000;"
            "background:#fff;padding:6px 8px;border:1px solid #999;"
            "font:12px sans-serif}"
            ".fs-legend span{display:inline-block;width:12px;height:12px;"
            "margin-right:4px;border:1px solid #666}"
            ".fs-title{position:absolute;top:10px;left:60px;z-index:1000;"
            "background:#fff;padding:4px 10px;font:bold 16px sans-serif;"
            "border:1px solid #999}"
            "</style>"
            '<div class="fs-title">重庆市区县 / Chongqing districts and counties</div>'
            f'<div class="fs-legend"><b>片区 / Region</b>{legend}</div>'
        )
    )
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    return fmap


def write_map_html(fmap, path: str | Path) -> Path:
    """Render *fmap* to *path* as one self-contained HTML file (no CDN).

    The folder is created when missing; the file is written atomically.
    """
    path = Path(path)
    text = inline_assets(fmap.get_root().render())
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_district_map(path: str | Path) -> Path:
    """Write the interactive district map to *path* (HTML)."""
    return write_map_html(district_map(), path)
