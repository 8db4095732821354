"""The forest-resource map (森林资源"一张图"): land classes, statistics, change.

What it holds
-------------
Computation over frames of sub-compartments (小班), and the tools that run
it on a store or on GeoParquet year datasets; reading the layers and storing
their yearly snapshots live in ``ingest`` and ``store``.

Which layers it may import
--------------------------
Only the layers below it in the contract of ``[tool.importlinter]``:
``errors``, ``units``, ``version``, ``io``, ``scale``, ``area``,
``reference``, ``ingest``, ``validate``, ``store``, ``landing``,
``progress`` and ``coverage`` (public names only). Never ``sampling`` (its
sibling), ``carbon``, ``render``, ``web`` or ``cli``. Inside the package a
module imports the submodule that defines a name, never this ``__init__``.

Modules
-------
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
``checks``
    Checking a read layer and resolving its land classes before it is
    stored: every problem in one error.
``change``
    Change between two years: previous class or an overlay of the layers.
``stand``
    Area and standing stock by species group × age group × origin.
``load``
    The tools on a store: load a layer, statistics, change, stand table.
``partitioned``
    The same on GeoParquet year datasets, locally or on Dask workers.

Units: areas in mu (``_mu``, 15 mu = 1 ha) on the GRS80 ellipsoid of the
EPSG:4490 polygons; stock in m³; coverage in percent.
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
