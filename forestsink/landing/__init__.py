"""Landing deliveries: read → check → write one batch to the store.

``deliveries`` lands files in a GeoPackage or PostGIS store (one batch per
run, all or nothing), ``chunked`` does the same for files too big for memory
(and checks chunks or many files in helper processes), ``spill`` keeps
checked chunks on disk as Arrow files, ``withdrawals`` reads a county's
withdrawal list, ``staging`` checks many files in parallel into a
partitioned dataset.

May import: errors, units, version, io, scale, area, reference, ingest,
validate, store.
"""
