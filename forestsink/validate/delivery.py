"""Validate a delivery: the check groups in turn, one issue list.

:func:`validate_delivery` runs geometry (:mod:`~forestsink.validate.geometry`),
placement (:mod:`~forestsink.validate.placement`), attributes
(:mod:`~forestsink.validate.attributes`), values
(:mod:`~forestsink.validate.values`) and the overlap with the store
(:mod:`~forestsink.validate.overlap`), each adding to one
:class:`~forestsink.validate.issues.Issues`. Tolerances: see
:mod:`forestsink.validate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from geopandas.array import from_shapely

from forestsink.errors import OptionError
from forestsink.ingest.crs import STORE_CRS
from forestsink.reference import read_districts, read_plan
from forestsink.validate.attributes import check_attributes, delivery_keys
from forestsink.validate.geometry import check_geometry
from forestsink.validate.issues import Issues
from forestsink.validate.overlap import check_overlaps
from forestsink.validate.placement import check_placement
from forestsink.validate.values import check_values


@dataclass
class ValidationResult:
    """Outcome of :func:`validate_delivery`.

    Attributes
    ----------
    frame : geopandas.GeoDataFrame
        The delivery (repaired where ``fix=True``), with ``area_mu`` (the
        ellipsoidal area) added; rows with errors are still present.
    issues : pandas.DataFrame
        Columns ``ISSUE_COLUMNS``; ``row`` is the 0-based feature index in
        the file (messages and the CLI count from 1: ``row + 1``); ``fid``
        is the feature id a GIS shows (GeoPackage), else empty.
    """

    frame: object
    issues: pd.DataFrame

    @property
    def errors(self) -> pd.DataFrame:
        """Issues that block ingest."""
        return self.issues[self.issues["severity"] == "error"]

    @property
    def ok(self) -> bool:
        """True when nothing blocks ingest."""
        return self.errors.empty


def _check_tolerances(**tolerances: float) -> None:
    """Refuse a tolerance that is not a finite number ≥ 0 (OptionError)."""
    for name, value in tolerances.items():
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise OptionError(
                f"{name}={value!r}: give a finite number ≥ 0 (a NaN or infinite "
                "tolerance would switch the check off without a word)."
            )


def _near(existing, checked, crs):
    """Return the polygons *existing* (a callable) gives near the usable ones.

    Their bounds are taken in EPSG:4490 (the frame's CRS, as read).
    """
    geoms = checked.geoms[checked.usable]
    if not len(geoms):  # nothing usable (e.g. a layer of points): nothing near
        return None
    if crs is not None and not crs.equals(STORE_CRS):
        geoms = from_shapely(geoms, crs=crs).to_crs(STORE_CRS)
    bounds = shapely.total_bounds(geoms)
    if not np.isfinite(bounds).all():
        return None
    return existing(tuple(float(b) for b in bounds))


def validate_delivery(
    frame,
    *,
    districts=None,
    period: tuple[int, int] | None = None,
    plan=None,
    area_tolerance: float = 0.10,
    min_inside: float = 0.5,
    district_warn: float = 0.9,
    existing=None,
    min_overlap_mu: float = 0.1,
    fix: bool = False,
) -> ValidationResult:
    """Check a delivery and return every problem found.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Canonical delivery frame in EPSG:4490 (from ``read_delivery``).
    districts : geopandas.GeoDataFrame, optional (default: shipped layer)
        District polygons with ``adcode`` and ``name_zh``.
    period : tuple of int, optional (default: None, the plan's period)
        Allowed years, inclusive.
    plan : Plan or path, optional (default: None, the seed plan)
        The plan (:func:`forestsink.reference.read_plan`) whose period
        gives the allowed years when *period* is not given.
    area_tolerance : float, optional (default: 0.10)
        Relative difference between reported and computed area that triggers
        a warning.
    min_inside, district_warn : float, optional (default: 0.5, 0.9)
        Area fractions for the outside/wrong-district checks (see module doc).
    existing : geopandas.GeoDataFrame or callable, optional (default: None)
        Current polygons in the store (``key``, ``project_type``, geometry in
        EPSG:4490) for the overlap check; or a callable that returns them
        given the bounds of the delivery's usable polygons (``minx, miny,
        maxx, maxy``, EPSG:4490), which must hold at least every polygon
        whose bounding box meets those bounds (a store's
        ``current(bounds=…)``: only the polygons near the delivery are
        read).
    min_overlap_mu : float, optional (default: 0.1)
    fix : bool, optional (default: False)
        Repair what is safe to repair: invalid geometry with ``make_valid``
        (keeping polygonal parts), zero-area slivers dropped. Every change is
        reported with severity ``fixed``.

    Returns
    -------
    ValidationResult

    Notes
    -----
    CRS: the frame's (EPSG:4490 as read); areas are ellipsoidal, computed in
    an equal-area Albers projection; ``area_mu`` is in mu.
    """
    _check_tolerances(
        area_tolerance=area_tolerance,
        min_inside=min_inside,
        district_warn=district_warn,
        min_overlap_mu=min_overlap_mu,
    )
    districts = read_districts() if districts is None else districts
    issues = Issues(frame)
    checked = check_geometry(frame, issues, fix=fix)
    check_placement(
        frame,
        issues,
        checked,
        districts,
        min_inside=min_inside,
        district_warn=district_warn,
    )
    key = delivery_keys(frame)
    if period is None:
        period = read_plan(plan).period
    check_attributes(frame, issues, key=key, period=period)
    area_mu = checked.area_mu
    check_values(frame, issues, checked.usable, area_mu, area_tolerance=area_tolerance)
    if callable(existing):
        existing = _near(existing, checked, frame.crs)
    if existing is not None and len(existing):
        check_overlaps(
            issues, frame, checked.albers, checked.usable, key, existing, min_overlap_mu
        )
    added = {
        "area_mu": area_mu,
        "dropped": checked.sliver if fix else np.zeros(len(frame), dtype=bool),
        "key": key.array,
    }
    if checked.repaired:
        added[frame.geometry.name] = from_shapely(checked.geoms, crs=frame.crs)
    return ValidationResult(frame=frame.assign(**added), issues=issues.table())
