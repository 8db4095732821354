"""A plan as data: its name, document, period, base year, targets and duties.

:func:`read_plan` returns the seed plan (渝府发〔2012〕102号: the header in
``data/plan.csv``, the targets in ``data/plan_targets.csv``) or a user's plan
file; :func:`check_plan` lists a plan file's problems row by row. Every
year range the tools use (validation's year check, the cumulative views, the
titles and the report text) comes from :attr:`Plan.period`.

A plan file is one table (CSV in UTF-8 or GBK, or Excel, sheet ``targets``
or the first) with the columns of ``data/plan_targets.csv`` and the header
columns ``plan_start`` and ``plan_end`` (required), ``plan_name``,
``plan_name_en``, ``document`` and ``base_year`` (default: the year before
``plan_start``); header cells may be filled on the first row only. Rows of
scope ``district`` need a ``district`` column (any known name or adcode):
they are the districts' duties. See ``data/plan.EXAMPLE.csv``.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from forestsink.errors import PlanError, TableFileError, UnknownNameError
from forestsink.io import read_table
from forestsink.reference.data import data_path, read_reference_csv
from forestsink.reference.districts import district_resolver
from forestsink.reference.tables import PROJECT_TYPES, read_plan_targets
from forestsink.units import MU_PER_WAN_MU

#: metric -> the unit its value is given in
METRICS: dict[str, str] = {
    "forest_coverage_pct": "%",
    "new_forest_area_mu": "mu",
    "new_stock_volume_m3": "m3",
    "project_area_mu": "mu",
    "protected_area_mu": "mu",
}
QUALIFIERS = ("eq", "about", "gt")
SCOPES = ("city", "programme", "protection", "district")
#: the columns of ``data/plan_targets.csv``, in order
TARGET_COLUMNS = (
    "target_id",
    "metric",
    "value",
    "unit",
    "qualifier",
    "period_start",
    "period_end",
    "scope",
    "programme_zh",
    "programme_en",
    "project_type",
    "section",
    "quote",
)
REQUIRED_COLUMNS = (*TARGET_COLUMNS[:8], "plan_start", "plan_end")
HEADER_COLUMNS = (
    "plan_name",
    "plan_name_en",
    "document",
    "plan_start",
    "plan_end",
    "base_year",
)
DUTY_COLUMNS = ("adcode", "metric", "target", "target_id")
#: metrics a district duty may have
DUTY_METRICS = ("new_forest_area_mu", "new_stock_volume_m3", "forest_coverage_pct")


def _no_duties() -> pd.DataFrame:
    return pd.DataFrame(columns=list(DUTY_COLUMNS))


@dataclass(frozen=True, eq=False)
class Plan:
    """A plan: header, targets and district duties.

    ``targets`` has the columns of ``data/plan_targets.csv`` (and
    ``district``/``adcode`` for duty rows); ``duties`` one row per district
    target (``adcode``, ``metric``, ``target``, ``target_id``).
    """

    name: str
    name_en: str
    document: str
    period_start: int
    period_end: int
    base_year: int
    targets: pd.DataFrame
    duties: pd.DataFrame = field(default_factory=_no_duties)
    source: str = ""

    @property
    def period(self) -> tuple[int, int]:
        """Return ``(first year, last year)`` of the plan."""
        return (self.period_start, self.period_end)

    @property
    def years(self) -> list[int]:
        """Return every year of the plan, first to last."""
        return list(range(self.period_start, self.period_end + 1))

    @property
    def label(self) -> str:
        """Return the period as text: first year, en dash, last year."""
        return f"{self.period_start}–{self.period_end}"

    def target_of(self, metric: str) -> pd.Series | None:
        """Return the first city-wide target of *metric*, or None.

        Parameters
        ----------
        metric : str
            One of :data:`METRICS`.
        """
        rows = self.targets[
            (self.targets["metric"] == metric) & (self.targets["scope"] == "city")
        ]
        return rows.iloc[0] if len(rows) else None


def _int(text: str) -> int | None:
    try:
        return int(float(str(text).strip()))
    except ValueError:
        return None


def _float(text: str) -> float | None:
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _header(table: pd.DataFrame, name: str, problems: list[str]) -> dict:
    """Return the plan header from its columns (first non-empty cell each)."""
    out: dict = {}
    for col in HEADER_COLUMNS:
        if col not in table:
            continue
        cells = [(i, str(v).strip()) for i, v in enumerate(table[col])]
        filled = [(i, v) for i, v in cells if v]
        if not filled:
            continue
        if len({v for _, v in filled}) > 1:
            i, v = next((i, v) for i, v in filled if v != filled[0][1])
            problems.append(
                f"{name}: row {i + 2}, column '{col}': {v!r} differs from "
                f"{filled[0][1]!r} (row {filled[0][0] + 2}) / 表头各行不一致; fill "
                "it on the first row only, or the same on every row."
            )
        out[col] = filled[0][1]
    for col in ("plan_start", "plan_end", "base_year"):
        if col in out:
            year = _int(out[col])
            if year is None or not 1949 <= year <= 2100:
                problems.append(
                    f"{name}: column '{col}': {out[col]!r} is not a year / 不是年份; "
                    "write a four-digit year such as 2021."
                )
                year = None
            out[col] = year
    start, end = out.get("plan_start"), out.get("plan_end")
    if "plan_start" in table and "plan_end" in table and not (start and end):
        if not any("not a year" in p for p in problems):
            problems.append(
                f"{name}: columns 'plan_start', 'plan_end': empty / 规划期为空; "
                "fill the plan's first and last year on the first row."
            )
    if start and end and end < start:
        problems.append(
            f"{name}: plan period {start}–{end}: the end is before the start / "
            "规划期终止年早于起始年; swap plan_start and plan_end."
        )
    return out


def _row_problems(row: pd.Series, where: str, has_district: bool) -> list[str]:
    """Return the problems of one target row (``where``: file and row)."""
    out = []
    tid = str(row["target_id"]).strip()
    if not re.fullmatch(r"[a-z0-9_]+", tid):
        out.append(
            f"{where}, column 'target_id': {tid!r} / 编号无效; use lower-case "
            "letters, digits and _ (e.g. new_forest_area)."
        )
    metric = str(row["metric"]).strip()
    if metric not in METRICS:
        out.append(
            f"{where}, column 'metric': unknown metric {metric!r} / 未知指标; use "
            f"one of {', '.join(METRICS)}."
        )
    elif str(row["unit"]).strip() != METRICS[metric]:
        out.append(
            f"{where}, column 'unit': {row['unit']!r} for {metric} / 单位不符; "
            f"write {METRICS[metric]!r}."
        )
    value = _float(row["value"])
    if value is None or value <= 0:
        out.append(
            f"{where}, column 'value': {row['value']!r} is not a positive number / "
            "目标值须为正数; write the number only (9000000, not 900万亩)."
        )
    if str(row["qualifier"]).strip() not in QUALIFIERS:
        out.append(
            f"{where}, column 'qualifier': {row['qualifier']!r} / 限定词无效; use "
            "eq (等于), about (约) or gt (不少于 / at least)."
        )
    start, end = _int(row["period_start"]), _int(row["period_end"])
    if start is None or end is None:
        out.append(
            f"{where}, columns 'period_start', 'period_end': "
            f"{row['period_start']!r}, {row['period_end']!r} are not years / "
            "不是年份; write four-digit years."
        )
    elif end < start:
        out.append(
            f"{where}: period end {end} is before its start {start} / 终止年早于"
            "起始年; swap period_start and period_end."
        )
    scope = str(row["scope"]).strip()
    if scope not in SCOPES:
        out.append(
            f"{where}, column 'scope': {scope!r} / 范围无效; use one of "
            f"{', '.join(SCOPES)}."
        )
    ptype = str(row.get("project_type", "")).strip()
    if ptype and ptype not in PROJECT_TYPES:
        out.append(
            f"{where}, column 'project_type': unknown {ptype!r} / 未知项目类型; use "
            f"one of {', '.join(PROJECT_TYPES)} or leave it empty."
        )
    if scope == "programme" and not ptype:
        out.append(
            f"{where}: a programme target needs its project_type / 工程目标须填"
            "项目类型."
        )
    if scope == "district":
        out += _district_problems(row, where, has_district, metric)
    return out


def _district_problems(row, where: str, has_district: bool, metric: str) -> list:
    if not has_district or not str(row["district"]).strip():
        return [
            f"{where}: a district target needs the district (column 'district', "
            "name or adcode) / 区县目标须填区县."
        ]
    out = []
    try:
        district_resolver().resolve(
            row["district"], where=f"{where}, column 'district'"
        )
    except UnknownNameError as err:
        out.append(str(err))
    if metric in METRICS and metric not in DUTY_METRICS:
        out.append(
            f"{where}, column 'metric': {metric!r} is not a district duty / 非区县"
            f"任务指标; use one of {', '.join(DUTY_METRICS)}."
        )
    return out


def _read(path: Path) -> pd.DataFrame:
    try:
        return read_table(path, dtype=str, sheet="targets")
    except TableFileError as err:
        raise PlanError(f"规划文件无法读取 / plan file cannot be read: {err}") from err


def _problems(table: pd.DataFrame, name: str) -> tuple[list[str], dict]:
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in table]
    if missing:
        return [
            f"{name}: missing column(s) {', '.join(missing)} / 缺少列; a plan file "
            f"needs {', '.join(REQUIRED_COLUMNS)} (see data/plan.EXAMPLE.csv); "
            f"found {', '.join(table.columns)}."
        ], {}
    if table.empty:
        return [f"{name}: no target rows / 没有目标行."], {}
    problems: list[str] = []
    header = _header(table, name, problems)
    has_district = "district" in table
    for i, row in table.iterrows():
        problems += _row_problems(row, f"{name}: row {int(i) + 2}", has_district)
    dup = table["target_id"].str.strip().duplicated(keep="first")
    for i in dup[dup].index:
        problems.append(
            f"{name}: row {int(i) + 2}, column 'target_id': "
            f"{table.loc[i, 'target_id']!r} repeats an earlier row / 编号重复."
        )
    return problems, header


def check_plan(path: str | Path, /) -> list[str]:
    """Return the problems of a plan file, one message per row and column.

    Parameters
    ----------
    path : str or Path
        A plan file: CSV (UTF-8 or GBK) or Excel (sheet ``targets``, or the
        first sheet).

    Returns
    -------
    list of str
        Bilingual messages naming the file, row (the header is row 1),
        column and the fix; empty when the file is a valid plan.
    """
    path = Path(path)
    return _problems(_read(path), path.name)[0]


def _duties(table: pd.DataFrame, name: str) -> pd.DataFrame:
    rows = table[table["scope"] == "district"]
    resolver = district_resolver()
    return pd.DataFrame(
        {
            "adcode": [
                resolver.resolve(d, where=f"{name}: row {int(i) + 2}")
                for i, d in rows["district"].items()
            ],
            "metric": rows["metric"].to_numpy(),
            "target": rows["value"].astype(float).to_numpy(),
            "target_id": rows["target_id"].to_numpy(),
        },
        columns=list(DUTY_COLUMNS),
    )


def _user_plan(path: Path) -> Plan:
    table = _read(path)
    problems, header = _problems(table, path.name)
    if problems:
        shown = problems[:20] + (
            [f"... and {len(problems) - 20} more"] if len(problems) > 20 else []
        )
        raise PlanError(
            f"{path.name}: {len(problems)} problem(s) in this plan file / 规划文件有误 "
            "(row numbers count the header as row 1):\n  "
            + "\n  ".join(shown)
            + "\nFix the file and run `forestsink plan check` again."
        )
    targets = table.apply(lambda s: s.str.strip())
    for col in TARGET_COLUMNS:
        if col not in targets:
            targets[col] = ""
    targets["value"] = targets["value"].astype(float)
    for col in ("period_start", "period_end"):
        targets[col] = targets[col].map(_int)
    keep = [*TARGET_COLUMNS, *(["district"] if "district" in targets else [])]
    start, end = header["plan_start"], header["plan_end"]
    return Plan(
        name=header.get("plan_name") or path.stem,
        name_en=header.get("plan_name_en", ""),
        document=header.get("document", ""),
        period_start=start,
        period_end=end,
        base_year=header.get("base_year") or start - 1,
        targets=targets[keep].reset_index(drop=True),
        duties=_duties(targets, path.name) if "district" in targets else _no_duties(),
        source=path.name,
    )


@functools.cache
def _seed_plan() -> Plan:
    head = read_reference_csv(data_path("plan.csv")).iloc[0]
    return Plan(
        name=head["plan_name"],
        name_en=head["plan_name_en"],
        document=head["document"],
        period_start=int(head["plan_start"]),
        period_end=int(head["plan_end"]),
        base_year=int(head["base_year"]),
        targets=read_plan_targets(),
        source="plan_targets.csv",
    )


def read_plan(path: str | Path | None = None, /) -> Plan:
    """Return a plan: the seed plan, or the plan in a user's file.

    Parameters
    ----------
    path : str or Path, optional (default: None, the seed plan)
        A plan file (CSV in UTF-8 or GBK, or Excel): the columns of
        ``data/plan_targets.csv`` plus ``plan_start`` and ``plan_end``
        (see the module docstring and ``data/plan.EXAMPLE.csv``). None
        (or a :class:`Plan`) returns the seed plan (or that plan).

    Returns
    -------
    Plan
        Areas in mu, stock volumes in m³, coverage in %.

    Raises
    ------
    PlanError
        The file cannot be read, or rows are malformed: every problem is
        listed with its file, row, column and the fix.
    """
    if isinstance(path, Plan):
        return path
    if path is None:
        return _seed_plan()
    return _user_plan(Path(path))


#: columns of an indicator-transfer table (``price`` and ``document`` may be empty)
TRANSFER_COLUMNS = ("seller", "buyer", "area_wan_mu", "year", "price", "document")


def _transfer_problems(row, where: str, resolver) -> tuple[list[str], list]:
    out, codes = [], []
    for col in ("seller", "buyer"):
        try:
            codes.append(resolver.resolve(row[col], where=f"{where}, column '{col}'"))
        except UnknownNameError as err:
            out.append(str(err))
            codes.append(None)
    if codes[0] and codes[0] == codes[1]:
        out.append(
            f"{where}: seller and buyer are the same district / 买卖双方相同; a "
            "transfer is between two districts."
        )
    area = _float(row["area_wan_mu"])
    if area is None or area <= 0:
        out.append(
            f"{where}, column 'area_wan_mu': {row['area_wan_mu']!r} is not a "
            "positive number / 交易面积须为正数（万亩）; write 万亩 as a number "
            "(1.5 for 1.5 万亩)."
        )
    year = _int(row["year"])
    if year is None or not 1949 <= year <= 2100:
        out.append(f"{where}, column 'year': {row['year']!r} is not a year / 不是年份.")
    return out, codes


def read_transfers(path: str | Path, /) -> pd.DataFrame:
    """Read a table of forest-area indicator transfers between districts.

    横向生态补偿提高森林覆盖率: a district short of its duty buys forest-area
    indicators from another. The transfers count in the districts' duty
    accounting only, never in the physical figures.

    Parameters
    ----------
    path : str or Path
        CSV (UTF-8 or GBK) or Excel with the columns ``seller``, ``buyer``
        (district names or adcodes), ``area_wan_mu`` (万亩), ``year``,
        ``price`` and ``document`` (both may be empty).

    Returns
    -------
    pandas.DataFrame
        ``seller``, ``buyer`` (adcodes), ``area_mu`` (mu), ``year``,
        ``price``, ``document``, ``row`` (the file's row number).

    Raises
    ------
    PlanError
        A missing column or malformed rows, each named by file, row, column.
    """
    path = Path(path)
    table = _read(path)
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in TRANSFER_COLUMNS[:4] if c not in table]
    if missing:
        raise PlanError(
            f"{path.name}: missing column(s) {', '.join(missing)} / 缺少列; an "
            f"indicator-transfer table needs {', '.join(TRANSFER_COLUMNS)}; found "
            f"{', '.join(table.columns)}."
        )
    resolver = district_resolver()
    problems, rows = [], []
    for i, row in table.iterrows():
        where = f"{path.name}: row {int(i) + 2}"
        found, (seller, buyer) = _transfer_problems(row, where, resolver)
        problems += found
        if not found:
            rows.append(
                {
                    "seller": seller,
                    "buyer": buyer,
                    "area_mu": _float(row["area_wan_mu"]) * MU_PER_WAN_MU,
                    "year": _int(row["year"]),
                    "price": str(row.get("price", "")).strip(),
                    "document": str(row.get("document", "")).strip(),
                    "row": int(i) + 2,
                }
            )
    if problems:
        raise PlanError(
            f"{path.name}: {len(problems)} problem(s) in the transfer table / "
            "指标交易表有误:\n  " + "\n  ".join(problems[:20])
        )
    return pd.DataFrame(
        rows, columns=["seller", "buyer", "area_mu", "year", "price", "document", "row"]
    )
