"""Numbers as delivered: parsed, converted to mu, and the unreadable named."""

from __future__ import annotations

import json
import math
import re
import unicodedata

import numpy as np
import pandas as pd

from forestsink.area import geographic_area_m2
from forestsink.ingest.values import AREA_FACTORS_TO_MU, infer_area_unit
from forestsink.units import M2_PER_MU


def reported_area(
    values: dict, m: dict[str, str], notes: list[str], geoms, unread: dict
):
    """Return reported areas in mu (NaN where not given).

    Cells that are not numbers go to *unread* (see :func:`unread_numbers`).
    """
    for canonical, unit in (("area_mu", "mu"), ("area_ha", "ha"), ("area_m2", "m2")):
        if canonical in values:
            if unit != "mu":
                notes.append(
                    f"area column {m[canonical]!r} is in {unit}; converted to mu"
                )
            bad = unread.setdefault(("area", m[canonical]), [])
            return parse_numbers(values[canonical], bad) * AREA_FACTORS_TO_MU[unit]
    if "area_unknown" in values:
        column = m["area_unknown"]
        reported = parse_numbers(
            values["area_unknown"], unread.setdefault(("area", column), [])
        )
        unit, ratio = infer_area_unit(reported, geographic_area_m2(geoms) / M2_PER_MU)
        notes.append(
            f"area column {column!r} has no unit in its name; its values match "
            f"the geometry in {unit} (median ratio {ratio:.3f}), so read as {unit}"
        )
        return reported * AREA_FACTORS_TO_MU[unit]
    notes.append("no reported area column; areas come from the geometry only")
    return np.full(len(geoms), np.nan)


def unread_numbers(unread: dict[tuple[str, str], list], n: int):
    """Per row, the number cells that could not be read, as JSON (else <NA>).

    *unread* maps (field, column as delivered) to ``(position, value)``
    pairs; each row holding any gets a JSON list of ``[field, column,
    value]``, reported by :func:`forestsink.validate.validate_delivery` as
    ``not_a_number`` errors.
    """
    rows: dict[int, list] = {}
    for (name, column), cells in unread.items():
        for i, value in cells:
            rows.setdefault(int(i), []).append([name, column, str(value)])
    out = np.full(n, None, dtype=object)
    for i, cells in rows.items():
        out[i] = json.dumps(cells, ensure_ascii=False)
    return pd.array(out, dtype="string")


#: full-width forms (U+FF01-FF5E: digits, point, comma, minus) and the
#: ideographic space, as NFKC reads them; other compatibility characters are
#: left alone (NFKC would read "10²" as 102)
_FULL_WIDTH = {
    **{c: unicodedata.normalize("NFKC", chr(c)) for c in range(0xFF01, 0xFF5F)},
    0x3000: " ",
}
#: a thousands separator, unambiguous only in this form: 1,000 / -12,345.6
_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?", re.ASCII)
#: text that pandas reads as "no value" (kept empty, not reported)
_NO_VALUE = frozenset(
    {"nan", "na", "n/a", "#n/a", "<na>", "null", "none", "-nan", "1.#qnan"}
)
#: what a clerk is told to do with a value that is not a number
NUMBER_ACTION = (
    "写成纯数字，如 1000 或 254.6；单位写在列名中 / write a plain number, e.g. "
    "1000 or 254.6; the unit belongs in the column name"
)


def _plain_number_text(value: object) -> str | None:
    """Return the unambiguous plain form of a delivered number text, or None.

    Full-width digits and point (``１０００``, ``２５４．６``) read as their
    ASCII forms; a ``,`` only as a thousands separator (``1,000``,
    ``12,345.6``, not ``1,00`` or ``1.000,5``).
    """
    if not isinstance(value, str):
        return None
    text = value.translate(_FULL_WIDTH).strip()
    if _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    return text


def parse_numbers(values: np.ndarray, bad: list | None = None) -> np.ndarray:
    """Numbers of a column (text parsed); NaN where missing or not a number.

    The column's own number type is kept (integers, float32, booleans), as
    :func:`pandas.to_numeric` gives it: the stored values and their content
    hashes are those of earlier versions. Text that is unambiguously a
    number in another form (full-width digits, a thousands separator: see
    :func:`_plain_number_text`) reads as that number; any other non-empty
    cell that is not a number is NaN and, when *bad* is given, appended to
    it as ``(position, value)``. Work is per distinct value that failed to
    parse, not per row.
    """
    numbers = np.asarray(pd.to_numeric(values, errors="coerce"))
    if values.dtype != object or numbers.dtype.kind != "f":
        return numbers
    failed = np.flatnonzero(np.isnan(numbers))
    if not len(failed):
        return numbers
    cells = values[failed]
    try:
        codes, uniques = pd.factorize(cells, use_na_sentinel=True)
        uniques = list(uniques)
    except TypeError:  # unhashable values (lists from GeoJSON)
        codes, uniques = np.arange(len(cells)), list(cells)
    plain = [_plain_number_text(u) for u in uniques]
    parsed = np.asarray(
        pd.to_numeric(np.array(plain, dtype=object), errors="coerce"), dtype="float64"
    )
    fixed, wrong = [], []
    for k, (value, text) in enumerate(zip(uniques, plain, strict=True)):
        if value is None or value is pd.NA or value is pd.NaT:
            continue
        if isinstance(value, float) and math.isnan(value):
            continue
        if not np.isnan(parsed[k]):
            fixed.append(k)
        elif text is None or (text and text.casefold() not in _NO_VALUE):
            wrong.append(k)  # (None: a list, dict, ... not text)
    codes = np.asarray(codes)
    if bad is not None:
        for k in wrong:
            for i in failed[codes == k].tolist():
                bad.append((i, uniques[k]))
    if not fixed:
        return numbers
    # read again as the plain text, so that the number type is that of a
    # file that wrote the plain form ("1000" stays an integer)
    again = values.copy()
    again[failed] = None
    hit = np.isin(codes, fixed)
    again[failed[hit]] = np.array(plain, dtype=object)[codes[hit]]
    return np.asarray(pd.to_numeric(again, errors="coerce"))
