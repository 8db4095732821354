"""Raster inspection, grids and windows.

:func:`inspect_raster` opens a land-cover raster once and returns its
:class:`RasterInfo` (a :class:`Grid`: CRS, affine transform in the CRS's
units, width and height in pixels; the class band, its data type and
no-data value, block size), refusing what cannot be measured (no CRS,
rotated or GCP-only georeferencing, a non-integer band) with a message that
names the file and the fix. GDAL's failures become :class:`RasterFileError`
(:func:`raster_read_error`). :func:`raster_windows`, :func:`open_raster` and
:func:`read_window` are the windowed reading the counting and the overlay
share; :func:`year_from_name` reads the 4-digit year of a file name.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from pyproj import CRS
from pyproj.exceptions import CRSError as PyprojCRSError
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.windows import Window

from forestsink.errors import (
    CoverageError,
    CRSError,
    GridMismatchError,
    RasterFileError,
    RasterWarning,
)


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid.

    Attributes
    ----------
    crs : pyproj.CRS
        The raster's CRS.
    transform : affine.Affine
        Pixel (col, row) -> CRS (x, y) of the upper-left corner.
    width, height : int
        Columns and rows.
    """

    crs: Any
    transform: Any
    width: int
    height: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Return (xmin, ymin, xmax, ymax) in the grid's CRS."""
        t = self.transform
        xs = (t.c, t.c + t.a * self.width)
        ys = (t.f, t.f + t.e * self.height)
        return min(xs), min(ys), max(xs), max(ys)

    def describe(self) -> str:
        """Return a one-line description (CRS, pixel size, origin, shape)."""
        t = self.transform
        return (
            f"{crs_name(self.crs)}, pixel {abs(t.a):g} x {abs(t.e):g}, origin "
            f"({t.c:g}, {t.f:g}), {self.width} x {self.height} pixels"
        )

    def offset_in(self, other: Grid) -> tuple[int, int]:
        """Return (row, col) of this grid's origin in *other*'s pixel grid.

        Raises
        ------
        GridMismatchError
            If the CRSs, pixel sizes or pixel alignments differ.
        """
        a, b = self.transform, other.transform
        same_crs = self.crs == other.crs
        tol = 1e-9 * max(abs(a.a), abs(a.e))
        same_res = abs(a.a - b.a) <= tol and abs(a.e - b.e) <= tol
        col = (a.c - b.c) / b.a
        row = (a.f - b.f) / b.e
        aligned = abs(col - round(col)) < 1e-6 and abs(row - round(row)) < 1e-6
        if not (same_crs and same_res and aligned):
            raise GridMismatchError(
                "the two rasters are on different pixel grids:\n"
                f"  1: {other.describe()}\n  2: {self.describe()}\n"
                "Class codes are not resampled silently. Put both on one grid, e.g. "
                f"`gdalwarp -t_srs {crs_name(other.crs)} -tr {abs(b.a):g} "
                f"{abs(b.e):g} -tap -r near IN.tif OUT.tif` (same CRS, pixel size "
                "and alignment; extents may differ)."
            )
        return round(row), round(col)


@dataclass(frozen=True)
class RasterInfo:
    """What :func:`inspect_raster` learns about a land-cover raster."""

    path: Path
    grid: Grid
    dtype: str
    nodata: float | None
    block_height: int
    block_width: int = 0
    band: int = 1

    @property
    def max_code(self) -> int:
        """Largest value of the data type (255 or 65535)."""
        return 255 if self.dtype == "uint8" else 65535


def crs_name(crs) -> str:
    """Short name of a CRS for messages.

    Parameters
    ----------
    crs : pyproj.CRS
        Any CRS.

    Returns
    -------
    str
        ``"EPSG:<code>"`` when pyproj finds an EPSG code, else the CRS's own
        name, else ``"custom CRS"``.
    """
    try:
        code = crs.to_epsg()
    except Exception:  # pragma: no cover - pyproj edge cases
        code = None
    return f"EPSG:{code}" if code else (crs.name or "custom CRS")


