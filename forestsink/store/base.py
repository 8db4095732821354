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
  then fails with :class:`~forestsink.store.gpkg.StoreBusyError` ("another
  process is writing to this store"), having written nothing.

CRS Notes
---------
Geometries go in and come out in EPSG:4490 (CGCS2000 geographic, degrees),
as MultiPolygons.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import pandas as pd

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["DIFF_COLUMNS", "Store", "diff_states"]

DIFF_COLUMNS = [
    "key",
    "change",
    "project_type",
    "version_from",
    "version_to",
    "area_mu_from",
    "area_mu_to",
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

    def current(self, *, as_of=None) -> gpd.GeoDataFrame:
        """Polygons valid now, or as of a batch number or date (UTC).

        Parameters
        ----------
        as_of : int or str, optional (default: None, now)
            A batch number (``12``) or a date or ISO date-time (UTC; a bare
            date means the end of that day).

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
        self, batch_id: int, *, user: str | None = None, now: str | None = None
    ) -> int:
        """Undo a whole batch as a new batch; history is kept.

        Versions the batch created are ended; versions it ended are restored
        as new versions. Refused if a later batch changed the same polygons.

        Returns
        -------
        int
            The new (undo) batch's id.
        """
        ...


def diff_states(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Compare two states of a store (e.g. ``current(as_of=a)`` and ``(b)``).

    A key is *added* if only *after* has it, *withdrawn* if only *before*
    has it, and *changed* if both have it as different versions (``fid``).

    Parameters
    ----------
    before, after : pandas.DataFrame
        States with at least ``key``, ``fid``, ``version``, ``project_type``
        and ``area_mu`` (geometry is not needed), one row per key.

    Returns
    -------
    pandas.DataFrame
        ``key``, ``change`` (added / changed / withdrawn), ``project_type``,
        ``version_from``, ``version_to``, ``area_mu_from``, ``area_mu_to``;
        ordered by key (code point order).

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"key": ["k1", "k2"], "fid": [1, 2], "version": [1, 1],
    ...                   "project_type": ["t", "t"], "area_mu": [1.0, 2.0]})
    >>> b = pd.DataFrame({"key": ["k2", "k3"], "fid": [4, 3], "version": [2, 1],
    ...                   "project_type": ["t", "t"], "area_mu": [2.5, 3.0]})
    >>> diff_states(a, b)[["key", "change"]].values.tolist()
    [['k1', 'withdrawn'], ['k2', 'changed'], ['k3', 'added']]
    """
    b = before.set_index("key")
    a = after.set_index("key")
    added = a.index.difference(b.index)
    withdrawn = b.index.difference(a.index)
    common = a.index.intersection(b.index)
    moved = b.loc[common, "fid"].to_numpy() != a.loc[common, "fid"].to_numpy()
    changed = common[moved]

    def values(frame, keys, column):
        return frame.loc[keys, column].tolist() if len(keys) else []

    none = [None] * max(len(added), len(withdrawn))
    rows = list(
        zip(
            added,
            ["added"] * len(added),
            values(a, added, "project_type"),
            none[: len(added)],
            values(a, added, "version"),
            none[: len(added)],
            values(a, added, "area_mu"),
            strict=True,
        )
    )
    rows += zip(
        withdrawn,
        ["withdrawn"] * len(withdrawn),
        values(b, withdrawn, "project_type"),
        values(b, withdrawn, "version"),
        none[: len(withdrawn)],
        values(b, withdrawn, "area_mu"),
        none[: len(withdrawn)],
        strict=True,
    )
    rows += zip(
        changed,
        ["changed"] * len(changed),
        values(a, changed, "project_type"),
        values(b, changed, "version"),
        values(a, changed, "version"),
        values(b, changed, "area_mu"),
        values(a, changed, "area_mu"),
        strict=True,
    )
    rows.sort(key=lambda row: row[0])
    return pd.DataFrame(rows, columns=DIFF_COLUMNS)


def check_withdrawals(items, *, where: str) -> list[str]:
    """Check a withdrawal list before any store is touched; return its keys.

    Every item needs a non-empty reason and each key may appear once.

    Raises
    ------
    StoreError
        Naming the key and what to fix; nothing has been withdrawn.
    """
    from forestsink.store.gpkg import StoreError

    if not items:
        raise StoreError(
            f"{where}: the withdrawal list has no rows; nothing withdrawn. Give "
            "one row per polygon (district, project id, reason)."
        )
    for key, reason in items:
        if not reason or not str(reason).strip():
            raise StoreError(f"withdrawal of {key!r} needs a reason (--reason TEXT).")
    keys = [k for k, _ in items]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise StoreError(
            f"{where}: polygon(s) {twice} listed more than once; nothing "
            "withdrawn. Give each polygon once."
        )
    return keys


class WithdrawMixin:
    """``withdraw`` of one polygon, as a one-item ``withdraw_many``."""

    def withdraw(
        self, key: str, *, reason: str, user: str | None = None, now: str | None = None
    ) -> int:
        """End a polygon's validity with a reason; return the batch id."""
        return self.withdraw_many([(key, reason)], source_name=key, user=user, now=now)
