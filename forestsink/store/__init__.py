"""The versioned project store (GeoPackage by default)."""

from forestsink.store.gpkg import GeoPackageStore, StoreBusyError, StoreError

__all__ = ["GeoPackageStore", "StoreBusyError", "StoreError", "open_store"]


def open_store(location, /, *, timeout: float = 60.0) -> GeoPackageStore:
    """Open a store from a path (``.gpkg``).

    PostgreSQL/PostGIS URLs (``postgresql://…``) are planned (issue: country
    scale) and refused with a clear message until then.
    """
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        from forestsink.errors import ForestsinkError

        raise ForestsinkError(
            "PostGIS stores are not available yet; use a .gpkg file for --store."
        )
    return GeoPackageStore(location, timeout=timeout)
