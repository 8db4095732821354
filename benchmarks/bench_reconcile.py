"""Benchmark: reconciling project polygons with a 小班 layer (inventory.reconcile).

Synthetic, generated in code (seed): a layer of N_XB 小班 tiling a block of
Chongqing without gaps or overlaps (a jittered grid of irregular quadrilaterals,
each edge cut into several vertices like a digitised boundary; about 0.003° ≈
300 m across, ~130 mu, the size of real 小班), and N_P irregular project
polygons (10 vertices, 0.0005–0.003° radius) scattered over it; an earlier
layer (the same tiling, other classes) for the ``before`` run.

Run: ``.venv/bin/python benchmarks/bench_reconcile.py --projects 20000
--xiaoban 500000``
"""

from __future__ import annotations

import argparse
import itertools
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from forestsink.inventory.reconcile import reconcile

STEP = 0.003  # degrees between grid nodes
VERTICES_PER_EDGE = 6


def make_layer(n: int, seed: int, year: int) -> gpd.GeoDataFrame:
    """About *n* 小班 tiling a block that starts at 106.0°E, 29.0°N."""
    rng = np.random.default_rng(seed)
    nx = int(np.sqrt(n * 2))
    ny = max(1, n // nx)
    gx, gy = np.meshgrid(
        106.0 + STEP * np.arange(nx + 1), 29.0 + STEP * np.arange(ny + 1)
    )
    jitter = np.random.default_rng(1).uniform(-0.3, 0.3, (2, *gx.shape)) * STEP
    gx = gx + jitter[0]
    gy = gy + jitter[1]
    i, j = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    i, j = i.ravel(), j.ravel()
    corners = [(i, j), (i, j + 1), (i + 1, j + 1), (i + 1, j), (i, j)]
    t = np.linspace(0.0, 1.0, VERTICES_PER_EDGE, endpoint=False)
    xs, ys = [], []
    for (a0, b0), (a1, b1) in itertools.pairwise(corners):
        x0, y0, x1, y1 = gx[a0, b0], gy[a0, b0], gx[a1, b1], gy[a1, b1]
        xs.append(x0[:, None] + (x1 - x0)[:, None] * t)
        ys.append(y0[:, None] + (y1 - y0)[:, None] * t)
    x = np.concatenate([*xs, gx[i, j][:, None]], axis=1)
    y = np.concatenate([*ys, gy[i, j][:, None]], axis=1)
    k = x.shape[1]
    rings = shapely.linearrings(
        np.column_stack([x.ravel(), y.ravel()]), indices=np.repeat(np.arange(len(i)), k)
    )
    geoms = shapely.polygons(rings)
    m = len(geoms)
    groups = np.array(["arbor", "unestablished", "other_shrub", "non_forest"])
    g = groups[rng.choice(4, m, p=[0.55, 0.1, 0.1, 0.25])]
    return gpd.GeoDataFrame(
        {
            "key": [f"500101/1/1/{a}/{b}" for a, b in zip(i, j, strict=True)],
            "adcode": "500101",
            "year": year,
            "land_group": g,
            "is_forest": (g == "arbor").astype(int),
            "is_forest_land": (g != "non_forest").astype(int),
        },
        geometry=geoms,
        crs=4490,
    )


def make_projects(n: int, bounds, seed: int) -> gpd.GeoDataFrame:
    """*n* irregular project polygons inside *bounds* (EPSG:4490)."""
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = bounds
    x = rng.uniform(xmin + 0.01, xmax - 0.01, n)
    y = rng.uniform(ymin + 0.01, ymax - 0.01, n)
    k = 10
    angles = np.sort(rng.uniform(0, 2 * np.pi, (n, k)), axis=1)
    radius = rng.uniform(0.0005, 0.003, (n, 1)) * rng.uniform(0.7, 1.3, (n, k))
    px = x[:, None] + radius * np.cos(angles)
    py = y[:, None] + radius * np.sin(angles)
    coords = np.stack([px, py], axis=-1)
    coords = np.concatenate([coords, coords[:, :1]], axis=1)
    rings = shapely.linearrings(
        coords.reshape(-1, 2), indices=np.repeat(np.arange(n), k + 1)
    )
    types = rng.choice(["afforestation", "grain_to_green", "renovation", "tending"], n)
    return gpd.GeoDataFrame(
        {
            "key": [f"500101/P{i}" for i in range(n)],
            "adcode": "500101",
            "project_id": [f"P{i}" for i in range(n)],
            "year": rng.integers(2011, 2016, n),
            "project_type": types,
        },
        geometry=shapely.polygons(rings),
        crs=4490,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=20_000)
    parser.add_argument("--xiaoban", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=2012)
    args = parser.parse_args()

    t0 = time.perf_counter()
    layer = make_layer(args.xiaoban, args.seed, 2015)
    before = layer.copy()
    before["year"] = 2010
    flip = np.random.default_rng(args.seed + 1).random(len(before)) < 0.3
    before.loc[flip, "land_group"] = "non_forest"
    before.loc[flip, "is_forest"] = 0
    before.loc[flip, "is_forest_land"] = 0
    projects = make_projects(args.projects, layer.total_bounds, args.seed)
    t1 = time.perf_counter()
    nverts = shapely.get_num_coordinates(layer.geometry.values).mean()
    print(
        f"generated {len(projects):,} projects, {len(layer):,} 小班 "
        f"({nverts:.0f} vertices each) in {t1 - t0:.1f} s"
    )

    t0 = time.perf_counter()
    res = reconcile(projects, layer)
    t1 = time.perf_counter()
    p = res.polygons
    print(f"reconcile: {t1 - t0:.1f} s; {p['n_xiaoban'].sum():,} pairs")
    t0 = time.perf_counter()
    res = reconcile(projects, layer, before=before)
    t1 = time.perf_counter()
    p = res.polygons
    print(f"reconcile with before: {t1 - t0:.1f} s")
    parts = p[["forest_mu", "unestablished_mu", "other_forest_land_mu"]].sum(axis=1)
    parts += p["non_forest_mu"] + p["not_in_layer_mu"]
    err = float(np.max(np.abs(parts - p["area_mu"]) / p["area_mu"]))
    print(f"largest |sum of parts - area| / area: {err:.2e}")
    print(f"flagged planted on forest: {int(p['planted_on_forest'].sum()):,}")
    print(pd.Series(res.messages, dtype=object).to_string() if res.messages else "")


if __name__ == "__main__":
    main()
