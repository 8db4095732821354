"""Forest coverage per zone from land-cover rasters, and its change between years.

森林覆盖率 = 森林面积（含国家特别规定的灌木林地）÷ 土地面积. Forest coverage is
the area of the classes that count as forest (``forest``, ``shrub_forest``)
divided by the land area (``forest + shrub_forest + land``); water and
excluded classes (no data, unclassified, codes the class table does not know)
are outside the denominator. Which code counts as what is data
(``data/landcover_classes.csv``), with presets for CLCD, ESA WorldCover and
GlobeLand30 that a user's class file overrides.

How it is computed
------------------
1. **Zones go to the raster, never the raster to the zones.** The zone
   polygons are densified and reprojected into the raster's CRS, so class
   codes are never resampled.
2. **Exact coverage fractions, from exactextract where they can be
   partial.** :func:`coverage_fractions` gives, for each zone, the share of
   every pixel the polygon covers (area of polygon ∩ pixel ÷ pixel area).
   Only pixels the zone boundary touches can be partial, so exactextract
   (``ops=["cell_id", "coverage"]``) is asked only about a band along each
   boundary, cut into blocks and packed onto a small synthetic grid (its
   cost grows with each polygon's bounding box); every other pixel lies
   wholly inside or outside a zone, decided by one point test per run of
   pixels. The result is kept compactly as runs of fully covered pixels plus
   the partial pixels on the boundary, and agrees with exactextract called
   directly on the whole zones cell by cell to 1e-6 (tested).
3. **Ellipsoidal pixel areas.** A pixel's area is the area on the ellipsoid of
   the raster's geodetic CRS of the quadrilateral spanned by its four corners,
   computed in an equal-area cylindrical projection of that ellipsoid
   (:func:`pixel_area_m2`; agrees with ``pyproj.Geod`` to 1e-7). Geographic
   rasters: exact per row (every row has its own area). Projected rasters:
   exact at a lattice of pixels about 4 km apart, bilinear in between
   (error < 1e-7); runs of covered pixels are cut into pieces along which the
   area changes by less than 1e-4 and each piece uses the area at its middle,
   so a pixel's area is within 5e-5 of its own and district totals agree
   with per-pixel areas to 5e-6 even on the coarse 500 m sample (tested).
   Equal-area projections: no cuts.
4. **Windowed counting.** :func:`count_classes` reads the rasters in windows
   (one tile row high, about 2²⁰ pixels; only windows that hold zone pixels),
   gathers only the pixels inside zones and accumulates ``area × fraction``
   per zone and class (or per zone and class pair for two years: the
   transition matrix) with ``numpy.bincount``. Memory is bounded by the
   window and the weights, not by the raster (928 MB peak at 10 m, 2.1 G
   pixels); the weights' work (boundary-band pixels plus zone rows) is
   estimated from the zones' boundary length in pixels before anything is
   allocated and refused above :data:`MAX_BAND_CELLS` (settable), so a
   header claiming 10¹² pixels is a message, not an unbounded allocation.
5. **Weights are reused.** :class:`ZoneWeights` belong to one grid; every
   further year on that grid only costs reading and counting. Two rasters
   must share CRS, pixel size and pixel alignment (extents may differ: the
   second is read with no data outside its extent); otherwise they are
   refused (:class:`GridMismatchError`), never resampled.

Areas are returned in m² by the array functions and in mu (亩) in the tables.

Modules
-------
``classes`` class tables (CLCD, WorldCover, GlobeLand30, custom);
``rasters`` raster inspection, grids and windows; ``pixel_area`` ellipsoidal
pixel areas; ``fractions`` the exactextract fraction engine and the work
limit; ``weights`` zone weights on one grid; ``counting`` windowed counting;
``zones`` zone files and districts; ``tables`` coverage and transition tables
and their writer; ``compute`` :func:`compute_coverage`, the entry point;
``overlay`` overlay pictures; ``dask_counter`` counting on Dask workers.

This package may import only the layers below it: ``landing``, ``store``,
``validate``, ``ingest``, ``reference``, ``io``, ``scale``, ``area``,
``errors``, ``units`` and ``version`` (the import-linter contract in
``pyproject.toml``); never ``progress`` (its sibling) or anything above.
"""

