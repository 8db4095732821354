"""Geometry checks: missing, non-finite, not polygonal, invalid, slivers; areas.

Input geometry is in the frame's CRS (EPSG:4490 from
:func:`forestsink.ingest.read_delivery`); areas are ellipsoidal, computed in
an equal-area (Albers) projection, in m² and mu. With ``fix=True`` what is
safe to repair is repaired (polygonal parts kept, ``make_valid``, slivers
dropped) and reported with severity ``fixed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from forestsink.area import albers_geometries, albers_of
from forestsink.units import M2_PER_MU
from forestsink.validate.issues import Issues

#: GEOS validity reasons --fix leaves as errors: make_valid would change the
#: area (a hole outside its shell becomes an extra island, 71.6 mu stored
#: against the shell's 63.7 in the hostile-input review)
NOT_REPAIRED = ("Hole lies outside shell", "Holes are nested", "Nested shells")

#: repair notice shared by every geometry fixed automatically
_REPAIRED_ACTION = (
    "已自动修复，请在GIS中核对 / repaired automatically: check the polygon in your GIS"
)


@dataclass
class CheckedGeometry:
    """Geometry of a delivery after the geometry checks.

    Attributes
    ----------
    geoms : numpy.ndarray of shapely geometries
        The geometries in the frame's CRS, repaired where ``fix=True``.
    usable : numpy.ndarray of bool
        Rows whose geometry the later checks may use (no geometry error).
    repaired : bool
        True when any geometry was changed.
    albers : numpy.ndarray of shapely geometries
        *geoms* in the equal-area Albers projection (metres).
    area_m2 : numpy.ndarray of float
        Ellipsoidal area in m²; NaN where the geometry was already refused.
    sliver : numpy.ndarray of bool
        Rows of (almost) zero area (< 1 m²).
    """

    geoms: np.ndarray
    usable: np.ndarray
    repaired: bool
    albers: np.ndarray
    area_m2: np.ndarray
    sliver: np.ndarray

    @property
    def area_mu(self) -> np.ndarray:
        """Ellipsoidal area in mu (NaN where the geometry is refused)."""
        return self.area_m2 / M2_PER_MU


def polygonal(geom):
    """Keep only the polygonal parts of a geometry (after make_valid).

    Parameters
    ----------
    geom : shapely.Geometry or None

    Returns
    -------
    shapely.Geometry or None
        The geometry itself when a (Multi)Polygon, the union of the polygonal
        parts of a GeometryCollection, an empty Polygon otherwise; None for
        None.
    """
    if geom is None:
        return None
    kind = shapely.get_type_id(geom)
    if kind in (3, 6):  # Polygon, MultiPolygon
        return geom
    if kind == 7:  # GeometryCollection
        parts = [g for g in shapely.get_parts(geom) if shapely.get_type_id(g) in (3, 6)]
        if not parts:
            return shapely.Polygon()
        return shapely.union_all(parts)
    return shapely.Polygon()


def check_geometry(frame, issues: Issues, *, fix: bool) -> CheckedGeometry:
    """Check (and with *fix*, repair) the geometry; compute the areas.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Delivery frame (EPSG:4490, or any CRS with units it states).
    issues : Issues
        Where problems are recorded, in the order: missing geometry,
        non-finite coordinates, not polygonal or empty, invalid, sliver.
    fix : bool
        Repair what is safe to repair (see :func:`validate_delivery`).

    Returns
    -------
    CheckedGeometry
    """
    n = len(frame)
    # a copy, repaired in place; the result frame is built once at the end
    # (each step on a GeoDataFrame costs about a millisecond, whatever its size)
    geoms = np.array(frame.geometry.values, dtype=object)
    usable = np.ones(n, dtype=bool)
    missing = _check_missing(geoms, issues, usable)
    _check_coordinates(geoms, missing, issues, usable)
    repaired = _check_types(geoms, issues, usable, fix=fix)
    repaired |= _check_validity(geoms, issues, usable, fix=fix)
    albers, area_m2 = _project(frame, geoms, usable)
    sliver = _check_slivers(area_m2, issues, usable, fix=fix)
    return CheckedGeometry(
        geoms=geoms,
        usable=usable,
        repaired=repaired,
        albers=albers,
        area_m2=area_m2,
        sliver=sliver,
    )


def _check_missing(geoms, issues: Issues, usable: np.ndarray) -> np.ndarray:
    """Report features without geometry; return their mask."""
    missing = shapely.is_missing(geoms)
    for i in np.flatnonzero(missing):
        issues.add(
            i,
            "error",
            "empty_geometry",
            "geometry",
            None,
            "图斑没有几何 / feature has no geometry",
            "补画图斑或删除该行 / draw the polygon or delete the row",
        )
        usable[i] = False
    return missing


def _check_coordinates(geoms, missing, issues: Issues, usable: np.ndarray) -> None:
    """Report geometries with NaN or infinite coordinates."""
    n = len(geoms)
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    coords_nan = np.zeros(n, dtype=bool)
    coords_nan[owner[~np.isfinite(coords).all(axis=1)]] = True
    for i in np.flatnonzero(coords_nan & ~missing):
        issues.add(
            i,
            "error",
            "nan_coordinates",
            "geometry",
            None,
            "坐标含非数值或无穷值 / polygon has NaN (not-a-number) or infinite "
            "coordinates",
            "从原GIS重新导出 / re-export the feature from the source GIS",
        )
        usable[i] = False


def _check_types(geoms, issues: Issues, usable: np.ndarray, *, fix: bool) -> bool:
    """Report geometries that are not polygons, or empty ones.

    With *fix*, a GeometryCollection is reduced to its polygonal parts
    (in *geoms*). Returns True when a geometry was repaired.
    """
    repaired_any = False
    kinds = shapely.get_type_id(geoms)
    suspect = usable & (~np.isin(kinds, (3, 6)) | shapely.is_empty(geoms))
    for i in np.flatnonzero(suspect):
        g = geoms[i]
        if kinds[i] == 7 and fix:
            repaired = polygonal(g)
            if repaired is not None and not repaired.is_empty:
                geoms[i] = repaired
                repaired_any = True
                issues.add(
                    i,
                    "fixed",
                    "non_polygon",
                    "geometry",
                    "GeometryCollection",
                    "几何集合已只保留面部分 / geometry collection reduced to its "
                    f"{len(shapely.get_parts(repaired))} polygon part(s); lines "
                    "and points dropped",
                    _REPAIRED_ACTION,
                )
                continue
        if kinds[i] not in (3, 6):
            issues.add(
                i,
                "error",
                "non_polygon",
                "geometry",
                shapely.get_type_id(g) if g is None else g.geom_type,
                f"几何不是面 / geometry is a {g.geom_type}, not a polygon",
                "项目范围须为面 / deliver project areas as polygons",
            )
            usable[i] = False
        elif g.is_empty:
            issues.add(
                i,
                "error",
                "empty_geometry",
                "geometry",
                None,
                "面为空 / polygon is empty",
                "补画图斑或删除该行 / draw the polygon or delete the row",
            )
            usable[i] = False
    return repaired_any


def _check_validity(geoms, issues: Issues, usable: np.ndarray, *, fix: bool) -> bool:
    """Report invalid geometries; with *fix* rebuild them with ``make_valid``.

    Ring-order faults (:data:`NOT_REPAIRED`) stay errors whatever *fix*
    says. Returns True when a geometry was repaired (in *geoms*).
    """
    repaired_any = False
    valid = shapely.is_valid(geoms)
    for i in np.flatnonzero(usable & ~valid):
        reason = shapely.is_valid_reason(geoms[i])
        if reason.startswith(NOT_REPAIRED):
            _refuse_ring_order(i, reason, issues)
            usable[i] = False
            continue
        if fix and _repair_invalid(i, reason, geoms, issues):
            repaired_any = True
            continue
        issues.add(
            i,
            "error",
            "invalid_geometry",
            "geometry",
            reason,
            f"几何无效 / invalid geometry: {reason}",
            "在GIS中修复，或自动修复 / repair it in your GIS (or land it with "
            "the fix option, which applies make_valid)",
            option="fix",
        )
        usable[i] = False
    return repaired_any


def _refuse_ring_order(i: int, reason: str, issues: Issues) -> None:
    """Report a ring-order fault, which no repair may change.

    make_valid would turn such a hole into an island (area added) or a shell
    into a hole (area removed): what the county meant is not known, so it is
    an error to report, not area to change.
    """
    issues.add(
        i,
        "error",
        "invalid_geometry",
        "geometry",
        reason,
        f"invalid geometry: {reason}: a hole (inner ring) outside its "
        "polygon, holes inside holes, or a polygon inside another part; "
        "the fix option does not repair this because the result would add or "
        "remove area",
        "redraw the rings in your GIS (holes inside their polygon), then deliver again",
    )


def _repair_invalid(i: int, reason: str, geoms, issues: Issues) -> bool:
    """Rebuild geometry *i* with ``make_valid``; False if nothing polygonal is left."""
    repaired = polygonal(shapely.make_valid(geoms[i]))
    if repaired is None or repaired.is_empty:
        return False
    before = shapely.area(geoms[i])
    after = shapely.area(repaired)
    change = (after - before) / before if before else float("nan")
    geoms[i] = repaired
    issues.add(
        i,
        "fixed",
        "invalid_geometry",
        "geometry",
        reason,
        f"无效几何已用 make_valid 修复 / invalid geometry ({reason}) "
        f"rebuilt with make_valid into "
        f"{len(shapely.get_parts(repaired))} valid polygon part(s); "
        f"area change {change:+.1%} of the shoelace area",
        _REPAIRED_ACTION,
    )
    return True


def _project(frame, geoms, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the geometries in Albers metres and their areas (m², NaN if refused).

    Rows already refused (NaN or infinite coordinates ...) are projected too
    but not used: numpy's warnings about them would only alarm users.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        albers = (
            albers_of(geoms, frame.crs)
            if frame.crs is not None
            else albers_geometries(frame)  # (raises: no CRS)
        )
        area_m2 = np.where(usable, shapely.area(albers), np.nan)
    return albers, area_m2


def _check_slivers(area_m2, issues: Issues, usable: np.ndarray, *, fix: bool):
    """Report polygons of (almost) zero area (< 1 m²); return their mask.

    With *fix* they are dropped (severity ``fixed``), else errors.
    """
    sliver = usable & (area_m2 < 1.0)
    for i in np.flatnonzero(sliver):
        if fix:
            issues.add(
                i,
                "fixed",
                "sliver",
                "geometry",
                f"{area_m2[i]:.3g} m²",
                "面积近零的碎片已剔除，不入库 / zero-area sliver left out: this "
                "feature is not loaded",
                "如应为地块请重画 / redraw it if it was meant to be a plot",
            )
        else:
            issues.add(
                i,
                "error",
                "sliver",
                "geometry",
                f"{area_m2[i]:.3g} m²",
                "面积近零 / polygon has (almost) zero area",
                "删除，或自动剔除 / delete it, or land it with the fix option to "
                "drop it",
                option="fix",
            )
        usable[i] = False
    return sliver
