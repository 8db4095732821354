"""The store's current polygons near each delivery, for the overlap check.

``ingest_deliveries`` warns of overlaps with the polygons already in the
store. Reading them all (``store.current()``) costs time in proportion to
the store (42 ms of CPU at 8,000 polygons, profiled, for a 40-feature
upload); a delivery can only overlap the polygons whose bounding box meets
its own. :class:`NearbyPolygons` reads those, by the store's spatial index
(``store.current(bounds=…)``), when each delivery is checked
(:func:`forestsink.validate.validate_delivery` calls it with the bounds).
Helper processes get the whole state once (:meth:`NearbyPolygons.whole`).

CRS Notes
---------
Bounds and geometries in EPSG:4490 (the store's CRS).
"""

from __future__ import annotations

__all__ = ["NearbyPolygons", "existing_frame", "store_polygons"]


class NearbyPolygons:
    """The current polygons of *store* near a delivery, read when asked.

    Parameters
    ----------
    store : Store
        A store whose ``current`` takes ``bounds`` (GeoPackage, PostGIS).
    as_of : int, optional (default: None, the state when each is read)
        A batch number: every read gives the state as of that batch (an
        ingest that lands files while it checks later ones pins the state it
        started from, so that a file is never compared with an earlier file
        of the same ingest, as without early landing).
    """

    def __init__(self, store, *, as_of: int | None = None) -> None:
        self.store = store
        self.as_of = as_of
        self._whole = None

    def __call__(self, bounds):
        """Return the current polygons whose bounding box meets *bounds*.

        Parameters
        ----------
        bounds : tuple of float
            ``minx, miny, maxx, maxy`` (EPSG:4490).
        """
        if self._whole is not None:
            minx, miny, maxx, maxy = bounds
            return self._whole.cx[minx:maxx, miny:maxy]
        return self.store.current(as_of=self.as_of, bounds=bounds)

    def whole(self):
        """Return every current polygon (read once), as ``store.current()``."""
        if self._whole is None:
            self._whole = self.store.current(as_of=self.as_of)
        return self._whole

    def __len__(self) -> int:
        """Return the number of current polygons (reads them all)."""
        return len(self.whole())


def store_polygons(store, *, pinned: bool = False):
    """Return what the overlap check of an ingest into *store* reads.

    Parameters
    ----------
    store : Store
        The store landed into.
    pinned : bool, optional (default: False)
        Give the state before the ingest to every file (see
        :class:`NearbyPolygons`), even when earlier files land meanwhile.

    Returns
    -------
    NearbyPolygons, geopandas.GeoDataFrame or None
        None for an empty store; a :class:`NearbyPolygons` for a GeoPackage
        or PostGIS store; else ``store.current()`` (any other store).
    """
    if not store.exists:
        return None
    if not getattr(store, "reads_near", False):
        return store.current()
    as_of = None
    if pinned:
        ids = store.batches()["batch_id"]
        if not len(ids):
            return None  # nothing there before the ingest
        as_of = int(ids.max())
    return NearbyPolygons(store, as_of=as_of)


def existing_frame(existing):
    """Return *existing* as one frame (whole), for helper processes."""
    return existing.whole() if isinstance(existing, NearbyPolygons) else existing
