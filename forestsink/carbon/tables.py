"""The main table of the whole-forest sink and its bilingual headers.

:func:`sink_table`: one row per district and the city per method, in
t CO₂/yr (positive = removal from the atmosphere), stocks in t C, areas in
mu; :data:`SINK_COLUMNS` its columns, :data:`SINK_LABELS` their Excel headers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestsink.carbon.model import SinkModel
from forestsink.carbon.uncertainty import SinkResult
from forestsink.progress.growth import Z90

#: the sink estimate and its interval (t CO₂/yr; interval_pct in %)
ESTIMATE_COLUMNS = (
    "co2_t_per_yr",
    "co2_t_per_yr_p05",
    "co2_t_per_yr_p95",
    "co2_t_per_yr_mc_mean",
    "co2_t_per_yr_ipcc_low",
    "co2_t_per_yr_ipcc_high",
    "interval_pct",
    "co2_t_per_yr_other_roots",
)

SINK_COLUMNS = (
    "adcode",
    "name_zh",
    "name_en",
    "method",
    "year_from",
    "year_to",
    *ESTIMATE_COLUMNS,
    "carbon_t_from",
    "carbon_t_to",
    "area_counted_from_mu",
    "area_counted_to_mu",
    "area_not_counted_from_mu",
    "area_not_counted_to_mu",
    "area_species_unrecognised_mu",
    "n_arbor_no_volume_from",
    "n_arbor_no_volume_to",
    "conversion_area_mu",
    "conversion_co2_t_per_yr",
    "note",
)

#: Excel headers of the sink tables (override labels.csv's project-increment
#: wording of the co2_t_per_yr columns)
SINK_LABELS = {
    "method": ("方法", "Method", ""),
    "co2_t_per_yr": (
        "森林碳汇 CO₂（年均，正值=移除）",
        "Forest sink CO₂ per year (positive = removal)",
        "t CO₂/yr",
    ),
    "co2_t_per_yr_p05": ("森林碳汇 5% 分位", "Forest sink 5th percentile", "t CO₂/yr"),
    "co2_t_per_yr_p95": (
        "森林碳汇 95% 分位",
        "Forest sink 95th percentile",
        "t CO₂/yr",
    ),
    "co2_t_per_yr_mc_mean": ("蒙特卡洛均值", "Monte Carlo mean", "t CO₂/yr"),
    "co2_t_per_yr_ipcc_low": (
        "IPCC 方法1 下限",
        "IPCC approach 1 low (90 %)",
        "t CO₂/yr",
    ),
    "co2_t_per_yr_ipcc_high": (
        "IPCC 方法1 上限",
        "IPCC approach 1 high (90 %)",
        "t CO₂/yr",
    ),
    "interval_pct": ("90% 区间半宽", "Half-width of the 90 % interval", "%"),
    "co2_t_per_yr_other_roots": (
        "另一种根系读法",
        "Other reading of roots",
        "t CO₂/yr",
    ),
    "carbon_t_from": ("起始年碳储量", "Carbon stock, first year", "t C"),
    "carbon_t_to": ("终止年碳储量", "Carbon stock, last year", "t C"),
    "area_counted_from_mu": ("计入面积（起）", "Area counted, first year", "mu"),
    "area_counted_to_mu": ("计入面积（止）", "Area counted, last year", "mu"),
    "area_not_counted_from_mu": (
        "未计入林地面积（起）",
        "Forest land not counted, first year",
        "mu",
    ),
    "area_not_counted_to_mu": (
        "未计入林地面积（止）",
        "Forest land not counted, last year",
        "mu",
    ),
    "area_species_unrecognised_mu": (
        "树种未识别面积（按针阔混）",
        "Species unrecognised (as mixed)",
        "mu",
    ),
    "n_arbor_no_volume_from": (
        "无蓄积乔木林小班数（起，仅按截距 b 计）",
        "Arbor 小班 without volume, first year (counted with b only)",
        "",
    ),
    "n_arbor_no_volume_to": (
        "无蓄积乔木林小班数（止，仅按截距 b 计）",
        "Arbor 小班 without volume, last year (counted with b only)",
        "",
    ),
    "conversion_area_mu": (
        "乔木林转非林地面积",
        "Arbor forest converted to non-forest",
        "mu",
    ),
    "conversion_co2_t_per_yr": (
        "转化排放（年均）",
        "Conversion emission per year",
        "t CO₂/yr",
    ),
    "variance_share": ("方差占比", "Share of variance", ""),
    "ipcc_share": ("方法1 方差占比", "Approach-1 share", ""),
    "carbon_t": ("碳储量", "Carbon stock", "t C"),
}


def sink_table(
    model: SinkModel,
    results: dict[str, SinkResult | None],
    *,
    year_from: int,
    year_to: int,
    names: pd.DataFrame,
    sums_from: pd.DataFrame,
    sums_to: pd.DataFrame,
    conversion_mu: pd.Series,
    other_roots: SinkModel | None,
    per_area_counted=(),
    missing: dict[str, str],
    notes: dict[str, str],
) -> pd.DataFrame:
    """Build the main table: one row per district and the city per method.

    Figures in t CO₂/yr (positive = removal from the atmosphere), stocks in
    t C, areas in mu; ``interval_pct`` = half the 90 % Monte Carlo interval
    as a percentage of the central figure.
    """
    adcodes = [*model.adcodes, "500000"]
    central = model.central_values()
    stock_from = model.evaluate(central, model.stock[year_from])[:, 0]
    stock_to = model.evaluate(central, model.stock[year_to])[:, 0]

    def per(frame: pd.DataFrame, mask) -> np.ndarray:
        s = frame[mask].groupby("adcode")["area_mu"].sum()
        v = s.reindex(model.adcodes, fill_value=0.0).to_numpy()
        return np.append(v, v.sum())

    counted = {"arbor"} | set(per_area_counted)
    areas = {}
    for year, frame in ((year_from, sums_from), (year_to, sums_to)):
        areas[(year, "in")] = per(frame, frame["category"].isin(counted))
        areas[(year, "out")] = per(
            frame, ~frame["category"].isin([*counted, "no_biomass"])
        )
    novol = {}
    for year, frame in ((year_from, sums_from), (year_to, sums_to)):
        arb = frame[frame["category"] == "arbor"].groupby("adcode")["n_no_volume"].sum()
        arb = arb.reindex(model.adcodes, fill_value=0).to_numpy()
        novol[year] = np.append(arb, arb.sum())
    unrec = sums_to.groupby("adcode")["area_unrecognised_mu"].sum()
    unrec = unrec.reindex(model.adcodes, fill_value=0.0).to_numpy()
    conv = conversion_mu.reindex(model.adcodes, fill_value=0.0).to_numpy()
    conv_co2 = model.evaluate(central, model.conversion)[:, 0]
    rows = []
    for method, res in results.items():
        other = (
            other_roots.evaluate(
                other_roots.central_values(), other_roots.terms[method]
            )[:, 0]
            if other_roots is not None and res is not None
            else np.full(len(adcodes), np.nan)
        )
        for i, adcode in enumerate(adcodes):
            row = {
                "adcode": adcode,
                "method": method,
                "year_from": year_from,
                "year_to": year_to,
                "carbon_t_from": stock_from[i],
                "carbon_t_to": stock_to[i],
                "area_counted_from_mu": areas[(year_from, "in")][i],
                "area_counted_to_mu": areas[(year_to, "in")][i],
                "area_not_counted_from_mu": areas[(year_from, "out")][i],
                "area_not_counted_to_mu": areas[(year_to, "out")][i],
                "area_species_unrecognised_mu": np.append(unrec, unrec.sum())[i],
                "n_arbor_no_volume_from": int(novol[year_from][i]),
                "n_arbor_no_volume_to": int(novol[year_to][i]),
                "conversion_area_mu": np.append(conv, conv.sum())[i],
                "conversion_co2_t_per_yr": -conv_co2[i] + 0.0,
            }
            if res is None:
                row.update(
                    dict.fromkeys(
                        ESTIMATE_COLUMNS,
                        np.nan,
                    )
                )
                row["note"] = missing.get(method, "")
            else:
                c = res.central[i]
                p05, p95 = np.percentile(res.mc[i], [5, 95])
                row.update(
                    co2_t_per_yr=c,
                    co2_t_per_yr_p05=p05,
                    co2_t_per_yr_p95=p95,
                    co2_t_per_yr_mc_mean=float(res.mc[i].mean()),
                    co2_t_per_yr_ipcc_low=c - Z90 * res.ipcc_sd[i],
                    co2_t_per_yr_ipcc_high=c + Z90 * res.ipcc_sd[i],
                    interval_pct=(p95 - p05) / 2 / abs(c) * 100 if c else np.nan,
                    co2_t_per_yr_other_roots=other[i],
                    note=notes.get(method, ""),
                )
            rows.append(row)
    out = pd.DataFrame(rows)
    labels = names.set_index("adcode")
    out["name_zh"] = out["adcode"].map(labels["name_zh"]).fillna("重庆市")
    out["name_en"] = (
        out["adcode"].map(labels["name_en"]).fillna("Chongqing (city-wide)")
    )
    return out[list(SINK_COLUMNS)]
