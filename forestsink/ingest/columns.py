"""Map delivered column names onto the canonical schema via the alias table.

The alias table (``data/column_aliases.csv``) lists, for each canonical
column, the names deliveries use. Matching, in order:

1. exact match after normalisation (NFKC, case-folded, whitespace removed,
   full-width brackets made ASCII);
2. a truncated name: DBF limits field names to 10 bytes, so GBK Chinese names
   are cut (``蓄积量(m3)`` may arrive as ``蓄积量(m``); a column matches an
   alias that starts with it, if it is at least 2 characters long and only
   one canonical column claims it. GDAL's ``_1`` suffixes on duplicates are
   ignored.

Required columns: ``project_id``, ``district`` and ``year`` (the last two may
instead be given for the whole file with ``--district`` / ``--year``),
``project_type``. Everything not recognised is kept as an extra attribute.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from forestsink.errors import DeliveryError

CANONICAL = (
    "project_id",
    "district",
    "year",
    "project_type",
    "programme",
    "area_mu",
    "area_ha",
    "area_m2",
    "area_unknown",
    "species",
    "stock_volume_m3",
)
REQUIRED = ("project_id", "district", "year", "project_type")


def normalise_column(name: str) -> str:
    """Normalise a column name for matching.

    Examples
    --------
    >>> normalise_column(" 面积（亩） ")
    '面积(亩)'
    >>> normalise_column("ZLND_1")
    'zlnd'
    """
    text = unicodedata.normalize("NFKC", str(name)).strip().casefold()
    text = re.sub(r"\s+", "", text)
    return re.sub(r"_\d+$", "", text)


@functools.cache
def _alias_table(path: Path) -> pd.DataFrame:
    from forestsink.reference import _read_csv

    df = _read_csv(path)
    bad = ~df["canonical"].isin(CANONICAL)
    if bad.any():
        row = int(bad.idxmax())
        raise DeliveryError(
            f"{path}: row {row + 2}: unknown canonical column "
            f"{df['canonical'].iloc[row]!r}; use one of {list(CANONICAL)}."
        )
    df["key"] = df["alias"].map(normalise_column)
    return df


def read_column_aliases(path: str | Path | None = None) -> pd.DataFrame:
    """Return the column alias table (``canonical``, ``alias``, ``note``, ``key``)."""
    from forestsink.reference import data_dir

    return _alias_table(Path(path) if path else data_dir() / "column_aliases.csv")


#: id of an alias table -> (the table, its exact lookup, its (key, canonical)
#: pairs); the shipped table is one object, matched for every file
_LOOKUPS: dict[int, tuple] = {}


def _lookup(table: pd.DataFrame) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Return the alias table as a dict (normalised name -> canonical) and pairs."""
    kept = _LOOKUPS.get(id(table))
    if kept is not None and kept[0] is table:
        return kept[1], kept[2]
    pairs = list(zip(table["key"], table["canonical"], strict=True))
    if len(_LOOKUPS) > 16:
        _LOOKUPS.clear()
    _LOOKUPS[id(table)] = (table, dict(pairs), pairs)
    return dict(pairs), pairs


@dataclass
class ColumnMapping:
    """Result of matching a delivery's columns.

    Attributes
    ----------
    mapping : dict
        canonical name -> column name in the file.
    extra : list
        Columns kept as extra attributes.
    notes : list
        Human-readable notes (truncated names matched, ...).
    """

    mapping: dict[str, str] = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def map_columns(
    columns: list[str],
    *,
    source: str = "",
    given: tuple[str, ...] = (),
    aliases: pd.DataFrame | None = None,
) -> ColumnMapping:
    """Match *columns* to canonical names.

    Parameters
    ----------
    columns : list of str
        Column names as read (geometry excluded).
    source : str, optional (default: "")
        File name for messages.
    given : tuple of str, optional (default: ())
        Canonical columns supplied otherwise (``--year``, ``--district``).
    aliases : DataFrame, optional (default: the shipped table)

    Raises
    ------
    DeliveryError
        If a required column is missing or a column is ambiguous; the
        message lists the columns found and the names accepted.
    """
    table = read_column_aliases() if aliases is None else aliases
    exact, pairs = _lookup(table)
    result = ColumnMapping()
    for column in columns:
        key = normalise_column(column)
        canonical = exact.get(key)
        how = "exact"
        if canonical is None and len(key) >= 2:
            claims = {c for k, c in pairs if k.startswith(key)}
            if len(claims) == 1:
                canonical, how = claims.pop(), "truncated"
        if canonical is None:
            result.extra.append(column)
            continue
        if canonical in result.mapping:
            other = result.mapping[canonical]
            raise DeliveryError(
                f"{source}: columns {other!r} and {column!r} both mean "
                f"'{canonical}'. Rename or drop one of them and deliver again."
            )
        result.mapping[canonical] = column
        if how == "truncated":
            result.notes.append(
                f"column {column!r} read as '{canonical}' (a truncated field name)"
            )
    missing = [c for c in REQUIRED if c not in result.mapping and c not in given]
    if missing:
        accepted = {
            c: sorted(table.loc[table["canonical"] == c, "alias"])[:12] for c in missing
        }
        lines = "; ".join(f"{c}: {', '.join(a)}" for c, a in accepted.items())
        hint = []
        if "year" in missing:
            hint.append("--year Y")
        if "district" in missing:
            hint.append("--district NAME")
        extra_hint = f" (or give {' / '.join(hint)} for the whole file)" if hint else ""
        raise DeliveryError(
            f"{source}: required column(s) {missing} not found. Columns in the "
            f"file: {list(columns)}. Accepted names — {lines}. Rename the "
            f"column{extra_hint}, or add the name to column_aliases.csv."
        )
    return result
