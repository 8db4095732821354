"""The districts' duties in the report and on maps: table rows and classes.

:func:`duty_rows` turns the ``district_targets`` table of
:func:`forestsink.progress.progress_tables` into the report's duty table:
the physical figure (done, % done, what measured it) and, apart, the duty
accounting after forest-area indicator transfers (sold, bought, credited,
balance, met or short by how much). :func:`duty_classes` puts each district
in a fixed class of its duty balance for the duty choropleth (report and
``forestsink map --what duties``).

Fixed class breaks (documented, not data-driven, so that a class means the
same in every report): for area and stock duties the balance as a share of
the duty, ``100 × (credited − duty) ÷ duty``; for coverage duties the balance
in percentage points, ``measured − duty``. A balance of exactly 0 is met.

============== ======================= ==========================
class          area / stock (% of duty) coverage (points)
============== ======================= ==========================
``over``       ≥ +10                    ≥ +1
``met``        0 … +10                  0 … +1
``short_1``    −10 … 0                  −1 … 0
``short_2``    −25 … −10                −3 … −1
``short_3``    < −25                    < −3
``unmeasured`` not measured (needs the forest-resource map or rasters)
``no_duty``    the district has no duty of that metric
============== ======================= ==========================

Numbers are never recomputed here: credited figure and balance are the
table's (:func:`forestsink.progress.duties.duty_accounting`).

Layers: :mod:`forestsink.reference`; no optional heavy dependency.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestsink.reference import read_district_table

__all__ = [
    "DUTY_CLASSES",
    "DUTY_METRIC_NAMES",
    "duty_class",
    "duty_classes",
    "duty_layers",
    "duty_legend",
    "duty_rows",
]

#: metric → (中文, English, unit shown, decimals)
DUTY_METRIC_NAMES: dict[str, tuple[str, str, str, int]] = {
    "new_forest_area_mu": ("新增森林面积", "New forest area", "亩 mu", 0),
    "new_stock_volume_m3": ("新增森林蓄积", "New stock volume", "m³", 0),
    "forest_coverage_pct": ("森林覆盖率", "Forest coverage", "%", 1),
}

#: (key, lower bound of the area/stock class in % of the duty, lower bound of
#: the coverage class in points, 中文, English, colour: ColorBrewer RdYlGn)
_BREAKS = (
    ("over", 10.0, 1.0, "超额完成", "met, over", "#1a9641"),
    ("met", 0.0, 0.0, "完成", "met", "#a6d96a"),
    ("short_1", -10.0, -1.0, "差", "short by", "#fdae61"),
    ("short_2", -25.0, -3.0, "差", "short by", "#f46d43"),
    ("short_3", -np.inf, -np.inf, "差", "short by", "#d7191c"),
)
#: every class of the duty choropleth, in legend order: key → colour
DUTY_CLASSES: dict[str, str] = {
    **{b[0]: b[5] for b in _BREAKS},
    "unmeasured": "#ffffff",
    "no_duty": "#cccccc",
}


def duty_class(metric: str, target: float, balance: float | None) -> str:
    """Return the class of one duty balance (see the module's table).

    Parameters
    ----------
    metric : str
        ``new_forest_area_mu``, ``new_stock_volume_m3`` or
        ``forest_coverage_pct``.
    target : float
        The duty (mu, m³ or %); NaN: no duty.
    balance : float or None
        Credited − duty in the duty's unit (points for coverage); None or
        NaN: not measured.

    Returns
    -------
    str
        A key of :data:`DUTY_CLASSES`.

    Examples
    --------
    >>> duty_class("new_forest_area_mu", 500.0, -40.0)  # −8 % of the duty
    'short_1'
    >>> duty_class("forest_coverage_pct", 45.0, -3.5)
    'short_3'
    """
    if target is None or pd.isna(target):
        return "no_duty"
    if balance is None or pd.isna(balance):
        return "unmeasured"
    coverage = metric == "forest_coverage_pct"
    value = balance if coverage else 100.0 * balance / target
    for key, rel, pts, *_ in _BREAKS:
        if value >= (pts if coverage else rel):
            return key
    return _BREAKS[-1][0]  # pragma: no cover (the last bound is −inf)


def duty_legend(metric: str) -> list[dict]:
    """Return the legend rows of one metric's duty classes (中文 and English)."""
    coverage = metric == "forest_coverage_pct"
    unit = "个百分点 points" if coverage else "% 占任务 of the duty"
    lows = [b[2] if coverage else b[1] for b in _BREAKS]
    rows = []
    for i, (key, _, _, zh, en, colour) in enumerate(_BREAKS):
        if i == 0:
            span = f"≥ +{lows[0]:g}"
        elif i == 1:
            span = f"0 – +{lows[0]:g}"
        elif np.isinf(lows[i]):
            span = f"> {abs(lows[i - 1]):g}"
        else:
            span = f"{abs(lows[i - 1]):g} – {-lows[i]:g}"
        rows.append({"key": key, "colour": colour, "label": f"{zh} {en} {span} {unit}"})
    rows.append(
        {
            "key": "unmeasured",
            "colour": DUTY_CLASSES["unmeasured"],
            "label": "未测量 / not measured",
        }
    )
    rows.append(
        {
            "key": "no_duty",
            "colour": DUTY_CLASSES["no_duty"],
            "label": "无任务 / no duty",
        }
    )
    return rows


def duty_classes(table: pd.DataFrame | None, metric: str) -> pd.DataFrame:
    """Return the class of every district's duty of *metric*.

    Parameters
    ----------
    table : pandas.DataFrame or None
        The ``district_targets`` table (``adcode``, ``metric``, ``target``,
        ``credited`` or ``done``, ``balance``); None: no duties.
    metric : str
        The duty metric to class.

    Returns
    -------
    pandas.DataFrame
        One row per district of ``data/districts``: ``adcode``, ``name_zh``,
        ``name_en``, ``target``, ``balance`` (the duty's unit; several
        duties of a district add up, coverage takes the first), ``duty_class``
        (:data:`DUTY_CLASSES`: ``no_duty`` where the district has none).
    """
    keys = read_district_table()[["adcode", "name_zh", "name_en"]]
    rows = pd.DataFrame(columns=["adcode", "target", "balance"])
    if table is not None and len(table):
        part = table[table["metric"] == metric]
        if "balance" not in part:
            part = part.assign(balance=part["done"] - part["target"])
        how = "first" if metric == "forest_coverage_pct" else "sum"
        rows = part.groupby("adcode", as_index=False).agg(
            target=("target", how),
            balance=(
                "balance",
                lambda s: s.iloc[0] if how == "first" else s.sum(min_count=len(s)),
            ),
        )
    out = keys.merge(rows, on="adcode", how="left")
    out["duty_class"] = [
        duty_class(metric, t, b)
        for t, b in zip(out["target"], out["balance"], strict=True)
    ]
    return out


def duty_layers(table: pd.DataFrame | None) -> list[dict]:
    """Return one choropleth layer per duty metric present, for the report.

    Each: ``metric``, ``zh``, ``en``, ``unit``, ``classes`` (adcode → class
    key), ``balance`` (adcode → balance or None), ``legend`` (rows of key,
    colour and bilingual label).
    """
    if table is None or table.empty:
        return []
    layers = []
    for metric, (zh, en, unit, _) in DUTY_METRIC_NAMES.items():
        if not (table["metric"] == metric).any():
            continue
        classes = duty_classes(table, metric)
        layers.append(
            {
                "metric": metric,
                "zh": f"区县任务：{zh}（计入指标交易）",
                "en": f"District duty: {en.lower()} (after transfers)",
                "unit": "个百分点 points" if metric == "forest_coverage_pct" else unit,
                "classes": dict(
                    zip(classes["adcode"], classes["duty_class"], strict=True)
                ),
                "balance": {
                    a: (None if pd.isna(b) else float(b))
                    for a, b in zip(classes["adcode"], classes["balance"], strict=True)
                },
                "legend": duty_legend(metric),
            }
        )
    return layers


def _num(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def duty_rows(progress_tables) -> list[dict]:
    """Return the district duties (the plan's, or ``--targets``) for the report.

    Parameters
    ----------
    progress_tables : dict
        The tables of :func:`forestsink.progress.progress_tables`; only
        ``district_targets`` is read.

    Returns
    -------
    list of dict
        One row per duty: district, metric (names and unit), target, the
        physical figure (``done``: resource statistics, or raster coverage;
        None without them; ``pct``, ``measured``: what measured it) and,
        apart, the duty accounting after transfers (``sold``, ``bought``,
        ``credited``, ``balance``, ``balance_wan_mu``), ``state`` (``met``,
        ``short`` with ``short_by``, or ``needs_resource_layers``) and the
        project work shown apart. Areas in mu, stock in m³, coverage in %
        (balance in percentage points).
    """
    table = progress_tables.get("district_targets")
    if table is None or table.empty:
        return []
    rows = []
    for r in table.to_dict("records"):
        done = _num(r["done"])
        credited = _num(r.get("credited", r["done"]))
        balance = _num(r.get("balance", np.nan))
        if balance is None and credited is not None:
            balance = credited - float(r["target"])
        zh, en, unit, digits = DUTY_METRIC_NAMES.get(
            r["metric"], (r["metric"], r["metric"], "", 0)
        )
        rows.append(
            {
                "name_zh": r["name_zh"],
                "name_en": r["name_en"],
                "metric": r["metric"],
                "metric_zh": zh,
                "metric_en": en,
                "unit": unit,
                "digits": digits,
                "target": float(r["target"]),
                "done": done,
                "pct": _num(r["pct_done"]),
                "measured": r.get("note", ""),
                "sold": _num(r.get("sold_mu")),
                "bought": _num(r.get("bought_mu")),
                "credited": credited,
                "balance": balance,
                "balance_wan_mu": _num(r.get("balance_wan_mu")),
                "state": ("met" if balance >= 0 else "short")
                if balance is not None
                else "needs_resource_layers",
                "short_by": max(-balance, 0.0) if balance is not None else None,
                "project_work": _num(r["project_work"]),
            }
        )
    return rows
