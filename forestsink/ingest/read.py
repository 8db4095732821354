"""Read one delivered file into the canonical schema (the one pyogrio caller).

``read_delivery`` raises :class:`~forestsink.errors.DeliveryError` or
:class:`~forestsink.errors.CRSError` for problems with the *file* (cannot be
opened, required column missing, CRS unknown, text encoding wrong). Problems
with *features* (unknown type, broken geometry, bad year ...) are left in the
frame for :func:`forestsink.validate.validate_delivery` to report, so that one
report covers the whole delivery: an area or volume cell that is not a number
(``254.6亩``, ``0x10``) is empty in the frame and named, with its column as
delivered, in the ``unread_numbers`` column (JSON, only where a row has one).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import struct
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from forestsink.errors import CRSError, DeliveryError, UnknownNameError
from forestsink.ingest.columns import map_columns
from forestsink.ingest.crs import STORE_CRS, file_crs, infer_crs, normalise_crs
from forestsink.ingest.encoding import detect_dbf_encoding, looks_like_mojibake
from forestsink.ingest.values import (
    AREA_FACTORS_TO_MU,
    as_text,
    clean_ids,
    infer_area_unit,
    map_programmes,
    map_project_types,
    map_uniques,
    parse_years,
)
from forestsink.ingest.vocabulary import read_vocabulary

SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".zip")

#: canonical columns of a read delivery, in order (geometry last)
FRAME_COLUMNS = (
    "source_file",
    "source_row",
    "project_id",
    "district_raw",
    "adcode",
    "year",
    "year_raw",
    "project_type_raw",
    "project_type",
    "programme",
    "area_reported_mu",
    "species",
    "stock_volume_m3",
    "attrs",
)


@dataclass
class Delivery:
    """One delivered file, read and mapped to the canonical schema.

    Attributes
    ----------
    path : Path
        The file as given (a .zip stays the .zip).
    sha256 : str
        Hash of the file's bytes (all sidecars of a Shapefile, in name order).
    frame : geopandas.GeoDataFrame
        Canonical columns (``FRAME_COLUMNS``) and geometry in EPSG:4490.
    encoding, crs : str
        What was used, with ``notes`` saying why.
    """

    path: Path
    sha256: str
    frame: object
    layer: str | None = None
    encoding: str | None = None
    crs: str = STORE_CRS
    columns: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """File name shown in messages."""
        return self.path.name


def find_delivery_files(paths) -> list[Path]:
    """Expand files and folders into the list of deliverable files, sorted."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if f.suffix.lower() in SUFFIXES and f.is_file()
                )
            )
        elif p.exists():
            found.append(p)
        else:
            raise DeliveryError(f"{p}: 文件或文件夹不存在 / no such file or folder.")
    if not found:
        raise DeliveryError(
            "未找到上报文件 / "
            f"no .shp/.gpkg/.geojson/.zip files found in {[str(p) for p in paths]}."
        )
    return found


def _shapefile_parts(shp: Path) -> dict[str, Path]:
    parts = {}
    for sibling in shp.parent.glob(shp.stem + ".*"):
        if sibling.stem == shp.stem:
            parts[sibling.suffix.lower()] = sibling
    return parts


def file_sha256(path: Path) -> str:
    """SHA-256 of a delivery: the file, or all parts of a Shapefile."""
    digest = hashlib.sha256()

    def feed(file: Path) -> None:
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)

    if path.suffix.lower() == ".shp":
        for _, part in sorted(_shapefile_parts(path).items()):
            digest.update(part.suffix.lower().encode())
            feed(part)
    else:
        feed(path)
    return digest.hexdigest()


DBF_SAMPLE_BYTES = 32 << 20

#: sidecar files of a Shapefile are a few bytes (.cpg) or a few KB (.prj);
#: anything this large is not one, and GDAL would parse all of it
MAX_SIDECAR_BYTES = 64 << 10


def _check_sidecars(parts: dict[str, Path], display: str) -> None:
    """Refuse a .prj or .cpg far larger than any real one (before GDAL reads it)."""
    for suffix in (".prj", ".cpg"):
        if suffix in parts:
            size = parts[suffix].stat().st_size
            if size > MAX_SIDECAR_BYTES:
                raise DeliveryError(
                    f"{display}: {suffix} 文件过大 / the {suffix} is {size} bytes "
                    f"({parts[suffix].name}; a real one is under 2 KB, the limit "
                    f"is {MAX_SIDECAR_BYTES}): it is not a {suffix}. Export the "
                    "Shapefile again."
                )


def _read_cpg(cpg: Path) -> str:
    """Return the text of a .cpg (ASCII; other bytes shown as escapes)."""
    return cpg.read_bytes()[:MAX_SIDECAR_BYTES].decode("ascii", "backslashreplace")


