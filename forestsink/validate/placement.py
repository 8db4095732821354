"""Placement checks: outside the city, in another district, across districts.

Each polygon's share of area in every district is computed in the
equal-area Albers projection (metres), exactly, against the districts cut
into small pieces by a grid (cut once per process, kept as WKB; each thread
makes and prepares its own geometries from it). Tolerances: see
:func:`forestsink.validate.delivery.validate_delivery` (``min_inside``,
``district_warn``).
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np
import pandas as pd
import shapely

from forestsink.area import albers_geometries
from forestsink.validate.issues import Issues

#: side of the grid cells that cut the districts into pieces (metres, Albers)
PIECE_SIZE_M = 10_000.0
#: per-thread cache of the pieces: GEOS builds a prepared geometry's internal
#: indexes lazily on first use, so prepared geometries shared by two threads
#: (two ingests at once) can crash the process; each thread keeps its own
_PIECES = threading.local()
#: districts whose pieces a thread keeps (then it starts again)
_PIECES_KEPT = 5_000
#: per process, what threads may share, as WKB (bytes, not GEOS objects):
#: ``albers`` (the last districts projected) and ``cuts`` (pieces of each
#: district by its key). Cutting the 38 districts takes about 0.3 s, making
#: a thread's prepared pieces from their WKB about 10 ms (measured): a web
#: server's pool threads each cut them before (#20)
_SHARED: dict = {"albers": None, "cuts": {}}
_SHARED_LOCK = threading.Lock()


def check_placement(
    frame,
    issues: Issues,
    checked,
    districts,
    *,
    min_inside: float,
    district_warn: float,
) -> None:
    """Report polygons outside the city, in another district or across one.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Delivery frame with ``adcode`` (declared district) and
        ``district_raw``.
    issues : Issues
    checked : forestsink.validate.geometry.CheckedGeometry
        Albers geometries (metres), areas (m²) and usable rows.
    districts : geopandas.GeoDataFrame
        District polygons with ``adcode`` and ``name_zh`` (any CRS).
    min_inside, district_warn : float
        Area fractions: below *min_inside* in the city (or in the declared
        district while another holds more) is an error; below
        *district_warn* in the declared district, a warning.
    """
    n = len(frame)
    usable = checked.usable
    names = dict(zip(districts["adcode"], districts["name_zh"], strict=True))
    d_albers = _district_albers(districts)
    d_codes = districts["adcode"].to_numpy()
    inside = inside_fractions(checked.albers, usable, d_albers, checked.area_m2)
    in_city = inside.sum(axis=1)
    adcodes = frame["adcode"].astype("string").fillna("").to_numpy(dtype=str)
    declared = pd.Index(d_codes).get_indexer(adcodes)  # -1: not a district
    share = np.where(declared >= 0, inside[np.arange(n), np.maximum(declared, 0)], 1)
    suspect = usable & ((in_city < min_inside) | (share < district_warn))
    for i in np.flatnonzero(suspect):
        if in_city[i] < min_inside:
            issues.add(
                i,
                "error",
                "outside_chongqing",
                "geometry",
                f"{in_city[i]:.0%} inside",
                f"图斑在重庆市外 / polygon lies outside Chongqing "
                f"({in_city[i]:.0%} of its area inside the city)",
                "检查坐标与坐标系 / check the coordinates and the CRS of this feature",
            )
            continue
        code = adcodes[i]
        if code is None or pd.isna(code):
            continue
        _check_district(
            frame, issues, i, code, inside[i], d_codes, names, min_inside, district_warn
        )


def _check_district(
    frame, issues, i, code, inside_i, d_codes, names, min_inside, district_warn
) -> None:
    """Report polygon *i* lying mostly in another district, or across one.

    *inside_i* is its share of area in each district (order of *d_codes*).
    """
    j = int(np.flatnonzero(d_codes == code)[0])
    best = int(np.argmax(inside_i))
    if inside_i[j] < min_inside and best != j:
        issues.add(
            i,
            "error",
            "wrong_district",
            "district",
            frame["district_raw"].iloc[i],
            f"区县与位置不符 / polygon is declared in {names[code]} ({code}) but "
            f"{inside_i[best]:.0%} of it lies in {names[d_codes[best]]} "
            f"({d_codes[best]}), {inside_i[j]:.0%} in {names[code]}",
            "改正区县列或几何 / correct the district column or the geometry",
        )
    elif inside_i[j] < district_warn:
        issues.add(
            i,
            "warning",
            "crosses_district",
            "district",
            code,
            f"图斑跨区县 / only {inside_i[j]:.0%} of the polygon lies in "
            f"{names[code]} (boundaries are accurate to about 100 m)",
            "检查区县边界附近的图斑 / check the polygon near the district boundary",
        )


def inside_fractions(albers, usable, d_albers, area_m2) -> np.ndarray:
    """Fraction of each polygon's area inside each district (n × districts).

    Exact: 1.0 where a district contains the polygon properly (as
    ``contains_properly``), else the area of the intersection. Both are
    computed against the districts cut into pieces by a grid
    (:func:`district_pieces`), which are small, so that each test costs a few
    dozen vertices instead of a whole district boundary.

    Parameters
    ----------
    albers : numpy.ndarray of shapely geometries
        The polygons in Albers metres.
    usable : numpy.ndarray of bool
        Polygons to measure; the others get zeros.
    d_albers : numpy.ndarray of shapely geometries
        The districts in Albers metres.
    area_m2 : numpy.ndarray of float
        Each polygon's area (m²).

    Returns
    -------
    numpy.ndarray of float, shape (n, number of districts)
    """
    n, k = len(albers), len(d_albers)
    out = np.zeros((n, k))
    idx = np.flatnonzero(usable)
    if not len(idx):
        return out
    pieces, owner = district_pieces(d_albers)
    # wholly inside a piece: inside its district (the piece's interior is);
    # ask each (prepared) piece for the polygons whose bounding box it
    # contains (a box inside is a polygon inside; five vertices test faster)
    boxes = shapely.box(*shapely.bounds(albers[idx]).T)
    found = shapely.STRtree(boxes).query(pieces, predicate="contains_properly")
    out[idx[found[1]], owner[found[0]]] = 1.0
    done = np.zeros(n, dtype=bool)
    done[idx[found[1]]] = True
    rest = idx[~done[idx]]
    if not len(rest):
        return out
    a, b = shapely.STRtree(pieces).query(albers[rest], predicate="intersects")
    a = rest[a]
    # across piece edges: ask the (prepared) district itself
    pairs = np.unique(np.column_stack([a, owner[b]]), axis=0)
    shapely.prepare(d_albers)
    inside = shapely.contains_properly(d_albers[pairs[:, 1]], albers[pairs[:, 0]])
    out[pairs[inside, 0], pairs[inside, 1]] = 1.0
    done[pairs[inside, 0]] = True
    # the rest crosses a district boundary: intersect with the pieces
    cut = ~done[a]
    a, b = a[cut], b[cut]
    if len(a):
        inter = shapely.area(shapely.intersection(albers[a], pieces[b]))
        np.add.at(out, (a, owner[b]), inter / area_m2[a])
    return out


def _district_albers(districts) -> np.ndarray:
    """Return the districts in Albers metres, once while *districts* recur.

    The same boundaries are recognised by their geometry objects (shapely
    geometries never change): ``read_districts`` hands out copies of one
    frame read once per process, which share them. Kept per thread (see
    :data:`_PIECES`), with the geometries, so that their identities are not
    reused.
    """
    values, crs = districts.geometry.to_numpy(), districts.crs
    last = _PIECES.__dict__.get("albers")
    if last is not None and _same_objects(last[0], values) and last[2] == crs:
        return last[1]
    with _SHARED_LOCK:
        shared = _SHARED["albers"]
    if shared is not None and _same_objects(shared[0], values) and shared[2] == crs:
        d_albers = shapely.from_wkb(shared[1])  # this thread's own objects
    else:
        d_albers = albers_geometries(districts)
        with _SHARED_LOCK:
            _SHARED["albers"] = (values, shapely.to_wkb(d_albers), crs)
    _PIECES.albers = (values, d_albers, crs)
    return d_albers


def _same_objects(a: np.ndarray, b: np.ndarray) -> bool:
    """Tell whether *a* and *b* hold the very same objects, in the same order."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def district_pieces(d_albers) -> tuple[np.ndarray, np.ndarray]:
    """Cut the districts by a square grid; return pieces and their districts.

    The pieces of a district cover it exactly (they are its intersections
    with the grid cells). Cut once per district (by its exact coordinates)
    and process, kept as WKB (:data:`_SHARED`); each thread makes and
    prepares its own pieces from that once, and keeps them (see
    :data:`_PIECES`): a country's deliveries each check against a few
    neighbouring counties, which recur.

    Parameters
    ----------
    d_albers : numpy.ndarray of shapely geometries
        The districts in Albers metres.

    Returns
    -------
    pieces : numpy.ndarray of shapely geometries
        The pieces (prepared), Albers metres; not to be shared with another
        thread.
    owner : numpy.ndarray of int
        Position in *d_albers* of each piece's district.
    """
    last = _PIECES.__dict__.get("pieces")
    if last is not None and last[0] is d_albers:  # the same districts again
        return last[1]
    cache = _PIECES.__dict__.setdefault("by_district", {})
    if len(cache) > _PIECES_KEPT:
        cache.clear()
    pieces, owner = [], []
    for j, wkb in enumerate(shapely.to_wkb(d_albers).tolist()):
        key = hashlib.sha256(wkb).digest()
        if key not in cache:
            cache[key] = _thread_pieces(key, d_albers[j])
        pieces.append(cache[key])
        owner.append(np.full(len(cache[key]), j))
    if not pieces:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
    result = np.concatenate(pieces), np.concatenate(owner)
    _PIECES.pieces = (d_albers, result)
    return result


