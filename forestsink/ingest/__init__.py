"""Reading what counties deliver: files, encodings, CRS, column names, types.

Modules, in the order a file passes through them:
:mod:`~forestsink.ingest.files` (finding, hashing, counting files),
:mod:`~forestsink.ingest.archive` (zips unpacked safely),
:mod:`~forestsink.ingest.shapefile` (a Shapefile's parts checked),
:mod:`~forestsink.ingest.encoding` (code pages, mojibake),
:mod:`~forestsink.ingest.crs` (CRS of the file, given or inferred),
:mod:`~forestsink.ingest.raw` (the pyogrio read into plain arrays),
:mod:`~forestsink.ingest.layer` (a layer read into EPSG:4490, text checked),
:mod:`~forestsink.ingest.columns` and :mod:`~forestsink.ingest.vocabulary`
(column names and the words of a delivery),
:mod:`~forestsink.ingest.values` and :mod:`~forestsink.ingest.numbers`
(types, years, ids, numbers), :mod:`~forestsink.ingest.attributes` (merged
columns, project ids, extra attributes), :mod:`~forestsink.ingest.stock`
(before/after stock attributes), :mod:`~forestsink.ingest.read` (a project
delivery in the canonical schema) and :mod:`~forestsink.ingest.inventory`
(a forest-resource layer).

Layer: ingest may import ``reference``, ``io``, ``scale``, ``area``,
``errors``, ``units`` and ``version``, nothing above (checked by
import-linter).
"""

from forestsink.ingest.read import Delivery, find_delivery_files, read_delivery

__all__ = ["Delivery", "find_delivery_files", "read_delivery"]
