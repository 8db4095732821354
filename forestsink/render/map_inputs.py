"""The inputs of a static map: values per district and the subtitle.

:func:`forestsink.render.static.render_static_map` maps one of four things;
each function here returns what it needs from the computed tables (or
computes them from a store): the value table, one row per district, or the
project polygons, and the subtitle saying which state of the store and
which years the map shows. No drawing here.

Layers: imports :mod:`forestsink.progress`, :mod:`forestsink.store`,
:mod:`forestsink.reference` and :mod:`forestsink.io` (all below ``render``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from forestsink.errors import MapError, NoDataError
from forestsink.inventory.load import statistics_by_year
from forestsink.io import read_coverage_table
from forestsink.progress import Tables, carbon_tables, progress_tables
from forestsink.reference import read_plan
from forestsink.render.duty_section import DUTY_METRIC_NAMES, duty_classes
from forestsink.store import open_store

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "carbon_values",
    "coverage_values",
    "duty_values",
    "progress_values",
    "project_polygons",
]


def _as_frame(obj, name: str) -> pd.DataFrame:
    """Return table *name* of a :class:`~forestsink.progress.Tables`, or *obj*."""
    if isinstance(obj, Tables):
        return obj.tables[name]
    return obj


def _store(store):
    """Return an open store from a store or its location."""
    if store is None:
        raise MapError(
            "map: a project store is needed for this map (or pass its tables)."
        )
    if isinstance(store, str | os.PathLike):
        if not Path(store).exists():
            raise NoDataError(f"store {store} does not exist.")
        return open_store(store)
    return store


def _nonempty_store(store, as_of):
    """Open *store* and refuse a state without polygons (nothing to map)."""
    opened = _store(store)
    if opened.current(as_of=as_of).empty:
        when = f"as of {as_of}" if as_of is not None else "now"
        raise NoDataError(
            f"store {opened.path}: no project polygons {when}, nothing to map; "
            "check the as-of date or batch (dates are when batches were entered, "
            "not project years) or ingest deliveries first."
        )
    return opened


def _state_text(as_of, tables=None, store=None) -> str:
    """Which state of the store the map shows, for the subtitle."""
    if as_of is not None:
        text = str(as_of)
        if text.isdigit():
            return f"截至第 {text} 批 / as of batch {text}"
        return f"截至 {text} / as of {text}"
    batch = None
    if isinstance(tables, Tables):
        batch = tables.settings.get("last_batch")
    elif store is not None:
        batches = store.batches()
        batch = str(int(batches["batch_id"].max())) if len(batches) else None
    if batch and batch != "None":
        return f"截至第 {batch} 批 / as of batch {batch}"
    return "最新 / latest"


def _plan_target(plan, metric: str) -> float | None:
    """Return the plan's city-wide target of *metric* (None: the plan has none)."""
    row = read_plan(plan).target_of(metric)
    return None if row is None else float(row["value"])


def progress_values(
    progress, *, store, as_of, year, plan=None
) -> tuple[pd.DataFrame, str]:
    """Return new forest area per district (mu) and the subtitle (``progress``).

    *progress* is a :class:`~forestsink.progress.Tables` or its ``district``
    table; computed from *store* (as of *as_of*) when None. With *year*, only
    that year's area, else the total over the years of *plan* (default: the
    seed plan).
    """
    plan = read_plan(plan)
    if progress is None:
        progress = progress_tables(
            _nonempty_store(store, as_of), as_of=as_of, plan=plan
        )
    table = _as_frame(progress, "district")
    if year is not None:
        table = table[table["year"] == year]
    else:
        table = table[table["year"].isin(plan.years)]
    values = table.groupby("adcode", as_index=False)["new_forest_area_mu"].sum()
    total = values["new_forest_area_mu"].sum()
    if year is None:
        target = _plan_target(plan, "new_forest_area_mu")
        of = f" of {target / 1e4:,.0f} 万亩" if target is not None else ""
        subtitle = (
            f"{plan.label} 年累计 / cumulative {plan.label} · "
            f"{_state_text(as_of, progress)} · 全市 / city: "
            f"{total / 1e4:,.1f} 万亩（项目作业，非新增森林面积 / project "
            f"work, not the plan's new forest area{of}）"
        )
    else:
        subtitle = (
            f"{year} 年 / in {year} · {_state_text(as_of, progress)} · "
            f"全市 / city: {total / 1e4:,.1f} 万亩 (10,000 mu)"
        )
    return values, subtitle


