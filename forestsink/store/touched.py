"""What changed in a store, each in one query on either back end.

:func:`batch_state` gives the batch count and the last batch (the web's
progress tables are current when computed at the state the store has now;
reading the whole batch table for it, on every progress request, grew with
the store). :func:`batch_districts` gives the districts each batch touched.

A batch touches the districts of the versions it made (``batch_id``) and of
the versions it ended (``ended_batch``); both are columns of the versions
table, so one ``SELECT DISTINCT`` over them answers for every batch at once
(the web's editor batch list needs it; reading the store's states instead
took 7.8 s on a 20,000-polygon store the first time, and was done again
whenever new batches came in).
"""

from __future__ import annotations

from forestsink.store.common import BATCHES, LAYER
from forestsink.store.gpkg import GeoPackageStore
from forestsink.store.pgcodec import ts_text

__all__ = ["batch_districts", "batch_state"]


def batch_state(store) -> dict | None:
    """Return the store's batch count and its last batch's number and time.

    Parameters
    ----------
    store : GeoPackageStore or PostGISStore
        The project store.

    Returns
    -------
    dict or None
        ``batches`` (count), ``last_batch_id`` (int or None) and
        ``last_batch_at`` (the ``created_at`` text of ``store.batches()``'s
        last row, or None); None when the store does not exist yet. Every
        landing, withdrawal and undo adds a batch, so the state changes with
        every change of the store.
    """
    if not store.exists:
        return None
    if isinstance(store, GeoPackageStore):
        sql = (
            f"SELECT (SELECT count(*) FROM {BATCHES}), batch_id, created_at "
            f"FROM {BATCHES} ORDER BY batch_id DESC LIMIT 1"
        )
        with store._read() as conn:
            rows = conn.execute(sql).fetchall()
    else:  # PostGIS: the time as text, as its batches() gives it
        sql = (
            f"SELECT (SELECT count(*) FROM {store._b}), batch_id, "
            f"{ts_text('created_at', 'created_at')} FROM {store._b} "
            "ORDER BY batch_id DESC LIMIT 1"
        )
        _, rows = store._query(sql)
    if not rows:
        return {"batches": 0, "last_batch_id": None, "last_batch_at": None}
    count, last, at = rows[0]
    return {"batches": int(count), "last_batch_id": int(last), "last_batch_at": str(at)}


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