def _user_crs(text, where: str, option: str | None = None):
    try:
        return CRS.from_user_input(text)
    except PyprojCRSError as err:
        raise CRSError(
            f"{where}: {text!r} is not a CRS pyproj understands ({err}); give e.g. "
            "EPSG:4545 or EPSG:4490.",
            option=option,
        ) from err


def _dtype_advice(path: Path, dtype: str, nodata) -> str:
    """Say why a raster's data type is refused and how to convert it."""
    wide = dtype in ("uint32", "int32", "uint64", "int64")
    target, gdal_type, fill = (
        ("uint16", "UInt16", 65535) if wide else ("uint8", "Byte", 255)
    )
    out = f"{path.stem}_{target}{path.suffix}"
    if nodata is None:
        gdal = f"gdal_translate -ot {gdal_type} {path.name} {out}"
    else:  # gdal_calc maps the old no-data value to the new one
        gdal = (
            f"gdal_calc.py -A {path.name} --outfile={out} --type={gdal_type} "
            f"--NoDataValue={fill} --calc=A"
        )
    py = (
        "with rasterio.open(IN) as s: p = s.profile; a = s.read(1, masked=True); "
        f"p.update(dtype='{target}', nodata={fill}); "
        f"rasterio.open(OUT, 'w', **p).write(a.filled({fill}).astype('{target}'), 1)"
    )
    return (
        f"{path}: 数据类型 {dtype}，地类栅格须为 8 位或 16 位无符号整数。若像元值是"
        f"整数地类代码，请先转换：`{gdal}`（无数据值改为 {fill}）；若是连续值"
        f"（坡度、NDVI 等），请先分类。 / data type {dtype}; land-cover class "
        "rasters are 8- or 16-bit unsigned integers. If the values are whole "
        f"class codes, convert the file first: `{gdal}` (no data becomes {fill}; "
        f"codes above {fill - 1} need a wider type), or with rasterio: `{py}`. "
        "Continuous values (slope, NDVI ...) are not class codes: classify them "
        "first."
    )


def _gdal_detail(err: BaseException) -> str:
    """GDAL's own words from a rasterio error and its causes, on one line."""
    words: list[str] = []
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        text = " ".join(str(cause).split())
        if text and "see previous exception" not in text.lower() and text not in words:
            words.append(text)
        cause = cause.__cause__ or cause.__context__
    return "; ".join(words) or type(err).__name__


def raster_read_error(path: str | Path, err: BaseException) -> RasterFileError:
    """Say, per file, why GDAL could not read a raster and what to do.

    Parameters
    ----------
    path : str or Path
        The raster file the user gave.
    err : Exception
        The rasterio/GDAL error (``RasterioIOError`` ...).

    Returns
    -------
    RasterFileError
        Bilingual message naming the file, what is wrong and the fix.
    """
    path = Path(path)
    detail = _gdal_detail(err)
    low = detail.lower()
    if "not recognized as" in low or "not recognised as" in low:
        zh, en = (
            "不是 GDAL 能读的栅格文件",
            "is not a raster file GDAL can read",
        )
        fix_zh, fix_en = (
            "请确认给的是地类栅格（GeoTIFF 等）",
            ("check that it is the land-cover raster (GeoTIFF ...)"),
        )
    elif "permission denied" in low:
        zh, en = "没有读取权限", "cannot be read: no permission"
        fix_zh, fix_en = "请检查文件权限", "check the file's permissions"
    elif path.suffix.lower() == ".vrt" and (
        "no such file" in low or "does not exist" in low or "failed to open" in low
    ):
        zh, en = (
            "VRT 引用的源文件缺失或无法打开",
            "is a VRT whose source files are missing or cannot be opened",
        )
        fix_zh, fix_en = (
            "请把源文件放回 VRT 所写的位置，或重建 VRT",
            ("put the source files where the VRT says, or build the VRT again"),
        )
    else:
        zh, en = "文件被截断或已损坏", "the file is truncated or damaged"
        fix_zh, fix_en = "请从来源重新复制", "copy it again from the source"
    return RasterFileError(
        f"{path.name}: {zh}（GDAL：{detail}），{fix_zh}。 / {path.name}: {en} "
        f"(GDAL: {detail}); {fix_en}. ({path})"
    )


