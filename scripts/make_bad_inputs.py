#!/usr/bin/env python
"""Generate a deterministic corpus of *bad* project deliveries.

Usage::

    python scripts/make_bad_inputs.py --out DIR

Every file is built in code from a few small boxes inside Chongqing (万州区
500101 around 108.38 °E 30.80 °N, 涪陵区 500102 around 107.39 °E 29.70 °N) with
the Chinese columns counties use (小班号, 区县, 年度, 工程类别, 面积(亩)), then
broken in one way: truncated or missing Shapefile parts, wrong text encoding,
wrong or missing CRS, non-polygon or broken geometry, hostile archives and
names, bad attribute values. Each case lives in its own folder ``DIR/<name>/``
and has one entry in ``DIR/manifest.json``:

``name``
    Case name (also the folder).
``path``
    The delivery to ingest, relative to ``DIR`` (POSIX separators).
``expect_code``
    Issue code ``forestsink ingest`` must report (``unreadable_file``,
    ``invalid_geometry`` ...), or ``"ok"`` when the file must be accepted.
``expect_in_message``
    A substring the issue message must contain (the column, the value, the
    EPSG codes to try ...); for ``"ok"`` cases a substring of a delivery note,
    or ``""``.
``note``
    What is wrong and what the tool must do.
``family``
    Group of the case (``parts``, ``format``, ``encoding``, ``crs``,
    ``geometry``, ``archive``, ``attributes``, ``hostile``, ``location``).
``options``
    Keyword arguments for ``ingest_deliveries`` (usually ``{}``).
``stored``
    For ``"ok"`` cases: ``{canonical column: value}`` for one key that must be
    stored exactly so, plus ``key``; else ``{}``.

The same output folder content is produced on every run (fixed dates in DBF
and GeoPackage headers and zip entries).
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import sys
import warnings
import zipfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import LineString, Point, Polygon, box

WANZHOU = (108.38, 30.80)  # inside 万州区 500101
FULING = (107.39, 29.70)  # inside 涪陵区 500102
CHENGDU = (104.07, 30.67)  # Sichuan: outside Chongqing
BOX_DEG = 0.002  # side of a base box (about 190 m x 215 m, ~60 mu)
STEP_DEG = 0.004
FIXED_DATE = "2015-12-31"
FIXED_DATETIME = "2015-12-31T00:00:00Z"
ZIP_DATE_TIME = (2015, 12, 31, 0, 0, 0)
SQL_COLUMN = '面积"); DROP TABLE batches;--'
HTML = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert('x')</script>"
GEOD = Geod(ellps="GRS80")
M2_PER_MU = 10_000.0 / 15.0


# ---------------------------------------------------------------------------
# base data
# ---------------------------------------------------------------------------


def boxes(centre=WANZHOU, n: int = 3) -> list[Polygon]:
    """Return *n* small, disjoint, valid boxes east of *centre* (EPSG:4490)."""
    x, y = centre
    return [
        box(x + i * STEP_DEG, y, x + i * STEP_DEG + BOX_DEG, y + BOX_DEG)
        for i in range(n)
    ]


def area_mu(geom) -> float:
    """Ellipsoidal area of a lon/lat polygon in mu, rounded to 0.1."""
    area, _ = GEOD.geometry_area_perimeter(geom)
    return round(abs(area) / M2_PER_MU, 1)


def base_frame(
    centre=WANZHOU,
    *,
    n: int = 3,
    district: str = "万州区",
    prefix: str = "WZ",
    year=2013,
    project_type: str = "人工造林",
    geoms=None,
) -> gpd.GeoDataFrame:
    """A clean delivery in EPSG:4490 with the Chinese column names."""
    geoms = boxes(centre, n) if geoms is None else list(geoms)
    n = len(geoms)
    return gpd.GeoDataFrame(
        {
            "小班号": [f"{prefix}-2013-{i + 1:03d}" for i in range(n)],
            "区县": [district] * n,
            "年度": [year] * n,
            "工程类别": [project_type] * n,
            "面积(亩)": [
                area_mu(g) if g is not None and g.geom_type == "Polygon" else 60.0
                for g in geoms
            ],
        },
        geometry=geoms,
        crs="EPSG:4490",
    )


# ---------------------------------------------------------------------------
# writers (deterministic)
# ---------------------------------------------------------------------------


@contextmanager
def _gdal_options(**opts):
    pyogrio.set_gdal_config_options(opts)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(dict.fromkeys(opts))


def write_shp(
    gdf, path: Path, *, encoding: str = "GBK", cpg: str | None = "GBK", prj=True
) -> Path:
    """Write a Shapefile; ``cpg=None`` removes the .cpg, ``prj=False`` the .prj."""
    pyogrio.write_dataframe(
        gdf,
        path,
        driver="ESRI Shapefile",
        encoding=encoding,
        layer_options={"DBF_DATE_LAST_UPDATE": FIXED_DATE},
    )
    cpg_path = path.with_suffix(".cpg")
    cpg_path.unlink(missing_ok=True)
    if cpg is not None:
        cpg_path.write_bytes(cpg.encode("ascii"))
    if not prj:
        path.with_suffix(".prj").unlink(missing_ok=True)
    return path


def write_gpkg(gdf, path: Path, *, layer: str | None = None, append=False) -> Path:
    """Write one GeoPackage layer with fixed timestamps."""
    with _gdal_options(OGR_CURRENT_DATE=FIXED_DATETIME):
        pyogrio.write_dataframe(
            gdf,
            path,
            driver="GPKG",
            layer=layer or path.stem,
            append=append,
        )
    return path


def write_geojson(gdf, path: Path) -> Path:
    """Write GeoJSON with 8 decimals (not RFC 7946: keeps the CRS member)."""
    pyogrio.write_dataframe(
        gdf,
        path,
        driver="GeoJSON",
        layer_options={"COORDINATE_PRECISION": 8, "RFC7946": "NO"},
    )
    return path


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    """Write a zip with fixed dates; member names are used verbatim."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            zf.writestr(info, data, compresslevel=6)
    return path


def shapefile_parts(shp: Path) -> dict[str, bytes]:
    """Bytes of every part of a Shapefile, keyed by file name, sorted."""
    return {p.name: p.read_bytes() for p in sorted(shp.parent.glob(shp.stem + ".*"))}


