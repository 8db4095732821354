"""Where the shipped reference data lies, and how a table is read and checked.

:func:`data_dir` finds the ``data/`` folder; :func:`read_reference_csv`
reads one of its CSV files (or a user's file of the same form);
:func:`validate_table` checks a table against a pandera schema with one
readable :class:`~forestsink.errors.ReferenceDataError`; :func:`table_cache`
keeps each validated table once per process (:func:`loaded_tables`,
:func:`preload_tables` hand them to helper processes).

pandera is imported only when a table is validated (:func:`pandera`):
importing it takes about half a second, and ``import forestsink`` must stay
light.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from forestsink.errors import ReferenceDataError, TableFileError
from forestsink.io import read_table


def data_dir() -> Path:
    """Return the folder holding the reference data.

    An installed wheel carries it as ``forestsink/_data``; a source checkout
    (editable install) reads the repository's ``data/`` folder.
    """
    here = Path(__file__).resolve().parent.parent  # the forestsink package
    for candidate in (here / "_data", here.parent / "data"):
        if (candidate / "districts.csv").is_file():
            return candidate
    raise ReferenceDataError(
        "forestsink reference data not found (looked in "
        f"{here / '_data'} and {here.parent / 'data'}); reinstall the package."
    )


def data_path(name: str) -> Path:
    """Return the path of the shipped reference file *name* (in :func:`data_dir`)."""
    return data_dir() / name


#: validated reference tables by (loader, file): each is read and checked
#: (pandera) once per process
_TABLES: dict[tuple[str, Path], pd.DataFrame] = {}


def table_cache(loader):
    """Keep what *loader* returns per file (see :func:`loaded_tables`).

    *loader* takes the path of one table file and returns it read and
    validated; the decorated loader reads and validates each file once per
    process.
    """

    @functools.wraps(loader)
    def cached(path: Path) -> pd.DataFrame:
        key = (loader.__name__, Path(path))
        if key not in _TABLES:
            _TABLES[key] = loader(path)
        return _TABLES[key]

    return cached


def loaded_tables() -> dict:
    """Return the reference tables this process has read and validated."""
    return dict(_TABLES)


def preload_tables(tables: dict) -> None:
    """Take tables another process validated (:func:`loaded_tables`).

    A helper process (:mod:`forestsink.landing.chunked`) starts with these instead
    of validating the same files again (importing pandera alone takes about
    half a second).
    """
    _TABLES.update(tables)


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------


def read_reference_csv(path: Path, *, dtype: dict | None = None) -> pd.DataFrame:
    """Read a reference CSV (UTF-8, BOM tolerated) with string defaults.

    Read through :func:`forestsink.io.read_table` (which also takes a GBK
    file a user saved from Excel).

    Raises
    ------
    ReferenceDataError
        The file does not exist or cannot be read as a table.
    """
    path = Path(path)
    if not path.is_file():
        raise ReferenceDataError(f"{path}: file not found.")
    try:
        return read_table(path, dtype=dtype or str)
    except TableFileError as err:
        raise ReferenceDataError(str(err)) from err


def validate_table(df: pd.DataFrame, schema, path: Path) -> pd.DataFrame:
    """Validate *df* with a pandera schema; raise one readable error.

    Raises
    ------
    ReferenceDataError
        Naming *path*, and for each of the first 20 problems the row
        (counting the header as row 1), the column and the value.
    """
    import pandera.errors as pa_errors  # noqa: PLC0415 (optional heavy dependency)

    try:
        return schema.validate(df, lazy=True)
    except pa_errors.SchemaErrors as err:
        cases = err.failure_cases
        lines = []
        for rec in cases.head(20).to_dict("records"):
            row = rec.get("index")
            where = f"row {int(row) + 2}" if pd.notna(row) else "table"
            column = rec.get("column") or rec.get("schema_context")
            lines.append(
                f"  {where}, column '{column}': value {rec.get('failure_case')!r}"
                f" fails {rec.get('check')}"
            )
        more = len(cases) - 20
        if more > 0:
            lines.append(f"  ... and {more} more")
        raise ReferenceDataError(
            f"{path}: {len(cases)} problem(s) in this reference table "
            "(row numbers count the header as row 1):\n"
            + "\n".join(lines)
            + "\nFix the table and run `forestsink check-data` again."
        ) from err


def bool_column(df: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """Return a text column of true/false words as booleans.

    ``true``/``false``, ``1``/``0``, ``yes``/``no`` and ``是``/``否`` (any case,
    surrounding blanks ignored).

    Raises
    ------
    ReferenceDataError
        A value is none of these, naming *path*, the row and the column.
    """
    mapping = {
        "true": True,
        "false": False,
        "1": True,
        "0": False,
        "yes": True,
        "no": False,
        "是": True,
        "否": False,
    }
    values = df[column].str.strip().str.lower()
    bad = ~values.isin(mapping)
    if bad.any():
        row = int(bad.idxmax())
        raise ReferenceDataError(
            f"{path}: row {row + 2}, column '{column}': value "
            f"{df[column].iloc[row]!r} is not a boolean; use true or false."
        )
    return values.map(mapping).astype(bool)


def pandera():
    """Return the ``pandera.pandas`` module (imported on first use).

    Returns
    -------
    module
        ``pandera.pandas``, for the schemas of the table loaders.
    """
    import pandera.pandas as pa  # noqa: PLC0415 (optional heavy dependency)

    return pa


def read_shipped_csv(name: str) -> pd.DataFrame:
    """Read the shipped reference CSV *name* as text, unchecked.

    Parameters
    ----------
    name : str
        File name in :func:`data_dir` (``"labels.csv"`` ...).
    """
    return read_reference_csv(data_dir() / name)
