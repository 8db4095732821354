"""Landing deliveries: read → check → write one batch to the store.

``deliveries`` lands files in a GeoPackage or PostGIS store (one batch per
run, all or nothing), ``chunked`` does the same for files too big for memory,
``staging`` checks many files in parallel into a partitioned dataset.

May import: errors, units, io, scale, area, reference, ingest, validate, store.
"""