def write_polygon_m_shp(shp: Path, polygons: list[Polygon]) -> None:
    """Overwrite *shp* and its .shx with PolygonM (type 25) records.

    GDAL/pyogrio cannot write measured geometries, so the two binary files are
    written here (ESRI Shapefile Technical Description, 1998); the .dbf, .prj
    and .cpg written before stay.
    """
    records = []
    for k, poly in enumerate(polygons):
        ring = list(poly.exterior.coords)
        if shapely.LinearRing(ring).is_ccw:  # outer rings are clockwise
            ring = ring[::-1]
        xs = [c[0] for c in ring]
        ys = [c[1] for c in ring]
        ms = [float(10 * k + j) for j in range(len(ring))]
        body = struct.pack("<i4d", 25, min(xs), min(ys), max(xs), max(ys))
        body += struct.pack("<2i", 1, len(ring)) + struct.pack("<i", 0)
        body += b"".join(struct.pack("<2d", x, y) for x, y in zip(xs, ys, strict=True))
        body += struct.pack("<2d", min(ms), max(ms))
        body += b"".join(struct.pack("<d", m) for m in ms)
        records.append(body)
    allx = [c[0] for p in polygons for c in p.exterior.coords]
    ally = [c[1] for p in polygons for c in p.exterior.coords]
    bbox = (min(allx), min(ally), max(allx), max(ally))

    def header(length_bytes: int) -> bytes:
        head = struct.pack(">7i", 9994, 0, 0, 0, 0, 0, length_bytes // 2)
        head += struct.pack("<2i", 1000, 25)
        head += struct.pack("<4d", *bbox) + struct.pack("<4d", 0, 0, 0, 0)
        return head

    shp_body, shx_body, offset = b"", b"", 100
    for number, body in enumerate(records, start=1):
        shp_body += struct.pack(">2i", number, len(body) // 2) + body
        shx_body += struct.pack(">2i", offset // 2, len(body) // 2)
        offset += 8 + len(body)
    shp.write_bytes(header(100 + len(shp_body)) + shp_body)
    shp.with_suffix(".shx").write_bytes(header(100 + len(shx_body)) + shx_body)


def gk_frame(gdf, epsg: int) -> gpd.GeoDataFrame:
    """Reproject a lon/lat frame to a Gauss-Krüger EPSG code."""
    return gdf.to_crs(epsg=epsg)


# ---------------------------------------------------------------------------
# the cases
# ---------------------------------------------------------------------------


@dataclass
class Case:
    """One bad delivery and what ingest must say about it."""

    name: str
    family: str
    expect_code: str
    expect_in_message: str
    note: str
    build: Callable[[Path], Path]
    options: dict = field(default_factory=dict)
    stored: dict = field(default_factory=dict)


CASES: list[Case] = []


def case(name, family, expect_code, expect_in_message, note, **extra):
    """Register the decorated builder ``build(folder) -> delivery path``."""

    def register(build):
        CASES.append(
            Case(name, family, expect_code, expect_in_message, note, build, **extra)
        )
        return build

    return register


# ---- Shapefile parts -------------------------------------------------------


@case(
    "shp_truncated",
    "parts",
    "unreadable_file",
    "truncated",
    "the .shp is cut in half (its .shx still lists every record): the whole "
    "file is refused as truncated, so no half of it can be stored.",
)
def _shp_truncated(folder):
    shp = write_shp(base_frame(n=4), folder / "万州_截断.shp")
    data = shp.read_bytes()
    shp.write_bytes(data[: len(data) // 2])
    return shp


@case(
    "shp_missing_dbf",
    "parts",
    "unreadable_file",
    ".dbf",
    "the attribute table (.dbf) was not delivered.",
)
def _shp_missing_dbf(folder):
    shp = write_shp(base_frame(), folder / "万州_无dbf.shp")
    shp.with_suffix(".dbf").unlink()
    return shp


@case(
    "shp_missing_shx",
    "parts",
    "unreadable_file",
    ".shx",
    "the index (.shx) was not delivered.",
)
def _shp_missing_shx(folder):
    shp = write_shp(base_frame(), folder / "万州_无shx.shp")
    shp.with_suffix(".shx").unlink()
    return shp


@case(
    "shp_empty_file",
    "parts",
    "unreadable_file",
    "truncated",
    "the .shp is 0 bytes (a failed copy); .shx/.dbf are intact.",
)
def _shp_empty(folder):
    shp = write_shp(base_frame(), folder / "万州_空.shp")
    shp.write_bytes(b"")
    return shp


@case(
    "shp_dbf_not_dbf",
    "parts",
    "unreadable_file",
    ".dbf",
    "the .dbf is a text file (no .cpg, so the encoding check reads it first).",
)
def _shp_dbf_not_dbf(folder):
    shp = write_shp(base_frame(), folder / "万州_坏dbf.shp", cpg=None)
    shp.with_suffix(".dbf").write_bytes(b"this is not a dBASE file\r\n" * 4)
    return shp


@case(
    "shp_dbf_not_dbf_with_cpg",
    "parts",
    "unreadable_file",
    "万州_坏dbf2.shp",
    "the .dbf is a text file and a .cpg exists, so GDAL opens it and finds no "
    "columns: refused (the message names the file).",
)
def _shp_dbf_not_dbf_cpg(folder):
    shp = write_shp(base_frame(), folder / "万州_坏dbf2.shp", cpg="GBK")
    shp.with_suffix(".dbf").write_bytes(b"this is not a dBASE file\r\n" * 4)
    return shp


# ---- formats ---------------------------------------------------------------


@case(
    "gpkg_two_layers",
    "format",
    "unreadable_file",
    "choose one as layer",  # the parameter; the CLI's flag is --layer
    "a GeoPackage with two polygon layers and no layer given: must ask which one.",
)
def _gpkg_two_layers(folder):
    path = folder / "万州_两图层.gpkg"
    write_gpkg(base_frame(n=2), path, layer="造林2013")
    write_gpkg(base_frame(n=2, prefix="WZB"), path, layer="造林2014", append=True)
    return path


@case(
    "geojson_not_json",
    "format",
    "unreadable_file",
    "cannot be read",
    "a .geojson file that holds an HTML error page, not JSON.",
)
def _geojson_not_json(folder):
    path = folder / "万州_不是json.geojson"
    path.write_bytes(
        b"<html><body><h1>502 Bad Gateway</h1>{not json at all</body></html>\n"
    )
    return path


@case(
    "gpkg_not_sqlite",
    "format",
    "unreadable_file",
    "cannot be read",
    "a .gpkg that is random bytes, not a SQLite database.",
)
def _gpkg_not_sqlite(folder):
    path = folder / "万州_坏.gpkg"
    path.write_bytes(np.random.default_rng(2012).bytes(4096))
    return path


@case(
    "kml_unsupported",
    "format",
    "unreadable_file",
    ".kml",
    "a KML file: not a supported delivery format; the message names the types.",
)
def _kml(folder):
    path = folder / "万州.kml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><Polygon>'
        "<outerBoundaryIs><LinearRing><coordinates>108.38,30.80 108.382,30.80 "
        "108.382,30.802 108.38,30.80</coordinates></LinearRing></outerBoundaryIs>"
        "</Polygon></Placemark></kml>\n",
        encoding="utf-8",
    )
    return path


@case(
    "txt_unsupported",
    "format",
    "unreadable_file",
    ".txt",
    "a .txt file given explicitly on the command line.",
)
def _txt(folder):
    path = folder / "说明.txt"
    path.write_text("小班号,区县\nWZ-1,万州区\n", encoding="utf-8")
    return path


# ---- archives --------------------------------------------------------------


@case(
    "zip_slip",
    "archive",
    "unreadable_file",
    "../evil.shp",
    "a zip whose member path climbs out of the extraction folder (zip-slip): "
    "must be refused before anything is extracted.",
)
def _zip_slip(folder):
    tmp = folder / "_src"
    tmp.mkdir()
    shp = write_shp(base_frame(), tmp / "evil.shp")
    parts = shapefile_parts(shp)
    first = {"evil.shp": parts.pop("evil.shp")}  # the .shp is the first member
    members = {f"../{name}": data for name, data in {**first, **parts}.items()}
    shutil.rmtree(tmp)
    return write_zip(folder / "万州_zipslip.zip", members)


@case(
    "zip_absolute_member",
    "archive",
    "unreadable_file",
    "/tmp/forestsink-evil.shp",
    "a zip with an absolute member path.",
)
def _zip_absolute(folder):
    tmp = folder / "_src"
    tmp.mkdir()
    shp = write_shp(base_frame(), tmp / "forestsink-evil.shp")
    parts = shapefile_parts(shp)
    first = {"forestsink-evil.shp": parts.pop("forestsink-evil.shp")}
    members = {f"/tmp/{name}": data for name, data in {**first, **parts}.items()}
    shutil.rmtree(tmp)
    return write_zip(folder / "万州_绝对路径.zip", members)


@case(
    "zip_two_shapefiles",
    "archive",
    "unreadable_file",
    "exactly one",
    "a zip holding two Shapefiles: which one is the delivery?",
)
def _zip_two(folder):
    tmp = folder / "_src"
    tmp.mkdir()
    a = write_shp(base_frame(), tmp / "a.shp")
    b = write_shp(base_frame(FULING, district="涪陵区", prefix="FL"), tmp / "b.shp")
    members = {**shapefile_parts(a), **shapefile_parts(b)}
    shutil.rmtree(tmp)
    return write_zip(folder / "两个shp.zip", members)


@case(
    "zip_holding_bad_gpkg",
    "archive",
    "unreadable_file",
    "cannot be read",
    "a zip whose only member is a .gpkg of random bytes.",
)
def _zip_bad_gpkg(folder):
    data = np.random.default_rng(2013).bytes(4096)
    return write_zip(folder / "万州_坏gpkg.zip", {"万州.gpkg": data})


@case(
    "zip_not_zip",
    "archive",
    "unreadable_file",
    "not a valid zip",
    "a .zip that is a text file.",
)
def _zip_not_zip(folder):
    path = folder / "万州_坏.zip"
    path.write_bytes(b"PK? no, just text pretending to be a zip\n")
    return path


# ---- encoding --------------------------------------------------------------


@case(
    "gbk_with_utf8_cpg",
    "encoding",
    "unreadable_file",
    "UTF-8",
    "GBK bytes but the .cpg says UTF-8: decoding gives mojibake, which must be "
    "refused and never stored.",
)
def _gbk_utf8_cpg(folder):
    return write_shp(base_frame(), folder / "万州_编码错.shp", cpg="UTF-8")


@case(
    "gbk_with_latin1_cpg",
    "encoding",
    "unreadable_file",
    "ISO-8859-1",
    "GBK bytes but the .cpg says ISO-8859-1: 'ÍòÖÝÇø' mojibake must be refused.",
)
def _gbk_latin1_cpg(folder):
    return write_shp(base_frame(), folder / "万州_编码错2.shp", cpg="ISO-8859-1")


@case(
    "utf8_with_gbk_cpg",
    "encoding",
    "unreadable_file",
    "the text is UTF-8",
    "UTF-8 bytes but the .cpg says GBK (936): refused, saying the text is "
    "UTF-8 and how to fix the .cpg.",
)
def _utf8_gbk_cpg(folder):
    gdf = _utf8_frame()
    gdf["YOU_SHI_SZ"] = "马尾松"  # 9 UTF-8 bytes: the GB18030 decode fails
    gdf["BZ"] = "杉木林"
    return write_shp(gdf, folder / "wz_utf8.shp", encoding="UTF-8", cpg="936")


def _utf8_frame() -> gpd.GeoDataFrame:
    gdf = base_frame(district="500101").rename(
        columns={
            "小班号": "XBH",
            "区县": "XIAN",
            "年度": "ZLND",
            "工程类别": "ZAO_LIN_LB",
            "面积(亩)": "MJ_MU",
        }
    )
    gdf["ZAO_LIN_LB"] = "110"
    return gdf


@case(
    "utf8_with_gbk_cpg_even",
    "encoding",
    "unreadable_file",
    "936",
    "UTF-8 bytes, .cpg says 936, every Chinese value an even number of bytes "
    "(杉木 = 6 bytes): GB18030 decodes it without error into 鏉夋湪. The "
    "delivery must be refused (or read as UTF-8), never stored as mojibake.",
    stored={"species": "杉木", "column": "YOU_SHI_SZ"},
)
def _utf8_gbk_cpg_even(folder):
    gdf = _utf8_frame()
    gdf["YOU_SHI_SZ"] = "杉木"
    gdf["BZ"] = "马尾松林"
    return write_shp(gdf, folder / "wz_utf8_even.shp", encoding="UTF-8", cpg="936")


@case(
    "cpg_unknown_codepage",
    "encoding",
    "unreadable_file",
    "x-no-such-codepage",
    "the .cpg names a code page no codec knows: refused with a message naming "
    "it, not a crash.",
)
def _cpg_unknown(folder):
    return write_shp(
        base_frame(), folder / "万州_未知cpg.shp", cpg="x-no-such-codepage"
    )


# ---- CRS -------------------------------------------------------------------


@case(
    "swapped_lonlat_no_prj",
    "crs",
    "unreadable_file",
    "swapped",
    "lat/lon written as x/y, no .prj: must be refused with the swap hint.",
)
def _swapped(folder):
    gdf = base_frame()
    gdf = gdf.set_geometry(
        shapely.transform(gdf.geometry.values, lambda c: c[:, ::-1]), crs=None
    )
    return write_shp(gdf, folder / "万州_经纬颠倒.shp", prj=False)


@case(
    "gk_wrong_zone_declared",
    "crs",
    "outside_chongqing",
    "outside Chongqing",
    "coordinates computed for CGCS2000 GK CM 111E (EPSG:4546) but the .prj "
    "says CM 105E (EPSG:4544): the polygons land in Sichuan.",
)
def _gk_wrong_zone(folder):
    gdf = gk_frame(base_frame(), 4546).set_crs(4544, allow_override=True)
    return write_shp(gdf, folder / "万州_错带.shp")


@case(
    "gk_unprefixed_no_prj",
    "crs",
    "unreadable_file",
    "EPSG:4545",
    "Gauss-Krüger metres without zone prefix and no .prj: refused, listing "
    "the EPSG codes to try with --crs.",
)
def _gk_unprefixed(folder):
    gdf = gk_frame(base_frame(), 4545)
    return write_shp(gdf, folder / "万州_无前缀无prj.shp", prj=False)


@case(
    "lonlat_outside_no_prj",
    "crs",
    "unreadable_file",
    "Pass the CRS with crs",  # the parameter; the CLI's flag is --crs
    "degrees of Chengdu (outside Chongqing's box) and no .prj: cannot infer.",
)
def _lonlat_outside_noprj(folder):
    gdf = base_frame(CHENGDU)
    return write_shp(gdf, folder / "成都_无prj.shp", prj=False)


@case(
    "prj_unreadable",
    "crs",
    "ok",
    "EPSG:4490",
    "the .prj is not WKT; the coordinates are degrees inside Chongqing, so "
    "EPSG:4490 is assumed and said in a note.",
    stored={"key": "500101/WZ-2013-001", "project_type": "afforestation"},
)
def _prj_unreadable(folder):
    shp = write_shp(base_frame(), folder / "万州_坏prj.shp")
    shp.with_suffix(".prj").write_text("THIS IS NOT WKT\n", encoding="ascii")
    return shp


@case(
    "unknown_crs_option",
    "crs",
    "unreadable_file",
    "EPSG:999999",
    "a good file ingested with --crs EPSG:999999 (no such code).",
    options={"crs": "EPSG:999999"},
)
def _unknown_crs(folder):
    return write_gpkg(base_frame(), folder / "万州_好.gpkg")


# ---- geometry ----------------------------------------------------------------


@case(
    "z_values",
    "geometry",
    "ok",
    "Z (height)",
    "PolygonZ Shapefile: accepted, heights dropped with a note.",
    stored={"key": "500101/WZ-2013-001", "project_type": "afforestation"},
)
def _z(folder):
    gdf = base_frame()
    gdf = gdf.set_geometry(
        [shapely.force_3d(g, 312.5) for g in gdf.geometry], crs=gdf.crs
    )
    return write_shp(gdf, folder / "万州_Z值.shp")


@case(
    "m_values",
    "geometry",
    "ok",
    "",
    "PolygonM Shapefile (measures): accepted, measures dropped; 2D polygons stored.",
    stored={"key": "500101/WZ-2013-002", "project_type": "afforestation"},
)
def _m(folder):
    gdf = base_frame()
    shp = write_shp(gdf, folder / "万州_M值.shp")
    write_polygon_m_shp(shp, list(gdf.geometry))
    return shp


@case(
    "geometry_collection",
    "geometry",
    "non_polygon",
    "GeometryCollection",
    "a GEOMETRYCOLLECTION (polygon + line) feature: not a polygon (ingest "
    "with --fix keeps the polygon part).",
)
def _gc(folder):
    geoms = boxes(n=3)
    geoms[1] = shapely.GeometryCollection(
        [geoms[1], LineString([(108.39, 30.81), (108.391, 30.811)])]
    )
    return write_gpkg(base_frame(geoms=geoms), folder / "万州_集合.gpkg")


@case(
    "point_layer",
    "geometry",
    "non_polygon",
    "Point",
    "project locations delivered as points.",
)
def _points(folder):
    geoms = [g.centroid for g in boxes(n=3)]
    return write_gpkg(base_frame(geoms=geoms), folder / "万州_点.gpkg")


@case(
    "linestring_layer",
    "geometry",
    "non_polygon",
    "LineString",
    "project outlines delivered as lines.",
)
def _lines(folder):
    geoms = [LineString(g.exterior.coords) for g in boxes(n=3)]
    return write_geojson(base_frame(geoms=geoms), folder / "万州_线.geojson")


@case(
    "nan_coordinates",
    "geometry",
    "nan_coordinates",
    "NaN",
    "a polygon with a NaN x coordinate (GeoPackage WKB).",
)
def _nan(folder):
    geoms = boxes(n=3)
    x, y = WANZHOU
    geoms[2] = Polygon(
        [(x + 0.008, y), (np.nan, y), (x + 0.01, y + 0.002), (x + 0.008, y)]
    )
    return write_gpkg(base_frame(geoms=geoms), folder / "万州_NaN.gpkg")


@case(
    "empty_geometry",
    "geometry",
    "empty_geometry",
    "empty",
    "an empty polygon (POLYGON EMPTY) in a GeoPackage.",
)
def _empty(folder):
    geoms = boxes(n=3)
    geoms[0] = Polygon()
    return write_gpkg(base_frame(geoms=geoms), folder / "万州_空几何.gpkg")


@case(
    "null_geometry",
    "geometry",
    "empty_geometry",
    "no geometry",
    "a feature without geometry (NULL) in GeoJSON.",
)
def _null(folder):
    geoms: list = list(boxes(n=3))
    geoms[1] = None
    return write_geojson(base_frame(geoms=geoms), folder / "万州_无几何.geojson")


@case(
    "self_intersecting",
    "geometry",
    "invalid_geometry",
    "Self-intersection",
    "a bow-tie polygon (edges cross); --fix would repair it.",
)
def _bowtie(folder):
    geoms = boxes(n=3)
    x, y = WANZHOU[0] + STEP_DEG, WANZHOU[1]
    geoms[1] = Polygon(
        [(x, y), (x + BOX_DEG, y + BOX_DEG), (x + BOX_DEG, y), (x, y + BOX_DEG)]
    )
    return write_shp(base_frame(geoms=geoms), folder / "万州_自相交.shp")


# ---- location ----------------------------------------------------------------


@case(
    "outside_chongqing",
    "location",
    "outside_chongqing",
    "outside Chongqing",
    "polygons in Chengdu (Sichuan) with a correct .prj.",
)
def _outside(folder):
    return write_gpkg(base_frame(CHENGDU), folder / "成都.gpkg")


@case(
    "wrong_district",
    "location",
    "wrong_district",
    "涪陵区",
    "polygons in 万州区 whose 区县 column says 涪陵区.",
)
def _wrong_district(folder):
    return write_shp(base_frame(district="涪陵区"), folder / "涪陵_错区.shp")


# ---- attributes --------------------------------------------------------------


@case(
    "unknown_project_type",
    "attributes",
    "unknown_project_type",
    "森林康养",
    "工程类别 = 森林康养 (forest wellness): not a plan project type.",
)
def _unknown_type(folder):
    gdf = base_frame()
    gdf.loc[1, "工程类别"] = "森林康养"
    return write_shp(gdf, folder / "万州_未知类别.shp")


@case(
    "unknown_district",
    "attributes",
    "unknown_district",
    "火星区",
    "区县 = 火星区 (no such district).",
)
def _unknown_district(folder):
    return write_shp(base_frame(district="火星区"), folder / "火星区.shp")


@case(
    "year_chinese_numerals",
    "attributes",
    "year_missing",
    "二〇一三",
    "年度 written in Chinese numerals (二〇一三): not parsed, refused.",
)
def _year_cn(folder):
    gdf = base_frame(year="2013")
    gdf.loc[0, "年度"] = "二〇一三"
    return write_shp(gdf, folder / "万州_中文年度.shp")


@case(
    "year_1899",
    "attributes",
    "year_out_of_range",
    "1899",
    "年度 = 1899: outside the plan period 2011–2015.",
)
def _year_1899(folder):
    gdf = base_frame()
    gdf.loc[2, "年度"] = 1899
    return write_shp(gdf, folder / "万州_1899.shp")


@case(
    "duplicate_id",
    "attributes",
    "duplicate_id",
    "WZ-2013-001",
    "two features share 小班号 WZ-2013-001.",
)
def _dup(folder):
    gdf = base_frame()
    gdf.loc[2, "小班号"] = "WZ-2013-001"
    return write_shp(gdf, folder / "万州_重号.shp")


@case(
    "missing_project_id",
    "attributes",
    "missing_project_id",
    "no project id",
    "one feature has an empty 小班号.",
)
def _missing_id(folder):
    gdf = base_frame()
    gdf.loc[1, "小班号"] = "   "
    return write_gpkg(gdf, folder / "万州_缺编号.gpkg")


@case(
    "two_id_columns",
    "attributes",
    "duplicate_id",
    "appears more than once",
    "小班号 and 项目编号 both present (issue 15: both kept, the 小班号 is the id "
    "and 项目编号 fills its gaps); 小班号 empty in two rows that share 项目编号",
)
def _two_ids(folder):
    gdf = base_frame()
    gdf.insert(1, "项目编号", ["X1", "X1", "X1"])
    gdf["小班号"] = gdf["小班号"].astype(object)
    gdf.loc[[1, 2], "小班号"] = None
    return write_gpkg(gdf, folder / "万州_两个编号.gpkg")


@case(
    "missing_type_column",
    "attributes",
    "unreadable_file",
    "工程类别",
    "no 工程类别 column at all: the message lists the accepted names.",
)
def _no_type_col(folder):
    return write_shp(base_frame().drop(columns="工程类别"), folder / "万州_无类别.shp")


def _text_column(gdf, column: str, values: dict) -> gpd.GeoDataFrame:
    """Make *column* text (as delivered) and set some of its cells."""
    gdf[column] = [str(v) for v in gdf[column]]
    for i, value in values.items():
        gdf.loc[i, column] = value
    return gdf


@case(
    "area_text",
    "attributes",
    "not_a_number",
    "待核实",
    "面积(亩) = 待核实 (to be checked) in one row: not a number; refused naming "
    "the row, the column and the value, never stored as an empty area (an "
    "empty area switches off the area check).",
)
def _area_text(folder):
    gdf = _text_column(base_frame(), "面积(亩)", {1: "待核实"})
    return write_gpkg(gdf, folder / "万州_面积文字.gpkg")


@case(
    "area_with_unit",
    "attributes",
    "not_a_number",
    "亩'",
    "面积(亩) = '<area>亩' (the unit written in the cell): refused, the fix "
    "says the unit belongs in the column name.",
)
def _area_unit(folder):
    gdf = base_frame()
    gdf = _text_column(gdf, "面积(亩)", {2: f"{gdf.loc[2, '面积(亩)']}亩"})
    return write_gpkg(gdf, folder / "万州_面积带单位.gpkg")


@case(
    "volume_hex",
    "attributes",
    "not_a_number",
    "0x10",
    "小班蓄积 = 0x10 (hexadecimal): not a plain number; refused, never stored "
    "as an empty volume.",
)
def _volume_hex(folder):
    gdf = base_frame()
    gdf["小班蓄积"] = ["300", "0x10", "250"]
    return write_gpkg(gdf, folder / "万州_蓄积十六进制.gpkg")


@case(
    "volume_thousands_fullwidth",
    "attributes",
    "ok",
    "",
    "小班蓄积 = 1,000 / １０００ / １，０００ (thousands separator, full-width "
    "digits) and 面积(亩) in full-width digits: unambiguous, read as the plain "
    "numbers (1000 m³, the area) and stored.",
    stored={"key": "500101/WZ-2013-002", "stock_volume_m3": 1000},
)
def _volume_thousands(folder):
    gdf = base_frame()
    full = str.maketrans("0123456789.,", "０１２３４５６７８９．，")
    gdf["小班蓄积"] = ["1,000", "１０００", "１，０００"]
    gdf = _text_column(
        gdf, "面积(亩)", {1: str(gdf.loc[1, "面积(亩)"]).translate(full)}
    )
    return write_gpkg(gdf, folder / "万州_蓄积千分位.gpkg")


# ---- hostile names and values -------------------------------------------------


@case(
    "sql_in_column_name",
    "hostile",
    "ok",
    "",
    "a column named like an SQL injection: kept as an extra attribute, the "
    "store and its batches table intact.",
    stored={
        "key": "500101/WZ-2013-001",
        "attrs_key": SQL_COLUMN,
        "attrs_value": "x'); DELETE FROM project_versions;--",
    },
)
def _sql_column(folder):
    gdf = base_frame()
    gdf.insert(5, SQL_COLUMN, "x'); DELETE FROM project_versions;--")
    return write_gpkg(gdf, folder / "万州_sql.gpkg")


@case(
    "html_in_values",
    "hostile",
    "ok",
    "",
    "HTML/JS in 小班号 and 树种: stored as plain text, byte for byte.",
    stored={
        "key": f"500101/{HTML}",
        "project_id": HTML,
        "species": SCRIPT,
    },
)
def _html(folder):
    gdf = base_frame()
    gdf.loc[0, "小班号"] = HTML
    gdf["树种"] = [SCRIPT, "马尾松", "杉木"]
    return write_geojson(gdf, folder / "万州_html.geojson")


@case(
    "gbk_without_cpg",
    "hostile",
    "ok",
    "GB18030",
    "control: GBK Shapefile without .cpg is detected and accepted.",
    stored={"key": "500101/WZ-2013-003", "project_type": "afforestation"},
)
def _gbk_nocpg(folder):
    gdf = base_frame()
    gdf["树种"] = ["马尾松", "杉木", "柏木"]
    return write_shp(gdf, folder / "万州_无cpg.shp", cpg=None)


# ---- numbers that feed figures (issue #16) -----------------------------------


def _with_volume(volumes) -> gpd.GeoDataFrame:
    gdf = base_frame(n=len(volumes))
    gdf["蓄积"] = list(volumes)
    return gdf


@case(
    "volume_negative",
    "numbers",
    "volume_impossible",
    "impossible",
    "a stock volume of -5,000,000 m³: refused, not summed into any figure.",
)
def _volume_negative(folder):
    return write_gpkg(_with_volume([10.0, -5e6, 10.0]), folder / "万州_负蓄积.gpkg")


@case(
    "volume_huge",
    "numbers",
    "volume_impossible",
    "5,000 m³/ha",
    "a stock volume of 1e15 m³ on 60 mu: impossible per hectare, refused.",
)
def _volume_huge(folder):
    return write_gpkg(_with_volume([10.0, 1e15, 10.0]), folder / "万州_巨蓄积.gpkg")


@case(
    "volume_infinite",
    "numbers",
    "volume_impossible",
    "inf",
    "an infinite stock volume (GeoPackage REAL inf): refused.",
)
def _volume_inf(folder):
    return write_gpkg(
        _with_volume([10.0, float("inf"), 10.0]), folder / "万州_无穷蓄积.gpkg"
    )


@case(
    "area_negative",
    "numbers",
    "area_impossible",
    "impossible",
    "a reported area of -60 mu: refused (a size cannot be negative).",
)
def _area_negative(folder):
    gdf = base_frame()
    gdf.loc[1, "面积(亩)"] = -60.0
    return write_gpkg(gdf, folder / "万州_负面积.gpkg")


@case(
    "year_exponent",
    "numbers",
    "year_missing",
    "2.013e3",
    "year written '2.013e3': Python's float reads 2013, no one writes a year so.",
)
def _year_exponent(folder):
    gdf = base_frame()
    gdf["年度"] = ["2013", "2.013e3", "2013"]
    return write_gpkg(gdf, folder / "万州_年度指数.gpkg")


@case(
    "year_underscore",
    "numbers",
    "year_missing",
    "2_013",
    "year written '2_013' (float('2_013') == 2013.0): not a year.",
)
def _year_underscore(folder):
    gdf = base_frame()
    gdf["年度"] = ["2013", "2_013", "2013"]
    return write_gpkg(gdf, folder / "万州_年度下划线.gpkg")


@case(
    "year_not_a_date",
    "numbers",
    "year_missing",
    "20139999",
    "year written 20139999: eight digits that are no date, not the year 2013.",
)
def _year_not_a_date(folder):
    gdf = base_frame()
    gdf["年度"] = [2013, 20139999, 2013]
    return write_gpkg(gdf, folder / "万州_年度非日期.gpkg")


@case(
    "infinite_coordinate_fix",
    "geometry",
    "nan_coordinates",
    "infinite",
    "an infinite x coordinate in a Shapefile, ingested with --fix: an error "
    "for the feature, not a GEOS exception.",
    options={"fix": True},
)
def _infinite_coordinate(folder):
    shp = write_shp(base_frame(), folder / "万州_无穷坐标.shp")
    data = bytearray(shp.read_bytes())
    # first record: file header 100, record header 8, shape type 4, box 32,
    # part and point counts 4 + 4, one part index 4; then x, y of each point
    first_point = 100 + 8 + 4 + 32 + 4 + 4 + 4
    data[first_point + 16 : first_point + 24] = struct.pack("<d", float("inf"))
    shp.write_bytes(bytes(data))
    return shp


@case(
    "hole_outside_shell_fix",
    "geometry",
    "invalid_geometry",
    "Hole lies outside shell",
    "a hole that lies outside its polygon, ingested with --fix: make_valid would "
    "add it as an island (more area); it is an error instead.",
    options={"fix": True},
)
def _hole_outside(folder):
    geoms = boxes(n=3)
    x, y = WANZHOU
    hole = box(x + 0.0005, y + 0.0025, x + 0.0015, y + 0.0035)  # above box 0
    geoms[0] = Polygon(geoms[0].exterior.coords, [hole.exterior.coords])
    return write_gpkg(base_frame(geoms=geoms), folder / "万州_洞在外.gpkg")


# ---- issue 16: hostile and broken input on the ingest path ------------------


def _shp_parts_from(frame_a, frame_b, folder: Path, name: str, part: str) -> Path:
    """A Shapefile from *frame_a* whose *part* (".dbf"/".shx") is *frame_b*'s."""
    shp = write_shp(frame_a, folder / f"{name}.shp")
    tmp = folder / "_src"
    tmp.mkdir()
    other = write_shp(frame_b, tmp / "other.shp")
    shp.with_suffix(part).write_bytes(other.with_suffix(part).read_bytes())
    shutil.rmtree(tmp)
    return shp


@case(
    "shp_more_shapes_than_dbf_records",
    "parts",
    "unreadable_file",
    "the .shp holds 4 shapes but the .dbf 2 records",
    "a .shp (and .shx) of 4 shapes with the .dbf of another export holding 2 "
    "records: GDAL reads 2 polygons and drops 2 silently; refused with both "
    "counts (issue 16 item 2).",
)
def _shp_more_shapes(folder):
    return _shp_parts_from(
        base_frame(n=4), base_frame(n=2), folder, "万州_dbf少", ".dbf"
    )


@case(
    "shp_fewer_shapes_than_dbf_records",
    "parts",
    "unreadable_file",
    "the .shp holds 2 shapes but the .dbf 4 records",
    "a .shp of 2 shapes with a .dbf of 4 records (the reverse): refused.",
)
def _shp_fewer_shapes(folder):
    return _shp_parts_from(
        base_frame(n=2), base_frame(n=4), folder, "万州_dbf多", ".dbf"
    )


@case(
    "shx_truncated",
    "parts",
    "unreadable_file",
    "the .shx indexes 2",
    "the .shx is cut after its second entry, the .shp holds 4 shapes: GDAL "
    "reads 2; refused with the counts.",
)
def _shx_truncated(folder):
    shp = write_shp(base_frame(n=4), folder / "万州_shx截断.shp")
    shx = shp.with_suffix(".shx")
    shx.write_bytes(shx.read_bytes()[: 100 + 2 * 8])
    return shp


@case(
    "dbf_header_count_past_end",
    "parts",
    "unreadable_file",
    "the .dbf header says 1000 records",
    "the .dbf header claims 1000 records but the file holds 3: refused as "
    "truncated, with the numbers.",
)
def _dbf_count_past_end(folder):
    shp = write_shp(base_frame(), folder / "万州_dbf记录数.shp")
    dbf = shp.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[4:8] = struct.pack("<I", 1000)
    dbf.write_bytes(bytes(data))
    return shp


@case(
    "shp_record_past_end",
    "parts",
    "unreadable_file",
    "runs past the end",
    "the last .shp record's header claims a length that runs past the end of "
    "the file (the .shx is intact): refused, not read as garbage.",
)
def _shp_record_past_end(folder):
    shp = write_shp(base_frame(), folder / "万州_记录越界.shp")
    data = bytearray(shp.read_bytes())
    shx = shp.with_suffix(".shx").read_bytes()
    offset, _ = struct.unpack(">ii", shx[-8:])
    data[2 * offset + 4 : 2 * offset + 8] = struct.pack(">i", 1_000_000)
    shp.write_bytes(bytes(data))
    return shp


@case(
    "prj_huge",
    "parts",
    "unreadable_file",
    ".prj is 262144 bytes",
    "a .prj of 256 KiB (a real one is under 2 KB): refused before GDAL parses "
    "it, naming the size.",
)
def _prj_huge(folder):
    shp = write_shp(base_frame(), folder / "万州_prj过大.shp")
    shp.with_suffix(".prj").write_bytes(b"GEOGCS[" * 37449 + b"]")
    return shp


def _cpg_case(name: str) -> None:
    @case(
        f"cpg_codec_{name}",
        "encoding",
        "unreadable_file",
        f".cpg says {name!r}",
        f"the .cpg names {name!r}, a codec that is not a text encoding: a "
        "per-file error naming the .cpg, not a traceback (issue 16 item 10).",
    )
    def _build(folder):
        return write_shp(base_frame(), folder / f"万州_cpg_{name}.shp", cpg=name)


for _codec in ("zlib", "base64", "hex", "rot13", "uu", "bz2", "idna", "punycode"):
    _cpg_case(_codec)


@case(
    "zip_bomb_ratio",
    "archive",
    "unreadable_file",
    "compression ratio",
    "a ~250 KB zip whose .dbf member inflates to 256 MiB of zeros: refused from "
    "the zip's directory before anything is extracted (issue 16 item 5).",
)
def _zip_bomb(folder):
    tmp = folder / "_src"
    tmp.mkdir()
    shp = write_shp(base_frame(), tmp / "万州.shp")
    members = shapefile_parts(shp)
    members["万州.dbf"] = bytes(256 << 20)
    shutil.rmtree(tmp)
    return write_zip(folder / "万州_zip炸弹.zip", members)


@case(
    "zip_too_large",
    "archive",
    "unreadable_file",
    "(max_unzipped)",  # the parameter; the CLI's flag is --max-unzipped
    "a zip whose layer files add up to more than max_unzipped (set to 256 "
    "KiB here; the default is 2 GiB): refused before extracting.",
    options={"max_unzipped": 1 << 18},
)
def _zip_too_large(folder):
    tmp = folder / "_src"
    tmp.mkdir()
    shp = write_shp(base_frame(), tmp / "万州.shp")
    members = shapefile_parts(shp)
    rng = np.random.default_rng(16)
    members["万州.dbf"] = members["万州.dbf"] + rng.bytes(300_000)
    shutil.rmtree(tmp)
    return write_zip(folder / "万州_过大.zip", members)


@case(
    "zip_lying_size",
    "archive",
    "unreadable_file",
    "damaged",
    "a zip whose directory says a member is 1,000 bytes while its data "
    "inflates to 4 MiB: the streamed byte count stops at the stated size and "
    "the member is refused as damaged.",
)
def _zip_lying(folder):
    path = write_zip(folder / "万州_大小不实.zip", {"万州.geojson": bytes(4 << 20)})
    data = bytearray(path.read_bytes())
    # the local header's and the central directory's uncompressed size
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = data.index(sig)
        data[start + at : start + at + 4] = struct.pack("<I", 1000)
    path.write_bytes(bytes(data))
    return path


@case(
    "zip_many_members",
    "archive",
    "unreadable_file",
    "2001 members",
    "a zip of one Shapefile plus 1,997 empty files: more members than any "
    "delivery needs (limit 1,000); refused before extracting.",
)
def _zip_many(folder):
    tmp = folder / "_src"
    tmp.mkdir()
    shp = write_shp(base_frame(), tmp / "万州.shp")
    members = shapefile_parts(shp)
    members.update({f"空/{k:04d}.txt": b"" for k in range(2001 - len(members))})
    shutil.rmtree(tmp)
    return write_zip(folder / "万州_成员过多.zip", members)


@case(
    "zip_duplicate_member",
    "archive",
    "unreadable_file",
    "'万州.dbf' twice",
    "a zip holding two members named 万州.dbf (the second of another export): "
    "which one is meant? Refused naming the member (issue 16 item 5).",
)
def _zip_duplicate(folder):
    tmp = folder / "_src"
    tmp.mkdir()
    shp = write_shp(base_frame(), tmp / "万州.shp")
    members = list(shapefile_parts(shp).items())
    other = write_shp(base_frame(FULING, district="涪陵区", prefix="FL"), tmp / "b.shp")
    members.append(("万州.dbf", other.with_suffix(".dbf").read_bytes()))
    shutil.rmtree(tmp)
    path = folder / "万州_重名.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name"
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3
                info.external_attr = 0o100644 << 16
                zf.writestr(info, data, compresslevel=6)
    return path


@case(
    "zip_in_zip",
    "archive",
    "unreadable_file",
    "inner zip",
    "a zip whose only member is another zip holding the Shapefile: not "
    "unpacked recursively (a bomb can nest); refused with the inner name.",
)
def _zip_in_zip(folder):
    tmp = folder / "_src"
    tmp.mkdir()
    shp = write_shp(base_frame(), tmp / "万州.shp")
    inner = write_zip(tmp / "内层.zip", shapefile_parts(shp))
    data = inner.read_bytes()
    shutil.rmtree(tmp)
    return write_zip(folder / "万州_嵌套.zip", {"内层.zip": data})


@case(
    "zip_symlink_member",
    "archive",
    "unreadable_file",
    "symbolic link",
    "a zip whose 万州.prj member is a symbolic link to /etc/passwd: refused, "
    "never followed or written as a file.",
)
def _zip_symlink(folder):
    tmp = folder / "_src"
    tmp.mkdir()
    shp = write_shp(base_frame(), tmp / "万州.shp")
    members = shapefile_parts(shp)
    members.pop("万州.prj")
    shutil.rmtree(tmp)
    path = write_zip(folder / "万州_符号链接.zip", members)
    with zipfile.ZipFile(path, "a") as zf:
        info = zipfile.ZipInfo("万州.prj", date_time=ZIP_DATE_TIME)
        info.create_system = 3
        info.external_attr = 0o120777 << 16
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            zf.writestr(info, b"/etc/passwd")
    return path


@case(
    "too_many_columns",
    "format",
    "unreadable_file",
    "1005 columns",
    "a GeoPackage with 1,000 extra columns: more than any delivery (limit "
    "500); refused naming the count.",
)
def _many_columns(folder):
    gdf = base_frame()
    extra = {f"c{k:04d}": [k] * len(gdf) for k in range(1000)}
    gdf = gpd.GeoDataFrame(
        {**{c: gdf[c] for c in gdf.columns if c != "geometry"}, **extra},
        geometry=gdf.geometry.values,
        crs=gdf.crs,
    )
    return write_gpkg(gdf, folder / "万州_千列.gpkg")


@case(
    "field_value_huge",
    "attributes",
    "unreadable_file",
    "262145 characters",
    "one species cell of 256 Ki characters (limit 64 Ki): refused naming the "
    "row and column, not stored in every history row.",
)
def _value_huge(folder):
    gdf = base_frame()
    gdf["树种"] = ["杉木", "x" * 262145, "杉木"]
    return write_gpkg(gdf, folder / "万州_超长值.gpkg")


def _type_case(name: str, word: str, what: str) -> None:
    @case(
        f"project_type_{name}",
        "attributes",
        "unknown_project_type",
        word.replace("\x01", "\\x01") if "\x01" in word else word,
        f"工程类别 = {word!r}: {what}; not counted as work (issue 16 item 7).",
    )
    def _build(folder):
        gdf = base_frame()
        gdf.loc[1, "工程类别"] = word
        return write_gpkg(gdf, folder / f"万州_类别_{name}.gpkg")


_type_case("negated", "非人工造林", "a negation of afforestation")
_type_case("not_done", "人工造林(未实施)", "afforestation not carried out")
_type_case("failed", "退耕还林失败", "grain-to-green that failed")
_type_case("control_char", "人工\x01造林", "a control character inside the word")
_type_case("cancelled", "长防林三期低效林改造取消", "a renovation, cancelled")


# ---------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------


def make_bad_inputs(out_dir) -> list[dict]:
    """Write every case under *out_dir* and return the manifest entries.

    Parameters
    ----------
    out_dir : str or Path
        Output folder (created; an existing case folder is replaced).

    Returns
    -------
    list of dict
        One entry per case (see the module docstring); ``path`` is relative
        to *out_dir*. Also written to ``out_dir/manifest.json``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = []
    for c in CASES:
        folder = out_dir / c.name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        with warnings.catch_warnings():
            # NaN coordinates are the point of one case
            warnings.simplefilter("ignore", RuntimeWarning)
            path = c.build(folder)
        manifest.append(
            {
                "name": c.name,
                "path": path.relative_to(out_dir).as_posix(),
                "expect_code": c.expect_code,
                "expect_in_message": c.expect_in_message,
                "note": c.note,
                "family": c.family,
                "options": dict(c.options),
                "stored": dict(c.stored),
            }
        )
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest


def _check_base_points() -> None:
    """Fail loudly if the base boxes are not inside their districts."""
    from forestsink.reference import read_districts

    districts = read_districts().set_index("adcode")
    for (x, y), code in ((WANZHOU, "500101"), (FULING, "500102")):
        hull = shapely.box(x, y, x + 3 * STEP_DEG, y + BOX_DEG)
        if not districts.geometry[code].contains(hull):
            raise AssertionError(f"base boxes at {x}, {y} are not inside {code}")
    chengdu = Point(CHENGDU)
    if districts.geometry.intersects(chengdu).any():
        raise AssertionError("the Chengdu point lies inside Chongqing")
    # the wrong-zone case must really land outside the city
    to_gk = Transformer.from_crs(4490, 4546, always_xy=True)
    from_wrong = Transformer.from_crs(4544, 4490, always_xy=True)
    lon, _ = from_wrong.transform(*to_gk.transform(*WANZHOU))
    if lon > 105.0:
        raise AssertionError(f"wrong-zone coordinates land at {lon} °E")


def main(argv=None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args(argv)
    _check_base_points()
    manifest = make_bad_inputs(args.out)
    width = max(len(e["name"]) for e in manifest)
    for entry in manifest:
        print(f"{entry['name']:<{width}}  {entry['expect_code']:<22} {entry['path']}")
    print(f"{len(manifest)} cases; manifest: {Path(args.out) / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