def carbon_values(
    carbon, *, store, as_of, growth, plan=None
) -> tuple[pd.DataFrame, str]:
    """Return the project increment CO₂ per district (t) and the subtitle.

    *carbon* is a :class:`~forestsink.progress.Tables` or its ``carbon``
    table; computed from *store* (as of *as_of*, with the *growth* table)
    when None. Refuses a city that is not estimable at all. *plan*: its
    period names the projects (default: the seed plan).
    """
    plan = read_plan(plan)
    if carbon is None:
        carbon = carbon_tables(
            _nonempty_store(store, as_of), as_of=as_of, growth=growth, plan=plan
        )
    values = _as_frame(carbon, "carbon")
    city = values[values["adcode"].astype(str) == "500000"]
    subtitle = (
        f"{plan.label} 年项目 / projects {plan.label} · {_state_text(as_of, carbon)}"
    )
    c = city.iloc[0] if len(city) else None
    if c is not None and c.get("method") == "not_estimable":
        raise MapError(
            "碳汇图 / carbon map: 项目增量不可估算 / the project increment is not "
            "estimable in any district (no before/after volumes delivered); "
            "give a growth table (format data/growth_table.EXAMPLE.csv). "
            "Delivered standing stocks are not an increment and are not mapped "
            "as one."
        )
    if c is not None and {"co2_t_p05", "co2_t_p95"} <= set(city.columns):
        spread = (
            f"90 %: {c['co2_t_p05'] / 1e4:,.0f} – {c['co2_t_p95'] / 1e4:,.0f}"
            if c["co2_t_p95"] - c["co2_t_p05"] > 0
            else "无给定不确定度 / no stated spread"
        )
        subtitle += f" · 全市 / city: {c['co2_t'] / 1e4:,.0f} 万吨 CO₂ ({spread})"
    return values, subtitle


def coverage_values(coverage, *, year, plan=None) -> tuple[pd.DataFrame, str]:
    """Return forest coverage per district (%) of one year and the subtitle.

    *plan*: the plan whose coverage target the subtitle gives (default: the
    seed plan).

    *coverage* is a coverage table or the file ``forestsink coverage`` wrote;
    the year shown is *year*, else the latest in the table.
    """
    if coverage is None:
        raise MapError(
            "覆盖率图 / coverage map: pass the coverage table (the CSV, JSON or "
            "Excel file written by forestsink coverage).",
            option="coverage",
        )
    if isinstance(coverage, pd.DataFrame):
        table = coverage
    else:
        table = read_coverage_table(coverage)
    table = table.assign(adcode=table["adcode"].astype(str))
    shown_year = year
    if "year" in table.columns:
        years = pd.to_numeric(table["year"], errors="coerce")
        if year is None and years.notna().any():
            shown_year = int(years.max())
        if shown_year is not None:
            table = table[years == shown_year]
            if table.empty:
                raise MapError(
                    f"coverage table: no rows for year {shown_year}; it has "
                    f"{sorted({int(y) for y in years.dropna()})}."
                )
    parts = [f"{shown_year} 年 / {shown_year}"] if shown_year is not None else []
    city = table[table["adcode"] == "500000"]
    if len(city):
        parts.append(f"全市 / city: {float(city['coverage_pct'].iloc[0]):.1f} %")
    plan = read_plan(plan)
    target = _plan_target(plan, "forest_coverage_pct")
    if target is not None:
        parts.append(f"规划目标 / plan target {plan.period_end}: {target:g} %")
    return table, " · ".join(parts)


def duty_values(
    progress, *, store, as_of, plan=None, transfers=None, coverage=None, targets=None
) -> tuple[pd.DataFrame, str]:
    """Return each district's duty class (``duties``) and the subtitle.

    *progress* is a :class:`~forestsink.progress.Tables` with a
    ``district_targets`` table; computed from *store* (as of *as_of*, with
    its forest-resource statistics, the *coverage* table and the indicator
    *transfers*; the bureau's *targets* table instead of the plan's duties)
    when None. The metric mapped is the first the duties have
    of new forest area, coverage, new stock volume; ``attrs["metric"]``
    names it. Districts without a duty of that metric are ``no_duty``.
    """
    plan = read_plan(plan)
    if coverage is not None and not isinstance(coverage, pd.DataFrame):
        coverage = read_coverage_table(coverage)
    if progress is None:
        opened = _store(store)
        progress = progress_tables(
            opened,
            as_of=as_of,
            plan=plan,
            transfers=transfers,
            coverage=coverage,
            targets=targets,
            inventory=statistics_by_year(opened, as_of=as_of),
        )
    if isinstance(progress, Tables):
        table = progress.tables.get("district_targets")
    else:
        table = progress
    if table is None or table.empty:
        raise MapError(
            f"duty map: the plan {plan.label} has no district duties; give a plan "
            "with district rows or the bureau's district targets table.",
            option="plan",
        )
    metric = next(m for m in DUTY_METRIC_NAMES if (table["metric"] == m).any())
    values = duty_classes(table, metric)
    values.attrs["metric"] = metric
    zh, en, _, _ = DUTY_METRIC_NAMES[metric]
    short = int(values["duty_class"].str.startswith("short").sum())
    met = int(values["duty_class"].isin(["met", "over"]).sum())
    subtitle = (
        f"{zh}任务（计入指标交易）/ {en} duty after transfers · {plan.label} · "
        f"{_state_text(as_of, progress)} · 完成 met: {met}, 差 short: {short}"
    )
    return values, subtitle


def project_polygons(store, *, as_of) -> tuple[gpd.GeoDataFrame, str]:
    """Return the current project polygons of *store* (EPSG:4490) and the subtitle."""
    opened = _store(store)
    projects = opened.current(as_of=as_of)
    subtitle = (
        f"{_state_text(as_of, store=opened)} · {len(projects):,} 个地块 / polygons"
    )
    return projects, subtitle
