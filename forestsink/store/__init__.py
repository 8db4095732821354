"""The versioned project store (GeoPackage by default, or PostgreSQL/PostGIS).

Yearly forest-resource layers (一张图) live beside the projects in either store
(:mod:`forestsink.store.inventory`, :mod:`forestsink.store.inventory_pg`).

Modules: the protocol and :func:`open_store` (``base``), what the back ends
share (``common``), the GeoPackage back end (``gpkg``, with ``gpkg_schema``,
``gpkg_codec``, ``gpkg_staging``, ``gpkg_file`` and the R-tree writer
``rtree``), the PostGIS back end (``postgis``, ``postgis_schema``,
``pgcodec``, ``pgpool``: kept read connections), the inventory sides
(``inventory``, ``inventory_layout``, ``inventory_common``,
``inventory_schema``, ``inventory_pg``), accounts
(``users``, ``users_pg``), ``touched`` (the districts each batch touched)
and ``migrate``.

Layers: may import ``errors``, ``io``, ``scale``, ``area``, ``reference``,
``ingest`` and ``validate`` (the layers below it), never the layers above.
"""

from forestsink.errors import StoreBusyError, StoreError
from forestsink.store.base import Store, open_store
from forestsink.store.gpkg import GeoPackageStore

__all__ = ["GeoPackageStore", "Store", "StoreBusyError", "StoreError", "open_store"]
