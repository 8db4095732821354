"""The forest-resource map (森林资源"一张图"): land classes, statistics, change.

Pure computation over frames of sub-compartments (小班); reading the layers
and storing their yearly snapshots live in ``ingest`` and ``store``. May import
``errors``, ``units`` and ``reference``.

``classes``
    Land-class codes of every scheme (4-digit 林地变更 codes, their 3-digit
    forms, the third land survey's 03xx/03xxxx, older 1xxx codes, or names)
    resolved to one table row: forest land? counted as forest?
``stats``
    Official statistics per district and city: total area, forest area,
    coverage, forest-land area, standing stock; the land-class transfer
    matrix between two years.
"""

from forestsink.inventory.classes import resolve_land_classes
from forestsink.inventory.stats import forest_statistics, transfer_matrix

__all__ = ["forest_statistics", "resolve_land_classes", "transfer_matrix"]
