"""Attribute checks: project id, district, agreeing columns, year, project type.

Also the key ``adcode/project_id`` of each feature and the duplicate-id check
on it. Pure: reads the canonical columns of the delivery frame and the
shipped reference tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestsink.errors import UnknownNameError
from forestsink.reference import (
    read_code_table,
    read_project_types,
    resolve_district,
)
from forestsink.validate.issues import Issues


def delivery_keys(frame) -> pd.Series:
    """Return each feature's store key ``adcode/project_id`` (NA if either is).

    Parameters
    ----------
    frame : pandas.DataFrame
        Delivery frame with ``adcode`` and ``project_id``.

    Returns
    -------
    pandas.Series of string dtype
    """
    return frame["adcode"].astype("string") + "/" + frame["project_id"].astype("string")


def check_attributes(
    frame, issues: Issues, *, key: pd.Series, period: tuple[int, int]
) -> None:
    """Check the attributes, in report order.

    Missing project id, unknown district, disagreeing synonymous columns,
    missing or out-of-period year, missing or unknown project type,
    duplicate key.

    Parameters
    ----------
    frame : pandas.DataFrame
        Canonical delivery frame.
    issues : Issues
    key : pandas.Series
        :func:`delivery_keys` of *frame*.
    period : tuple of int
        Allowed years, inclusive.
    """
    _check_project_ids(frame, issues)
    _check_districts(frame, issues)
    _check_conflicts(frame, issues)
    _check_years(frame, issues, period)
    _check_project_types(frame, issues)
    _check_duplicates(frame, issues, key)


def _check_project_ids(frame, issues: Issues) -> None:
    """Report features without a project id."""
    for i in np.flatnonzero(frame["project_id"].isna().to_numpy()):
        issues.add(
            i,
            "error",
            "missing_project_id",
            "project_id",
            None,
            "缺少项目编号 / feature has no project id",
            "fill in the project id (项目编号/小班号)",
        )


def _check_districts(frame, issues: Issues) -> None:
    """Report features whose district is empty or does not resolve."""
    for i in np.flatnonzero(frame["adcode"].isna().to_numpy()):
        raw = frame["district_raw"].iloc[i]
        if pd.isna(raw) or not str(raw).strip():
            issues.add(
                i,
                "error",
                "unknown_district",
                "district",
                None,
                "区县为空 / the district is empty",
                "fill it in, or give the district for the empty cells",
                option="district",
            )
            continue
        try:
            resolve_district(raw)
        except UnknownNameError as err:
            message = str(err)
        else:  # pragma: no cover - resolve_many and resolve agree
            message = f"unknown district {raw!r}"
        issues.add(
            i,
            "error",
            "unknown_district",
            "district",
            raw,
            message,
            "use a district name or adcode from `forestsink districts`",
        )


def _check_conflicts(frame, issues: Issues) -> None:
    """Warn where two columns of one meaning disagree (the first is used)."""
    if "column_conflicts" not in frame:
        return
    conflicts = frame["column_conflicts"]
    for i in np.flatnonzero(conflicts.notna().to_numpy()):
        issues.add(
            i,
            "warning",
            "columns_disagree",
            "columns",
            conflicts.iloc[i],
            f"同义两列不一致 / two columns with one meaning disagree: "
            f"{conflicts.iloc[i]}; the first is used",
            "核对并改正其中一列 / check which is right and correct the other",
        )


def _check_years(frame, issues: Issues, period: tuple[int, int]) -> None:
    """Report missing, unreadable or out-of-period years."""
    years = frame["year"]
    lo, hi = period
    bad_year = (years.isna() | (years < lo) | (years > hi)).fillna(True).to_numpy()
    for i in np.flatnonzero(bad_year):
        y = years.iloc[i]
        if pd.isna(y):
            raw = frame["year_raw"].iloc[i]
            empty = pd.isna(raw) or not str(raw).strip()
            issues.add(
                i,
                "error",
                "year_missing",
                "year",
                None if empty else raw,
                "年度为空 / the year is empty"
                if empty
                else f"年度无法识别 / year {raw!r} is not a year",
                "fill it in, or give the year for the empty cells"
                if empty
                else "write the year as four digits, e.g. 2013",
                option="year" if empty else None,
            )
        elif not lo <= int(y) <= hi:
            issues.add(
                i,
                "error",
                "year_out_of_range",
                "year",
                int(y),
                f"年度超出规划期 / year {int(y)} is outside the plan period {lo}–{hi}",
                "改正年度，或设定规划期 / correct the year, or set the plan period",
                option=("period", "plan"),
            )


def _check_project_types(frame, issues: Issues) -> None:
    """Report missing or unknown project types, naming the known ones."""
    types = frame["project_type"]
    if not types.isna().any():
        return
    known = ", ".join(
        f"{c} ({r['name_zh']})" for c, r in read_project_types().iterrows()
    )
    table = read_code_table()
    table = table[table["field"] == "ZAO_LIN_LB"]
    codes = dict(zip(table["code"], table["name_zh"], strict=True))
    for i in np.flatnonzero(types.isna().to_numpy()):
        raw = frame["project_type_raw"].iloc[i]
        if pd.isna(raw) or not str(raw).strip():
            issues.add(
                i,
                "error",
                "missing_project_type",
                "project_type",
                None,
                f"项目类型为空 / the project type is empty; known types: {known}",
                "fill it in, or give the project type for the empty cells",
                option="project_type",
            )
            continue
        code = codes.get(str(raw).strip().removesuffix(".0"))
        named = f" (ZAO_LIN_LB {code})" if code else ""
        issues.add(
            i,
            "error",
            "unknown_project_type",
            "project_type",
            raw,
            f"未知项目类型 / unknown project type {raw!r}{named}, not one of "
            f"the plan's types: {known}",
            "use one of the known types, or add the word to your aliases "
            "file as 'project_type,<word>,<type>'",
            option="aliases",
        )


def _check_duplicates(frame, issues: Issues, key: pd.Series) -> None:
    """Report keys that appear more than once in the delivery."""
    dup = key.notna() & key.duplicated(keep=False)
    for i in np.flatnonzero(dup.to_numpy()):
        others = [
            int(frame["source_row"].iloc[k])
            for k in np.flatnonzero((key == key.iloc[i]).to_numpy())
            if k != i
        ]
        issues.add(
            i,
            "error",
            "duplicate_id",
            "project_id",
            frame["project_id"].iloc[i],
            f"项目编号重复 / project id {frame['project_id'].iloc[i]!r} appears "
            f"more than once in this delivery (also row(s) "
            f"{[r + 1 for r in others]}, counted from 1)",
            "每个图斑一个编号，或合并 / give each polygon its own id, or merge the "
            "rows",
        )
