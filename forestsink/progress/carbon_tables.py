"""CO₂ of the project increment per district and city-wide (``carbon`` table).

Not the forest's carbon sink (that is :mod:`forestsink.carbon`, from two
forest-resource inventories): :func:`carbon_tables` converts only the
project increment of :func:`forestsink.progress.growth.project_increment`
into t CO₂ with a seeded Monte Carlo interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestsink.progress.areas import increment_of_pieces, pieces_from_store
from forestsink.progress.growth import (
    MEASURED,
    MODEL,
    NOT_ESTIMABLE,
    carbon_by_group,
    check_draws,
    resolve_growth,
    resolve_parameters,
)
from forestsink.progress.provenance import (
    growth_end_year,
    plan_label,
    table_settings,
)
from forestsink.progress.views import Tables, district_keys
from forestsink.reference import (
    read_carbon_parameters,
    read_forest_types,
    read_plan,
    read_project_types,
)

#: Columns of the ``carbon`` table (the issue's CLI columns come first).
CARBON_COLUMNS = [
    "adcode",
    "name_zh",
    "name_en",
    "co2_t_per_yr",
    "co2_t_per_yr_p05",
    "co2_t_per_yr_p95",
    "method",
    "region",
    "increment_m3",
    "co2_t",
    "co2_t_p05",
    "co2_t_p95",
    "co2_t_central",
    "co2_t_ipcc_low",
    "co2_t_ipcc_high",
    "area_estimated_mu",
    "area_not_estimable_mu",
    "years",
]


def _group_method(methods: set) -> str:
    if MEASURED in methods and MODEL in methods:
        return f"{MEASURED}+model"
    if MEASURED in methods:
        return MEASURED
    if MODEL in methods:
        return MODEL
    return NOT_ESTIMABLE


def carbon_tables(
    store,
    *,
    as_of=None,
    params=None,
    rules=None,
    draws: int = 10_000,
    seed: int = 2012,
    bvf_includes_roots: bool = True,
    growth=None,
    plan=None,
) -> Tables:
    """CO₂ of the project increment per district and city-wide (``carbon``).

    This is **not** the forest's carbon sink (that needs the forest-resource
    layers): it converts only the project increment of
    :func:`forestsink.progress.growth.project_increment` (before/after volumes, or a
    user growth table net of its baseline). Delivered standing stocks never
    enter. Where no piece of a district has an estimable increment, its CO₂
    is empty and ``method`` is ``not_estimable``.

    Parameters
    ----------
    growth : path or DataFrame, optional (default: None)
        Growth (yield) table, see
        :func:`forestsink.progress.growth.read_growth_table`.
    plan : Plan or path, optional (default: None, the seed plan)
        The plan whose period the per-year figures are spread over
        (:func:`forestsink.reference.read_plan`).

    Returns
    -------
    Tables
        ``carbon`` (per district, with a city row ``500000``; columns
        :data:`CARBON_COLUMNS`: ``co2_t`` … in t CO₂ accumulated by the end
        year, ``co2_t_per_yr`` … the same spread over the years of the plan
        period to the end year, empty (NaN) where the method includes
        ``project_increment_measured``: a before/after pair has no time span
        in the delivery, ``years``), ``by_type`` (city per forest
        type), ``parameters`` (what was used), ``settings``.
    """
    check_draws(draws)
    types = read_project_types(rules)
    params_table = read_carbon_parameters(params)
    forest_types = read_forest_types()
    parameters = resolve_parameters(
        params_table, forest_types, bvf_includes_roots=bvf_includes_roots
    )
    growth_path, growth_table = resolve_growth(growth, rules)
    pieces = pieces_from_store(store, as_of=as_of, rules=rules)
    plan = read_plan(plan)
    end_year = growth_end_year(as_of, plan=plan)
    inc = increment_of_pieces(
        pieces, types=types, growth=growth_table, end_year=end_year
    )
    dv = _increments(pieces, inc)
    start = plan.period_start
    out = _carbon_by_district(
        dv, parameters, draws=draws, seed=seed, span=(start, end_year)
    )
    years = end_year - start + 1
    by_type = _by_type(dv, parameters, draws=draws, seed=seed)
    used = _used_parameters(parameters)
    settings = table_settings(
        store, as_of, rules, params, "district", None, None, growth_path, end_year
    )
    settings.update(
        {
            "draws": str(draws),
            "seed": str(seed),
            "bvf_includes_roots": str(bvf_includes_roots),
            "what": "项目增量（实测或模型，扣除基线）折算 CO₂，非森林碳汇 / CO₂ of the "
            "project increment (measured, or model with baseline), not the "
            "forest's carbon sink",
            "plan": plan_label(plan),
            "co2_t_per_yr": f"co2_t / {years} years ({start}–{end_year}); "
            "empty where a measured (before/after) increment counts: the "
            "delivery gives no measurement years",
        }
    )
    return Tables(
        tables={"carbon": out, "by_type": by_type, "parameters": used},
        settings=settings,
    )


def _by_type(dv, parameters, *, draws, seed) -> pd.DataFrame:
    rows = []
    for code, part in dv.groupby("forest_type"):
        one = carbon_by_group(
            part.assign(city="500000"), parameters, group="city", draws=draws, seed=seed
        )
        one.insert(0, "forest_type", code)
        rows.append(
            one.drop(columns="city").rename(
                columns={
                    "delta_v_m3": "increment_m3",
                    "area_not_estimated_mu": "area_not_estimable_mu",
                }
            )
        )
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def _increments(pieces: pd.DataFrame, inc: pd.DataFrame) -> pd.DataFrame:
    """Pieces with their increment (m³), forest type and method.

    Pieces of project types that add no volume (method ``none``) are left out.
    """
    dv = pieces[["adcode", "project_type", "gross_area_mu"]].copy()
    dv["forest_type"] = inc["forest_type"].to_numpy()
    dv["delta_v_m3"] = inc["increment_m3"].to_numpy()
    dv["method"] = inc["method"].to_numpy()
    dv = dv[dv["method"].to_numpy() != "none"]  # types that add no volume
    return dv


def _carbon_by_district(
    dv: pd.DataFrame, parameters, *, draws: int, seed: int, span: tuple[int, int]
) -> pd.DataFrame:
    """Return the ``carbon`` table: CO₂ (t) per district and the city (500000).

    Columns :data:`CARBON_COLUMNS`; not estimable rows are empty, never 0.
    *span*: (plan start, end year) the per-year figures are spread over.
    """
    per_district = carbon_by_group(
        dv, parameters, group="adcode", draws=draws, seed=seed
    )
    city = carbon_by_group(
        dv.assign(adcode="500000"), parameters, group="adcode", draws=draws, seed=seed
    )
    keys = district_keys()
    out = pd.concat([per_district, city], ignore_index=True).merge(
        pd.concat(
            [
                keys,
                pd.DataFrame(
                    [
                        {
                            "adcode": "500000",
                            "name_zh": "重庆市",
                            "name_en": "Chongqing (city-wide)",
                            "region": "",
                        }
                    ]
                ),
            ]
        ),
        on="adcode",
        how="left",
    )
    known = dv["forest_type"].isin(list(parameters)) & dv["delta_v_m3"].notna()
    usable = pd.concat([dv[known], dv[known].assign(adcode="500000")])
    methods = usable.groupby("adcode")["method"].agg(set)
    out["method"] = [_group_method(methods.get(a, set())) for a in out["adcode"]]
    out["area_estimated_mu"] = (
        (usable.groupby("adcode")["gross_area_mu"].sum().reindex(out["adcode"]))
        .fillna(0.0)
        .to_numpy()
    )
    out = out.rename(
        columns={
            "delta_v_m3": "increment_m3",
            "area_not_estimated_mu": "area_not_estimable_mu",
        }
    )
    co2 = [
        "increment_m3",
        "co2_t",
        "co2_t_p05",
        "co2_t_p95",
        "co2_t_central",
        "co2_t_ipcc_low",
        "co2_t_ipcc_high",
    ]
    none = out["method"] == "not_estimable"
    out.loc[none, co2] = np.nan  # not estimable is not zero
    years = span[1] - span[0] + 1
    out["years"] = years
    for name in ("", "_p05", "_p95"):
        out[f"co2_t_per_yr{name}"] = out[f"co2_t{name}"] / years
    # a before/after measurement has no time span in the delivery (no column
    # gives the two measurement years): its total is not spread over the plan
    # years, so the per-year figures stay empty wherever a measured part counts
    measured = out["method"].astype(str).str.startswith(MEASURED).to_numpy()
    out.loc[measured, ["co2_t_per_yr", "co2_t_per_yr_p05", "co2_t_per_yr_p95"]] = np.nan
    out = out[CARBON_COLUMNS]
    return out


def _used_parameters(parameters) -> pd.DataFrame:
    """One row per forest type and conversion parameter used: value, spread."""
    return pd.DataFrame(
        [
            {
                "forest_type": code,
                "parameter": name,
                "value": p.value,
                "distribution": p.distribution or "fixed",
                "sd": p.std(),
            }
            for code, parts in parameters.items()
            for name, p in parts.items()
        ]
    )
