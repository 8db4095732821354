"""The versioned project store (GeoPackage by default, or PostgreSQL/PostGIS).

Yearly forest-resource layers (一张图) live beside the projects in either store
(:mod:`forestsink.store.inventory`, :mod:`forestsink.store.inventory_pg`).
"""

from forestsink.store.base import Store
from forestsink.store.gpkg import GeoPackageStore, StoreBusyError, StoreError

__all__ = ["GeoPackageStore", "Store", "StoreBusyError", "StoreError", "open_store"]


def open_store(location, /, *, timeout: float = 60.0) -> Store:
    """Open a store: a ``.gpkg`` path, or ``postgresql://…[?schema=NAME]``.

    A folder of ``adcode=…`` GeoParquet partitions opens read-only as a
    :class:`forestsink.scale.dataset.Dataset` (for progress, carbon and report).
    """
    text = str(location)
    from forestsink.scale.dataset import Dataset, is_dataset

    if is_dataset(text):
        return Dataset(text)
    if text.startswith(("postgresql://", "postgres://")):
        from forestsink.store.postgis import PostGISStore

        return PostGISStore(text, timeout=timeout)
    return GeoPackageStore(location, timeout=timeout)
