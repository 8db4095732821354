r"""Read and write tables and layers (CSV, Excel, JSON, GeoPackage, GeoJSON).

Outputs are written to a temporary file beside the target and renamed into
place (:func:`atomic_write`, the one atomic write of forestsink), so an
interrupted write never leaves a half-written file. Every Excel sheet is
written by :func:`write_sheet`.

May import: errors, units, version (the layer below). Not scale or area:
they are its siblings in the layer contract (pyproject ``[tool.importlinter]``).

Spreadsheet formula injection (CWE-1236)
----------------------------------------
Delivered text (project ids, species, file names, zone ids, withdrawal
reasons) reaches CSV and Excel outputs. Every table written here is made
inert in one place, :func:`write_sheet` and :func:`csv_safe`, for every text
cell and column name (numbers stay numbers: ``-5.0`` is written as a number):

* **Excel** (``.xlsx``): text is stored as an explicit string cell, never a
  formula cell, so ``=HYPERLINK(...)`` stays the exact text it was and no
  ``<f>`` element is written. Control characters openpyxl refuses
  (U+0000–U+0008, U+000B, U+000C, U+000E–U+001F) are written as visible
  escapes (``\x07``) instead of failing the write.
* **CSV**: text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return gets a leading single quote (``'=1+1``), as OWASP advises
  for CSV injection: a spreadsheet shows it as text, a script sees the quote.
* **JSON** is data, not a spreadsheet: written unchanged.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import pandas as pd

from forestsink.errors import TableFileError

TABLE_SUFFIXES = (".csv", ".xlsx", ".json")
LAYER_SUFFIXES = (".gpkg", ".geojson")

#: First characters that make a spreadsheet read text as a formula (CWE-1236).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: Characters openpyxl refuses in a cell (its ILLEGAL_CHARACTERS_RE).
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _tmp(path: Path) -> Path:
    """Return the temporary name ``.<stem>.<random>.part<suffix>`` beside *path*.

    Hidden, unique per writer (two processes writing the same file do not
    share it), and with the file's own suffix, so a driver that picks the
    format by suffix (GDAL, matplotlib, openpyxl) writes the right one.
    """
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}.part{path.suffix}")


def _cannot_write(path: Path, err: OSError) -> TableFileError:
    return TableFileError(
        f"{path}: 无法写出 / cannot write the file ({err.strerror or err}); "
        "choose a folder you can write to, with free space."
    )


@contextmanager
def atomic_write(path: str | Path):
    """Yield a temporary path beside *path*; rename it into place at the end.

    The one atomic write of forestsink: every file the tool writes goes
    through it, so a reader never sees half a file and an interrupted write
    leaves the old file as it was. The temporary name keeps *path*'s suffix.

    An unwritable place (a folder under a regular file, /proc, no permission,
    a full disk) raises :class:`TableFileError` naming the file; a failed
    write leaves no partial file behind.
    """
    path = Path(path)
    tmp = _tmp(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
    except OSError as err:
        raise _cannot_write(path, err) from err
    try:
        yield tmp
        tmp.replace(path)
    except BaseException as err:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise _cannot_write(path, err) from err
        raise


def _is_text(series: pd.Series) -> bool:
    """Whether *series* may hold text (not: an object column of numbers or None)."""
    if series.dtype == object:
        return pd.api.types.infer_dtype(series, skipna=True) not in _NOT_TEXT
    return pd.api.types.is_string_dtype(series.dtype)


#: What pandas infers for an object column without any text.
_NOT_TEXT = frozenset(
    {"empty", "floating", "integer", "mixed-integer-float", "boolean", "decimal"}
)


def _csv_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Return *df* with text that a spreadsheet would run as a formula quoted.

    Text cells and column names starting with one of :data:`FORMULA_TRIGGERS`
    get a leading ``'`` (OWASP CSV-injection advice); numbers are untouched.

    Examples
    --------
    >>> csv_safe(pd.DataFrame({"id": ["=1+1", "-x", "ok"], "v": [-5, 1, 2]}))
          id  v
    0  '=1+1 -5
    1    '-x  1
    2     ok  2
    """
    out = df.rename(columns=lambda c: _csv_cell(c) if isinstance(c, str) else c)
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if _is_text(column):
            hits = _starts(column, FORMULA_TRIGGERS)
            if hits.any():
                column = column.astype(object)
                column[hits] = "'" + column[hits].astype(str)
                out.isetitem(i, column)
    return out


