"""Read a layer file into EPSG:4490, checking its text: encoding, mojibake, CRS.

Shared by project deliveries (:mod:`forestsink.ingest.read`) and
forest-resource layers (:mod:`forestsink.ingest.inventory`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from geopandas.array import from_shapely

from forestsink.errors import CRSError, DeliveryError
from forestsink.ingest.crs import STORE_CRS, file_crs, infer_crs, normalise_crs
from forestsink.ingest.encoding import (
    check_codec,
    detect_dbf_encoding,
    looks_like_mojibake,
)
from forestsink.ingest.raw import (
    RawTable,
    choose_layer,
    read_raw,
    text_uniques,
    transcode,
)
from forestsink.ingest.shapefile import (
    SHAPEFILE_AGAIN,
    check_parts_present,
    check_sidecars,
    dbf_sample,
    read_cpg,
    shapefile_counts,
    shapefile_parts,
)


@dataclass
class LayerRead:
    """A layer file read and checked, before its columns are interpreted.

    Attributes
    ----------
    raw : RawTable
        Attribute columns decoded with *encoding* (names as in the file).
    geoms : geopandas.array.GeometryArray
        2D geometries in EPSG:4490.
    layer, encoding, crs : str or None
        What was read and used, with *notes* saying why.
    """

    raw: RawTable
    geoms: object
    layer: str | None
    encoding: str | None
    crs: str
    notes: list[str]


def read_layer(
    path: Path, *, layer, crs, encoding, display: str, rows=None
) -> LayerRead:
    """Read a layer file's table and geometry into EPSG:4490, checking the text.

    Shared by project deliveries and forest-resource layers: the text
    encoding (``.cpg``, DBF language driver, detection), names cut inside a
    character, mojibake and destroyed text refused, the CRS (the file's,
    ``--crs``, or inferred), Z/M dropped.

    Raises
    ------
    DeliveryError, CRSError
        Naming *display*, the row and column, and what to do.
    """
    notes: list[str] = []
    suffix = path.suffix.lower()
    if suffix == ".shp":
        parts = shapefile_parts(path)
        check_parts_present(parts, display)
        check_sidecars(parts, display)
        expected = shapefile_counts(parts, display)
        encoding = _shapefile_encoding(parts, encoding, display, notes)
    layer = choose_layer(path, layer, display)
    if suffix == ".shp":
        raw = _read_shapefile(path, layer, encoding, display, rows, expected)
    else:
        raw = read_raw(path, layer=layer, encoding=None, display=display, rows=rows)
    _check_text(raw, encoding, display, rows[0] if rows else 0)
    _set_crs(raw, crs, path, display, notes)
    crs_text = raw.crs.to_string()
    geoms = _to_store_crs(raw, crs_text, display, notes)
    return LayerRead(
        raw=raw, geoms=geoms, layer=layer, encoding=encoding, crs=crs_text, notes=notes
    )


def _shapefile_encoding(
    parts: dict[str, Path], encoding: str | None, display: str, notes: list[str]
) -> str:
    """Return the code page of a Shapefile's text: given, or detected (noted)."""
    if encoding is None:
        cpg = read_cpg(parts[".cpg"]) if ".cpg" in parts else None
        try:
            encoding, reason = detect_dbf_encoding(dbf_sample(parts[".dbf"]), cpg)
        except DeliveryError as err:
            where = parts[".cpg"].name if ".cpg" in parts else ".dbf"
            raise DeliveryError(
                f"{display} ({where}): {err}", option=err.options
            ) from err
        notes.append(f"text encoding {encoding}: {reason}")
    else:
        encoding = check_codec(encoding, source=f"{display}: encoding")
        notes.append(f"text encoding {encoding}: given as encoding")
    return encoding


def _read_shapefile(
    path: Path, layer, encoding: str, display: str, rows, expected: int
) -> RawTable:
    """Read a Shapefile's bytes, decode them with *encoding*; check the count."""
    # read bytes transparently, then decode with the chosen codec here:
    # GDAL/pyogrio cannot decode a name cut inside a multi-byte character
    raw = read_raw(path, layer=layer, encoding="ISO-8859-1", display=display, rows=rows)
    raw = transcode(raw, encoding, display)
    first_row, count = rows if rows else (0, expected)
    gdal = min(count, max(expected - first_row, 0))
    if len(raw) != gdal:  # (the parts agree; GDAL must read them all)
        raise DeliveryError(
            f"{display}: GDAL 读出 {len(raw)} 个要素，应为 {gdal} / GDAL read "
            f"{len(raw)} features where the .shp, .shx and .dbf hold {gdal}; "
            f"{SHAPEFILE_AGAIN}."
        )
    return raw


