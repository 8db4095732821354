"""Print DataFrames as terminal tables (rich).

Every value printed here may come from a delivery (project ids, file names,
withdrawal reasons, user names), so none of it is read as Rich markup or
emoji codes: ``[/x]`` or ``[bold red]BOOM.gpkg`` are printed as they are
written (escaped with :func:`rich.markup.escape`), and ``:cn:`` stays text.
All Rich output of the CLI goes through :func:`print_table`.
"""

from __future__ import annotations

import sys

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _cell(value) -> str:
    """Return the printed text of one cell, with Rich markup escaped."""
    if value is None or (not isinstance(value, (list, tuple, dict)) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return escape(str(value))


def console() -> Console:
    """Return the console tables are printed on (no emoji codes, wide if piped)."""
    # piped output (scripts, CI logs) gets wide lines instead of wrapped cells
    width = None if sys.stdout.isatty() else 240
    return Console(width=width, emoji=False)


def print_table(df: pd.DataFrame, *, title: str | None = None) -> None:
    """Print *df* as a rich table; numbers right-aligned, text never markup.

    Parameters
    ----------
    df : pandas.DataFrame
        Any values; floats are shown with two decimals and thousands
        separators, missing values as empty cells.
    title : str, optional (default: None)
        Printed above the table (escaped like the cells).
    """
    table = Table(title=escape(title) if title else None, show_lines=False)
    for column in df.columns:
        numeric = pd.api.types.is_numeric_dtype(df[column])
        table.add_column(escape(str(column)), justify="right" if numeric else "left")
    for row in df.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    console().print(table)
