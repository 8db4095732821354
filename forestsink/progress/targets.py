"""Plan targets: the city's plan targets and a bureau's district targets.

:func:`city_targets` lists each target of the plan with what measures it
(project work, the forest-resource statistics of the inventory, land-cover
coverage, or nothing) and done, remaining and % done per plan year;
:func:`read_district_targets` reads a bureau's own per-district targets and
:func:`district_targets` compares them with the resource statistics. Areas in
mu, volumes in m³, coverage in %.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forestsink.errors import TableFileError
from forestsink.io import read_bureau_table
from forestsink.progress.duties import ACCOUNTING_COLUMNS, duty_accounting
from forestsink.progress.views import district_keys
from forestsink.reference import (
    Plan,
    read_plan,
    read_project_types,
    resolve_district_column,
)

#: Status of a city-target row (the ``status`` column).
NEEDS_RESOURCE_LAYERS = "needs_resource_layers"
NEEDS_RESOURCE_NOTE = (
    "需森林资源一张图 / needs the forest-resource layers: the plan's target is "
    "the whole forest's change between two inventories, which project polygons "
    "cannot measure; project work is listed apart"
)


RESOURCE_STATISTICS = "resource_statistics"
#: metrics of a district target :func:`district_targets` compares
DISTRICT_METRICS = ("new_forest_area_mu", "new_stock_volume_m3", "forest_coverage_pct")
#: status of a coverage duty measured by the land-cover rasters
RASTER_COVERAGE = "coverage"


def _resource_city(inventory: dict | None) -> pd.DataFrame:
    """Return the inventory statistics' city rows, one per year (maybe none)."""
    rows = []
    for year, stats in sorted((inventory or {}).items()):
        city = stats[stats["adcode"] == "500000"]
        if len(city):
            rows.append(city.iloc[0].to_dict() | {"year": int(year)})
    return pd.DataFrame(rows)


def _resource_rows(
    inv: pd.DataFrame, target: pd.Series, column: str, what: dict, plan: Plan
):
    """Rows of one resource target: change since the base year, per plan year.

    ``cumulative`` is the change from the layer of the year before the plan
    (the base, state at its 31 December) to the layer of each plan year;
    years without a layer are empty (never interpolated).
    """
    by_year = inv.set_index("year")
    base = by_year.loc[plan.base_year, column]
    previous = base
    rows = []
    for y in plan.years:
        if y in by_year.index:
            value = by_year.loc[y, column]
            cumulative = float(value - base)
            done = float(value - previous)
            previous = value
            note = what["note"] + (
                f"; {by_year.loc[y, 'note']}" if by_year.loc[y, "note"] else ""
            )
        else:
            cumulative = done = np.nan
            note = f"{y} 年无森林资源图层 / no forest-resource layer for {y}"
        measured = not np.isnan(cumulative)
        rows.append(
            {
                "target_id": what["target_id"],
                "name_zh": what["name_zh"],
                "name_en": what["name_en"],
                "year": y,
                "unit": what["unit"],
                "target": target["value"],
                "done": done,
                "cumulative": cumulative,
                "remaining": max(target["value"] - cumulative, 0.0)
                if measured
                else np.nan,
                "pct_done": 100.0 * cumulative / target["value"]
                if measured
                else np.nan,
                "status": RESOURCE_STATISTICS,
                "note": note,
            }
        )
    return rows


def _yearly_rows(target_id, name_zh, name_en, unit, value, series, note, status, years):
    """One row per plan year: done, cumulative, remaining, % done of a target.

    *series*: year -> done (missing years count 0); None when nothing
    measures the target (``done`` empty). *value*: the target, NaN for
    project work without one. *years*: the plan's years.
    """
    rows = []
    cumulative = 0.0
    has_target = not np.isnan(value)
    for y in years:
        done = float(series.get(y, 0.0)) if series is not None else np.nan
        cumulative += done
        measured = series is not None and has_target
        rows.append(
            {
                "target_id": target_id,
                "name_zh": name_zh,
                "name_en": name_en,
                "year": y,
                "unit": unit,
                "target": value,
                "done": done,
                "cumulative": cumulative,
                "remaining": max(value - cumulative, 0.0) if measured else np.nan,
                "pct_done": 100.0 * cumulative / value if measured else np.nan,
                "status": status,
                "note": note,
            }
        )
    return rows


