"""Project pieces: the store's polygons split by district, with their areas.

:func:`pieces_from_store` reads the current polygons of a store (as of a
batch or date), adds the stock attributes a delivery may carry
(:func:`add_stock_attrs`) and splits them by district with gross and net
areas (mu, :func:`forestsink.progress.netting.project_pieces`);
:func:`increment_of_pieces` gives each piece its project increment (m³).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestsink.errors import DeliveryError, NoDataError
from forestsink.ingest.stock import STOCK_ATTRS, read_stock_attrs
from forestsink.progress.growth import classify_species, project_increment
from forestsink.progress.netting import project_pieces
from forestsink.reference import (
    read_districts,
    read_forest_types,
    read_project_types,
    read_stock_attr_aliases,
)


def add_stock_attrs(frame):
    """Add ``stock_before_m3``, ``stock_after_m3`` (m³), ``stock_per_ha_m3``.

    Deliveries that measured the same land before and after the work carry
    two extra columns (改造前蓄积 / 改造后蓄积 …), some give the standing stock
    per hectare (HUO_LMGQXJ 公顷蓄积); ingest keeps columns it does not map in
    the ``attrs`` JSON, so no store schema change is needed. The names are in
    ``data/stock_attr_aliases.csv``.
    """
    if "attrs" not in frame.columns or frame.empty:
        return frame.assign(**dict.fromkeys(STOCK_ATTRS, np.nan))
    found, names = read_stock_attrs(frame["attrs"], read_stock_attr_aliases())
    values = found.to_numpy(dtype="float64")
    bad = (np.isinf(values) | (values < 0)).any(axis=1)
    if bad.any():
        # validation refuses these (volume_impossible); a store written before
        # that check may hold them: never a silent "not estimable" or inf t CO₂
        rows = np.flatnonzero(bad)[:5]
        ids = frame["project_id"].to_numpy(dtype=object)[rows]
        what = [
            f"{pid}: "
            + ", ".join(
                f"{names[c][r]} = {found[c].iloc[r]:g}"
                for c in STOCK_ATTRS
                if np.isinf(found[c].iloc[r]) or found[c].iloc[r] < 0
            )
            for pid, r in zip(ids, rows, strict=True)
        ]
        raise DeliveryError(
            f"存储中有不可能的蓄积值 / the store holds impossible volumes "
            f"(negative or infinite) in {int(bad.sum())} polygon(s): "
            f"{'; '.join(what)}. 撤回并重新交付 / withdraw these polygons and "
            "deliver them again with corrected values (validation now refuses "
            "them)."
        )
    return frame.assign(**{c: found[c].to_numpy() for c in STOCK_ATTRS})


def pieces_from_store(store, *, as_of=None, rules=None) -> pd.DataFrame:
    """Split the current polygons of *store* by district, with gross/net areas."""
    frame = add_stock_attrs(current_or_error(store, as_of))
    return project_pieces(frame, read_districts(), types=read_project_types(rules))


def current_or_error(store, as_of):
    """Return the store's current polygons as of *as_of*; refuse none.

    Raises
    ------
    ForestsinkError
        The store holds no project polygons at that batch or date.
    """
    frame = store.current(as_of=as_of)
    if frame.empty:
        when = f"as of {as_of}" if as_of is not None else "now"
        raise NoDataError(
            f"{store.path}: no project polygons {when}. As-of dates are when "
            "batches were entered in the store, not project years; the store's "
            "batches list them (`forestsink batches`)."
        )
    return frame


def increment_of_pieces(pieces, *, types, growth, end_year) -> pd.DataFrame:
    """Project increment of each piece (``growth.project_increment``).

    Returns ``increment_m3``, ``method`` and ``forest_type`` per piece.
    """
    forest_types = read_forest_types()
    ft = classify_species(pieces["species"], forest_types)
    fallback = dict(
        zip(forest_types["forest_type"], forest_types["fallback"], strict=True)
    )
    out = project_increment(
        pieces.reset_index(drop=True),
        types=types,
        forest_type=ft.reset_index(drop=True),
        fallback=fallback,
        growth=growth,
        end_year=end_year,
    )
    out["forest_type"] = ft.to_numpy()
    return out.set_axis(pieces.index)