def _dbf_sample(dbf: Path) -> bytes:
    """Header and whole records from the start of a .dbf (at most ~32 MB)."""
    with dbf.open("rb") as f:
        head = f.read(32)
        if len(head) < 32:
            return head
        header_len = int.from_bytes(head[8:10], "little")
        record_len = max(int.from_bytes(head[10:12], "little"), 1)
        n = max((DBF_SAMPLE_BYTES - header_len) // record_len, 1)
        return head + f.read(header_len - 32 + n * record_len)


#: fewer bytes than any stored feature takes (a GeoPackage row with empty
#: values and no geometry still takes several; GeoJSON text dozens)
MIN_FEATURE_BYTES = 4


def may_hold_more_than(path, n: int) -> bool:
    """Tell whether *path* is big enough to hold more than *n* features.

    Decided from the file size alone (a Shapefile by its .shx count, which
    costs no more): most county files are far below any chunk size, and
    counting a GeoPackage's or GeoJSON's features opens it with GDAL once
    more (a few milliseconds each).
    """
    path = Path(path)
    if path.suffix.lower() == ".shp":
        return True
    try:
        return path.stat().st_size > n * MIN_FEATURE_BYTES
    except OSError:
        return True  # the read reports it


def count_features(path, /, *, layer: str | None = None) -> int:
    """Return the number of features in a delivery file, without reading them.

    A Shapefile's count is its index's length (``.shx``: a 100-byte header,
    then 8 bytes per feature), without opening it through GDAL.
    """
    import pyogrio

    shapefile = Path(path).suffix.lower() == ".shp"
    shx = Path(path).with_suffix(".shx")
    if shapefile and shx.is_file():
        size = shx.stat().st_size
        if size >= 100 and (size - 100) % 8 == 0:
            return (size - 100) // 8
    # (a Shapefile's names may be in any code page: only the count is read)
    options = {"encoding": "latin-1"} if shapefile else {}
    try:
        return int(pyogrio.read_info(path, layer=layer, **options)["features"])
    except Exception as err:  # the full read reports it properly
        raise DeliveryError(f"{Path(path).name}: cannot be read ({err}).") from err


#: default limit of the bytes a zip's needed members may unpack to
#: (``--max-unzipped``): 2 GiB, ten times the largest county delivery seen
MAX_UNZIPPED_BYTES = 2 << 30
#: more members than any delivery has (a Shapefile is 3-8 files)
MAX_ZIP_MEMBERS = 1000
#: a member that unpacks to more than ZIP_RATIO_MIN_BYTES and more than
#: MAX_ZIP_RATIO times its packed size is a zip bomb: real layers pack 2-20:1
MAX_ZIP_RATIO = 200
ZIP_RATIO_MIN_BYTES = 4 << 20
#: the members a delivery needs: layer files and a Shapefile's sidecars
LAYER_MEMBER_SUFFIXES = (
    ".shp",
    ".shx",
    ".dbf",
    ".prj",
    ".cpg",
    ".gpkg",
    ".geojson",
    ".json",
)
_LAYER_SUFFIXES = (".shp", ".gpkg", ".geojson")
_S_IFMT, _S_IFLNK = 0o170000, 0o120000


def _zip_refused(zpath: Path, what: str) -> DeliveryError:
    return DeliveryError(f"{zpath.name}: {what}")


def _check_members(zpath: Path, infos: list) -> None:
    """Refuse a zip's directory: too many, unsafe, duplicate or linked members."""
    if len(infos) > MAX_ZIP_MEMBERS:
        raise _zip_refused(
            zpath,
            f"zip成员过多 / the zip holds {len(infos)} members (limit "
            f"{MAX_ZIP_MEMBERS}; a delivery is one layer of a few files). Zip "
            "only the layer's files.",
        )
    seen: set[str] = set()
    for info in infos:
        name = info.filename.replace("\\", "/")
        member = PurePosixPath(name)
        if member.is_absolute() or ".." in member.parts or ":" in info.filename:
            raise _zip_refused(
                zpath,
                f"不安全的zip / member {info.filename!r} would be written "
                "outside the extraction folder; refusing this zip. Ask the "
                "sender for a zip with plain relative paths.",
            )
        if (info.external_attr >> 16) & _S_IFMT == _S_IFLNK:
            raise _zip_refused(
                zpath,
                f"zip成员是符号链接 / member {info.filename!r} is a symbolic link "
                "(it would point outside the delivery); refusing this zip. Zip "
                "the files themselves.",
            )
        key = str(member).casefold()
        if key in seen and not info.is_dir():
            raise _zip_refused(
                zpath,
                f"zip成员重名 / the zip holds member {info.filename!r} twice: "
                "which one is meant cannot be told. Zip the layer again.",
            )
        seen.add(key)


def _needed_members(zpath: Path, infos: list) -> list:
    """Return the members of the zip's one layer (refusing none or several)."""
    files = [i for i in infos if not i.is_dir()]
    layers = [
        i for i in files if PurePosixPath(i.filename).suffix.lower() in _LAYER_SUFFIXES
    ]
    if not layers:
        inner = [i.filename for i in files if i.filename.lower().endswith(".zip")]
        if inner:
            raise _zip_refused(
                zpath,
                f"zip内还有zip / the zip holds an inner zip ({inner[0]!r}) and no "
                "layer; zips are not unpacked inside zips. Deliver the inner "
                "zip itself.",
            )
    if len(layers) != 1:
        raise _zip_refused(
            zpath,
            "zip内应只有一个图层 / expected exactly one .shp/.gpkg/.geojson "
            f"inside, found {[PurePosixPath(i.filename).name for i in layers]}. "
            "Deliver one layer per zip.",
        )
    layer = PurePosixPath(layers[0].filename.replace("\\", "/"))
    if layer.suffix.lower() != ".shp":
        return [layers[0]]
    return [
        i
        for i in files
        if (m := PurePosixPath(i.filename.replace("\\", "/"))).parent == layer.parent
        and m.stem == layer.stem
        and m.suffix.lower() in LAYER_MEMBER_SUFFIXES
    ]


def _check_sizes(zpath: Path, members: list, max_unzipped: int) -> None:
    """Refuse from the directory: too much unpacked, or a member packed too well."""
    total = sum(i.file_size for i in members)
    if total > max_unzipped:
        raise _zip_refused(
            zpath,
            f"解压后过大 / the layer's files unpack to {total} bytes, more than "
            f"the limit of {max_unzipped} (--max-unzipped); raise the limit if "
            "the delivery is really this large.",
        )
    for info in members:
        packed = max(info.compress_size, 1)
        if (
            info.file_size > ZIP_RATIO_MIN_BYTES
            and info.file_size > MAX_ZIP_RATIO * packed
        ):
            raise _zip_refused(
                zpath,
                f"疑似zip炸弹 / member {info.filename!r} unpacks to "
                f"{info.file_size} bytes from {info.compress_size}: a "
                f"compression ratio of {info.file_size // packed}:1 (limit "
                f"{MAX_ZIP_RATIO}:1) that no map layer has; refusing this zip.",
            )


def _safe_extract(
    zpath: Path, target: Path, *, max_unzipped: int = MAX_UNZIPPED_BYTES
) -> Path:
    """Extract the one layer of a zip into *target*; return its path.

    Before anything is written the zip's directory is checked: at most
    ``MAX_ZIP_MEMBERS`` members, none outside *target* (zip-slip), none a
    symbolic link, no name twice, exactly one layer (.shp/.gpkg/.geojson),
    and that layer's files (a Shapefile's sidecars beside it) unpacking to at
    most *max_unzipped* bytes with no member packed more than
    ``MAX_ZIP_RATIO``:1. Only those files are extracted, streamed with a
    running byte count, so a directory that understates a size cannot pass.

    Parameters
    ----------
    zpath : Path
        The zip.
    target : Path
        Empty folder to extract into.
    max_unzipped : int, optional (default: MAX_UNZIPPED_BYTES, 2 GiB)
        Limit of the bytes the layer's files may unpack to.

    Returns
    -------
    Path
        The extracted layer file.
    """
    archive = _open_zip(zpath)
    with archive:
        infos = archive.infolist()
        _check_members(zpath, infos)
        members = _needed_members(zpath, infos)
        _check_sizes(zpath, members, max_unzipped)
        return _extract_members(archive, zpath, members, target, max_unzipped)[0]


def _open_zip(zpath: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(zpath)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise _zip_refused(
            zpath, f"不是有效的zip / not a valid zip file ({err})."
        ) from err


def _extract_members(
    archive: zipfile.ZipFile, zpath: Path, members: list, target: Path, budget: int
) -> list[Path]:
    """Stream *members* into *target* with a running byte count; return layers."""
    layers = []
    for info in members:
        out = target / PurePosixPath(info.filename.replace("\\", "/"))
        out.parent.mkdir(parents=True, exist_ok=True)
        left = info.file_size
        try:
            with archive.open(info) as src, out.open("wb") as dst:
                while block := src.read(1 << 20):
                    left -= len(block)
                    budget -= len(block)
                    if left < 0 or budget < 0:
                        raise _zip_refused(
                            zpath,
                            f"zip已损坏 / member {info.filename!r} is damaged: "
                            "it unpacks to more bytes than the zip's "
                            "directory says; refusing this zip.",
                        )
                    dst.write(block)
        except DeliveryError:
            raise
        except (
            zipfile.BadZipFile,
            EOFError,
            NotImplementedError,
            RuntimeError,
            ValueError,
            zlib.error,
        ) as err:
            raise _zip_refused(
                zpath,
                f"zip已损坏 / member {info.filename!r} is damaged or "
                f"cannot be unpacked ({err}); ask for the zip again.",
            ) from err
        if PurePosixPath(info.filename).suffix.lower() in _LAYER_SUFFIXES:
            layers.append(out)
    return layers


def zip_layer_count(zpath: Path, /) -> int:
    """Return how many layers (.shp/.gpkg/.geojson) a zip holds (0 if unreadable)."""
    try:
        with zipfile.ZipFile(zpath) as archive:
            return sum(
                1
                for i in archive.infolist()
                if not i.is_dir()
                and PurePosixPath(i.filename).suffix.lower() in _LAYER_SUFFIXES
            )
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0


def extract_zip_layers(
    zpath: Path, target: Path, /, *, max_unzipped: int = MAX_UNZIPPED_BYTES
) -> list[Path]:
    """Extract every layer of a zip of several deliveries into *target*.

    The checks of :func:`_safe_extract` (member count, zip-slip, links,
    duplicates, unpacked size over all layers, compression ratio, a running
    byte count) on each layer's files (a Shapefile's sidecars beside it);
    other members are not extracted. Zips inside the zip are not unpacked.

    Returns
    -------
    list of Path
        The extracted layer files, in the zip's order.
    """
    archive = _open_zip(zpath)
    with archive:
        infos = archive.infolist()
        _check_members(zpath, infos)
        files = [i for i in infos if not i.is_dir()]
        wanted = []
        for info in files:
            layer = PurePosixPath(info.filename.replace("\\", "/"))
            if layer.suffix.lower() not in _LAYER_SUFFIXES:
                continue
            if layer.suffix.lower() != ".shp":
                wanted.append(info)
                continue
            wanted.extend(
                i
                for i in files
                if (m := PurePosixPath(i.filename.replace("\\", "/"))).parent
                == layer.parent
                and m.stem == layer.stem
                and m.suffix.lower() in LAYER_MEMBER_SUFFIXES
            )
        if not wanted:
            raise _zip_refused(
                zpath, "zip内没有图层 / no .shp/.gpkg/.geojson inside the zip."
            )
        _check_sizes(zpath, wanted, max_unzipped)
        return _extract_members(archive, zpath, wanted, target, max_unzipped)


def _choose_layer(path: Path, layer: str | None, display: str) -> str | None:
    import pyogrio

    if path.suffix.lower() != ".gpkg":
        return layer
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        listed = pyogrio.list_layers(path)
    except (DataSourceError, DataLayerError, OSError) as err:
        raise DeliveryError(
            f"{display}: 无法读取 / "
            f"cannot be read as a GeoPackage ({err}); ask the county "
            "to export it again."
        ) from err
    layers = [name for name, geom in listed if geom]
    if layer is not None:
        if layer not in layers:
            raise DeliveryError(
                f"{display}: 无此图层 / "
                f"no layer {layer!r}; layers with geometry: {layers}."
            )
        return layer
    if len(layers) != 1:
        raise DeliveryError(
            f"{display}: 多个图层 / "
            f"{len(layers)} layers with geometry ({layers}); choose "
            "one with --layer."
        )
    return layers[0]


@dataclass
class RawTable:
    """A file's features as read, before mapping to the canonical schema.

    Plain arrays, not a data frame: a county's file holds a few dozen
    features, and each pandas step on a column costs about a millisecond
    whatever its length (a dozen per file were most of the reading time).

    Attributes
    ----------
    columns : dict
        Column name -> numpy array, in file order: text as an object array of
        ``str`` (``None`` where missing); numbers as numeric arrays (``NaN``
        where missing; whole numbers with gaps become floats, as in pandas);
        dates and anything else as objects.
    geoms : numpy.ndarray
        Shapely geometries (``None`` where missing), in ``crs``.
    crs : pyproj.CRS or None
    fids : numpy.ndarray or None
        Feature ids of a GeoPackage (what QGIS shows as ``fid``); None for
        formats without one.
    """

    columns: dict[str, np.ndarray]
    geoms: np.ndarray
    crs: object = None
    fids: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.geoms)


def _read_raw(path: Path, *, layer, encoding, display: str, rows=None) -> RawTable:
    import pyogrio
    import shapely
    from pyogrio.errors import DataLayerError, DataSourceError
    from shapely.errors import ShapelyError

    window = {} if rows is None else {"skip_features": rows[0], "max_features": rows[1]}
    with_fids = path.suffix.lower() == ".gpkg"
    try:
        # Arrow: columns come back as arrays, not one Python object per value
        meta, table = pyogrio.read_arrow(
            path,
            layer=layer,
            encoding=encoding,
            datetime_as_string=True,
            return_fids=with_fids,
            **window,
        )
        geometry = meta["geometry_name"] or "wkb_geometry"
        if geometry in table.column_names:
            wkb = table.column(geometry).to_numpy(zero_copy_only=False)
            geoms = np.asarray(shapely.from_wkb(wkb), dtype=object)
        else:
            geoms = np.full(table.num_rows, None, dtype=object)
    except (
        DataSourceError,
        DataLayerError,
        OSError,
        ValueError,
        RuntimeError,
        ShapelyError,
    ) as err:
        raise DeliveryError(
            f"{display}: 无法读取 / "
            f"cannot be read ({err}). The file may be truncated or "
            "not the format its name says; ask the county to export it again."
        ) from err
    _check_table_size(table, meta["fields"], display, rows[0] if rows else 0)
    columns = {
        str(name): _plain(table.column(name), dtype, subtype)
        for name, dtype, subtype in zip(
            meta["fields"], meta["dtypes"], meta["ogr_subtypes"], strict=True
        )
    }
    fid_column = meta.get("fid_column") or "fid"
    fids = (
        np.asarray(table.column(fid_column), dtype=np.int64)
        if with_fids and fid_column in table.column_names
        else None
    )
    crs = None
    if meta["crs"]:
        from pyproj.exceptions import CRSError as ProjCRSError

        try:
            crs = file_crs(meta["crs"])
        except ProjCRSError as err:
            raise CRSError(
                f"{display}: 坐标系无法识别 / "
                f"its CRS {meta['crs']!r} is not understood "
                f"({err}); "
                "give the right one with --crs."
            ) from err
    return RawTable(columns, geoms, crs, fids)


#: more attribute columns than any delivery has (a .dbf holds at most 255)
MAX_COLUMNS = 500
#: longest text value taken (a species or note is a few dozen characters;
#: every stored version repeats its values)
MAX_TEXT_CHARS = 64 << 10


def _check_table_size(table, fields, display: str, first: int) -> None:
    """Refuse more than ``MAX_COLUMNS`` columns or a text over ``MAX_TEXT_CHARS``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(fields) > MAX_COLUMNS:
        raise DeliveryError(
            f"{display}: 列过多 / the file has {len(fields)} columns (limit "
            f"{MAX_COLUMNS}; a delivery has a few dozen). Deliver only the "
            "project's columns."
        )
    for name in fields:
        column = table.column(name)
        kind = column.type
        if isinstance(kind, pa.BaseExtensionType):
            kind = kind.storage_type
            column = pa.chunked_array([c.storage for c in column.chunks], kind)
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            continue
        lengths = pc.utf8_length(column)
        longest = pc.max(lengths).as_py()
        if longest is not None and longest > MAX_TEXT_CHARS:
            i = pc.index(pc.greater(lengths, MAX_TEXT_CHARS), True).as_py()
            raise DeliveryError(
                f"{display}: 第{first + i + 1}行 row {first + i + 1}, column "
                f"{str(name)!r}: 值过长 / a value of {longest} characters (limit "
                f"{MAX_TEXT_CHARS}); no attribute of a project is this long. Fix "
                "the value and deliver again."
            )


def _objects(values: list) -> np.ndarray:
    """Return a 1-D object array of *values* (lists stay elements, not 2-D)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _plain(column, dtype: str | None, subtype: str | None) -> np.ndarray:  # noqa: PLR0911
    """Return one Arrow column as the numpy array :class:`RawTable` holds.

    The values are those ``pyogrio.read_dataframe`` gives: date-times (which
    GDAL hands over as ISO text here) parsed by pandas, JSON fields parsed.
    """
    import pyarrow as pa
    import pyarrow.types as pat

    kind = column.type
    if isinstance(kind, pa.BaseExtensionType):  # e.g. arrow.json (GDAL 3.12): text
        subtype = "OFSTJSON" if "json" in kind.extension_name else subtype
        column = pa.chunked_array([c.storage for c in column.chunks], kind.storage_type)
        kind = column.type
    if pat.is_string(kind) or pat.is_large_string(kind):
        values = _objects(column.to_pylist())
        if dtype and dtype.startswith("datetime") and dtype != "datetime64[D]":
            return _datetimes(values)
        if subtype == "OFSTJSON":
            try:
                return _objects([None if v is None else json.loads(v) for v in values])
            except ValueError:
                return values
        return values
    if pat.is_integer(kind) or pat.is_floating(kind) or pat.is_boolean(kind):
        return column.to_numpy(zero_copy_only=False)  # gaps: NaN (None: bool)
    if pat.is_nested(kind):  # lists as numpy arrays, structs as dicts
        return _objects(list(column.to_pandas()))
    return _objects(column.to_pylist())  # dates, times ...


def _datetimes(values: np.ndarray) -> np.ndarray:
    """ISO date-time text as pandas Timestamps (mixed offsets: in UTC)."""
    series = pd.Series(values, dtype=object)
    for utc in (False, True):
        try:
            parsed = pd.to_datetime(series, format="ISO8601", utc=utc)
        except (ValueError, TypeError):
            continue
        return _objects([None if pd.isna(v) else v for v in parsed])
    return values


def read_delivery(
    path,
    /,
    *,
    layer: str | None = None,
    crs=None,
    encoding: str | None = None,
    year: int | None = None,
    district: str | None = None,
    project_type: str | None = None,
    programme: str | None = None,
    aliases=(),
    rules=None,
    rows: tuple[int, int] | None = None,
    sha256: str | None = None,
    max_unzipped: int | None = None,
):
    """Read one delivered file into the canonical schema in EPSG:4490.

    Parameters
    ----------
    path : str or Path
        A Shapefile (``.shp``, or ``.zip`` holding one), GeoPackage or GeoJSON.
    layer : str, optional (default: the only layer)
        GeoPackage layer.
    crs : str or int, optional (default: the file's own, else inferred)
        Override the CRS (anything ``pyproj.CRS.from_user_input`` takes).
    encoding : str, optional (default: from .cpg, else detected)
        Text encoding of a Shapefile's attribute table.
    year, district, project_type, programme : optional
        Values for the whole file: where it has no such column, and in the
        empty cells of the column where it has one (``--year``,
        ``--district``, ``--type``, ``--programme``).
    aliases : iterable of path, optional (default: none)
        The user's aliases files merged over the shipped vocabulary
        (:func:`forestsink.ingest.vocabulary.read_vocabulary`).
    rules : path, optional (default: shipped project_types.csv)
        Project-type rules file.
    rows : (int, int), optional (default: all)
        ``(first, count)``: read only these features (chunked reading of
        large files; ``source_row`` keeps the position in the file).
    sha256 : str, optional (default: computed)
        The file's :func:`file_sha256`, when the caller has it already (each
        chunk of a large file would otherwise hash the whole file again).
    max_unzipped : int, optional (default: 2 GiB, ``MAX_UNZIPPED_BYTES``)
        Limit of the bytes a ``.zip``'s layer files may unpack to; the zip is
        also refused for more than ``MAX_ZIP_MEMBERS`` members, a member
        packed more than ``MAX_ZIP_RATIO``:1, duplicate names, symbolic links
        and zips inside it (see ``_safe_extract``).

    Returns
    -------
    Delivery
    """
    path = check_layer_path(path)
    sha = sha256 or file_sha256(path)
    options = {
        "layer": layer,
        "crs": crs,
        "encoding": encoding,
        "year": year,
        "district": district,
        "project_type": project_type,
        "programme": programme,
        "aliases": tuple(aliases or ()),
        "rules": rules,
        "display": path.name,
        "rows": rows,
    }
    with layer_file(path, max_unzipped=max_unzipped) as inner:
        delivery = _read_file(inner, **options)
    delivery.path = path
    delivery.sha256 = sha
    return delivery


def check_layer_path(path) -> Path:
    """Return *path* as a Path if it is a readable layer file, else raise.

    Raises
    ------
    DeliveryError
        No such file, or a suffix other than :data:`SUFFIXES`.
    """
    path = Path(path)
    if not path.is_file():
        raise DeliveryError(f"{path}: 文件不存在 / no such file.")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DeliveryError(
            f"{path.name}: 不支持的文件类型 / "
            f"unsupported file type {suffix!r}; deliver a "
            "Shapefile "
            "(.shp with .shx/.dbf/.prj, or all of them zipped), a GeoPackage or "
            "GeoJSON."
        )
    return path


@contextmanager
def layer_file(path: Path, *, max_unzipped: int | None = None) -> Iterator[Path]:
    """Yield the layer file itself, unpacked into a temporary folder from a ``.zip``.

    The zip is checked as ``_safe_extract`` says (member count, packing
    ratio, links, nested zips, *max_unzipped* bytes; default
    ``MAX_UNZIPPED_BYTES``); the temporary folder is removed on exit.
    """
    if path.suffix.lower() != ".zip":
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="forestsink-zip-") as tmp:
        limit = MAX_UNZIPPED_BYTES if max_unzipped is None else max_unzipped
        yield _safe_extract(path, Path(tmp), max_unzipped=limit)


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
    import shapely
    from geopandas.array import from_shapely

    notes: list[str] = []
    suffix = path.suffix.lower()
    if suffix == ".shp":
        parts = _shapefile_parts(path)
        for needed in (".shx", ".dbf"):
            if needed not in parts:
                restore = (
                    " If only the .shx was lost, GDAL can rebuild it: ogr2ogr "
                    "--config SHAPE_RESTORE_SHX YES fixed.shp the.shp"
                    if needed == ".shx"
                    else ""
                )
                raise DeliveryError(
                    f"{display}: 缺少 {needed} 文件 / the Shapefile has no {needed} "
                    "file beside it. A Shapefile is several files (.shp .shx .dbf "
                    ".prj .cpg); ask for all of them, ideally zipped." + restore
                )
        _check_sidecars(parts, display)
        expected = shapefile_counts(parts, display)
        if encoding is None:
            cpg = _read_cpg(parts[".cpg"]) if ".cpg" in parts else None
            try:
                encoding, reason = detect_dbf_encoding(_dbf_sample(parts[".dbf"]), cpg)
            except DeliveryError as err:
                where = parts[".cpg"].name if ".cpg" in parts else ".dbf"
                raise DeliveryError(f"{display} ({where}): {err}") from err
            notes.append(f"text encoding {encoding}: {reason}")
        else:
            from forestsink.ingest.encoding import check_codec

            encoding = check_codec(encoding, source=f"{display}: --encoding")
            notes.append(f"text encoding {encoding}: given with --encoding")
    layer = _choose_layer(path, layer, display)
    if suffix == ".shp":
        # read bytes transparently, then decode with the chosen codec here:
        # GDAL/pyogrio cannot decode a name cut inside a multi-byte character
        raw = _read_raw(
            path, layer=layer, encoding="ISO-8859-1", display=display, rows=rows
        )
        raw = _transcode(raw, encoding, display)
        first_row, count = rows if rows else (0, expected)
        gdal = min(count, max(expected - first_row, 0))
        if len(raw) != gdal:  # (the parts agree; GDAL must read them all)
            raise DeliveryError(
                f"{display}: GDAL 读出 {len(raw)} 个要素，应为 {gdal} / GDAL read "
                f"{len(raw)} features where the .shp, .shx and .dbf hold {gdal}; "
                f"{_AGAIN}."
            )
    else:
        raw = _read_raw(path, layer=layer, encoding=None, display=display, rows=rows)
    # ---- text: refuse mojibake before anything reaches the store
    first = rows[0] if rows else 0
    destroyed: dict[str, list[int]] = {}
    wrong = None  # the first wrongly decoded name or value
    for column, values in raw.columns.items():
        if wrong is None and looks_like_mojibake(column):
            wrong = (
                f"{display}: 列名 {column!r} 解码错误 / column name {column!r} looks "
                f"wrongly decoded (with {encoding}); add a .cpg with the right "
                "code page or pass --encoding GBK / UTF-8."
            )
        codes, uniques = _text_uniques(values)
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
                    "--encoding GBK / UTF-8."
                )
    if destroyed:
        raise DeliveryError(_destroyed_message(display, destroyed))
    if wrong is not None:
        raise DeliveryError(wrong)
    # ---- CRS
    geoms = raw.geoms
    if crs is not None:
        target = normalise_crs(crs, source=display)
        if raw.crs is not None and not raw.crs.equals(target):
            notes.append(
                f"CRS {target.to_string()} given with --crs overrides the "
                f"file's {raw.crs.to_string()}"
            )
        else:
            notes.append(f"CRS {target.to_string()} given with --crs")
        raw.crs = target
    elif raw.crs is None:
        if shapely.is_missing(geoms).all() or shapely.is_empty(geoms).all():
            raise CRSError(
                f"{display}: 没有 .prj，也无几何可推断坐标系 / "
                "no .prj and no geometry to "
                "infer a CRS from; give it with --crs."
            )
        inferred, reason = infer_crs(tuple(shapely.total_bounds(geoms)), source=display)
        if suffix == ".shp" and path.with_suffix(".prj").exists():
            reason = reason.replace("no .prj", "the .prj could not be understood")
        notes.append(reason)
        raw.crs = file_crs(inferred)
    crs_text = raw.crs.to_string()
    # ---- geometry: 2D, in the store CRS
    has_z = shapely.has_z(geoms).any()
    has_m = hasattr(shapely, "has_m") and shapely.has_m(geoms).any()
    if has_z or has_m:
        what = " and ".join(w for w, f in (("Z (height)", has_z), ("M", has_m)) if f)
        notes.append(f"{what} values dropped: areas are 2D")
        geoms = shapely.force_2d(geoms)
    try:
        geoms = from_shapely(geoms, crs=raw.crs).to_crs(file_crs(STORE_CRS))
    except Exception as err:  # pyproj errors surface as several types
        raise CRSError(
            f"{display}: cannot transform from {crs_text} to "
            f"{STORE_CRS} ({err}); check --crs."
        ) from err
    return LayerRead(
        raw=raw, geoms=geoms, layer=layer, encoding=encoding, crs=crs_text, notes=notes
    )


