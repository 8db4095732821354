"""Before/after volumes and per-hectare stock carried in a delivery's extra columns.

A delivery's columns that no canonical column took are kept in the store's
``attrs`` JSON; the volumes a county measured before and after the work
(m³) and the standing stock per hectare (m³/ha) are found there by their
delivered names (``data/stock_attr_aliases.csv``). Validation checks them,
the project increment uses them: one lookup for both.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd

from forestsink.ingest.columns import could_be_truncated, normalise_column

#: Volumes read from the ``attrs`` JSON (:func:`stock_attr_columns`).
STOCK_ATTRS = ("stock_before_m3", "stock_after_m3", "stock_per_ha_m3")


def stock_attr_lookup(aliases: pd.DataFrame):
    """Return ``name -> canonical`` (or None) for the delivered attribute names.

    The one alias lookup of :data:`STOCK_ATTRS`, shared by
    :func:`stock_attr_columns` (figures) and the validation of the same
    values (:func:`forestsink.validate.validate_delivery`). A name matches
    exactly after :func:`~forestsink.ingest.columns.normalise_column`, or as
    a field name the .dbf format cut at 10 bytes: in UTF-8 ``改造前蓄积``
    (15 bytes) arrives as ``改造前``. The cut rule is the column aliases' one
    (:func:`~forestsink.ingest.columns.could_be_truncated`: ten ASCII
    characters or at least 8 bytes of multi-byte text, and every alias the
    name begins belongs to one canonical column). ``attrs`` does not record
    the format, so the rule applies to every delivery; a whole name that
    happens to be such a prefix is read the same way.
    """
    pairs = [
        (normalise_column(a), c)
        for c, a in zip(aliases["canonical"], aliases["alias"], strict=True)
    ]
    exact = dict(pairs)

    @functools.lru_cache(maxsize=4096)
    def find(name: str) -> str | None:
        key = normalise_column(name)
        if key in exact:
            return exact[key]
        if not could_be_truncated(key):
            return None
        claims = {c for k, c in pairs if k.startswith(key)}
        return next(iter(claims)) if len(claims) == 1 else None

    return find


def read_stock_attrs(
    attrs: pd.Series, aliases: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """:func:`stock_attr_columns` and, per canonical, the delivered name per row."""
    find = stock_attr_lookup(aliases)
    values = {name: np.full(len(attrs), np.nan) for name in STOCK_ATTRS}
    names = {name: np.full(len(attrs), None, dtype=object) for name in STOCK_ATTRS}
    for i, text in enumerate(attrs.tolist()):
        if not isinstance(text, str) or len(text) < 3:
            continue
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        for name, value in record.items():
            which = find(str(name))
            if which is None:
                continue
            try:
                number = float(value)
            except (TypeError, ValueError, OverflowError):
                continue
            values[which][i] = number
            names[which][i] = str(name)
    return pd.DataFrame(values, index=attrs.index), names


def stock_attr_columns(attrs: pd.Series, aliases: pd.DataFrame) -> pd.DataFrame:
    """Before/after volumes and per-hectare stock from the extra attributes.

    Parameters
    ----------
    attrs : Series
        The store's ``attrs`` column: a JSON object of the delivered columns
        no canonical column took, per polygon.
    aliases : DataFrame
        ``canonical`` (one of :data:`STOCK_ATTRS`) and ``alias`` (a delivered
        column name), from ``data/stock_attr_aliases.csv``; names cut by the
        .dbf format match too (:func:`stock_attr_lookup`).

    Returns
    -------
    pandas.DataFrame
        ``stock_before_m3`` and ``stock_after_m3`` (m³, the polygon's volume
        before and after the work) and ``stock_per_ha_m3`` (standing stock,
        m³/ha); NaN where not delivered or not a number (±inf is kept: it is
        refused at validation, and the project increment does not turn it
        into "not estimable"); on *attrs*' index.
    """
    return read_stock_attrs(attrs, aliases)[0]
