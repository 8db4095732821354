"""The whole-forest sink of two inventory years: the pure computation and the tool.

:func:`compute_sink` computes it from two years' SQL sums (no store, no
file); :func:`forest_sink_tables` reads them from a store and returns the
table bundle of ``forestsink carbon``; :func:`choose_years` picks the two
years. Figures in t CO₂/yr, positive = removal from the atmosphere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestsink.carbon.activity import conversion_area, group_sums
from forestsink.carbon.model import GAIN_LOSS, METHODS, STOCK_DIFFERENCE, build_model
from forestsink.carbon.parameters import (
    AREA_ERROR_PCT,
    VOLUME_ERROR_PCT,
    resolve_sink_parameters,
)
from forestsink.carbon.tables import SINK_LABELS, sink_table
from forestsink.carbon.uncertainty import SinkResult, drivers, simulate
from forestsink.errors import CarbonParameterError
from forestsink.inventory.load import district_areas, require_year
from forestsink.progress import Tables, shown_path
from forestsink.progress.growth import check_draws
from forestsink.reference import (
    read_biomass_volume,
    read_carbon_parameters,
    read_forest_types,
    read_parameter_sources,
    read_plan,
)


def choose_years(years, year_from=None, year_to=None, *, plan=None):
    """Return the two inventory years to compare, or None (project increment).

    With *year_from*/*year_to* given, those; else, with two or more years
    held, the plan's base year (the year before the plan) and its last year
    if both are held, else the first and the last year; else None. *plan*:
    a :class:`forestsink.reference.Plan`, a plan file or a ``(base, last)``
    pair (default: the seed plan).
    """
    if not isinstance(plan, tuple):
        plan = read_plan(plan)
        plan = (plan.base_year, plan.period_end)
    years = sorted(int(y) for y in years)
    if year_from is not None or year_to is not None:
        first = year_from if year_from is not None else (years[0] if years else None)
        last = year_to if year_to is not None else (years[-1] if years else None)
        return first, last
    if len(years) < 2:
        return None
    if plan[0] in years and plan[1] in years:
        return plan
    return years[0], years[-1]


def compute_sink(
    sums_from: pd.DataFrame,
    sums_to: pd.DataFrame,
    *,
    year_from: int,
    year_to: int,
    shipped: pd.DataFrame,
    known_sources,
    forest_types: pd.DataFrame,
    names: pd.DataFrame,
    transfer: pd.DataFrame | None = None,
    user: pd.DataFrame | None = None,
    user_name: str = "params",
    method: str = "both",
    roots_excluded: bool = False,
    area_error_pct: float = AREA_ERROR_PCT,
    volume_error_pct: float = VOLUME_ERROR_PCT,
    draws: int = 10_000,
    seed: int = 2012,
) -> dict[str, pd.DataFrame]:
    """Compute the whole-forest sink from two years' SQL sums (pure).

    Parameters
    ----------
    sums_from, sums_to : DataFrame
        ``inventory_sums`` by ``adcode, land_group, species`` (mu, m³).
    year_from, year_to : int
        The inventory years, ``year_from < year_to``.
    shipped, known_sources, forest_types, user, user_name, roots_excluded
        See :func:`forestsink.carbon.parameters.resolve_sink_parameters`.
    names : DataFrame
        ``adcode``, ``name_zh``, ``name_en`` of the districts.
    transfer : DataFrame, optional (default: none)
        The later year's ``inventory_transfer`` (areas in mu).
    method : {"stock-difference", "gain-loss", "both"}
        Which routes to report.
    area_error_pct, volume_error_pct : float
        Relative measurement errors (1σ, %) of the group totals per year.
    draws, seed : int
        Monte Carlo settings.

    Returns
    -------
    dict of DataFrame
        ``sink`` (:data:`~forestsink.carbon.tables.SINK_COLUMNS`, t CO₂/yr,
        positive = removal), ``sensitivity``, ``sources`` (every parameter
        used: value, spread, source, origin), ``not_counted`` (area by
        district, year and category), ``by_group`` (city stock per species
        group, t C) and ``drivers`` (top three input kinds of the city sink
        per method).
    """
    _check_sink_options(year_from, year_to, area_error_pct, volume_error_pct)
    wanted = METHODS if method == "both" else (method.replace("-", "_"),)
    check_draws(draws)
    params, other = (
        resolve_sink_parameters(
            shipped,
            forest_types=forest_types,
            known_sources=known_sources,
            user=user,
            user_name=user_name,
            roots_excluded=excluded,
        )
        for excluded in (roots_excluded, not roots_excluded)
    )
    g_from = group_sums(sums_from, forest_types)
    g_to = group_sums(sums_to, forest_types)
    conv = conversion_area(transfer if transfer is not None else pd.DataFrame())
    kw = {
        "year_from": year_from,
        "year_to": year_to,
        "conversion_mu": conv,
        "area_error_pct": area_error_pct,
        "volume_error_pct": volume_error_pct,
    }
    model = build_model(g_from, g_to, parameters=params, **kw)
    other_model = build_model(g_from, g_to, parameters=other, **kw)
    arbor_groups = _arbor_groups(g_from, g_to)
    per_area = _per_area_counted(params)
    notes = {
        STOCK_DIFFERENCE: _stock_difference_note(
            year_from, year_to, roots_excluded=roots_excluded, per_area=per_area
        )
    }
    results, missing_words, sensitivity = _simulate_methods(
        model,
        wanted,
        _lacking_parameters(params, arbor_groups),
        draws=draws,
        seed=seed,
    )
    if GAIN_LOSS in results and results[GAIN_LOSS] is not None:
        notes[GAIN_LOSS] = _gain_loss_note(params, arbor_groups, results, year_from)
    sink = sink_table(
        model,
        results,
        year_from=year_from,
        year_to=year_to,
        names=names,
        sums_from=g_from,
        sums_to=g_to,
        conversion_mu=conv,
        other_roots=other_model,
        per_area_counted=per_area,
        missing=missing_words,
        notes=notes,
    )
    return {
        "sink": sink,
        "sensitivity": sensitivity,
        "sources": _sources_table(
            params,
            set(arbor_groups) | set(per_area),
            area_error_pct=area_error_pct,
            volume_error_pct=volume_error_pct,
        ),
        "not_counted": _not_counted_table(g_from, g_to, year_from, year_to, per_area),
        "by_group": _stock_by_group(model, year_from, year_to),
        "drivers": _drivers_table(results),
    }


def _check_sink_options(year_from, year_to, area_error_pct, volume_error_pct):
    """Refuse reversed years and error percentages outside 0–100."""
    if year_to <= year_from:
        raise CarbonParameterError(
            f"years {year_from} → {year_to}: 起止年份颠倒 / the later year "
            "must come after the earlier one."
        )
    for value, name in (
        (area_error_pct, "area error (%)"),
        (volume_error_pct, "volume error (%)"),
    ):
        if not (np.isfinite(value) and 0 <= value <= 100):
            raise CarbonParameterError(
                f"{name} {value}: 应为 0–100 之间的百分数 / give a percentage "
                "between 0 and 100 (1σ relative error of a group's yearly total)."
            )


def _lacking_parameters(params, arbor_groups) -> dict[str, dict[str, list[str]]]:
    """Per method: arbor group → the parameters it lacks (groups lacking none out).

    The stock difference needs a, b, CF (and R when applied); the gain–loss
    needs those and GR, CR.
    """
    lacking_sd = {g: params.missing[g] for g in arbor_groups if g in params.missing}
    lacking_gl = {
        g: [n for n in ("GR", "CR") if n not in params.by_group.get(g, {})]
        for g in arbor_groups
    }
    lacking_gl = {g: v for g, v in lacking_gl.items() if v}
    return {STOCK_DIFFERENCE: lacking_sd, GAIN_LOSS: {**lacking_sd, **lacking_gl}}


def _stock_difference_note(year_from, year_to, *, roots_excluded, per_area) -> str:
    """Return the note of the stock-difference rows: method, roots, not counted."""
    roots_word = (
        "B 按不含根读，乘 (1+R) / B read as above-ground: × (1 + R)"
        if roots_excluded
        else "B 按含根读（有争议，未核实），不乘 (1+R) / B read as total stand "
        "biomass incl. roots (disputed, unverified): no (1 + R); the other "
        "reading is in co2_t_per_yr_other_roots"
    )
    if per_area:
        not_counted_word = (
            f"按面积计入 {', '.join(per_area)}；疏林、其他灌木林、未成林地未计入（见 "
            f"not_counted）/ counted by area: {', '.join(per_area)}; sparse "
            "forest, other shrub and unestablished land not counted"
        )
    else:
        not_counted_word = (
            "竹林、特灌无有来源的单位面积生物量，与疏林、其他灌木林、"
            "未成林地一并未计入（见 "
            "not_counted）/ bamboo and state-specified shrub not counted (no "
            "sourced per-area biomass; supply biomass_t_ha in params), nor "
            "sparse forest, other shrub and unestablished land"
        )
    return (
        f"存量差法 IPCC 2006 第4卷 式2.8，(C{year_to}−C{year_from})/"
        f"{year_to - year_from} 年 × 44/12；正值=从大气移除（碳汇），"
        "负值=净排放；转为非林地的森林离开 C₂，计为损失 / stock "
        "difference, IPCC 2006 Vol. 4 Eq. 2.8; positive = removal from the "
        f"atmosphere. {roots_word}. {not_counted_word}. 区间：蒙特卡洛 90 % "
        "覆盖所有输入 / interval: 90 % Monte Carlo over every input."
    )


def _simulate_methods(model, wanted, lacking, *, draws, seed):
    """Simulate each wanted method that has its parameters, in order.

    Returns ``(results, missing, sensitivity)``: method → result (None
    where not estimable), method → why not estimable, and the sensitivity
    tables of the simulated methods, with a ``method`` column.
    """
    results: dict[str, SinkResult | None] = {}
    missing_words: dict[str, str] = {}
    sens_frames = []
    for m in wanted:
        lacks = lacking[STOCK_DIFFERENCE if m == STOCK_DIFFERENCE else GAIN_LOSS]
        if lacks:
            listed = "; ".join(f"{g}: {', '.join(v)}" for g, v in sorted(lacks.items()))
            missing_words[m] = (
                f"不可估算：缺少参数 / not estimable: missing parameters ({listed}); "
                "supply them, with their source, in your parameter file (params)"
                + (
                    " (format: data/gain_loss.EXAMPLE.csv; the provincial "
                    "guideline's GR/CR tables were not found)"
                    if m == GAIN_LOSS
                    else ""
                )
            )
            results[m] = None
            continue
        res = simulate(model, m, draws=draws, seed=seed)
        results[m] = res
        sens = res.sensitivity.copy()
        sens.insert(0, "method", m)
        sens_frames.append(sens)
    sensitivity = (
        pd.concat(sens_frames, ignore_index=True) if sens_frames else pd.DataFrame()
    )
    return results, missing_words, sensitivity


def _arbor_groups(g_from: pd.DataFrame, g_to: pd.DataFrame) -> list[str]:
    """Species groups of arbor forest in either year, sorted."""
    return sorted(
        set(g_from.loc[g_from["category"] == "arbor", "group"])
        | set(g_to.loc[g_to["category"] == "arbor", "group"])
    )


def _per_area_counted(params) -> list[str]:
    """Categories counted by area: bamboo, shrub where per-area biomass and CF exist."""
    return [
        c
        for c in ("bamboo", "shrub")
        if {"biomass_t_ha", "CF"} <= set(params.by_group.get(c, {}))
    ]


def _drivers_table(results) -> pd.DataFrame:
    """Top three input kinds of the city sink per simulated method."""
    top = []
    for m, res in results.items():
        if res is not None:
            d = drivers(res.sensitivity)
            d.insert(0, "method", m)
            top.append(d)
    return pd.concat(top, ignore_index=True) if top else pd.DataFrame()


def _gain_loss_note(params, arbor_groups, results, year_from) -> str:
    """Return the note of the gain–loss rows: sources of GR/CR, the difference."""
    gl_src = sorted(
        {
            f"{params.by_group[g][n].origin}: {params.by_group[g][n].source_id}"
            for g in arbor_groups
            for n in ("GR", "CR")
        }
    )
    diff = ""
    if results.get(STOCK_DIFFERENCE) is not None:
        d = results[GAIN_LOSS].central[-1] - results[STOCK_DIFFERENCE].central[-1]
        diff = (
            " 全市差值 / city difference gain-loss − stock difference = "
            f"{d:,.0f} t CO₂/yr."
        )
    return (
        "增减法（省级清单指南的做法）：a·V̄·(GR−CR)·CF×44/12 "
        f"减去乔木林转非林地排放（转化面积 × {year_from} 年碳密度 / 年数）；"
        f"GR/CR 来自 {', '.join(gl_src)} / "
        "gain-loss (the provincial guideline's route): growth minus consumption "
        "of the mean standing stock, minus emissions of arbor forest converted "
        "to non-forest land. It differs from the stock difference because it "
        "counts no new forest area (stock difference books new arbor land with "
        "its intercept b·area and its volume), it applies rates to the stock "
        "rather than measuring it twice, and its conversion term needs the "
        "layer's previous class (Q_DI_LEI)." + diff
    )


def _sources_table(
    params, used_groups, *, area_error_pct, volume_error_pct
) -> pd.DataFrame:
    """Every parameter used (value, spread, source, origin) and the activity errors."""
    sources = params.table()
    sources = (
        sources[sources["forest_type"].isin(used_groups)] if len(sources) else sources
    )
    activity = pd.DataFrame(
        [
            {
                "forest_type": "all",
                "parameter": name,
                "value": pct,
                "distribution": "normal",
                "sd": pct,
                "low": np.nan,
                "high": np.nan,
                "from_row": "",
                "source_id": "assumption_forestsink",
                "origin": f"--{name.replace('_', '-')} (%, 1σ of a group's yearly "
                "total; 项目假设，无已发表的一张图精度 / project assumption, no "
                "published precision of the 一张图 found)",
                "draw_key": f"{name}|year|group",
            }
            for name, pct in (
                ("area_error", area_error_pct),
                ("volume_error", volume_error_pct),
            )
        ]
    )
    return pd.concat([sources, activity], ignore_index=True)


def _not_counted_table(g_from, g_to, year_from, year_to, per_area) -> pd.DataFrame:
    """Forest land not counted, by district, year and land group (mu, m³)."""
    not_counted = pd.concat(
        [
            g.assign(year=y)[~g["category"].isin(["arbor", "no_biomass", *per_area])]
            for y, g in ((year_from, g_from), (year_to, g_to))
        ],
        ignore_index=True,
    )
    return (
        not_counted.groupby(["adcode", "year", "land_group"], as_index=False)[
            ["area_mu", "volume_area_m3", "n_xiaoban"]
        ].sum()
        if len(not_counted)
        else pd.DataFrame(columns=["adcode", "year", "land_group", "area_mu"])
    )


def _stock_by_group(model, year_from, year_to) -> pd.DataFrame:
    """City carbon stock (t C) per species group and year, central values."""
    central = model.central_values()
    by_group = []
    for year in (year_from, year_to):
        for t in model.stock[year]:
            group = next(
                (
                    model.inputs[k].forest_type
                    for k, _ in t.factors
                    if k.startswith("area_error")
                ),
                "",
            )
            value = model.evaluate(central, [t])[-1, 0]
            by_group.append({"year": year, "forest_type": group, "carbon_t": value})
    return (
        pd.DataFrame(by_group).groupby(["forest_type", "year"], as_index=False).sum()
        if by_group
        else pd.DataFrame(columns=["forest_type", "year", "carbon_t"])
    )


def forest_sink_tables(
    store,
    *,
    year_from: int,
    year_to: int,
    method: str = "both",
    params=None,
    as_of=None,
    roots_excluded: bool = False,
    area_error_pct: float = AREA_ERROR_PCT,
    volume_error_pct: float = VOLUME_ERROR_PCT,
    draws: int = 10_000,
    seed: int = 2012,
):
    """Return the whole-forest sink of a store's two inventory years (``carbon``).

    The one place that reads the store: two ``inventory_sums`` by
    ``adcode, land_group, species`` (aggregated in SQL, one row per group,
    however many 小班) and the later year's ``inventory_transfer``; the rest
    is :func:`compute_sink`.

    Parameters
    ----------
    store : Store
        An open store holding both years' forest-resource layers.
    year_from, year_to : int
        The inventory years.
    method : {"stock-difference", "gain-loss", "both"}, optional (default: both)
        Routes reported.
    params : path, optional (default: None)
        The user's parameter file (columns of ``carbon_parameters.csv``):
        its rows override the shipped ones and may add ``GR``, ``CR``
        (1/yr) and ``biomass_t_ha`` (t/ha); each names its source.
    as_of : int or str, optional (default: None, now)
        Batch number or time of the store's state.
    roots_excluded, area_error_pct, volume_error_pct, draws, seed
        See :func:`compute_sink`.

    Returns
    -------
    forestsink.progress.Tables
        ``sink`` (main: t CO₂/yr per district and city, positive = removal),
        ``sensitivity``, ``sources``, ``not_counted``, ``by_group``, with
        the settings.
    """
    if year_from is None or year_to is None:
        held = ", ".join(map(str, store.inventory_years(as_of=as_of))) or "none"
        raise CarbonParameterError(
            f"year_from={year_from}, year_to={year_to}: 全森林碳汇需要两期森林资源"
            f"图层 / the whole-forest sink needs two inventory years (held: "
            f"{held}); load them into the store first (load_inventory, year=Y).",
            option=("year_from", "year_to"),
        )
    for year in (year_from, year_to):
        require_year(store, year, as_of=as_of)
    shipped = _shipped_parameters()
    user = read_carbon_parameters(params) if params else None
    by = ("adcode", "land_group", "species")
    out = compute_sink(
        store.inventory_sums(year_from, as_of=as_of, by=by),
        store.inventory_sums(year_to, as_of=as_of, by=by),
        year_from=year_from,
        year_to=year_to,
        shipped=shipped,
        known_sources=read_parameter_sources(),
        forest_types=read_forest_types(),
        names=district_areas(),
        transfer=store.inventory_transfer(year_to, as_of=as_of),
        user=user,
        user_name=f"params {shown_path(params)}" if params else "params",
        method=method,
        roots_excluded=roots_excluded,
        area_error_pct=area_error_pct,
        volume_error_pct=volume_error_pct,
        draws=draws,
        seed=seed,
    )
    settings = _sink_settings(
        store,
        params,
        out["drivers"],
        year_from=year_from,
        year_to=year_to,
        method=method,
        roots_excluded=roots_excluded,
        area_error_pct=area_error_pct,
        volume_error_pct=volume_error_pct,
        draws=draws,
        seed=seed,
    )
    tables = {k: v for k, v in out.items() if k != "drivers"}
    tables["drivers"] = out["drivers"]
    return Tables(tables=tables, settings=settings, labels=SINK_LABELS)


def _shipped_parameters() -> pd.DataFrame:
    """Shipped CF, R, a and b rows, ``carbon_parameters.csv`` first, with origin."""
    shipped = pd.concat(
        [
            read_carbon_parameters().assign(origin="data/carbon_parameters.csv"),
            read_biomass_volume().assign(origin="data/biomass_volume.csv"),
        ],
        ignore_index=True,
    )
    return shipped[shipped["parameter"].isin(["CF", "R", "a", "b"])]


def _sink_settings(
    store,
    params,
    drivers_table: pd.DataFrame,
    *,
    year_from,
    year_to,
    method,
    roots_excluded,
    area_error_pct,
    volume_error_pct,
    draws,
    seed,
) -> dict[str, str]:
    """Return the settings sheet of the sink tables (sign, units, draws, drivers)."""
    settings = {
        "what": "全森林碳汇（两期森林资源一张图），非项目增量 / the whole forest's "
        "carbon sink from two forest-resource inventories, not the project "
        "increment",
        "store": shown_path(getattr(store, "path", store)),
        "year_from": str(year_from),
        "year_to": str(year_to),
        "method": method,
        "sign": "正值 = 从大气移除（碳汇）/ positive = removal from the atmosphere",
        "units": "co2_t_per_yr: t CO₂/yr; carbon_t_*: t C; *_mu: mu (15 mu = 1 ha)",
        "params": shown_path(params) if params else "shipped only",
        "roots": "excluded: × (1 + R)"
        if roots_excluded
        else "included (default, disputed): no (1 + R)",
        "area_error_pct": f"{area_error_pct:g} (1σ, assumption)",
        "volume_error_pct": f"{volume_error_pct:g} (1σ, assumption)",
        "draws": str(draws),
        "seed": str(seed),
        "correlations": "参数对同一树种组的所有小班、区县和两期取同一抽样；"
        "同一来源的数值共用一次抽样；"
        "面积/蓄积误差按年×树种组抽样，年间、组间独立 / a parameter draw is "
        "shared by every 小班 and district of a group and both years; groups "
        "taking a value from one published figure share a draw; activity "
        "errors are drawn per year × group, independent between years and "
        "groups",
        "sensitivity": "one-at-a-time Monte Carlo variance of the city sink, "
        "normalised to sum to 1 (ipcc_share: the Approach-1 first-order terms)",
        "coefficients": "a: OLS slope SE from the published n and R²; b: spread "
        "between candidate functions (data/biomass_volume.csv)",
    }
    for _, row in drivers_table.iterrows():
        settings[f"driver_{row['method']}_{row.name}"] = (
            f"{row['zh']} / {row['en']}: {row['variance_share']:.0%}"
        )
    return settings
