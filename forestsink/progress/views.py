"""Progress views: the district base table and its region, unit and city views.

:func:`progress_by_district` sums the pieces of
:mod:`forestsink.progress.areas` per district × year × project type (areas in
mu, stock and increment in m³); :func:`view` rolls that base table up into
the ``district``, ``region``, ``unit`` (the 39 assessment units of annex 1)
and ``city`` views. :class:`Tables` is the bundle every tool returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forestsink.errors import OptionError
from forestsink.progress.growth import MEASURED, MODEL, NOT_ESTIMABLE
from forestsink.reference import REGION_EN, read_assessment_units, read_district_table

VIEWS = ("district", "region", "unit", "city")
#: summed figures of a progress row (the same in every view)
_SUMS = [
    "n_polygons",
    "gross_area_mu",
    "net_area_mu",
    "overlap_area_mu",
    "new_forest_area_mu",
    "stock_volume_m3",
    "stock_area_mu",
    "increment_measured_m3",
    "increment_model_m3",
    "increment_not_estimable_mu",
]
PROGRESS_COLUMNS = [
    "adcode",
    "name_zh",
    "name_en",
    "region",
    "year",
    "project_type",
    *_SUMS,
    "stock_m3_per_ha",
    "share_of_city",
]
#: the summed figures of a progress row, public (areas in mu, volumes in m³)
SUM_COLUMNS = tuple(_SUMS)


@dataclass
class Tables:
    """Named tables plus the settings that produced them."""

    tables: dict[str, pd.DataFrame]
    settings: dict[str, str] = field(default_factory=dict)
    #: column → (中文, English, unit) overriding ``labels.csv`` for these tables
    labels: dict[str, tuple[str, str, str]] = field(default_factory=dict)


def district_keys() -> pd.DataFrame:
    """Return the names and region of every district (no geometry).

    Returns
    -------
    pandas.DataFrame
        ``adcode``, ``name_zh``, ``name_en``, ``region`` (中文) and
        ``region_en``, one row per district of ``data/districts``.
    """
    table = read_district_table()[["adcode", "name_zh", "name_en", "region"]]
    table["region_en"] = table["region"].map(REGION_EN)
    return table


def progress_by_district(
    pieces: pd.DataFrame, *, increment: pd.DataFrame
) -> pd.DataFrame:
    """Rows per district × year × project type (the base of every view).

    *increment*: :func:`forestsink.progress.areas.increment_of_pieces` of the same
    pieces.
    """
    method = increment["method"].to_numpy()
    inc = increment["increment_m3"].to_numpy(dtype="float64")
    stock = pd.to_numeric(pieces["stock_volume_m3"], errors="coerce")
    df = pieces.assign(
        stock_area_mu=np.where(stock.notna(), pieces["gross_area_mu"], 0.0),
        increment_measured_m3=np.where(method == MEASURED, inc, np.nan),
        increment_model_m3=np.where(method == MODEL, inc, np.nan),
        increment_not_estimable_mu=np.where(
            method == NOT_ESTIMABLE, pieces["gross_area_mu"], 0.0
        ),
    )
    grouped = df.groupby(["adcode", "year", "project_type"], dropna=False)

    def total(s):
        return s.sum(min_count=1)

    out = grouped.agg(
        n_polygons=("key", "nunique"),
        gross_area_mu=("gross_area_mu", "sum"),
        net_area_mu=("net_area_mu", "sum"),
        new_forest_area_mu=("new_forest_area_mu", "sum"),
        stock_volume_m3=("stock_volume_m3", total),
        stock_area_mu=("stock_area_mu", "sum"),
        increment_measured_m3=("increment_measured_m3", total),
        increment_model_m3=("increment_model_m3", total),
        increment_not_estimable_mu=("increment_not_estimable_mu", "sum"),
    ).reset_index()
    out["overlap_area_mu"] = out["gross_area_mu"] - out["net_area_mu"]
    out = out.merge(district_keys(), on="adcode", how="left")
    return out


def share_of_city(df: pd.DataFrame) -> pd.Series:
    """Return each row's net area over the city's for its year and type.

    Empty (NaN) where the city's net area of that year and project type is 0.
    """
    city = df.groupby(["year", "project_type"])["net_area_mu"].transform("sum")
    return (df["net_area_mu"] / city).where(city > 0)


def _rollup(base: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    agg = dict.fromkeys(_SUMS, "sum")
    for name in ("stock_volume_m3", "increment_measured_m3", "increment_model_m3"):
        agg[name] = lambda s: s.sum(min_count=1)
    return base.groupby([*keys, "year", "project_type"], dropna=False).agg(agg)


def view(base: pd.DataFrame, by: str) -> pd.DataFrame:
    """Aggregate the district base table into the requested view."""
    if by not in VIEWS:
        raise OptionError(f"view {by!r}: use one of {', '.join(VIEWS)}.")
    if by == "district":
        out = base.copy()
    elif by == "region":
        out = _rollup(base, ["region"]).reset_index()
        out["adcode"] = ""
        out["name_zh"] = out["region"]
        out["name_en"] = out["region"].map(REGION_EN)
    elif by == "city":
        out = _rollup(base.assign(region=""), ["region"]).reset_index()
        out["adcode"] = "500000"
        out["name_zh"] = "重庆市"
        out["name_en"] = "Chongqing (city-wide)"
    else:
        units = read_assessment_units()
        units = units[units["unit_no"] > 0]
        rows = []
        for u in units.itertuples():
            if u.polygon_relation == "inside":  # 万盛经开区: no boundary of its own
                rows.append(
                    pd.DataFrame(
                        {
                            "unit_no": [u.unit_no],
                            "name_zh": [u.name_zh],
                            "name_en": [u.name_en],
                            "region": [u.region],
                            "note": [
                                f"reported with {u.adcodes} (綦江区): no separate "
                                "boundary; its figures are in that row"
                            ],
                        }
                    )
                )
                continue
            part = base[base["adcode"].isin(u.adcodes.split("|"))]
            if part.empty:
                continue
            agg = _rollup(part.assign(region=u.region), ["region"]).reset_index()
            agg["unit_no"] = u.unit_no
            agg["name_zh"] = u.name_zh
            agg["name_en"] = u.name_en
            note = u.note
            if u.adcodes == "500110":
                note = "includes 万盛经开区 (unit 22), which has no separate boundary"
            agg["note"] = note
            rows.append(agg)
        out = pd.concat(rows, ignore_index=True)
        out["adcode"] = out["unit_no"].astype(str)
    out["share_of_city"] = share_of_city(out) if "year" in out else np.nan
    if "stock_area_mu" in out:
        area_ha = out["stock_area_mu"] / 15.0
        out["stock_m3_per_ha"] = (out["stock_volume_m3"] / area_ha).where(area_ha > 0)
    columns = [c for c in PROGRESS_COLUMNS if c in out.columns]
    extra = [c for c in ("unit_no", "note") if c in out.columns]
    lead = ["unit_no"] if "unit_no" in extra else []
    out = out[[*lead, *columns, *(["note"] if "note" in extra else [])]]
    sort = ["unit_no"] if by == "unit" else ["adcode"]
    return out.sort_values(
        [*sort, "year", "project_type"], na_position="first", kind="stable"
    ).reset_index(drop=True)
