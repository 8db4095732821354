"""Benchmark: areas and the progress computation vs what a user would run.

In the same run, on N generated polygons inside Chongqing (EPSG:4490):

1. **Areas** — forestsink's vectorised equal-area computation
   (``forestsink.area.area_m2``) against a per-geometry
   ``pyproj.Geod(ellps="GRS80").geometry_area_perimeter`` loop (the geodesic
   oracle); reports the speed ratio and the largest relative error.
2. **Progress** — forestsink's pieces (district split + net/gross) and the
   district × year × type table, against a plain geopandas script:
   ``dissolve`` by district/year/type, ``to_crs(equal-area).area``,
   ``groupby``. The plain script does no district splitting and no
   cross-type net area; forestsink does both.

Run: ``.venv/bin/python benchmarks/bench_progress.py --n 1000000``
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Geod


def make_polygons(n: int, seed: int = 11) -> gpd.GeoDataFrame:
    """N small irregular polygons (8–12 vertices) inside Chongqing."""
    from synthetic import points_in_chongqing

    rng = np.random.default_rng(seed)
    x, y, adcode = points_in_chongqing(rng, n)
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
    geoms = shapely.make_valid(shapely.polygons(rings))
    types = rng.choice(["afforestation", "grain_to_green", "renovation", "tending"], n)
    return gpd.GeoDataFrame(
        {
            "key": [f"{a}/B{i}" for i, a in enumerate(adcode)],
            "adcode": adcode,
            "year": rng.integers(2011, 2016, n),
            "project_type": types,
            "species": None,
            "stock_volume_m3": np.nan,
        },
        geometry=geoms,
        crs=4490,
    )


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument(
        "--n-progress",
        type=int,
        default=None,
        help="polygons for the progress comparison (default: --n)",
    )
    args = parser.parse_args(argv)
    from forestsink.area import CHONGQING_ALBERS, area_m2
    from forestsink.progress import increment_of_pieces, progress_by_district
    from forestsink.progress.netting import project_pieces
    from forestsink.reference import read_districts, read_project_types

    gdf = make_polygons(args.n)
    geod = Geod(ellps="GRS80")
    t_geod, oracle = timed(
        lambda: np.array(
            [abs(geod.geometry_area_perimeter(g)[0]) for g in gdf.geometry.values]
        )
    )
    t_ours, ours = timed(lambda: area_m2(gdf))
    rel = np.max(np.abs(ours - oracle) / oracle)
    print(f"N = {args.n:,} polygons, 10 vertices each")
    print(f"  areas: per-geometry Geod loop {t_geod:7.2f} s")
    print(
        f"         forestsink area_m2     {t_ours:7.2f} s  -> {t_geod / t_ours:.1f}x, "
        f"max relative error {rel:.2e}"
    )

    m = args.n_progress or args.n
    sub = gdf.iloc[:m]
    districts = read_districts()
    types = read_project_types()

    def plain():
        dissolved = sub.dissolve(by=["adcode", "year", "project_type"])
        area = dissolved.to_crs(CHONGQING_ALBERS).area / (10000 / 15)
        return area.groupby(level=["adcode", "year", "project_type"]).sum()

    def ours_progress():
        pieces = project_pieces(sub, districts, types=types)
        increment = increment_of_pieces(pieces, types=types, growth=None, end_year=2015)
        return progress_by_district(pieces, increment=increment)

    t_plain, plain_out = timed(plain)
    t_fs, fs_out = timed(ours_progress)
    print(
        f"  progress on {m:,}: plain geopandas dissolve+area+groupby {t_plain:7.2f} s"
    )
    print(
        f"                      forestsink pieces+net/gross+table  {t_fs:7.2f} s"
        f"  -> ratio forestsink/plain {t_fs / t_plain:.2f}"
    )
    print(
        f"  net area check: plain {plain_out.sum():,.0f} mu (per group, no "
        f"cross-type netting), forestsink net {fs_out['net_area_mu'].sum():,.0f}"
        f" mu, gross {fs_out['gross_area_mu'].sum():,.0f} mu"
    )


if __name__ == "__main__":
    main()
