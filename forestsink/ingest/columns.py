"""Map delivered column names onto the canonical schema via the alias table.

The alias table (``data/column_aliases.csv``, and a user's own aliases file
merged over it: :func:`forestsink.reference.read_user_vocabulary`) lists, for
each canonical column, the names deliveries use, **in priority order**.

Matching, in order:

1. exact match after normalisation (NFKC, case-folded, whitespace removed,
   full-width brackets made ASCII);
2. a truncated name, only where names can be truncated (Shapefiles: DBF cuts
   field names at 10 bytes, so ``小班面积`` may arrive as ``小班面``): a
   column matches the aliases it is a prefix of when it is long enough to
   be such a cut (:func:`could_be_truncated`: ten ASCII characters, or at
   least 8 bytes of multi-byte text) and every alias it begins belongs to one
   canonical column. ``ZL``, ``XM``, ``JH`` or ``HS`` are never read as
   anything. GDAL's ``_1`` suffixes on duplicates are ignored.

Two columns with one meaning (``区县代码`` and ``县名``, ``YOU_SHI_SZ`` and
``SZ_ZC``) are both kept: the one listed first in the table gives the value,
the other fills its empty cells, and rows where both are filled and differ
are reported (``read.py``). The choice is one of the notes printed.

The project id is, row by row: a polygon id column (``project_id``,
``图斑编号``, ``编号`` …); else the 小班 number, prefixed by its 林班 and
township where the file has them (``XIANG-LIN_BAN-XIAO_BAN``: a 小班 number is
unique only within its 林班); else the project code (``XMBH``, which several
polygons may share).

Required: an id (any of the three), ``district`` and ``year`` (the last two,
and ``project_type``, may instead be given for the whole file with
``--district`` / ``--year`` / ``--type``), ``project_type``. Names listed as
``extra`` are known and deliberately kept as attributes (``SPMJ`` approved
area, ``HUO_LMGQXJ`` volume per ha …). Everything not recognised is kept as
an extra attribute too.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from forestsink.errors import DeliveryError, ReferenceDataError
from forestsink.reference import data_dir, read_reference_csv

CANONICAL = (
    "project_id",
    "xiaoban",
    "compartment",
    "township",
    "project_code",
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
    "extra",
)
REQUIRED = ("project_id", "district", "year", "project_type")
#: canonical columns of a forest-resource layer (一张图); a delivery reads
#: the inventory-only ones (DI_LEI, HUO_LMGQXJ …) as extra attributes, and a
#: layer reads the delivery-only ones (project type, year …) as extra
INVENTORY_CANONICAL = (
    "district",
    "township",
    "village",
    "compartment",
    "xiaoban",
    "sub_xiaoban",
    "area_mu",
    "area_ha",
    "area_m2",
    "area_unknown",
    "land_class",
    "land_class_before",
    "species",
    "origin",
    "age_group",
    "canopy",
    "volume_m3_ha",
    "stock_volume_m3",
    "change_reason",
    "forest_category",
    "extra",
)
INVENTORY_REQUIRED = ("district", "xiaoban", "land_class")
#: every canonical column an alias may name
ALL_CANONICAL = tuple(dict.fromkeys(CANONICAL + INVENTORY_CANONICAL))
#: columns any of which gives a project id (in this order, row by row)
ID_SOURCES = ("project_id", "xiaoban", "project_code")
#: longest name a .dbf keeps (bytes); a cut one keeps at least this many
DBF_NAME_BYTES = 10
#: names too generic to stand for a column the user gives for the whole file
GENERIC = frozenset({"name"})
MIN_CUT_BYTES = 8


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
    df = read_reference_csv(path)
    bad = ~df["canonical"].isin(ALL_CANONICAL)
    if bad.any():
        row = int(bad.idxmax())
        raise ReferenceDataError(
            f"{path}: 第{row + 2}行 row {row + 2}, column 'canonical': unknown "
            f"canonical column {df['canonical'].iloc[row]!r}; use one of "
            f"{list(ALL_CANONICAL)}."
        )
    df["key"] = df["alias"].map(normalise_column)
    return df


def could_be_truncated(name: str) -> bool:
    """Tell whether *name* may be a field name the .dbf format cut short.

    DBF keeps 10 bytes of a name: a cut ASCII name is exactly 10 characters;
    a cut multi-byte name drops at most the 2 bytes of a character split at
    the limit, so it keeps at least 8 bytes (UTF-8 or GBK, whichever the
    file used).

    Examples
    --------
    >>> could_be_truncated("ZL"), could_be_truncated("HUO_LMGQXJ")
    (False, True)
    >>> could_be_truncated("小班面")  # 小班面积 cut at 10 bytes of UTF-8
    True
    """
    if name.isascii():
        return len(name) == DBF_NAME_BYTES
    longest = max(len(name.encode("utf-8")), len(name.encode("gb18030", "replace")))
    return longest >= MIN_CUT_BYTES


def read_column_aliases(path: str | Path | None = None) -> pd.DataFrame:
    """Return the column alias table (``canonical``, ``alias``, ``note``, ``key``)."""
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
        canonical name -> column name in the file (the one that wins).
    alternates : dict
        canonical name -> every column with that meaning, winner first
        (only where the file has more than one).
    extra : list
        Columns kept as extra attributes.
    notes : list
        Human-readable notes (truncated names matched, which of two columns
        was chosen, ...).
    """

    mapping: dict[str, str] = field(default_factory=dict)
    alternates: dict[str, list[str]] = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def has_id(self) -> bool:
        """True when some column gives a project id."""
        return any(c in self.mapping for c in ID_SOURCES)


