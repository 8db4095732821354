"""Scale: the partitioned GeoParquet dataset and the Dask helpers.

``dataset`` reads and writes a dataset partitioned by district and year,
``distributed`` starts a local Dask client and runs tasks on it (Dask is an
optional dependency, imported only here and where marked), ``export`` copies
a store or dataset to GeoParquet.

May import: errors, units, version (the layer below). Not io or area: they
are its siblings in the layer contract (pyproject ``[tool.importlinter]``).
"""
