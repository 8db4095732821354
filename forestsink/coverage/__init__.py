"""Forest coverage per zone from land-cover rasters, and its change between years.

森林覆盖率 = 森林面积（含国家特别规定的灌木林地）÷ 土地面积. Forest coverage is
the area of the classes that count as forest (``forest``, ``shrub_forest``)
divided by the land area (``forest + shrub_forest + land``); water and
excluded classes (no data, unclassified, codes the class table does not know)
are outside the denominator. Which code counts as what is data
(``data/landcover_classes.csv``), with presets for CLCD, ESA WorldCover and
GlobeLand30 that a user's class file overrides.

How it is computed
------------------
1. **Zones go to the raster, never the raster to the zones.** The zone
   polygons are densified and reprojected into the raster's CRS, so class
   codes are never resampled.
2. **Exact coverage fractions, from exactextract where they can be
   partial.** :func:`coverage_fractions` gives, for each zone, the share of
   every pixel the polygon covers (area of polygon ∩ pixel ÷ pixel area).
   Only pixels the zone boundary touches can be partial, so exactextract
   (``ops=["cell_id", "coverage"]``) is asked only about a band along each
   boundary, cut into blocks and packed onto a small synthetic grid (its
   cost grows with each polygon's bounding box); every other pixel lies
   wholly inside or outside a zone, decided by one point test per run of
   pixels. The result is kept compactly as runs of fully covered pixels plus
   the partial pixels on the boundary, and agrees with exactextract called
   directly on the whole zones cell by cell to 1e-6 (tested).
3. **Ellipsoidal pixel areas.** A pixel's area is the area on the ellipsoid of
   the raster's geodetic CRS of the quadrilateral spanned by its four corners,
   computed in an equal-area cylindrical projection of that ellipsoid
   (:func:`pixel_area_m2`; agrees with ``pyproj.Geod`` to 1e-7). Geographic
   rasters: exact per row (every row has its own area). Projected rasters:
   exact at a lattice of pixels about 4 km apart, bilinear in between
   (error < 1e-7); runs of covered pixels are cut into pieces along which the
   area changes by less than 1e-4 and each piece uses the area at its middle,
   so a pixel's area is within 5e-5 of its own and district totals agree
   with per-pixel areas to 5e-6 even on the coarse 500 m sample (tested).
   Equal-area projections: no cuts.
4. **Windowed counting.** :func:`count_classes` reads the rasters in windows
   (one tile row high, about 2²⁰ pixels; only windows that hold zone pixels),
   gathers only the pixels inside zones and accumulates ``area × fraction``
   per zone and class (or per zone and class pair for two years: the
   transition matrix) with ``numpy.bincount``. Memory is bounded by the
   window and the weights, not by the raster (928 MB peak at 10 m, 2.1 G
   pixels); the weights' work (boundary-band pixels plus zone rows) is
   estimated from the zones' boundary length in pixels before anything is
   allocated and refused above :data:`MAX_BAND_CELLS` (settable), so a
   header claiming 10¹² pixels is a message, not an unbounded allocation.
5. **Weights are reused.** :class:`ZoneWeights` belong to one grid; every
   further year on that grid only costs reading and counting. Two rasters
   must share CRS, pixel size and pixel alignment (extents may differ: the
   second is read with no data outside its extent); otherwise they are
   refused (:class:`GridMismatchError`), never resampled.

Areas are returned in m² by the array functions and in mu (亩) in the tables.
"""

from __future__ import annotations

import json
import logging
import math
import re
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forestsink.errors import (
    CoverageError,
    CRSError,
    ForestsinkError,
    GridMismatchError,
    NoOverlapError,
    OptionError,
    PartialOverlapWarning,
    RasterFileError,
    RasterWarning,
    UnknownClassError,
    UnknownClassWarning,
    WorkLimitError,
    ZoneFileError,
)
from forestsink.ingest.encoding import detect_dbf_encoding
from forestsink.io import (
    LAYER_SUFFIXES,
    TABLE_SUFFIXES,
    atomic_write,
    read_table,
    write_layer,
    write_sheets,
    write_table,
)
from forestsink.units import M2_PER_MU

_log = logging.getLogger(__name__)

__all__ = [
    "CITY_ADCODE",
    "COUNTS_AS",
    "MAX_BAND_CELLS",
    "MAX_UNKNOWN_PCT",
    "OVERLAY_LEGEND",
    "PRODUCTS",
    "ClassAreas",
    "ClassScheme",
    "CoverageError",
    "CoverageResult",
    "Fractions",
    "Grid",
    "GridMismatchError",
    "NoOverlapError",
    "Overlay",
    "PartialOverlapWarning",
    "PixelAreaModel",
    "RasterFileError",
    "RasterInfo",
    "RasterWarning",
    "UnknownClassError",
    "UnknownClassWarning",
    "WorkLimitError",
    "ZoneSet",
    "ZoneWeights",
    "check_work",
    "class_scheme_from_table",
    "compute_coverage",
    "count_classes",
    "coverage_fractions",
    "coverage_table",
    "inspect_raster",
    "make_overlay",
    "overlay_categories",
    "pixel_area_m2",
    "raster_read_error",
    "read_class_scheme",
    "read_zones",
    "transition_table",
    "write_coverage",
    "write_overlay",
    "year_from_name",
    "zone_weights",
]

CITY_ADCODE = "500000"
"""``adcode`` of the city-wide row (重庆市); its ``level`` is ``"city"``."""

PRODUCTS: tuple[str, ...] = ("clcd", "worldcover", "globeland30", "custom")
"""Land-cover products with a class preset (``custom``: your class file only)."""

COUNTS_AS: tuple[str, ...] = ("forest", "shrub_forest", "land", "water", "excluded")
"""What a class counts as: forest and shrub_forest are forest; land is the rest
of the denominator; water and excluded are outside it."""

FOREST_KINDS: tuple[str, ...] = ("forest", "shrub_forest")

#: Default largest share (percent of the zones' measured area) of pixels whose
#: codes the class table does not list (see :func:`compute_coverage`).
MAX_UNKNOWN_PCT = 5.0

#: Largest relative change of pixel area along one run piece (projected grids).
AREA_TOLERANCE = 1e-4
#: Largest lattice spacing (pixels) of exact pixel areas on projected grids;
#: nodes are also at most about 4 km apart.
AREA_LATTICE_STEP = 128
#: Most lattice nodes along a side (a raster over 262,144 pixels a side gets
#: a coarser step in pixels; nodes then lie closer than 4 km on any real
#: raster over Chongqing, so the error bound holds).
_LATTICE_NODES = 2048


# --------------------------------------------------------------------------
# class tables
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassScheme:
    """Which land-cover code counts as forest, land, water or excluded.

    Class *i* (0 ≤ i < n) is ``codes[i]``; index ``n`` is the raster's no-data
    value and ``n + 1`` any code the table does not know. Both count as
    ``excluded``.

    Attributes
    ----------
    product : str
        ``clcd``, ``worldcover``, ``globeland30`` or ``custom``.
    codes : tuple of int
        Raster values, sorted.
    name_zh, name_en : tuple of str
        Class names.
    counts_as : tuple of str
        One of :data:`COUNTS_AS` per code.
    source : tuple of str
        Where each row comes from.
    """

    product: str
    codes: tuple[int, ...]
    name_zh: tuple[str, ...]
    name_en: tuple[str, ...]
    counts_as: tuple[str, ...]
    source: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        """Number of listed codes."""
        return len(self.codes)

    @property
    def size(self) -> int:
        """Number of class indices: listed codes, no data, unknown."""
        return self.n + 2

    @property
    def nodata_index(self) -> int:
        """Class index of the raster's no-data value."""
        return self.n

    @property
    def unknown_index(self) -> int:
        """Class index of codes the table does not list."""
        return self.n + 1

    def kinds(self) -> np.ndarray:
        """Return what each class index counts as (length :attr:`size`)."""
        return np.array([*self.counts_as, "excluded", "excluded"], dtype=object)

    def labels(self) -> tuple[list[str], list[str], list[str]]:
        """Return (code text, Chinese name, English name) per class index."""
        codes = [str(c) for c in self.codes] + ["nodata", "unknown"]
        return (
            codes,
            [*self.name_zh, "无数据", "未知代码"],
            [*self.name_en, "no data", "unknown code"],
        )

    def lut(self, nodata: float | None, *, max_code: int) -> np.ndarray:
        """Return a lookup table raster value -> class index.

        Parameters
        ----------
        nodata : float or None
            The raster's no-data value; it maps to :attr:`nodata_index` unless
            the table lists it (then the table's row wins).
        max_code : int
            Largest value the raster's data type can hold (255 or 65535).

        Returns
        -------
        numpy.ndarray
            ``uint8`` (or ``uint16``) array of length ``max_code + 1``.
        """
        dtype = np.uint8 if self.size < 256 else np.uint16
        lut = np.full(max_code + 1, self.unknown_index, dtype=dtype)
        if nodata is not None and float(nodata).is_integer():
            if 0 <= int(nodata) <= max_code:
                lut[int(nodata)] = self.nodata_index
        for i, code in enumerate(self.codes):
            if code <= max_code:
                lut[code] = i
        return lut

    def table(self) -> pd.DataFrame:
        """Return the scheme as a table (product, code, names, counts_as, source)."""
        return pd.DataFrame(
            {
                "product": self.product,
                "code": list(self.codes),
                "name_zh": list(self.name_zh),
                "name_en": list(self.name_en),
                "counts_as": list(self.counts_as),
                "source": list(self.source) or [""] * self.n,
            }
        )


def _classes_csv() -> Path:
    from forestsink.reference import data_dir

    return data_dir() / "landcover_classes.csv"


def _read_class_file(path: Path) -> pd.DataFrame:
    """Read a class table (CSV in UTF-8 or GBK, Excel, JSON) as text."""
    if not path.is_file():
        raise CoverageError(f"{path}: class file not found.")
    return read_table(path, dtype=str)