def _read_file(
    path: Path,
    *,
    layer,
    crs,
    encoding,
    year,
    district,
    rules,
    display,
    rows=None,
    project_type=None,
    programme=None,
    aliases=(),
):
    import geopandas as gpd

    read = read_layer(
        path, layer=layer, crs=crs, encoding=encoding, display=display, rows=rows
    )
    raw, geoms, notes = read.raw, read.geoms, read.notes
    layer, encoding, crs_text = read.layer, read.encoding, read.crs
    suffix = path.suffix.lower()
    # ---- columns
    vocab = read_vocabulary(aliases or ())
    given = tuple(
        c
        for c, v in (
            ("year", year),
            ("district", district),
            ("project_type", project_type),
        )
        if v is not None
    )
    cmap = map_columns(
        list(raw.columns),
        source=display,
        given=given,
        aliases=vocab.columns,
        truncated_names=suffix == ".shp",
        aliases_hint=_aliases_hint(vocab),
    )
    notes.extend(cmap.notes)
    m = cmap.mapping
    n = len(raw)
    first = rows[0] if rows else 0
    values = {canonical: raw.columns[column] for canonical, column in m.items()}
    conflicts: list[list[str]] = [[] for _ in range(n)] if cmap.alternates else []
    for canonical, names in cmap.alternates.items():
        values[canonical] = _coalesce(
            canonical, [raw.columns[c] for c in names], names, conflicts, vocab
        )

    def text(canonical: str, fill=None) -> pd.Series:
        """Return a column as text; empty cells take *fill* (the file's value)."""
        if canonical in values:
            out = as_text(values[canonical])
            if fill is not None:
                out = out.mask(out.isna() | (out.str.strip() == ""), str(fill))
            return out
        return pd.Series(pd.array([fill] * n, dtype="string"))

    frame = {
        "source_file": pd.array(np.full(n, display, dtype=object), dtype="str"),
        "source_row": np.arange(n, dtype="int64") + first,
        "project_id": _project_ids(values, m, notes),
    }
    if raw.fids is not None:  # (GeoPackage: the fid QGIS shows)
        frame["source_fid"] = raw.fids
    if district is not None:
        try:
            code = vocab.districts.resolve(district)
        except UnknownNameError as err:
            raise DeliveryError(f"--district: {err}") from err
    if "district" in m:
        frame["district_raw"] = text("district", district)
        frame["adcode"] = vocab.districts.resolve_many(frame["district_raw"])
    else:
        frame["district_raw"] = pd.array([str(district)] * n, dtype="string")
        frame["adcode"] = pd.array([code] * n, dtype="string")
    if "year" in m:
        frame["year_raw"] = text("year", year)
        frame["year"] = parse_years(frame["year_raw"])
    else:
        frame["year_raw"] = pd.array([str(year)] * n, dtype="string")
        frame["year"] = pd.array([int(year)] * n, dtype="Int64")
    type_options = {
        "rules": rules,
        "words": vocab.type_words,
        "programmes": _programme_words(vocab),
    }
    if project_type is not None:
        known = map_project_types([project_type], **type_options)
        if pd.isna(known.iloc[0]):
            raise DeliveryError(_unknown_type_message(project_type, rules))
    frame["project_type_raw"] = text("project_type", project_type)
    frame["project_type"] = map_project_types(frame["project_type_raw"], **type_options)
    frame["programme"] = map_programmes(
        text("programme", programme), vocab.programme_words
    )
    unread: dict[tuple[str, str], list] = {}
    frame["area_reported_mu"] = reported_area(values, m, notes, geoms, unread)
    frame["species"] = text("species")
    frame["stock_volume_m3"] = (
        parse_numbers(
            values["stock_volume_m3"],
            unread.setdefault(("stock_volume_m3", m["stock_volume_m3"]), []),
        )
        if "stock_volume_m3" in values
        else np.full(n, np.nan)
    )  # (whole numbers stay integers: the content hash writes "5", not "5.0")
    if any(unread.values()):
        frame["unread_numbers"] = unread_numbers(unread, n)
    if conflicts:
        frame["column_conflicts"] = pd.array(
            ["; ".join(c) if c else None for c in conflicts], dtype="string"
        )
    frame["attrs"] = extra_attrs(raw, cmap.extra)
    # (geometry as a column named here: twice as fast as geometry=, crs=)
    # (and plain arrays, not Series: nothing to align)
    arrays = {k: v.array if isinstance(v, pd.Series) else v for k, v in frame.items()}
    gdf = gpd.GeoDataFrame({**arrays, "geometry": geoms}, geometry="geometry")
    return Delivery(
        path=path,
        sha256="",
        frame=gdf,
        layer=layer,
        encoding=encoding,
        crs=crs_text,
        columns=dict(m),
        notes=notes,
    )


