"""Which districts each batch touched, in one query on either back end.

A batch touches the districts of the versions it made (``batch_id``) and of
the versions it ended (``ended_batch``); both are columns of the versions
table, so one ``SELECT DISTINCT`` over them answers for every batch at once
(the web's editor batch list needs it; reading the store's states instead
took 7.8 s on a 20,000-polygon store the first time, and was done again
whenever new batches came in).
"""

from __future__ import annotations

from forestsink.store.common import LAYER
from forestsink.store.gpkg import GeoPackageStore

__all__ = ["batch_districts"]


def _sql(table: str, placeholder: str) -> str:
    return (
        f"SELECT DISTINCT b, adcode FROM ("
        f"SELECT batch_id AS b, adcode FROM {table} "
        f"UNION ALL SELECT ended_batch AS b, adcode FROM {table} "
        f"WHERE ended_batch IS NOT NULL) AS t WHERE b > {placeholder}"
    )


def batch_districts(store, *, after: int = 0) -> dict[int, frozenset[str]]:
    """Return ``{batch_id: district codes}`` of the batches after *after*.

    Parameters
    ----------
    store : GeoPackageStore or PostGISStore
        The project store.
    after : int, optional (default: 0, every batch)
        Only batches with a greater number.

    Returns
    -------
    dict
        Batch number → the adcodes (6-digit district codes) of the project
        polygons it added, changed, withdrew or restored. Batches that touched
        no project polygon (inventory layers, an empty delivery) are absent.
    """
    if not store.exists:
        return {}
    if isinstance(store, GeoPackageStore):
        with store._read() as conn:
            rows = conn.execute(_sql(LAYER, "?"), (int(after),)).fetchall()
    else:  # PostGIS
        _, rows = store._query(_sql(store._v, "%s"), (int(after),))
    touched: dict[int, set[str]] = {}
    for batch, code in rows:
        touched.setdefault(int(batch), set()).add(str(code))
    return {b: frozenset(codes) for b, codes in touched.items()}
