"""Dask for forestsink: a client for a local or existing cluster, and tasks run on it.

:func:`dask_client` starts a ``LocalCluster`` on this machine, or connects
to an existing one with ``--scheduler tcp://host:8786``; :func:`run_tasks`
runs a list of calls here (no client) or on the cluster, in order. Dask is
an optional dependency (``pip install 'forestsink[dask]'``): it is imported
inside these functions only, so the core install runs without it.
The capabilities that use it (progress over a partitioned dataset,
the inventory statistics, coverage counting) keep their own tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from forestsink.errors import DependencyError


def run_tasks(fn: Callable, calls: list[tuple], *, client=None, progress=None) -> list:
    """Run ``fn(*args)`` for every args tuple: here, or on *client*'s cluster.

    Results come back in the order of *calls*; *progress* (optional) is
    called with the number of finished tasks after each one.
    """
    if client is None:
        out = []
        for i, args in enumerate(calls):
            out.append(fn(*args))
            if progress:
                progress(i + 1)
        return out
    from dask.distributed import as_completed  # noqa: PLC0415 (optional heavy dependency)

    futures = [client.submit(fn, *args, pure=False) for args in calls]
    for i, _ in enumerate(as_completed(futures)):
        if progress:
            progress(i + 1)
    return client.gather(futures)


def client_for(scheduler: str | None = None, *, workers: int = 2):
    """Return a ``dask.distributed.Client`` for an existing or a local cluster."""
    try:
        from dask.distributed import (  # noqa: PLC0415 (optional heavy dependency)
            Client,
            LocalCluster,
        )
    except ImportError as err:
        raise DependencyError(
            "Dask 未安装 / the dask engine needs dask.distributed, which is not "
            f"installed ({err}): pip install 'forestsink[dask]' (or "
            "'dask[distributed]'), or use the local engine."
        ) from err
    if scheduler:
        return Client(scheduler)
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    return Client(cluster)


@contextmanager
def dask_client(
    client=None, scheduler: str | None = None, *, workers: int | None = None
) -> Iterator:
    """Yield *client*, or a new one for *scheduler* that is closed afterwards.

    Without either a ``LocalCluster`` of *workers* processes (default 2) is
    started (:func:`client_for`) and shut down on exit; a client passed in
    is left open for its owner.
    """
    if client is not None:
        yield client
        return
    own = client_for(scheduler, workers=workers or 2)
    try:
        yield own
    finally:
        cluster = getattr(own, "cluster", None)
        own.close()
        if cluster is not None:
            cluster.close()
