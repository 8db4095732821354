"""Writers for tables and layers (CSV, Excel, JSON, GeoPackage, GeoJSON).

Outputs are written to a temporary file beside the target and renamed into
place, so an interrupted write never leaves a half-written file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forestsink.errors import ForestsinkError

TABLE_SUFFIXES = (".csv", ".xlsx", ".json")
LAYER_SUFFIXES = (".gpkg", ".geojson")


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


def write_table(df: pd.DataFrame, path: str | Path, *, sheet: str = "data") -> Path:
    """Write *df* as CSV (UTF-8 with BOM, opens in Excel), XLSX or JSON records."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ForestsinkError(
            f"{path}: unsupported table format {suffix!r}; use one of {TABLE_SUFFIXES}."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    if suffix == ".csv":
        df.to_csv(tmp, index=False, encoding="utf-8-sig")
    elif suffix == ".json":
        df.to_json(tmp, orient="records", force_ascii=False, indent=1)
    else:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            df.to_excel(writer, sheet_name=sheet, index=False)
            writer.sheets[sheet].freeze_panes = "A2"
    tmp.replace(path)
    return path


def write_layer(gdf, path: str | Path, *, layer: str) -> Path:
    """Write a GeoDataFrame as GeoPackage or GeoJSON (via pyogrio)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in LAYER_SUFFIXES:
        raise ForestsinkError(
            f"{path}: unsupported layer format {suffix!r}; use one of {LAYER_SUFFIXES}."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    tmp.unlink(missing_ok=True)
    gdf.to_file(
        tmp,
        layer=layer,
        engine="pyogrio",
        driver="GPKG" if suffix == ".gpkg" else "GeoJSON",
    )
    tmp.replace(path)
    return path


def write_districts(path: str | Path) -> Path:
    """Write the district table or layer, or an interactive map (``.html``)."""
    from forestsink.reference import read_district_table, read_districts

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".html":
        from forestsink.render.map import write_district_map

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
        raise ForestsinkError(
            f"{path}: unsupported format {suffix!r}; use .csv, .json or .xlsx."
        )
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    from forestsink.progress import read_labels

    labels = read_labels()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    if main == "progress":  # the chosen view: write it under its own name
        main = tables.settings.get("view", "district")
    order = [main] + [n for n in tables.tables if n not in (main, "progress")]
    with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
        for name in order:
            df = tables.tables[name]
            sheet = SHEET_NAMES.get(name, name)[:31]
            shown = df.rename(columns={c: bilingual_header(c, labels) for c in df})
            shown.to_excel(writer, sheet_name=sheet, index=False)
            ws = writer.sheets[sheet]
            ws.freeze_panes = "A2"
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
        settings.rename(
            columns={c: bilingual_header(c, labels) for c in settings}
        ).to_excel(writer, sheet_name="来源与设置 Sources", index=False)
        writer.sheets["来源与设置 Sources"].column_dimensions["A"].width = 24
        writer.sheets["来源与设置 Sources"].column_dimensions["B"].width = 80
    tmp.replace(path)
    return path


def read_bureau_table(path) -> pd.DataFrame:
    """Read a table a bureau supplies: Excel, or CSV in UTF-8 or GBK.

    All cells are read as text (empty cells as ``""``); row *i* of the
    result is row *i + 2* of the file (the header is row 1).
    """
    import io

    path = Path(path)
    if not path.is_file():
        raise ForestsinkError(f"{path}: no such file.")
    if path.suffix.lower() in (".xlsx", ".xls"):
        return pd.read_excel(path, dtype=str).fillna("")
    raw = path.read_bytes()
    for codec in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(codec)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes nearly anything
        raise ForestsinkError(f"{path.name}: neither UTF-8 nor GBK text.")
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
