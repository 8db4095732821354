"""The one pyogrio caller: a layer file's features as plain arrays.

:func:`read_raw` reads a layer through Arrow into a :class:`RawTable`
(columns as numpy arrays, geometries as shapely objects, the file's CRS);
:func:`transcode` re-decodes a Shapefile's text read as Latin-1 with the
detected code page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj.exceptions import CRSError as ProjCRSError
from shapely.errors import ShapelyError

from forestsink.errors import CRSError, DeliveryError
from forestsink.ingest.crs import file_crs
from forestsink.ingest.encoding import trim_partial


def choose_layer(path: Path, layer: str | None, display: str) -> str | None:
    """Return the layer to read: *layer*, or a GeoPackage's one layer with geometry.

    Raises
    ------
    DeliveryError
        The GeoPackage cannot be listed, has no layer *layer*, or several
        layers with geometry and none chosen.
    """
    if path.suffix.lower() != ".gpkg":
        return layer
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
            "one as layer.",
            option="layer",
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


def read_raw(path: Path, *, layer, encoding, display: str, rows=None) -> RawTable:
    """Read a layer file's features (all, or *rows* = ``(first, count)``).

    Raises
    ------
    DeliveryError
        GDAL cannot read the file, or it has too many columns or too long a
        text (:func:`_check_table_size`).
    CRSError
        The file's CRS is not understood.
    """
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
        try:
            crs = file_crs(meta["crs"])
        except ProjCRSError as err:
            raise CRSError(
                f"{display}: 坐标系无法识别 / "
                f"its CRS {meta['crs']!r} is not understood "
                f"({err}); "
                "give the right one as crs.",
                option="crs",
            ) from err
    return RawTable(columns, geoms, crs, fids)


#: more attribute columns than any delivery has (a .dbf holds at most 255)
MAX_COLUMNS = 500
#: longest text value taken (a species or note is a few dozen characters;
#: every stored version repeats its values)
MAX_TEXT_CHARS = 64 << 10


def _check_table_size(table, fields, display: str, first: int) -> None:
    """Refuse more than ``MAX_COLUMNS`` columns or a text over ``MAX_TEXT_CHARS``."""
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


def objects(values: list) -> np.ndarray:
    """Return a 1-D object array of *values* (lists stay elements, not 2-D)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _plain(column, dtype: str | None, subtype: str | None) -> np.ndarray:  # noqa: PLR0911
    """Return one Arrow column as the numpy array :class:`RawTable` holds.

    The values are those ``pyogrio.read_dataframe`` gives: date-times (which
    GDAL hands over as ISO text here) parsed by pandas, JSON fields parsed.
    """
    kind = column.type
    if isinstance(kind, pa.BaseExtensionType):  # e.g. arrow.json (GDAL 3.12): text
        subtype = "OFSTJSON" if "json" in kind.extension_name else subtype
        column = pa.chunked_array([c.storage for c in column.chunks], kind.storage_type)
        kind = column.type
    if pat.is_string(kind) or pat.is_large_string(kind):
        values = objects(column.to_pylist())
        if dtype and dtype.startswith("datetime") and dtype != "datetime64[D]":
            return _datetimes(values)
        if subtype == "OFSTJSON":
            try:
                return objects([None if v is None else json.loads(v) for v in values])
            except ValueError:
                return values
        return values
    if pat.is_integer(kind) or pat.is_floating(kind) or pat.is_boolean(kind):
        return column.to_numpy(zero_copy_only=False)  # gaps: NaN (None: bool)
    if pat.is_nested(kind):  # lists as numpy arrays, structs as dicts
        return objects(list(column.to_pandas()))
    return objects(column.to_pylist())  # dates, times ...


def _datetimes(values: np.ndarray) -> np.ndarray:
    """ISO date-time text as pandas Timestamps (mixed offsets: in UTC)."""
    series = pd.Series(values, dtype=object)
    for utc in (False, True):
        try:
            parsed = pd.to_datetime(series, format="ISO8601", utc=utc)
        except (ValueError, TypeError):
            continue
        return objects([None if pd.isna(v) else v for v in parsed])
    return values


def text_uniques(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
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


def transcode(raw: RawTable, codec: str, display: str) -> RawTable:
    """Re-decode Latin-1-read text (names and values) with *codec*."""

    def name(text: str) -> str:
        data = trim_partial(text.encode("latin-1"), (codec,))
        return data.decode(codec, errors="replace")

    columns = {}
    for column, values in raw.columns.items():
        codes, uniques = text_uniques(values)
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
                        "right code page or pass the encoding (encoding=...).",
                        option="encoding",
                    ) from err
            values = values.copy()  # noqa: PLW2901 (the decoded copy)
            hit = codes >= 0
            values[hit] = objects(decoded)[codes[hit]]
        decoded_name = name(column)
        if decoded_name in columns:
            raise DeliveryError(
                f"{display}: two columns read as {decoded_name!r} (the .dbf "
                "format cuts names at 10 bytes, here inside a character); "
                "rename one of them and deliver again."
            )
        columns[decoded_name] = values
    return RawTable(columns, raw.geoms, raw.crs, raw.fids)
