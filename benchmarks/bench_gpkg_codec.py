"""Benchmark: the store's GeoPackage blob codec against GDAL writing the rows.

Decides whether ``forestsink.store.gpkg_codec`` (our own GeoPackage blob
encoder, header + WKB, vectorised with shapely and pyarrow) stays. The
store lands a batch's rows with SQL into its versioned tables, so it needs
the blobs; the alternative a user would reach for is to let GDAL encode and
write them (``pyogrio.write_dataframe(..., append=True)`` into a GeoPackage
layer). Both write the same N generated polygons (EPSG:4490, 40–120
vertices each) into a fresh GeoPackage table, in the same run:

* ``codec`` — :func:`~forestsink.store.gpkg_codec.to_gpkg_blobs` plus one
  ``executemany`` INSERT of (fid, blob) into a GeoPackage feature table;
* ``pyogrio`` — ``pyogrio.write_dataframe`` of the same GeoDataFrame (GDAL
  encodes the blobs and writes the rows; its R-tree off, as the codec path
  builds the index separately).

Both results are decoded back (shapely from WKB) and compared for equality.
Also timed: the codec's encoding alone against ``shapely.to_wkb`` (the WKB
it wraps), i.e. what the GeoPackage header costs.

The store cannot hand its rows to GDAL: a batch is written in one SQLite
transaction under the store's write lock (versions closed, rows added,
batch recorded, all or nothing), and GDAL writes through a connection of
its own. So the question this answers is what encoding the blobs ourselves
costs, not whether GDAL could write them.

Run: ``.venv/bin/python benchmarks/bench_gpkg_codec.py [--n 200000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from forestsink.store.gpkg_codec import (
    from_gpkg_blobs,
    register_functions,
    to_gpkg_blobs,
)


def polygons(n: int, seed: int = 7) -> gpd.GeoDataFrame:
    """*n* star-shaped polygons of 40–120 vertices around Chongqing."""
    rng = np.random.default_rng(seed)
    centres = np.column_stack(
        [rng.uniform(105.3, 110.1, n), rng.uniform(28.2, 32.2, n)]
    )
    geoms = []
    for cx, cy in centres:
        k = int(rng.integers(40, 121))
        angle = np.sort(rng.uniform(0, 2 * np.pi, k))
        radius = rng.uniform(0.0005, 0.002, k)
        ring = np.column_stack(
            [cx + radius * np.cos(angle), cy + radius * np.sin(angle)]
        )
        geoms.append(shapely.MultiPolygon([shapely.Polygon(ring)]))
    return gpd.GeoDataFrame({"fid": np.arange(1, n + 1)}, geometry=geoms, crs=4490)


def codec_write(frame: gpd.GeoDataFrame, path: Path) -> float:
    """Encode with the codec and insert the rows; seconds."""
    pyogrio.write_dataframe(
        frame.iloc[:0],
        path,
        layer="t",
        driver="GPKG",
        layer_options={"SPATIAL_INDEX": "NO"},
    )
    t0 = time.perf_counter()
    blobs = to_gpkg_blobs(frame.geometry.to_numpy())
    with sqlite3.connect(path) as conn:
        register_functions(conn)  # the GeoPackage R-tree triggers call ST_*
        conn.executemany(
            "INSERT INTO t (fid, geom) VALUES (?, ?)",
            zip(frame["fid"].tolist(), blobs, strict=True),
        )
    return time.perf_counter() - t0


def pyogrio_write(frame: gpd.GeoDataFrame, path: Path) -> float:
    """Let GDAL encode and write the same rows; seconds."""
    t0 = time.perf_counter()
    pyogrio.write_dataframe(
        frame, path, layer="t", driver="GPKG", layer_options={"SPATIAL_INDEX": "NO"}
    )
    return time.perf_counter() - t0


def read_back(path: Path) -> np.ndarray:
    """The table's geometries, decoded."""
    with sqlite3.connect(path) as conn:
        blobs = [r[0] for r in conn.execute("SELECT geom FROM t ORDER BY fid")]
    return from_gpkg_blobs(blobs)


def main() -> None:
    """Run both writers *repeat* times; print the best times and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    frame = polygons(args.n)
    times = {"codec": [], "pyogrio": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            a, b = Path(tmp) / f"a{i}.gpkg", Path(tmp) / f"b{i}.gpkg"
            times["codec"].append(codec_write(frame, a))
            times["pyogrio"].append(pyogrio_write(frame, b))
        same = shapely.equals_exact(read_back(a), read_back(b), tolerance=0).all()
    geoms = frame.geometry.to_numpy()
    encode = {"codec encode": [], "shapely.to_wkb": []}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        to_gpkg_blobs(geoms)
        encode["codec encode"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        shapely.to_wkb(geoms)
        encode["shapely.to_wkb"].append(time.perf_counter() - t0)
    times.update(encode)
    best = {k: min(v) for k, v in times.items()}
    print(f"N = {args.n:,} polygons; best of {args.repeat}")
    for name, sec in best.items():
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"  {name:8s} {sec:6.2f} s   (runs: {runs})")
    ratio = best["pyogrio"] / best["codec"]
    print(f"  pyogrio / codec = {ratio:.2f}x; same geometries: {same}")
    cost = best["codec encode"] / best["shapely.to_wkb"]
    print(f"  codec encode / shapely.to_wkb = {cost:.2f}x (the header's cost)")


if __name__ == "__main__":
    main()
