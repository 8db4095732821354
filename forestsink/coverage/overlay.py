"""Overlay pictures: a small categorical PNG of the coverage for web maps.

:func:`make_overlay` reads the rasters on a coarse grid (at most
``max_size`` cells a side, GDAL mode resampling, only the zones' extent),
maps their classes to the :data:`OVERLAY_LEGEND` categories (non-forest
land, forest, water; forest gained and lost for two years), transparent
outside the zones, and reprojects to EPSG:3857 for a Leaflet ImageOverlay;
:func:`write_overlay` writes it as a paletted PNG and a JSON sidecar (bounds
in degrees, WGS 84).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.features import rasterize
from rasterio.io import MemoryFile
from rasterio.warp import calculate_default_transform, reproject
from rasterio.windows import Window

from forestsink.coverage.classes import FOREST_KINDS, ClassScheme
from forestsink.coverage.fractions import prepare_zones
from forestsink.coverage.rasters import Grid, RasterInfo, open_raster, raster_read_error
from forestsink.coverage.zones import ZoneSet
from forestsink.errors import CoverageError
from forestsink.io import atomic_write

#: Overlay categories: value -> (colour RGBA, Chinese, English).
OVERLAY_LEGEND: dict[int, tuple[tuple[int, int, int, int], str, str]] = {
    0: ((0, 0, 0, 0), "无数据/区外", "no data / outside the zones"),
    1: ((236, 226, 198, 170), "非森林土地", "non-forest land"),
    2: ((34, 120, 48, 210), "森林", "forest"),
    3: ((90, 150, 220, 200), "水体", "water"),
    4: ((120, 220, 60, 240), "新增森林", "forest gained"),
    5: ((215, 48, 39, 240), "森林减少", "forest lost"),
}


@dataclass(frozen=True)
class Overlay:
    """A small categorical image in EPSG:3857 for a Leaflet ImageOverlay.

    Attributes
    ----------
    image : numpy.ndarray of uint8
        Categories of :data:`OVERLAY_LEGEND`, rows north to south.
    bounds : tuple of float
        (south, west, north, east) in degrees (WGS 84) of the image corners.
    years : tuple of int
    block : int
        Raster pixels per overlay cell side before reprojection.
    """

    image: np.ndarray
    bounds: tuple[float, float, float, float]
    years: tuple[int, ...]
    block: int

    def png(self) -> bytes:
        """Return the image as a paletted PNG with transparency (bytes)."""
        h, w = self.image.shape
        with (
            rasterio.Env(GDAL_PAM_ENABLED="NO"),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")  # not georeferenced: bounds are apart
            with MemoryFile() as mem:
                with mem.open(
                    driver="PNG", width=w, height=h, count=1, dtype="uint8"
                ) as dst:
                    dst.write(self.image, 1)
                    dst.write_colormap(1, {v: c[0] for v, c in OVERLAY_LEGEND.items()})
                return bytes(mem.read())

    def meta(self, image_name: str) -> dict:
        """Return the JSON sidecar content."""
        s, w, n, e = self.bounds
        used = sorted(int(v) for v in np.unique(self.image))
        return {
            "image": image_name,
            "crs": "EPSG:3857",
            "bounds": [[s, w], [n, e]],
            "bounds_note": "Leaflet L.imageOverlay(image, bounds): [[south, west], "
            "[north, east]] in degrees; the image is in Web Mercator rows",
            "years": list(self.years),
            "block_pixels": self.block,
            "method": "each cell shows the most common class of its block of "
            "raster pixels in each year (GDAL mode resampling); gained / lost = "
            "the block's class went from non-forest to forest or back. For display "
            "only: tables are computed at full resolution.",
            "legend": [
                {
                    "value": v,
                    "rgba": list(OVERLAY_LEGEND[v][0]),
                    "name_zh": OVERLAY_LEGEND[v][1],
                    "name_en": OVERLAY_LEGEND[v][2],
                }
                for v in used
            ],
        }


def overlay_categories(
    classes: Sequence[np.ndarray], scheme: ClassScheme, inside: np.ndarray
) -> np.ndarray:
    """Map class indices of one or two years to overlay categories.

    Parameters
    ----------
    classes : sequence of numpy.ndarray
        Class indices (``scheme.lut`` applied), one array per year.
    scheme : ClassScheme
    inside : numpy.ndarray of bool
        Cells inside the zones.

    Returns
    -------
    numpy.ndarray of uint8
        Values of :data:`OVERLAY_LEGEND`.
    """
    kinds = scheme.kinds()
    forest = [np.isin(kinds[c], FOREST_KINDS) for c in classes]
    land = [kinds[c] == "land" for c in classes]
    water = [kinds[c] == "water" for c in classes]
    last = len(classes) - 1
    out = np.zeros(classes[0].shape, dtype=np.uint8)
    out[land[last]] = 1
    out[water[last]] = 3
    out[forest[last]] = 2
    if len(classes) == 2:
        valid0 = forest[0] | land[0] | water[0]
        out[forest[1] & valid0 & ~forest[0]] = 4
        out[forest[0] & (land[1] | water[1])] = 5
    out[~inside] = 0
    return out


def make_overlay(
    rasters: Sequence[RasterInfo],
    scheme: ClassScheme,
    zones: ZoneSet,
    *,
    years: Sequence[int] = (),
    max_size: int = 1024,
) -> Overlay:
    """Make the map overlay (forest / non-forest, and gain / loss for two years).

    Parameters
    ----------
    rasters : sequence of RasterInfo
        One or two rasters (the second on a grid aligned to the first).
    scheme : ClassScheme
    zones : ZoneSet
        Cells outside the zones are transparent.
    years : sequence of int, optional (default: ())
    max_size : int, optional (default: 1024)
        Longest side of the coarse grid, in cells.

    Returns
    -------
    Overlay
        Covering the zones' extent inside the raster (cells outside the zones
        are transparent), so a raster far larger than the zones (a header
        claiming 10¹² pixels) is not read whole.
    """
    full = rasters[0].grid
    local = prepare_zones(zones.geoms.geometry.values, zones.geoms.crs, full)
    # only the zones' extent: cells outside them are transparent anyway, and a
    # raster far larger than the zones is not read whole
    t0 = full.transform
    present = [g for g in local if g is not None and not g.is_empty]
    xmin, ymin, xmax, ymax = shapely.total_bounds(present) if present else full.bounds
    cols = sorted(((xmin - t0.c) / t0.a, (xmax - t0.c) / t0.a))
    rows = sorted(((ymax - t0.f) / t0.e, (ymin - t0.f) / t0.e))
    c0 = min(max(math.floor(cols[0]), 0), full.width - 1)
    c1 = max(min(math.ceil(cols[1]), full.width), c0 + 1)
    r0 = min(max(math.floor(rows[0]), 0), full.height - 1)
    r1 = max(min(math.ceil(rows[1]), full.height), r0 + 1)
    grid = Grid(full.crs, t0 @ Affine.translation(c0, r0), c1 - c0, r1 - r0)
    block = max(1, math.ceil(max(grid.width, grid.height) / max_size))
    oh, ow = math.ceil(grid.height / block), math.ceil(grid.width / block)
    t = grid.transform
    sx, sy = grid.width / ow, grid.height / oh
    coarse = Affine(t.a * sx, 0.0, t.c, 0.0, t.e * sy, t.f)
    classes = []
    for info in rasters:
        dr, dc = info.grid.offset_in(full)
        window = Window(c0 - dc, r0 - dr, grid.width, grid.height)
        within = (
            window.col_off >= 0
            and window.row_off >= 0
            and window.col_off + window.width <= info.grid.width
            and window.row_off + window.height <= info.grid.height
        )
        with (
            rasterio.Env(GDAL_CACHEMAX=64 * 1024 * 1024),
            open_raster(info.path) as src,
        ):
            try:
                values = src.read(
                    info.band,
                    window=window,
                    out_shape=(oh, ow),
                    resampling=Resampling.mode,
                    boundless=not within,
                    fill_value=info.nodata or 0,
                )
            except RasterioError as err:
                raise raster_read_error(info.path, err) from err
        classes.append(scheme.lut(info.nodata, max_code=info.max_code)[values])
    inside = rasterize(
        [(g, 1) for g in present],
        out_shape=(oh, ow),
        transform=coarse,
        fill=0,
        dtype="uint8",
    ).astype(bool)
    cats = overlay_categories(classes, scheme, inside)
    xmin, ymin, xmax, ymax = grid.bounds
    dst_t, dw, dh = calculate_default_transform(
        grid.crs.to_wkt(), "EPSG:3857", ow, oh, xmin, ymin, xmax, ymax
    )
    image = np.zeros((dh, dw), dtype=np.uint8)
    reproject(
        cats,
        image,
        src_transform=coarse,
        src_crs=grid.crs.to_wkt(),
        dst_transform=dst_t,
        dst_crs="EPSG:3857",
        resampling=Resampling.nearest,
        src_nodata=0,
        dst_nodata=0,
    )
    to_ll = Transformer.from_crs(3857, 4326, always_xy=True)
    west, north = to_ll.transform(dst_t.c, dst_t.f)
    east, south = to_ll.transform(dst_t.c + dst_t.a * dw, dst_t.f + dst_t.e * dh)
    return Overlay(image, (south, west, north, east), tuple(years), block)


def write_overlay(overlay: Overlay, path: str | Path) -> list[Path]:
    """Write the overlay as a paletted PNG and a JSON sidecar (same stem).

    Parameters
    ----------
    overlay : Overlay
    path : str or Path
        ``.png`` file; the sidecar is ``<stem>.json`` beside it.

    Returns
    -------
    list of Path
        The PNG and the JSON, each written atomically (``forestsink.io``'s
        one atomic write): an unwritable place raises
        :class:`~forestsink.errors.TableFileError` naming the file and
        leaves no partial file.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise CoverageError(f"{path}: the overlay is a .png file.")
    side = path.with_suffix(".json")
    png = overlay.png()
    meta = json.dumps(overlay.meta(path.name), ensure_ascii=False, indent=1)
    with atomic_write(path) as tmp:
        tmp.write_bytes(png)
    with atomic_write(side) as side_tmp:
        side_tmp.write_text(meta, encoding="utf-8")
    return [path, side]
