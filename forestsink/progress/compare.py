"""Plans side by side: each plan's targets and done over its own period.

An official follows a trajectory across plans (the seed plan's period, the
next plan's years …) from the same store. :func:`plans_side_by_side`
lines up the :func:`forestsink.progress.status.status_table` of several plans,
one row per kind of target (city metric, programme project type, protection
target, district duty), one column group per plan: target, done, % done and
what measured it. Each plan's done is measured over its own years only (the
project polygons of its targets' years, the forest-resource map of its base
year and a plan year, a land-cover coverage table of its years); where the
store holds nothing for a plan's years the cell says ``无数据 / no data``,
never 0. :func:`compare_plans` computes it from a store;
:func:`progress_tables_compared` is the ``progress --compare-plan`` tool.

Areas in mu, stock volumes in m³, coverage in %.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestsink.progress.status import (
    NOT_MEASURED,
    PROJECT_POLYGONS,
    status_table,
)
from forestsink.progress.tables import progress_tables
from forestsink.progress.views import Tables
from forestsink.reference import (
    Plan,
    read_district_table,
    read_plan,
    read_project_types,
)

__all__ = [
    "NO_DATA",
    "compare_plans",
    "plan_columns",
    "plans_side_by_side",
    "progress_tables_compared",
]

#: what a cell says where the store holds nothing for a plan's years
NO_DATA = "无数据 / no data"
#: city metrics: (中文, English)
_METRIC_NAMES = {
    "forest_coverage_pct": ("森林覆盖率", "Forest coverage"),
    "new_forest_area_mu": ("新增森林面积", "New forest area"),
    "new_stock_volume_m3": ("新增森林蓄积量", "New stock volume"),
    "project_area_mu": ("项目作业面积", "Project work: area treated"),
    "protected_area_mu": ("保护面积", "Area protected"),
}
_SCOPE_ORDER = {"city": 0, "programme": 1, "protection": 2, "district": 3}


def plan_columns(plans: list[Plan]) -> list[str]:
    """Return each plan's column-group label: its period, numbered if repeated.

    Parameters
    ----------
    plans : list of Plan
        The plans, in the order of their column groups.
    """
    labels = [p.label for p in plans]
    return [
        f"{label} ({i + 1})" if labels.count(label) > 1 else label
        for i, label in enumerate(labels)
    ]


def _key(row) -> tuple:
    """Return the row key a target is lined up by across plans."""
    if row.scope == "protection":
        return (row.scope, row.metric, row.target_id, "")
    ptype = row.project_type if row.scope == "programme" else ""
    adcode = row.adcode if row.scope == "district" else ""
    return (row.scope, row.metric, ptype, adcode)


def _item(key: tuple, names: dict, types: pd.DataFrame, plan_rows) -> tuple:
    """Return the row's Chinese and English names."""
    scope, metric, extra, adcode = key
    zh, en = _METRIC_NAMES.get(metric, (metric, metric))
    if scope == "programme" and extra in types.index:
        return (
            f"{zh}：{types.loc[extra, 'name_zh']}",
            f"{en}, {types.loc[extra, 'name_en']}",
        )
    if scope == "protection":
        first = plan_rows[0]
        return (
            str(getattr(first, "programme_zh", "") or extra),
            str(getattr(first, "programme_en", "") or extra),
        )
    if scope == "district":
        name = names.get(adcode, (adcode, adcode))
        return f"区县任务：{name[0]} {zh}", f"District duty: {name[1]}, {en}"
    return zh, en


def _has_work(base: pd.DataFrame, start: int, end: int) -> bool:
    """Return whether the store holds project work in any of the years."""
    return bool(len(base) and base["year"].between(start, end).any())


def _cell(rows: list, base: pd.DataFrame) -> dict:
    """Return target, done, % done and measured-by of one key in one plan."""
    first = rows[0]
    target = float(sum(r.value for r in rows))
    done, by = first.done, first.measured_by
    no_data = (
        by == PROJECT_POLYGONS
        and not _has_work(base, int(first.period_start), int(first.period_end))
    ) or by == NOT_MEASURED
    if no_data:
        done, pct = NO_DATA, np.nan
    else:
        pct = 100.0 * done / target if pd.notna(done) and target else np.nan
    note = str(getattr(first, "note", "") or "")
    return {"target": target, "done": done, "pct_done": pct, "by": by, "note": note}