def _check_text(raw: RawTable, encoding: str | None, display: str, first: int) -> None:
    """Refuse destroyed text, then mojibake, before anything reaches the store.

    *first* is the position in the file of the table's first row (rows are
    named counting from 1).
    """
    destroyed: dict[str, list[int]] = {}
    wrong = None  # the first wrongly decoded name or value
    for column, values in raw.columns.items():
        if wrong is None and looks_like_mojibake(column):
            wrong = (
                f"{display}: 列名 {column!r} 解码错误 / column name {column!r} looks "
                f"wrongly decoded (with {encoding}); add a .cpg with the right "
                'code page or pass encoding="GBK" / "UTF-8".'
            )
        codes, uniques = text_uniques(values)
        gone = [k for k, v in enumerate(uniques) if any(m in v for m in DESTROYED)]
        if gone:
            hit = np.flatnonzero(np.isin(codes, gone))
            destroyed[column] = (hit + first + 1).tolist()
            continue
        for k, value in enumerate(uniques):  # in order of first appearance
            if wrong is None and looks_like_mojibake(value):
                i = int(np.flatnonzero(codes == k)[0]) + first + 1
                wrong = (
                    f"{display}: 第{i}行 row {i}, column {column!r}: value "
                    f"{value!r} 解码错误 / looks wrongly decoded (with "
                    f"{encoding}); add a .cpg with the right code page or pass "
                    'encoding="GBK" / "UTF-8".'
                )
    if destroyed:
        raise DeliveryError(_destroyed_message(display, destroyed))
    if wrong is not None:
        raise DeliveryError(wrong, option="encoding")


def _set_crs(raw: RawTable, crs, path: Path, display: str, notes: list[str]) -> None:
    """Set ``raw.crs``: *crs* if given, else the file's, else inferred (noted)."""
    if crs is not None:
        target = normalise_crs(crs, source=display)
        if raw.crs is not None and not raw.crs.equals(target):
            notes.append(
                f"CRS {target.to_string()} given as crs overrides the "
                f"file's {raw.crs.to_string()}"
            )
        else:
            notes.append(f"CRS {target.to_string()} given as crs")
        raw.crs = target
    elif raw.crs is None:
        geoms = raw.geoms
        if shapely.is_missing(geoms).all() or shapely.is_empty(geoms).all():
            raise CRSError(
                f"{display}: 没有 .prj，也无几何可推断坐标系 / "
                "no .prj and no geometry to "
                "infer a CRS from; give it as crs.",
                option="crs",
            )
        inferred, reason = infer_crs(tuple(shapely.total_bounds(geoms)), source=display)
        if path.suffix.lower() == ".shp" and path.with_suffix(".prj").exists():
            reason = reason.replace("no .prj", "the .prj could not be understood")
        notes.append(reason)
        raw.crs = file_crs(inferred)


def _to_store_crs(raw: RawTable, crs_text: str, display: str, notes: list[str]):
    """Return the geometries in 2D (Z and M dropped, noted) and EPSG:4490."""
    geoms = raw.geoms
    has_z = shapely.has_z(geoms).any()
    has_m = hasattr(shapely, "has_m") and shapely.has_m(geoms).any()
    if has_z or has_m:
        what = " and ".join(w for w, f in (("Z (height)", has_z), ("M", has_m)) if f)
        notes.append(f"{what} values dropped: areas are 2D")
        geoms = shapely.force_2d(geoms)
    try:
        return from_shapely(geoms, crs=raw.crs).to_crs(file_crs(STORE_CRS))
    except Exception as err:  # pyproj errors surface as several types
        raise CRSError(
            f"{display}: cannot transform from {crs_text} to "
            f"{STORE_CRS} ({err}); check crs.",
            option="crs",
        ) from err


#: what text destroyed before delivery looks like: U+FFFD (a decoder's
#: replacement character, stored as such) and its bytes EF BF BD read as GBK
DESTROYED = ("\ufffd", "锟斤拷")


def _destroyed_message(display: str, found: dict[str, list[int]]) -> str:
    """Say that text was destroyed before delivery, naming columns and rows.

    A program that decoded GBK as UTF-8 and saved the result stored U+FFFD
    (bytes ``EF BF BD``, "锟斤拷" when read as GBK) in place of each
    character it could not read: the original characters are gone, and no
    ``.cpg`` or ``--encoding`` brings them back.
    """
    parts = []
    for column, hit in found.items():
        shown = ", ".join(map(str, hit[:20])) + (" …" if len(hit) > 20 else "")
        parts.append(f"column {column!r}: {len(hit)} row(s) ({shown})")
    return (
        f"{display}: 文本在交付前已被破坏，无法恢复 / text was destroyed before "
        f"delivery: {'; '.join(parts)} hold U+FFFD replacement characters "
        "('锟斤拷' when read as GBK) stored in the file itself. The original "
        "characters are gone: a .cpg or the encoding cannot bring them back. Ask "
        "the sender to export these rows again from the original data (the "
        "program that wrote this file read GBK as UTF-8)."
    )
