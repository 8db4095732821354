"""Benchmark: forest coverage per district (and per project polygon).

Compares, in the same run, on the 30 m sample land-cover raster of the whole
city (``data/sample/demo-30m``, 15,745 x 14,919 pixels, 92 M inside the
districts, 256² DEFLATE tiles):

* ``forestsink`` — ``compute_coverage`` (exact fractions, ellipsoidal areas,
  windowed reading), one year; then two years with the transition matrix;
  then the cost of the weights and of each year on one grid;
* ``rasterstats`` — ``zonal_stats(categorical=True)`` (pixel centres, counts);
* ``exactextract`` — ``exact_extract(ops=["unique", "frac"])`` called directly;
* ``floor`` — a windowed read + decode of the same file and a
  ``numpy.bincount`` of district × class over a zone raster precomputed in
  memory (not timed) — what any method must at least do.

Each method runs in its own process (peak memory = that process's maximum
resident set). Errors are against the exact result (forestsink, which the
tests check against exactextract's fractions cell by cell).

The second part measures forest share per project polygon for N (default
10,000) generated polygons (50–300 m blobs, overlapping allowed).

``--ten-m`` also builds a 10 m raster (about 2.1 G pixels, 820 M inside the
districts) by repeating each 30 m pixel 3 x 3, window by window, into
``/tmp/forestsink-bench/`` (not the repository), and runs the district
comparison on it.

Run: ``.venv/bin/pip install rasterstats && .venv/bin/python
benchmarks/bench_coverage.py [--ten-m] [--projects 10000]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "demo-30m" / "landcover"
WORK = Path(tempfile.gettempdir()) / "forestsink-bench"
FOREST, WATER, NODATA = (2, 3), 5, 0


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------


def make_10m(src_path: Path, dst_path: Path) -> Path:
    """Write a 10 m copy of a 30 m raster (each pixel 3 x 3), in windows."""
    import rasterio
    from rasterio.windows import Window

    if dst_path.exists():
        return dst_path
    dst_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst_path.with_suffix(".part.tif")
    with rasterio.open(src_path) as src:
        profile = src.profile.copy()
        t = src.transform
        profile.update(
            width=src.width * 3,
            height=src.height * 3,
            transform=type(t)(t.a / 3, 0, t.c, 0, t.e / 3, t.f),
            BIGTIFF="YES",
        )
        step = 256
        with rasterio.open(tmp, "w", **profile) as dst:
            for r in range(0, src.height, step):
                h = min(step, src.height - r)
                a = src.read(1, window=Window(0, r, src.width, h))
                big = np.repeat(np.repeat(a, 3, axis=0), 3, axis=1)
                dst.write(big, 1, window=Window(0, 3 * r, 3 * src.width, 3 * h))
    tmp.replace(dst_path)
    return dst_path


def make_projects(path: Path, n: int, raster: Path, seed: int = 11) -> Path:
    """N blob polygons (50–300 m radius) inside Chongqing, in the raster CRS."""
    import geopandas as gpd
    import rasterio
    import shapely

    from forestsink.reference import read_districts

    if path.exists():
        return path
    with rasterio.open(raster) as src:
        crs = src.crs
    city = shapely.union_all(read_districts().to_crs(crs).geometry.values)
    shapely.prepare(city)
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = city.bounds
    xs, ys = [], []
    while len(xs) < n:
        x, y = rng.uniform(xmin, xmax, n), rng.uniform(ymin, ymax, n)
        ok = shapely.contains_xy(city, x, y)
        xs.extend(x[ok])
        ys.extend(y[ok])
    pts = shapely.points(np.array(xs[:n]), np.array(ys[:n]))
    radius = rng.uniform(50, 300, n)
    blobs = shapely.buffer(pts, radius, quad_segs=4)
    squash = shapely.affinity.scale  # an ellipse-ish variety of shapes
    blobs = np.array(
        [squash(b, rng.uniform(0.5, 1.5), 1.0) for b in blobs], dtype=object
    )
    gdf = gpd.GeoDataFrame({"zone_id": np.arange(n)}, geometry=blobs, crs=crs)
    path.parent.mkdir(parents=True, exist_ok=True)
    gdf.to_file(path)
    return path


# --------------------------------------------------------------------------
# methods (each runs in a child process)
# --------------------------------------------------------------------------


def _zones(kind: str, raster: str):
    import geopandas as gpd
    import rasterio

    with rasterio.open(raster) as src:
        crs = src.crs
    if kind == "districts":
        from forestsink.reference import read_districts

        return read_districts().to_crs(crs)
    return gpd.read_file(kind)


def _ratio_from_counts(counts: dict, kind: str) -> float:
    valid = {int(k): v for k, v in counts.items() if int(k) != NODATA}
    forest = sum(valid.get(c, 0) for c in FOREST)
    if kind == "districts":
        land = sum(v for k, v in valid.items() if k != WATER)
    else:
        land = sum(valid.values())
    return 100.0 * forest / land if land else float("nan")


def run_forestsink(raster, raster2, kind):
    from forestsink import coverage as cov

    scheme = cov.read_class_scheme("clcd")
    if kind == "districts":
        zones = cov.read_zones("districts")
        t0 = time.perf_counter()
        result = cov.compute_coverage(
            [raster],
            zones=zones,
            years=[2010],
        )
        seconds = time.perf_counter() - t0
        table = result.table[result.table["level"] == "district"]
        values = table["coverage_pct"].to_numpy()
        extra = {}
        # one grid, several years: weights once, then each year
        infos = [cov.inspect_raster(p) for p in (raster, raster2)]
        t1 = time.perf_counter()
        weights = cov.zone_weights(
            zones.geoms,
            infos[0].grid,
        )
        t2 = time.perf_counter()
        cov.count_classes([infos[0]], weights, scheme)
        t3 = time.perf_counter()
        cov.count_classes([infos[1]], weights, scheme)
        # both years in one pass (no transition matrix): the further year
        # reuses the weights and the pixel positions gathered for the first
        t_pass = time.perf_counter()
        cov.count_classes(infos, weights, scheme, joint=False)
        one_pass = time.perf_counter() - t_pass
        t4 = time.perf_counter()
        two = cov.compute_coverage(
            [raster, raster2],
            zones=zones,
            years=[2010, 2015],
        )
        t5 = time.perf_counter()
        extra = {
            "weights_s": t2 - t1,
            "year1_count_s": t3 - t2,
            "year2_count_s": t_pass - t3,
            "both_one_pass_s": one_pass,
            "two_years_s": t5 - t4,
            "city_pct": two.table[two.table["level"] == "city"][
                "coverage_pct"
            ].tolist(),
        }
        return seconds, values, extra
    zones = _zones(kind, raster)
    info = cov.inspect_raster(raster)
    t0 = time.perf_counter()
    weights = cov.zone_weights(
        zones,
        info.grid,
    )
    areas = cov.count_classes([info], weights, scheme).per_year[:, 0, :]
    kinds = scheme.kinds()
    forest = areas[:, np.isin(kinds, ("forest", "shrub_forest"))].sum(axis=1)
    valid = areas[:, : scheme.n].sum(axis=1) - areas[:, list(scheme.codes).index(0)]
    seconds = time.perf_counter() - t0
    with np.errstate(invalid="ignore", divide="ignore"):
        return seconds, 100.0 * forest / valid, {}


def run_rasterstats(raster, _raster2, kind):
    from rasterstats import zonal_stats

    zones = _zones(kind, raster)
    t0 = time.perf_counter()
    stats = zonal_stats(zones, raster, categorical=True, nodata=NODATA)
    seconds = time.perf_counter() - t0
    return seconds, np.array([_ratio_from_counts(s, kind) for s in stats]), {}


def run_exactextract(raster, _raster2, kind):
    from exactextract import exact_extract

    zones = _zones(kind, raster)
    t0 = time.perf_counter()
    rows = exact_extract(raster, zones, ["unique", "frac"], output="pandas")
    seconds = time.perf_counter() - t0
    values = [
        _ratio_from_counts(dict(zip(u, f, strict=True)), kind)
        for u, f in zip(rows["unique"], rows["frac"], strict=True)
    ]
    return seconds, np.array(values), {}


def run_floor(raster, _raster2, kind):
    import rasterio
    from rasterio.features import rasterize
    from rasterio.windows import Window

    zones = _zones(kind, raster)
    with rasterio.open(raster) as src:
        zone = rasterize(
            [(g, i + 1) for i, g in enumerate(zones.geometry)],
            out_shape=(src.height, src.width),
            transform=src.transform,
            dtype="uint8",
        )
        k = 16
        t0 = time.perf_counter()
        counts = np.zeros((len(zones) + 1) * k, dtype=np.int64)
        step = src.block_shapes[0][0]
        for r in range(0, src.height, step):
            h = min(step, src.height - r)
            data = src.read(1, window=Window(0, r, src.width, h))
            key = zone[r : r + h].astype(np.intp) * k + data
            counts += np.bincount(key.ravel(), minlength=len(counts))
        seconds = time.perf_counter() - t0
    counts = counts.reshape(-1, k)[1:]
    values = [_ratio_from_counts({c: row[c] for c in range(k)}, kind) for row in counts]
    return seconds, np.array(values), {}


METHODS = {
    "forestsink": run_forestsink,
    "rasterstats": run_rasterstats,
    "exactextract": run_exactextract,
    "floor": run_floor,
}


def child(method, raster, raster2, kind, out) -> None:
    seconds, values, extra = METHODS[method](raster, raster2, kind)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(out).write_text(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak_mb,
                "values": [None if np.isnan(v) else float(v) for v in values],
                "extra": extra,
            }
        )
    )


def run(method, raster, raster2, kind) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    cmd = [sys.executable, __file__, "--child", method, str(raster), str(raster2)]
    subprocess.run([*cmd, kind, out], check=True)
    data = json.loads(Path(out).read_text())
    Path(out).unlink()
    data["values"] = np.array(
        [np.nan if v is None else v for v in data["values"]], dtype=float
    )
    return data


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------


def compare(title, raster, raster2, kind, methods) -> dict:
    print(f"\n== {title} ==")
    results = {m: run(m, raster, raster2, kind) for m in methods}
    exact = results["forestsink"]["values"]
    fastest_peer = min(
        results[m]["seconds"] for m in ("rasterstats", "exactextract") if m in results
    )
    print(
        f"{'method':<14}{'time s':>9}{'vs ours':>9}{'peak MB':>9}"
        f"{'max err pp':>12}{'mean err pp':>12}"
    )
    ours = results["forestsink"]["seconds"]
    for m, r in results.items():
        err = np.abs(r["values"] - exact)
        print(
            f"{m:<14}{r['seconds']:>9.2f}{r['seconds'] / ours:>9.2f}"
            f"{r['peak_mb']:>9.0f}{np.nanmax(err):>12.4f}{np.nanmean(err):>12.5f}"
        )
    ours = results["forestsink"]["seconds"]
    print(f"forestsink / fastest peer: {ours / fastest_peer:.2f}x")
    if "floor" in results:
        print(f"forestsink / floor:        {ours / results['floor']['seconds']:.2f}x")
    extra = results["forestsink"]["extra"]
    if extra:
        first = extra["weights_s"] + extra["year1_count_s"]
        print(
            f"one grid, several years: weights {extra['weights_s']:.2f} s, year 1 "
            f"count {extra['year1_count_s']:.2f} s, year 2 count "
            f"{extra['year2_count_s']:.2f} s -> a further year costs "
            f"{extra['year2_count_s'] / first:.2f}x the first; both years counted "
            f"in one pass {extra['both_one_pass_s']:.2f} s -> the further year "
            f"costs {(extra['both_one_pass_s'] - extra['year1_count_s']) / first:.2f}x"
            f" the first; two years with the "
            f"transition matrix {extra['two_years_s']:.2f} s; city coverage "
            + " / ".join(f"{v:.2f}%" for v in extra["city_pct"])
        )
    return results


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        child(*argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=SAMPLE)
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--ten-m", action="store_true")
    args = parser.parse_args(argv)
    r10, r15 = args.sample / "clcd_2010.tif", args.sample / "clcd_2015.tif"
    if not r10.exists():
        sys.exit(f"{r10} missing: run `make demo` (or scripts/make_sample.py) first")
    all_methods = ["forestsink", "rasterstats", "exactextract", "floor"]
    compare("38 districts, 30 m, one year", r10, r15, "districts", all_methods)
    projects = make_projects(
        WORK / f"projects_{args.projects}.gpkg", args.projects, r10
    )
    compare(
        f"{args.projects:,} project polygons, 30 m, forest share",
        r10,
        r15,
        str(projects),
        ["forestsink", "rasterstats", "exactextract"],
    )
    if args.ten_m:
        t0 = time.perf_counter()
        a = make_10m(r10, WORK / "clcd_2010_10m.tif")
        b = make_10m(r15, WORK / "clcd_2015_10m.tif")
        print(f"\n10 m rasters ready in {time.perf_counter() - t0:.0f} s: {a}, {b}")
        compare("38 districts, 10 m, one year", a, b, "districts", all_methods)


if __name__ == "__main__":
    main()
