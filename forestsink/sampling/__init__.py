"""Reference-sample design and design-based area estimation (issue 18).

What it holds
-------------
``allocation``
    How many points each stratum gets (proportional, equal, Neyman, with a
    minimum per stratum) and the expected user's accuracies.
``estimators``
    Pure computation: the stratified estimators of Olofsson et al. 2014 and
    Stehman's (2014) general stratified estimator (error matrix in area
    proportions, user's, producer's and overall accuracy, error-adjusted
    areas, all with standard errors), and the sample size of Olofsson eq. 13.
``labels``
    Checking a labelled sample and its strata table (frames in, frames out),
    and the estimate city-wide and per district.
``zone_runs``
    Zone polygons as runs of pixel centres on a raster grid, found once by a
    vectorised scan line with GDAL's rasterising rule.
``design``
    Strata from one or two land-cover maps (optionally × districts), the
    allocation of points, and the two-pass windowed draw of points.
``statement``
    "map: x %; sample-based: y % ± z" with a sentence, for the report (or,
    where the interval has zero width, the note and a conservative bound).
``tools``
    The commands minus parsing: read files, call the above, write files.

Which layers it may import
--------------------------
Only the layers below it in the contract of ``[tool.importlinter]``; in use:
``forestsink.errors``, ``forestsink.units``, ``forestsink.reference``,
``forestsink.coverage`` (class tables, raster inspection, pixel areas, zones:
public names only) and ``forestsink.io`` (table and layer readers and
writers). Never ``inventory`` (its sibling), ``carbon``, ``render``, ``web``
or ``cli``. Inside the package a module imports the submodule that defines a
name, never this ``__init__``.

Units: areas in hectares (``_ha``) and mu (``_mu``, 15 mu = 1 ha), on the
ellipsoid of the raster's geodetic CRS; accuracies as fractions 0–1.
"""

from __future__ import annotations

from forestsink.sampling.estimators import (
    Z95,
    AreaEstimate,
    estimate_areas,
    sample_size_eq13,
)
from forestsink.sampling.statement import ShareStatement, share_statement

__all__ = [
    "Z95",
    "AreaEstimate",
    "ShareStatement",
    "estimate_areas",
    "sample_size_eq13",
    "share_statement",
]
