"""Reconcile reported project polygons with the forest-resource map (一张图).

The bureau's check that reported work became forest: every project polygon is
overlaid on one year's sub-compartments (小班) and its area is split by what
the layer says the land is:

``forest_mu``
    on 小班 counted as forest (``is_forest``: 乔木林, 竹林, 国家特别规定灌木林);
``unestablished_mu``
    on 未成林地 (``land_group`` ``unestablished``: 0141 未成林造林地, 0142
    未成林封育地), the class a new planting has in its first years;
``other_forest_land_mu``
    on other forest land (疏林, 其他灌木林, 苗圃, 无立木林地, 宜林地 …);
``non_forest_mu``
    on 非林地 (farmland, construction land, water …);
``not_in_layer_mu``
    on no 小班 at all (a gap in the layer, or a county layer that is missing).

With an earlier layer (*before*), ``forest_before_mu`` is the polygon's area
that was forest then, and afforestation-type work (a project type that adds
forest area, ``adds_forest_area`` in ``data/project_types.csv``) done on land
that was mostly forest (more than :data:`PLANTED_ON_FOREST_SHARE` of the
polygon) is flagged ``planted_on_forest``: it cannot add forest area.

Project work and resource change are different quantities
(``official-statistics.md``): this table says where the reported land is in
the resource map, not how much the forest grew.

How it is computed
------------------
The 小班 go into one ``shapely.STRtree``; project polygons are queried in
bulk, a block of :data:`BLOCK_PROJECTS` at a time (``predicate="intersects"``),
every (project, 小班) pair is intersected at once with
``shapely.intersection`` in EPSG:4490, and the pieces are measured on the
GRS80 ellipsoid with :func:`forestsink.area.area_mu`; areas are summed per
project and land category with ``numpy.bincount``. No Python loop runs per
pair. Invalid geometries taking part in a pair are repaired
(``shapely.make_valid``) and counted in the messages.

CRS Notes: inputs in any CRS pyproj knows (transformed to EPSG:4490 when they
are in another); areas in mu (1 mu = 10000/15 m²) on the GRS80 ellipsoid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from forestsink.area import area_mu
from forestsink.errors import CRSError, InventoryError
from forestsink.reference import read_district_table, read_project_types

CITY_ADCODE = "500000"
"""The city row of the district table."""

ALL_TYPES = "all"
"""``project_type`` of the rows that sum every project type."""

PLANTED_ON_FOREST_SHARE = 0.5
"""Share of a polygon that must have been forest in the earlier layer to flag it.

