"""Plan status: one row per target of a plan, with what measured it.

:func:`plan_status` gives, for every target of a plan (city, programme,
protection and district duty rows), the done figure over the plan's period
and ``measured_by``: the forest-resource map (一张图, when the store holds the
plan's base year and a plan year), the project polygons (area treated or
planted, only the work of the target's years) or the land-cover rasters. It
is the table behind ``forestsink plan status``. Areas in mu, stock volumes
in m³, coverage in %.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestsink.progress.duties import duty_balance
from forestsink.progress.tables import progress_tables
from forestsink.reference import Plan, read_plan, read_transfers

#: the columns of :func:`plan_status`, in order
STATUS_COLUMNS = [
    "target_id",
    "metric",
    "scope",
    "adcode",
    "value",
    "unit",
    "period_start",
    "period_end",
    "done",
    "pct_done",
    "measured_by",
    "note",
]
RESOURCE_MAP = "forest_resource_map"
PROJECT_POLYGONS = "project_polygons"
RASTERS = "rasters"
NOT_MEASURED = "not_measured"
_INVENTORY_COLUMN = {
    "new_forest_area_mu": "forest_area_mu",
    "new_stock_volume_m3": "forest_stock_m3",
}


def _resource_pair(inventory: dict | None, plan: Plan) -> tuple[int, int] | None:
    """Return (base year, last plan year held), or None without both layers."""
    years = sorted(int(y) for y in (inventory or {}))
    in_plan = [y for y in years if plan.period_start <= y <= plan.period_end]
    if plan.base_year not in years or not in_plan:
        return None
    return plan.base_year, in_plan[-1]


def _inventory_row(inventory: dict, year: int, adcode: str) -> pd.Series | None:
    stats = inventory[year]
    rows = stats[stats["adcode"] == adcode]
    return rows.iloc[0] if len(rows) else None


def _from_map(metric: str, adcode: str, inventory: dict, pair) -> tuple | None:
    """Done and note from the forest-resource map (None where it lacks it)."""
    a = _inventory_row(inventory, pair[0], adcode)
    b = _inventory_row(inventory, pair[1], adcode)
    if a is None or b is None:
        return None
    if metric == "forest_coverage_pct":
        return (
            float(b["coverage_pct"]),
            f"森林资源一张图 {pair[1]} 年森林覆盖率 / forest-resource map, "
            f"coverage in {pair[1]}",
        )
    column = _INVENTORY_COLUMN[metric]
    return (
        float(b[column] - a[column]),
        f"森林资源一张图 {pair[0]}→{pair[1]} 年变化 / change in the "
        f"forest-resource map, {pair[0]}→{pair[1]}",
    )


def _work(base: pd.DataFrame, years: range, adcode: str | None) -> pd.DataFrame:
    part = base[base["year"].isin(list(years))]
    return part if adcode is None else part[part["adcode"] == adcode]


def _from_projects(row, base: pd.DataFrame, adcode: str | None) -> tuple | None:
    """Done and note from the project polygons of the target's years."""
    years = range(int(row.period_start), int(row.period_end) + 1)
    work = _work(base, years, adcode)
    span = f"{years.start}–{years.stop - 1}"
    if row.metric == "project_area_mu":
        done = float(
            work.loc[work["project_type"] == row.project_type, "gross_area_mu"].sum()
        )
        return done, (
            f"项目图斑 {span} 年作业面积（{row.project_type}，同类型工程目标共用）/ "
            f"project polygons: area treated of type {row.project_type} in {span} "
            "(shared by every target of that type)"
        )
    if row.metric == "new_forest_area_mu":
        return float(work["new_forest_area_mu"].sum()), (
            f"无一张图年份，以项目造林面积（净）计 / no inventory years in the "
            f"store: measured by project work, area planted (net) in {span}; "
            "not the resource's new forest area"
        )
    if row.metric == "new_stock_volume_m3":
        inc = work["increment_measured_m3"].sum(min_count=1)
        model = work["increment_model_m3"].sum(min_count=1)
        done = (
            float(np.nansum([inc, model]))
            if pd.notna(inc) or pd.notna(model)
            else np.nan
        )
        return done, (
            f"无一张图年份，以项目增量（实测或模型）计 / no inventory years in the "
            f"store: measured by project work, the project increment in {span} "
            "(empty where not estimable); not the resource's new stock"
        )
    return None


def _from_rasters(coverage: pd.DataFrame | None, adcode: str) -> tuple | None:
    if coverage is None or not {"adcode", "coverage_pct", "year"} <= set(coverage):
        return None
    rows = coverage[coverage["adcode"].astype(str) == adcode]
    if rows.empty:
        return None
    latest = rows.sort_values("year").iloc[-1]
    return (
        float(latest["coverage_pct"]),
        f"土地覆盖栅格 {int(latest['year'])} 年（遥感校核，非官方）/ land-cover "
        f"raster, {int(latest['year'])} (a cross-check, not the official rate)",
    )


def _measure(row, base, inventory, pair, coverage) -> tuple[float, str, str]:
    """Return done, measured_by and the note of one target row."""
    adcode = row.adcode
    if row.scope == "protection":
        return (
            np.nan,
            NOT_MEASURED,
            "保护现有森林不以项目图斑上报，未跟踪 / protection of existing forest is "
            "not delivered as project polygons; not tracked",
        )
    if row.metric in (*_INVENTORY_COLUMN, "forest_coverage_pct") and pair:
        found = _from_map(row.metric, adcode, inventory, pair)
        if found is not None:
            return found[0], RESOURCE_MAP, found[1]
    if row.metric == "forest_coverage_pct":
        found = _from_rasters(coverage, adcode)
        if found is not None:
            return found[0], RASTERS, found[1]
        return (
            np.nan,
            NOT_MEASURED,
            "需森林资源一张图或土地覆盖栅格 / needs the forest-resource layers or "
            "a land-cover coverage table",
        )
    found = _from_projects(row, base, None if adcode == "500000" else adcode)
    return found[0], PROJECT_POLYGONS, found[1]


