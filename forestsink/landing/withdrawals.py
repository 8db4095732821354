"""Withdrawal lists: which delivered polygons a county takes back, and why.

A CSV (UTF-8 or GBK) with district, project id, reason and optionally a
date, in Chinese or English column names; read into store keys
``adcode/project_id`` for :meth:`withdraw_many` of a store.
"""

from __future__ import annotations

from pathlib import Path

from forestsink.errors import DeliveryError, ForestsinkError
from forestsink.io import read_bureau_table
from forestsink.reference import resolve_district_column

WITHDRAWAL_COLUMNS = {
    "district": ("district", "区县", "县", "区县名称", "adcode"),
    "project_id": ("project_id", "项目编号", "小班号", "编号"),
    "reason": ("reason", "原因", "撤销原因"),
    "date": ("date", "日期", "撤销日期"),
}


def read_withdrawals(path) -> list[tuple[str, str]]:
    """Read a withdrawal list (CSV, UTF-8 or GBK) into ``(key, reason)`` pairs.

    Columns (Chinese or English): district (any known name or adcode),
    project id, reason, and optionally the date the county gave, which is
    added to the reason (the store records when the withdrawal was entered).
    """
    path = Path(path)
    table = read_bureau_table(path)
    found = {}
    for canonical, names in WITHDRAWAL_COLUMNS.items():
        match = [c for c in table.columns if c.strip() in names]
        if match:
            found[canonical] = match[0]
        elif canonical != "date":
            raise DeliveryError(
                f"{path.name}: no {canonical} column; columns found: "
                f"{list(table.columns)}; accepted: {list(names)}."
            )
    try:
        adcodes = resolve_district_column(table[found["district"]], source=path.name)
    except ForestsinkError as err:
        raise DeliveryError(str(err)) from err
    items = []
    for adcode, (_, row) in zip(adcodes, table.iterrows(), strict=True):
        reason = row[found["reason"]].strip()
        if "date" in found and row[found["date"]].strip():
            reason += f" ({row[found['date']].strip()})"
        items.append((f"{adcode}/{row[found['project_id']].strip()}", reason))
    return items
