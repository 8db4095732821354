"""Benchmark: ingest into an empty store vs what a user would otherwise run.

Compares, in the same run, on a generated GBK Shapefile of N polygons
(default 200,000) inside Chongqing:

* ``fiona``   — ``geopandas.read_file(path, engine="fiona")`` (read only);
* ``pyogrio`` — bare ``pyogrio.read_dataframe`` + ``to_crs(4490)`` +
  ``pyogrio.write_dataframe`` to a GeoPackage (no checks, no history);
* ``forestsink read`` — ``read_delivery`` (encoding, CRS, columns, types);
* ``forestsink ingest`` — the whole ``ingest_deliveries``: read, validate,
  version, write one batch.

Run: ``.venv/bin/python benchmarks/bench_ingest.py [--n 200000]``, or
``--sample data/sample/demo-30m/deliveries`` for the full sample (``make
sample`` first): its 2011–2015 deliveries, as ``make demo`` loads them
(needs ``pip install -e .[bench]`` for fiona). Prints times and ratios.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

CHONGQING_BOX = (106.0, 29.0, 109.0, 31.0)


def make_shapefile(path: Path, n: int, seed: int = 7) -> Path:
    """N small squares inside Chongqing (points drawn inside the districts)."""
    from synthetic import points_in_chongqing

    rng = np.random.default_rng(seed)
    x, y, adcode = points_in_chongqing(rng, n)
    size = rng.uniform(0.001, 0.004, n)
    geoms = shapely.box(x, y, x + size, y + size)
    gdf = gpd.GeoDataFrame(
        {
            "小班号": [f"B{i:07d}" for i in range(n)],
            "区县": adcode,
            "年度": rng.integers(2011, 2016, n),
            "工程类别": rng.choice(
                ["人工造林", "退耕还林", "低效林改造", "中幼林抚育"], n
            ),
        },
        geometry=geoms,
        crs=4490,
    )
    from forestsink.area import area_mu

    gdf["面积(亩)"] = np.round(area_mu(gdf), 1)
    pyogrio.write_dataframe(gdf.to_crs(4545), path, encoding="GBK")
    return path


def timed(fn, repeat: int = 1) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def sample_run(folder: Path, repeat: int = 1) -> None:
    """The full sample: every yearly delivery, as ``make demo`` loads them.

    forestsink ingests the five year folders (``--fix --skip-errors``: one
    batch per file, repaired geometry, defective features left out); the
    baselines read every delivery file the same library can open, and the
    bare path writes each to a GeoPackage of its own (faster than layers of
    one file, which slow down as the file grows; files without a CRS cannot
    be reprojected: they are left out of the bare path, which is counted).
    ``pyogrio.read_arrow`` alone (GDAL opening each file and handing its
    features over as Arrow, nothing else) is the floor of any reader built
    on pyogrio: with ~40 features a file, opening the file dominates.
    """
    from forestsink.ingest import find_delivery_files
    from forestsink.landing.deliveries import ingest_deliveries
    from forestsink.store import GeoPackageStore

    years = [folder / str(y) for y in range(2011, 2016)]
    files = list(find_delivery_files(years))
    counts = {"bare left out": 0}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)

        def fiona_read():
            for f in files:
                try:
                    gpd.read_file(f, engine="fiona")
                except Exception:
                    pass

        def bare_pyogrio():
            counts["bare left out"] = 0
            for k, f in enumerate(files):
                out = tmp / f"bare-{k}.gpkg"
                out.unlink(missing_ok=True)
                try:
                    df = pyogrio.read_dataframe(f)
                    if df.crs is None:
                        raise ValueError("no CRS")
                    pyogrio.write_dataframe(df.to_crs(4490), out)
                except Exception:
                    counts["bare left out"] += 1

        def arrow_read():  # the floor: GDAL's read of each file into Arrow
            for f in files:
                try:
                    pyogrio.read_arrow(f)
                except Exception:
                    pass

        def fs_read():
            from forestsink.errors import ForestsinkError
            from forestsink.ingest import read_delivery

            for f in files:
                try:
                    read_delivery(f)
                except ForestsinkError:
                    pass

        def fs_ingest():
            store = tmp / "store.gpkg"
            store.unlink(missing_ok=True)
            ingest_deliveries(years, GeoPackageStore(store), fix=True, skip_errors=True)

        results = {}
        try:
            import fiona  # noqa: F401

            results["fiona read"] = timed(fiona_read, repeat)
        except ImportError:
            print("fiona not installed: pip install -e .[bench]")
        results["pyogrio read+to_crs+write"] = timed(bare_pyogrio, repeat)
        results["pyogrio.read_arrow alone"] = timed(arrow_read, repeat)
        results["forestsink read (one process)"] = timed(fs_read, repeat)
        results["forestsink ingest"] = timed(fs_ingest, repeat)
        print(f"sample {folder}: {len(files)} delivery files")
        for name, t in results.items():
            print(f"  {name:28s} {t:8.2f} s")
        print(
            f"  (bare path left out {counts['bare left out']} file(s) it cannot read)"
        )
        if "fiona read" in results:
            ratio = results["fiona read"] / results["forestsink read (one process)"]
            print(f"  read speed-up vs fiona: {ratio:.1f}x")
            floor = results["fiona read"] / results["pyogrio.read_arrow alone"]
            print(f"  (GDAL's bare read into Arrow vs fiona: {floor:.1f}x)")
        print(
            f"  ingest / bare pyogrio: "
            f"{results['forestsink ingest'] / results['pyogrio read+to_crs+write']:.2f}"
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--sample",
        type=Path,
        default=None,
        help="the generated sample (e.g. data/sample/demo-30m/deliveries): "
        "benchmark its yearly deliveries instead of a generated file",
    )
    args = parser.parse_args(argv)
    if args.sample is not None:
        sample_run(args.sample, args.repeat)
        return
    from forestsink.ingest import read_delivery
    from forestsink.landing.deliveries import ingest_deliveries
    from forestsink.store import GeoPackageStore

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        shp = make_shapefile(tmp / "big.shp", args.n)
        results = {}

        def fiona_read():
            gpd.read_file(shp, engine="fiona")

        def bare_pyogrio():
            out = tmp / "bare.gpkg"
            out.unlink(missing_ok=True)
            df = pyogrio.read_dataframe(shp, encoding="GBK").to_crs(4490)
            pyogrio.write_dataframe(df, out)

        def fs_read():
            read_delivery(shp)

        def fs_ingest():
            store = tmp / "store.gpkg"
            store.unlink(missing_ok=True)
            ingest_deliveries([shp], GeoPackageStore(store), skip_errors=True)

        try:
            import fiona  # noqa: F401

            results["fiona read"] = timed(fiona_read, args.repeat)
        except ImportError:
            print("fiona not installed: pip install -e .[bench]")
        results["pyogrio read+to_crs+write"] = timed(bare_pyogrio, args.repeat)
        results["forestsink read"] = timed(fs_read, args.repeat)
        results["forestsink ingest"] = timed(fs_ingest, args.repeat)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"N = {args.n:,} polygons (GBK Shapefile, EPSG:4545)")
        for name, t in results.items():
            print(f"  {name:28s} {t:8.2f} s")
        if "fiona read" in results:
            print(
                f"  read speed-up vs fiona: "
                f"{results['fiona read'] / results['forestsink read']:.1f}x"
            )
        print(
            f"  ingest / bare pyogrio: "
            f"{results['forestsink ingest'] / results['pyogrio read+to_crs+write']:.2f}"
        )
        print(f"  peak RSS of this process: {peak:,.0f} MB")
        helpers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"  peak RSS of a helper process (at most): {helpers:,.0f} MB")


if __name__ == "__main__":
    main()
