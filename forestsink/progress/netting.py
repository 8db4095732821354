"""Areas by district, year and project type: gross, net (overlaps once), split.

Pure computation over GeoDataFrames; nothing is read or written here.

Rules (the README states them too):

* **Areas** are ellipsoidal, computed in the Chongqing Albers equal-area
  projection (GRS80), in mu.
* **Split**: a polygon crossing a district boundary is split by area between
  the districts; the part outside the city (if any) stays with the district
  its attributes name, so gross totals equal polygon areas.
* **Net**: within one group of types — all types that add new forest area
  form one group (the same land re-planted under another programme is still
  one piece of new forest), every other type is its own group — land
  covered by several polygons is counted once, for the earliest polygon
  (year, then key). ``overlap_area_mu = gross_area_mu - net_area_mu``.
* **New forest area** = net area of the types whose rule says they add area.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from forestsink.area import albers_geometries, albers_xy
from forestsink.units import M2_PER_MU


def split_by_district(frame, districts) -> pd.DataFrame:
    """Split polygons by district boundaries.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Project polygons with ``key``, ``adcode`` (declared district), any CRS.
    districts : geopandas.GeoDataFrame
        ``adcode`` and polygons, any CRS.

    Returns
    -------
    pandas.DataFrame
        One row per piece: ``key``, ``adcode`` (where the piece lies),
        ``share`` (piece area ÷ polygon area), ``area_mu``, ``geometry``
        (shapely, Chongqing Albers metres). Shares of one key sum to 1.
    """
    if len(frame) and len(districts) > 1:
        # only the districts the polygons can reach (a task's share of a
        # country need not map and test every county)
        x0, y0, x1, y1 = frame.total_bounds
        if frame.crs is not None and districts.crs is not None:
            x0, y0, x1, y1 = Transformer.from_crs(
                frame.crs, districts.crs, always_xy=True
            ).transform_bounds(x0, y0, x1, y1, densify_pts=21)
        districts = districts.iloc[
            shapely.STRtree(districts.geometry.values).query(
                shapely.box(x0, y0, x1, y1)
            )
        ]
    geoms = albers_geometries(frame)
    d_geoms = albers_geometries(districts)
    d_codes = districts["adcode"].to_numpy(dtype=object)
    keys = frame["key"].to_numpy(dtype=object)
    declared = frame["adcode"].to_numpy(dtype=object)
    area = shapely.area(geoms)
    n = len(geoms)

    tree = shapely.STRtree(geoms)
    inside = np.full(n, -1)
    for j, d in enumerate(d_geoms):
        inside[tree.query(d, predicate="contains_properly")] = j
    whole = np.flatnonzero(inside >= 0)
    parts_key = [keys[whole]]
    parts_code = [d_codes[inside[whole]]]
    parts_geom = [geoms[whole]]
    rest = np.flatnonzero(inside < 0)
    if len(rest):
        dtree = shapely.STRtree(d_geoms)
        pairs = dtree.query(geoms[rest], predicate="intersects")
        pieces = shapely.intersection(geoms[rest][pairs[0]], d_geoms[pairs[1]])
        keep = ~shapely.is_empty(pieces) & (shapely.area(pieces) > 0)
        parts_key.append(keys[rest][pairs[0]][keep])
        parts_code.append(d_codes[pairs[1]][keep])
        parts_geom.append(pieces[keep])
        covered = np.zeros(len(rest))
        np.add.at(covered, pairs[0][keep], shapely.area(pieces[keep]))
        spill = area[rest] - covered > 1e-6 * np.maximum(area[rest], 1.0)
        if spill.any():
            # the part outside the city stays with the declared district, as
            # area only (its geometry is not needed for net-area overlaps)
            parts_key.append(keys[rest][spill])
            parts_code.append(declared[rest][spill])
            parts_geom.append(np.full(spill.sum(), None, dtype=object))
    pieces = pd.DataFrame(
        {
            "key": np.concatenate(parts_key),
            "adcode": np.concatenate(parts_code),
            "geometry": np.concatenate(parts_geom),
        }
    )
    whole_area = pd.Series(area, index=keys)
    piece_area = shapely.area(pieces["geometry"].to_numpy())
    piece_area = np.where(pd.isna(pieces["geometry"]), np.nan, piece_area)
    pieces["area_m2"] = piece_area
    # the residual (outside-city) piece gets the area no district took
    taken = pieces.groupby("key")["area_m2"].sum(min_count=1)
    residual_rows = pieces["geometry"].isna().to_numpy()
    if residual_rows.any():
        rk = pieces.loc[residual_rows, "key"]
        pieces.loc[residual_rows, "area_m2"] = (
            whole_area.loc[rk].to_numpy() - taken.reindex(rk).fillna(0).to_numpy()
        )
    total = whole_area.loc[pieces["key"]].to_numpy()
    pieces["share"] = np.where(total > 0, pieces["area_m2"] / total, 0.0)
    pieces["area_mu"] = pieces["area_m2"] / M2_PER_MU
    return pieces.drop(columns="area_m2")


def _components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Label the connected components (union-find) of *n* nodes and *pairs*."""
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(pairs[0], pairs[1], strict=True):
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)])


