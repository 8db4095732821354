"""Check a read forest-resource layer and resolve its land classes.

A forest-resource layer is the bureau's official map: it is loaded whole or
not at all. :func:`prepare_layer` resolves DI_LEI / Q_DI_LEI through the code
tables (:func:`forestsink.inventory.resolve_land_classes`) and refuses the
layer, with one :class:`~forestsink.errors.InventoryError` listing every
problem (file, feature row from 1, key, field, value, what to do), when any
of these holds:

``unknown_class``
    A land-class (or previous-class) value no code table knows; the message
    lists the known codes.
``no_polygon`` / ``invalid_polygon``
    A 小班 without a polygon (its area cannot be measured) or with an invalid
    one (self-intersection …: repair it in the GIS, e.g. QGIS "Fix
    geometries", and deliver again).
``duplicate_key``
    Two 小班 with one key (county + township + village + 林班 + 小班 + 细班).
``empty_xiaoban``
    A 小班 without its number.
``volume_on_non_forest``
    A per-hectare or total volume on a class that holds no stand by
    definition (:data:`NO_STAND_GROUPS`: non-forest land, treeless forest
    land, land suitable for forest).
``volume_out_of_range``
    A negative volume, or one above the ``impossible_above`` bound of
    ``stock_volume_per_ha`` in ``data/value_ranges.csv``.
``canopy_out_of_range``
    YU_BI_DU outside 0–1.
``not_a_number``
    A number cell that could not be read.
``overlap``
    Two 小班 of one county that overlap by more than
    :data:`OVERLAP_TOLERANCE_M2` and more than
    :data:`OVERLAP_TOLERANCE_SHARE` of the smaller one (a county's 小班 tile
    its land once; an overlap counts land twice in the forest area). Smaller
    overlaps are noted (how many, total m²), not refused.

Pure computation: frames in, frames out.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from forestsink.area import area_m2
from forestsink.errors import InventoryError
from forestsink.inventory.classes import land_columns, resolve_land_classes
from forestsink.units import M2_PER_MU, MU_PER_HA

#: land groups that hold no stand by definition: a volume there is an error
NO_STAND_GROUPS = frozenset({"non_forest", "treeless", "suitable"})
#: overlaps up to this many m² (ellipsoidal) …
OVERLAP_TOLERANCE_M2 = 10.0
#: … or up to this share of the smaller 小班 are digitising noise (slivers
#: from coordinate conversion and rounding): noted with their total, not
#: refused. A 4 km² 小班 may overlap its neighbour by 400 m², a 1 mu one by
#: 10 m²; the sample's 190 mu overlap, or any copied 小班, is refused.
OVERLAP_TOLERANCE_SHARE = 1e-4
#: problems listed in one message (the count of the rest is given)
MAX_LISTED = 12


def _where(frame: pd.DataFrame, i: int) -> str:
    row = int(frame["source_row"].iloc[i]) + 1
    return f"第{row}行 row {row} ({frame['key'].iloc[i]})"


def known_codes_text(classes: pd.DataFrame) -> str:
    """Return the known land-class codes, one group per scheme, for messages."""
    parts = []
    for scheme, rows in classes.groupby("scheme", sort=False):
        codes = " ".join(
            f"{c} {n}" for c, n in zip(rows["code"], rows["name_zh"], strict=True)
        )
        parts.append(f"{scheme}: {codes}")
    return "; ".join(parts)


def _resolve(frame, column, classes, problems, field_name, display) -> pd.Series:
    raw = frame[column]
    labels = resolve_land_classes(raw, classes)
    bad = np.flatnonzero((labels.isna() & raw.notna()).to_numpy())
    for i in bad.tolist():
        problems.append(
            f"{_where(frame, i)}: {field_name} {raw.iloc[i]!r} 地类代码未知 / "
            "unknown land-class code"
        )
    return labels


def prepare_layer(
    frame: pd.DataFrame,
    *,
    classes: pd.DataFrame,
    ranges: pd.DataFrame,
    display: str,
    columns: dict[str, str] | None = None,
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """Resolve land classes and check a layer; return the frame to store.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        From :func:`forestsink.ingest.inventory.read_inventory_layer`
        (EPSG:4490).
    classes : pandas.DataFrame
        :func:`forestsink.reference.read_land_classes`.
    ranges : pandas.DataFrame
        :func:`forestsink.reference.read_value_ranges`.
    display : str
        File name for messages.
    columns : dict, optional
        Canonical column -> the file's column name, for messages.
    notes : list, optional
        Notes about the layer are appended here (overlaps within tolerance).

    Returns
    -------
    geopandas.GeoDataFrame
        *frame* with ``land_scheme``, ``land_code``, ``land_group``,
        ``is_forest``, ``is_forest_land`` and ``land_group_before`` added and
        ``unread_numbers`` dropped.

    Raises
    ------
    InventoryError
        Listing every problem (up to :data:`MAX_LISTED`, then how many more).
    """
    field_of = _field_names(columns or {})
    out = frame.reset_index(drop=True).copy()
    problems = _resolve_land_columns(out, classes, field_of, display)
    polygon_problems, missing, invalid = _polygon_problems(out)
    problems += polygon_problems
    problems += _key_problems(out, field_of)
    if "unread_numbers" in out:
        problems += _unread_number_problems(out)
        out = out.drop(columns="unread_numbers")
    problems += _volume_problems(out, ranges, field_of)
    problems += _canopy_problems(out, field_of)
    # ---- overlaps within each county
    found, noise = _overlaps(out, ~missing & ~invalid)
    problems.extend(found)
    if noise and notes is not None:
        notes.append(
            f"{noise[0]} 处小班微小重叠（共 {noise[1]:,.1f} m²）视为数字化误差 / "
            f"{noise[0]} overlap(s) between 小班 within tolerance (total "
            f"{noise[1]:,.1f} m²) treated as digitising noise"
        )
    if problems:
        raise _refusal(display, problems, classes)
    return out


def _field_names(names: dict[str, str]) -> dict[str, str]:
    """Return canonical column -> the file's column name, quoted, for messages."""
    return {
        c: repr(names.get(c, c))
        for c in (
            "land_class",
            "land_class_before",
            "volume_m3_ha",
            "stock_volume_m3",
            "canopy",
            "xiaoban",
        )
    }


