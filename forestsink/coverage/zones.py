"""Zones to measure: Chongqing's districts, assessment units, or a polygon file.

:func:`read_zones` returns a :class:`ZoneSet` (the polygons, the rows to
report and which zones each row adds up). ``districts`` and ``units`` come
from the shipped reference layers, with a city row (:data:`CITY_ADCODE`); a
polygon file is read with the delivery reader's encoding rules
(:func:`read_zone_layer`: ``.cpg``, then the bytes) and needs unique ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from forestsink.errors import CoverageError, CRSError, ForestsinkError, ZoneFileError
from forestsink.ingest.encoding import detect_dbf_encoding
from forestsink.reference import read_assessment_units, read_districts

logger = logging.getLogger(__name__)


CITY_ADCODE = "500000"
"""``adcode`` of the city-wide row (重庆市); its ``level`` is ``"city"``."""


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

    layer = gpd.GeoDataFrame(rows.copy(), geometry=[city, *d.geometry], crs=d.crs)
    return ZoneSet("districts", d[["adcode", "geometry"]], rows, membership, layer)


def _unit_zones() -> ZoneSet:
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
    logger.info("%s: text encoding %s (%s)", path, codec, reason)
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
        "唯一编号：改正编号，用 zone_id 另选一列，或把同一区域的要素合并"
        f"（如 {sql}）。 / {path}, column '{column}': duplicate zone ids: "
        f"{'; '.join(en)}{tail_en}. Each zone needs its own id: correct the ids, "
        "choose another column with zone_id, or merge the features of one zone "
        f"(e.g. {sql}).",
        option="zone_id",
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
            "them as zone_id.",
            option="zone_id",
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
            f"zones={text!r}: not 'districts', 'units' or an existing polygon file.",
            option="zones",
        )
    return _file_zones(path, id_column)