def status_table(
    base: pd.DataFrame,
    plan: Plan,
    *,
    inventory: dict[int, pd.DataFrame] | None = None,
    coverage: pd.DataFrame | None = None,
    transfers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per target of *plan*: done over its period and what measured it.

    Parameters
    ----------
    base : pandas.DataFrame
        The district progress table (``district`` view of
        :func:`forestsink.progress.progress_tables`: ``adcode``, ``year``,
        ``project_type``, ``gross_area_mu``, ``new_forest_area_mu``,
        ``increment_measured_m3``, ``increment_model_m3``).
    plan : Plan
        The plan (:func:`forestsink.reference.read_plan`).
    inventory : dict, optional (default: None)
        Year -> forest-resource statistics (``adcode``, ``forest_area_mu``,
        ``forest_stock_m3``, ``coverage_pct``); with the plan's base year
        and a plan year, area, stock and coverage targets are measured from
        the map.
    coverage : pandas.DataFrame, optional (default: None)
        Land-cover coverage (``adcode``, ``year``, ``coverage_pct``) for
        coverage targets when the map is not there.
    transfers : pandas.DataFrame, optional (default: None)
        Indicator transfers (:func:`forestsink.reference.read_transfers`):
        district area-duty rows gain ``sold_mu``, ``bought_mu``,
        ``credited_mu``, ``duty_status`` and ``short_by_mu`` (see
        :func:`duty_balance`); ``done`` stays the physical figure.

    Returns
    -------
    pandas.DataFrame
        :data:`STATUS_COLUMNS`; ``pct_done`` = 100 × done ÷ value (empty
        where nothing measures the target).
    """
    pair = _resource_pair(inventory, plan)
    targets = plan.targets.copy()
    if "district" in targets:
        district = targets["scope"] == "district"
        targets["adcode"] = "500000"
        targets.loc[district, "adcode"] = (
            plan.duties.set_index("target_id")
            .loc[targets.loc[district, "target_id"], "adcode"]
            .to_numpy()
        )
    else:
        targets["adcode"] = "500000"
    rows = []
    for row in targets.itertuples():
        done, by, note = _measure(row, base, inventory, pair, coverage)
        rows.append(
            {
                "target_id": row.target_id,
                "metric": row.metric,
                "scope": row.scope,
                "adcode": row.adcode,
                "value": float(row.value),
                "unit": row.unit,
                "period_start": int(row.period_start),
                "period_end": int(row.period_end),
                "done": done,
                "pct_done": 100.0 * done / float(row.value),
                "measured_by": by,
                "note": note,
            }
        )
    out = pd.DataFrame(rows, columns=STATUS_COLUMNS)
    return out if transfers is None else _with_transfers(out, transfers, plan)


def _with_transfers(
    status: pd.DataFrame, transfers: pd.DataFrame, plan: Plan
) -> pd.DataFrame:
    """Add the duty accounting of indicator transfers to district area rows."""
    area = status[
        (status["scope"] == "district") & (status["metric"] == "new_forest_area_mu")
    ]
    balance = duty_balance(
        area.rename(columns={"value": "target"}), transfers, plan=plan
    ).set_index("adcode")
    out = status.copy()
    for col in ("sold_mu", "bought_mu", "credited_mu", "duty_status", "short_by_mu"):
        out[col] = "" if col == "duty_status" else np.nan
        out.loc[area.index, col] = area["adcode"].map(balance[col]).to_numpy()
    return out


def plan_status(
    store,
    *,
    plan=None,
    as_of=None,
    inventory: dict[int, pd.DataFrame] | None = None,
    coverage: pd.DataFrame | None = None,
    rules=None,
    growth=None,
    transfers=None,
) -> pd.DataFrame:
    """Return the status of every target of a plan for a store (``plan status``).

    Parameters
    ----------
    store : store
        An opened project store (:func:`forestsink.store.open_store`).
    plan : Plan or path, optional (default: None, the seed plan)
        The plan (:func:`forestsink.reference.read_plan`).
    as_of : str or int, optional (default: None, the latest state)
        Date or batch number of the store's state.
    inventory : dict, optional (default: None)
        Year -> forest-resource statistics of the store
        (:func:`forestsink.inventory.load.statistics_by_year`).
    coverage : pandas.DataFrame, optional (default: None)
        Land-cover coverage table (``adcode``, ``year``, ``coverage_pct``).
    rules, growth : path, optional (default: None)
        Project-type rules and growth table, as for ``progress_tables``.
    transfers : path or DataFrame, optional (default: None)
        Indicator transfers between districts, applied to the duty
        accounting only (:func:`status_table`).

    Returns
    -------
    pandas.DataFrame
        One row per target, see :func:`status_table`.
    """
    plan = read_plan(plan)
    tables = progress_tables(
        store, as_of=as_of, rules=rules, growth=growth, plan=plan
    ).tables
    if transfers is not None and not isinstance(transfers, pd.DataFrame):
        transfers = read_transfers(transfers)
    return status_table(
        tables["district"],
        plan,
        inventory=inventory,
        coverage=coverage,
        transfers=transfers,
    )
