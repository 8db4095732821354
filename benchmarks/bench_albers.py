"""Benchmark: the numpy Albers projection against pyproj, on the demo's polygons.

Decides whether ``forestsink.area.albers_xy`` (the closed-form Albers
equal-area conic for Chongqing, GRS80, in numpy) should give way to
``pyproj.Transformer`` with the same definition (:data:`CHONGQING_ALBERS`).

In the same run, on every polygon of the demo (the project deliveries of
2011-2015 and the forest-resource map's 小班 layers of 2010 and 2015, read
once and brought to EPSG:4490, untimed), end to end from longitude/latitude
geometries to areas in m²:

1. **coordinates** — all vertices through ``albers_xy`` against
   ``Transformer.transform`` (arrays in, arrays out);
2. **areas** — ``area.geographic_to_albers`` + ``shapely.area`` against
   ``shapely.transform`` with the Transformer + ``shapely.area``;
3. **area_m2** — the whole ``area.area_m2`` (fast path plus the geodesic
   fallback) against ``GeoSeries.to_crs(CHONGQING_ALBERS).area``.

Times are the best of ``--repeat`` runs; differences are the largest
coordinate difference (mm) and the largest relative area difference.

Run: ``.venv/bin/python benchmarks/bench_albers.py [--sample data/sample/demo-30m]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer

from forestsink import area
from forestsink.area import CHONGQING_ALBERS

ROOT = Path(__file__).resolve().parents[1]


def read_demo(sample: Path) -> gpd.GeoSeries:
    """Every polygon of the demo's deliveries and 小班 layers, in EPSG:4490."""
    files = sorted((sample / "deliveries").glob("20*/*.shp"))
    files += sorted((sample / "inventory").glob("20*/*.shp"))
    parts = []
    for f in files:
        frame = pyogrio.read_dataframe(f, columns=[])
        if frame.crs is None:  # the county that forgot its .prj (demo: 4545)
            frame = frame.set_crs(4545)
        parts.append(frame.geometry.to_crs(4490))
    geoms = gpd.GeoSeries(pd.concat(parts, ignore_index=True), crs=4490)
    # the demo's deliberate defects (a wrong CRS: coordinates off the Earth)
    # are refused by ingest; keep what lies in Chongqing's box
    b = shapely.bounds(geoms.values)
    inside = np.isfinite(b).all(axis=1) & (b[:, 0] > 105) & (b[:, 2] < 111)
    inside &= (b[:, 1] > 28) & (b[:, 3] < 33)
    dropped = int((~inside).sum())
    geoms = geoms[inside].reset_index(drop=True)
    print(f"{len(files)} files, {len(geoms):,} polygons ({dropped} dropped), ", end="")
    print(f"{len(shapely.get_coordinates(geoms.values)):,} vertices")
    return geoms


def best(fn, repeat: int) -> tuple[float, object]:
    """Best wall time (s) of *repeat* calls, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=ROOT / "data/sample/demo-30m")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    geoms = read_demo(args.sample)
    values = geoms.values
    coords = shapely.get_coordinates(values)
    tr = Transformer.from_crs(4490, CHONGQING_ALBERS, always_xy=True)

    t_np, (x_np, y_np) = best(
        lambda: area.albers_xy(coords[:, 0], coords[:, 1]), args.repeat
    )
    t_pp, (x_pp, y_pp) = best(
        lambda: tr.transform(coords[:, 0], coords[:, 1]), args.repeat
    )
    dxy = np.hypot(np.asarray(x_np) - x_pp, np.asarray(y_np) - y_pp).max()
    print(
        f"coordinates  numpy {t_np:7.3f} s  pyproj {t_pp:7.3f} s  "
        f"pyproj/numpy {t_pp / t_np:5.2f}x  max diff {dxy * 1000:.3g} mm"
    )

    def by_pyproj(geo):
        return shapely.area(
            shapely.transform(geo, lambda xy: np.column_stack(tr.transform(*xy.T)))
        )

    t_np, a_np = best(
        lambda: shapely.area(area.geographic_to_albers(values)), args.repeat
    )
    t_pp, a_pp = best(lambda: by_pyproj(values), args.repeat)
    rel = np.abs(a_np - a_pp) / np.maximum(a_pp, 1e-9)
    print(
        f"areas        numpy {t_np:7.3f} s  pyproj {t_pp:7.3f} s  "
        f"pyproj/numpy {t_pp / t_np:5.2f}x  max rel diff {rel.max():.2g}"
    )

    def by_to_crs():
        return geoms.to_crs(CHONGQING_ALBERS).area.to_numpy()

    t_np, a_np = best(lambda: area.area_m2(geoms), args.repeat)
    t_pp, a_pp = best(by_to_crs, args.repeat)
    rel = np.abs(a_np - a_pp) / np.maximum(a_pp, 1e-9)
    print(
        f"area_m2      numpy {t_np:7.3f} s  to_crs  {t_pp:7.3f} s  "
        f"pyproj/numpy {t_pp / t_np:5.2f}x  max rel diff {rel.max():.2g}"
    )


if __name__ == "__main__":
    main()