def _resource_target_rows(inv: pd.DataFrame, plan: Plan) -> list[dict]:
    """Return the rows of new forest area (mu) and stock (m³) from the map."""
    base_year = plan.base_year
    area, stock = _area_stock(plan)
    source = (
        f"森林资源一张图 {base_year} 年起的变化 / change in the forest-resource "
        f"map since {base_year}"
    )
    rows = []
    if area is not None:
        rows += _resource_rows(
            inv,
            area,
            "forest_area_mu",
            {
                "target_id": area["target_id"],
                "name_zh": "新增森林面积",
                "name_en": "New forest area",
                "unit": "mu",
                "note": source + " (乔木林+竹林+国家特别规定灌木林 / arbor, "
                "bamboo and state-specified shrub)",
            },
            plan,
        )
    if stock is not None:
        rows += _resource_rows(
            inv,
            stock,
            "forest_stock_m3",
            {
                "target_id": stock["target_id"],
                "name_zh": "新增森林蓄积量",
                "name_en": "New stock volume",
                "unit": "m3",
                "note": source + " (森林蓄积 = Σ 公顷蓄积 × 面积 over forest "
                "classes / forest stock)",
            },
            plan,
        )
    return rows


def _area_stock(plan: Plan) -> tuple[pd.Series | None, pd.Series | None]:
    """Return the plan's city-wide new forest area and new stock targets."""
    return plan.target_of("new_forest_area_mu"), plan.target_of("new_stock_volume_m3")


def _needs_layers_rows(plan: Plan) -> list[dict]:
    """Return new forest area and stock rows without resource layers (no done)."""
    area, stock = _area_stock(plan)
    rows = []
    if area is not None:
        rows += _yearly_rows(
            area["target_id"],
            "新增森林面积",
            "New forest area",
            "mu",
            area["value"],
            None,
            NEEDS_RESOURCE_NOTE,
            NEEDS_RESOURCE_LAYERS,
            plan.years,
        )
    if stock is not None:
        rows += _yearly_rows(
            stock["target_id"],
            "新增森林蓄积量",
            "New stock volume",
            "m3",
            stock["value"],
            None,
            NEEDS_RESOURCE_NOTE
            + "; delivered 蓄积 is a standing stock, not an increment",
            NEEDS_RESOURCE_LAYERS,
            plan.years,
        )
    return rows


def _project_work_rows(base: pd.DataFrame, plan: Plan) -> list[dict]:
    """Project work: area planted (net, no target), then area per programme type.

    Programme targets of the same project type are added (deliveries rarely
    say which programme a polygon belongs to); areas in mu.
    """
    names = read_project_types()
    targets = plan.targets
    rows = _yearly_rows(
        "project_planted_area",
        "项目作业面积：造林（净）",
        "Project work: area planted (net)",
        "mu",
        np.nan,
        base.groupby("year")["new_forest_area_mu"].sum(),
        "net area of the project types that plant forest, overlaps counted "
        "once; project work, not the resource's new forest area (young "
        "plantations are 未成林造林地 for years)",
        "project_work",
        plan.years,
    )
    programme = targets[targets["scope"] == "programme"]
    for ptype, group in programme.groupby("project_type", sort=False):
        value = group["value"].sum()
        labels = "、".join(group["programme_zh"])
        gross = base[base["project_type"] == ptype].groupby("year")["gross_area_mu"]
        rows += _yearly_rows(
            f"type_{ptype}",
            f"项目作业面积：{names.loc[ptype, 'name_zh']}（{labels}）",
            f"Project work: area treated, {names.loc[ptype, 'name_en']}",
            "mu",
            value,
            gross.sum(),
            "sum of the programme targets for this project type: "
            + "; ".join(f"{r.programme_zh} {r.value:,.0f}" for r in group.itertuples()),
            "project_work",
            plan.years,
        )
    return rows


def _raster_coverage_row(
    cov: pd.Series, coverage: pd.DataFrame | None, plan: Plan
) -> dict:
    """Forest coverage (%) measured from land-cover rasters (empty without)."""
    raster = {
        "target_id": cov["target_id"],
        "name_zh": "森林覆盖率",
        "name_en": "Forest coverage",
        "year": plan.period_end,
        "unit": "%",
        "target": cov["value"],
        "done": np.nan,
        "cumulative": np.nan,
        "remaining": np.nan,
        "pct_done": np.nan,
        "status": "coverage",
        "note": "measured from land-cover rasters (forestsink coverage, a "
        "remote-sensing cross-check), not from project polygons; the "
        "official rate needs the forest-resource layers",
    }
    if coverage is not None and {"adcode", "coverage_pct", "year"} <= set(coverage):
        city = coverage[coverage["adcode"] == "500000"]
        if not city.empty:
            latest = city.sort_values("year").iloc[-1]
            raster.update(
                done=float(latest["coverage_pct"]),
                cumulative=float(latest["coverage_pct"]),
                year=int(latest["year"]),
                pct_done=100.0 * float(latest["coverage_pct"]) / cov["value"],
                remaining=max(cov["value"] - latest["coverage_pct"], 0),
            )
    return raster


