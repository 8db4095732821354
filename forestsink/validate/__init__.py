"""Validate a delivery: one report of every problem, not stop-at-first.

Pure computation: takes the canonical frame that
:func:`forestsink.ingest.read_delivery` returns (EPSG:4490) and reference
layers, returns an issues table. Nothing is read from or written to disk.

Tolerances (all keyword arguments, defaults stated):

* outside Chongqing: error when less than half of a polygon's area lies in
  the city (``min_inside=0.5``); the district boundaries are good to about
  100 m, so small spill-over at the edge is not an error;
* wrong district: error when less than half of its area lies in the district
  its attributes name and another district holds more; a warning when less
  than ``district_warn=0.9`` lies in it;
* reported area: warning when it differs from the ellipsoidal area by more
  than ``area_tolerance=0.10`` (10 %);
* overlap with polygons already in the store of the same type, or where both
  types add new forest area (the same land would be counted twice): warning
  when the overlap exceeds ``min_overlap_mu=0.1`` mu.

A module per check group, each adding to one issue list
(:class:`~forestsink.validate.issues.Issues`, columns :data:`ISSUE_COLUMNS`):
``geometry`` (missing, non-finite, not polygonal, invalid, slivers; areas),
``placement`` (outside the city, wrong district, across districts),
``attributes`` (project id, district, year, project type, duplicate ids),
``values`` (reported area, stock volumes, unread numbers), ``overlap`` (with
the store); ``delivery`` runs them in that order (:func:`validate_delivery`).

May import: errors, units, version, io, scale, area, reference, ingest.
"""

from forestsink.validate.delivery import ValidationResult, validate_delivery
from forestsink.validate.geometry import NOT_REPAIRED
from forestsink.validate.issues import ISSUE_COLUMNS, SEVERITIES, Issues
from forestsink.validate.placement import PIECE_SIZE_M

__all__ = [
    "ISSUE_COLUMNS",
    "NOT_REPAIRED",
    "PIECE_SIZE_M",
    "SEVERITIES",
    "Issues",
    "ValidationResult",
    "validate_delivery",
]