def _valid_nodata(path: Path, nodata, dtype: str, band: int) -> float | None:
    """Return the no-data value if the data type can hold it, else warn -> None."""
    if nodata is None:
        return None
    info = np.iinfo(dtype)
    value = float(nodata)
    if math.isfinite(value) and value.is_integer() and info.min <= value <= info.max:
        return nodata
    text = (
        f"{path.name}: 第 {band} 波段的无数据值 {nodata!r} 超出数据类型 {dtype} 的"
        f"范围（{info.min}–{info.max}），没有像元等于它，故不排除任何像元；如有"
        f"无数据像元，请用 `gdal_edit.py -a_nodata 值 {path.name}` 设定正确的值。 / "
        f"{path.name}: the no-data value {nodata!r} of band {band} cannot occur in "
        f"its data type {dtype} ({info.min}–{info.max}), so no pixel is no data; if "
        f"some are, set the right value with `gdal_edit.py -a_nodata VALUE "
        f"{path.name}`."
    )
    warnings.warn(text, RasterWarning, stacklevel=3)
    return None


def _check_geotransform(path: Path, src, transform, width: int, height: int) -> None:
    """Refuse a raster with no usable geotransform (identity, NaN, rotation)."""
    where = f"{path.name}"
    if width < 1 or height < 1:
        raise RasterFileError(
            f"{where}: 栅格大小为 {width} x {height} 像元，没有可统计的像元。 / "
            f"{where}: the raster is {width} x {height} pixels; there is nothing to "
            "count. Check that it is the right file."
        )
    coeffs = tuple(transform)[:6]
    if not all(math.isfinite(v) for v in coeffs):
        raise RasterFileError(
            f"{where}: 地理变换参数含 NaN 或无穷大 {coeffs}，无法确定像元位置；请用 "
            f"`gdal_edit.py -a_ullr` 设定正确范围，或从来源重新获取。 / {where}: the "
            f"geotransform holds NaN or infinite values {coeffs}, so the pixels "
            "cannot be placed; set the right extent with `gdal_edit.py -a_ullr "
            "ULX ULY LRX LRY` or get the file again from the source."
        )
    driver = getattr(src, "driver", "")
    if transform.is_identity and src.gcps[0]:
        raise RasterFileError(
            f"{where}: 栅格只有地面控制点（{len(src.gcps[0])} 个），没有地理变换；"
            f"请先校正为规则网格：`gdalwarp -r near {path.name} OUT.tif`。 / "
            f"{where}: the raster is georeferenced by {len(src.gcps[0])} ground "
            "control points only, with no geotransform; warp it onto a regular grid "
            f"first: `gdalwarp -r near {path.name} OUT.tif`."
        )
    if transform.is_identity:
        renamed = (
            driver
            and driver.lower() not in ("gtiff", "cog", "vrt")
            and path.suffix.lower() in (".tif", ".tiff")
        )
        zh = f"实为改名为 {path.suffix} 的 {driver} 图像，" if renamed else ""
        en = f"is in fact a {driver} image named {path.suffix}; it " if renamed else ""
        raise RasterFileError(
            f"{where}: {zh}没有地理参考（无地理变换），不是地图栅格，无法与区县"
            "叠加；请使用带坐标的 GeoTIFF。 / "
            f"{where}: {en or 'the file '}has no georeferencing (no geotransform), "
            "so it is not a map raster and cannot be laid over the zones; use the "
            "GeoTIFF with its coordinates."
        )
    if transform.a == 0 or transform.e == 0:
        raise RasterFileError(
            f"{where}: 像元大小为零（地理变换 {coeffs}），文件已损坏；请从来源重新"
            f"复制。 / {where}: the pixel size is zero (geotransform {coeffs}); the "
            "file is damaged; copy it again from the source."
        )
    if transform.b != 0 or transform.d != 0:
        raise CoverageError(
            f"{where}: 栅格有旋转或错切（地理变换 {coeffs}），请先用 gdalwarp 重采样"
            f"为正北向网格。 / {where}: the raster is rotated or sheared "
            f"(geotransform {coeffs}); warp it to a north-up grid first "
            f"(`gdalwarp -r near {path.name} OUT.tif`)."
        )