def _coverage_rows(
    cov: pd.Series | None,
    coverage: pd.DataFrame | None,
    inv: pd.DataFrame,
    resource: bool,
    plan: Plan,
) -> list[dict]:
    """Forest coverage (%): the resource map's rate with the raster as a check.

    Without resource layers only the raster row (status ``coverage``).
    """
    if cov is None:
        return []
    raster = _raster_coverage_row(cov, coverage, plan)
    if not resource:
        return [raster]
    in_plan = inv[inv["year"].isin(plan.years)].sort_values("year").iloc[-1]
    rate = float(in_plan["coverage_pct"])
    rows = [
        {
            "target_id": cov["target_id"],
            "name_zh": "森林覆盖率",
            "name_en": "Forest coverage",
            "year": int(in_plan["year"]),
            "unit": "%",
            "target": cov["value"],
            "done": rate,
            "cumulative": rate,
            "remaining": max(cov["value"] - rate, 0.0),
            "pct_done": 100.0 * rate / cov["value"],
            "status": RESOURCE_STATISTICS,
            "note": "森林资源一张图：森林面积 ÷ 行政区总面积 / forest-resource "
            "map: forest area ÷ total administrative area (water included)"
            + (f"; {in_plan['note']}" if in_plan["note"] else ""),
        }
    ]
    if not np.isnan(raster["done"]):
        rows.append(
            raster
            | {
                "pct_done": np.nan,  # a check of the rate, not progress
                "remaining": np.nan,
                "target_id": "forest_coverage_raster",
                "name_zh": "森林覆盖率（遥感校核）",
                "name_en": "Forest coverage (raster cross-check)",
                "status": "cross_check",
                "note": "land-cover raster: an independent remote-sensing "
                "estimate (its forest classes and denominator differ from "
                "the official definition), not the official rate",
            }
        )
    return rows


def _protection_rows(targets: pd.DataFrame, plan: Plan) -> list[dict]:
    """Protection of existing forest: not delivered as polygons, not tracked."""
    return [
        {
            "target_id": r.target_id,
            "name_zh": r.programme_zh,
            "name_en": r.programme_en,
            "year": plan.period_end,
            "unit": r.unit,
            "target": r.value,
            "done": np.nan,
            "cumulative": np.nan,
            "remaining": np.nan,
            "pct_done": np.nan,
            "status": "not_tracked",
            "note": "protection of existing forest is not delivered as project "
            "polygons; not tracked here",
        }
        for r in targets[targets["scope"] == "protection"].itertuples()
    ]


def city_targets(
    base: pd.DataFrame,
    *,
    coverage: pd.DataFrame | None = None,
    inventory: dict[int, pd.DataFrame] | None = None,
    plan: Plan | str | Path | None = None,
) -> pd.DataFrame:
    """Each plan target: what measures it, and done, remaining, % done.

    ``status``: ``project_work`` (programme targets of area treated, and
    project work without a target: ``target`` empty), ``resource_statistics``
    (new forest area, new stock volume and coverage from the forest-resource
    map, when *inventory* holds the year before the plan and a plan year),
    ``needs_resource_layers`` (without those layers: ``done`` empty),
    ``coverage`` (measured from land-cover rasters when a coverage table is
    given and no layers are; with layers the raster figure is the row
    ``forest_coverage_raster``, status ``cross_check``) or ``not_tracked``.

    Parameters
    ----------
    inventory : dict, optional
        Year -> :func:`forestsink.inventory.load.inventory_statistics`
        (the city row, adcode 500000, is used). New forest area is the
        change of forest area (mu), new stock volume the change of forest
        stock (森林蓄积, m³, forest classes), coverage the latest plan
        year's rate (%).
    plan : Plan or path, optional (default: None, the seed plan)
        The plan (:func:`forestsink.reference.read_plan`): its targets, its
        years (one row per plan year; project work counts only the work of
        those years) and its base year (the resource layer changes are
        measured from).
    """
    plan = read_plan(plan)
    inv = _resource_city(inventory)
    resource = (
        len(inv) > 0
        and plan.base_year in set(inv["year"])
        and bool(set(inv["year"]) & set(plan.years))
    )
    rows = _resource_target_rows(inv, plan) if resource else _needs_layers_rows(plan)
    rows += _project_work_rows(base, plan)
    rows += _coverage_rows(
        plan.target_of("forest_coverage_pct"), coverage, inv, resource, plan
    )
    rows += _protection_rows(plan.targets, plan)
    return pd.DataFrame(rows)