def net_areas(
    pieces: pd.DataFrame, *, group: pd.Series, order: pd.Series
) -> np.ndarray:
    """Net area (mu) of each piece: overlaps counted once, for the earliest.

    Parameters
    ----------
    pieces : DataFrame
        From :func:`split_by_district` (``adcode``, ``geometry``, ``area_mu``).
    group : Series
        Overlaps only count between pieces with the same group label.
    order : Series
        Sort key; among overlapping pieces the smallest keeps the land.

    Returns
    -------
    numpy.ndarray
        Net area in mu per piece (equal to ``area_mu`` where nothing overlaps).
    """
    net = pieces["area_mu"].to_numpy(dtype="float64").copy()
    geoms = pieces["geometry"].to_numpy()
    has_geom = ~pd.isna(geoms)
    # rank of each piece's sort key (plain integers: the keys may be Arrow
    # strings, costly to convert inside the loop)
    rank = pd.factorize(order.to_numpy(dtype=object), sort=True)[0]
    labels = (pieces["adcode"].astype(str) + "|" + group.astype(str)).to_numpy()
    codes = pd.factorize(labels)[0]
    with_geom = np.flatnonzero(has_geom)
    by_label = with_geom[np.argsort(codes[with_geom], kind="stable")]
    bounds = np.flatnonzero(np.diff(codes[by_label])) + 1
    for idx in np.split(by_label, bounds):
        if len(idx) < 2:
            continue
        tree = shapely.STRtree(geoms[idx])
        pairs = tree.query(geoms[idx], predicate="intersects")
        pairs = pairs[:, pairs[0] < pairs[1]]
        if not pairs.shape[1]:
            continue
        touching = shapely.area(
            shapely.intersection(geoms[idx][pairs[0]], geoms[idx][pairs[1]])
        )
        pairs = pairs[:, touching > 0]
        if not pairs.shape[1]:
            continue
        comp = _components(len(idx), pairs)
        members = np.unique(np.concatenate([pairs[0], pairs[1]]))
        for root in np.unique(comp[members]):
            local = idx[comp == root]
            local = local[np.argsort(rank[local], kind="stable")]
            covered = None
            for i in local:
                g = geoms[i]
                if covered is None:
                    covered = g
                    continue
                net[i] = shapely.area(shapely.difference(g, covered)) / M2_PER_MU
                covered = shapely.union(covered, g)
    return net


#: Attributes every piece carries from its polygon.
PIECE_ATTRIBUTES = ("year", "project_type", "species", "stock_volume_m3")
#: Before/after volumes (m³) carried when the frame has them
#: (:func:`forestsink.progress.add_stock_attrs`); multiplied by the share.
VOLUME_PAIR = ("stock_before_m3", "stock_after_m3")
#: Standing stock per hectare (m³/ha), carried as is.
STOCK_PER_HA = "stock_per_ha_m3"


def _carried(frame) -> tuple[str, ...]:
    extra = (*VOLUME_PAIR, STOCK_PER_HA)
    return (*PIECE_ATTRIBUTES, *(c for c in extra if c in frame.columns))


