"""The interface every project store implements, and logic they share.

Two back ends implement :class:`Store`:

:class:`~forestsink.store.gpkg.GeoPackageStore`
    One GeoPackage file (the default): a desktop GIS opens it directly.
:class:`~forestsink.store.postgis.PostGISStore`
    A PostgreSQL/PostGIS database (``--store postgresql://…``): many users,
    tens of millions of polygons.

Both keep the same history with the same semantics, so every tool (ingest,
progress, history, diff, undo) works on either. The behavioural test suite
(``tests/test_store_backends.py``) runs against both.

Semantics shared by both back ends
----------------------------------
- A *version* is one delivered state of one polygon (key
  ``<adcode>/<project id>``). Versions are never deleted and their content
  never changes; only their end (``ended_batch``, ``valid_to``,
  ``end_reason``) is set, once. The storage itself refuses deletes and
  overwrites (triggers), also for other programs.
- A *batch* is one ingest, withdrawal or undo: all its rows land or none do.
  Batch numbers and times strictly increase.
- *As of* a batch number ``n``: the versions written by batch ``n`` or
  earlier and not ended by batch ``n`` or earlier. As of a time ``t`` (UTC;
  a bare date is the end of that day): versions with ``valid_from <= t``
  and no ``valid_to`` or ``valid_to > t``.
- Writers are serialised: a second writer waits up to the store's timeout and
  then fails with :class:`~forestsink.errors.StoreBusyError` ("another
  process is writing to this store"), having written nothing.

This module holds the protocol and :func:`open_store`, which picks the back
end; the helpers both back ends share (:func:`diff_states`,
:func:`check_withdrawals`, :class:`WithdrawMixin`) live in
:mod:`forestsink.store.common` and are importable from here too.

CRS Notes
---------
Geometries go in and come out in EPSG:4490 (CGCS2000 geographic, degrees),
as MultiPolygons.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import pandas as pd

from forestsink.scale.dataset import Dataset, is_dataset
from forestsink.store.common import (
    DIFF_COLUMNS,
    WithdrawMixin,
    check_withdrawals,
    diff_states,
)
from forestsink.store.gpkg import GeoPackageStore
from forestsink.store.postgis import PostGISStore, is_postgres_url

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "DIFF_COLUMNS",
    "Store",
    "WithdrawMixin",
    "check_withdrawals",
    "diff_states",
    "open_store",
]


@runtime_checkable
class Store(Protocol):
    """A versioned store of project polygons (GeoPackage or PostGIS).

    Times are ISO 8601 strings in UTC with microseconds
    (``2014-06-30T08:15:00.000000Z``) in every frame a store returns.
    """

    @property
    def path(self) -> str | os.PathLike[str]:
        """Where the store is, for messages.

        A file path, or a database URL with the password masked.
        """
        ...

    @property
    def exists(self) -> bool:
        """True if the store has been created (has the forestsink layout)."""
        ...

    def current(self, *, as_of=None, bounds=None) -> gpd.GeoDataFrame:
        """Polygons valid now, or as of a batch number or date (UTC).

        Parameters
        ----------
        as_of : int or str, optional (default: None, now)
            A batch number (``12``) or a date or ISO date-time (UTC; a bare
            date means the end of that day).
        bounds : sequence of float, optional (default: None, everywhere)
            ``minx, miny, maxx, maxy`` (EPSG:4490 degrees): only the polygons
            whose bounding box meets this box, found by the spatial index
            (GeoPackage R-tree, PostGIS GiST); every polygon that meets the
            box is among them (the overlap check of a delivery reads these).

        Returns
        -------
        geopandas.GeoDataFrame
            One row per live key, ordered by key (code point order): ``fid``,
            ``key``, ``adcode``, ``project_id``, ``version``, ``year``,
            ``project_type``, ``programme``, ``area_mu``, ``area_reported_mu``,
            ``species``, ``stock_volume_m3``, ``attrs``, ``content_hash``,
            ``batch_id``, ``valid_from``, ``ended_batch``, ``valid_to``,
            ``end_reason``, ``source_file``, ``source_row``, ``geometry``.

        Notes
        -----
        CRS Notes: EPSG:4490; areas in mu (1 mu = 10000/15 m²).
        """
        ...

    def batches(self) -> pd.DataFrame:
        """All batches, oldest first.

        Returns
        -------
        pandas.DataFrame
            ``batch_id``, ``kind`` (ingest / withdraw / undo / inventory),
            ``created_at``,
            ``user``, ``source_name``, ``source_sha256``, ``n_added``,
            ``n_changed``, ``n_unchanged``, ``n_withdrawn``, ``note``,
            ``undoes``, ``undone_by``, ``undone_at``.
        """
        ...

    def history(self, key: str) -> gpd.GeoDataFrame:
        """Every version of one polygon, oldest first, with batch details.

        Parameters
        ----------
        key : str
            ``<adcode>/<project id>``, e.g. ``500101/WZ-2013-001``.

        Returns
        -------
        geopandas.GeoDataFrame
            The columns of :meth:`current` plus ``batch_kind``,
            ``batch_user`` and ``batch_source``.

        Raises
        ------
        StoreError
            If no version has this key.
        """
        ...

    def diff(self, a, b) -> pd.DataFrame:
        """Return what changed between two states (batch numbers or dates).

        Returns
        -------
        pandas.DataFrame
            See :func:`diff_states`.
        """
        ...

    def integrity_check(self) -> str:
        """Check the store; ``'ok'`` when healthy, else what is wrong."""
        ...

    def find_batch_by_sha(self, sha256: str) -> int | None:
        """Return the live (not undone) ingest batch that loaded this file.

        Parameters
        ----------
        sha256 : str
            SHA-256 of the delivered file.

        Returns
        -------
        int or None
            The batch id, or None if no live ingest batch has this hash.
        """
        ...

    def write_delivery(
        self,
        frame,
        *,
        source_name: str,
        source_sha256: str,
        note: str | None = None,
        user: str | None = None,
        now: str | None = None,
    ) -> dict:
        """Write one validated delivery as one batch (all or nothing).

        Parameters
        ----------
        frame : geopandas.GeoDataFrame
            Validated canonical frame (EPSG:4490) with ``key``, ``adcode``,
            ``project_id``, ``area_mu`` and the content fields.
        source_name : str
            File name recorded with the batch.
        source_sha256 : str
            SHA-256 of the file (identical files are recognised by it).
        note : str, optional (default: None)
            Free text kept with the batch (encoding, CRS, skipped rows).
        user : str, optional (default: the login name)
            Who ingested it.
        now : str, optional (default: the current time)
            ISO time of the batch (UTC); raised to just after the previous
            batch if earlier.

        Returns
        -------
        dict
            ``batch_id`` (None when nothing changed), counts ``added``,
            ``changed``, ``unchanged``.
        """
        ...

    def withdraw(
        self, key: str, *, reason: str, user: str | None = None, now: str | None = None
    ) -> int:
        """End a polygon's validity with a reason; returns the batch id."""
        ...

    def withdraw_many(
        self,
        items: list[tuple[str, str]],
        *,
        source_name: str,
        user: str | None = None,
        now: str | None = None,
    ) -> int:
        """Withdraw several polygons in one batch (all or none).

        Parameters
        ----------
        items : list of (str, str)
            ``(key, reason)`` pairs; every reason must be non-empty.
        source_name : str
            What the batch records as its source (a key or a file name).
        user : str, optional (default: the login name)
            Who withdrew them.
        now : str, optional (default: the current time)
            ISO time of the batch (UTC).

        Returns
        -------
        int
            The new batch's id.
        """
        ...

    def undo(
        self,
        batch_id: int,
        *,
        user: str | None = None,
        reason: str | None = None,
        now: str | None = None,
    ) -> int:
        """Undo a whole batch as a new batch; history is kept.

        Versions the batch created are ended; versions it ended are restored
        as new versions. Refused if a later batch changed the same polygons.

        Parameters
        ----------
        batch_id : int
            The batch to undo.
        user : str, optional (default: the login name)
            Who undid it.
        reason : str, optional (default: None)
            Why; the undo batch's note is "undo of batch N", followed by
            ": reason" when one is given (``batches()`` shows it).
        now : str, optional (default: the clock)
            ISO time of the batch (UTC).

        Returns
        -------
        int
            The new (undo) batch's id.
        """
        ...


def open_store(location, /, *, timeout: float = 60.0) -> Store:
    """Open a store: a ``.gpkg`` path, or ``postgresql://…[?schema=NAME]``.

    Parameters
    ----------
    location : str or Path
        A GeoPackage path (created on first write), a PostgreSQL URL, or a
        folder of GeoParquet partitions. Geometries are stored in EPSG:4490.
    timeout : float, default 60.0
        Seconds a writer waits for another writer's lock before
        :class:`~forestsink.errors.StoreBusyError`.

    A folder of ``adcode=…`` GeoParquet partitions opens read-only as a
    :class:`forestsink.scale.dataset.Dataset` (for progress, carbon and report).
    """
    text = str(location)
    if is_dataset(text):
        return Dataset(text)
    if is_postgres_url(text):
        return PostGISStore(text, timeout=timeout)
    return GeoPackageStore(location, timeout=timeout)
