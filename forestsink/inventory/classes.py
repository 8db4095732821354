"""Resolve delivered land-class values (DI_LEI, 地类) to the code tables.

Counties write the same class in many ways: ``0111``, ``111`` (a code stored
as a number loses its leading zero), ``111.0``, ``030100``, ``30100``, or the
name ``乔木林地``. Every form resolves to one row of ``data/land_classes.csv``
(:func:`forestsink.reference.read_land_classes`).

Rules, in order (decision, written here and in the README):

1. A name (any text with a CJK character) matches ``name_zh`` exactly,
   preferring the forest-land change survey (``ldbg``) row, then the third
   land survey's (``sandiao``), then the older codes (``legacy``).
2. Digits (a whole number stored as text, integer or float) are read by
   length: 6 digits, or 5 (a 6-digit code that lost its leading zero), are
   ``sandiao`` codes (030100 …); 4 digits beginning ``03`` are ``sandiao``,
   beginning ``0`` are ``ldbg``, beginning ``1`` or ``2`` are ``legacy``;
   1–3 digits are an ``ldbg`` code that lost its leading zero (111 → 0111;
   the 3-digit forms in use, 111/113/120/131/141/150/171, agree with it).
3. A code not in its scheme's table matches a prefix row of that scheme
   (``02`` covers every 02xx code: non-forest land).
4. Anything else is unknown: the caller reports it, naming the feature and
   the value (never guessed).
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd

from forestsink.errors import ReferenceDataError

_SCHEME_ORDER = ("ldbg", "sandiao", "legacy")


def _code_text(value: object) -> str | None:
    """Return the digits of a code value (``111.0`` → ``"111"``), or None."""
    if isinstance(value, bool | np.bool_) or value is None:
        return None
    if isinstance(value, int | np.integer):
        return str(int(value)) if value >= 0 else None
    if isinstance(value, float | np.floating):
        if np.isfinite(value) and float(value).is_integer() and value >= 0:
            return str(int(value))
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text if text.isascii() and text.isdigit() else None


def _scheme_code(digits: str) -> tuple[str, str] | None:
    """Return ``(scheme, full code)`` for a string of digits (rules above)."""
    n = len(digits)
    if n in (5, 6) or (n == 4 and digits.startswith("03")):
        return "sandiao", digits.zfill(6 if n > 4 else 4)
    if 1 <= n <= 3 or (n == 4 and digits.startswith("0")):
        padded = digits.zfill(4)
        return ("sandiao" if padded.startswith("03") else "ldbg"), padded
    if n == 4 and digits[0] in "12":
        return "legacy", digits
    return None


def resolve_land_classes(values, table: pd.DataFrame) -> pd.Series:
    """Row label in *table* of each land-class value; ``<NA>`` when unknown.

    Parameters
    ----------
    values : pandas.Series
        Delivered land-class values (codes as text or numbers, or names).
    table : pandas.DataFrame
        From :func:`forestsink.reference.read_land_classes`.

    Returns
    -------
    pandas.Series
        Same index as *values*: the index label of the matching table row
        (``Int64``), ``<NA>`` for a value that matches nothing.

    Notes
    -----
    Attribute values only: no units, no geometry, no CRS.

    Examples
    --------
    >>> from forestsink.reference import read_land_classes
    >>> table = read_land_classes()
    >>> rows = resolve_land_classes(
    ...     pd.Series(["0111", 111, 113.0, "乔木林地", "030301", 30100, "0210",
    ...                "1130", "9999"]), table)
    >>> table.loc[rows.dropna(), "code"].tolist()
    ['0111', '0111', '0113', '0111', '030301', '030100', '02', '1130']
    >>> int(rows.isna().sum())
    1
    """
    by_code = {
        (s, c): i
        for i, s, c in zip(table.index, table["scheme"], table["code"], strict=True)
    }
    prefixes = sorted(
        ((s, c, i) for (s, c), i in by_code.items() if len(c) <= 2),
        key=lambda item: -len(item[1]),
    )
    by_name: dict[str, int] = {}
    for scheme in reversed(_SCHEME_ORDER):  # the preferred scheme written last
        rows = table[table["scheme"] == scheme]
        by_name.update(zip(rows["name_zh"].str.strip(), rows.index, strict=True))

    def one(value: object) -> int | None:
        digits = _code_text(value)
        if digits is None:
            text = unicodedata.normalize("NFKC", str(value)).strip()
            return by_name.get(text)
        found = _scheme_code(digits)
        if found is None:
            return None
        if found in by_code:
            return by_code[found]
        scheme, code = found
        for s, prefix, i in prefixes:
            if s == scheme and code.startswith(prefix):
                return i
        return None

    uniques = pd.unique(values.dropna().to_numpy(dtype=object))
    mapping = {u: one(u) for u in uniques}
    labels = values.astype(object).map(mapping)
    return labels.astype("Int64")


def land_columns(labels: pd.Series, table: pd.DataFrame) -> pd.DataFrame:
    """Return the stored land-class columns of resolved values.

    Parameters
    ----------
    labels : pandas.Series
        Row labels from :func:`resolve_land_classes` (``<NA>``: unknown).
    table : pandas.DataFrame
        :func:`forestsink.reference.read_land_classes`.

    Returns
    -------
    pandas.DataFrame
        Same index: ``land_scheme``, ``land_code``, ``land_group`` (text,
        ``<NA>`` where unknown), ``is_forest``, ``is_forest_land`` (0/1).
    """
    ok = labels.notna().to_numpy()
    rows = table.reindex(labels.fillna(-1).astype(int).to_numpy())

    def text(column: str):
        return pd.array(np.where(ok, rows[column].to_numpy(), None), dtype="string")

    def flag(column: str):
        return np.where(ok, rows[column].fillna(False), False).astype("int64")

    return pd.DataFrame(
        {
            "land_scheme": text("scheme"),
            "land_code": text("code"),
            "land_group": text("land_group"),
            "is_forest": flag("counts_as_forest"),
            "is_forest_land": flag("forest_land"),
        },
        index=labels.index,
    )


def forest_groups(table: pd.DataFrame) -> tuple[frozenset[str], frozenset[str]]:
    """Land groups counted as forest, and those that are forest land.

    Every code of a group agrees (checked): ``arbor``, ``bamboo`` and
    ``special_shrub`` are forest in every scheme; every group but
    ``non_forest`` is forest land.

    Raises
    ------
    ReferenceDataError
        If one group mixes codes that count as forest and codes that do not.
    """
    forest, land = set(), set()
    for group, rows in table.groupby("land_group"):
        for column, found in (("counts_as_forest", forest), ("forest_land", land)):
            values = set(rows[column].astype(bool))
            if len(values) > 1:
                raise ReferenceDataError(
                    f"land_classes.csv: land group {group!r} mixes codes with "
                    f"{column} true and false; a group must be one or the other."
                )
            if values == {True}:
                found.add(group)
    return frozenset(forest), frozenset(land)