def project_pieces(frame, districts, *, types: pd.DataFrame) -> pd.DataFrame:
    """Pieces of every polygon per district with gross and net areas.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Current store polygons (``key``, ``adcode``, ``year``,
        ``project_type``, ``stock_volume_m3``, ``species`` ...).
    districts : geopandas.GeoDataFrame
    types : DataFrame
        From :func:`forestsink.reference.read_project_types` (the rules).

    Returns
    -------
    pandas.DataFrame
        One row per piece with ``key``, ``adcode``, ``share``, ``year``,
        ``project_type``, ``species``, ``gross_area_mu``, ``net_area_mu``,
        ``new_forest_area_mu``, ``stock_volume_m3`` (delivered standing
        stock × share, m³, or where only a per-hectare stock
        ``stock_per_ha_m3`` was delivered, that × the piece's area in ha;
        NaN where none was delivered or the type adds no volume) and, when
        *frame* has them, ``stock_before_m3`` and ``stock_after_m3`` (×
        share).
    """
    if frame.empty:
        return pd.DataFrame(
            columns=[
                "key",
                "adcode",
                "share",
                "year",
                "project_type",
                "species",
                "gross_area_mu",
                "net_area_mu",
                "new_forest_area_mu",
                "stock_volume_m3",
            ]
        )
    return net_pieces(split_with_attributes(frame, districts), types=types)


def split_with_attributes(frame, districts) -> pd.DataFrame:
    """Split polygons by district and carry the attributes netting needs.

    The first half of :func:`project_pieces`; pieces of one destination
    district can then be netted anywhere (the Dask engine does that per
    district after moving pieces to where their district is handled).
    """
    pieces = split_by_district(frame, districts)
    attrs = frame.drop(columns=["geometry", "adcode"]).set_index("key")
    for column in _carried(frame):
        pieces[column] = attrs[column].reindex(pieces["key"]).to_numpy()
    return pieces


#: Margin of :func:`albers_boxes`: relative (of the box's size) and absolute
#: (metres). A straight edge in Albers departs from the image of the degree
#: box by at most its length² / (8 ρ), ρ ≥ 7,000 km (the radius of a
#: parallel in this projection north to 55° N): under 1 % of the size for
#: polygons up to 500 km across.
ALBERS_BOX_MARGIN = (0.01, 10.0)


def albers_boxes(bounds: np.ndarray) -> np.ndarray:
    """Boxes in Chongqing Albers (m) around polygons with these degree bounds.

    Each box contains the Albers image of every polygon inside the degree
    box (``minx, miny, maxx, maxy`` rows, EPSG:4490): 9 points along each
    edge of the degree box are mapped, and the box around them is widened
    by :data:`ALBERS_BOX_MARGIN`. Cheap: 32 points per polygon, however many
    vertices it has.
    """
    bounds = np.asarray(bounds, dtype=np.float64).reshape(-1, 4)
    x0, y0, x1, y1 = (bounds[:, [i]] for i in range(4))
    t = np.linspace(0.0, 1.0, 9)[None, :]
    ones = np.ones_like(t)
    xs = np.hstack([x0 + (x1 - x0) * t, x1 * ones, x0 + (x1 - x0) * t, x0 * ones])
    ys = np.hstack([y0 * ones, y0 + (y1 - y0) * t, y1 * ones, y0 + (y1 - y0) * t])
    ax, ay = albers_xy(xs, ys)
    lo_x, hi_x, lo_y, hi_y = ax.min(1), ax.max(1), ay.min(1), ay.max(1)
    rel, absolute = ALBERS_BOX_MARGIN
    pad = rel * np.maximum(hi_x - lo_x, hi_y - lo_y) + absolute
    return np.column_stack([lo_x - pad, lo_y - pad, hi_x + pad, hi_y + pad])


