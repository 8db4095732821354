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


def _stock(xiaoban: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each 小班's standing stock (m³, NaN when absent) and how it was got."""
    n = len(xiaoban)
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
    area_ha = xiaoban["area_mu"].to_numpy(float) / MU_PER_HA
    from_per_ha = per_ha * area_ha
    stock = np.where(np.isfinite(from_per_ha), from_per_ha, total)
    basis = np.where(
        np.isfinite(from_per_ha),
        "per_ha_x_area",
        np.where(np.isfinite(total), "total", "none"),
    )
    return stock, basis


def forest_statistics(
    xiaoban: pd.DataFrame,
    *,
    classes: pd.DataFrame,
    districts: pd.DataFrame,
    year: int | None = None,
) -> pd.DataFrame:
    """Coverage, forest area, forest-land area and stock per district and city.

    Parameters
    ----------
    xiaoban : pandas.DataFrame
        One row per 小班 of one year: ``adcode``, ``area_mu`` (ellipsoidal,
        mu), ``land_class`` (row label in *classes*, from
        :func:`forestsink.inventory.resolve_land_classes`; unknown classes
        must have been refused before), and optionally ``volume_m3_ha``
        (per-hectare stock, HUO_LMGQXJ) and/or ``stock_m3`` (the 小班's total).
    classes : pandas.DataFrame
        :func:`forestsink.reference.read_land_classes`.
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
        then says which districts are missing and its figures cover only the
        others. ``stock_basis`` says how the stock was got
        (``per_ha_x_area``, ``total``, ``mixed`` or ``none``).
    """
    rows = xiaoban.reset_index(drop=True)
    label = rows["land_class"].to_numpy()
    forest = classes["counts_as_forest"].reindex(label).fillna(False).to_numpy(bool)
    land = classes["forest_land"].reindex(label).fillna(False).to_numpy(bool)
    area = rows["area_mu"].to_numpy(float)
    stock, basis = _stock(rows)
    parts = pd.DataFrame(
        {
            "adcode": rows["adcode"].astype(str).to_numpy(),
            "forest_area_mu": np.where(forest, area, 0.0),
            "forest_land_area_mu": np.where(land, area, 0.0),
            "stock_m3": np.nan_to_num(stock),
            "forest_stock_m3": np.where(forest, np.nan_to_num(stock), 0.0),
            "has_stock": np.isfinite(stock),
            "basis": basis,
        }
    )
    grouped = parts.groupby("adcode")
    sums = grouped[
        ["forest_area_mu", "forest_land_area_mu", "stock_m3", "forest_stock_m3"]
    ].sum()
    sums["n_xiaoban"] = grouped.size()
    sums["stock_basis"] = grouped["basis"].agg(_basis)
    sums["has_stock"] = grouped["has_stock"].any()

    out = districts[["adcode", "name_zh", "name_en", "total_area_mu"]].copy()
    out["adcode"] = out["adcode"].astype(str)
    out = out.merge(sums, how="left", left_on="adcode", right_index=True)
    missing = out["n_xiaoban"].isna()
    out.loc[~out["has_stock"].fillna(False).astype(bool), "stock_m3"] = np.nan
    out.loc[~out["has_stock"].fillna(False).astype(bool), "forest_stock_m3"] = np.nan
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


def _basis(values: pd.Series) -> str:
    kinds = set(values) - {"none"}
    if not kinds:
        return "none"
    return kinds.pop() if len(kinds) == 1 else "mixed"


def transfer_matrix(
    xiaoban: pd.DataFrame,
    *,
    classes: pd.DataFrame,
    before: str = "land_class_before",
    after: str = "land_class",
    by: str = "adcode",
) -> pd.DataFrame:
    """Land-class transfer matrix: area (mu) from each class to each class.

    Parameters
    ----------
    xiaoban : pandas.DataFrame
        The later year's 小班: *by*, ``area_mu`` and two land-class row labels
        (from :func:`forestsink.inventory.resolve_land_classes`): *before*
        (the previous class, Q_DI_LEI, or the earlier layer's class where
        they were overlaid) and *after* (DI_LEI).
    classes : pandas.DataFrame
        :func:`forestsink.reference.read_land_classes`.
    before, after, by : str, optional
        Column names (defaults: ``land_class_before``, ``land_class``,
        ``adcode``).

    Returns
    -------
    pandas.DataFrame
        One row per (*by*, class before, class after) with area: *by*,
        ``class_from``, ``name_from_zh``, ``forest_from``, ``class_to``,
        ``name_to_zh``, ``forest_to``, ``area_mu``; sorted. Forest gain is
        the area with ``forest_to & ~forest_from``, loss the reverse.
    """
    frame = pd.DataFrame(
        {
            by: xiaoban[by].astype(str).to_numpy(),
            "from": xiaoban[before].to_numpy(),
            "to": xiaoban[after].to_numpy(),
            "area_mu": xiaoban["area_mu"].to_numpy(float),
        }
    )
    sums = frame.groupby([by, "from", "to"], as_index=False)["area_mu"].sum()
    sums = sums[sums["area_mu"] > 0]

    def describe(labels: pd.Series, side: str) -> dict:
        rows = classes.reindex(labels.to_numpy())
        return {
            f"class_{side}": rows["code"].to_numpy(),
            f"name_{side}_zh": rows["name_zh"].to_numpy(),
            f"forest_{side}": rows["counts_as_forest"].to_numpy(dtype=bool),
        }

    out = pd.DataFrame(
        {
            by: sums[by].to_numpy(),
            **describe(sums["from"], "from"),
            **describe(sums["to"], "to"),
            "area_mu": sums["area_mu"].to_numpy(),
        }
    )
    return out.sort_values([by, "class_from", "class_to"], ignore_index=True)
