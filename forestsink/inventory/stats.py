"""Official forest statistics from a year's sub-compartment (小班) layer.

The quantities the plan's headline targets name, computed the way the bureau
computes them (``../shared/official-statistics.md`` §1–2):

- **forest area** (森林面积) = area of the 小班 whose land class counts as
  forest (乔木林 0111, 红树林 0112, 竹林 0113, 国家特别规定灌木林 0131, and
  their forms in the other schemes: ``counts_as_forest`` in
  ``data/land_classes.csv``);
- **coverage** (森林覆盖率) = forest area ÷ the district's **total**
  administrative area (water included) × 100;
- **forest-land area** (林地面积) = area of every forest-land class;
- **standing stock** (活立木蓄积, in the layer) = Σ per-hectare volume
  (HUO_LMGQXJ, m³/ha) × area (ha), or the 小班's own total volume where that
  is what the file carries; **forest stock** (森林蓄积) the same over forest
  classes only.

All areas are in mu (1 mu = 666.67 m²) and must be ellipsoidal (the caller
measures them with :func:`forestsink.area.area_mu`); volumes in m³. Pure
functions over frames: no file, no store.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestsink.inventory.classes import forest_groups
from forestsink.store.inventory_schema import LAND_GROUPS
from forestsink.units import MU_PER_HA

CITY_ADCODE = "500000"
"""The row of the whole city in the statistics tables."""

STAT_COLUMNS = (
    "adcode",
    "name_zh",
    "name_en",
    "year",
    "total_area_mu",
    "forest_area_mu",
    "coverage_pct",
    "forest_land_area_mu",
    "stock_m3",
    "forest_stock_m3",
    "stock_basis",
    "n_xiaoban",
    "note",
)


#: columns of a per-(district, land group) sum table: what
#: :func:`sums_by_class` computes in pandas and the store computes in SQL
#: (``inventory_sums``)
SUM_COLUMNS = (
    "n_xiaoban",
    "area_mu",
    "stock_per_ha_m3",
    "n_per_ha",
    "stock_total_m3",
    "n_total",
)


def sums_by_class(xiaoban: pd.DataFrame, by=("adcode", "land_group")) -> pd.DataFrame:
    """Area and stock of 小班 summed per district and land group.

    Parameters
    ----------
    xiaoban : pandas.DataFrame
        Stored 小班 columns (:mod:`forestsink.store.inventory_schema`): *by*,
        ``area_mu`` and optionally ``volume_m3_ha`` (HUO_LMGQXJ, m³/ha) and
        ``stock_m3`` (the 小班's total, m³).
    by : tuple of str, optional (default: district and land group)

    Returns
    -------
    pandas.DataFrame
        *by* and :data:`SUM_COLUMNS`: ``stock_per_ha_m3`` = Σ volume_m3_ha ×
        area (ha) over 小班 with a per-hectare volume; ``stock_total_m3`` =
        Σ stock_m3 over 小班 with only a total.
    """
    n = len(xiaoban)
    area = xiaoban["area_mu"].to_numpy(float)
    per_ha = (
        pd.to_numeric(xiaoban["volume_m3_ha"], errors="coerce").to_numpy(float)
        if "volume_m3_ha" in xiaoban
        else np.full(n, np.nan)
    )
    total = (
        pd.to_numeric(xiaoban["stock_m3"], errors="coerce").to_numpy(float)
        if "stock_m3" in xiaoban
        else np.full(n, np.nan)
    )
    has_per_ha = np.isfinite(per_ha)
    has_total = ~has_per_ha & np.isfinite(total)
    parts = pd.DataFrame({c: xiaoban[c].astype(str).to_numpy() for c in by})
    parts["n_xiaoban"] = 1
    parts["area_mu"] = area
    parts["stock_per_ha_m3"] = np.where(has_per_ha, per_ha * area / MU_PER_HA, 0.0)
    parts["n_per_ha"] = has_per_ha.astype("int64")
    parts["stock_total_m3"] = np.where(has_total, total, 0.0)
    parts["n_total"] = has_total.astype("int64")
    return parts.groupby(list(by), as_index=False)[list(SUM_COLUMNS)].sum()


def forest_statistics(
    xiaoban: pd.DataFrame,
    *,
    classes: pd.DataFrame,
    districts: pd.DataFrame,
    year: int | None = None,
) -> pd.DataFrame:
    """Coverage, forest area, forest-land area and stock of a year's 小班.

    :func:`statistics_from_sums` of :func:`sums_by_class`; see there.

    Parameters
    ----------
    xiaoban : pandas.DataFrame or geopandas.GeoDataFrame
        One year's 小班 (:mod:`forestsink.store.inventory_schema` columns):
        ``adcode``, ``land_group``, ``area_mu`` (mu, ellipsoidal, as the
        store measured it) and optionally ``volume_m3_ha`` (m³/ha) and
        ``stock_m3`` (m³). The geometry, if any, is not used.
    classes : pandas.DataFrame
        :func:`forestsink.reference.read_land_classes` (which land groups
        are forest, which forest land).
    districts : pandas.DataFrame
        ``adcode``, ``name_zh``, ``name_en`` and ``total_area_mu``: each
        district's total administrative area (mu on the GRS80 ellipsoid,
        water included; :func:`forestsink.inventory.load.district_areas`).
    year : int, optional (default: None)
        Written into the ``year`` column.

    Returns
    -------
    pandas.DataFrame
        :data:`STAT_COLUMNS` (areas in mu, stock in m³, coverage in
        percent), one row per district and the city (``adcode`` 500000).

    Notes
    -----
    CRS Notes: no geometry is read; the areas are the stored ``area_mu``
    (EPSG:4490 polygons measured on the GRS80 ellipsoid).
    """
    return statistics_from_sums(
        sums_by_class(xiaoban), classes=classes, districts=districts, year=year
    )


def statistics_from_sums(
    sums: pd.DataFrame,
    *,
    classes: pd.DataFrame,
    districts: pd.DataFrame,
    year: int | None = None,
) -> pd.DataFrame:
    """Coverage, forest area, forest-land area and stock per district and city.

    Parameters
    ----------
    sums : pandas.DataFrame
        Per ``adcode`` and ``land_group``: :data:`SUM_COLUMNS`
        (:func:`sums_by_class`, or the store's ``inventory_sums``).
    classes : pandas.DataFrame
        :func:`forestsink.reference.read_land_classes` (which land groups
        are forest, which forest land: :func:`forest_groups`).
    districts : pandas.DataFrame
        ``adcode``, ``name_zh``, ``name_en`` and ``total_area_mu``: each
        district's total administrative area (ellipsoidal, water included).
    year : int, optional (default: None)
        Written into the ``year`` column.

    Returns
    -------
    pandas.DataFrame
        :data:`STAT_COLUMNS`, one row per district of *districts* and a city
        row (``adcode`` 500000). A district with no 小班 gets NaN figures and
        a note saying its layer is missing (never filled in); the city row
        then says which districts are missing and its figures (and its total
        area) cover only the others. ``stock_basis`` says how the stock was
        got (``per_ha_x_area``: Σ HUO_LMGQXJ × ha; ``total``: the 小班's own
        volume; ``mixed``; ``none``). ``stock_m3`` is the standing stock of
        every 小班 of the layer (活立木 in 小班), ``forest_stock_m3`` that of
        the forest classes only (森林蓄积).
    """
    forest, land = forest_groups(classes)
    parts = sums.copy()
    parts["adcode"] = parts["adcode"].astype(str)
    is_forest = parts["land_group"].isin(list(forest)).to_numpy()
    is_land = parts["land_group"].isin(list(land)).to_numpy()
    stock = parts["stock_per_ha_m3"].to_numpy(float) + parts["stock_total_m3"].to_numpy(
        float
    )
    has_stock = (parts["n_per_ha"] + parts["n_total"]).to_numpy() > 0
    frame = pd.DataFrame(
        {
            "adcode": parts["adcode"].to_numpy(),
            "n_xiaoban": parts["n_xiaoban"].to_numpy(),
            "forest_area_mu": np.where(is_forest, parts["area_mu"], 0.0),
            "forest_land_area_mu": np.where(is_land, parts["area_mu"], 0.0),
            "stock_m3": stock,
            "forest_stock_m3": np.where(is_forest, stock, 0.0),
            "n_per_ha": parts["n_per_ha"].to_numpy(),
            "n_total": parts["n_total"].to_numpy(),
            "has_stock": has_stock,
        }
    )
    grouped = frame.groupby("adcode")
    per = grouped[
        [
            "n_xiaoban",
            "forest_area_mu",
            "forest_land_area_mu",
            "stock_m3",
            "forest_stock_m3",
            "n_per_ha",
            "n_total",
        ]
    ].sum()
    per["has_stock"] = grouped["has_stock"].any()
    per["stock_basis"] = [
        _basis_of(a, b) for a, b in zip(per["n_per_ha"], per["n_total"], strict=True)
    ]
    out = districts[["adcode", "name_zh", "name_en", "total_area_mu"]].copy()
    out["adcode"] = out["adcode"].astype(str)
    out = out.merge(per, how="left", left_on="adcode", right_index=True)
    missing = out["n_xiaoban"].isna()
    no_stock = ~out["has_stock"].fillna(False).astype(bool)
    out.loc[no_stock, ["stock_m3", "forest_stock_m3"]] = np.nan
    out["n_xiaoban"] = out["n_xiaoban"].fillna(0).astype("int64")
    out["stock_basis"] = out["stock_basis"].fillna("none")
    out["note"] = np.where(
        missing, "该年无此区县图层 / no layer for this district in this year", ""
    )
    present = out[~missing]
    city = {
        "adcode": CITY_ADCODE,
        "name_zh": "重庆市",
        "name_en": "Chongqing",
        "total_area_mu": present["total_area_mu"].sum(),
        "forest_area_mu": present["forest_area_mu"].sum(),
        "forest_land_area_mu": present["forest_land_area_mu"].sum(),
        "stock_m3": present["stock_m3"].sum(min_count=1),
        "forest_stock_m3": present["forest_stock_m3"].sum(min_count=1),
        "stock_basis": _basis(present["stock_basis"]),
        "n_xiaoban": int(present["n_xiaoban"].sum()),
        "note": (
            "不含 / without: " + ", ".join(out.loc[missing, "name_zh"])
            if missing.any()
            else ""
        ),
    }
    out = pd.concat([out, pd.DataFrame([city])], ignore_index=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["coverage_pct"] = 100.0 * out["forest_area_mu"] / out["total_area_mu"]
    out["year"] = pd.array([year] * len(out), dtype="Int64")
    return out[list(STAT_COLUMNS)]


def _basis_of(n_per_ha: float, n_total: float) -> str:
    if n_per_ha and n_total:
        return "mixed"
    if n_per_ha:
        return "per_ha_x_area"
    return "total" if n_total else "none"


def _basis(values: pd.Series) -> str:
    kinds = set(values) - {"none"}
    if not kinds:
        return "none"
    return kinds.pop() if len(kinds) == 1 else "mixed"


def transfer_matrix(
    xiaoban: pd.DataFrame,
    *,
    classes: pd.DataFrame,
    before: str = "land_group_before",
    after: str = "land_group",
    by: str = "adcode",
) -> pd.DataFrame:
    """Land-class transfer matrix: area (mu) from each land group to each.

    Parameters
    ----------
    xiaoban : pandas.DataFrame
        The later year's 小班 (or the pieces of an overlay of two years):
        *by*, ``area_mu`` and two land groups: *before* (the previous class,
        Q_DI_LEI, or the earlier layer's class where they were overlaid) and
        *after* (DI_LEI); optionally ``change_reason`` (BHYY).
    classes : pandas.DataFrame
        :func:`forestsink.reference.read_land_classes`.
    before : str, optional (default: "land_group_before")
        Column of the land group before.
    after : str, optional (default: "land_group")
        Column of the land group after.
    by : str, optional (default: "adcode")
        Column to group by (the district).

    Returns
    -------
    pandas.DataFrame
        One row per (*by*, group before, group after, change reason) with
        area: *by*, ``group_from``, ``name_from``, ``forest_from``,
        ``group_to``, ``name_to``, ``forest_to``, ``change_reason``,
        ``area_mu``; sorted. Forest gain is the area with ``forest_to &
        ~forest_from``, loss the reverse. Groups, not codes, so layers in
        different code schemes compare.

    Notes
    -----
    CRS Notes: no geometry is read; ``area_mu`` is taken as given (the
    store's, or the overlay pieces', mu on the GRS80 ellipsoid from
    EPSG:4490 polygons).
    """
    forest, _ = forest_groups(classes)
    reason = (
        xiaoban["change_reason"].astype("string").fillna("").to_numpy(dtype=object)
        if "change_reason" in xiaoban
        else np.full(len(xiaoban), "", dtype=object)
    )
    frame = pd.DataFrame(
        {
            by: xiaoban[by].astype(str).to_numpy(),
            "group_from": xiaoban[before].astype(str).to_numpy(),
            "group_to": xiaoban[after].astype(str).to_numpy(),
            "change_reason": reason,
            "area_mu": xiaoban["area_mu"].to_numpy(float),
        }
    )
    return describe_transfers(frame, forest=forest, by=by)


def describe_transfers(
    frame: pd.DataFrame, *, forest: frozenset[str], by: str = "adcode"
) -> pd.DataFrame:
    """Sum pieces ``by, group_from, group_to, change_reason, area_mu``; name them."""
    keys = [by, "group_from", "group_to", "change_reason"]
    sums = frame.groupby(keys, as_index=False)["area_mu"].sum()
    sums = sums[sums["area_mu"] > 0].copy()
    for side in ("from", "to"):
        groups = sums[f"group_{side}"]
        sums[f"name_{side}"] = groups.map(
            lambda g: " / ".join(LAND_GROUPS.get(g, (g, g)))
        )
        sums[f"forest_{side}"] = groups.isin(list(forest)).to_numpy()
    columns = [
        by,
        "group_from",
        "name_from",
        "forest_from",
        "group_to",
        "name_to",
        "forest_to",
        "change_reason",
        "area_mu",
    ]
    return sums[columns].sort_values(keys, ignore_index=True)
