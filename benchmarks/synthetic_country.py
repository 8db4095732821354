"""A synthetic country of counties and sub-compartment (小班) polygons.

For the scale benchmark (``bench_scale.py``); deterministic for a seed;
nothing is downloaded.

* **Counties** — about 2,400 (``cols × rows`` jittered Voronoi cells) over a
  country-sized extent (75–133° E, 20–50° N, EPSG:4490), their edges
  densified to ~0.02° and bent by a smooth displacement field, so shared
  boundaries stay shared and are not straight (~300 vertices per county).
  Adcodes ``PPCCNN``: 30 provinces (``PP`` 11–40), prefectures ``CC`` and
  counties ``NN`` inside them, numbered along the grid so that neighbouring
  codes are neighbouring places (partitions by code are contiguous).
* **Sub-compartments** — *n* star-shaped polygons on a jittered grid whose
  spacing follows from *n*; 30–300 vertices each (log-uniform, mean ~117),
  radius up to 0.3 × spacing, so neighbours do not overlap — except 1 % that
  are re-planted: a second polygon on the same site, another year and type,
  which the net area must count once. Polygons near county edges cross
  them (the district split is exercised); one with less than 60 % of its
  area in its own county is dropped (it would belong to the neighbour).
  Attributes carry the Chinese column names counties deliver (小班号,
  区县代码, 年度, 工程类别, 蓄积).
* **Deliveries** — one GeoPackage per county (what counties deliver), in
  EPSG:4490.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

EXTENT = (75.0, 20.0, 133.0, 50.0)
TYPES_ZH = ["人工造林", "退耕还林", "低效林改造", "中幼林抚育", "石漠化治理"]


def _bend(geoms: np.ndarray) -> np.ndarray:
    """Apply one smooth displacement field to every coordinate."""

    def field(xy):
        x, y = xy[:, 0], xy[:, 1]
        dx = 0.12 * np.sin(2.3 * y + 0.7) + 0.05 * np.sin(7.9 * y + 1.3 * x)
        dy = 0.10 * np.sin(1.9 * x + 0.2) + 0.04 * np.sin(8.3 * x - 1.1 * y)
        return np.column_stack([x + dx, y + dy])

    return shapely.transform(geoms, field)


def counties(seed: int = 1, cols: int = 60, rows: int = 40) -> gpd.GeoDataFrame:
    """The synthetic counties (EPSG:4490): ``adcode``, ``name_zh``,
    ``name_en``, ``region``, ``geometry``."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = EXTENT
    dx, dy = (x1 - x0) / cols, (y1 - y0) / rows
    gx, gy = np.meshgrid(np.arange(cols), np.arange(rows))
    gx, gy = gx.ravel(), gy.ravel()
    px = x0 + (gx + 0.5 + rng.uniform(-0.3, 0.3, gx.size)) * dx
    py = y0 + (gy + 0.5 + rng.uniform(-0.3, 0.3, gy.size)) * dy
    frame = shapely.box(*EXTENT)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(np.column_stack([px, py])))
    )
    cells = shapely.intersection(cells, frame)
    # voronoi order is not the input order: match cells to sites
    tree = shapely.STRtree(cells)
    site, cell = tree.query(shapely.points(px, py), predicate="within")
    order = np.empty(gx.size, dtype=int)
    order[site] = cell
    cells = cells[order]
    cells = _bend(shapely.segmentize(cells, 0.02))
    # provinces: 6 × 5 blocks of 10 × 8 cells; prefectures 2 × 2 cells
    prov = (gy // 8) * 6 + gx // 10
    pref = ((gy % 8) // 2) * 5 + (gx % 10) // 2
    county = (gy % 2) * 2 + gx % 2
    adcode = [
        f"{11 + p:02d}{1 + c:02d}{1 + k:02d}"
        for p, c, k in zip(prov, pref, county, strict=True)
    ]
    gdf = gpd.GeoDataFrame(
        {
            "adcode": adcode,
            "name_zh": [f"县{a}" for a in adcode],
            "name_en": [f"County {a}" for a in adcode],
            "region": [a[:2] for a in adcode],
        },
        geometry=cells,
        crs=4490,
    )
    return gdf.sort_values("adcode").reset_index(drop=True)


def _unit(node: np.ndarray, salt: int) -> np.ndarray:
    """A uniform [0, 1) number per integer node (splitmix64 hash)."""
    with np.errstate(over="ignore"):
        z = node + np.uint64(salt + 1) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _star_polygons(rng, cx, cy, radius):
    """Star-shaped polygons around (cx, cy): sorted angles, radii ≤ radius."""
    n = cx.size
    k = np.exp(rng.uniform(np.log(30), np.log(300), n)).astype(int)
    total = int(k.sum())
    owner = np.repeat(np.arange(n), k)
    step = rng.uniform(0.5, 1.5, total)
    start = np.concatenate([[0], np.cumsum(k)[:-1]])
    cum = np.cumsum(step)
    before = np.concatenate([[0.0], cum])[start]
    span = np.add.reduceat(step, start)
    angle = 2 * np.pi * (cum - before[owner]) / span[owner]
    r = radius[owner] * rng.uniform(0.75, 1.0, total)
    xy = np.column_stack([cx[owner] + r * np.cos(angle), cy[owner] + r * np.sin(angle)])
    rings = shapely.linearrings(xy, indices=owner)
    return shapely.polygons(rings), k


def county_polygons(
    county: pd.Series, n_total: int, *, seed: int, first_id: int = 0
) -> gpd.GeoDataFrame:
    """The sub-compartments whose site lies in one county (a delivery)."""
    x0, y0, x1, y1 = EXTENT
    spacing = np.sqrt((x1 - x0) * (y1 - y0) / n_total)
    geom = county.geometry
    bx0, by0, bx1, by1 = geom.bounds
    i0, i1 = int((bx0 - x0) // spacing), int((bx1 - x0) // spacing) + 1
    j0, j1 = int((by0 - y0) // spacing), int((by1 - y0) // spacing) + 1
    gi, gj = np.meshgrid(np.arange(i0, i1), np.arange(j0, j1))
    gi, gj = gi.ravel(), gj.ravel()
    # the jitter of a grid node depends only on the node and the seed, so a
    # site near a county edge is in exactly one of the two counties' files
    node = gj.astype(np.uint64) * np.uint64(1_000_003) + gi.astype(np.uint64)
    cx = x0 + (gi + 0.5 + 0.4 * _unit(node, 2 * seed) - 0.2) * spacing
    cy = y0 + (gj + 0.5 + 0.4 * _unit(node, 2 * seed + 1) - 0.2) * spacing
    shapely.prepare(geom)
    inside = shapely.contains_xy(geom, cx, cy)
    cx, cy = cx[inside], cy[inside]
    rng = np.random.default_rng([seed, int(county["adcode"])])
    replant = rng.random(cx.size) < 0.01
    cx = np.concatenate([cx, cx[replant]])
    cy = np.concatenate([cy, cy[replant]])
    m = cx.size
    radius = spacing * rng.uniform(0.15, 0.3, m)
    geoms, _k = _star_polygons(rng, cx, cy, radius)
    # a polygon lying mostly in the neighbour county would be declared there:
    # keep those with at least 60 % in this county (the rest are dropped)
    edge = ~shapely.contains(geom, geoms)
    keep = np.ones(m, dtype=bool)
    if edge.any():
        inside = shapely.area(shapely.intersection(geoms[edge], geom))
        keep[edge] = inside >= 0.6 * shapely.area(geoms[edge])
    geoms = geoms[keep]
    m = int(keep.sum())
    year = rng.integers(2011, 2016, m)
    return gpd.GeoDataFrame(
        {
            "小班号": [f"XB{first_id + i:08d}" for i in range(m)],
            "区县代码": county["adcode"],
            "年度": year,
            "工程类别": rng.choice(TYPES_ZH, m),
            "蓄积": np.round(rng.uniform(5, 80, m), 1),
        },
        geometry=geoms,
        crs=4490,
    )


def write_deliveries(out: Path, n: int, *, seed: int = 7, progress=None) -> dict:
    """Write one GeoPackage per county with about *n* polygons in all.

    Returns ``{"files": [...], "polygons": int, "vertices": int,
    "counties": path}``; the county layer is written to
    ``out / "counties.gpkg"``.
    """
    import pyogrio

    out = Path(out)
    (out / "deliveries").mkdir(parents=True, exist_ok=True)
    zones = counties()
    zones_path = out / "counties.gpkg"
    pyogrio.write_dataframe(zones, zones_path, layer="counties")
    files, polygons, vertices = [], 0, 0
    for i in range(len(zones)):
        county = zones.iloc[i]
        gdf = county_polygons(county, n, seed=seed, first_id=polygons)
        if gdf.empty:
            continue
        path = out / "deliveries" / f"{county['adcode']}.gpkg"
        pyogrio.write_dataframe(gdf, path, layer="xiaoban")
        files.append(path)
        polygons += len(gdf)
        vertices += int(shapely.get_num_coordinates(gdf.geometry.values).sum())
        if progress and i % 100 == 0:
            progress(f"{i}/{len(zones)} counties, {polygons:,} polygons")
    return {
        "files": files,
        "polygons": polygons,
        "vertices": vertices,
        "counties": zones_path,
    }
