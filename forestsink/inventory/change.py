"""Change of the forest resource between two inventory years, per district.

Two routes, chosen per district (the ``method`` column says which):

``previous_class``
    The official one: the later layer records each 小班's previous class
    (Q_DI_LEI) and the change reason (BHYY), so the transfer matrix is a sum
    over the later layer alone. Used where the later layer carries the
    previous class for every 小班 **and** its areas per previous class agree
    with the earlier layer loaded for that district (within
    :data:`ROUTE_TOLERANCE` of the district's area): Q_DI_LEI is the class
    at the previous update, which is the earlier loaded year only when no
    update lies between.
``overlay``
    Otherwise: the two years' polygons are intersected and each piece's
    ellipsoidal area is booked from its earlier class to its later class
    (change reasons from the later layer).

Net change of forest area and stock always comes from the two years'
statistics (:func:`forestsink.inventory.stats.statistics_from_sums`); gross
gain and loss from the transfer matrix. Pure computation.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from forestsink.area import area_mu
from forestsink.inventory.stats import CITY_ADCODE, describe_transfers

#: largest share of a district's area by which the previous-class sums of the
#: later layer may differ from the earlier layer's class sums (L1 / 2)
ROUTE_TOLERANCE = 0.01

CHANGE_COLUMNS = (
    "adcode",
    "name_zh",
    "name_en",
    "year_from",
    "year_to",
    "forest_area_from_mu",
    "forest_area_to_mu",
    "forest_area_change_mu",
    "forest_gain_mu",
    "forest_loss_mu",
    "coverage_from_pct",
    "coverage_to_pct",
    "stock_from_m3",
    "stock_to_m3",
    "stock_change_m3",
    "method",
    "note",
)


def previous_class_agrees(
    before_sums: pd.DataFrame,
    transfer: pd.DataFrame,
    *,
    tolerance: float = ROUTE_TOLERANCE,
) -> tuple[bool, float]:
    """Whether the later layer's Q_DI_LEI describes the earlier layer.

    Parameters
    ----------
    before_sums : pandas.DataFrame
        One district's earlier-year ``land_group``, ``area_mu`` sums.
    transfer : pandas.DataFrame
        The district's later-year ``land_group_before``, ``area_mu`` sums.

    Returns
    -------
    (bool, float)
        Agreement, and the share of the area booked differently (0–1).
    """
    a = before_sums.groupby("land_group")["area_mu"].sum()
    b = transfer.groupby("land_group_before")["area_mu"].sum()
    total = max(a.sum(), b.sum(), 1e-12)
    diff = a.sub(b, fill_value=0.0).abs().sum() / 2 / total
    return bool(diff <= tolerance), float(diff)


def overlay_pieces(before: gpd.GeoDataFrame, after: gpd.GeoDataFrame) -> pd.DataFrame:
    """Intersect two years' 小班 of one district; area of each piece.

    Parameters
    ----------
    before, after : geopandas.GeoDataFrame
        EPSG:4490, with ``land_group`` (and ``change_reason`` in *after*).

    Returns
    -------
    pandas.DataFrame
        ``group_from``, ``group_to``, ``change_reason``, ``area_mu``
        (ellipsoidal). Land in only one year's layer is not booked.
    """
    a = before.geometry.to_numpy()
    b = after.geometry.to_numpy()
    tree = shapely.STRtree(a)
    j, i = tree.query(b, predicate="intersects")  # (input: after, tree: before)
    if not len(i):
        return pd.DataFrame(
            columns=["group_from", "group_to", "change_reason", "area_mu"]
        )
    pieces = shapely.intersection(a[i], b[j])
    areas = area_mu(gpd.GeoSeries(pieces, crs=after.crs))
    reason = (
        after["change_reason"].astype("string").fillna("").to_numpy(dtype=object)[j]
        if "change_reason" in after
        else np.full(len(j), "", dtype=object)
    )
    return pd.DataFrame(
        {
            "group_from": before["land_group"].astype(str).to_numpy()[i],
            "group_to": after["land_group"].astype(str).to_numpy()[j],
            "change_reason": reason,
            "area_mu": areas,
        }
    )


def change_table(
    stats_from: pd.DataFrame,
    stats_to: pd.DataFrame,
    matrix: pd.DataFrame,
    *,
    methods: dict[str, str],
    notes: dict[str, str],
    year_from: int,
    year_to: int,
) -> pd.DataFrame:
    """Net and gross change per district and city.

    Parameters
    ----------
    stats_from, stats_to : pandas.DataFrame
        :func:`~forestsink.inventory.stats.statistics_from_sums` of both years.
    matrix : pandas.DataFrame
        :func:`~forestsink.inventory.stats.describe_transfers` of every
        district with both years (``adcode`` column).
    methods, notes : dict
        Per district code: the route used and what to know.

    Returns
    -------
    pandas.DataFrame
        :data:`CHANGE_COLUMNS`; a district missing in either year has empty
        figures and says so.
    """
    a = stats_from.set_index("adcode")
    b = stats_to.set_index("adcode")
    gain = matrix[matrix["forest_to"] & ~matrix["forest_from"]]
    loss = matrix[matrix["forest_from"] & ~matrix["forest_to"]]
    gain = gain.groupby("adcode")["area_mu"].sum()
    loss = loss.groupby("adcode")["area_mu"].sum()
    rows = []
    districts = [c for c in b.index if c != CITY_ADCODE]
    complete = [
        d for d in districts if a.loc[d, "n_xiaoban"] > 0 and b.loc[d, "n_xiaoban"] > 0
    ]
    for code in districts:
        ra, rb = a.loc[code], b.loc[code]
        row = {
            "adcode": code,
            "name_zh": rb["name_zh"],
            "name_en": rb["name_en"],
            "forest_area_from_mu": ra["forest_area_mu"],
            "forest_area_to_mu": rb["forest_area_mu"],
            "coverage_from_pct": ra["coverage_pct"],
            "coverage_to_pct": rb["coverage_pct"],
            "stock_from_m3": ra["stock_m3"],
            "stock_to_m3": rb["stock_m3"],
        }
        if code in complete:
            row.update(
                {
                    "forest_area_change_mu": rb["forest_area_mu"]
                    - ra["forest_area_mu"],
                    "forest_gain_mu": float(gain.get(code, 0.0)),
                    "forest_loss_mu": float(loss.get(code, 0.0)),
                    "stock_change_m3": rb["stock_m3"] - ra["stock_m3"],
                    "method": methods.get(code, ""),
                    "note": notes.get(code, ""),
                }
            )
        else:
            missing = [
                str(y)
                for y, r in ((year_from, ra), (year_to, rb))
                if r["n_xiaoban"] == 0
            ]
            row.update(
                {
                    "method": "",
                    "note": f"缺 {', '.join(missing)} 年图层 / no layer for "
                    f"{' and '.join(missing)}: no change computed",
                }
            )
        rows.append(row)
    rows.append(_city_row(a, b, districts, complete, gain, loss, methods))
    out = pd.DataFrame(rows)
    out["year_from"] = year_from
    out["year_to"] = year_to
    return out.reindex(columns=list(CHANGE_COLUMNS))


def _city_row(a, b, districts, complete, gain, loss, methods) -> dict:
    """Return the city's change over the districts with both years' layers."""

    def total(frame, column):
        return frame.loc[complete, column].sum(min_count=1)

    used = sorted({methods[d] for d in complete if methods.get(d)})
    row = {
        "adcode": CITY_ADCODE,
        "name_zh": b.loc[CITY_ADCODE, "name_zh"],
        "name_en": b.loc[CITY_ADCODE, "name_en"],
        "forest_area_from_mu": total(a, "forest_area_mu"),
        "forest_area_to_mu": total(b, "forest_area_mu"),
        "stock_from_m3": total(a, "stock_m3"),
        "stock_to_m3": total(b, "stock_m3"),
        "forest_gain_mu": float(gain.reindex(complete).sum()),
        "forest_loss_mu": float(loss.reindex(complete).sum()),
        "method": used[0] if len(used) == 1 else ("mixed" if used else ""),
        "note": _city_note(a, b, districts),
    }
    area_a, area_b = total(a, "total_area_mu"), total(b, "total_area_mu")
    with np.errstate(invalid="ignore", divide="ignore"):
        row["coverage_from_pct"] = 100.0 * row["forest_area_from_mu"] / area_a
        row["coverage_to_pct"] = 100.0 * row["forest_area_to_mu"] / area_b
    row["forest_area_change_mu"] = row["forest_area_to_mu"] - row["forest_area_from_mu"]
    row["stock_change_m3"] = row["stock_to_m3"] - row["stock_from_m3"]
    return row


def _city_note(a: pd.DataFrame, b: pd.DataFrame, districts: list[str]) -> str:
    """Say which districts the city's change leaves out (never filled in)."""
    out = [
        b.loc[d, "name_zh"]
        for d in districts
        if a.loc[d, "n_xiaoban"] == 0 or b.loc[d, "n_xiaoban"] == 0
    ]
    if not out:
        return ""
    return (
        f"城市数字不完整，缺 {', '.join(out)} / the city's figures leave out "
        f"{len(out)} district(s) missing a layer in one year; its change is not "
        "comparable to a published total"
    )


def city_matrix(matrix: pd.DataFrame) -> pd.DataFrame:
    """Add the city's rows (sum over districts) to a transfer matrix."""
    if matrix.empty:
        return matrix
    keys = [
        "group_from",
        "name_from",
        "forest_from",
        "group_to",
        "name_to",
        "forest_to",
        "change_reason",
    ]
    city = matrix.groupby(keys, as_index=False)["area_mu"].sum()
    city.insert(0, "adcode", CITY_ADCODE)
    return pd.concat([matrix, city[matrix.columns]], ignore_index=True)


__all__ = [
    "CHANGE_COLUMNS",
    "change_table",
    "city_matrix",
    "describe_transfers",
    "overlay_pieces",
    "previous_class_agrees",
]