def class_scheme_from_table(
    table: pd.DataFrame, *, product: str, source: str = "class table"
) -> ClassScheme:
    """Validate a class table and return a :class:`ClassScheme`.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``code`` (integer 0–65535, unique) and ``counts_as`` (one of
        :data:`COUNTS_AS`); optional ``name_zh``, ``name_en``, ``source``.
    product : str
        Product name recorded in the scheme.
    source : str, optional (default: "class table")
        Name of the table in error messages (usually its path).

    Returns
    -------
    ClassScheme

    Raises
    ------
    CoverageError
        Naming the row (header = row 1), the column and the value.
    """
    table = table.copy()
    table.columns = [str(c).strip().lower() for c in table.columns]
    for column in ("code", "counts_as"):
        if column not in table.columns:
            raise CoverageError(
                f"{source}: column '{column}' missing; a class table needs "
                "code, counts_as (and optionally name_zh, name_en, source)."
            )
    for column in ("name_zh", "name_en", "source"):
        if column not in table.columns:
            table[column] = ""
    codes = []
    for i, value in enumerate(table["code"].astype(str).str.strip()):
        try:
            code = int(float(value))
            if code != float(value) or not 0 <= code <= 65535:
                raise ValueError
        except ValueError as err:
            raise CoverageError(
                f"{source}: row {i + 2}, column 'code': value {value!r} is not an "
                "integer between 0 and 65535."
            ) from err
        codes.append(code)
    table["code"] = codes
    kinds = table["counts_as"].astype(str).str.strip().str.lower()
    kinds = kinds.replace({"nodata": "excluded", "nodata_excluded": "excluded"})
    bad = ~kinds.isin(COUNTS_AS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CoverageError(
            f"{source}: row {i + 2}, column 'counts_as': value "
            f"{table['counts_as'].iloc[i]!r} is not one of {', '.join(COUNTS_AS)}."
        )
    table["counts_as"] = kinds
    dup = table["code"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise CoverageError(
            f"{source}: row {i + 2}, column 'code': code {table['code'].iloc[i]} "
            "is listed twice; keep one row per code."
        )
    if not table["counts_as"].isin(FOREST_KINDS).any():
        raise CoverageError(
            f"{source}: no code counts as forest or shrub_forest; coverage would "
            "be zero. Set counts_as of the forest classes."
        )
    table = table.sort_values("code")
    return ClassScheme(
        product=product,
        codes=tuple(int(c) for c in table["code"]),
        name_zh=tuple(str(v) for v in table["name_zh"]),
        name_en=tuple(str(v) for v in table["name_en"]),
        counts_as=tuple(table["counts_as"]),
        source=tuple(str(v) for v in table["source"]),
    )


def read_class_scheme(
    product: str = "clcd",
    classes: str | Path | None = None,
    *,
    water_in_land: bool = False,
) -> ClassScheme:
    """Return the class scheme of a product, with a user's overrides.

    Parameters
    ----------
    product : str, optional (default: "clcd")
        One of :data:`PRODUCTS`. ``custom`` needs *classes*.
    classes : str or Path, optional (default: None)
        A CSV/XLSX class table (``code``, ``counts_as``, optional names). For a
        preset product its rows replace the preset's rows with the same code
        and add new codes; for ``custom`` it is the whole table. A ``product``
        column, if present, selects the rows of *product* when any match.
    water_in_land : bool, optional (default: False)
        Count water as land (in the denominator) instead of excluding it.

    Returns
    -------
    ClassScheme
    """
    product = product.strip().lower()
    if product not in PRODUCTS:
        raise CoverageError(
            f"unknown land-cover product {product!r}; use one of {', '.join(PRODUCTS)}"
            " (custom with --classes FILE)."
        )
    frames = []
    if product != "custom":
        preset = _read_class_file(_classes_csv())
        frames.append(preset[preset["product"].str.strip().str.lower() == product])
    elif classes is None:
        raise CoverageError(
            "product 'custom' needs a class table: pass --classes FILE with columns "
            "code, counts_as (forest, shrub_forest, land, water, excluded)."
        )
    source = str(_classes_csv()) if classes is None else str(classes)
    if classes is not None:
        user = _read_class_file(Path(classes))
        user.columns = [str(c).strip().lower() for c in user.columns]
        if "product" in user.columns:
            mine = user["product"].astype(str).str.strip().str.lower() == product
            if mine.any():
                user = user[mine]
        if frames and "code" in user.columns:
            preset = frames[0]
            keep = ~preset["code"].astype(str).str.strip().isin(
                user["code"].astype(str).str.strip()
            )
            frames = [preset[keep]]
        user = user.assign(source=user.get("source", f"user file {Path(classes).name}"))
        frames.append(user)
    table = pd.concat(frames, ignore_index=True)
    scheme = class_scheme_from_table(table, product=product, source=source)
    if water_in_land:
        kinds = tuple("land" if k == "water" else k for k in scheme.counts_as)
        scheme = ClassScheme(
            scheme.product,
            scheme.codes,
            scheme.name_zh,
            scheme.name_en,
            kinds,
            scheme.source,
        )
    return scheme


# --------------------------------------------------------------------------
# rasters and grids
# --------------------------------------------------------------------------


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
            f"{_crs_name(self.crs)}, pixel {abs(t.a):g} x {abs(t.e):g}, origin "
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
                f"`gdalwarp -t_srs {_crs_name(other.crs)} -tr {abs(b.a):g} "
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


def _crs_name(crs) -> str:
    try:
        code = crs.to_epsg()
    except Exception:  # pragma: no cover - pyproj edge cases
        code = None
    return f"EPSG:{code}" if code else (crs.name or "custom CRS")


def _user_crs(text, where: str):
    from pyproj import CRS
    from pyproj.exceptions import CRSError as PyprojCRSError

    try:
        return CRS.from_user_input(text)
    except PyprojCRSError as err:
        raise CRSError(
            f"{where}: {text!r} is not a CRS pyproj understands ({err}); give e.g. "
            "EPSG:4545 or EPSG:4490."
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
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError
    from rasterio.windows import Window

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
                        f"请用 --band 1 到 {count}。 / {path.name}: the raster has "
                        f"{count} band(s); there is no band {chosen}. Pass --band "
                        f"1 to {count}."
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
            f"其他波段请用 --band N。 / {path.name}: the raster has {count} bands; "
            "band 1 is used as the class codes. Pass --band N to use another."
        )
        warnings.warn(text, RasterWarning, stacklevel=2)
    if crs is not None:
        grid_crs = _user_crs(crs, f"{path.name} --crs")
    elif src_crs is None:
        raise CRSError(
            f"{path.name}: 栅格没有坐标参考系，无法与区县叠加；如已知请用 --crs "
            "指定（如 --crs EPSG:4545），或用 `gdal_edit.py -a_srs EPSG:4545 "
            f"{path.name}` 写入。 / {path}: the raster has no coordinate reference "
            "system, so it cannot be placed on the map. If you know it, pass --crs "
            "(e.g. --crs EPSG:4545), or set it with `gdal_edit.py -a_srs EPSG:4545 "
            "FILE`."
        )
    else:
        grid_crs = _user_crs(src_crs.to_wkt(), str(path))
    if not (grid_crs.is_geographic or grid_crs.is_projected):
        raise CRSError(
            f"{path}: CRS {grid_crs.name!r} is neither geographic nor projected "
            "(a local or engineering CRS); pass --crs with the real one."
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
            f"{Path(path).name}: {what} in the file name; pass the year with "
            "--year (one raster) or --years Y1,Y2 (two rasters)."
        )
    return int(found.pop())


# --------------------------------------------------------------------------
# pixel areas on the ellipsoid
# --------------------------------------------------------------------------


def _equal_area_transformer(crs):
    """Return a transformer from *crs* to equal-area cylindrical on its ellipsoid."""
    from pyproj import CRS, Transformer
    from pyproj.crs import ProjectedCRS
    from pyproj.crs.coordinate_operation import LambertCylindricalEqualAreaConversion

    geodetic = crs.geodetic_crs or CRS.from_epsg(4326)
    lon0 = 0.0
    if crs.area_of_use is not None:
        w, _s, e, _n = crs.area_of_use.bounds
        lon0 = (w + e) / 2.0 if w <= e else 0.0
    cea = ProjectedCRS(
        conversion=LambertCylindricalEqualAreaConversion(
            latitude_first_parallel=0.0, longitude_natural_origin=lon0
        ),
        geodetic_crs=geodetic,
    )
    return Transformer.from_crs(crs, cea, always_xy=True)


def pixel_area_m2(grid: Grid, rows, cols) -> np.ndarray:
    """Return the exact ellipsoidal area of pixels, in m².

    Parameters
    ----------
    grid : Grid
        The pixel grid (any geographic or projected CRS).
    rows, cols : array_like of int
        Pixel indices (broadcast together).

    Returns
    -------
    numpy.ndarray
        float64 areas in m².

    Notes
    -----
    The four corners of each pixel are transformed to a Lambert cylindrical
    equal-area projection *on the ellipsoid of the grid's geodetic CRS*
    (CGCS2000/GRS80 for EPSG:4490 and its Gauss-Krüger zones) and the
    quadrilateral's area is taken there. That projection preserves ellipsoidal
    area exactly and maps meridians and parallels to straight lines, so for a
    geographic grid the result is the exact area of the latitude–longitude
    cell; for a projected grid the only approximation is that the pixel's
    edges, straight in the raster's projection, are taken as straight in the
    equal-area one (relative error below 1e-10 for pixels up to 1 km).
    """
    rows, cols = np.broadcast_arrays(
        np.asarray(rows, dtype=np.float64), np.asarray(cols, dtype=np.float64)
    )
    t = grid.transform
    cx = np.stack([cols, cols + 1, cols + 1, cols])
    cy = np.stack([rows, rows, rows + 1, rows + 1])
    x = t.c + t.a * cx
    y = t.f + t.e * cy
    if grid.crs.is_geographic:
        y = np.clip(y, -90.0, 90.0)
    ex, ey = _equal_area_transformer(grid.crs).transform(x, y)
    ex, ey = np.asarray(ex), np.asarray(ey)
    # relative to the first corner: absolute coordinates (~1e7 m) would lose
    # about 1e-4 of a 30 m pixel's area to cancellation
    dx, dy = ex[1:] - ex[0], ey[1:] - ey[0]
    shoelace = dx[0] * dy[1] - dx[1] * dy[0] + dx[1] * dy[2] - dx[2] * dy[1]
    return np.abs(shoelace) / 2.0


@dataclass
class PixelAreaModel:
    """Ellipsoidal pixel area anywhere on a grid, fast.

    Geographic grids: exact per row (area does not depend on the column).
    Projected grids: exact at a lattice of pixels about 4 km (at most
    :data:`AREA_LATTICE_STEP` pixels) apart and bilinear in between (relative
    error below 1e-7 for conformal and equal-area projections of Chongqing).

    Attributes
    ----------
    grid : Grid
    run_piece : int or None
        Longest run piece (pixels) over which the area changes by less than
        :data:`AREA_TOLERANCE`; None when the area does not vary along rows.
    """

    grid: Grid
    run_piece: int | None = None
    _row_area: np.ndarray | None = field(default=None, repr=False)
    _lat_rows: np.ndarray | None = field(default=None, repr=False)
    _lat_cols: np.ndarray | None = field(default=None, repr=False)
    _lattice: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def build(cls, grid: Grid) -> PixelAreaModel:
        """Compute the exact areas this model interpolates from."""
        model = cls(grid)
        if grid.crs.is_geographic:
            rows = np.arange(grid.height)
            model._row_area = pixel_area_m2(grid, rows, np.zeros_like(rows))
            return model
        # about 4 km between lattice nodes: bilinear error < 1e-7 (TM, 30°N)
        mid = pixel_area_m2(grid, grid.height // 2, grid.width // 2)
        step = int(np.clip(4000.0 / math.sqrt(float(mid)), 1, AREA_LATTICE_STEP))
        # at most _LATTICE_NODES nodes a side, whatever the raster's size
        step = max(step, -(-max(grid.width, grid.height) // _LATTICE_NODES))
        lr = np.unique(np.r_[np.arange(0, grid.height, step), grid.height - 1])
        lc = np.unique(np.r_[np.arange(0, grid.width, step), grid.width - 1])
        lattice = pixel_area_m2(grid, lr[:, None], lc[None, :])
        model._lat_rows, model._lat_cols, model._lattice = lr, lc, lattice
        if len(lc) > 1:
            grad = np.abs(np.diff(lattice, axis=1)) / np.diff(lc)[None, :]
            rel = float(np.max(grad / lattice[:, :-1]))
        else:
            rel = 0.0
        if rel > 1e-12:
            piece = int(AREA_TOLERANCE / rel)
            model.run_piece = max(8, 1 << max(3, piece.bit_length() - 1))
        return model

    def __call__(self, rows, cols) -> np.ndarray:
        """Return pixel areas in m² at integer (rows, cols)."""
        rows = np.asarray(rows)
        if self._row_area is not None:
            return self._row_area[rows] * np.ones(np.shape(cols))
        cols = np.asarray(cols)
        i0, tr = _frac_index(self._lat_rows, rows)
        j0, tc = _frac_index(self._lat_cols, cols)
        lat = self._lattice
        i1 = np.minimum(i0 + 1, lat.shape[0] - 1)
        j1 = np.minimum(j0 + 1, lat.shape[1] - 1)
        top = lat[i0, j0] * (1 - tc) + lat[i0, j1] * tc
        bottom = lat[i1, j0] * (1 - tc) + lat[i1, j1] * tc
        return top * (1 - tr) + bottom * tr


def _frac_index(nodes: np.ndarray, x) -> tuple[np.ndarray, np.ndarray]:
    """Interval index and position in it of *x* among lattice *nodes*.

    The nodes are 0, step, 2·step, ... and a last, closer node.
    """
    x = np.asarray(x, dtype=np.float64)
    if len(nodes) < 2:
        return np.zeros(x.shape, dtype=np.int64), np.zeros(x.shape)
    step = nodes[1] - nodes[0]
    i = np.minimum((x // step).astype(np.int64), len(nodes) - 2)
    np.maximum(i, 0, out=i)
    return i, (x - nodes[i]) / (nodes[i + 1] - nodes[i])


# --------------------------------------------------------------------------
# exact coverage fractions
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fractions:
    """Exact pixel coverage of zones on one grid.

    Fully covered pixels come as runs along rows; boundary pixels one by one.

    Attributes
    ----------
    run_zone, run_row, run_col, run_len : numpy.ndarray of int64
        Zone index, row, first column and length of runs of pixels that lie
        entirely inside the zone.
    part_zone, part_row, part_col : numpy.ndarray of int64
        Boundary pixels.
    part_frac : numpy.ndarray of float64
        Share of each boundary pixel's area inside the zone, in (0, 1].
    """

    run_zone: np.ndarray
    run_row: np.ndarray
    run_col: np.ndarray
    run_len: np.ndarray
    part_zone: np.ndarray
    part_row: np.ndarray
    part_col: np.ndarray
    part_frac: np.ndarray

    def pixel_sum(self, n_zones: int) -> np.ndarray:
        """Return Σ coverage fractions per zone (in pixels)."""
        full = np.bincount(self.run_zone, weights=self.run_len, minlength=n_zones)
        part = np.bincount(self.part_zone, weights=self.part_frac, minlength=n_zones)
        return full + part

    def dense(self, zone: int, grid: Grid) -> np.ndarray:
        """Return one zone's coverage as a dense float array (for small grids)."""
        out = np.zeros((grid.height, grid.width))
        sel = self.run_zone == zone
        for r, c, n in zip(
            self.run_row[sel], self.run_col[sel], self.run_len[sel], strict=True
        ):
            out[r, c : c + n] = 1.0
        sel = self.part_zone == zone
        out[self.part_row[sel], self.part_col[sel]] = self.part_frac[sel]
        return out


#: Width of the band along zone boundaries whose fractions exactextract
#: computes, in pixel diagonals (>= 2: every pixel a boundary touches lies
#: wholly inside the band; see :func:`coverage_fractions`).
BAND_DIAGONALS = 2.0
#: Band pieces are cut at a lattice of blocks of this many pixels, so that
#: exactextract's work (which grows with the bounding box of each piece)
#: follows the boundary, not the zone's area.
_BLOCK = 256
#: Width (cells) of the synthetic grid the band pieces are packed into, and
#: most cells of one packed feature.
_ATLAS_WIDTH = 4096
_ATLAS_CELLS = 1 << 24
#: Default most work cells :func:`coverage_fractions` takes on: boundary-band
#: pixels (boundary length in pixels × band width) plus one per zone and
#: raster row. Its peak memory is about :data:`BYTES_PER_CELL` per cell
#: (measured: 2.2 GB for 2.5e7 cells, Chongqing's districts at 3 m), so the
#: default stays near 3 GB; Chongqing's districts reach it at about 2.5 m
#: pixels. Settable (``max_cells=``, ``forestsink coverage
#: --max-boundary-cells``).
MAX_BAND_CELLS = 30_000_000
#: Approximate peak memory (bytes) per work cell of :func:`coverage_fractions`.
BYTES_PER_CELL = 90


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Repair invalid zones and keep their polygonal parts (None when empty)."""
    import shapely

    geoms = np.asarray(geoms, dtype=object).copy()
    missing = np.array([g is None for g in geoms], dtype=bool)
    present = ~missing
    if present.any():
        sub = geoms[present]
        bad = ~shapely.is_valid(sub)
        if bad.any():
            sub[bad] = shapely.make_valid(sub[bad])
        mixed = shapely.get_type_id(sub) == 7  # GeometryCollection from make_valid
        for i in np.flatnonzero(mixed):
            parts = shapely.get_parts(sub[i])
            polys = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
            sub[i] = shapely.union_all(polys) if len(polys) else None
        geoms[present] = sub
    for i, g in enumerate(geoms):
        if g is not None and (g.is_empty or shapely.get_type_id(g) not in (3, 6)):
            geoms[i] = None
    return geoms


def _to_pixels(geoms: np.ndarray, grid: Grid) -> np.ndarray:
    """Return geometries in pixel space: X = column, Y = -row.

    Pixel (r, c) is the unit square X in [c, c + 1], Y in [-r - 1, -r].
    """
    import shapely

    t = grid.transform

    def move(xy):
        return np.column_stack([(xy[:, 0] - t.c) / t.a, -(xy[:, 1] - t.f) / t.e])

    out = np.full(len(geoms), None, dtype=object)
    ok = np.array([g is not None for g in geoms], dtype=bool)
    if ok.any():
        out[ok] = shapely.transform(geoms[ok], move)
    return out


def _clip_to_grid(pix: np.ndarray, h: int, w: int, margin: float = 8.0) -> None:
    """Clip zones (pixel space, in place) to the grid plus a margin.

    The margin (pixels) keeps the cut's own band and core outside the grid,
    so the fractions inside are unchanged; a row band of a large raster then
    costs only its share of the boundary.
    """
    import shapely

    ok = np.flatnonzero([g is not None for g in pix])
    if len(ok) == 0:
        return
    b = shapely.bounds(pix[ok])
    lim = (-margin, -h - margin, w + margin, margin)
    out = (b[:, 0] < lim[0]) | (b[:, 1] < lim[1]) | (b[:, 2] > lim[2])
    out |= b[:, 3] > lim[3]
    for i in ok[out]:
        cut = shapely.clip_by_rect(pix[i], *lim)
        if not cut.is_empty and not cut.is_valid:
            cut = shapely.make_valid(cut)
            parts = shapely.get_parts(cut)
            parts = parts[shapely.get_type_id(parts) == 3]
            cut = shapely.multipolygons(parts) if len(parts) else None
        pix[i] = None if cut is None or cut.is_empty or cut.area == 0 else cut


def _band_pieces(pix: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Cut each zone's boundary band into pieces of at most one block.

    Returns the polygon parts (pixel space, inside the grid) and their zone.
    """
    import shapely

    ok = np.flatnonzero([g is not None for g in pix])
    if len(ok) == 0:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
    radius = BAND_DIAGONALS * math.sqrt(2.0)
    zones = pix[ok]
    band = shapely.intersection(zones, shapely.buffer(shapely.boundary(zones), radius))
    h, w, s = grid.height, grid.width, _BLOCK
    pieces, owner = [], []
    for z, geom in zip(ok, band, strict=True):
        if geom is None or geom.is_empty:
            continue
        x0, y0, x1, y1 = geom.bounds
        c0, c1 = max(math.floor(x0), 0), min(math.ceil(x1), w)
        r0, r1 = max(math.floor(-y1), 0), min(math.ceil(-y0), h)
        if c0 >= c1 or r0 >= r1:
            continue
        inside = x0 >= 0 and x1 <= w and y0 >= -h and y1 <= 0
        if inside and c1 - c0 <= s and r1 - r0 <= s:
            pieces.append(geom)
            owner.append(z)
            continue
        for bx in range(c0 // s, (c1 - 1) // s + 1):
            xa, xb = max(bx * s, 0), min((bx + 1) * s, w)
            column = shapely.clip_by_rect(geom, xa, -h, xb, 0)
            if column.is_empty:
                continue
            _, cy0, _, cy1 = column.bounds
            for by in range(
                max(math.floor(-cy1), 0) // s, (math.ceil(-cy0) - 1) // s + 1
            ):
                ya, yb = -min((by + 1) * s, h), -by * s
                piece = shapely.clip_by_rect(column, xa, ya, xb, yb)
                if not piece.is_empty:
                    pieces.append(piece)
                    owner.append(z)
    if not pieces:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
    parts, index = shapely.get_parts(np.array(pieces, dtype=object), return_index=True)
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)
    return parts[keep], np.asarray(owner, dtype=np.int64)[index[keep]]


def _pack(parts: np.ndarray):
    """Lay polygon parts side by side, whole pixels apart, on a synthetic grid.

    Translating a part by whole pixels keeps every pixel's coverage fraction,
    so exactextract can process all parts at once in one small grid instead
    of one large bounding box per zone. Returns the moved parts, one
    multipolygon per chunk, and per part its chunk, slot origin (atlas row,
    column) and pixel origin (grid row, column) and size.
    """
    import shapely

    b = shapely.bounds(parts)
    col0 = np.floor(b[:, 0]).astype(np.int64)
    row0 = np.floor(-b[:, 3]).astype(np.int64)
    wid = np.ceil(b[:, 2]).astype(np.int64) - col0
    hgt = np.ceil(-b[:, 1]).astype(np.int64) - row0
    n = len(parts)
    chunk = np.zeros(n, dtype=np.int64)
    orow = np.zeros(n, dtype=np.int64)
    ocol = np.zeros(n, dtype=np.int64)
    shelf_lim = max(1, _ATLAS_CELLS // _ATLAS_WIDTH)
    k = x = y = shelf = 0
    for i in np.argsort(-hgt, kind="stable").tolist():
        wi, hi = int(wid[i]), int(hgt[i])
        if x + wi > _ATLAS_WIDTH:  # next shelf
            y, x, shelf = y + shelf + 1, 0, 0
        if y + hi > shelf_lim and y > 0:  # next chunk
            k, x, y, shelf = k + 1, 0, 0, 0
        chunk[i], orow[i], ocol[i] = k, y, x
        shelf = max(shelf, hi)
        x += wi + 1
    coords, index = shapely.get_coordinates(parts, return_index=True)
    coords[:, 0] += (ocol - col0)[index]
    coords[:, 1] += (row0 - orow)[index]
    moved = shapely.set_coordinates(parts.copy(), coords)
    features = [shapely.multipolygons(moved[chunk == j]) for j in range(k + 1)]
    height = int((orow + hgt).max()) + 1
    return features, chunk, orow, ocol, row0, col0, wid, hgt, height


def _exactextract_cells(features, width: int, height: int):
    """Run exactextract (ops cell_id, coverage) on packed features.

    Returns per feature (cell ids, coverage) on a synthetic grid of unit
    pixels, *width* x *height*, with origin (0, 0) at its top-left corner.
    """
    import shapely
    from exactextract import exact_extract
    from exactextract.feature import Feature, FeatureSource
    from exactextract.raster import RasterSource
    from exactextract.writer import Writer
    from pyproj import CRS

    wkt = CRS.from_epsg(3857).to_wkt()  # planar units; never transformed

    class _Blank(RasterSource):
        """The synthetic grid; no values are needed, only cells."""

        def res(self):
            return 1.0, 1.0

        def extent(self):
            return 0.0, -float(height), float(width), 0.0

        def nodata_value(self):
            return None

        def read_window(self, x0, y0, nx, ny):
            return np.zeros((ny, nx), dtype=np.uint8)

        def srs_wkt(self):
            return wkt

    class _Feat(Feature):
        def __init__(self, wkb=None, index=None):
            Feature.__init__(self)
            self.wkb, self.props = wkb, {} if index is None else {"i": index}

        def geometry(self):
            return self.wkb

        def set_geometry(self, wkb):
            self.wkb = wkb

        def set_geometry_format(self):
            return "wkb"

        def get(self, name):
            return self.props[name]

        def set(self, name, value):
            self.props[name] = value

        def fields(self):
            return list(self.props)

    class _Source(FeatureSource):
        def __init__(self, wkbs):
            super().__init__()
            self.wkbs = wkbs

        def count(self):
            return len(self.wkbs)

        def __iter__(self):
            for i, wkb in enumerate(self.wkbs):
                yield _Feat(wkb, i)

        def srs_wkt(self):
            return wkt

    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    class _Collect(Writer):
        def add_operation(self, op):
            pass

        def write(self, feature):
            f = _Feat()
            feature.copy_to(f)
            out[f.props["i"]] = (
                np.asarray(f.props.get("cell_id", []), dtype=np.int64),
                np.asarray(f.props.get("coverage", []), dtype=np.float64),
            )

        def features(self):
            return None

    exact_extract(
        _Blank(),
        _Source(list(shapely.to_wkb(np.asarray(features, dtype=object)))),
        ["cell_id", "coverage"],
        include_cols=["i"],
        output=_Collect(),
        max_cells_in_memory=max(width * height + 1, 30_000_000),
    )
    return [
        out.get(i, (np.zeros(0, np.int64), np.zeros(0))) for i in range(len(features))
    ]


def _work_cells(pix: np.ndarray, grid: Grid) -> tuple[int, float]:
    """Estimate the work cells of zones in pixel space (clipped to the grid).

    Returns (cells, boundary length in pixels): the boundary band holds about
    length × (2 r + 2) pixels (r = :data:`BAND_DIAGONALS` diagonals, plus the
    pixels the band's edges cut), and every zone row inside the grid holds at
    least one run. Vector work only: nothing the size of the band is made.
    """
    import shapely

    ok = np.flatnonzero([g is not None for g in pix])
    if len(ok) == 0:
        return 0, 0.0
    length = float(shapely.length(pix[ok]).sum())
    b = shapely.bounds(pix[ok])
    rows = np.clip(np.ceil(-b[:, 1]), 0, grid.height) - np.clip(
        np.floor(-b[:, 3]), 0, grid.height
    )
    width = 2.0 * BAND_DIAGONALS * math.sqrt(2.0) + 2.0
    return int(length * width + rows.sum()), length


def _refuse_work(cells: int, length: float, grid: Grid, max_cells: int) -> None:
    """Raise :class:`WorkLimitError` when *cells* exceeds *max_cells*."""
    if cells <= max_cells:
        return
    t = grid.transform
    unit = "°" if grid.crs.is_geographic else " m"
    gb = cells * BYTES_PER_CELL / 1e9
    factor = math.ceil(cells / max_cells * 10) / 10  # cells ~ 1 / pixel size
    size = f"{abs(t.a):g}{unit} x {abs(t.e):g}{unit}"
    coarser = f"{abs(t.a) * factor:g} {abs(t.e) * factor:g}"
    raise WorkLimitError(
        f"栅格 {grid.width:,} x {grid.height:,} 像元（像元 {size}）：区域边界长约 "
        f"{length:,.0f} 像元，精确计算边界像元需约 {cells:,} 个单元、约 {gb:.1f} GB "
        f"内存，超过上限 {max_cells:,} 个单元；未开始计算。请用更粗的栅格（如 "
        f"`gdalwarp -tr {coarser} -r mode IN.tif OUT.tif`），或更少、更小的区域；"
        "内存足够时可提高 --max-boundary-cells。 / "
        f"the raster is {grid.width:,} x {grid.height:,} pixels of {size}: the zone "
        f"boundaries are about {length:,.0f} pixels long, so their exact boundary "
        f"pixels need about {cells:,} work cells and {gb:.1f} GB of memory, above "
        f"the limit of {max_cells:,} cells; nothing was computed. Use a coarser "
        f"raster (e.g. `gdalwarp -tr {coarser} -r mode IN.tif OUT.tif`) or fewer, "
        "smaller zones; with enough memory, raise --max-boundary-cells."
    )


def _zone_geometries(geoms, crs) -> tuple[np.ndarray, Any]:
    """Return the zone geometries as an object array and their CRS.

    *geoms* is a GeoDataFrame, GeoSeries or array of shapely geometries;
    *crs* (when given) overrides the CRS they carry.
    """
    if hasattr(geoms, "geometry"):
        geoms = geoms.geometry
    src_crs = getattr(geoms, "crs", None) if crs is None else crs
    return np.asarray(getattr(geoms, "values", geoms), dtype=object), src_crs


def check_work(geoms, grid: Grid, *, crs=None, max_cells: int = MAX_BAND_CELLS):
    """Refuse zones whose boundary work on *grid* exceeds *max_cells*.

    Parameters
    ----------
    geoms : geopandas.GeoSeries, GeoDataFrame or array of geometries
        Zone polygons in any CRS (reprojected to the grid's CRS, as
        :func:`zone_weights` does).
    grid : Grid
    crs : optional (default: None)
        CRS of *geoms* when they do not carry one.
    max_cells : int, optional (default: :data:`MAX_BAND_CELLS`)
        Most work cells (boundary-band pixels plus zone rows).

    Returns
    -------
    int
        The estimated work cells.

    Raises
    ------
    WorkLimitError
        Above *max_cells*, before anything the size of the band is allocated.
    """
    values, src_crs = _zone_geometries(geoms, crs)
    pix = _to_pixels(_polygonal(_prepare_zones(values, src_crs, grid)), grid)
    _clip_to_grid(pix, grid.height, grid.width)
    cells, length = _work_cells(pix, grid)
    _refuse_work(cells, length, grid, max_cells)
    return cells


def _band_cells(pix: np.ndarray, grid: Grid):
    """Exact coverage of each zone's boundary band: (zone, row, col, fraction)."""
    parts, owner = _band_pieces(pix, grid)
    empty = np.zeros(0, dtype=np.int64)
    if len(parts) == 0:
        return empty, empty, empty, np.zeros(0)
    features, chunk, orow, ocol, row0, col0, wid, hgt, height = _pack(parts)
    cells = _exactextract_cells(features, _ATLAS_WIDTH, height)
    zs, rs, cs, fs = [], [], [], []
    for j, (cell_all, frac_all) in enumerate(cells):
        keep = frac_all > 0
        cell, frac = cell_all[keep], frac_all[keep]
        mine = np.flatnonzero(chunk == j)
        # parts of this chunk ordered by (slot row, slot column)
        order = mine[np.lexsort((ocol[mine], orow[mine]))]
        ar, ac = np.divmod(cell, _ATLAS_WIDTH)
        key_parts = orow[order] * (_ATLAS_WIDTH + 1) + ocol[order]
        # the part whose slot starts at or before the cell in its shelf: the
        # shelf is the last slot row <= the cell's row
        shelves = np.unique(orow[order])
        shelf = shelves[np.searchsorted(shelves, ar, side="right") - 1]
        p = order[
            np.searchsorted(key_parts, shelf * (_ATLAS_WIDTH + 1) + ac, "right") - 1
        ]
        r, c = ar - orow[p], ac - ocol[p]
        valid = (r >= 0) & (r < hgt[p]) & (c >= 0) & (c < wid[p])
        zs.append(owner[p][valid])
        rs.append((r + row0[p])[valid])
        cs.append((c + col0[p])[valid])
        fs.append(frac[valid])
    return (
        np.concatenate(zs),
        np.concatenate(rs),
        np.concatenate(cs),
        np.concatenate(fs),
    )


def coverage_fractions(
    geoms, grid: Grid, *, max_cells: int | None = MAX_BAND_CELLS
) -> Fractions:
    """Return the exact share of each pixel covered by each polygon.

    Parameters
    ----------
    geoms : array_like of shapely geometries
        Polygons or MultiPolygons **in the grid's CRS** (invalid ones are
        repaired with ``make_valid``; non-polygonal parts are ignored; None
        is an empty zone). Zone *i* is ``geoms[i]``. Zones may overlap.
    grid : Grid
        The pixel grid.
    max_cells : int or None, optional (default: :data:`MAX_BAND_CELLS`)
        Most work cells (boundary-band pixels plus zone rows), estimated from
        the boundary length in pixels before anything is allocated; memory
        is about :data:`BYTES_PER_CELL` bytes per cell. None: no limit.

    Returns
    -------
    Fractions
        Runs of fully covered pixels and boundary pixels with their share,
        for pixels inside the grid (fractions as exactextract gives them,
        float32 precision; shares within 1e-6 of 1 count as whole).

    Raises
    ------
    WorkLimitError
        The estimated work exceeds *max_cells* (a raster whose pixels are
        tiny against the zones: its header may claim 10¹² pixels).

    Notes
    -----
    exactextract computes the fractions, but only where they can be partial.
    A pixel the zone boundary does not touch lies wholly inside the zone or
    wholly outside it; only pixels the boundary touches need a fraction.

    1. **Band.** For each zone Z, the band ``Z ∩ buffer(∂Z, r)`` with
       r = :data:`BAND_DIAGONALS` pixel diagonals. A pixel the boundary
       touches lies within one diagonal of it, hence wholly inside the
       buffer, so its share of the band equals its share of Z.
    2. **exactextract on the band only.** Its cost grows with the bounding
       box of each polygon, so the band is cut at a lattice of blocks
       (:data:`_BLOCK` pixels; every pixel falls in one block) and the
       pieces are laid side by side, whole pixels apart, on a small synthetic
       grid (translation by whole pixels keeps every fraction), then
       ``exact_extract(ops=["cell_id", "coverage"])`` runs once per packed
       grid and the cells are mapped back.
    3. **The rest is whole.** Along each row of a zone's bounding box, the
       pixels between two band pixels (a gap) are all inside or all outside
       Z: two neighbours in a gap cannot differ, since a boundary between
       them would touch both, and touched pixels are in the band. One point
       test (the centre of the gap's first pixel, well away from the
       boundary) decides each gap. Band pixels crossed only by the band's
       inner edge (not by ∂Z) are wholly inside Z; a point test of their
       centre against Z shrunk by one diagonal tells them from the pixels
       ∂Z touches (centres within half a diagonal of it).
    """
    import shapely

    geoms = _polygonal(np.asarray(geoms, dtype=object))
    pix = _to_pixels(geoms, grid)
    h, w = grid.height, grid.width
    _clip_to_grid(pix, h, w)
    if max_cells is not None:
        _refuse_work(*_work_cells(pix, grid), grid, max_cells)
    ok = np.flatnonzero([g is not None for g in pix])
    with ThreadPoolExecutor(1, thread_name_prefix="core") as pool:
        # the core (below) is computed while exactextract runs: GEOS releases
        # the GIL, exactextract does not
        core_job = pool.submit(_core, pix, ok)
        zone, row, col, frac = _band_cells(pix, grid)
        core = core_job.result()
    # every (zone, row) of each zone's bounding box inside the grid
    b = shapely.bounds(pix[ok]) if len(ok) else np.zeros((0, 4))
    zc0 = np.clip(np.floor(b[:, 0]), 0, w).astype(np.int64)
    zc1 = np.clip(np.ceil(b[:, 2]), 0, w).astype(np.int64)
    zr0 = np.clip(np.floor(-b[:, 3]), 0, h).astype(np.int64)
    zr1 = np.clip(np.ceil(-b[:, 1]), 0, h).astype(np.int64)
    nrows = np.where(zc1 > zc0, np.maximum(zr1 - zr0, 0), 0)
    wz = np.repeat(ok, nrows)
    wrow = np.repeat(zr0, nrows) + (
        np.arange(int(nrows.sum())) - np.repeat(np.cumsum(nrows) - nrows, nrows)
    )
    wc0, wc1 = np.repeat(zc0, nrows), np.repeat(zc1, nrows)
    # band cells sorted by (zone, row, col)
    key = (zone * h + row) * (w + 1) + col
    order = np.argsort(key, kind="stable")
    key, frac = key[order], frac[order]
    # parts of one band piece may share a pixel: add their shares
    heads = np.flatnonzero(np.r_[True, key[1:] != key[:-1]][: len(key)])
    if len(key):
        frac = np.minimum(np.add.reduceat(frac, heads), 1.0)
    order = order[heads]
    key, zone, row, col = key[heads], zone[order], row[order], col[order]
    group = key // (w + 1)
    # gaps between band cells of the same (zone, row)
    same = group[1:] == group[:-1]
    g_between = np.flatnonzero(same & (col[1:] > col[:-1] + 1))
    gz = [zone[g_between]]
    gr = [row[g_between]]
    gs = [col[g_between] + 1]
    ge = [col[g_between + 1]]
    # before the first and after the last band cell of each (zone, row), and
    # whole rows without band cells
    wkey = wz * h + wrow
    first = np.searchsorted(group, wkey, side="left")
    last = np.searchsorted(group, wkey, side="right") - 1
    has = last >= first
    lead_end = np.where(
        has, col[np.minimum(first, len(col) - 1)] if len(col) else 0, wc1
    )
    trail_start = np.where(has, col[np.maximum(last, 0)] + 1 if len(col) else 0, wc1)
    gz += [wz, wz[has]]
    gr += [wrow, wrow[has]]
    gs += [wc0, trail_start[has]]
    ge += [np.minimum(lead_end, wc1), wc1[has]]
    gz, gr, gs, ge = (np.concatenate(a) for a in (gz, gr, gs, ge))
    real = ge > gs
    gz, gr, gs, ge = gz[real], gr[real], gs[real], ge[real]

    # the core (:func:`_core`) tells inside gaps and pixels from the rest
    def in_core(z, r, c):
        if len(z) == 0:
            return np.zeros(0, dtype=bool)
        # one thread: a prepared geometry builds its indexes lazily and must
        # not be used by two threads at once (that corrupted the heap)
        return shapely.contains_xy(core[z], c + 0.5, -(r + 0.5))

    inside = in_core(gz, gr, gs)
    gz, gr, gs, ge = gz[inside], gr[inside], gs[inside], ge[inside]
    # band pixels crossed only by the band's inner edge are wholly inside
    whole = frac >= 1.0 - 1e-6
    partial = np.flatnonzero(~whole)
    whole[partial[in_core(zone[partial], row[partial], col[partial])]] = True
    # runs: whole band pixels and inside gaps, merged where contiguous
    rz = np.concatenate([zone[whole], gz])
    rr = np.concatenate([row[whole], gr])
    rs = np.concatenate([col[whole], gs])
    re_ = np.concatenate([col[whole] + 1, ge])
    order = np.argsort((rz * h + rr) * (w + 1) + rs, kind="stable")
    rz, rr, rs, re_ = rz[order], rr[order], rs[order], re_[order]
    new = np.ones(len(rz), dtype=bool)
    new[1:] = (rz[1:] != rz[:-1]) | (rr[1:] != rr[:-1]) | (rs[1:] != re_[:-1])
    heads = np.flatnonzero(new)
    tails = np.r_[heads[1:], len(rz)][: len(heads)] - 1
    part = ~whole
    return Fractions(
        run_zone=rz[heads],
        run_row=rr[heads],
        run_col=rs[heads],
        run_len=re_[tails] - rs[heads],
        part_zone=zone[part],
        part_row=row[part],
        part_col=col[part],
        part_frac=frac[part],
    )


def _core(pix: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Return the zones' cores (prepared), None where a zone is empty.

    The core holds the points more than one pixel diagonal inside the
    boundary. Centres of untouched inside pixels lie in it (they are >= r -
    d/2 from the boundary), centres of touched or outside pixels do not
    (<= d/2).
    """
    import shapely

    core = np.full(len(pix), None, dtype=object)
    core[ok] = shapely.buffer(pix[ok], -math.sqrt(2.0))
    shapely.prepare(core[ok])
    return core


# --------------------------------------------------------------------------
# zone weights on one grid
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneWeights:
    """Pixel weights (m² of each pixel inside each zone) on one grid.

    Compute once per grid with :func:`zone_weights`; reuse for every year.

    Attributes
    ----------
    grid : Grid
    n_zones : int
    row, col, length, zone : numpy.ndarray
        Pieces of runs of fully covered pixels, sorted by row.
    area : numpy.ndarray of float32
        Ellipsoidal area (m²) of a pixel of each piece.
    p_row, p_col, p_zone : numpy.ndarray
        Boundary pixels, sorted by row.
    p_weight : numpy.ndarray of float64
        Their area inside the zone (fraction × pixel area, m²).
    covered_m2 : numpy.ndarray
        Per zone: ellipsoidal area inside the grid (m²).
    inside_share : numpy.ndarray
        Per zone: share of the polygon's area that lies inside the grid.
    """

    grid: Grid
    n_zones: int
    row: np.ndarray
    col: np.ndarray
    length: np.ndarray
    zone: np.ndarray
    area: np.ndarray
    p_row: np.ndarray
    p_col: np.ndarray
    p_zone: np.ndarray
    p_weight: np.ndarray
    covered_m2: np.ndarray
    inside_share: np.ndarray

    @property
    def pixels(self) -> int:
        """Number of (zone, pixel) pairs the weights touch."""
        return int(self.length.sum()) + len(self.p_row)


def _split_runs(frac: Fractions, piece: int | None):
    """Cut runs at multiples of *piece* columns (None: keep whole)."""
    row, col, length, zone = frac.run_row, frac.run_col, frac.run_len, frac.run_zone
    if piece is None or len(row) == 0:
        return row, col, length, zone
    first = col // piece
    last = (col + length - 1) // piece
    n = (last - first + 1).astype(np.int64)
    idx = np.repeat(np.arange(len(row)), n)
    k = np.arange(len(idx)) - np.repeat(np.cumsum(n) - n, n)
    start = np.maximum(col[idx], (first[idx] + k) * piece)
    end = np.minimum(col[idx] + length[idx], (first[idx] + k + 1) * piece)
    return row[idx], start, end - start, zone[idx]


def _prepare_zones(geoms, src_crs, grid: Grid) -> np.ndarray:
    """Densify and reproject zone polygons into the grid's CRS."""
    import geopandas as gpd
    import shapely

    series = gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=src_crs)
    if src_crs is None:
        raise CRSError("the zone polygons have no CRS; set one before measuring.")
    if series.crs == grid.crs:
        return np.asarray(series.values, dtype=object)
    step = 0.01 if series.crs.is_geographic else 1000.0
    dense = gpd.GeoSeries(shapely.segmentize(series.values, step), crs=series.crs)
    return np.asarray(dense.to_crs(grid.crs).values, dtype=object)


def zone_weights(
    geoms,
    grid: Grid,
    *,
    crs=None,
    areas: PixelAreaModel | None = None,
    max_cells: int | None = MAX_BAND_CELLS,
) -> ZoneWeights:
    """Compute every zone's pixel weights on a grid (once per grid).

    Parameters
    ----------
    geoms : geopandas.GeoSeries, GeoDataFrame or array of geometries
        Zone polygons in any CRS (a GeoSeries/GeoDataFrame carries its own;
        otherwise pass *crs*). They are reprojected to the grid's CRS.
    grid : Grid
        The raster grid.
    crs : optional (default: None)
        CRS of *geoms* when they do not carry one.
    areas : PixelAreaModel, optional (default: None)
        Reuse a model built for this grid.
    max_cells : int or None, optional (default: :data:`MAX_BAND_CELLS`)
        Most work cells; see :func:`coverage_fractions`.

    Returns
    -------
    ZoneWeights
        Weights in m² on the ellipsoid of the grid's geodetic CRS.

    Raises
    ------
    WorkLimitError
        Above *max_cells*, before anything the size of the band is allocated.
    """
    import shapely

    values, src_crs = _zone_geometries(geoms, crs)
    local = _prepare_zones(values, src_crs, grid)
    frac = coverage_fractions(local, grid, max_cells=max_cells)
    n = len(local)
    areas = areas or PixelAreaModel.build(grid)
    row, col, length, zone = _split_runs(frac, areas.run_piece)
    order = np.argsort(row, kind="stable")
    row, col, length, zone = row[order], col[order], length[order], zone[order]
    area = areas(row, col + (length - 1) / 2.0).astype(np.float32)
    p_order = np.argsort(frac.part_row, kind="stable")
    p_row, p_col = frac.part_row[p_order], frac.part_col[p_order]
    p_zone = frac.part_zone[p_order]
    p_weight = frac.part_frac[p_order] * areas(p_row, p_col)
    covered = np.bincount(zone, weights=area * length, minlength=n) + np.bincount(
        p_zone, weights=p_weight, minlength=n
    )
    t = grid.transform
    planar = shapely.area(local)
    pix = frac.pixel_sum(n) * abs(t.a * t.e)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(planar > 0, np.minimum(pix / planar, 1.0), 0.0)
    return ZoneWeights(
        grid=grid,
        n_zones=n,
        row=row.astype(np.int32),
        col=col.astype(np.int32),
        length=length.astype(np.int32),
        zone=zone.astype(np.int32),
        area=area,
        p_row=p_row.astype(np.int32),
        p_col=p_col.astype(np.int32),
        p_zone=p_zone.astype(np.int32),
        p_weight=p_weight,
        covered_m2=covered,
        inside_share=share,
    )


# --------------------------------------------------------------------------
# windowed counting
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassAreas:
    """Area of each class in each zone (m², ellipsoidal).

    Attributes
    ----------
    years : tuple of int
    per_year : numpy.ndarray
        Shape (n_zones, n_years, K), K = ``scheme.size``.
    joint : numpy.ndarray or None
        Shape (n_zones, K, K): area by (class in year 1, class in year 2);
        only for two rasters.
    unknown : tuple of dict
        Per raster: {code: pixels inside zones} for codes the table lacks.
    """

    years: tuple[int, ...]
    per_year: np.ndarray
    joint: np.ndarray | None
    unknown: tuple[dict[int, int], ...]


def _windows(grid: Grid, block: tuple[int, int], window_pixels: int):
    """Row bands (one block high for tiled rasters) cut into column chunks."""
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


def _open(path: Path):
    """Open a raster for reading; GDAL's failure becomes :class:`RasterFileError`."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path)
    except RasterioError as err:
        raise raster_read_error(path, err) from err


def _read_window(src, info, info_offset, row0, col0, height, width, fill):
    """Read rows/cols of the reference grid from a raster offset by (dr, dc).

    A read GDAL fails (a damaged tile, a VRT source gone) raises
    :class:`RasterFileError` naming *info*'s file.
    """
    from rasterio.errors import RasterioError
    from rasterio.windows import Window

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


def _gather(flat_len, start, lengths, arange):
    """Flat indices of run pixels: start[i] .. start[i] + lengths[i]."""
    base = np.repeat(start - (np.cumsum(lengths) - lengths), lengths)
    base += arange[:flat_len]
    return base


def count_classes(
    rasters: Sequence[RasterInfo],
    weights: ZoneWeights,
    scheme: ClassScheme,
    *,
    years: Sequence[int] | None = None,
    joint: bool = True,
    progress: Callable[[int, int], None] | None = None,
    window_pixels: int = 1 << 20,
    threads: int | None = None,
) -> ClassAreas:
    """Read rasters window by window and sum area per zone and class.

    Parameters
    ----------
    rasters : sequence of RasterInfo
        One or more rasters on the weights' grid or on a grid aligned to it
        (same CRS, pixel size and alignment; other extents are read with
        no-data outside).
    weights : ZoneWeights
        From :func:`zone_weights` on ``rasters[0].grid``.
    scheme : ClassScheme
    years : sequence of int, optional (default: None)
        Labels of the rasters (default: 0, 1, ...).
    joint : bool, optional (default: True)
        With two rasters, also count class pairs (the transition matrix).
    progress : callable, optional (default: None)
        Called as ``progress(done, total)`` after each window.
    window_pixels : int, optional (default: 2**20)
        Pixels per window (rows are read whole between the leftmost and the
        rightmost zone pixel); bounds memory to about 40 bytes per pixel
        per thread.
    threads : int, optional (default: the CPUs, at most :data:`MAX_THREADS`)
        Row bands are shared out among this many threads, each with its own
        open rasters and sums (GDAL's decoding and numpy's gathers release
        the GIL); the sums are added at the end, so the result differs from
        one thread's only by floating-point rounding (relative 1e-12).

    Returns
    -------
    ClassAreas
    """
    import os
    import threading

    grid = weights.grid
    block = (
        max(r.block_height for r in rasters),
        max(r.block_width or grid.width for r in rasters),
    )
    bands = list(_windows(grid, block, window_pixels))
    total = sum(len(chunks) for _r0, _r1, chunks in bands)
    n_threads = max(1, min(threads or os.cpu_count() or 1, MAX_THREADS, len(bands)))
    lock = threading.Lock()
    done = [0]

    def tick() -> None:
        if progress:
            with lock:
                done[0] += 1
                progress(done[0], total)

    def work(i: int):
        return _count_bands(
            rasters, weights, scheme, bands[i::n_threads], joint=joint, tick=tick
        )

    if n_threads == 1:
        parts = [work(0)]
    else:
        with ThreadPoolExecutor(n_threads, thread_name_prefix="count") as pool:
            parts = list(pool.map(work, range(n_threads)))
    per = sum(p[0] for p in parts)
    pair = None if parts[0][1] is None else sum(p[1] for p in parts)
    unknown: list[dict[int, int]] = [{} for _ in rasters]
    for _per, _pair, found in parts:
        for mine, theirs in zip(unknown, found, strict=True):
            for code, n in theirs.items():
                mine[code] = mine.get(code, 0) + n
    label = tuple(years) if years is not None else tuple(range(len(rasters)))
    return ClassAreas(label, per, pair, tuple(unknown))


#: Most threads :func:`count_classes` uses by default.
MAX_THREADS = 4


def _count_bands(rasters, weights, scheme, bands, *, joint, tick):
    """Count the windows of some row bands; return (per, pair, unknown).

    Opens its own datasets (a GDAL dataset is not safe to share between
    threads) and keeps its own sums.
    """
    import rasterio

    offsets = [info.grid.offset_in(weights.grid) for info in rasters]
    k = scheme.size
    n_r = len(rasters)
    use_joint = joint and n_r == 2
    luts = [scheme.lut(info.nodata, max_code=info.max_code) for info in rasters]
    fills = [
        info.nodata if info.nodata is not None else scheme.codes[0] for info in rasters
    ]
    per = np.zeros((weights.n_zones, n_r, k))
    pair = np.zeros((weights.n_zones, k, k)) if use_joint else None
    unknown: list[dict[int, int]] = [{} for _ in rasters]
    state = {
        "arange": np.arange(0),
        "lookup": np.zeros(weights.n_zones, dtype=np.int64),
        "stride": k * k if use_joint else k,
    }
    with rasterio.Env(GDAL_CACHEMAX=64 * 1024 * 1024):
        sources = []
        try:
            for info in rasters:
                sources.append(_open(info.path))
            for r0, r1, chunks in bands:
                bounds = np.array([r0, r1], dtype=weights.row.dtype)
                a, b = np.searchsorted(weights.row, bounds)
                p, q = np.searchsorted(weights.p_row, bounds)
                band = _band_items(weights, a, b, p, q)
                for cw0, cw1 in chunks:
                    items = _chunk_items(band, cw0, cw1)
                    if items is not None:
                        c0, c1 = items["c0"], items["c1"]
                        data = [
                            _read_window(src, info, off, r0, c0, r1 - r0, c1 - c0, fill)
                            for src, info, off, fill in zip(
                                sources, rasters, offsets, fills, strict=True
                            )
                        ]
                        _count_window(
                            [d.ravel() for d in data],
                            items,
                            r0,
                            state,
                            luts,
                            scheme,
                            per,
                            pair,
                            unknown,
                        )
                    tick()
        finally:
            for src in sources:
                src.close()
    return per, pair, unknown


def _band_items(weights: ZoneWeights, a: int, b: int, p: int, q: int) -> dict:
    """Return the runs and boundary pixels of one row band."""
    return {
        "row": weights.row[a:b],
        "col": weights.col[a:b].astype(np.int64),
        "end": weights.col[a:b].astype(np.int64) + weights.length[a:b],
        "zone": weights.zone[a:b],
        "area": weights.area[a:b],
        "p_row": weights.p_row[p:q],
        "p_col": weights.p_col[p:q],
        "p_zone": weights.p_zone[p:q],
        "p_weight": weights.p_weight[p:q],
    }


def _chunk_items(band: dict, cw0: int, cw1: int) -> dict | None:
    """Return runs clipped to columns [cw0, cw1) and the boundary pixels there."""
    sel = (band["col"] < cw1) & (band["end"] > cw0)
    psel = (band["p_col"] >= cw0) & (band["p_col"] < cw1)
    if not sel.any() and not psel.any():
        return None
    col = np.maximum(band["col"][sel], cw0)
    end = np.minimum(band["end"][sel], cw1)
    p_col = band["p_col"][psel]
    c0 = min(
        int(col.min()) if len(col) else cw1, int(p_col.min()) if len(p_col) else cw1
    )
    c1 = max(
        int(end.max()) if len(end) else cw0, int(p_col.max()) + 1 if len(p_col) else cw0
    )
    return {
        "c0": c0,
        "c1": c1,
        "row": band["row"][sel],
        "col": col,
        "length": end - col,
        "zone": band["zone"][sel],
        "area": band["area"][sel],
        "p_row": band["p_row"][psel],
        "p_col": p_col,
        "p_zone": band["p_zone"][psel],
        "p_weight": band["p_weight"][psel],
    }


def _count_window(data, items, r0, state, luts, scheme, per, pair, unknown) -> None:
    """Gather the zone pixels of one window and add their areas.

    Run pixels are counted per run piece without weights (one pixel area per
    piece), then each piece's counts are multiplied by its pixel area and
    added to its zone; boundary pixels carry their own weights.
    """
    c0, ww = items["c0"], items["c1"] - items["c0"]
    lengths = items["length"]
    n = int(lengths.sum())
    pieces = len(lengths)
    if len(state["arange"]) < max(n, pieces):
        state["arange"] = np.arange(
            max(n, pieces, 2 * len(state["arange"])), dtype=np.int64
        )
    lookup, stride = state["lookup"], state["stride"]
    zsub, zpart = items["zone"], items["p_zone"]
    present = np.unique(np.concatenate([zsub, zpart]))
    lookup[present] = np.arange(len(present))
    start = (items["row"].astype(np.int64) - r0) * ww + (items["col"] - c0)
    segments = [
        (
            _gather(n, start, lengths, state["arange"]),
            np.repeat(state["arange"][:pieces] * stride, lengths),
            (lookup[zsub], items["area"].astype(np.float64)),
        ),
        (
            (items["p_row"].astype(np.int64) - r0) * ww + (items["p_col"] - c0),
            lookup[zpart] * stride,
            items["p_weight"],
        ),
    ]
    for flat, base, w in segments:
        _accumulate(data, flat, base, w, present, luts, scheme, per, pair, unknown)


def _bincount(key, w, nz: int, stride: int) -> np.ndarray:
    """Return zone × key-stride sums of *w* (see :func:`_accumulate`)."""
    if not isinstance(w, tuple):
        return np.bincount(key, weights=w, minlength=nz * stride).reshape(nz, stride)
    zone, area = w
    counts = np.bincount(key, minlength=len(zone) * stride).reshape(len(zone), stride)
    cell = (zone.astype(np.int64) * stride)[:, None] + np.arange(stride)
    out = np.bincount(
        cell.ravel(), weights=(counts * area[:, None]).ravel(), minlength=nz * stride
    )
    return out.reshape(nz, stride)


def _accumulate(data, flat, base, w, present, luts, scheme, per, pair, unknown):
    """Add one window's areas to *per* (and *pair*).

    *data* holds each raster's window of codes (flat); *luts* map codes to
    class indices (gathered first, then looked up: ``take`` on the zone
    pixels only is several times faster than a lookup of the whole window).
    *base* is each pixel's group times the key stride (K, or K² for a
    transition count); the class (pair) index is added to it. The group is
    the local zone index when *w* holds a weight per pixel, or a run piece
    when *w* is ``(zone of each piece, pixel area of each piece)``.
    """
    if len(flat) == 0:
        return
    k = scheme.size
    nz = len(present)
    codes = [d.take(flat) for d in data]
    classes = [lut.take(c) for lut, c in zip(luts, codes, strict=True)]
    if pair is not None:
        base += classes[0].astype(np.int64) * k
        base += classes[1]
        counts = _bincount(base, w, nz, k * k).reshape(nz, k, k)
        pair[present] += counts
        per[present, 0, :] += counts.sum(axis=2)
        per[present, 1, :] += counts.sum(axis=1)
        found = [counts.sum(axis=2), counts.sum(axis=1)]
    else:
        found = []
        for i, cls in enumerate(classes):
            key = base + cls if i + 1 < len(classes) else np.add(base, cls, out=base)
            counts = _bincount(key, w, nz, k)
            per[present, i, :] += counts
            found.append(counts)
    for i, counts in enumerate(found):
        if counts[:, scheme.unknown_index].any():
            bad = codes[i][classes[i] == scheme.unknown_index]
            values, n = np.unique(bad, return_counts=True)
            for code, c in zip(values.tolist(), n.tolist(), strict=True):
                unknown[i][code] = unknown[i].get(code, 0) + c


# --------------------------------------------------------------------------
# zones
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneSet:
    """Zones to measure and the rows to report.

    Attributes
    ----------
    kind : str
        ``districts``, ``units`` or ``file``.
    geoms : geopandas.GeoDataFrame
        The polygons that are measured (any CRS).
    rows : pandas.DataFrame
        One row per reported line: ``level`` (city / district / unit / total /
        zone) and identifiers (``adcode``, ``name_zh``, ``name_en``; units add
        ``unit_no``, ``note``; files add ``zone_id``).
    membership : numpy.ndarray
        (n_rows, n_geoms): which measured polygons make up each row; a row of
        NaN cannot be measured (e.g. 万盛经开区, which has no boundary).
    layer : geopandas.GeoDataFrame
        One geometry per row (EPSG:4490 for districts/units), for map output.
    """

    kind: str
    geoms: Any
    rows: pd.DataFrame
    membership: np.ndarray
    layer: Any


def _district_zones() -> ZoneSet:
    from forestsink.reference import read_districts

    d = read_districts()
    n = len(d)
    rows = pd.concat(
        [
            pd.DataFrame(
                {
                    "level": ["city"],
                    "adcode": [CITY_ADCODE],
                    "name_zh": ["重庆市"],
                    "name_en": ["Chongqing (city-wide)"],
                }
            ),
            pd.DataFrame(
                {
                    "level": "district",
                    "adcode": d["adcode"],
                    "name_zh": d["name_zh"],
                    "name_en": d["name_en"],
                }
            ),
        ],
        ignore_index=True,
    )
    membership = np.vstack([np.ones((1, n)), np.eye(n)])
    city = d.geometry.union_all()
    import geopandas as gpd

    layer = gpd.GeoDataFrame(rows.copy(), geometry=[city, *d.geometry], crs=d.crs)
    return ZoneSet("districts", d[["adcode", "geometry"]], rows, membership, layer)


def _unit_zones() -> ZoneSet:
    import geopandas as gpd

    from forestsink.reference import read_assessment_units, read_districts

    d = read_districts()
    units = read_assessment_units()
    index = {a: i for i, a in enumerate(d["adcode"])}
    n = len(d)
    members, geoms, notes = [], [], []
    for rec in units.to_dict("records"):
        codes = [c.strip() for c in str(rec["adcodes"]).replace(";", ",").split(",")]
        m = np.zeros(n)
        if rec["polygon_relation"] == "city":
            m[:] = 1.0
            notes.append("")
        elif rec["polygon_relation"] == "inside":
            m[:] = np.nan
            host = ", ".join(codes)
            notes.append(
                f"no boundary of its own: inside {host}, reported with it "
                "(无独立边界，计入所在区县)"
            )
        else:
            for c in codes:
                m[index[c]] = 1.0
            notes.append(str(rec.get("note", "")))
        members.append(m)
        sel = [index[c] for c in codes if c in index]
        if rec["polygon_relation"] == "inside":
            geoms.append(None)
        elif rec["polygon_relation"] == "city":
            geoms.append(d.geometry.union_all())
        else:
            geoms.append(d.geometry.iloc[sel].union_all())
    inside = units["polygon_relation"] == "inside"
    for host_code, guest in zip(
        units["adcodes"][inside], units["name_zh"][inside], strict=True
    ):
        for i in np.flatnonzero(
            (units["adcodes"].astype(str) == str(host_code)).to_numpy()
            & ~inside.to_numpy()
        ):
            extra = f"includes {guest}, which has no boundary of its own (含{guest})"
            notes[i] = f"{notes[i]}; {extra}" if notes[i] else extra
    level = np.where(units["polygon_relation"] == "city", "city", "unit")
    adcode = np.where(level == "city", CITY_ADCODE, units["adcodes"].astype(str))
    rows = pd.DataFrame(
        {
            "level": level,
            "unit_no": units["unit_no"].astype(int),
            "adcode": adcode,
            "name_zh": np.where(level == "city", "重庆市", units["name_zh"]),
            "name_en": units["name_en"],
            "note": notes,
        }
    )
    layer = gpd.GeoDataFrame(rows.copy(), geometry=geoms, crs=d.crs)
    return ZoneSet("units", d[["adcode", "geometry"]], rows, np.vstack(members), layer)


#: Columns a zone file's names are taken from, first present wins.
ZONE_NAME_COLUMNS = ("name_zh", "name", "名称", "NAME", "Name")


def _sidecar(path: Path, suffix: str) -> Path | None:
    """Return the file beside *path* with *suffix* (either case), or None."""
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.is_file():
            return candidate
    return None


def _zone_encoding(path: Path) -> str | None:
    """Text encoding of a Shapefile zone layer's .dbf (None for other formats).

    Decided as for deliveries (:func:`forestsink.ingest.encoding.detect_dbf_encoding`:
    the .cpg, else the bytes), so a GBK file without .cpg keeps its names.
    """
    if path.suffix.lower() != ".shp":
        return None
    dbf = _sidecar(path, ".dbf")
    if dbf is None:
        return None  # GDAL says what is missing
    cpg = _sidecar(path, ".cpg")
    text = cpg.read_text(errors="replace") if cpg is not None else None
    try:
        codec, reason = detect_dbf_encoding(dbf.read_bytes(), text)
    except ForestsinkError as err:
        raise ZoneFileError(
            f"{path}: 区域文件的文字编码无法确定 / the text encoding of the zone "
            f"file cannot be decided: {err}"
        ) from err
    _log.info("%s: text encoding %s (%s)", path, codec, reason)
    return codec


def _id_text(values: pd.Series) -> pd.Series:
    """Zone ids as text; whole numbers stored as floats lose their ``.0``."""
    if pd.api.types.is_float_dtype(values):
        finite = values.dropna()
        if len(finite) and np.all(np.mod(finite.to_numpy(), 1) == 0):
            return values.map(lambda v: "" if pd.isna(v) else str(int(v)))
    return values.map(lambda v: "" if pd.isna(v) else str(v))


def _refuse_duplicate_ids(path: Path, column: str, ids: pd.Series) -> None:
    """Raise :class:`ZoneFileError` naming ids given to several features."""
    dup = ids[ids.duplicated(keep=False)]
    if dup.empty:
        return
    zh, en = [], []
    for value, rows in list(dup.groupby(dup, sort=False).groups.items())[:5]:
        numbers = [int(i) + 1 for i in rows]
        shown = ", ".join(map(str, numbers[:10]))
        if len(numbers) > 10:
            shown += f" … ({len(numbers)})"
        zh.append(f"{value!r}（第 {shown} 个要素）")
        en.append(f"{value!r} (features {shown})")
    more = dup.nunique() - len(en)
    tail_zh, tail_en = (
        (f"，另有 {more} 个", f", and {more} more") if more > 0 else ("", "")
    )
    sql = (
        f'`ogr2ogr OUT.gpkg {path.name} -dialect sqlite -sql "SELECT {column}, '
        f'ST_Union(geometry) AS geometry FROM {path.stem} GROUP BY {column}"`'
    )
    raise ZoneFileError(
        f"{path}，列 '{column}'：区域编号重复：{'；'.join(zh)}{tail_zh}。每个区域需要"
        "唯一编号：改正编号，用 --zone-id 另选一列，或把同一区域的要素合并"
        f"（如 {sql}）。 / {path}, column '{column}': duplicate zone ids: "
        f"{'; '.join(en)}{tail_en}. Each zone needs its own id: correct the ids, "
        "choose another column with --zone-id, or merge the features of one zone "
        f"(e.g. {sql})."
    )


def read_zone_layer(path: str | Path):
    """Read a polygon zone file with the delivery reader's encoding rules.

    Parameters
    ----------
    path : str or Path
        Any polygon layer GDAL reads; a Shapefile's text encoding is decided
        from its .cpg or its bytes (:func:`_zone_encoding`).

    Returns
    -------
    geopandas.GeoDataFrame
        In the file's CRS (which must be set).

    Raises
    ------
    ZoneFileError, CRSError
        Unreadable file, or no CRS; the message says what to do.
    """
    import geopandas as gpd

    path = Path(path)
    encoding = _zone_encoding(path)
    try:
        gdf = gpd.read_file(
            path,
            engine="pyogrio",
            **({"encoding": encoding} if encoding else {}),
        )
    except Exception as err:
        raise ZoneFileError(
            f"{path}: 无法读取区域文件 / cannot read the zone layer ({err}); check "
            "that it is a polygon file GDAL reads (.gpkg, .shp with its .shx and "
            ".dbf, .geojson)."
        ) from err
    if gdf.crs is None:
        raise CRSError(
            f"{path}: 区域文件没有坐标系 / the zone layer has no CRS (.prj); add "
            "one, e.g. `ogr2ogr -a_srs EPSG:4490 OUT IN`."
        )
    return gdf


def _file_zones(path: Path, id_column: str | None) -> ZoneSet:
    import geopandas as gpd

    gdf = read_zone_layer(path)
    poly = gdf.geom_type.isin(["Polygon", "MultiPolygon"])
    if not poly.all():
        raise ZoneFileError(
            f"{path}: 第 {int(np.flatnonzero(~poly.to_numpy())[0]) + 1} 个要素不是面 / "
            f"feature {int(np.flatnonzero(~poly.to_numpy())[0]) + 1} is a "
            f"{gdf.geom_type[~poly].iloc[0]}; zones must be polygons (remove it or "
            "give a polygon layer)."
        )
    if id_column is None:
        id_column = next(
            (c for c in ("zone_id", "adcode", "id", "name") if c in gdf.columns), None
        )
    if id_column is not None and id_column not in gdf.columns:
        raise ZoneFileError(
            f"{path}: 没有列 {id_column!r} / no column {id_column!r}; columns are "
            f"{', '.join(map(str, gdf.columns.drop('geometry')))}: pass one of "
            "them with --zone-id."
        )
    gdf = gdf.reset_index(drop=True)
    ids = (
        _id_text(gdf[id_column])
        if id_column
        else pd.Series([str(i + 1) for i in range(len(gdf))])
    )
    if id_column:
        _refuse_duplicate_ids(path, id_column, ids)
    name_column = next((c for c in ZONE_NAME_COLUMNS if c in gdf.columns), None)
    names = (
        gdf[name_column].map(lambda v: "" if pd.isna(v) else str(v))
        if name_column
        else pd.Series([""] * len(gdf))
    )
    n = len(gdf)
    zone_rows = pd.DataFrame(
        {
            "level": "zone",
            "zone_id": ids.to_numpy(),
            "adcode": _id_text(gdf["adcode"]).to_numpy()
            if "adcode" in gdf.columns
            else "",
            "name_zh": names.to_numpy(),
            "name_en": gdf["name_en"].astype(str).to_numpy()
            if "name_en" in gdf.columns
            else "",
        }
    )
    total = pd.DataFrame(
        {
            "level": ["total"],
            "zone_id": ["total"],
            "adcode": [""],
            "name_zh": ["合计"],
            "name_en": ["all zones (sum)"],
        }
    )
    rows = pd.concat([total, zone_rows], ignore_index=True)
    membership = np.vstack([np.ones((1, n)), np.eye(n)])
    layer = gpd.GeoDataFrame(
        rows.copy(), geometry=[gdf.geometry.union_all(), *gdf.geometry], crs=gdf.crs
    )
    return ZoneSet("file", gdf[["geometry"]], rows, membership, layer)


def read_zones(zones: str | Path = "districts", *, id_column: str | None = None):
    """Return the zones to measure.

    Parameters
    ----------
    zones : str or Path, optional (default: "districts")
        ``districts`` (the 38 county-level units + a city row, adcode
        ``500000``), ``units`` (the 39 assessment units of annex 1 + city row;
        measured on the district polygons and summed; 万盛经开区, which has no
        boundary, is reported inside 綦江区 and left empty) or a polygon file
        (any format pyogrio reads; a ``total`` row sums all zones).
    id_column : str, optional (default: None)
        For a file: the column identifying zones (default: ``zone_id``,
        ``adcode``, ``id`` or ``name``, the first present; else row numbers).

    Returns
    -------
    ZoneSet
    """
    text = str(zones)
    if text == "districts":
        return _district_zones()
    if text == "units":
        return _unit_zones()
    path = Path(text)
    if not path.exists():
        raise CoverageError(
            f"--zones {text!r}: not 'districts', 'units' or an existing polygon file."
        )
    return _file_zones(path, id_column)


# --------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------


def _aggregate(membership: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Sum zone arrays (n_zones, ...) into report rows (n_rows, ...)."""
    flat = values.reshape(values.shape[0], -1)
    out = np.nan_to_num(membership) @ flat
    out[np.isnan(membership).any(axis=1)] = np.nan
    return out.reshape((membership.shape[0], *values.shape[1:]))


def _kind_sums(areas: np.ndarray, scheme: ClassScheme) -> dict[str, np.ndarray]:
    kinds = scheme.kinds()
    return {kind: areas[..., kinds == kind].sum(axis=-1) for kind in COUNTS_AS}


def coverage_table(
    areas: ClassAreas,
    zones: ZoneSet,
    scheme: ClassScheme,
    *,
    zone_area_m2: np.ndarray | None = None,
) -> pd.DataFrame:
    """Build the coverage table: one row per reported line and year.

    Parameters
    ----------
    areas : ClassAreas
        Areas per measured zone.
    zones : ZoneSet
        Report rows and how they aggregate the measured zones.
    scheme : ClassScheme
    zone_area_m2 : numpy.ndarray, optional (default: None)
        Ellipsoidal area of each measured polygon (adds ``zone_area_mu``).

    Returns
    -------
    pandas.DataFrame
        Identifier columns, then ``year``, ``land_area_mu``,
        ``forest_area_mu``, ``coverage_pct``; with two years also
        ``coverage_change_pp`` (later year − earlier, percentage points),
        ``forest_gain_mu`` and ``forest_loss_mu`` on the later year's rows;
        then ``shrub_forest_area_mu``, ``water_area_mu``, ``excluded_area_mu``
        (no data, excluded and unknown codes), ``measured_area_mu`` (all of
        the zone the raster covers) and ``zone_area_mu``.
    """
    rows = _aggregate(zones.membership, areas.per_year) / M2_PER_MU
    sums = _kind_sums(rows, scheme)
    forest = sums["forest"] + sums["shrub_forest"]
    land = forest + sums["land"]
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(land > 0, 100.0 * forest / land, np.nan)
    frames = []
    gain = loss = None
    if areas.joint is not None:
        pair = _aggregate(zones.membership, areas.joint) / M2_PER_MU
        kinds = scheme.kinds()
        is_forest = np.isin(kinds, FOREST_KINDS)
        valid_other = np.isin(kinds, ("land", "water"))
        gain = pair[:, valid_other][:, :, is_forest].sum(axis=(1, 2))
        loss = pair[:, is_forest][:, :, valid_other].sum(axis=(1, 2))
    zone_mu = (
        _aggregate(zones.membership, zone_area_m2) / M2_PER_MU
        if zone_area_m2 is not None
        else None
    )
    for i, year in enumerate(areas.years):
        frame = zones.rows.copy()
        frame["year"] = year
        frame["land_area_mu"] = land[:, i]
        frame["forest_area_mu"] = forest[:, i]
        frame["coverage_pct"] = pct[:, i]
        if len(areas.years) == 2:
            later = i == 1
            frame["coverage_change_pp"] = pct[:, 1] - pct[:, 0] if later else np.nan
            if gain is not None:
                frame["forest_gain_mu"] = gain if later else np.nan
                frame["forest_loss_mu"] = loss if later else np.nan
        frame["shrub_forest_area_mu"] = sums["shrub_forest"][:, i]
        frame["water_area_mu"] = sums["water"][:, i]
        frame["excluded_area_mu"] = sums["excluded"][:, i]
        frame["measured_area_mu"] = rows[:, i].sum(axis=-1)
        if zone_mu is not None:
            frame["zone_area_mu"] = zone_mu
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    order = np.argsort(
        np.tile(np.arange(len(zones.rows)), len(areas.years)), kind="stable"
    )
    return table.iloc[order].reset_index(drop=True)


def transition_table(
    areas: ClassAreas, zones: ZoneSet, scheme: ClassScheme
) -> pd.DataFrame:
    """Build the class transition table (area in mu from class a to class b).

    Parameters
    ----------
    areas : ClassAreas
        With ``joint`` (two rasters).
    zones : ZoneSet
    scheme : ClassScheme

    Returns
    -------
    pandas.DataFrame
        Identifier columns, ``from_year``, ``to_year``, ``from_code``,
        ``from_name_zh``, ``from_name_en``, ``from_counts_as``, ``to_code``,
        ``to_name_zh``, ``to_name_en``, ``to_counts_as``, ``area_mu``; only
        pairs with area > 0; unchanged classes included (the diagonal).
        ``from_code``/``to_code`` are the raster codes as text, or ``nodata``
        / ``unknown``.
    """
    if areas.joint is None:
        raise CoverageError("a transition table needs two rasters.")
    pair = _aggregate(zones.membership, areas.joint) / M2_PER_MU
    codes, zh, en = scheme.labels()
    kinds = scheme.kinds()
    r, a, b = np.nonzero(np.nan_to_num(pair) > 0)
    frame = zones.rows.iloc[r].reset_index(drop=True)
    frame["from_year"] = areas.years[0]
    frame["to_year"] = areas.years[1]
    frame["from_code"] = np.asarray(codes, dtype=object)[a]
    frame["from_name_zh"] = np.asarray(zh, dtype=object)[a]
    frame["from_name_en"] = np.asarray(en, dtype=object)[a]
    frame["from_counts_as"] = kinds[a]
    frame["to_code"] = np.asarray(codes, dtype=object)[b]
    frame["to_name_zh"] = np.asarray(zh, dtype=object)[b]
    frame["to_name_en"] = np.asarray(en, dtype=object)[b]
    frame["to_counts_as"] = kinds[b]
    frame["area_mu"] = pair[r, a, b]
    return frame


# --------------------------------------------------------------------------
# the whole computation
# --------------------------------------------------------------------------


@dataclass
class CoverageResult:
    """Everything ``forestsink coverage`` computes.

    Attributes
    ----------
    table : pandas.DataFrame
        See :func:`coverage_table`.
    transitions : pandas.DataFrame or None
        See :func:`transition_table` (two rasters).
    years : tuple of int
    scheme : ClassScheme
    zones : ZoneSet
    rasters : list of RasterInfo
    weights : ZoneWeights or None
        None with the dask engine (the weights stay on the workers).
    areas : ClassAreas
    messages : list of str
        What the computation decided or noticed (printed by the CLI).
    """

    table: pd.DataFrame
    transitions: pd.DataFrame | None
    years: tuple[int, ...]
    scheme: ClassScheme
    zones: ZoneSet
    rasters: list[RasterInfo]
    weights: ZoneWeights | None
    areas: ClassAreas
    messages: list[str] = field(default_factory=list)


def _resolve_years(paths: Sequence[Path], years: Sequence[int] | None) -> tuple:
    if years is not None:
        years = tuple(int(y) for y in years)
        if len(years) != len(paths):
            raise CoverageError(
                f"{len(paths)} raster(s) but {len(years)} year(s) given; give one "
                "year per raster (--years 2010,2015)."
            )
    else:
        years = tuple(year_from_name(p) for p in paths)
    if len(paths) == 2 and years[0] == years[1]:
        raise CoverageError(f"both rasters are for {years[0]}; give two years.")
    return years


def _check_overlap(
    covered_m2: np.ndarray, inside_share: np.ndarray, info: RasterInfo, zones: ZoneSet
) -> list:
    from pyproj import Transformer

    messages = []
    if not np.any(covered_m2 > 0):
        xmin, ymin, xmax, ymax = info.grid.bounds
        to_ll = Transformer.from_crs(info.grid.crs, 4326, always_xy=True)
        w, s, e, n = to_ll.transform_bounds(xmin, ymin, xmax, ymax)
        what = (
            "Chongqing's districts"
            if zones.kind in ("districts", "units")
            else "any zone"
        )
        raise NoOverlapError(
            f"{info.path}: the raster ({_crs_name(info.grid.crs)}, lon {w:.3f}–{e:.3f},"
            f" lat {s:.3f}–{n:.3f}) does not overlap {what}. Check that the raster "
            "is the right file and that its CRS is right (--crs overrides it)."
        )
    short = inside_share < 0.999
    if short.any():
        ids = zones.geoms.index[short]
        if "adcode" in zones.geoms.columns:
            labels = zones.geoms.loc[ids, "adcode"].astype(str).tolist()
        elif zones.kind == "file":  # the zone ids the user knows
            zone_ids = zones.rows.loc[zones.rows["level"] == "zone", "zone_id"]
            labels = zone_ids.to_numpy()[short].tolist()
        else:
            labels = [str(i + 1) for i in np.flatnonzero(short)]
        shares = inside_share[short]
        listed = ", ".join(
            f"{lab} ({100 * s:.1f}%)"
            for lab, s in list(zip(labels, shares, strict=True))[:10]
        )
        more = "" if short.sum() <= 10 else f" and {int(short.sum()) - 10} more"
        text = (
            f"{int(short.sum())} zone(s) extend beyond the raster (share of area "
            f"inside): {listed}{more}; their figures cover only that part."
        )
        warnings.warn(text, PartialOverlapWarning, stacklevel=3)
        messages.append(text)
    return messages


def _inside_share(geoms, covered_m2: np.ndarray, grid: Grid) -> np.ndarray:
    """Share of each zone's ellipsoidal area that the raster covers."""
    from forestsink.area import area_m2

    total = np.asarray(area_m2(geoms), dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.minimum(covered_m2 / total, 1.0), 0.0)


def _preset_codes() -> dict[str, set[int]]:
    """Codes each preset product's class table lists."""
    table = _read_class_file(_classes_csv())
    product = table["product"].str.strip().str.lower()
    codes = pd.to_numeric(table["code"], errors="coerce")
    return {
        p: {int(c) for c in codes[product == p].dropna()}
        for p in PRODUCTS
        if p != "custom"
    }


def _check_unknown(
    areas: ClassAreas, rasters, scheme: ClassScheme, *, max_unknown_pct: float
) -> list[str]:
    """Refuse rasters whose unknown codes exceed *max_unknown_pct*; else warn.

    The share is the area of pixels with codes the class table does not list
    over the zones' measured area (every pixel of the zones the raster
    covers, no data included), in percent; a code's own share is the total
    share split by its pixel count.
    """
    if not (math.isfinite(max_unknown_pct) and max_unknown_pct >= 0):
        # NaN would make every comparison false: the check would be off
        raise OptionError(
            f"max_unknown_pct={max_unknown_pct!r}: give a finite percent ≥ 0 / "
            "请给出有限的百分比。"
        )
    messages = []
    presets = _preset_codes()
    for i, (info, found) in enumerate(zip(rasters, areas.unknown, strict=True)):
        if not found:
            continue
        per = np.nan_to_num(areas.per_year[:, i, :]).sum(axis=0)
        total = float(per.sum())
        share = 100.0 * float(per[scheme.unknown_index]) / total if total else 0.0
        pixels = sum(found.values())
        listed = ", ".join(
            f"{c} ({share * n / pixels:.1f}%, {n:,} px)"
            for c, n in sorted(found.items())
        )
        present = {int(c) for c in found} | {
            code for code, a in zip(scheme.codes, per[: scheme.n], strict=True) if a > 0
        }
        fits = [p for p, codes in presets.items() if present <= codes]
        fit_zh = "、".join(fits) if fits else "无"
        fit_en = ", ".join(fits) if fits else "none of " + ", ".join(presets)
        if share > max_unknown_pct:
            raise UnknownClassError(
                f"{info.path}: 区域内 {share:.1f}% 的像元是 {scheme.product} 地类表中"
                f"没有的代码（上限 {max_unknown_pct:g}%）：{listed}。可能选错了 "
                f"--product；能对上所有代码的预设：{fit_zh}。请改用正确的 --product，"
                "或用 --classes FILE 给出本产品的地类表（code, counts_as）；"
                "若这些像元确实应排除，可提高 --max-unknown。 / "
                f"{info.path}: {share:.1f}% of the zone pixels hold codes the "
                f"{scheme.product} class table does not list (limit "
                f"{max_unknown_pct:g}%): {listed}. Wrong --product? Presets whose "
                f"class table lists every code found: {fit_en}. Pass the right "
                "--product, or your product's class table with --classes FILE "
                "(code, counts_as); if these pixels really are to be left out, "
                "raise --max-unknown."
            )
        text = (
            f"{info.path.name}: {share:.1f}% 的像元是地类表中没有的代码，按排除计"
            f"（非土地、非森林）/ {share:.1f}% of the zone pixels hold class "
            f"code(s) not in the {scheme.product} class table, counted as excluded "
            f"(not land, not forest): {listed}. Wrong --product? Otherwise add "
            "them to a --classes file."
        )
        warnings.warn(text, UnknownClassWarning, stacklevel=3)
        messages.append(text)
    return messages


def compute_coverage(
    rasters: Sequence[str | Path],
    *,
    product: str = "clcd",
    classes: str | Path | None = None,
    zones: str | Path | ZoneSet = "districts",
    years: Sequence[int] | None = None,
    crs=None,
    water_in_land: bool = False,
    zone_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    partitions: int | None = None,
    max_unknown_pct: float = MAX_UNKNOWN_PCT,
    band: int | None = None,
    max_cells: int | None = MAX_BAND_CELLS,
) -> CoverageResult:
    """Forest coverage per zone for one or two years, and its change.

    Parameters
    ----------
    rasters : sequence of str or Path
        One or two land-cover rasters (GeoTIFF ...), any CRS. Two rasters must
        share CRS, pixel size and pixel alignment (extents may differ).
    product : str, optional (default: "clcd")
        Class preset (:data:`PRODUCTS`).
    classes : str or Path, optional (default: None)
        Class table overriding the preset (see :func:`read_class_scheme`).
    zones : str, Path or ZoneSet, optional (default: "districts")
        ``districts``, ``units``, a polygon file, or a :class:`ZoneSet`.
    years : sequence of int, optional (default: None)
        Year of each raster; default: the 4-digit year in each file name.
    crs : optional (default: None)
        CRS to use instead of the rasters' own (needed when they carry none).
    water_in_land : bool, optional (default: False)
        Count water in the land area (denominator).
    zone_id : str, optional (default: None)
        Identifier column of a zone file.
    progress : callable, optional (default: None)
        ``progress(done, total)`` per window read (per row band with dask).
    engine : {"local", "dask"}, optional (default: "local")
        ``dask``: weights and counts per row band on ``dask.distributed``
        workers (:mod:`forestsink.coverage.dask_counter`); same results to 1e-6.
    scheduler : str, optional (default: None)
        Dask scheduler address; default a ``LocalCluster`` on this machine.
    partitions : int, optional (default: 4 per worker)
        Row bands (tasks) for the dask engine.
    max_unknown_pct : float, optional (default: :data:`MAX_UNKNOWN_PCT`, 5)
        Largest share (percent of the zones' measured area) of pixels whose
        codes the class table does not list; above it the raster is refused
        (a wrong ``--product``), below it they are excluded with a warning.
    band : int, optional (default: None, band 1)
        Band of the rasters holding the class codes (1-based); see
        :func:`inspect_raster` (several bands and no *band*: band 1, with a
        :class:`~forestsink.errors.RasterWarning`).
    max_cells : int or None, optional (default: :data:`MAX_BAND_CELLS`)
        Most work cells of the zone weights (boundary-band pixels plus zone
        rows, about :data:`BYTES_PER_CELL` bytes each); checked from the
        zones' boundary length in pixels before anything is allocated.

    Returns
    -------
    CoverageResult
        Areas in mu (亩) on the ellipsoid; coverage in percent.

    Raises
    ------
    CRSError
        A raster has no usable CRS.
    NoOverlapError
        The raster does not overlap the zones.
    GridMismatchError
        Two rasters on non-aligned grids.
    UnknownClassError
        More than *max_unknown_pct* of the zones holds unlisted codes.
    RasterFileError
        A raster is not a raster, truncated or damaged, or not georeferenced.
    WorkLimitError
        The zone weights would need more than *max_cells* work cells.
    CoverageError
        Any other unusable input.
    """
    from forestsink.area import area_m2

    paths = [Path(p) for p in rasters]
    if not 1 <= len(paths) <= 2:
        raise CoverageError("give one raster, or two for the change between years.")
    scheme = read_class_scheme(product, classes, water_in_land=water_in_land)
    infos = [inspect_raster(p, crs=crs, band=band) for p in paths]
    label = _resolve_years(paths, years)
    if len(infos) == 2:
        infos[1].grid.offset_in(infos[0].grid)
    zone_set = (
        zones if isinstance(zones, ZoneSet) else read_zones(zones, id_column=zone_id)
    )
    if engine not in ("local", "dask"):
        raise CoverageError(f"--engine {engine!r}: use local or dask.")
    try:
        if engine == "local":
            weights = zone_weights(zone_set.geoms, infos[0].grid, max_cells=max_cells)
        else:
            from forestsink.coverage.dask_counter import count_classes_dask

            weights = None
            areas, covered, _pixels = count_classes_dask(
                infos,
                zone_set.geoms,
                scheme,
                years=label,
                partitions=partitions,
                scheduler=scheduler,
                progress=progress,
                max_cells=max_cells,
            )
    except WorkLimitError as err:
        raise WorkLimitError(f"{infos[0].path.name}: {err}") from err
    except MemoryError as err:  # the limit was raised past this machine's memory
        name = infos[0].path.name
        raise WorkLimitError(
            f"{name}: 计算区县边界像元时内存不足（{err or 'MemoryError'}）；请用更粗"
            "的栅格或更少的区域，或把 --max-boundary-cells 调回默认值，让超限的"
            f"栅格在分配前被拒绝。 / {name}: out of memory while computing the exact "
            f"boundary pixels ({err or 'MemoryError'}); use a coarser raster or fewer "
            "zones, or leave --max-boundary-cells at its default so that such a "
            "raster is refused before memory is allocated."
        ) from err
    if weights is not None:
        messages = _check_overlap(
            weights.covered_m2, weights.inside_share, infos[0], zone_set
        )
        areas = count_classes(infos, weights, scheme, years=label, progress=progress)
    else:
        messages = _check_overlap(
            covered,
            _inside_share(zone_set.geoms, covered, infos[0].grid),
            infos[0],
            zone_set,
        )
    messages += _check_unknown(areas, infos, scheme, max_unknown_pct=max_unknown_pct)
    table = coverage_table(
        areas, zone_set, scheme, zone_area_m2=area_m2(zone_set.geoms)
    )
    transitions = transition_table(areas, zone_set, scheme) if len(infos) == 2 else None
    return CoverageResult(
        table=table,
        transitions=transitions,
        years=label,
        scheme=scheme,
        zones=zone_set,
        rasters=infos,
        weights=weights,
        areas=areas,
        messages=messages,
    )


# --------------------------------------------------------------------------
# overlay for the map
# --------------------------------------------------------------------------

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
        import rasterio
        from rasterio.io import MemoryFile

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
    import rasterio
    import shapely
    from affine import Affine
    from pyproj import Transformer
    from rasterio.enums import Resampling
    from rasterio.errors import RasterioError
    from rasterio.features import rasterize
    from rasterio.warp import calculate_default_transform, reproject
    from rasterio.windows import Window

    full = rasters[0].grid
    local = _prepare_zones(zones.geoms.geometry.values, zones.geoms.crs, full)
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
        with rasterio.Env(GDAL_CACHEMAX=64 * 1024 * 1024), _open(info.path) as src:
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


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------


def write_coverage(result: CoverageResult, out: str | Path) -> list[Path]:
    """Write the coverage table (and transitions) to *out*.

    Parameters
    ----------
    result : CoverageResult
    out : str or Path
        ``.csv``, ``.json``: the table; transitions (two years) go to
        ``<stem>_transitions<suffix>`` beside it. ``.xlsx``: sheets
        ``coverage``, ``transitions`` and ``classes``. ``.gpkg``/``.geojson``:
        the zones with their figures (one feature per zone and year; EPSG:4490
        for districts/units); transitions go to ``<stem>_transitions.csv``.

    Returns
    -------
    list of Path
        Files written (each atomically).
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in TABLE_SUFFIXES + LAYER_SUFFIXES:
        raise CoverageError(
            f"{out}: unsupported output {suffix!r}; use .csv, .xlsx, .json, .gpkg or "
            ".geojson."
        )
    written = []
    if suffix == ".xlsx":
        sheets = {"coverage": result.table}
        if result.transitions is not None:
            sheets["transitions"] = result.transitions
        sheets["classes"] = result.scheme.table()
        return [write_sheets(sheets, out)]
    if suffix in LAYER_SUFFIXES:
        import geopandas as gpd

        layer = result.zones.layer
        geom = layer.geometry.to_numpy()
        n = len(layer)
        index = np.tile(np.arange(n), len(result.years))
        index = np.sort(index, kind="stable")
        frame = gpd.GeoDataFrame(
            result.table.reset_index(drop=True),
            geometry=geom[index],
            crs=layer.crs,
        )
        written.append(write_layer(frame, out, layer="coverage"))
        side = out.with_name(f"{out.stem}_transitions.csv")
    else:
        written.append(write_table(result.table, out, sheet="coverage"))
        side = out.with_name(f"{out.stem}_transitions{suffix}")
    if result.transitions is not None:
        written.append(write_table(result.transitions, side, sheet="transitions"))
    return written
