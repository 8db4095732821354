"""The bilingual workbook of result tables, and the district table or map.

:func:`write_tables` writes a :class:`~forestsink.progress.Tables` bundle:
one sheet per table, each header ``中文 English (unit)`` from
``data/labels.csv``, number formats per unit; CSV and JSON carry the main
table only. :func:`write_districts` writes the district reference as a
table, a layer or an interactive map.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from forestsink.errors import TableFileError
from forestsink.io import (
    LAYER_SUFFIXES,
    atomic_write,
    write_layer,
    write_sheet,
    write_table,
)
from forestsink.reference import read_district_table, read_districts, read_labels
from forestsink.render.map import write_district_map


def write_districts(path: str | Path) -> Path:
    """Write the district table or layer, or an interactive map (``.html``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".html":
        return write_district_map(path)
    if suffix in LAYER_SUFFIXES:
        return write_layer(read_districts(), path, layer="districts")
    return write_table(read_district_table(), path, sheet="districts")


SHEET_NAMES = {
    "district": "区县 Districts",
    "region": "片区 Regions",
    "unit": "考核单元 Units",
    "city": "全市 City",
    "city_targets": "全市目标 City targets",
    "district_targets": "区县目标 District targets",
    "carbon": "项目增量CO2 Project increment CO2",
    "by_type": "按森林类型 By forest type",
    "parameters": "参数 Parameters",
    "sink": "森林碳汇 Forest sink",
    "sensitivity": "敏感性 Sensitivity",
    "sources": "参数来源 Parameter sources",
    "not_counted": "未计入 Not counted",
    "by_group": "按树种组 By species group",
    "drivers": "主要不确定性 Drivers",
}


def bilingual_header(column: str, labels) -> str:
    """Return ``中文 English (unit)`` for a column, or the column name."""
    if column not in labels.index:
        return column
    row = labels.loc[column]
    unit = f" ({row['unit']})" if row["unit"] else ""
    return f"{row['zh']} {row['en']}{unit}"


def _number_format(column: str) -> str | None:
    if column == "share_of_city":
        return "0.0%"
    if column.startswith("pct") or column.endswith("_pct"):
        return "0.0"
    if (
        column.endswith(("_mu", "_m3"))
        or column.startswith("co2_t")
        or column.endswith("_m3_per_ha")
        or column
        in ("target", "done", "cumulative", "remaining", "project_work", "delta_v_m3")
    ):
        return "#,##0.0"
    return None


def write_tables(tables, path, *, main: str) -> Path:
    """Write computed tables: the *main* one as CSV/JSON, all of them as Excel.

    Parameters
    ----------
    tables : forestsink.progress.Tables
        Named DataFrames and the settings that produced them.
    path : str or Path
        ``.csv`` / ``.json``: the *main* table with snake_case columns;
        ``.xlsx``: a sheet per table with bilingual headers (中文 first),
        units, frozen header row and number formats, plus a sheet of
        sources and settings.
    main : str
        Name of the table CSV and JSON carry.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".json"):
        return write_table(tables.tables[main], path)
    if suffix != ".xlsx":
        raise TableFileError(
            f"{path}: unsupported format {suffix!r}; use .csv, .json or .xlsx."
        )
    labels = read_labels()
    override = getattr(tables, "labels", None) or {}
    if override:
        extra = pd.DataFrame(
            [
                {"column": c, "zh": z, "en": e, "unit": u}
                for c, (z, e, u) in override.items()
            ]
        ).set_index("column")
        labels = pd.concat([labels.drop(index=list(override), errors="ignore"), extra])
    if main == "progress":  # the chosen view: write it under its own name
        main = tables.settings.get("view", "district")
    order = [main] + [n for n in tables.tables if n not in (main, "progress")]
    with atomic_write(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as writer:
        for name in order:
            df = tables.tables[name]
            sheet = SHEET_NAMES.get(name, name)[:31]
            shown = df.rename(columns={c: bilingual_header(c, labels) for c in df})
            ws = write_sheet(writer, shown, sheet)
            for j, column in enumerate(df.columns, start=1):
                letter = get_column_letter(j)
                ws.column_dimensions[letter].width = max(
                    12, min(40, len(str(shown.columns[j - 1])) + 2)
                )
                cell = ws.cell(row=1, column=j)
                cell.font = Font(bold=True)
                cell.alignment = Alignment(wrap_text=True, vertical="top")
                fmt = _number_format(column)
                if fmt:
                    for (c,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                        c.number_format = fmt
        settings = pd.DataFrame(
            [{"setting": k, "value": v} for k, v in tables.settings.items()]
        )
        write_sheet(
            writer,
            settings.rename(columns={c: bilingual_header(c, labels) for c in settings}),
            "来源与设置 Sources",
            freeze=False,
        )
        writer.sheets["来源与设置 Sources"].column_dimensions["A"].width = 24
        writer.sheets["来源与设置 Sources"].column_dimensions["B"].width = 80
    return path


#: Text encodings a CSV is tried in, in order (GB18030 reads GBK and GB2312).
