"""District duties: transfers of forest-area indicators and the duty balance.

A district's duty (a plan's ``district`` rows, or a bureau's ``--targets``
table) is a new forest area (mu), a new stock volume (m³) or a forest
coverage (%). Since 2018 a district short of its duty may buy forest-area
indicators from another (横向生态补偿提高森林覆盖率); the trades count in the
**duty accounting only**: the physical figure (``done``) is never changed.

:func:`duty_balance` applies the transfers to the area duties;
:func:`duty_accounting` adds the balance of every duty to the district
table of :func:`forestsink.progress.targets.district_targets`: credited
figure, balance (met or short, and by how much: mu and 万亩 for area, m³
for stock, percentage points for coverage). Pure functions of frames.

Layers: :mod:`forestsink.reference` and :mod:`forestsink.units` only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestsink.reference import Plan
from forestsink.units import MU_PER_WAN_MU

__all__ = [
    "ACCOUNTING_COLUMNS",
    "DUTY_COLUMNS",
    "DUTY_LABELS",
    "duty_accounting",
    "duty_balance",
]

DUTY_COLUMNS = [
    "adcode",
    "target",
    "done",
    "sold_mu",
    "bought_mu",
    "credited_mu",
    "balance_mu",
    "duty_status",
    "short_by_mu",
]
#: the duty-accounting columns :func:`duty_accounting` appends
ACCOUNTING_COLUMNS = [
    "sold_mu",
    "bought_mu",
    "credited",
    "balance",
    "balance_wan_mu",
    "duty_status",
    "short_by",
]
AREA = "new_forest_area_mu"
#: bilingual headers of the accounting columns (column → 中文, English, unit)
DUTY_LABELS: dict[str, tuple[str, str, str]] = {
    "sold_mu": ("售出指标", "Indicators sold", "mu"),
    "bought_mu": ("购入指标", "Indicators bought", "mu"),
    "credited": ("核算完成值（计入交易）", "Credited, after transfers", ""),
    "balance": ("余缺（核算 − 任务）", "Balance, credited − duty (points for %)", ""),
    "balance_wan_mu": ("余缺（万亩）", "Balance", "万亩"),
    "duty_status": ("任务状态", "Duty status (met / short)", ""),
    "short_by": ("差额", "Short by", ""),
}


def duty_balance(
    duties: pd.DataFrame, transfers: pd.DataFrame, *, plan: Plan
) -> pd.DataFrame:
    """Apply forest-area indicator transfers to the districts' area duties.

    The transfers count in the duty accounting only: the physical ``done``
    is unchanged; ``credited_mu`` = done − sold + bought; ``balance_mu`` =
    credited − target (≥ 0: ``duty_status`` ``met``, else ``short`` by
    ``short_by_mu``; the seller's surplus is reduced, the
    buyer's shortfall covered). Transfers of a year outside the plan's
    period are not counted.

    Parameters
    ----------
    duties : pandas.DataFrame
        One row per district area duty: ``adcode``, ``target`` and ``done``
        (new forest area, mu).
    transfers : pandas.DataFrame
        :func:`forestsink.reference.read_transfers`: ``seller``, ``buyer``,
        ``area_mu``, ``year``.
    plan : Plan
        The plan whose period the transfers must fall in.

    Returns
    -------
    pandas.DataFrame
        :data:`DUTY_COLUMNS`, one row per district with a duty or a transfer
        (``target`` empty for a trading district without a duty).
    """
    counted = transfers[transfers["year"].between(plan.period_start, plan.period_end)]
    sold = counted.groupby("seller")["area_mu"].sum()
    bought = counted.groupby("buyer")["area_mu"].sum()
    out = duties[["adcode", "target", "done"]].copy()
    extra = sorted((set(sold.index) | set(bought.index)) - set(out["adcode"]))
    if extra:
        out = pd.concat(
            [out, pd.DataFrame({"adcode": extra, "target": np.nan, "done": np.nan})],
            ignore_index=True,
        )
    out["sold_mu"] = out["adcode"].map(sold).fillna(0.0)
    out["bought_mu"] = out["adcode"].map(bought).fillna(0.0)
    out["credited_mu"] = out["done"] - out["sold_mu"] + out["bought_mu"]
    out["balance_mu"] = out["credited_mu"] - out["target"]
    known = out["balance_mu"].notna()
    out["duty_status"] = np.where(
        known, np.where(out["balance_mu"] >= 0, "met", "short"), ""
    )
    out["short_by_mu"] = (-out["balance_mu"]).clip(lower=0.0).where(known)
    return out[DUTY_COLUMNS].reset_index(drop=True)


def duty_accounting(
    table: pd.DataFrame, transfers: pd.DataFrame | None, *, plan: Plan
) -> pd.DataFrame:
    """Append the duty balance of every district duty, transfers applied.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per district duty: ``adcode``, ``metric``, ``target`` and
        ``done`` (the physical figure: mu, m³ or %; empty where nothing
        measures it).
    transfers : pandas.DataFrame or None
        :func:`forestsink.reference.read_transfers`; None: no transfers.
        Only the trades of the plan's years count, and only in area duties.
    plan : Plan
        The plan (its period bounds the transfers counted).

    Returns
    -------
    pandas.DataFrame
        *table* with :data:`ACCOUNTING_COLUMNS`: ``sold_mu`` and
        ``bought_mu`` (area duties; 0 without trades, empty for other
        metrics), ``credited`` (area: done − sold + bought; otherwise done),
        ``balance`` = credited − target in the duty's unit (mu, m³, or
        percentage points for coverage), ``balance_wan_mu`` (area: balance
        in 万亩), ``duty_status`` (``met`` when balance ≥ 0, ``short``
        below, empty when not measured) and ``short_by`` (−balance, ≥ 0).
        ``done`` is unchanged.
    """
    out = table.copy()
    area = out["metric"] == AREA
    out["sold_mu"] = np.where(area, 0.0, np.nan)
    out["bought_mu"] = np.where(area, 0.0, np.nan)
    if transfers is not None and area.any():
        moved = duty_balance(out[area], transfers, plan=plan).drop_duplicates("adcode")
        moved = moved.set_index("adcode")
        out.loc[area, "sold_mu"] = out.loc[area, "adcode"].map(moved["sold_mu"])
        out.loc[area, "bought_mu"] = out.loc[area, "adcode"].map(moved["bought_mu"])
    trade = (out["bought_mu"] - out["sold_mu"]).fillna(0.0)
    out["credited"] = out["done"] + trade
    out["balance"] = out["credited"] - out["target"]
    out["balance_wan_mu"] = (out["balance"] / MU_PER_WAN_MU).where(area)
    known = out["balance"].notna()
    out["duty_status"] = np.where(
        known, np.where(out["balance"] >= 0, "met", "short"), ""
    )
    out["short_by"] = (-out["balance"]).clip(lower=0.0).where(known)
    return out
