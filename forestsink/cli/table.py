"""Print DataFrames as terminal tables (rich)."""

from __future__ import annotations

import pandas as pd


def print_table(df: pd.DataFrame, *, title: str | None = None) -> None:
    """Print *df* as a rich table; numbers right-aligned."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for column in df.columns:
        numeric = pd.api.types.is_numeric_dtype(df[column])
        table.add_column(str(column), justify="right" if numeric else "left")
    for row in df.itertuples(index=False):
        table.add_row(
            *(
                "" if pd.isna(v) else f"{v:,.2f}" if isinstance(v, float) else str(v)
                for v in row
            )
        )
    import sys

    # piped output (scripts, CI logs) gets wide lines instead of wrapped cells
    console = Console() if sys.stdout.isatty() else Console(width=240)
    console.print(table)