def whole_pieces(frame, *, area_mu=None) -> pd.DataFrame:
    """Pieces of polygons known to lie wholly inside their declared district.

    The same rows :func:`split_with_attributes` gives such polygons (one
    piece, ``share`` 1, the declared ``adcode``) but **without geometry**:
    ``geometry`` is None until :func:`add_overlap_geometries` gives the few
    that may overlap another piece their Albers geometry. *area_mu*: the
    polygons' ellipsoidal areas when known (a dataset's ``area_mu``, computed
    by the same :func:`~forestsink.area.albers_geometries`); else computed.
    """
    if area_mu is None:
        area_mu = shapely.area(albers_geometries(frame)) / M2_PER_MU
    pieces = pd.DataFrame(
        {
            "key": frame["key"].to_numpy(dtype=object),
            "adcode": frame["adcode"].to_numpy(dtype=object),
            "geometry": np.full(len(frame), None, dtype=object),
            "share": np.ones(len(frame)),
            "area_mu": np.asarray(area_mu, dtype=np.float64),
        }
    )
    for column in _carried(frame):
        pieces[column] = frame[column].to_numpy()
    return pieces


def add_overlap_geometries(pieces: pd.DataFrame, rows, degrees) -> pd.DataFrame:
    """Give the whole pieces that may overlap another piece their geometry.

    *rows* are the positions in *pieces* of pieces from :func:`whole_pieces`
    and *degrees* their polygons (EPSG:4490). A whole piece whose
    :func:`albers_boxes` box meets no other piece's box overlaps nothing, so
    netting needs no geometry for it (most pieces); the others are mapped to
    Albers. Returns *pieces* with ``geometry`` filled in for those.
    """
    pieces = pieces.reset_index(drop=True)
    rows = np.asarray(rows, dtype=np.int64)
    geoms = pieces["geometry"].to_numpy(dtype=object).copy()
    boxes = np.full((len(pieces), 4), np.nan)
    has = ~pd.isna(geoms)
    if has.any():
        boxes[has] = shapely.bounds(geoms[has])
    if len(rows):
        boxes[rows] = albers_boxes(shapely.bounds(np.asarray(degrees, dtype=object)))
    ok = np.flatnonzero(~np.isnan(boxes[:, 0]))
    if len(ok) < 2 or not len(rows):
        return pieces
    tree = shapely.STRtree(shapely.box(*boxes[ok].T))
    pairs = tree.query(shapely.box(*boxes[ok].T))  # box against box: exact
    pairs = pairs[:, pairs[0] != pairs[1]]
    near = np.zeros(len(pieces), dtype=bool)
    near[ok[pairs[0]]] = True
    pick = near[rows]
    if pick.any():
        chosen = gpd.GeoSeries(np.asarray(degrees, dtype=object)[pick], crs=4490)
        geoms[rows[pick]] = albers_geometries(chosen)
    pieces["geometry"] = geoms
    return pieces


def net_pieces(pieces: pd.DataFrame, *, types: pd.DataFrame) -> pd.DataFrame:
    """Gross, net and new-forest areas of split pieces (second half).

    Netting only looks at pieces of the same district, so pieces may be
    processed in groups of whole districts with the same result.
    """
    pieces = pieces.reset_index(drop=True)
    adds_area = types["adds_forest_area"].reindex(pieces["project_type"]).fillna(False)
    adds_volume = (
        types["adds_stock_volume"].reindex(pieces["project_type"]).fillna(False)
    )
    group = pd.Series(
        np.where(adds_area.to_numpy(), "new_forest", pieces["project_type"]),
        index=pieces.index,
    )
    order = pieces["year"].astype("Int64").astype(str) + "|" + pieces["key"]
    pieces["gross_area_mu"] = pieces["area_mu"]
    pieces["net_area_mu"] = net_areas(pieces, group=group, order=order)
    pieces["new_forest_area_mu"] = np.where(
        adds_area.to_numpy(), pieces["net_area_mu"], 0.0
    )
    volume = pd.to_numeric(pieces["stock_volume_m3"], errors="coerce") * pieces["share"]
    if STOCK_PER_HA in pieces.columns:  # only a per-hectare stock delivered
        per_ha = pd.to_numeric(pieces[STOCK_PER_HA], errors="coerce")
        volume = volume.fillna(per_ha * pieces["area_mu"] / 15.0)
    pieces["stock_volume_m3"] = volume.where(adds_volume.to_numpy())
    for column in VOLUME_PAIR:
        if column in pieces.columns:
            pair = pd.to_numeric(pieces[column], errors="coerce") * pieces["share"]
            pieces[column] = pair
    return pieces.drop(columns=["geometry", "area_mu"])
