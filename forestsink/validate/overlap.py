"""Overlap check: polygons already in the store that a delivery overlaps.

Overlap with a stored polygon of the same project type, or where both types
add new forest area (the same land would be counted twice), is a warning
above ``min_overlap_mu`` mu. Areas in the equal-area Albers projection.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from forestsink.area import albers_geometries
from forestsink.reference import read_project_types
from forestsink.units import M2_PER_MU
from forestsink.validate.issues import Issues


def _text(series) -> np.ndarray:
    """Return a column as plain strings (NA as the empty string)."""
    return series.astype("string").fillna("").to_numpy(dtype=str)


def check_overlaps(
    issues: Issues,
    frame,
    albers: np.ndarray,
    usable: np.ndarray,
    key: pd.Series,
    existing,
    min_overlap_mu: float,
) -> None:
    """Warn of overlaps with polygons already in the store.

    Parameters
    ----------
    issues : Issues
    frame : pandas.DataFrame
        Delivery frame with ``project_type``.
    albers : numpy.ndarray of shapely geometries
        The delivery's polygons in Albers metres.
    usable : numpy.ndarray of bool
        Rows to compare.
    key : pandas.Series
        Each row's key ``adcode/project_id``; a polygon does not overlap its
        own earlier version.
    existing : geopandas.GeoDataFrame
        The store's current polygons (``key``, ``project_type``, geometry in
        EPSG:4490).
    min_overlap_mu : float
        Smallest overlap reported (mu).
    """
    ex = existing
    ex_geoms = albers_geometries(existing)
    tree = shapely.STRtree(ex_geoms)
    idx = np.flatnonzero(usable)
    pairs = tree.query(albers[idx], predicate="intersects")
    if not pairs.shape[1]:
        return
    a = idx[pairs[0]]
    b = pairs[1]
    types = read_project_types()
    adds = set(types.index[types["adds_forest_area"]])
    new_t, old_t = _text(frame["project_type"])[a], _text(ex["project_type"])[b]
    same_type = (new_t == old_t) | (
        np.isin(new_t, list(adds)) & np.isin(old_t, list(adds))
    )
    not_self = _text(key)[a] != _text(ex["key"])[b]
    keep = same_type & not_self
    a, b = a[keep], b[keep]
    if not len(a):
        return
    inter_mu = shapely.area(shapely.intersection(albers[a], ex_geoms[b])) / M2_PER_MU
    for i, j, mu in zip(a, b, inter_mu, strict=True):
        if mu >= min_overlap_mu:
            issues.add(
                int(i),
                "warning",
                "overlap_existing",
                "geometry",
                ex["key"].iloc[j],
                f"与库中图斑重叠 / overlaps {ex['key'].iloc[j]} "
                f"({ex['project_type'].iloc[j]}, "
                f"already in the store) by {mu:.1f} mu; the overlap is counted "
                "once in net area",
                "检查是否重复上报 / check whether the same land was delivered twice",
            )