def inspect_raster(
    path: str | Path, /, *, crs=None, band: int | None = None
) -> RasterInfo:
    """Open a land-cover raster and check that it can be used.

    Parameters
    ----------
    path : str or Path
        Any integer raster GDAL reads (GeoTIFF, COG, VRT ...).
    crs : optional (default: None)
        CRS to use instead of the raster's own (needed when it carries none);
        anything ``pyproj.CRS.from_user_input`` takes.
    band : int, optional (default: None, band 1)
        Band holding the class codes (1-based). When a raster has several
        bands and *band* is not given, band 1 is used and a
        :class:`~forestsink.errors.RasterWarning` names the band count (a
        class raster with a quality or confidence band is common; the
        warning says how to pick another band).

    Returns
    -------
    RasterInfo

    Raises
    ------
    CRSError
        The raster has no CRS (and none was given) or an unusable one.
    RasterFileError
        Not a raster, truncated or damaged (GDAL's words are quoted), a VRT
        whose sources are missing, no georeferencing, NaN/infinite or zero
        pixel size, or no pixels.
    CoverageError
        Rotated, no such band, or not an 8/16-bit unsigned integer band.

    Notes
    -----
    A no-data value the data type cannot hold (300 or -9999 in ``uint8``)
    matches no pixel: it is dropped with a :class:`RasterWarning`. The last
    block of the band is read here, so a file cut short fails now, naming
    itself, and not after the zone weights are computed.
    """
    path = Path(path)
    chosen = 1 if band is None else int(band)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                count = src.count
                if not 1 <= chosen <= count:
                    raise CoverageError(
                        f"{path.name}: 栅格有 {count} 个波段，没有第 {chosen} 波段；"
                        f"请用 band=1 到 {count}。 / {path.name}: the raster has "
                        f"{count} band(s); there is no band {chosen}. Pass band="
                        f"1 to {count}.",
                        option="band",
                    )
                src_crs, transform = src.crs, src.transform
                width, height = src.width, src.height
                _check_geotransform(path, src, transform, width, height)
                dtype = src.dtypes[chosen - 1]
                nodata = src.nodatavals[chosen - 1]
                block_h, block_w = src.block_shapes[chosen - 1]
                # the last block: a file cut short fails here, naming itself
                r0 = (height - 1) // block_h * block_h
                c0 = (width - 1) // block_w * block_w
                src.read(
                    chosen, window=Window(c0, r0, width - c0, min(block_h, height - r0))
                )
    except RasterioError as err:
        raise raster_read_error(path, err) from err
    if band is None and count > 1:
        text = (
            f"{path.name}: 栅格有 {count} 个波段，使用第 1 波段作为地类代码；如需"
            f"其他波段请用 band=N。 / {path.name}: the raster has {count} bands; "
            "band 1 is used as the class codes. Pass band=N to use another."
        )
        warnings.warn(RasterWarning(text, option="band"), stacklevel=2)
    if crs is not None:
        grid_crs = _user_crs(crs, f"{path.name}: crs", option="crs")
    elif src_crs is None:
        raise CRSError(
            f"{path.name}: 栅格没有坐标参考系，无法与区县叠加；如已知请用 crs "
            '参数指定（如 crs="EPSG:4545"），或用 `gdal_edit.py -a_srs EPSG:4545 '
            f"{path.name}` 写入。 / {path}: the raster has no coordinate reference "
            "system, so it cannot be placed on the map. If you know it, pass it as "
            'crs (e.g. crs="EPSG:4545"), or set it with `gdal_edit.py -a_srs '
            "EPSG:4545 FILE`.",
            option="crs",
        )
    else:
        grid_crs = _user_crs(src_crs.to_wkt(), str(path))
    if not (grid_crs.is_geographic or grid_crs.is_projected):
        raise CRSError(
            f"{path}: CRS {grid_crs.name!r} is neither geographic nor projected "
            "(a local or engineering CRS); pass the real one as crs.",
            option="crs",
        )
    if dtype not in ("uint8", "uint16"):
        raise CoverageError(_dtype_advice(path, dtype, nodata))
    return RasterInfo(
        path=path,
        grid=Grid(grid_crs, transform, width, height),
        dtype=dtype,
        nodata=_valid_nodata(path, nodata, dtype, chosen),
        block_height=block_h,
        block_width=block_w,
        band=chosen,
    )


