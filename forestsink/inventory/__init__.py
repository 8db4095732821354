"""The forest-resource map (森林资源"一张图"): land classes, statistics, change.

Pure computation over frames of sub-compartments (小班); reading the layers
and storing their yearly snapshots live in ``ingest`` and ``store``. May import
``errors``, ``units``, ``area`` and ``reference`` (and, in
:func:`~forestsink.inventory.reconcile.reconcile_store` only, call the methods of
a store object handed in).

``classes``
    Land-class codes of every scheme (4-digit 林地变更 codes, their 3-digit
    forms, the third land survey's 03xx/03xxxx, older 1xxx codes, or names)
    resolved to one table row: forest land? counted as forest?
``stats``
    Official statistics per district and city: total area, forest area,
    coverage, forest-land area, standing stock; the land-class transfer
    matrix between two years.
``reconcile``
    Project polygons overlaid on a year's 小班: the area of each on forest,
    未成林地, other forest land, non-forest land and no 小班; afforestation
    on land that was already forest; sums per district and type.
``crosscheck``
    The raster coverage of ``forestsink coverage`` beside the official
    inventory coverage, with why they differ.
"""

from forestsink.inventory.classes import resolve_land_classes
from forestsink.inventory.crosscheck import coverage_crosscheck
from forestsink.inventory.reconcile import ReconcileResult, reconcile
from forestsink.inventory.stats import forest_statistics, transfer_matrix

__all__ = [
    "ReconcileResult",
    "coverage_crosscheck",
    "forest_statistics",
    "reconcile",
    "resolve_land_classes",
    "transfer_matrix",
]