An afforestation-type polygon (its type adds forest area) of which more than
this share (0.5 = 50 %, of the polygon's ellipsoidal area) lay on 小班
counted as forest in the earlier layer is flagged ``planted_on_forest``:
planting on land that is already forest cannot add forest area. Strictly more
than half, so the flag names land that was *mostly* forest; a polygon with a
little forest at its edge (digitising slivers) is not flagged.
"""

NOTE_SHARE = 0.01
"""Smallest share of a polygon (1 %) on no 小班 that gets a note."""

PIECE_TOLERANCE = 1e-3
"""Relative difference between a polygon and the sum of its pieces that is noise.

Areas are those of geodesic-edge polygons (:func:`forestsink.area.area_mu`),
and these are not exactly additive: a piece's edge along the project's
boundary gets a vertex where a 小班 boundary crosses it, and the geodesics
through that vertex differ from the project's one geodesic edge by a few
centimetres of sagitta. The pieces of a project of 150 mu with 800 m edges
sum to its area within 1.5e-5 (measured with ``pyproj.Geod``; the error grows
with edge length). Below this tolerance (0.1 % of the polygon) a difference
between the polygon's area and its pieces' is such noise: ``not_in_layer_mu``
is then 0 and no overlap is reported; above it, a part on no 小班 or
overlapping 小班 (noted).
"""

BLOCK_PROJECTS = 20_000
"""Project polygons queried and intersected at a time (bounds the memory)."""

#: land categories of the current layer, in column order
CATEGORIES = ("forest_mu", "unestablished_mu", "other_forest_land_mu", "non_forest_mu")

POLYGON_COLUMNS = (
    "key",
    "adcode",
    "project_id",
    "project_type",
    "year",
    "area_mu",
    *CATEGORIES,
    "not_in_layer_mu",
    "forest_share",
    "n_xiaoban",
)
"""Columns of :attr:`ReconcileResult.polygons` (without *before*)."""

BEFORE_COLUMNS = ("forest_before_mu", "not_in_before_mu", "planted_on_forest")
"""Columns added to the polygon table when an earlier layer is given."""

DISTRICT_COLUMNS = (
    "adcode",
    "name_zh",
    "name_en",
    "project_type",
    "type_zh",
    "type_en",
    "n_polygons",
    "area_mu",
    *CATEGORIES,
    "not_in_layer_mu",
    "forest_share",
)
"""Columns of :attr:`ReconcileResult.districts` (without *before*)."""

DISTRICT_BEFORE_COLUMNS = (
    "forest_before_mu",
    "n_planted_on_forest",
    "planted_on_forest_mu",
)
"""Columns added to the district table when an earlier layer is given."""

_PROJECT_COLUMNS = ("key", "adcode", "project_id", "project_type", "year", "geometry")
_LAYER_COLUMNS = ("adcode", "land_group", "is_forest", "is_forest_land", "geometry")


@dataclass
class ReconcileResult:
    """What :func:`reconcile` computes.

    Attributes
    ----------
    polygons : pandas.DataFrame
        One row per project polygon: :data:`POLYGON_COLUMNS`, with an earlier
        layer also :data:`BEFORE_COLUMNS`, then ``note`` (Chinese, then
        English). Areas in mu on the GRS80 ellipsoid; ``forest_share`` is
        ``forest_mu / area_mu`` (0–1).
    districts : pandas.DataFrame
        Sums per district and project type, a row per district over every
        type (``project_type`` ``all``), and city rows (``adcode`` 500000):
        :data:`DISTRICT_COLUMNS`, with an earlier layer also
        :data:`DISTRICT_BEFORE_COLUMNS`, then ``note``.
    year, before_year : int or None
        Years of the layers (from their ``year`` column) when they hold one.
    messages : list of str
        What the computation repaired or noticed (Chinese, then English).
    """

    polygons: pd.DataFrame
    districts: pd.DataFrame
    year: int | None = None
    before_year: int | None = None
    messages: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------


def _in_4490(gdf, what: str) -> np.ndarray:
    """Geometries of *gdf* in EPSG:4490 as a numpy object array."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InventoryError(
            f"{what}: 需要 GeoDataFrame，得到 {type(gdf).__name__} / needs a "
            f"GeoDataFrame, got {type(gdf).__name__}."
        )
    if gdf.crs is None:
        raise CRSError(
            f"{what}: 图层没有坐标系 / the layer has no CRS; set it "
            "(gdf.set_crs(4490)) before reconciling."
        )
    series = gdf.geometry
    if CRS.from_user_input(gdf.crs) != CRS.from_epsg(4490):
        series = series.to_crs(4490)
    return np.asarray(series.values, dtype=object)