def plans_side_by_side(
    parts: list[tuple[Plan, pd.DataFrame, pd.DataFrame]],
) -> pd.DataFrame:
    """Line up several plans' status tables, one column group per plan.

    Parameters
    ----------
    parts : list of (Plan, status, base)
        Per plan: the plan, its :func:`~forestsink.progress.status.status_table`
        and the district base table its project work was measured from.

    Returns
    -------
    pandas.DataFrame
        ``item_zh``, ``item_en``, ``scope``, ``metric``, ``unit``, then per
        plan (label: :func:`plan_columns`) ``<label> target``, ``<label>
        done``, ``<label> pct_done``, ``<label> measured_by`` and ``<label>
        note`` (what the figure is, from the plan status: e.g. a new forest
        area measured by project work says it is area planted, not the
        resource's new forest area). Targets of
        the same kind add up (the seed's programmes of one project type);
        done is their shared figure. A plan without that kind of target has
        empty cells; a target its store holds nothing for (no project work in
        its years, nothing measuring it) says :data:`NO_DATA` in ``done``.
    """
    names = {
        r.adcode: (r.name_zh, r.name_en) for r in read_district_table().itertuples()
    }
    types = read_project_types()
    labels = plan_columns([p for p, _, _ in parts])
    grouped: dict[tuple, dict[int, list]] = {}
    for i, (plan, status, _) in enumerate(parts):
        named = status.merge(
            plan.targets[["target_id", "project_type", "programme_zh", "programme_en"]]
            .drop_duplicates("target_id")
            .fillna(""),
            on="target_id",
            how="left",
        )
        for row in named.itertuples():
            grouped.setdefault(_key(row), {}).setdefault(i, []).append(row)
    records = []
    for key, by_plan in sorted(
        grouped.items(), key=lambda kv: (_SCOPE_ORDER.get(kv[0][0], 9), kv[0][1:])
    ):
        any_rows = next(iter(by_plan.values()))
        zh, en = _item(key, names, types, any_rows)
        record = {
            "item_zh": zh,
            "item_en": en,
            "scope": key[0],
            "metric": key[1],
            "unit": any_rows[0].unit,
        }
        for i, (label, (_, _, base)) in enumerate(zip(labels, parts, strict=True)):
            cell = _cell(by_plan[i], base) if i in by_plan else {}
            record[f"{label} target"] = cell.get("target", np.nan)
            record[f"{label} done"] = cell.get("done", np.nan)
            record[f"{label} pct_done"] = cell.get("pct_done", np.nan)
            record[f"{label} measured_by"] = cell.get("by", "")
            record[f"{label} note"] = cell.get("note", "")
        records.append(record)
    return pd.DataFrame(records)


def _in_years(
    inventory: dict | None, coverage: pd.DataFrame | None, plan: Plan
) -> tuple[dict | None, pd.DataFrame | None]:
    """Return the inventory and coverage of the plan's base year and years only."""
    years = {plan.base_year, *plan.years}
    inv = {y: t for y, t in (inventory or {}).items() if int(y) in years} or None
    cov = None
    if coverage is not None and "year" in coverage:
        cov = coverage[coverage["year"].astype(int).isin(plan.years)]
        cov = cov if len(cov) else None
    return inv, cov


def compare_plans(
    store,
    plans,
    *,
    as_of=None,
    inventory: dict[int, pd.DataFrame] | None = None,
    coverage: pd.DataFrame | None = None,
    rules=None,
    growth=None,
    bases: dict[int, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Return several plans' figures side by side from one store.

    Parameters
    ----------
    store : store
        An opened project store (:func:`forestsink.store.open_store`).
    plans : list of Plan or path
        The plans, one column group each, in this order (None: the seed).
    as_of : str or int, optional (default: None, the latest state)
        Date or batch number of the store's state.
    inventory : dict, optional (default: None)
        Year -> forest-resource statistics; each plan uses its base year and
        its own years only.
    coverage : pandas.DataFrame, optional (default: None)
        Land-cover coverage table; each plan uses the rows of its years.
    rules, growth : path, optional (default: None)
        As for :func:`forestsink.progress.progress_tables`.
    bases : dict, optional (default: None)
        Plan index -> a district base already computed for that plan (saves
        computing it again).

    Returns
    -------
    pandas.DataFrame
        :func:`plans_side_by_side`; the plans' names, documents and periods
        are in ``DataFrame.attrs["plans"]``.
    """
    parts = []
    for i, plan in enumerate(read_plan(p) for p in plans):
        base = (bases or {}).get(i)
        if base is None:
            base = progress_tables(
                store, as_of=as_of, rules=rules, growth=growth, plan=plan
            ).tables["district"]
        inv, cov = _in_years(inventory, coverage, plan)
        parts.append(
            (plan, status_table(base, plan, inventory=inv, coverage=cov), base)
        )
    out = plans_side_by_side(parts)
    out.attrs["plans"] = [
        {
            "label": label,
            "name": plan.name,
            "name_en": plan.name_en,
            "document": plan.document,
            "period": plan.label,
            "base_year": plan.base_year,
        }
        for label, (plan, _, _) in zip(
            plan_columns([p for p, _, _ in parts]), parts, strict=True
        )
    ]
    return out


def progress_tables_compared(
    store, *, compare=(), inventory=None, coverage=None, **options
) -> Tables:
    """Return :func:`forestsink.progress.progress_tables` plus the plans compared.

    Parameters
    ----------
    store : store
        An opened project store.
    compare : sequence of Plan or path, optional (default: ())
        Plans shown side by side after the main plan (``plan`` in
        *options*, default the seed plan); none: the tables alone.
    inventory, coverage : optional
        As for :func:`forestsink.progress.progress_tables`.
    **options
        Everything else :func:`forestsink.progress.progress_tables` takes.

    Returns
    -------
    Tables
        With *compare*, the table ``plans`` (:func:`compare_plans`: the main
        plan first) and the setting ``plans_compared``.
    """
    result = progress_tables(store, inventory=inventory, coverage=coverage, **options)
    if not compare:
        return result
    plans = [read_plan(options.get("plan")), *(read_plan(p) for p in compare)]
    base = result.tables["district"]
    if options.get("year") is not None:  # the main table was cut to one year
        base = None
    table = compare_plans(
        store,
        plans,
        as_of=options.get("as_of"),
        inventory=inventory,
        coverage=coverage,
        rules=options.get("rules"),
        growth=options.get("growth"),
        bases=None if base is None else {0: base},
    )
    result.tables["plans"] = table
    result.settings["plans_compared"] = "; ".join(
        f"{p['label']}: {p['document'] or p['name']}" for p in table.attrs["plans"]
    )
    return result