def _thread_pieces(key: bytes, district) -> np.ndarray:
    """Return the calling thread's prepared pieces of *district* (cut once)."""
    with _SHARED_LOCK:
        wkb = _SHARED["cuts"].get(key)
    if wkb is not None:
        part = shapely.from_wkb(wkb)
        shapely.prepare(part)
        return part
    part = _cut(district)
    with _SHARED_LOCK:
        if len(_SHARED["cuts"]) > _PIECES_KEPT:
            _SHARED["cuts"].clear()
        _SHARED["cuts"][key] = shapely.to_wkb(part)
    return part


def _cut(district) -> np.ndarray:
    """One district cut by the grid of :data:`PIECE_SIZE_M` cells (prepared)."""
    shapely.prepare(district)
    x0, y0, x1, y1 = shapely.bounds(district)
    xs = np.arange(x0, x1 + PIECE_SIZE_M, PIECE_SIZE_M)
    ys = np.arange(y0, y1 + PIECE_SIZE_M, PIECE_SIZE_M)
    gx, gy = np.meshgrid(xs[:-1], ys[:-1])
    cells = shapely.box(
        gx.ravel(), gy.ravel(), gx.ravel() + PIECE_SIZE_M, gy.ravel() + PIECE_SIZE_M
    )
    cells = cells[shapely.intersects(district, cells)]
    part = shapely.intersection(district, cells)
    part = part[~shapely.is_empty(part)]
    shapely.prepare(part)
    return part
