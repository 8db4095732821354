"""Print DataFrames as terminal tables (rich), and delivered text safely.

Every value printed here may come from a delivery (project ids, file names,
withdrawal reasons, user names), so none of it is read as Rich markup or
emoji codes: ``[/x]`` or ``[bold red]BOOM.gpkg`` are printed as they are
written (escaped with :func:`rich.markup.escape`), and ``:cn:`` stays text.
All Rich output of the CLI goes through :func:`print_table`. Terminal control
characters (ESC sequences that clear the screen or forge colours, a CR that
overwrites the line) are shown as visible escapes (:func:`visible`), in
tables and in the plain lines commands print with ``click.echo``.
"""

from __future__ import annotations

import re
import sys

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

#: Control characters a terminal acts on (all C0 but TAB and LF, DEL, C1).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text) -> str:
    r"""Return *text* with terminal control characters as visible escapes.

    Examples
    --------
    >>> visible("P1\x1b[2J\r")
    'P1\\x1b[2J\\x0d'
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _cell(value) -> str:
    """Return the printed text of one cell, with Rich markup escaped."""
    if value is None or (not isinstance(value, (list, tuple, dict)) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return escape(visible(value))


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
    table = Table(title=escape(visible(title)) if title else None, show_lines=False)
    for column in df.columns:
        numeric = pd.api.types.is_numeric_dtype(df[column])
        table.add_column(
            escape(visible(column)), justify="right" if numeric else "left"
        )
    for row in df.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    console().print(table)