def _require(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InventoryError(
            f"{what}: 缺少列 {missing} / missing column(s) {missing}; the frame "
            "must have the columns of the store's frames."
        )


def _flags(layer: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """Return a 0/1 column of *layer* as bool; refuse missing or other values."""
    values = pd.to_numeric(layer[column], errors="coerce").to_numpy(float)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        key = layer["key"].iloc[first] if "key" in layer.columns else first
        raise InventoryError(
            f"{what}, 列 {column}：{int(bad.sum())} 个小班的值不是 0/1（如 "
            f"{key!s}: {layer[column].iloc[first]!r}）/ {what}, column "
            f"{column!r}: {int(bad.sum())} 小班 hold a value other than 0/1 "
            f"(e.g. {key!s}: {layer[column].iloc[first]!r}); resolve their land "
            "classes (forestsink.inventory.resolve_land_classes) before reconciling."
        )
    return values == 1.0


def _categories(layer: pd.DataFrame, what: str) -> np.ndarray:
    """Category index (position in :data:`CATEGORIES`) of each 小班."""
    forest = _flags(layer, "is_forest", what)
    land = _flags(layer, "is_forest_land", what)
    unestablished = (layer["land_group"].astype(object) == "unestablished").to_numpy(
        bool
    )
    return np.select([forest, unestablished, land], [0, 1, 2], default=3).astype(
        np.int64
    )


def _outside(area: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Area (mu) on no 小班: 0 within :data:`PIECE_TOLERANCE` of the polygon."""
    gap = area - inside
    return np.where(gap > PIECE_TOLERANCE * area, gap, 0.0)


def _layer_year(layer: pd.DataFrame) -> int | None:
    if "year" not in layer.columns:
        return None
    years = pd.to_numeric(layer["year"], errors="coerce").dropna().unique()
    return int(years[0]) if len(years) == 1 else None


# --------------------------------------------------------------------------
# the overlay
# --------------------------------------------------------------------------


def _repair(geoms: np.ndarray, which: np.ndarray) -> int:
    """Make the invalid geometries among *which* valid, in place; count them."""
    if not len(which):
        return 0
    bad = which[~shapely.is_valid(geoms[which]) & ~shapely.is_missing(geoms[which])]
    if len(bad):
        geoms[bad] = shapely.make_valid(geoms[bad])
    return len(bad)


def overlay_areas(
    projects: np.ndarray,
    layer: np.ndarray,
    category: np.ndarray,
    n_categories: int,
    *,
    block: int = BLOCK_PROJECTS,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Ellipsoidal area of each polygon on each category of a layer.

    Parameters
    ----------
    projects : numpy.ndarray of shapely geometries
        Project polygons, longitude/latitude degrees (EPSG:4490).
    layer : numpy.ndarray of shapely geometries
        The layer's polygons (小班), EPSG:4490; expected not to overlap.
    category : numpy.ndarray of int
        Category of each layer polygon, ``0 <= category < n_categories``.
    n_categories : int
    block : int, optional (default: :data:`BLOCK_PROJECTS`)
        Project polygons queried and intersected at a time.

    Returns
    -------
    areas : numpy.ndarray
        (n_projects, n_categories) areas in mu on the GRS80 ellipsoid of the
        intersections.
    touched : numpy.ndarray
        Number of layer polygons each project polygon overlaps with an area
        (touching only along an edge does not count).
    repaired : int
        Invalid layer geometries repaired (``shapely.make_valid``) because a
        project overlapped them.

    Notes
    -----
    CRS: both inputs in EPSG:4490 (degrees); the intersections are computed
    there and measured on the ellipsoid (:func:`forestsink.area.area_mu`).
    """
    n = len(projects)
    areas = np.zeros(n * n_categories)
    touched = np.zeros(n, dtype=np.int64)
    if n == 0 or len(layer) == 0:
        return areas.reshape(n, n_categories), touched, 0
    layer = layer.copy()  # repairs stay local
    checked = np.zeros(len(layer), dtype=bool)
    repaired = 0
    tree = shapely.STRtree(layer)
    for start in range(0, n, block):
        part = projects[start : start + block]
        pi, xi = tree.query(part, predicate="intersects")
        if not len(pi):
            continue
        fresh = np.unique(xi[~checked[xi]])
        repaired += _repair(layer, fresh)
        checked[fresh] = True
        pieces = shapely.intersection(part[pi], layer[xi])
        mu = area_mu(gpd.GeoSeries(pieces, crs=4490))
        rows = pi + start
        areas += np.bincount(
            rows * n_categories + category[xi], weights=mu, minlength=len(areas)
        )
        touched += np.bincount(rows[mu > 0], minlength=n)
    return areas.reshape(n, n_categories), touched, repaired


# --------------------------------------------------------------------------
# notes
# --------------------------------------------------------------------------


def _pct(values: np.ndarray) -> pd.Series:
    return pd.Series(np.round(100.0 * np.nan_to_num(values)).astype(np.int64)).astype(
        str
    )


def _join_notes(parts: list[pd.Series]) -> np.ndarray:
    """Join note parts per row with ``; `` (empty parts left out), vectorised."""
    out = parts[0].to_numpy(object)
    for part in parts[1:]:
        text = part.to_numpy(object)
        sep = np.where((out != "") & (text != ""), "; ", "").astype(object)
        out = out + sep + text
    return out


def _polygon_notes(
    table: pd.DataFrame,
    *,
    layer_adcodes: set,
    year: int | None,
    before_year: int | None,
    has_before: bool,
    known_type: np.ndarray,
    overlap: np.ndarray,
    overlap_before: np.ndarray | None,
) -> np.ndarray:
    n = len(table)
    if n == 0:
        return np.array([], dtype=object)
    empty = pd.Series([""] * n, dtype=object)
    area = table["area_mu"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        outside = np.where(area > 0, table["not_in_layer_mu"].to_numpy() / area, 0.0)
    no_layer = ~table["adcode"].astype(str).isin(layer_adcodes).to_numpy()
    y = f"{year}年" if year is not None else "本年"
    y_en = f"the {year} layer" if year is not None else "the layer"
    parts = [
        empty.where(
            ~no_layer,
            f"{y}图层无该区县小班 / {y_en} has no 小班 of this district",
        ),
        empty.where(
            no_layer | (outside <= NOTE_SHARE),
            _pct(outside)
            + f"% 不在{y}图层小班内 / "
            + _pct(outside)
            + f"% lies on no 小班 of {y_en}",
        ),
        empty.where(
            ~overlap,
            f"{y}图层小班重叠，面积重复计算 / overlapping 小班 in {y_en}: "
            "areas counted twice",
        ),
        empty.where(
            known_type,
            "未知项目类型 / unknown project type",
        ),
    ]
    if has_before:
        b = f"{before_year}年" if before_year is not None else "前期"
        b_year = str(before_year) if before_year is not None else "the earlier layer"
        b_en = f"the {before_year} layer" if before_year is not None else b_year
        flag = table["planted_on_forest"]
        share = table["forest_before_mu"].to_numpy() / np.where(area > 0, area, 1.0)
        parts.append(
            empty.where(
                ~flag.fillna(False).to_numpy(bool),
                f"{b}已有"
                + _pct(share)
                + "% 为森林，不能新增森林面积 / "
                + _pct(share)
                + f"% was already forest in {b_year}: cannot add "
                "forest area",
            )
        )
        parts.append(
            empty.where(
                ~(flag.isna().to_numpy(bool) & known_type),
                f"项目年度不晚于{b}图层，无法判断是否造林于森林 / the project's "
                f"year is not later than {b_en}: planting on forest not assessed",
            )
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            missing = np.where(
                area > 0, table["not_in_before_mu"].to_numpy() / area, 0.0
            )
        parts.append(
            empty.where(
                missing <= NOTE_SHARE,
                _pct(missing)
                + f"% 不在{b}图层小班内 / "
                + _pct(missing)
                + f"% lies on no 小班 of {b_en}",
            )
        )
        if overlap_before is not None:
            parts.append(
                empty.where(
                    ~overlap_before,
                    f"{b}图层小班重叠 / overlapping 小班 in {b_en}",
                )
            )
    return _join_notes(parts)


# --------------------------------------------------------------------------
# the tables
# --------------------------------------------------------------------------


def _district_table(
    polygons: pd.DataFrame, types: pd.DataFrame, has_before: bool
) -> pd.DataFrame:
    sums = [*CATEGORIES, "not_in_layer_mu"]
    if has_before:
        sums.append("forest_before_mu")
    frame = polygons.assign(
        adcode=polygons["adcode"].astype(str),
        project_type=polygons["project_type"].astype(object).fillna("").astype(str),
        n_polygons=1,
    )
    if has_before:
        flagged = frame["planted_on_forest"].fillna(False).to_numpy(bool)
        frame["n_planted_on_forest"] = flagged.astype(np.int64)
        frame["planted_on_forest_mu"] = np.where(flagged, frame["area_mu"], 0.0)
        sums += ["n_planted_on_forest", "planted_on_forest_mu"]
    columns = ["n_polygons", "area_mu", *sums]
    city = frame.assign(adcode=CITY_ADCODE)
    levels = []
    for f in (frame, city):
        by_type = f.groupby(["adcode", "project_type"], as_index=False)[columns].sum()
        total = f.groupby("adcode", as_index=False)[columns].sum()
        total["project_type"] = ALL_TYPES
        levels += [by_type, total]
    out = pd.concat(levels, ignore_index=True)
    order = {t: i for i, t in enumerate(types.index)}
    out["_type_order"] = out["project_type"].map(
        lambda t: -1 if t == ALL_TYPES else order.get(t, len(order))
    )
    out["_city"] = out["adcode"] == CITY_ADCODE
    out = out.sort_values(["_city", "adcode", "_type_order", "project_type"])
    out = out.drop(columns=["_type_order", "_city"]).reset_index(drop=True)

    names = read_district_table().set_index("adcode")
    out["name_zh"] = out["adcode"].map(names["name_zh"])
    out["name_en"] = out["adcode"].map(names["name_en"])
    city_rows = out["adcode"] == CITY_ADCODE
    out.loc[city_rows, "name_zh"] = "重庆市"
    out.loc[city_rows, "name_en"] = "Chongqing"
    out["type_zh"] = out["project_type"].map(types["name_zh"])
    out["type_en"] = out["project_type"].map(types["name_en"])
    all_rows = out["project_type"] == ALL_TYPES
    out.loc[all_rows, "type_zh"] = "全部类型"
    out.loc[all_rows, "type_en"] = "all types"
    with np.errstate(invalid="ignore", divide="ignore"):
        out["forest_share"] = np.where(
            out["area_mu"] > 0, out["forest_mu"] / out["area_mu"], np.nan
        )
    unknown_district = out["name_zh"].isna()
    unknown_type = out["type_zh"].isna()
    note = pd.Series([""] * len(out), dtype=object)
    note[unknown_district] = "区县代码不在区县表中 / adcode not in the district table"
    note[unknown_type] = (
        np.where(
            note[unknown_type] != "",
            note[unknown_type] + "; ",
            "",
        )
        + "未知项目类型 / unknown project type"
    )
    if has_before:
        flagged = out["n_planted_on_forest"] > 0
        text = (
            out["n_planted_on_forest"].astype(str)
            + " 个造林图斑原已是森林，不能新增森林面积 / "
            + out["n_planted_on_forest"].astype(str)
            + " afforestation polygon(s) on land already forest: cannot add "
            "forest area"
        )
        note[flagged] = (
            np.where(note[flagged] != "", note[flagged] + "; ", "") + text[flagged]
        )
    out["note"] = note.to_numpy(object)
    out["n_polygons"] = out["n_polygons"].astype(np.int64)
    cols = list(DISTRICT_COLUMNS)
    if has_before:
        cols += list(DISTRICT_BEFORE_COLUMNS)
    return out[[*cols, "note"]]


def reconcile(
    projects: gpd.GeoDataFrame,
    xiaoban: gpd.GeoDataFrame,
    *,
    before: gpd.GeoDataFrame | None = None,
    types: pd.DataFrame | None = None,
) -> ReconcileResult:
    """Split each project polygon by the land class the forest-resource map gives.

    Parameters
    ----------
    projects : geopandas.GeoDataFrame
        Project polygons as the store returns them (``store.current()``):
        ``key``, ``adcode``, ``project_id``, ``year``, ``project_type``,
        geometry (EPSG:4490; other CRSs are transformed to it).
    xiaoban : geopandas.GeoDataFrame
        One year's 小班 (:data:`forestsink.store.inventory_schema.XIAOBAN_COLUMNS`;
        ``adcode``, ``land_group``, ``is_forest``, ``is_forest_land`` and the
        geometry are used), EPSG:4490.
    before : geopandas.GeoDataFrame, optional (default: None)
        An earlier year's 小班, same columns. Adds ``forest_before_mu``,
        ``not_in_before_mu`` and ``planted_on_forest``.
    types : pandas.DataFrame, optional (default: :func:`read_project_types`)
        Project types indexed by ``project_type`` with a bool
        ``adds_forest_area``: the types whose work adds forest area
        (afforestation, 退耕还林, 石漠化治理, 营造公益林) are the ones
        checked for planting on forest.

    Returns
    -------
    ReconcileResult
        Per polygon and per district; areas in mu on the GRS80 ellipsoid.

    Raises
    ------
    InventoryError
        A frame lacks a needed column, or a 小班's ``is_forest`` /
        ``is_forest_land`` is not 0/1.
    CRSError
        A frame has no CRS.

    Notes
    -----
    ``area_mu`` is the ellipsoidal area of the project geometry (as the store
    computes it); the five parts add up to it within
    :data:`PIECE_TOLERANCE` (geodesic-edge areas are not exactly additive)
    unless 小班 overlap (noted).
    ``planted_on_forest`` is True for a polygon whose type adds forest area,
    whose year is later than the earlier layer's year and of which more than
    :data:`PLANTED_ON_FOREST_SHARE` was forest in the earlier layer; False
    for the others of those types and for types that add no forest area;
    ``<NA>`` where it cannot be judged (the project is not later than the
    earlier layer, or its type is unknown).

    CRS Notes: intersections in EPSG:4490, areas on the GRS80 ellipsoid
    (:func:`forestsink.area.area_mu`), in mu.
    """
    _require(projects, _PROJECT_COLUMNS, "项目图斑 / project polygons")
    _require(xiaoban, _LAYER_COLUMNS, "小班图层 / 小班 layer")
    if before is not None:
        _require(before, _LAYER_COLUMNS, "前期小班图层 / earlier 小班 layer")
    types = read_project_types() if types is None else types
    messages: list[str] = []

    pgeoms, area = _project_geometries(projects, messages)
    xgeoms = _in_4490(xiaoban, "小班图层 / 小班 layer")
    cats = _categories(xiaoban, "小班图层 / 小班 layer")
    parts, touched, repaired = overlay_areas(pgeoms, xgeoms, cats, len(CATEGORIES))
    if repaired:
        messages.append(
            f"修复了 {repaired} 个无效小班几何 / repaired {repaired} invalid 小班 "
            "geometries (make_valid)"
        )
    in_layer = parts.sum(axis=1)
    overlap = in_layer > area * (1 + PIECE_TOLERANCE)
    table = _polygon_table(projects, area, parts, touched)

    known_type, adds = _type_flags(projects, types)
    year = _layer_year(xiaoban)
    before_year = None
    overlap_before = None
    if before is not None:
        before_year = _layer_year(before)
        overlap_before = _add_before_columns(
            table,
            projects,
            pgeoms,
            area,
            before,
            before_year=before_year,
            known_type=known_type,
            adds=adds,
            messages=messages,
        )

    table["note"] = _polygon_notes(
        table,
        layer_adcodes=set(pd.unique(xiaoban["adcode"].astype(str).to_numpy(object))),
        year=year,
        before_year=before_year,
        has_before=before is not None,
        known_type=known_type,
        overlap=overlap,
        overlap_before=overlap_before,
    )
    if overlap.any():
        messages.append(
            f"{int(overlap.sum())} 个图斑下的小班相互重叠，面积重复计算 / "
            f"{int(overlap.sum())} polygon(s) lie on overlapping 小班: their "
            "parts are counted twice (see the note column)"
        )
    districts = _district_table(table, types, before is not None)
    return ReconcileResult(
        polygons=table,
        districts=districts,
        year=year,
        before_year=before_year,
        messages=messages,
    )


def _project_geometries(
    projects: gpd.GeoDataFrame, messages: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Return the project geometries (EPSG:4490, repaired) and their areas (mu).

    A note on repaired geometries is appended to *messages*. Areas on the
    GRS80 ellipsoid (:func:`forestsink.area.area_mu`).
    """
    pgeoms = _in_4490(projects, "项目图斑 / project polygons").copy()
    fixed = _repair(pgeoms, np.arange(len(pgeoms)))
    if fixed:
        messages.append(
            f"修复了 {fixed} 个无效项目几何 / repaired {fixed} invalid project "
            "geometries (make_valid)"
        )
    return pgeoms, area_mu(gpd.GeoSeries(pgeoms, crs=4490))


def _polygon_table(
    projects: pd.DataFrame,
    area: np.ndarray,
    parts: np.ndarray,
    touched: np.ndarray,
) -> pd.DataFrame:
    """Return the per-polygon table: identity, area and the parts per category.

    *area* in mu per polygon, *parts* (n_polygons, len(CATEGORIES)) in mu,
    *touched* the number of 小班 each polygon overlaps.
    """
    table = pd.DataFrame(
        {
            "key": projects["key"].to_numpy(),
            "adcode": projects["adcode"].astype(str).to_numpy(),
            "project_id": projects["project_id"].to_numpy(),
            "project_type": projects["project_type"].to_numpy(),
            "year": projects["year"].to_numpy(),
            "area_mu": area,
        }
    )
    for j, name in enumerate(CATEGORIES):
        table[name] = parts[:, j]
    table["not_in_layer_mu"] = _outside(area, parts.sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        table["forest_share"] = np.where(area > 0, parts[:, 0] / area, np.nan)
    table["n_xiaoban"] = touched
    return table


def _type_flags(
    projects: pd.DataFrame, types: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Return per polygon: its type is known; its type adds forest area."""
    ptype = projects["project_type"].astype(object)
    known_type = ptype.isin(types.index).to_numpy(bool)
    adds = (
        ptype.map(types["adds_forest_area"]).astype(object).fillna(False).to_numpy(bool)
    )
    return known_type, adds


def _add_before_columns(
    table: pd.DataFrame,
    projects: pd.DataFrame,
    pgeoms: np.ndarray,
    area: np.ndarray,
    before: gpd.GeoDataFrame,
    *,
    before_year: int | None,
    known_type: np.ndarray,
    adds: np.ndarray,
    messages: list[str],
) -> np.ndarray:
    """Add :data:`BEFORE_COLUMNS` to *table* (in place) from an earlier layer.

    Parameters
    ----------
    table : pandas.DataFrame
        The per-polygon table of :func:`_polygon_table`.
    projects : pandas.DataFrame
        The project polygons (their ``year`` is used).
    pgeoms : numpy.ndarray of shapely geometries
        Project geometries, EPSG:4490.
    area : numpy.ndarray
        Project areas, mu on the GRS80 ellipsoid.
    before : geopandas.GeoDataFrame
        The earlier year's 小班.
    before_year : int or None
        The earlier layer's year, when it holds one.
    known_type, adds : numpy.ndarray of bool
        Per polygon: its type is known; its type adds forest area.
    messages : list of str
        A note on repaired 小班 geometries is appended here.

    Returns
    -------
    numpy.ndarray of bool
        Per polygon: it lies on overlapping 小班 of the earlier layer.
    """
    bgeoms = _in_4490(before, "前期小班图层 / earlier 小班 layer")
    forest = _flags(before, "is_forest", "前期小班图层 / earlier 小班 layer")
    bparts, _, brepaired = overlay_areas(
        pgeoms, bgeoms, np.where(forest, 0, 1).astype(np.int64), 2
    )
    if brepaired:
        messages.append(
            f"修复了 {brepaired} 个无效前期小班几何 / repaired {brepaired} invalid "
            "小班 geometries of the earlier layer (make_valid)"
        )
    binside = bparts.sum(axis=1)
    table["forest_before_mu"] = bparts[:, 0]
    table["not_in_before_mu"] = _outside(area, binside)
    pyear = pd.to_numeric(projects["year"], errors="coerce").to_numpy(float)
    assessable = known_type & (
        np.ones(len(table), bool) if before_year is None else (pyear > before_year)
    )
    mostly_forest = bparts[:, 0] > PLANTED_ON_FOREST_SHARE * area
    flag = pd.array(adds & mostly_forest, dtype="boolean")
    flag[adds & ~assessable] = pd.NA
    flag[~known_type] = pd.NA
    table["planted_on_forest"] = flag
    return binside > area * (1 + PIECE_TOLERANCE)


# --------------------------------------------------------------------------
# from a store
# --------------------------------------------------------------------------

#: 小班 columns :func:`reconcile_store` reads (the geometry comes with them)
STORE_COLUMNS = ("key", "adcode", "year", "land_group", "is_forest", "is_forest_land")


def _years_text(years) -> str:
    return ", ".join(str(y) for y in years) if years else "无 / none"


def reconcile_store(
    store,
    *,
    year: int,
    before: int | None = None,
    as_of=None,
) -> ReconcileResult:
    """Reconcile the store's project polygons with its forest-resource map.

    Parameters
    ----------
    store : forestsink.store.Store
        An open store holding project polygons and yearly 小班 layers
        (``current``, ``inventory_years``, ``inventory_xiaoban``).
    year : int
        The inventory year to compare with (the layer's state at 31 December).
    before : int, optional (default: None)
        An earlier inventory year: adds ``forest_before_mu`` and the
        ``planted_on_forest`` flag.
    as_of : int or str, optional (default: None, now)
        Batch number or date: the state of the store (projects and layers)
        then.

    Returns
    -------
    ReconcileResult
        See :func:`reconcile`. Projects of a year later than *year* are left
        out (work done after the layer's date cannot show in it) and the
        messages say how many.

    Raises
    ------
    InventoryError
        *year* or *before* is not in the store (the message names the years
        that are), *before* is not earlier than *year*, or the store holds no
        forest-resource layers at all.

    Notes
    -----
    CRS Notes: the store's frames are in EPSG:4490; areas in mu on the GRS80
    ellipsoid.
    """
    if not hasattr(store, "inventory_years"):
        raise InventoryError(
            f"{getattr(store, 'path', store)}: 此库不含森林资源一张图 / this store "
            "holds no forest-resource layers (a GeoParquet dataset or a store of "
            "an older layout); reconcile against a .gpkg or PostGIS store that "
            "has them loaded."
        )
    years = sorted(int(y) for y in store.inventory_years(as_of=as_of))
    where = getattr(store, "path", "store")
    for wanted, what in ((year, "year"), (before, "before")):
        if wanted is not None and int(wanted) not in years:
            raise InventoryError(
                f"{where}: 库中没有 {wanted} 年的一张图（{what}）；库中年份："
                f"{_years_text(years)} / the store holds no forest-resource layer "
                f"for {wanted} ({what}); "
                f"years in the store: {_years_text(years)}. Load that year's layer "
                "first, or choose one of these."
            )
    if before is not None and int(before) >= int(year):
        raise InventoryError(
            f"前期年份 {before} 须早于 {year} / the earlier year {before} "
            f"must be before {year}."
        )
    projects = store.current(as_of=as_of)
    pyear = pd.to_numeric(projects["year"], errors="coerce")
    later = (pyear > int(year)).to_numpy(bool)
    projects = projects[~later].reset_index(drop=True)
    xiaoban = store.inventory_xiaoban(
        int(year), as_of=as_of, columns=list(STORE_COLUMNS)
    )
    earlier = (
        store.inventory_xiaoban(int(before), as_of=as_of, columns=list(STORE_COLUMNS))
        if before is not None
        else None
    )
    result = reconcile(projects, xiaoban, before=earlier)
    result.year = int(year)
    if before is not None:
        result.before_year = int(before)
    if later.any():
        result.messages.insert(
            0,
            f"{int(later.sum())} 个图斑的年度晚于 {year}，未参与核对 / "
            f"{int(later.sum())} polygon(s) of years after {year} left out (work "
            "done after the layer's date cannot show in it)",
        )
    return result
