"""Progress on Dask: the same pieces, computed on a cluster.

``--engine dask`` runs the district split and the net-area computation on
``dask.distributed`` workers instead of one process:

1. **Split** — polygons are partitioned by the district they declare (whole
   districts per partition, ``--partitions N``); each worker splits its
   polygons by the district boundaries (:func:`~forestsink.aggregate.
   split_with_attributes`).
2. **Move** — pieces go to the task that handles the district they *lie*
   in; a polygon crossing a boundary therefore meets its neighbours'
   polygons there, and every piece of land is netted exactly once.
3. **Net** — each task nets its districts' pieces
   (:func:`~forestsink.aggregate.net_pieces`) and returns the small
   district × year × type table; only those tables come back to the client.

Results equal the local engine's to floating-point summation order (tested:
relative 1e-9). Without ``--scheduler`` a ``LocalCluster`` is started on this
machine; with ``--scheduler tcp://host:8786`` an existing cluster is used —
a national office starts ``dask scheduler`` on one node and
``dask worker tcp://host:8786`` on the others, with forestsink installed in
the same environment on every node.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _split(part, districts):
    from forestsink.aggregate import split_with_attributes

    if part.empty:
        return None
    return split_with_attributes(part, districts)


def _net_and_table(adcodes, types, growth, end_year, *parts):
    from forestsink.aggregate import net_pieces
    from forestsink.progress import _estimated_volume, progress_by_district

    mine = [p[p["adcode"].isin(adcodes)] for p in parts if p is not None]
    mine = [p for p in mine if len(p)]
    if not mine:
        return None
    pieces = net_pieces(pd.concat(mine, ignore_index=True), types=types)
    est = _estimated_volume(pieces, types=types, growth=growth, end_year=end_year)
    return progress_by_district(pieces, est_volume=est)


def client_for(scheduler: str | None = None, *, workers: int = 2):
    """Return a ``dask.distributed.Client`` for an existing or a local cluster."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - declared dependency
        from forestsink.errors import ForestsinkError

        raise ForestsinkError(
            "the dask engine needs dask[distributed]: pip install 'dask[distributed]'"
        ) from err
    if scheduler:
        return Client(scheduler)
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    return Client(cluster)


def progress_base_dask(
    frame,
    districts,
    types,
    *,
    growth,
    end_year,
    partitions: int | None = None,
    client=None,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Compute the district × year × type base table on Dask workers.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Current polygons (EPSG:4490).
    districts : geopandas.GeoDataFrame
    types : DataFrame
        Project-type rules.
    growth, end_year
        As for :func:`forestsink.carbon.delta_volume`.
    partitions : int, optional (default: number of workers × 2)
        How many groups of whole districts to split the work into.
    client : dask.distributed.Client, optional
        Use this client (else :func:`client_for` with *scheduler*).
    """
    own = client is None
    client = client or client_for(scheduler)
    try:
        n_workers = max(len(client.scheduler_info().get("workers", {})), 1)
        n = max(1, min(partitions or 2 * n_workers, len(districts)))
        codes = np.array(sorted(districts["adcode"]))
        groups = [list(g) for g in np.array_split(codes, n) if len(g)]
        districts_f = client.scatter(districts, broadcast=True)
        types_f = client.scatter(types, broadcast=True)
        split = [
            client.submit(
                _split, frame[frame["adcode"].isin(g)], districts_f, pure=False
            )
            for g in groups
        ]
        tables = [
            client.submit(
                _net_and_table, g, types_f, growth, end_year, *split, pure=False
            )
            for g in groups
        ]
        parts = [t for t in client.gather(tables) if t is not None]
    finally:
        if own:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True)
