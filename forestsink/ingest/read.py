"""Read one delivered file into the canonical schema (the one pyogrio caller).

``read_delivery`` raises :class:`~forestsink.errors.DeliveryError` or
:class:`~forestsink.errors.CRSError` for problems with the *file* (cannot be
opened, required column missing, CRS unknown, text encoding wrong). Problems
with *features* (unknown type, broken geometry, bad year ...) are left in the
frame for :func:`forestsink.validate.validate_delivery` to report, so that one
report covers the whole delivery: an area or volume cell that is not a number
(``254.6亩``, ``0x10``) is empty in the frame and named, with its column as
delivered, in the ``unread_numbers`` column (JSON, only where a row has one).

The reading is split by concern: :mod:`~forestsink.ingest.files` (finding,
hashing, counting files), :mod:`~forestsink.ingest.archive` (zips unpacked
safely), :mod:`~forestsink.ingest.shapefile` (a Shapefile's parts checked),
:mod:`~forestsink.ingest.raw` (the pyogrio read), :mod:`~forestsink.ingest.layer`
(encoding, mojibake and CRS), :mod:`~forestsink.ingest.numbers` (numbers as
delivered) and :mod:`~forestsink.ingest.attributes` (merged columns, ids,
extra attributes). This module maps a layer to the canonical schema and
re-exports the names it always offered.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from forestsink.errors import DeliveryError, UnknownNameError
from forestsink.ingest.archive import (
    LAYER_MEMBER_SUFFIXES,
    MAX_UNZIPPED_BYTES,
    MAX_ZIP_MEMBERS,
    MAX_ZIP_RATIO,
    ZIP_RATIO_MIN_BYTES,
    extract_zip_layers,
    layer_file,
    zip_layer_count,
)
from forestsink.ingest.attributes import (
    coalesce,
    extra_attrs,
    programme_words,
    project_ids,
)
from forestsink.ingest.columns import map_columns
from forestsink.ingest.crs import STORE_CRS
from forestsink.ingest.files import (
    MIN_FEATURE_BYTES,
    SUFFIXES,
    check_layer_path,
    copy_delivery,
    count_features,
    file_sha256,
    find_delivery_files,
    may_hold_more_than,
)
from forestsink.ingest.layer import DESTROYED, LayerRead, read_layer
from forestsink.ingest.numbers import (
    NUMBER_ACTION,
    parse_numbers,
    reported_area,
    unread_numbers,
)
from forestsink.ingest.raw import MAX_COLUMNS, MAX_TEXT_CHARS, RawTable
from forestsink.ingest.shapefile import (
    DBF_SAMPLE_BYTES,
    MAX_SIDECAR_BYTES,
    shapefile_counts,
)
from forestsink.ingest.values import (
    as_text,
    map_programmes,
    map_project_types,
    parse_years,
)
from forestsink.ingest.vocabulary import read_vocabulary, user_aliases_path
from forestsink.reference import read_project_types

logger = logging.getLogger(__name__)

__all__ = [
    "DBF_SAMPLE_BYTES",
    "DESTROYED",
    "FRAME_COLUMNS",
    "LAYER_MEMBER_SUFFIXES",
    "MAX_COLUMNS",
    "MAX_SIDECAR_BYTES",
    "MAX_TEXT_CHARS",
    "MAX_UNZIPPED_BYTES",
    "MAX_ZIP_MEMBERS",
    "MAX_ZIP_RATIO",
    "MIN_FEATURE_BYTES",
    "NUMBER_ACTION",
    "SUFFIXES",
    "ZIP_RATIO_MIN_BYTES",
    "Delivery",
    "LayerRead",
    "RawTable",
    "check_layer_path",
    "copy_delivery",
    "count_features",
    "extra_attrs",
    "extract_zip_layers",
    "file_sha256",
    "find_delivery_files",
    "layer_file",
    "may_hold_more_than",
    "parse_numbers",
    "read_delivery",
    "read_layer",
    "reported_area",
    "shapefile_counts",
    "unread_numbers",
    "zip_layer_count",
]


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
        and zips inside it (see :func:`forestsink.ingest.archive.layer_file`).

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
    logger.debug(
        "%s: %d feature(s) read; %s",
        path.name,
        len(delivery.frame),
        "; ".join(delivery.notes),
    )
    return delivery


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
) -> Delivery:
    """Read one layer file (a zip already unpacked) into a :class:`Delivery`."""
    read = read_layer(
        path, layer=layer, crs=crs, encoding=encoding, display=display, rows=rows
    )
    raw, notes = read.raw, read.notes
    vocab = read_vocabulary(aliases or ())
    given = {"year": year, "district": district, "project_type": project_type}
    cmap = map_columns(
        list(raw.columns),
        source=display,
        given=tuple(c for c, v in given.items() if v is not None),
        aliases=vocab.columns,
        truncated_names=path.suffix.lower() == ".shp",
        aliases_hint=_aliases_hint(vocab),
    )
    notes.extend(cmap.notes)
    m = cmap.mapping
    n = len(raw)
    first = rows[0] if rows else 0
    values = {canonical: raw.columns[column] for canonical, column in m.items()}
    conflicts: list[list[str]] = [[] for _ in range(n)] if cmap.alternates else []
    for canonical, names in cmap.alternates.items():
        values[canonical] = coalesce(
            canonical, [raw.columns[c] for c in names], names, conflicts, vocab
        )
    text = functools.partial(_text_column, values, n)
    frame = {
        "source_file": pd.array(np.full(n, display, dtype=object), dtype="str"),
        "source_row": np.arange(n, dtype="int64") + first,
        "project_id": project_ids(values, m, notes),
    }
    if raw.fids is not None:  # (GeoPackage: the fid QGIS shows)
        frame["source_fid"] = raw.fids
    frame.update(_district_columns(text, vocab, district, n, given="district" in m))
    frame.update(_year_columns(text, year, n, given="year" in m))
    frame.update(_type_columns(text, vocab, project_type, programme, rules))
    unread: dict[tuple[str, str], list] = {}
    frame["area_reported_mu"] = reported_area(values, m, notes, read.geoms, unread)
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
    gdf = gpd.GeoDataFrame({**arrays, "geometry": read.geoms}, geometry="geometry")
    return Delivery(
        path=path,
        sha256="",
        frame=gdf,
        layer=read.layer,
        encoding=read.encoding,
        crs=read.crs,
        columns=dict(m),
        notes=notes,
    )


def _text_column(values: dict, n: int, canonical: str, fill=None) -> pd.Series:
    """Return a column as text; empty cells take *fill* (the file's value).

    Without the column, every one of the *n* rows is *fill*.
    """
    if canonical in values:
        out = as_text(values[canonical])
        if fill is not None:
            out = out.mask(out.isna() | (out.str.strip() == ""), str(fill))
        return out
    return pd.Series(pd.array([fill] * n, dtype="string"))


def _district_columns(text, vocab, district, n: int, *, given: bool) -> dict:
    """``district_raw`` and ``adcode``: the file's column, filled by *district*."""
    if district is not None:
        try:
            code = vocab.districts.resolve(district)
        except UnknownNameError as err:
            raise DeliveryError(f"district: {err}", option="district") from err
    if given:
        raw = text("district", district)
        return {"district_raw": raw, "adcode": vocab.districts.resolve_many(raw)}
    return {
        "district_raw": pd.array([str(district)] * n, dtype="string"),
        "adcode": pd.array([code] * n, dtype="string"),
    }


def _year_columns(text, year, n: int, *, given: bool) -> dict:
    """``year_raw`` and ``year``: the file's column, filled by *year*."""
    if given:
        raw = text("year", year)
        return {"year_raw": raw, "year": parse_years(raw)}
    return {
        "year_raw": pd.array([str(year)] * n, dtype="string"),
        "year": pd.array([int(year)] * n, dtype="Int64"),
    }


def _type_columns(text, vocab, project_type, programme, rules) -> dict:
    """``project_type_raw``, ``project_type`` and ``programme`` of each row.

    Raises
    ------
    DeliveryError
        The *project_type* given for the whole file is not a known type.
    """
    type_options = {
        "rules": rules,
        "words": vocab.type_words,
        "programmes": programme_words(vocab),
    }
    if project_type is not None:
        known = map_project_types([project_type], **type_options)
        if pd.isna(known.iloc[0]):
            raise DeliveryError(
                _unknown_type_message(project_type, rules), option="project_type"
            )
    raw = text("project_type", project_type)
    return {
        "project_type_raw": raw,
        "project_type": map_project_types(raw, **type_options),
        "programme": map_programmes(
            text("programme", programme), vocab.programme_words
        ),
    }


def _aliases_hint(vocab) -> str:
    """Where a user adds a name: their aliases file, never the shipped table."""
    if vocab.files:
        return f"your aliases file {vocab.files[-1]}"
    return f"your aliases file (aliases=[FILE], or {user_aliases_path()} for every run)"


def _unknown_type_message(value, rules) -> str:
    """Say that *value* is no known project type, listing the known ones."""
    known = ", ".join(
        f"{c} ({r['name_zh']})" for c, r in read_project_types(rules).iterrows()
    )
    return (
        f"project_type: 未知项目类型 / unknown project type {value!r}; known types: "
        f"{known}. Give one of them, or add the word to your aliases file as "
        "'project_type,<word>,<type>'."
    )