_YEAR_RE = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")


def year_from_name(path: str | Path) -> int:
    """Return the year written in a file name (4 digits, 1950–2099).

    Examples
    --------
    >>> year_from_name("landcover/clcd_2015.tif")
    2015
    >>> year_from_name("CLCD_v01_2019_albert_province.tif")
    2019
    """
    found = set(_YEAR_RE.findall(Path(path).stem))
    if len(found) != 1:
        what = "no year" if not found else f"several years ({', '.join(sorted(found))})"
        raise CoverageError(
            f"{Path(path).name}: {what} in the file name; pass the years "
            "with years=[Y] (one raster) or years=[Y1, Y2] (two rasters).",
            option="years",
        )
    return int(found.pop())


def raster_windows(grid: Grid, block: tuple[int, int], window_pixels: int):
    """Row bands (one block high for tiled rasters) cut into column chunks.

    Parameters
    ----------
    grid : Grid
        The reference grid (pixel rows and columns, any CRS).
    block : tuple of int
        Block (tile) height and width of the raster, in pixels.
    window_pixels : int
        Target number of pixels per window.

    Yields
    ------
    tuple of int
        ``(row0, row1, [(col0, col1), ...])``: a band of rows and its column
        chunks, in pixels of *grid*, half-open.
    """
    bh, bw = block
    if bh >= 16 and bw < grid.width:  # tiled: whole tiles, each read once
        band = bh
        chunk = max(bw, (window_pixels // band) // bw * bw)
    else:  # striped: whole rows
        band = max(1, window_pixels // max(grid.width, 1))
        chunk = grid.width
    for r0 in range(0, grid.height, band):
        r1 = min(grid.height, r0 + band)
        yield (
            r0,
            r1,
            [(c0, min(grid.width, c0 + chunk)) for c0 in range(0, grid.width, chunk)],
        )


def open_raster(path: Path):
    """Open a raster for reading; GDAL's failure becomes :class:`RasterFileError`.

    Parameters
    ----------
    path : pathlib.Path
        Raster file (anything GDAL opens).

    Returns
    -------
    rasterio.io.DatasetReader
        The open dataset (a context manager; the caller closes it).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path)
    except RasterioError as err:
        raise raster_read_error(path, err) from err


def read_window(src, info, info_offset, row0, col0, height, width, fill):
    """Read rows/cols of the reference grid from a raster offset by (dr, dc).

    A read GDAL fails (a damaged tile, a VRT source gone) raises
    :class:`RasterFileError` naming *info*'s file.

    Parameters
    ----------
    src : rasterio.io.DatasetReader
        The open raster (:func:`open_raster`).
    info : RasterInfo
        Its inspection (band and path).
    info_offset : tuple of int
        ``(dr, dc)``: the raster's pixel offset from the reference grid.
    row0, col0, height, width : int
        The window in pixels of the reference grid.
    fill : int
        Value for pixels outside the raster's extent.

    Returns
    -------
    numpy.ndarray
        ``height`` x ``width`` class codes.
    """
    dr, dc = info_offset
    r, c = row0 - dr, col0 - dc
    inside = r >= 0 and c >= 0 and r + height <= src.height and c + width <= src.width
    window = Window(c, r, width, height)
    try:
        if inside:
            return src.read(info.band, window=window)
        return src.read(info.band, window=window, boundless=True, fill_value=fill)
    except RasterioError as err:
        raise raster_read_error(info.path, err) from err