def _starts(column: pd.Series, prefixes) -> np.ndarray:
    """Boolean mask of the text cells of *column* starting with *prefixes*."""
    return (
        column.str.startswith(prefixes)
        .astype(object)
        .fillna(False)
        .to_numpy(dtype=bool)
    )


def _xlsx_cell(value):
    if isinstance(value, str) and _XLSX_ILLEGAL.search(value):
        return _XLSX_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return value


def _formula_like(value) -> bool:
    return isinstance(value, str) and value.startswith("=")


def write_sheet(writer, df: pd.DataFrame, sheet: str, *, freeze: bool = True):
    """Write *df* on *sheet* with every text cell an inert string cell.

    The one sheet-writing path of forestsink: :func:`write_sheets`,
    :func:`write_table` (``.xlsx``) and the bilingual workbook writer
    (:func:`forestsink.render.workbook.write_tables`) all write their sheets
    here, so formula injection and control characters are handled once.

    Parameters
    ----------
    writer : pandas.ExcelWriter
        An open writer with the openpyxl engine.
    df : pandas.DataFrame
        The table; the index is not written.
    sheet : str
        Sheet name (at most 31 characters).
    freeze : bool, optional (default: True)
        Freeze the header row.

    Returns
    -------
    openpyxl.worksheet.worksheet.Worksheet
        The sheet written (for formats the caller adds).
    """
    df = df.rename(columns=lambda c: _xlsx_cell(c) if isinstance(c, str) else c)
    df = df.copy()
    # openpyxl makes any text starting with "=" a formula cell: note where
    # such text goes (header row 1, data from row 2) and store it as a plain
    # string (kept exactly, never evaluated)
    cells = [(1, j + 1) for j, c in enumerate(df.columns) if _formula_like(c)]
    for j in range(df.shape[1]):
        column = df.iloc[:, j]
        if _is_text(column):
            bad = column.str.contains(_XLSX_ILLEGAL).astype(object).fillna(False)
            if bad.to_numpy(dtype=bool).any():
                column = column.map(_xlsx_cell, na_action="ignore")
                df.isetitem(j, column)
            hits = _starts(column, ("=",))
            cells += [(int(i) + 2, j + 1) for i in hits.nonzero()[0]]
    df.to_excel(writer, sheet_name=sheet, index=False)
    ws = writer.sheets[sheet]
    for row, col in cells:
        ws.cell(row=row, column=col).data_type = "s"
    if freeze:
        ws.freeze_panes = "A2"
    return ws


#: Former private name of :func:`write_sheet` (kept for existing callers).
_write_sheet = write_sheet