from __future__ import annotations

from forestsink.coverage.classes import (
    COUNTS_AS,
    FOREST_KINDS,
    PRODUCTS,
    ClassScheme,
    class_scheme_from_table,
    preset_codes,
    read_class_scheme,
)
from forestsink.coverage.compute import (
    MAX_UNKNOWN_PCT,
    compute_coverage,
)
from forestsink.coverage.counting import (
    MAX_THREADS,
    ClassAreas,
    count_classes,
)
from forestsink.coverage.fractions import (
    BAND_DIAGONALS,
    BYTES_PER_CELL,
    MAX_BAND_CELLS,
    Fractions,
    check_work,
    coverage_fractions,
    prepare_zones,
    zone_geometries,
)
from forestsink.coverage.overlay import (
    OVERLAY_LEGEND,
    Overlay,
    make_overlay,
    overlay_categories,
    write_overlay,
)
from forestsink.coverage.pixel_area import (
    AREA_LATTICE_STEP,
    AREA_TOLERANCE,
    PixelAreaModel,
    pixel_area_m2,
)
from forestsink.coverage.rasters import (
    Grid,
    RasterInfo,
    crs_name,
    inspect_raster,
    open_raster,
    raster_read_error,
    raster_windows,
    read_window,
    year_from_name,
)
from forestsink.coverage.tables import (
    CoverageResult,
    coverage_table,
    transition_table,
    write_coverage,
)
from forestsink.coverage.weights import (
    ZoneWeights,
    zone_weights,
)
from forestsink.coverage.zones import (
    CITY_ADCODE,
    ZONE_NAME_COLUMNS,
    ZoneSet,
    read_zone_layer,
    read_zones,
)
from forestsink.errors import (
    CoverageError,
    GridMismatchError,
    NoOverlapError,
    PartialOverlapWarning,
    RasterFileError,
    RasterWarning,
    UnknownClassError,
    UnknownClassWarning,
    WorkLimitError,
    ZoneFileError,
)

__all__ = [
    "AREA_LATTICE_STEP",
    "AREA_TOLERANCE",
    "BAND_DIAGONALS",
    "BYTES_PER_CELL",
    "CITY_ADCODE",
    "COUNTS_AS",
    "FOREST_KINDS",
    "MAX_BAND_CELLS",
    "MAX_THREADS",
    "MAX_UNKNOWN_PCT",
    "OVERLAY_LEGEND",
    "PRODUCTS",
    "ZONE_NAME_COLUMNS",
    "ClassAreas",
    "ClassScheme",
    "CoverageError",
    "CoverageResult",
    "Fractions",
    "Grid",
    "GridMismatchError",
    "NoOverlapError",
    "Overlay",
    "PartialOverlapWarning",
    "PixelAreaModel",
    "RasterFileError",
    "RasterInfo",
    "RasterWarning",
    "UnknownClassError",
    "UnknownClassWarning",
    "WorkLimitError",
    "ZoneFileError",
    "ZoneSet",
    "ZoneWeights",
    "check_work",
    "class_scheme_from_table",
    "compute_coverage",
    "count_classes",
    "coverage_fractions",
    "coverage_table",
    "crs_name",
    "inspect_raster",
    "make_overlay",
    "open_raster",
    "overlay_categories",
    "pixel_area_m2",
    "prepare_zones",
    "preset_codes",
    "raster_read_error",
    "raster_windows",
    "read_class_scheme",
    "read_window",
    "read_zone_layer",
    "read_zones",
    "transition_table",
    "write_coverage",
    "write_overlay",
    "year_from_name",
    "zone_geometries",
    "zone_weights",
]