def _programme_words(vocab) -> tuple[str, ...]:
    """Programme words and names of the vocabulary (codes left out)."""
    words = {*vocab.programme_words, *vocab.programme_words.values()}
    return tuple(sorted(w for w in words if w and not str(w).isdigit()))


def _aliases_hint(vocab) -> str:
    """Where a user adds a name: their aliases file, never the shipped table."""
    from forestsink.ingest.vocabulary import user_aliases_path

    if vocab.files:
        return f"your aliases file {vocab.files[-1]}"
    return (
        f"your aliases file (--aliases FILE, or {user_aliases_path()} for every "
        "run; see `forestsink validate --help`)"
    )


def _unknown_type_message(value, rules) -> str:
    from forestsink.reference import read_project_types

    known = ", ".join(
        f"{c} ({r['name_zh']})" for c, r in read_project_types(rules).iterrows()
    )
    return (
        f"--type: 未知项目类型 / unknown project type {value!r}; known types: "
        f"{known}. Give one of them, or add the word to your aliases file as "
        "'project_type,<word>,<type>'."
    )


def _empty(values: np.ndarray) -> np.ndarray:
    """Cells without a value: missing, NaN or blank text."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind in "iub":
        return np.zeros(len(values), dtype=bool)
    return np.fromiter(
        (
            v is None
            or v is pd.NA
            or (isinstance(v, float) and math.isnan(v))
            or (isinstance(v, str) and not v.strip())
            for v in values
        ),
        bool,
        len(values),
    )


#: canonical columns compared as numbers where two columns give them
_NUMERIC = ("area_mu", "area_ha", "area_m2", "area_unknown", "stock_volume_m3")


def _agreement_key(canonical: str, vocab):
    """Return how two cells of *canonical* are compared (per distinct value)."""
    from forestsink.ingest.values import parse_year

    def plain(v) -> str:
        return str(v).strip()

    if canonical == "district":
        return lambda v: vocab.districts.lookup(v) or plain(v)
    if canonical == "year":
        return lambda v: parse_year(v) or plain(v)
    if canonical == "project_type":

        def kind(v):
            found = map_project_types(
                [v], words=vocab.type_words, programmes=_programme_words(vocab)
            ).iloc[0]
            return plain(v) if pd.isna(found) else found

        return kind
    if canonical in _NUMERIC:
        return lambda v: round(float(v), 6) if _is_number(v) else plain(v)
    return lambda v: clean_ids([v]).iloc[0] if plain(v) else ""


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _same_species(a: str, b: str) -> bool:
    """Loose agreement of two species texts: equal, or a shared Chinese word.

    A composition (``7杉3马``) and a dominant species (``杉木``) agree when
    they share a character of a species name.
    """
    if a == b:
        return True
    cjk = {ch for ch in a if "\u4e00" <= ch <= "\u9fff"}
    return bool(cjk & {ch for ch in b if "\u4e00" <= ch <= "\u9fff"})


def _coalesce(canonical, arrays, names, conflicts, vocab) -> np.ndarray:
    """Merge columns of one meaning: the first gives, the others fill gaps.

    Rows where two are filled and differ (after reading both: a district
    code and name are compared as adcodes, years as years, types as types,
    numbers as numbers, species loosely) get a note in *conflicts*.
    """
    out = np.array(arrays[0], dtype=object)
    origin = np.full(len(out), names[0], dtype=object)  # which column gave it
    empty = _empty(arrays[0])
    key = _agreement_key(canonical, vocab)
    for other, name in zip(arrays[1:], names[1:], strict=True):
        other = np.asarray(other, dtype=object)  # noqa: PLW2901
        other_empty = _empty(other)
        both = np.flatnonzero(~empty & ~other_empty)
        if len(both):
            mine = map_uniques(out[both], lambda v: str(key(v)), "object")
            theirs = map_uniques(other[both], lambda v: str(key(v)), "object")
            for i, a, b in zip(both, mine, theirs, strict=True):
                same = _same_species(a, b) if canonical == "species" else a == b
                if not same:
                    conflicts[i].append(
                        f"{origin[i]}={str(out[i])!r} vs {name}={str(other[i])!r}"
                    )
        fill = empty & ~other_empty
        out[fill] = other[fill]
        origin[fill] = name
        empty &= other_empty
    return out


def _project_ids(values: dict, m: dict, notes: list[str]) -> pd.Series:
    """Return the project id row by row: polygon id, 小班 key, project code."""
    n = len(next(iter(values.values()))) if values else 0
    ids = clean_ids(values["project_id"]) if "project_id" in values else None
    if "xiaoban" in values:
        key = clean_ids(values["xiaoban"])
        parts = [c for c in ("township", "compartment") if c in values]
        if parts:
            for part in reversed(parts):
                prefix = clean_ids(values[part])
                key = key.where(prefix.isna() | key.isna(), prefix + "-" + key)
            named = "-".join(m[c] for c in (*parts, "xiaoban"))
            if key.notna().any():
                notes.append(
                    f"project id = {named} (小班 number within its 林班 / township: "
                    "a 小班 number is unique only there)"
                )
            else:
                notes.append(f"{m['xiaoban']!r} (小班) is empty in every row")
        ids = key if ids is None else ids.fillna(key)
    if "project_code" in values:
        code = clean_ids(values["project_code"])
        if ids is None:
            notes.append(
                f"project id = project code {m['project_code']!r} (no polygon id "
                "or 小班 number in the file; polygons sharing a code are refused "
                "as duplicates)"
            )
        ids = code if ids is None else ids.fillna(code)
    return ids if ids is not None else pd.Series(pd.array([None] * n, dtype="string"))


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
        "characters are gone: a .cpg or --encoding cannot bring them back. Ask "
        "the sender to export these rows again from the original data (the "
        "program that wrote this file read GBK as UTF-8)."
    )


def _check_shp_complete(shp: Path, shx: Path, display: str) -> None:
    """Refuse a .shp cut short: its index (.shx) points past its end."""
    index_size = shx.stat().st_size
    size = shp.stat().st_size
    if index_size < 100 or size < 100:
        raise DeliveryError(
            f"{display}: the .shp or .shx is shorter than a Shapefile header; "
            "the file is truncated. Ask the county to export it again."
        )
    if index_size > 100:
        with shx.open("rb") as f:
            f.seek(index_size - 8)
            offset, length = struct.unpack(">ii", f.read(8))
        end = 2 * (offset + length + 4)
        if end > size:
            raise DeliveryError(
                f"{display}: the .shp is truncated ({size} bytes, its index "
                f"needs {end}); features would be lost. Ask the county to "
                "export it again."
            )


_AGAIN = "the parts come from different exports; export the Shapefile again"


def shapefile_counts(parts: dict[str, Path], display: str) -> int:
    """Check that the parts of a Shapefile agree; return the number of features.

    Three counts are compared: the index's (``.shx``: a 100-byte header,
    then 8 bytes per shape), the ``.shp``'s records walked by their headers
    (record number and content length, ESRI Shapefile Technical Description,
    1998) and the ``.dbf`` header's record count (bytes 4-7), which must also
    fit in the ``.dbf``'s size. GDAL reads the smallest of them and drops the
    rest silently: any disagreement is refused with the numbers.

    Parameters
    ----------
    parts : dict
        Suffix (``".shp"``, ``".shx"``, ``".dbf"``) -> path.
    display : str
        File name shown in messages.

    Returns
    -------
    int
        The number of features all three parts hold.

    Raises
    ------
    DeliveryError
        The parts disagree or one is damaged.
    """
    shp, shx, dbf = parts[".shp"], parts[".shx"], parts[".dbf"]
    _check_shp_complete(shp, shx, display)
    index_size = shx.stat().st_size
    if (index_size - 100) % 8:
        raise DeliveryError(
            f"{display}: .shx 已截断 / the .shx is truncated ({index_size} bytes is "
            "a 100-byte header and not a whole number of 8-byte entries); "
            f"{_AGAIN}."
        )
    n_shx = (index_size - 100) // 8
    n_shp = _walk_shp(shp, shx, n_shx, display)
    if n_shp != n_shx:
        raise DeliveryError(
            f"{display}: 各部分记录数不一致 / the .shp holds {n_shp} shapes but "
            f"the .shx indexes {n_shx}: {_AGAIN}."
        )
    with dbf.open("rb") as f:
        head = f.read(12)
    dbf_size = dbf.stat().st_size
    if len(head) < 12:
        raise DeliveryError(
            f"{display}: the .dbf is shorter than its header ({dbf_size} bytes); "
            f"{_AGAIN}."
        )
    n_dbf = int.from_bytes(head[4:8], "little")
    header_len = int.from_bytes(head[8:10], "little")
    record_len = max(int.from_bytes(head[10:12], "little"), 1)
    held = max(dbf_size - header_len, 0) // record_len
    if held < n_dbf:
        raise DeliveryError(
            f"{display}: .dbf 已截断 / the .dbf header says {n_dbf} records but "
            f"the file holds only {held} ({dbf_size} bytes, {record_len} bytes a "
            f"record); {_AGAIN}."
        )
    if n_dbf != n_shp:
        raise DeliveryError(
            f"{display}: 各部分记录数不一致 / the .shp holds {n_shp} shapes but "
            f"the .dbf {n_dbf} records: features would be lost; {_AGAIN}."
        )
    return n_shp


def _walk_shp(shp: Path, shx: Path, n_shx: int, display: str) -> int:
    """Count the records of a .shp by walking their headers.

    The usual file is checked at once: the index's offsets are contiguous,
    each record header there gives the index's length, and the last record
    ends at the file's end. Otherwise the records are walked one by one from
    the file header.
    """
    size = shp.stat().st_size
    if n_shx:
        index = np.fromfile(shx, dtype=">i4", offset=100).reshape(-1, 2)
        offsets = index[:, 0].astype(np.int64) * 2
        lengths = index[:, 1].astype(np.int64) * 2
        chained = (
            offsets[0] == 100
            and (offsets[1:] == offsets[:-1] + 8 + lengths[:-1]).all()
            and offsets[-1] + 8 + lengths[-1] == size
            and (lengths >= 4).all()
        )
        if chained:
            data = np.memmap(shp, dtype=np.uint8, mode="r")
            heads = data[offsets[:, None] + np.arange(4, 8)].copy()
            del data
            if (heads.view(">i4").ravel().astype(np.int64) * 2 == lengths).all():
                return n_shx
    elif size == 100:
        return 0
    count, at = 0, 100
    with shp.open("rb") as f:
        f.seek(100)
        while at < size:
            head = f.read(8)
            if len(head) < 8:
                raise DeliveryError(
                    f"{display}: the .shp ends inside the header of record "
                    f"{count + 1} ({size} bytes); the file is truncated. {_AGAIN}."
                )
            _, words = struct.unpack(">ii", head)
            end = at + 8 + 2 * words
            if words < 2 or end > size:
                raise DeliveryError(
                    f"{display}: .shp 记录越界 / record {count + 1} of the .shp "
                    f"claims {2 * words} bytes and runs past the end of the file "
                    f"(ends at {end}, the file has {size} bytes); the file is "
                    f"truncated or damaged: {_AGAIN}."
                )
            f.seek(end)
            at = end
            count += 1
    return count


def _text_uniques(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes and distinct non-ASCII strings of a column (:class:`RawTable`).

    ``codes[i]`` is the position in the returned list of row *i*'s value, or
    -1 when it is ASCII, missing or not a string. The list is in order of
    first appearance. Work is per distinct value, not per row: a delivery
    repeats the same few district and type names thousands of times.
    """
    n = len(values)
    if values.dtype != object:
        return np.full(n, -1, dtype=np.int64), []
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        text = np.fromiter((isinstance(v, str) for v in values), bool, n)
        values = np.where(text, values, None)  # may hold lists, dicts ...
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    values = uniques.tolist()
    keep = [k for k, v in enumerate(values) if isinstance(v, str) and not v.isascii()]
    remap = np.full(len(values) + 1, -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    return remap[np.asarray(codes)], [values[k] for k in keep]


def _transcode(raw: RawTable, codec: str, display: str) -> RawTable:
    """Re-decode Latin-1-read text (names and values) with *codec*."""
    from forestsink.ingest.encoding import trim_partial

    def name(text: str) -> str:
        data = trim_partial(text.encode("latin-1"), (codec,))
        return data.decode(codec, errors="replace")

    columns = {}
    for column, values in raw.columns.items():
        codes, uniques = _text_uniques(values)
        if uniques:  # (all ASCII: Latin-1 and *codec* read it the same)
            decoded = []
            for k, value in enumerate(uniques):  # in order of first appearance
                data = value.encode("latin-1", errors="replace")
                if b"\xef\xbf\xbd" in data:  # U+FFFD stored: destroyed text,
                    # whatever the codec (reported with its rows later)
                    decoded.append(data.decode("utf-8", errors="replace"))
                    continue
                try:
                    decoded.append(data.decode(codec))
                except UnicodeDecodeError as err:
                    i = int(np.flatnonzero(codes == k)[0]) + 1
                    raise DeliveryError(
                        f"{display}: 第{i}行 row {i} (counted from 1 in this "
                        f"read), column {name(column)!r}: text cannot "
                        f"be decoded as {codec} ({err}); add a .cpg with the "
                        "right code page or pass --encoding."
                    ) from err
            values = values.copy()  # noqa: PLW2901 (the decoded copy)
            hit = codes >= 0
            values[hit] = _objects(decoded)[codes[hit]]
        decoded_name = name(column)
        if decoded_name in columns:
            raise DeliveryError(
                f"{display}: two columns read as {decoded_name!r} (the .dbf "
                "format cuts names at 10 bytes, here inside a character); "
                "rename one of them and deliver again."
            )
        columns[decoded_name] = values
    return RawTable(columns, raw.geoms, raw.crs, raw.fids)


def reported_area(
    values: dict, m: dict[str, str], notes: list[str], geoms, unread: dict
):
    """Return reported areas in mu (NaN where not given).

    Cells that are not numbers go to *unread* (see :func:`unread_numbers`).
    """
    for canonical, unit in (("area_mu", "mu"), ("area_ha", "ha"), ("area_m2", "m2")):
        if canonical in values:
            if unit != "mu":
                notes.append(
                    f"area column {m[canonical]!r} is in {unit}; converted to mu"
                )
            bad = unread.setdefault(("area", m[canonical]), [])
            return parse_numbers(values[canonical], bad) * AREA_FACTORS_TO_MU[unit]
    if "area_unknown" in values:
        from forestsink.area import geographic_area_m2
        from forestsink.units import M2_PER_MU

        column = m["area_unknown"]
        reported = parse_numbers(
            values["area_unknown"], unread.setdefault(("area", column), [])
        )
        unit, ratio = infer_area_unit(reported, geographic_area_m2(geoms) / M2_PER_MU)
        notes.append(
            f"area column {column!r} has no unit in its name; its values match "
            f"the geometry in {unit} (median ratio {ratio:.3f}), so read as {unit}"
        )
        return reported * AREA_FACTORS_TO_MU[unit]
    notes.append("no reported area column; areas come from the geometry only")
    return np.full(len(geoms), np.nan)


def unread_numbers(unread: dict[tuple[str, str], list], n: int):
    """Per row, the number cells that could not be read, as JSON (else <NA>).

    *unread* maps (field, column as delivered) to ``(position, value)``
    pairs; each row holding any gets a JSON list of ``[field, column,
    value]``, reported by :func:`forestsink.validate.validate_delivery` as
    ``not_a_number`` errors.
    """
    rows: dict[int, list] = {}
    for (name, column), cells in unread.items():
        for i, value in cells:
            rows.setdefault(int(i), []).append([name, column, str(value)])
    out = np.full(n, None, dtype=object)
    for i, cells in rows.items():
        out[i] = json.dumps(cells, ensure_ascii=False)
    return pd.array(out, dtype="string")


#: full-width forms (U+FF01-FF5E: digits, point, comma, minus) and the
#: ideographic space, as NFKC reads them; other compatibility characters are
#: left alone (NFKC would read "10²" as 102)
_FULL_WIDTH = {
    **{c: unicodedata.normalize("NFKC", chr(c)) for c in range(0xFF01, 0xFF5F)},
    0x3000: " ",
}
#: a thousands separator, unambiguous only in this form: 1,000 / -12,345.6
_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?", re.ASCII)
#: text that pandas reads as "no value" (kept empty, not reported)
_NO_VALUE = frozenset(
    {"nan", "na", "n/a", "#n/a", "<na>", "null", "none", "-nan", "1.#qnan"}
)
#: what a clerk is told to do with a value that is not a number
NUMBER_ACTION = (
    "写成纯数字，如 1000 或 254.6；单位写在列名中 / write a plain number, e.g. "
    "1000 or 254.6; the unit belongs in the column name"
)


def _plain_number_text(value: object) -> str | None:
    """Return the unambiguous plain form of a delivered number text, or None.

    Full-width digits and point (``１０００``, ``２５４．６``) read as their
    ASCII forms; a ``,`` only as a thousands separator (``1,000``,
    ``12,345.6``, not ``1,00`` or ``1.000,5``).
    """
    if not isinstance(value, str):
        return None
    text = value.translate(_FULL_WIDTH).strip()
    if _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    return text


def parse_numbers(values: np.ndarray, bad: list | None = None) -> np.ndarray:
    """Numbers of a column (text parsed); NaN where missing or not a number.

    The column's own number type is kept (integers, float32, booleans), as
    :func:`pandas.to_numeric` gives it: the stored values and their content
    hashes are those of earlier versions. Text that is unambiguously a
    number in another form (full-width digits, a thousands separator: see
    :func:`_plain_number_text`) reads as that number; any other non-empty
    cell that is not a number is NaN and, when *bad* is given, appended to
    it as ``(position, value)``. Work is per distinct value that failed to
    parse, not per row.
    """
    numbers = np.asarray(pd.to_numeric(values, errors="coerce"))
    if values.dtype != object or numbers.dtype.kind != "f":
        return numbers
    failed = np.flatnonzero(np.isnan(numbers))
    if not len(failed):
        return numbers
    cells = values[failed]
    try:
        codes, uniques = pd.factorize(cells, use_na_sentinel=True)
        uniques = list(uniques)
    except TypeError:  # unhashable values (lists from GeoJSON)
        codes, uniques = np.arange(len(cells)), list(cells)
    plain = [_plain_number_text(u) for u in uniques]
    parsed = np.asarray(
        pd.to_numeric(np.array(plain, dtype=object), errors="coerce"), dtype="float64"
    )
    fixed, wrong = [], []
    for k, (value, text) in enumerate(zip(uniques, plain, strict=True)):
        if value is None or value is pd.NA or value is pd.NaT:
            continue
        if isinstance(value, float) and math.isnan(value):
            continue
        if not np.isnan(parsed[k]):
            fixed.append(k)
        elif text is None or (text and text.casefold() not in _NO_VALUE):
            wrong.append(k)  # (None: a list, dict, ... not text)
    codes = np.asarray(codes)
    if bad is not None:
        for k in wrong:
            for i in failed[codes == k].tolist():
                bad.append((i, uniques[k]))
    if not fixed:
        return numbers
    # read again as the plain text, so that the number type is that of a
    # file that wrote the plain form ("1000" stays an integer)
    again = values.copy()
    again[failed] = None
    hit = np.isin(codes, fixed)
    again[failed[hit]] = np.array(plain, dtype=object)[codes[hit]]
    return np.asarray(pd.to_numeric(again, errors="coerce"))


def _json_values(values: np.ndarray) -> list:
    """Return a column's values as JSON-ready objects, ``None`` where missing."""
    if values.dtype.kind == "f":
        return [None if math.isnan(v) else v for v in values.tolist()]
    return [None if v is None or v is pd.NaT else v for v in values.tolist()]


def extra_attrs(raw: RawTable, names: list[str]) -> pd.Series:
    """Unmapped columns of each feature as a JSON object (sorted keys)."""
    if not names:
        return pd.Series(pd.array(["{}"] * len(raw), dtype="string"))
    columns = [_json_values(raw.columns[c]) for c in names]
    return pd.Series(
        pd.array(
            [
                json.dumps(
                    dict(zip(names, row, strict=True)),
                    ensure_ascii=False,
                    default=str,
                    sort_keys=True,
                )
                for row in zip(*columns, strict=True)
            ],
            dtype="string",
        )
    )


def copy_delivery(src: Path, dst_dir: Path) -> Path:
    """Copy a delivery (all Shapefile parts) into *dst_dir*; return the new path."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    if src.suffix.lower() == ".shp":
        for part in _shapefile_parts(src).values():
            shutil.copy2(part, dst_dir / part.name)
    else:
        shutil.copy2(src, dst_dir / src.name)
    return dst_dir / src.name