def map_columns(
    columns: list[str],
    *,
    source: str = "",
    given: tuple[str, ...] = (),
    aliases: pd.DataFrame | None = None,
    truncated_names: bool = True,
    aliases_hint: str = "",
    canonical: tuple[str, ...] = CANONICAL,
    required: tuple[str, ...] = REQUIRED,
) -> ColumnMapping:
    """Match *columns* to canonical names.

    Parameters
    ----------
    columns : list of str
        Column names as read (geometry excluded).
    source : str, optional (default: "")
        File name for messages.
    given : tuple of str, optional (default: ())
        Canonical columns supplied otherwise (``--year``, ``--district``,
        ``--type``).
    aliases : DataFrame, optional (default: the shipped table)
        Alias table in priority order (a user's file merged over the
        shipped one: :func:`forestsink.reference.column_alias_table`).
    truncated_names : bool, optional (default: True)
        Whether names may have been cut (Shapefiles); False for GeoPackage
        and GeoJSON, whose names are whole.
    aliases_hint : str, optional (default: "")
        Where the user's aliases file is, for the message.
    canonical : tuple of str, optional (default: :data:`CANONICAL`)
        The canonical columns this reader uses; a column whose alias names
        another canonical column is kept as an extra attribute
        (:data:`INVENTORY_CANONICAL` for forest-resource layers).
    required : tuple of str, optional (default: :data:`REQUIRED`)
        Canonical columns that must be found or given.

    Raises
    ------
    DeliveryError
        If a required column is missing; the message lists the columns
        found and the names accepted.
    """
    table = read_column_aliases() if aliases is None else aliases
    exact, pairs = _lookup(table)
    rank = {key: k for k, (key, _) in reversed(list(enumerate(pairs)))}
    found: dict[str, list[tuple[int, str]]] = {}
    result = ColumnMapping()
    wanted = frozenset(canonical)
    for column in columns:
        key = normalise_column(column)
        canonical = exact.get(key)
        order = rank.get(key, 0)
        how = "exact"
        if canonical is None and truncated_names and could_be_truncated(key):
            claims = {(c, k) for k, c in pairs if k.startswith(key)}
            if len({c for c, _ in claims}) == 1:
                canonical = next(iter(claims))[0]
                order = min(rank[k] for _, k in claims)
                how = "truncated"
        if canonical is None or canonical == "extra" or canonical not in wanted:
            result.extra.append(column)
            continue
        found.setdefault(canonical, []).append((order, column))
        if how == "truncated":
            result.notes.append(
                f"column {column!r} read as '{canonical}' (a truncated field name)"
            )
    for canonical, hits in found.items():
        ranked = [column for _, column in sorted(hits)]
        if canonical in given and all(normalise_column(c) in GENERIC for c in ranked):
            # a bare "name" is a district's name in boundary layers, but most
            # likely a project's name in a file whose district the user gives
            result.extra.extend(ranked)
            result.notes.append(
                f"column {ranked[0]!r} not read as '{canonical}': a generic name, "
                f"and '{canonical}' is given for the whole file"
            )
            continue
        result.mapping[canonical] = ranked[0]
        if len(ranked) > 1:
            result.alternates[canonical] = ranked
            rest = ", ".join(repr(c) for c in ranked[1:])
            result.notes.append(
                f"两列同义，取 {ranked[0]!r} / columns {ranked[0]!r} and {rest} "
                f"all give '{canonical}': {ranked[0]!r} is used (listed first in "
                f"the alias table), {rest} fills its empty cells; rows where they "
                "disagree are warned"
            )
    present = set(result.mapping) | set(given)
    if result.has_id and "project_id" in wanted:
        present.add("project_id")
    missing = [c for c in required if c not in present]
    if missing:
        accepted = {
            c: list(table.loc[table["canonical"].isin(_sources(c)), "alias"])[:14]
            for c in missing
        }
        lines = "; ".join(f"{c}: {', '.join(a)}" for c, a in accepted.items())
        whole = [c for c in ("year", "district", "project_type") if c in missing]
        hint = " / ".join(f"{c}={_WHOLE_FILE[c]}" for c in whole)
        extra_hint = f" (or give {hint} for the whole file)" if hint else ""
        where = aliases_hint or "your aliases file (aliases=[FILE])"
        raise DeliveryError(
            f"{source}: 缺少必需的列 / required column(s) {missing} not found. "
            f"Columns in the file: {list(columns)}. Accepted names — {lines}. "
            f"Rename the column{extra_hint}, or add a row "
            f"'column,<name in the file>,<canonical>' to {where}.",
            option=(*whole, "aliases"),
        )
    return result


#: parameters giving a required column for the whole file, and their value
_WHOLE_FILE = {"year": "Y", "district": "NAME", "project_type": "TYPE"}


def _sources(canonical: str) -> tuple[str, ...]:
    """Canonical columns that can give *canonical* (an id has three)."""
    return ID_SOURCES if canonical == "project_id" else (canonical,)
