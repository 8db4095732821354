"""Columns of one meaning merged, project ids, and the unmapped attributes.

A delivery may give one meaning in several columns (a district code and
name, two area columns): :func:`coalesce` merges them and notes rows where
they disagree. :func:`project_ids` builds each row's id; :func:`extra_attrs`
keeps the columns no canonical name took, as JSON.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from forestsink.ingest.raw import RawTable
from forestsink.ingest.values import clean_ids, map_project_types, parse_year
from forestsink.reference import map_uniques


def programme_words(vocab) -> tuple[str, ...]:
    """Programme words and names of the vocabulary (codes left out)."""
    words = {*vocab.programme_words, *vocab.programme_words.values()}
    return tuple(sorted(w for w in words if w and not str(w).isdigit()))


def _empty(values: np.ndarray) -> np.ndarray:
    """Cells without a value: missing, NaN or blank text."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind in "iub":
        return np.zeros(len(values), dtype=bool)
    return np.fromiter(
        (
            v is None
            or v is pd.NA
            or (isinstance(v, float) and math.isnan(v))
            or (isinstance(v, str) and not v.strip())
            for v in values
        ),
        bool,
        len(values),
    )


#: canonical columns compared as numbers where two columns give them
_NUMERIC = ("area_mu", "area_ha", "area_m2", "area_unknown", "stock_volume_m3")


def _agreement_key(canonical: str, vocab):
    """Return how two cells of *canonical* are compared (per distinct value)."""

    def plain(v) -> str:
        return str(v).strip()

    if canonical == "district":
        return lambda v: vocab.districts.lookup(v) or plain(v)
    if canonical == "year":
        return lambda v: parse_year(v) or plain(v)
    if canonical == "project_type":

        def kind(v):
            found = map_project_types(
                [v], words=vocab.type_words, programmes=programme_words(vocab)
            ).iloc[0]
            return plain(v) if pd.isna(found) else found

        return kind
    if canonical in _NUMERIC:
        return lambda v: round(float(v), 6) if _is_number(v) else plain(v)
    return lambda v: clean_ids([v]).iloc[0] if plain(v) else ""


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _same_species(a: str, b: str) -> bool:
    """Loose agreement of two species texts: equal, or a shared Chinese word.

    A composition (``7杉3马``) and a dominant species (``杉木``) agree when
    they share a character of a species name.
    """
    if a == b:
        return True
    cjk = {ch for ch in a if "\u4e00" <= ch <= "\u9fff"}
    return bool(cjk & {ch for ch in b if "\u4e00" <= ch <= "\u9fff"})


def coalesce(canonical, arrays, names, conflicts, vocab) -> np.ndarray:
    """Merge columns of one meaning: the first gives, the others fill gaps.

    Rows where two are filled and differ (after reading both: a district
    code and name are compared as adcodes, years as years, types as types,
    numbers as numbers, species loosely) get a note in *conflicts*.
    """
    out = np.array(arrays[0], dtype=object)
    origin = np.full(len(out), names[0], dtype=object)  # which column gave it
    empty = _empty(arrays[0])
    key = _agreement_key(canonical, vocab)
    for other, name in zip(arrays[1:], names[1:], strict=True):
        other = np.asarray(other, dtype=object)  # noqa: PLW2901
        other_empty = _empty(other)
        both = np.flatnonzero(~empty & ~other_empty)
        if len(both):
            mine = map_uniques(out[both], lambda v: str(key(v)), "object")
            theirs = map_uniques(other[both], lambda v: str(key(v)), "object")
            for i, a, b in zip(both, mine, theirs, strict=True):
                same = _same_species(a, b) if canonical == "species" else a == b
                if not same:
                    conflicts[i].append(
                        f"{origin[i]}={str(out[i])!r} vs {name}={str(other[i])!r}"
                    )
        fill = empty & ~other_empty
        out[fill] = other[fill]
        origin[fill] = name
        empty &= other_empty
    return out


def project_ids(values: dict, m: dict, notes: list[str]) -> pd.Series:
    """Return the project id row by row: polygon id, 小班 key, project code."""
    n = len(next(iter(values.values()))) if values else 0
    ids = clean_ids(values["project_id"]) if "project_id" in values else None
    if "xiaoban" in values:
        key = clean_ids(values["xiaoban"])
        parts = [c for c in ("township", "compartment") if c in values]
        if parts:
            for part in reversed(parts):
                prefix = clean_ids(values[part])
                key = key.where(prefix.isna() | key.isna(), prefix + "-" + key)
            named = "-".join(m[c] for c in (*parts, "xiaoban"))
            if key.notna().any():
                notes.append(
                    f"project id = {named} (小班 number within its 林班 / township: "
                    "a 小班 number is unique only there)"
                )
            else:
                notes.append(f"{m['xiaoban']!r} (小班) is empty in every row")
        ids = key if ids is None else ids.fillna(key)
    if "project_code" in values:
        code = clean_ids(values["project_code"])
        if ids is None:
            notes.append(
                f"project id = project code {m['project_code']!r} (no polygon id "
                "or 小班 number in the file; polygons sharing a code are refused "
                "as duplicates)"
            )
        ids = code if ids is None else ids.fillna(code)
    return ids if ids is not None else pd.Series(pd.array([None] * n, dtype="string"))


def _json_values(values: np.ndarray) -> list:
    """Return a column's values as JSON-ready objects, ``None`` where missing."""
    if values.dtype.kind == "f":
        return [None if math.isnan(v) else v for v in values.tolist()]
    return [None if v is None or v is pd.NaT else v for v in values.tolist()]


def extra_attrs(raw: RawTable, names: list[str]) -> pd.Series:
    """Unmapped columns of each feature as a JSON object (sorted keys)."""
    if not names:
        return pd.Series(pd.array(["{}"] * len(raw), dtype="string"))
    columns = [_json_values(raw.columns[c]) for c in names]
    return pd.Series(
        pd.array(
            [
                json.dumps(
                    dict(zip(names, row, strict=True)),
                    ensure_ascii=False,
                    default=str,
                    sort_keys=True,
                )
                for row in zip(*columns, strict=True)
            ],
            dtype="string",
        )
    )
