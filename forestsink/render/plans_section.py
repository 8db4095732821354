"""The report's plans-side-by-side section: one column group per plan.

Numbers are never recomputed here: every figure is the ``plans`` table of
:func:`forestsink.progress.compare.compare_plans` (the same table
``forestsink progress --compare-plan`` writes), only arranged for the
template; a cell the store holds nothing for keeps its
``无数据 / no data``.

Layers: none below ``render`` but pandas; no optional heavy dependency.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["plans_section"]


#: what measured a figure (the plan status's ``measured_by``), for readers
_BY = {
    "forest_resource_map": "一张图 forest-resource map",
    "project_polygons": "项目图斑 project polygons",
    "rasters": "土地覆盖栅格（遥感）land-cover rasters",
    "not_measured": "未测量 not measured",
}


def _num(value) -> float | None:
    if isinstance(value, str) or value is None or pd.isna(value):
        return None
    return float(value)


def plans_section(table: pd.DataFrame | None) -> dict | None:
    """Return what the report's plans section shows (or None without plans).

    Parameters
    ----------
    table : pandas.DataFrame or None
        :func:`forestsink.progress.compare.compare_plans` (its
        ``attrs["plans"]`` names the plans).

    Returns
    -------
    dict or None
        ``plans`` (label, name, name_en, document, period, base_year) and
        ``rows``: ``item_zh``, ``item_en``, ``unit``, ``digits`` and
        ``cells`` (one per plan: ``target``, ``done``, ``pct``, ``by`` (in
        words), ``note`` (what the figure is);
        ``no_data`` holds the text where the store has nothing, ``absent``
        is true where the plan has no such target).
    """
    if table is None:
        return None
    plans = list(table.attrs.get("plans", []))
    rows = []
    for r in table.to_dict("records"):
        cells = []
        for plan in plans:
            label = plan["label"]
            done = r[f"{label} done"]
            target = _num(r[f"{label} target"])
            cells.append(
                {
                    "absent": target is None,
                    "target": target,
                    "done": _num(done),
                    "no_data": done if isinstance(done, str) else None,
                    "pct": _num(r[f"{label} pct_done"]),
                    "by": _BY.get(r[f"{label} measured_by"], r[f"{label} measured_by"]),
                    "note": r.get(f"{label} note", ""),
                }
            )
        rows.append(
            {
                "item_zh": r["item_zh"],
                "item_en": r["item_en"],
                "unit": r["unit"],
                "digits": 1 if r["unit"] == "%" else 0,
                "cells": cells,
            }
        )
    return {"plans": plans, "rows": rows}
