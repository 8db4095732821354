"""Read a county's forest-resource layer (森林资源"一张图") into 小班 rows.

The same reading machinery as project deliveries (:func:`read_layer`: text
encoding from ``.cpg``, the DBF language driver or detection; CRS from the
file, ``--crs`` or inferred; mojibake refused; zips unpacked safely), with
the forest-resource columns of ``data/column_aliases.csv``
(:data:`~forestsink.ingest.columns.INVENTORY_CANONICAL`: XIAN, XIANG, CUN,
LIN_BAN, XIAO_BAN, XI_BAN, MIAN_JI, DI_LEI, Q_DI_LEI, YOU_SHI_SZ, QI_YUAN,
LING_ZU, YU_BI_DU, HUO_LMGQXJ, BHYY, SEN_LIN_LB … and their Chinese names).

The result is the stored frame of :mod:`forestsink.store.inventory_schema` except
the land-class columns that need the code tables (``land_scheme``,
``land_code``, ``land_group``, ``is_forest``, ``is_forest_land``,
``land_group_before``): :func:`forestsink.inventory.checks.prepare_layer`
resolves those and checks the layer. Problems with the *file* raise here;
problems with *features* are left for the checks so that one message covers
the whole layer — except cells that are not numbers, which are listed in
``unread_numbers`` (JSON) for the checks to report.

Decisions
---------
- The year is the layer's, given with ``--year`` (state at 31 December). A
  planting-year column (ZLND) is not the layer's year and stays an attribute.
- A file may hold several counties (a city-wide export): each row's county
  comes from its XIAN / 县 value, or ``--district`` for the whole file.
- MIAN_JI is hectares (``field-names.md``); an area column without a unit in
  its name is read in the unit its values match against the geometry.
- ``area_mu`` is always the ellipsoidal area of the polygon (GRS80).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from forestsink.area import area_mu as ellipsoidal_area_mu
from forestsink.errors import DeliveryError, InventoryError, UnknownNameError
from forestsink.ingest.archive import layer_file
from forestsink.ingest.attributes import extra_attrs
from forestsink.ingest.columns import (
    INVENTORY_CANONICAL,
    INVENTORY_REQUIRED,
    map_columns,
)
from forestsink.ingest.crs import STORE_CRS
from forestsink.ingest.files import check_layer_path, file_sha256
from forestsink.ingest.layer import read_layer
from forestsink.ingest.numbers import parse_numbers, reported_area, unread_numbers
from forestsink.ingest.values import as_text
from forestsink.ingest.vocabulary import read_vocabulary
from forestsink.reference import map_uniques

logger = logging.getLogger(__name__)

#: the parts of a 小班's key, in order (schema columns)
KEY_PARTS = ("township", "village", "compartment", "xiaoban", "sub_xiaoban")
#: canonical column -> stored text column
_TEXT = {
    "land_class": "land_class_raw",
    "land_class_before": "land_class_before_raw",
    "species": "species",
    "origin": "origin",
    "age_group": "age_group",
    "change_reason": "change_reason",
    "forest_category": "forest_category",
}


@dataclass
class InventoryLayer:
    """One delivered forest-resource layer, read.

    Attributes
    ----------
    path : Path
        The file as given (a .zip stays the .zip).
    sha256 : str
        Hash of the file's bytes (all sidecars of a Shapefile).
    year : int
        The year the layer describes.
    frame : geopandas.GeoDataFrame
        One row per 小班 (EPSG:4490), the stored columns whose values need
        no code table, plus ``unread_numbers`` where a number cell could not
        be read.
    """

    path: Path
    sha256: str
    year: int
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


def _code_text(value: object) -> str:
    """Text of a key part: ``12.0`` (a number column) reads as ``12``."""
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        return text[:-2]
    return text


def _key_part(values, n: int) -> pd.Series:
    """Return a key column as stripped text; empty where the layer has none."""
    if values is None:
        return pd.Series(pd.array([""] * n, dtype="string"))
    out = map_uniques(values, _code_text)
    return out.fillna("").astype("string")


def _first_filled(arrays: list[np.ndarray]) -> np.ndarray:
    """Per row the first non-empty value of several columns with one meaning."""
    out = np.array(arrays[0], dtype=object)
    for other in arrays[1:]:
        text = pd.Series(out, dtype=object)
        empty = (text.isna() | (text.astype(str).str.strip() == "")).to_numpy()
        out[empty] = np.asarray(other, dtype=object)[empty]
    return out


def read_inventory_layer(
    path,
    /,
    *,
    year: int,
    district: str | None = None,
    crs=None,
    encoding: str | None = None,
    layer: str | None = None,
    aliases=(),
    max_unzipped: int | None = None,
) -> InventoryLayer:
    """Read one county's (or several counties') forest-resource layer.

    Parameters
    ----------
    path : str or Path
        Shapefile (``.shp`` or a ``.zip`` of one), GeoPackage or GeoJSON.
    year : int
        The year the layer describes (its state at 31 December).
    district : str, optional (default: from the XIAN / 县 column)
        County name or code for the whole file; fills empty cells where the
        file has a county column.
    crs, encoding, layer, max_unzipped : optional
        As for :func:`forestsink.ingest.read.read_delivery`.
    aliases : iterable of path, optional (default: none)
        The user's aliases files (``--aliases``).

    Returns
    -------
    InventoryLayer

    Raises
    ------
    DeliveryError, CRSError
        The file cannot be read (missing parts, encoding, CRS, a required
        column — county, 小班 number, land class — not found).
    InventoryError
        A county value that is not a Chongqing district.
    """
    path = check_layer_path(path)
    sha = file_sha256(path)
    display = path.name
    with layer_file(path, max_unzipped=max_unzipped) as inner:
        read = read_layer(
            inner, layer=layer, crs=crs, encoding=encoding, display=display
        )
        truncated = inner.suffix.lower() == ".shp"
    raw, geoms, notes = read.raw, read.geoms, list(read.notes)
    vocab = read_vocabulary(aliases or ())
    cmap = map_columns(
        list(raw.columns),
        source=display,
        given=("district",) if district is not None else (),
        aliases=vocab.columns,
        truncated_names=truncated,
        canonical=INVENTORY_CANONICAL,
        required=INVENTORY_REQUIRED,
        aliases_hint="your aliases file (aliases=[FILE])",
    )
    notes.extend(cmap.notes)
    m = cmap.mapping
    n = len(raw)
    if n == 0:
        raise InventoryError(
            f"{display}: 图层没有小班 / the layer holds no 小班 (no features); "
            "export the county's sub-compartments and load again."
        )
    values = {c: raw.columns[col] for c, col in m.items()}
    for canonical, names in cmap.alternates.items():
        values[canonical] = _first_filled([raw.columns[c] for c in names])

    frame: dict[str, object] = {}
    frame["adcode"] = _districts(values.get("district"), district, vocab, n, display, m)
    parts = {p: _key_part(values.get(p), n) for p in KEY_PARTS}
    frame.update(parts)
    key = frame["adcode"].astype(str)
    for p in KEY_PARTS:
        key = key + "/" + parts[p]
    frame["key"] = key.str.replace(r"/$", "", regex=True)
    frame["year"] = np.full(n, int(year), dtype="int64")
    for canonical, column in _TEXT.items():
        if canonical in values:
            text = as_text(values[canonical]).str.strip()
            frame[column] = text.mask(text == "", pd.NA)
        else:
            frame[column] = pd.Series(pd.array([None] * n, dtype="string"))
    frame.update(_number_columns(values, m, notes, geoms, n))
    frame["source_row"] = np.arange(n, dtype="int64")
    frame["attrs"] = extra_attrs(raw, cmap.extra)
    frame["area_mu"] = _polygon_area_mu(geoms, n)
    arrays = {k: v.array if isinstance(v, pd.Series) else v for k, v in frame.items()}
    gdf = gpd.GeoDataFrame({**arrays, "geometry": geoms}, geometry="geometry")
    logger.debug("%s: %d 小班 read; %s", display, n, "; ".join(notes))
    return InventoryLayer(
        path=path,
        sha256=sha,
        year=int(year),
        frame=gdf,
        layer=read.layer,
        encoding=read.encoding,
        crs=read.crs,
        columns=dict(m),
        notes=notes,
    )


def _number_columns(values: dict, m: dict, notes: list[str], geoms, n: int) -> dict:
    """Return reported area (mu), volumes and canopy; unreadable cells named.

    The keys, in order: ``area_reported_mu``, ``volume_m3_ha``, ``stock_m3``,
    ``canopy`` (float, NaN where not given) and, where a cell could not be
    read, ``unread_numbers``.
    """
    unread: dict[tuple[str, str], list] = {}
    out: dict[str, object] = {
        "area_reported_mu": reported_area(values, m, notes, geoms, unread)
    }
    for canonical, column in (
        ("volume_m3_ha", "volume_m3_ha"),
        ("stock_volume_m3", "stock_m3"),
        ("canopy", "canopy"),
    ):
        if canonical in values:
            bad = unread.setdefault((column, m[canonical]), [])
            out[column] = np.asarray(
                parse_numbers(values[canonical], bad), dtype="float64"
            )
        else:
            out[column] = np.full(n, np.nan)
    if any(unread.values()):
        out["unread_numbers"] = unread_numbers(unread, n)
    return out


def _polygon_area_mu(geoms, n: int) -> np.ndarray:
    """Ellipsoidal (GRS80) area of each polygon in mu; NaN where empty or missing.

    *geoms* are in EPSG:4490.
    """
    series = gpd.GeoSeries(geoms, crs=STORE_CRS)
    empty = series.isna() | series.is_empty
    area = np.full(n, np.nan)
    if (~empty).any():
        area[~empty.to_numpy()] = ellipsoidal_area_mu(series[~empty])
    return area


def _districts(values, district, vocab, n: int, display: str, m: dict) -> pd.Series:
    """Each row's county code (6 digits); unknown values raise, naming rows."""
    code = None
    if district is not None:
        try:
            code = vocab.districts.resolve(district)
        except UnknownNameError as err:
            raise DeliveryError(f"district: {err}", option="district") from err
    if values is None:
        return pd.Series(pd.array([code] * n, dtype="string"))
    text = as_text(values).str.strip()
    if code is not None:
        text = text.mask(text.isna() | (text == ""), code)
    codes = vocab.districts.resolve_many(text.map(_code_text, na_action="ignore"))
    unknown = codes.isna().to_numpy()
    if unknown.any():
        rows = np.flatnonzero(unknown)
        shown = ", ".join(
            f"第{i + 1}行 row {i + 1}: "
            + ("(空 empty)" if pd.isna(text.iloc[i]) else repr(text.iloc[i]))
            for i in rows[:5].tolist()
        )
        more = f" (and {len(rows) - 5} more)" if len(rows) > 5 else ""
        raise InventoryError(
            f"{display}: 列 {m['district']!r} 的区县无法识别 / column "
            f"{m['district']!r}: {len(rows)} feature(s) name no Chongqing "
            f"district — {shown}{more}. A forest-resource layer is loaded per "
            "Chongqing county: check the county code (6 digits, 5001xx/5002xx) "
            "or name, or give the county for the whole file as district=NAME.",
            option="district",
        )
    return codes.astype("string")