def write_sheets(sheets: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Write several tables as the sheets of one Excel workbook (atomically).

    Parameters
    ----------
    sheets : dict of str to pandas.DataFrame
        Sheet name (at most 31 characters) to table, in order.
    path : str or Path
        The ``.xlsx`` file.

    Returns
    -------
    Path
    """
    path = Path(path)
    with atomic_write(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            write_sheet(writer, frame, name)
    return path


def write_table(df: pd.DataFrame, path: str | Path, *, sheet: str = "data") -> Path:
    """Write *df* as CSV (UTF-8 with BOM, opens in Excel), XLSX or JSON records.

    Text that a spreadsheet would run as a formula is made inert in CSV and
    Excel (see the module docstring); JSON is written as it is.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise TableFileError(
            f"{path}: unsupported table format {suffix!r}; use one of {TABLE_SUFFIXES}."
        )
    if suffix == ".xlsx":
        return write_sheets({sheet: df}, path)
    with atomic_write(path) as tmp:
        if suffix == ".csv":
            # CRLF rows (RFC 4180): a CR inside a cell is then quoted, not a row end
            csv_safe(df).to_csv(
                tmp, index=False, encoding="utf-8-sig", lineterminator="\r\n"
            )
        else:
            df.to_json(tmp, orient="records", force_ascii=False, indent=1)
    return path


def write_layer(gdf, path: str | Path, *, layer: str) -> Path:
    """Write a GeoDataFrame as GeoPackage or GeoJSON (via pyogrio)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in LAYER_SUFFIXES:
        raise TableFileError(
            f"{path}: unsupported layer format {suffix!r}; use one of {LAYER_SUFFIXES}."
        )
    with atomic_write(path) as tmp:
        gdf.to_file(
            tmp,
            layer=layer,
            engine="pyogrio",
            driver="GPKG" if suffix == ".gpkg" else "GeoJSON",
        )
    return path


CSV_ENCODINGS = ("utf-8-sig", "gb18030")
#: Suffixes :func:`read_table` reads.
READ_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm", ".json")


def _decode_csv(path: Path, raw: bytes) -> str:
    for codec in CSV_ENCODINGS:
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    raise TableFileError(  # pragma: no cover - gb18030 decodes nearly anything
        f"{path}: 既不是 UTF-8 也不是 GBK 文本 / neither UTF-8 nor GBK text; save "
        "it as UTF-8 CSV or as Excel .xlsx."
    )


def _json_frame(path: Path) -> pd.DataFrame:
    try:
        data = json.loads(_decode_csv(path, path.read_bytes()))
    except json.JSONDecodeError as err:
        raise TableFileError(
            f"{path}: 不是有效的 JSON（第 {err.lineno} 行）/ not valid JSON (line "
            f"{err.lineno}: {err.msg}); write it as a list of records, as "
            "forestsink does."
        ) from err
    if isinstance(data, dict):  # {"name": [records]} or one record
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if lists else [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise TableFileError(
            f"{path}: JSON 不是记录列表 / the JSON is not a list of records "
            '([{"column": value, ...}, ...]); write it as forestsink does.'
        )
    return pd.DataFrame(data)


def _excel_frame(path: Path, sheet: str | None, dtype) -> pd.DataFrame:
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=dtype, engine="openpyxl")
    except Exception as err:  # openpyxl/zipfile: many error types for one cause
        raise TableFileError(
            f"{path}: 无法作为 Excel .xlsx 读取 / cannot be read as an Excel .xlsx "
            f"workbook ({type(err).__name__}: {err}). Open it in Excel or WPS and "
            "save it as .xlsx (or as UTF-8 CSV)."
        ) from err
    if not sheets:
        raise TableFileError(f"{path}: 工作簿没有工作表 / the workbook has no sheet.")
    if sheet is not None and sheet in sheets:
        return sheets[sheet]
    return next(iter(sheets.values()))


def read_table(
    path: str | Path, /, *, dtype=str, sheet: str | None = None
) -> pd.DataFrame:
    """Read a table file: CSV (UTF-8, UTF-8 with BOM or GBK), Excel or JSON.

    Every table forestsink reads from a user (targets, withdrawal lists,
    class tables, coverage tables, reference overrides) comes through here.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.txt`` (comma-separated; UTF-8 tried first, then GB18030,
        which reads GBK), ``.xlsx``/``.xlsm`` (openpyxl) or ``.json`` (a
        list of records, or an object holding one).
    dtype : type or dict, optional (default: str)
        ``str``: every cell as text, empty cells as ``""``. A dict maps
        columns to types (e.g. ``{"adcode": str}``) and the rest is inferred
        (empty cells are NaN).
    sheet : str, optional (default: None)
        Excel: the sheet to read when the workbook has it; else the first.

    Returns
    -------
    pandas.DataFrame
        Row *i* is row *i + 2* of a CSV or sheet (the header is row 1).

    Raises
    ------
    TableFileError
        Missing file, unsupported suffix, undecodable text, not a workbook,
        malformed CSV or JSON; the message names the file and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise TableFileError(f"{path}: 文件不存在 / no such file.")
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise TableFileError(
            f"{path}: 旧版 .xls 不支持 / old-style .xls workbooks are not read; "
            "open it in Excel or WPS and save it as .xlsx (or as UTF-8 CSV)."
        )
    if suffix not in READ_SUFFIXES:
        raise TableFileError(
            f"{path}: 不支持的表格格式 {suffix!r} / unsupported table format "
            f"{suffix!r}; use one of {', '.join(READ_SUFFIXES)}."
        )
    text_only = dtype is str
    if suffix in (".xlsx", ".xlsm"):
        table = _excel_frame(path, sheet, dtype)
    elif suffix == ".json":
        table = _json_frame(path)
        if isinstance(dtype, dict):
            for column, kind in dtype.items():
                if column in table:
                    table[column] = table[column].map(
                        lambda v, k=kind: v if pd.isna(v) else k(v)
                    )
    else:
        text = _decode_csv(path, path.read_bytes())
        try:
            table = pd.read_csv(
                io.StringIO(text), dtype=dtype, keep_default_na=not text_only
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
            raise TableFileError(
                f"{path}: 无法作为 CSV 解析 / cannot be parsed as CSV ({err}); "
                "check the separators (commas) and quotes, or save it from Excel "
                "as CSV UTF-8."
            ) from err
    if text_only and suffix not in (".csv", ".txt"):  # CSV cells are text already
        table = table.astype(object).where(table.notna(), "")
        table = table.map(lambda v: v if isinstance(v, str) else str(v))
    return table


def read_bureau_table(path) -> pd.DataFrame:
    """Read a table a bureau supplies: Excel, or CSV in UTF-8 or GBK.

    All cells are read as text (empty cells as ``""``); row *i* of the
    result is row *i + 2* of the file (the header is row 1). The same as
    :func:`read_table` with ``dtype=str``.
    """
    return read_table(path, dtype=str)


def read_coverage_table(path, /) -> pd.DataFrame:
    """Read a coverage table (CSV, JSON or Excel) with ``adcode`` and ``coverage_pct``.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.json`` or ``.xlsx`` file as ``forestsink coverage``
        writes it: columns ``adcode``, ``coverage_pct`` (0–100) and,
        optionally, ``year``. JSON may be a list of records or an object
        holding one; from Excel the sheet ``coverage`` (else the first).

    Returns
    -------
    pandas.DataFrame
        With ``adcode`` as 6-digit strings.
    """
    path = Path(path)
    if not path.is_file():
        raise TableFileError(
            f"覆盖率表不存在 / coverage table {path} does not exist; write one "
            "with forestsink coverage first and pass that file."
        )
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            table = read_table(path, dtype={"adcode": str})
        elif suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                lists = [v for v in data.values() if isinstance(v, list)]
                data = lists[0] if lists else [data]
            table = pd.DataFrame(data)
        elif suffix == ".xlsx":
            table = read_table(path, dtype={"adcode": str}, sheet="coverage")
        else:
            raise TableFileError(
                f"coverage table {path}: use a .csv, .json or .xlsx file (as "
                "written by `forestsink coverage`)."
            )
    except (ValueError, OSError) as err:
        raise TableFileError(f"coverage table {path}: cannot read it ({err}).") from err
    missing = {"adcode", "coverage_pct"} - set(table.columns)
    if missing:
        raise TableFileError(
            f"coverage table {path}: column(s) {sorted(missing)} missing; it needs "
            "adcode and coverage_pct (and year when it holds several years)."
        )
    table["adcode"] = table["adcode"].astype(str).str.strip()
    return table