def _resolve_land_columns(
    out: pd.DataFrame, classes: pd.DataFrame, field_of: dict[str, str], display: str
) -> list[str]:
    """Add the resolved land-class columns to *out* (in place); return problems.

    Unknown codes (this year's and the previous class) and empty land
    classes are the problems.
    """
    problems: list[str] = []
    labels = _resolve(
        out, "land_class_raw", classes, problems, field_of["land_class"], display
    )
    empty_class = np.flatnonzero(out["land_class_raw"].isna().to_numpy())
    for i in empty_class.tolist():
        problems.append(
            f"{_where(out, i)}: {field_of['land_class']} 地类为空 / no land class"
        )
    before = _resolve(
        out,
        "land_class_before_raw",
        classes,
        problems,
        field_of["land_class_before"],
        display,
    )
    resolved = land_columns(labels, classes)
    for column in resolved:
        out[column] = resolved[column].to_numpy()
    out["land_group_before"] = land_columns(before, classes)["land_group"].to_numpy()
    return problems


def _polygon_problems(out: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return the problems of missing or invalid polygons, and both masks."""
    problems = []
    geoms = out.geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(missing).tolist():
        problems.append(
            f"{_where(out, i)}: 没有多边形，无法量算面积 / no polygon: its area "
            "cannot be measured; deliver the 小班's boundary"
        )
    invalid = ~missing & ~shapely.is_valid(geoms)
    for i in np.flatnonzero(invalid).tolist():
        reason = shapely.is_valid_reason(geoms[i])
        problems.append(
            f"{_where(out, i)}: 多边形无效 / invalid polygon ({reason}); repair it "
            "in the GIS (QGIS: Fix geometries) and deliver again"
        )
    return problems, missing, invalid


def _key_problems(out: pd.DataFrame, field_of: dict[str, str]) -> list[str]:
    """Return the problems of empty 小班 numbers and duplicate keys."""
    problems = []
    blank = np.flatnonzero((out["xiaoban"].fillna("") == "").to_numpy())
    for i in blank.tolist():
        problems.append(
            f"{_where(out, i)}: {field_of['xiaoban']} 小班号为空 / no 小班 number"
        )
    dup = (
        out["key"].duplicated(keep=False).to_numpy()
        & (out["xiaoban"].fillna("") != "").to_numpy()
    )
    for key, idx in out[dup].groupby("key").groups.items():
        rows_text = ", ".join(str(int(out.loc[j, "source_row"]) + 1) for j in idx)
        problems.append(
            f"小班 {key}: 键重复 / duplicate key in rows {rows_text} (county + "
            "township + village + 林班 + 小班 + 细班 must be unique); renumber or "
            "merge them"
        )
    return problems


def _unread_number_problems(out: pd.DataFrame) -> list[str]:
    """Return the problems of number cells the reader could not read."""
    problems = []
    for i in np.flatnonzero(out["unread_numbers"].notna().to_numpy()).tolist():
        for _name, column, value in json.loads(out["unread_numbers"].iloc[i]):
            problems.append(
                f"{_where(out, i)}: {column!r} 的值 {value!r} 不是数字 / is not a "
                "number; write a plain number"
            )
    return problems


def _volume_problems(
    out: pd.DataFrame, ranges: pd.DataFrame, field_of: dict[str, str]
) -> list[str]:
    """Return impossible volumes (m³/ha), then volumes on land with no stand."""
    problems = []
    limits = ranges.loc["stock_volume_per_ha"]
    top = float(limits["impossible_above"])
    per_ha = out["volume_m3_ha"].to_numpy(float)
    total = out["stock_m3"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        total_per_ha = total / (out["area_mu"].to_numpy(float) / MU_PER_HA)
    for values, name in ((per_ha, "volume_m3_ha"), (total_per_ha, "stock_volume_m3")):
        wrong = np.isfinite(values) & ((values < 0) | (values > top))
        src = per_ha if name == "volume_m3_ha" else total
        for i in np.flatnonzero(wrong).tolist():
            problems.append(
                f"{_where(out, i)}: {field_of[name]} {src[i]:g} 蓄积超出可能范围 / "
                f"volume impossible (per hectare below 0 or above {top:g} m³/ha); "
                "check the unit and the decimal point"
            )
    has_volume = (np.isfinite(per_ha) & (per_ha > 0)) | (
        np.isfinite(total) & (total > 0)
    )
    no_stand = out["land_group"].isin(list(NO_STAND_GROUPS)).fillna(False).to_numpy()
    for i in np.flatnonzero(has_volume & no_stand).tolist():
        problems.append(
            f"{_where(out, i)}: 非林地或无立木地类 {out['land_class_raw'].iloc[i]!r} "
            f"有蓄积 / a volume on land class {out['land_code'].iloc[i]} "
            f"({out['land_group'].iloc[i]}), which holds no stand; correct the "
            "class or the volume"
        )
    return problems


def _canopy_problems(out: pd.DataFrame, field_of: dict[str, str]) -> list[str]:
    """Return canopy closures (YU_BI_DU) outside 0–1."""
    canopy = out["canopy"].to_numpy(float)
    return [
        f"{_where(out, i)}: {field_of['canopy']} {canopy[i]:g} 郁闭度应在 0–1 / "
        "canopy closure must be between 0 and 1 (write 0.65, not 65)"
        for i in np.flatnonzero(
            np.isfinite(canopy) & ((canopy < 0) | (canopy > 1))
        ).tolist()
    ]


def _refusal(
    display: str, problems: list[str], classes: pd.DataFrame
) -> InventoryError:
    """Return the error refusing the layer, listing up to MAX_LISTED problems."""
    n = len(problems)
    listed = "\n  ".join(problems[:MAX_LISTED])
    more = f"\n  … and {n - MAX_LISTED} more" if n > MAX_LISTED else ""
    return InventoryError(
        f"{display}: {n} 个问题，图层未载入 / {n} problem(s); the layer was not "
        f"loaded (the store is unchanged):\n  {listed}{more}"
        + (
            f"\nKnown land-class codes / 已知地类代码: {known_codes_text(classes)}"
            if any("unknown land-class" in p for p in problems)
            else ""
        )
    )


def _overlaps(frame, usable: np.ndarray) -> tuple[list[str], tuple[int, float]]:
    """Return overlaps beyond tolerance, and (count, m²) of those within it."""
    idx = _not_a_coverage(frame, np.flatnonzero(usable))
    if len(idx) < 2:
        return [], (0, 0.0)
    geoms = frame.geometry.to_numpy()[idx]
    tree = shapely.STRtree(geoms)
    pairs = []
    for predicate in ("overlaps", "contains"):
        left, right = tree.query(geoms, predicate=predicate)
        keep = left != right
        pairs.append(np.stack([left[keep], right[keep]], axis=1))
    both = np.concatenate(pairs)
    if not len(both):
        return [], (0, 0.0)
    both = np.unique(np.sort(both, axis=1), axis=0)
    a, b = idx[both[:, 0]], idx[both[:, 1]]
    same_county = frame["adcode"].to_numpy()[a] == frame["adcode"].to_numpy()[b]
    a, b = a[same_county], b[same_county]
    if not len(a):
        return [], (0, 0.0)
    all_geoms = frame.geometry.to_numpy()
    inter = shapely.intersection(all_geoms[a], all_geoms[b])
    m2 = area_m2(gpd.GeoSeries(inter, crs=frame.crs))
    own = frame["area_mu"].to_numpy(float) * M2_PER_MU
    limit = np.maximum(
        OVERLAP_TOLERANCE_M2, OVERLAP_TOLERANCE_SHARE * np.minimum(own[a], own[b])
    )
    noise = (m2 > 0) & (m2 <= limit)
    out = []
    for i, j, area, lim in zip(a.tolist(), b.tolist(), m2.tolist(), limit, strict=True):
        if area > lim:
            out.append(
                f"{_where(frame, i)} 与 / and {_where(frame, j)}: 小班重叠 "
                f"{area / M2_PER_MU:,.1f} 亩 / the 小班 overlap by {area:,.1f} m² "
                f"({area / M2_PER_MU:,.1f} mu: land counted twice); fix the "
                "boundaries in the GIS"
            )
    return out, (int(noise.sum()), float(m2[noise].sum()))


def _not_a_coverage(frame, idx: np.ndarray) -> np.ndarray:
    """Rows *idx* of the counties whose 小班 do not form a valid coverage.

    A county whose polygons form a valid polygonal coverage (GEOS
    ``CoverageValidator``: no two interiors intersect, shared edges match
    vertex for vertex, duplicates refused) has no overlap at all, so the
    pairwise test is needed only for the others: one linear pass instead of
    a full ``overlaps``/``contains`` relate of every neighbouring pair (the
    load's hot spot on a province's millions of 小班). Without GEOS ≥ 3.12
    every row is kept.
    """
    if len(idx) < 2:
        return idx
    geoms = frame.geometry.to_numpy()[idx]
    codes = frame["adcode"].to_numpy()[idx]
    keep = np.ones(len(idx), dtype=bool)
    for code in pd.unique(codes):
        rows = np.flatnonzero(codes == code)
        try:
            valid = bool(shapely.coverage_is_valid(geoms[rows]))
        except (AttributeError, shapely.errors.UnsupportedGEOSVersionError):
            return idx
        except shapely.errors.GEOSException:
            valid = False
        if valid:
            keep[rows] = False
    return idx[keep]