def read_district_targets(path) -> pd.DataFrame:
    """Read a bureau's own per-district targets (CSV in UTF-8 or GBK, or Excel).

    Columns: a district (``adcode`` or ``district``/``name_zh``/区县, any known
    name), ``metric`` (``new_forest_area_mu``, ``new_stock_volume_m3`` or
    ``forest_coverage_pct``) and ``value`` (mu, m³ or %). Extra columns
    (``status``, notes) are ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise TableFileError(f"{path}: no such file (district targets).")
    table = read_bureau_table(path)
    district = next(
        (c for c in ("adcode", "district", "name_zh", "区县") if c in table), None
    )
    missing = [c for c in ("metric", "value") if c not in table]
    if district is None or missing:
        raise TableFileError(
            f"{path.name}: needs a district column (adcode, district, name_zh or "
            f"区县) and 'metric', 'value'; found {list(table.columns)}."
        )
    adcodes = resolve_district_column(table[district], source=path.name)
    out = []
    for i, (adcode, (_, row)) in enumerate(zip(adcodes, table.iterrows(), strict=True)):
        where = f"{path.name}: row {i + 2}"
        if row["metric"] not in DISTRICT_METRICS:
            raise TableFileError(
                f"{where}: metric {row['metric']!r} / 未知指标; use "
                f"{', '.join(DISTRICT_METRICS)}."
            )
        try:
            value = float(row["value"])
        except ValueError as err:
            raise TableFileError(
                f"{where}: value {row['value']!r} is not a number."
            ) from err
        out.append({"adcode": adcode, "metric": row["metric"], "target": value})
    return pd.DataFrame(out)


def _district_resource(
    inventory: dict | None, plan: Plan
) -> dict[str, dict[str, float]]:
    """Per district: change of forest area and forest stock, base to latest.

    Base: the year before the plan; latest: the last plan year with a layer.
    Only districts with a layer in both years (never filled in).
    """
    years = sorted(inventory or {})
    base_year = plan.base_year
    in_plan = [y for y in years if plan.period_start <= y <= plan.period_end]
    if base_year not in years or not in_plan:
        return {}
    a = inventory[base_year].set_index("adcode")
    b = inventory[in_plan[-1]].set_index("adcode")
    out = {}
    for code in a.index.intersection(b.index):
        if a.loc[code, "n_xiaoban"] > 0 and b.loc[code, "n_xiaoban"] > 0:
            out[code] = {
                "new_forest_area_mu": float(
                    b.loc[code, "forest_area_mu"] - a.loc[code, "forest_area_mu"]
                ),
                "new_stock_volume_m3": float(
                    b.loc[code, "forest_stock_m3"] - a.loc[code, "forest_stock_m3"]
                ),
                "forest_coverage_pct": float(b.loc[code, "coverage_pct"])
                if "coverage_pct" in b
                else np.nan,
                "years": f"{base_year}–{in_plan[-1]}",
            }
    return out


def _raster_coverage(coverage: pd.DataFrame | None) -> dict[str, tuple]:
    """Per district: the latest raster coverage (%) and its year (may be empty)."""
    if coverage is None or not {"adcode", "coverage_pct", "year"} <= set(coverage):
        return {}
    latest = coverage.assign(adcode=coverage["adcode"].astype(str)).sort_values(
        "year", kind="stable"
    )
    latest = latest.groupby("adcode").tail(1)
    return {
        r.adcode: (float(r.coverage_pct), int(r.year))
        for r in latest.itertuples()
        if pd.notna(r.coverage_pct)
    }


def _done(metric: str, found: dict | None, raster: tuple | None) -> tuple:
    """Return done, status and note of one duty (the plan status's sources)."""
    if found is not None and not np.isnan(found[metric]):
        return (
            found[metric],
            RESOURCE_STATISTICS,
            f"森林资源一张图 {found['years']} / forest-resource map, {found['years']}",
        )
    if metric == "forest_coverage_pct" and raster is not None:
        return (
            raster[0],
            RASTER_COVERAGE,
            f"土地覆盖栅格 {raster[1]} 年（遥感，非官方）/ land-cover raster, "
            f"{raster[1]} (remote sensing, not the official rate)",
        )
    return (
        np.nan,
        NEEDS_RESOURCE_LAYERS,
        "需森林资源一张图 / needs the forest-resource layers",
    )


def district_targets(
    base: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    inventory: dict[int, pd.DataFrame] | None = None,
    plan: Plan | str | Path | None = None,
    coverage: pd.DataFrame | None = None,
    transfers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Compare the districts' duties with what was done, transfers applied.

    New forest area and new stock volume are resource statistics: with
    *inventory* holding the year before the plan and a plan year, ``done``
    is the district's change between them (``status``
    ``resource_statistics``); otherwise ``done``, ``remaining`` and
    ``pct_done`` stay empty (``needs_resource_layers``). A coverage duty
    (%) is measured as ``plan status`` measures it: the forest-resource
    map's rate in the last plan year held, else the latest year of the
    land-cover coverage table (``status`` ``coverage``; a remote-sensing
    figure, not the official rate); ``note`` says which. ``project_work``
    shows apart what the projects did in the plan's years: the net area
    planted (mu), or the project increment measured or modelled (m³; empty
    where not estimable).

    Parameters
    ----------
    base : pandas.DataFrame
        The district view of :func:`forestsink.progress.progress_tables`.
    targets : pandas.DataFrame
        One row per duty: ``adcode``, ``metric`` (:data:`DISTRICT_METRICS`),
        ``target`` (mu, m³ or %).
    inventory : dict, optional (default: None)
        Year -> forest-resource statistics (``adcode``, ``n_xiaoban``,
        ``forest_area_mu``, ``forest_stock_m3``, ``coverage_pct``).
    plan : Plan or path, optional (default: None, the seed plan)
        Its base year and years.
    coverage : pandas.DataFrame, optional (default: None)
        Land-cover coverage table (``adcode``, ``year``, ``coverage_pct``).
    transfers : pandas.DataFrame, optional (default: None)
        Forest-area indicator transfers
        (:func:`forestsink.reference.read_transfers`), applied to the area
        duties' accounting only (:func:`forestsink.progress.duties.duty_accounting`).

    Returns
    -------
    pandas.DataFrame
        District, metric, target, done (physical, never changed by
        transfers), remaining, pct_done, status, project work, ``note``
        and the accounting columns ``sold_mu``, ``bought_mu``, ``credited``,
        ``balance`` (credited − target: mu, m³ or percentage points),
        ``balance_wan_mu``, ``duty_status`` (met / short) and ``short_by``.
    """
    plan = read_plan(plan)
    resource = _district_resource(inventory, plan)
    raster = _raster_coverage(coverage)
    grouped = base[base["year"].isin(plan.years)].groupby("adcode")
    planted = grouped["new_forest_area_mu"].sum()
    increment = (
        grouped["increment_measured_m3"]
        .sum(min_count=1)
        .add(grouped["increment_model_m3"].sum(min_count=1), fill_value=0.0)
    )
    rows = []
    for r in targets.itertuples():
        if r.metric == "new_forest_area_mu":
            work = float(planted.get(r.adcode, 0.0))
            what = "项目造林面积（净）/ project work: area planted (net), mu"
        elif r.metric == "new_stock_volume_m3":
            work = float(increment.get(r.adcode, np.nan))
            what = "项目增量（实测或模型）/ project increment (measured or model), m³"
        else:
            work, what = np.nan, "覆盖率无对应项目作业 / no project work counterpart"
        done, status, note = _done(
            r.metric, resource.get(r.adcode), raster.get(r.adcode)
        )
        measured = not np.isnan(done)
        rows.append(
            {
                "adcode": r.adcode,
                "metric": r.metric,
                "target": r.target,
                "done": done,
                "remaining": max(r.target - done, 0.0) if measured else np.nan,
                "pct_done": 100.0 * done / r.target
                if measured and r.target
                else np.nan,
                "status": status,
                "project_work": work,
                "project_work_what": what,
                "note": note,
            }
        )
    out = pd.DataFrame(rows).merge(district_keys(), on="adcode", how="left")
    out = duty_accounting(out, transfers, plan=plan)
    return out[
        [
            "adcode",
            "name_zh",
            "name_en",
            "region",
            "metric",
            "target",
            "done",
            "remaining",
            "pct_done",
            "status",
            "project_work",
            "project_work_what",
            "note",
            *ACCOUNTING_COLUMNS,
        ]
    ]
