"""Activity data of the whole-forest sink: group sums and conversion areas.

The store aggregates each inventory year in SQL by district, land group and
species; :func:`group_sums` turns that into per district × category ×
species group areas (ha, mu) and Σ area·V (m³), :func:`conversion_area`
gives the arbor forest converted to non-forest land per district (mu).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestsink.inventory.stand import UNRECOGNISED, species_groups
from forestsink.units import MU_PER_HA

#: land groups counted by the biomass–volume function / by a per-area value;
#: the rest of the forest land is listed as not counted
ARBOR_GROUPS = ("arbor",)
PER_AREA_CATEGORY = {"bamboo": "bamboo", "special_shrub": "shrub"}
NOT_COUNTED_GROUPS = ("sparse", "other_shrub", "unestablished", "nursery")
#: land groups that are forest: leaving them for another group is conversion
FOREST_GROUPS = ("arbor", "bamboo", "special_shrub")


def group_sums(sums: pd.DataFrame, forest_types: pd.DataFrame) -> pd.DataFrame:
    """Per district × category × species group: area (ha) and Σ area·V (m³).

    Parameters
    ----------
    sums : DataFrame
        The store's ``inventory_sums`` by ``adcode, land_group, species``
        (areas in mu, stock in m³).
    forest_types : DataFrame
        ``data/forest_types.csv``.

    Returns
    -------
    pandas.DataFrame
        ``adcode``, ``category`` (``arbor``; ``bamboo`` and ``shrub``
        (特灌), counted by area only with a per-area value; ``not_counted``:
        sparse forest, other shrub, unestablished land and nurseries, which
        hold biomass the method does not estimate, listed; ``no_biomass``:
        non-forest, treeless, suitable and auxiliary land, taken as 0),
        ``land_group``, ``group`` (species group; arbor
        with an unknown species → ``mixed``, bamboo species on arbor land →
        category ``bamboo``), ``area_ha``, ``area_mu``, ``volume_area_m3``
        (Σ area·V: per-hectare volumes × ha plus the totals of 小班 that
        carry only a total), ``n_xiaoban``, ``n_no_volume`` (arbor 小班
        with neither), ``area_unrecognised_mu``.
    """
    frame = sums.copy()
    if frame.empty:
        return pd.DataFrame(
            columns=[
                "adcode",
                "category",
                "land_group",
                "group",
                "area_ha",
                "area_mu",
                "volume_area_m3",
                "n_xiaoban",
                "n_no_volume",
                "area_unrecognised_mu",
            ]
        )
    groups = species_groups(frame["species"], forest_types)
    unrecognised = groups == UNRECOGNISED
    groups = groups.where(~unrecognised, "mixed")
    lg = frame["land_group"].astype(str)
    category = np.where(
        lg.isin(ARBOR_GROUPS),
        np.where(groups == "bamboo", "bamboo", "arbor"),
        lg.map(PER_AREA_CATEGORY).fillna(
            pd.Series(
                np.where(lg.isin(NOT_COUNTED_GROUPS), "not_counted", "no_biomass"),
                index=lg.index,
            )
        ),
    )
    frame["category"] = category
    frame["group"] = np.where(
        frame["category"] == "arbor",
        groups,
        np.where(
            frame["category"].isin(["not_counted", "no_biomass"]), lg, frame["category"]
        ),
    )
    frame["area_unrecognised_mu"] = np.where(
        unrecognised & (frame["category"] == "arbor"), frame["area_mu"], 0.0
    )
    frame["volume_area_m3"] = frame["stock_per_ha_m3"] + frame["stock_total_m3"]
    frame["n_no_volume"] = frame["n_xiaoban"] - frame["n_per_ha"] - frame["n_total"]
    out = frame.groupby(
        ["adcode", "category", "land_group", "group"], as_index=False
    ).agg(
        area_mu=("area_mu", "sum"),
        volume_area_m3=("volume_area_m3", "sum"),
        n_xiaoban=("n_xiaoban", "sum"),
        n_no_volume=("n_no_volume", "sum"),
        area_unrecognised_mu=("area_unrecognised_mu", "sum"),
    )
    out["area_ha"] = out["area_mu"] / MU_PER_HA
    return out


def conversion_area(transfer: pd.DataFrame) -> pd.Series:
    """Arbor forest turned into non-forest land per district (mu).

    From the later layer's transfer rows (previous class Q_DI_LEI → class):
    previous ``arbor``, now any group that is not forest.
    """
    if transfer.empty:
        return pd.Series(dtype="float64")
    t = transfer[
        (transfer["land_group_before"] == "arbor")
        & ~transfer["land_group"].isin(FOREST_GROUPS)
    ]
    return t.groupby("adcode")["area_mu"].sum()
