"""Benchmark: ``sample design`` on the 30 m rasters against a windowed read.

Measures, in one run and each in its own child process:

* ``read`` — the floor: a windowed read + decode of both rasters (full-width
  row bands of about 2²⁰ pixels, the design's own bands) and nothing else;
* ``design n=…`` — :func:`forestsink.sampling.design.design_sample` on both
  years (stable forest / gain / loss / stable non-forest) × the 38
  districts: pass 1 reads and stratifies every band and counts per cell,
  pass 2 re-reads only the 64 × 256 cells that hold a drawn point.

With ``--reference FILE`` (a copy of an earlier ``design.py``, e.g. ``git
show 3d75e3d:forestsink/sampling/design.py > /tmp/design_before.py``) the
earlier design runs in the same run too (``before n=…``), so a change is
measured against the same floor on a shared machine. The repeats are
interleaved (read, design, before, read, …): a burst of load from other work
hits every method alike.

Imports are outside the clock in every child (the floor's ``rasterio``, the
design's modules and pandera, which the first reference table a process
reads imports once). ``--gdal-cache-mb`` sets ``GDAL_CACHEMAX`` for every
child: with a cache smaller than the tiles read, pass 2 decodes its tiles
again.

Reported: wall seconds (best of ``--repeat``) and CPU seconds of the process
(user + system, all threads; steadier than wall time on a shared machine),
each with its ratio to the floor, peak
resident memory of the process (VmHWM, Python and GDAL included) and, for the
design, pixels sampled in districts and cells re-read.

Run: ``.venv/bin/python benchmarks/bench_sampling.py [--landcover DIR]``
(``DIR`` holds ``clcd_2010.tif`` and ``clcd_2015.tif``; default: the 30 m
sample that ``make demo`` writes, ``data/sample/demo-30m/landcover``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "data" / "sample" / "demo-30m" / "landcover"


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _vmhwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_read(paths: list[str]) -> dict:
    import rasterio
    from rasterio.windows import Window

    t0, c0 = time.perf_counter(), _cpu_seconds()
    total = 0
    srcs = [rasterio.open(p) for p in paths]
    width, height = srcs[0].width, srcs[0].height
    rows = max(64, ((1 << 20) // width) // 64 * 64)
    for r0 in range(0, height, rows):
        h = min(rows, height - r0)
        for src in srcs:
            total += int(src.read(1, window=Window(0, r0, width, h))[0, 0])
    for src in srcs:
        src.close()
    return {
        "seconds": time.perf_counter() - t0,
        "cpu": _cpu_seconds() - c0,
        "peak_mb": _vmhwm_mb(),
    }


def run_design(paths: list[str], n: int, reference: str | None = None) -> dict:
    if reference:
        import importlib.util

        spec = importlib.util.spec_from_file_location("design_before", reference)
        module = importlib.util.module_from_spec(spec)
        sys.modules["design_before"] = module  # its dataclasses look it up
        spec.loader.exec_module(module)
        design_sample = module.design_sample
    else:
        from forestsink.sampling.design import design_sample
    # imports are outside the clock, as the floor's `import rasterio` is:
    # pandera (0.25-0.3 s) is imported by the first reference table a
    # process reads (the districts), once per process, not per raster
    import pandera  # noqa: F401

    t0, c0 = time.perf_counter(), _cpu_seconds()
    d = design_sample(paths, zones="districts", n=n, seed=1, min_per_stratum=5)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "cpu": _cpu_seconds() - c0,
        "peak_mb": _vmhwm_mb(),
        "points": len(d.points),
        "strata": len(d.strata),
        "pixels": int(d.strata["n_pixels"].sum()),
        "cells_reread": d.meta["cells_reread"],
    }


def child(
    method: str, paths: list[str], n: int, reference: str | None = None, env=None
) -> dict:
    extra = ["--reference", reference] if reference and method == "before" else []
    out = subprocess.run(
        [sys.executable, __file__, "--child", method, "--n", str(n), *extra, *paths],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--landcover", default=str(DEFAULT))
    parser.add_argument("--child")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference", help="an earlier design.py to time as well")
    parser.add_argument("--sizes", default="1000,5000", help="sample sizes n")
    parser.add_argument(
        "--gdal-cache-mb",
        type=int,
        help="GDAL_CACHEMAX of every run (default: GDAL's, 5 %% of the RAM)",
    )
    args = parser.parse_args()
    if args.child:
        paths = args.paths
        if args.child == "read":
            result = run_read(paths)
        else:
            ref = args.reference if args.child == "before" else None
            result = run_design(paths, args.n, ref)
        print(json.dumps(result))
        return
    env = None
    if args.gdal_cache_mb:
        env = {**os.environ, "GDAL_CACHEMAX": str(args.gdal_cache_mb)}
    lc = Path(args.landcover)
    paths = [str(lc / "clcd_2010.tif"), str(lc / "clcd_2015.tif")]
    import rasterio

    with rasterio.open(paths[0]) as src:
        shape = (src.width, src.height, src.block_shapes[0], src.compression)
    print(f"rasters: {shape[0]} x {shape[1]} pixels, blocks {shape[2]}, {shape[3]}")
    child("read", paths, 0, env=env)  # warm the page cache
    plan = [("read", 0)]
    for n in (int(v) for v in args.sizes.split(",")):
        plan.append(("design", n))
        if args.reference:
            plan.append(("before", n))
    runs: dict = {key: [] for key in plan}
    for _ in range(args.repeat):  # interleaved
        for method, n in plan:
            runs[(method, n)].append(child(method, paths, n, args.reference, env))
    rows = []
    for method, n in plan:
        best = min(runs[(method, n)], key=lambda r: r["seconds"])
        best["cpu"] = min(r["cpu"] for r in runs[(method, n)])
        rows.append((method if method == "read" else f"{method} n={n}", best))
    floor = rows[0][1]["seconds"]
    cpu_floor = rows[0][1]["cpu"]
    print(
        f"{'method':<16}{'seconds':>9}{'x read':>8}{'CPU s':>8}{'x read':>8}"
        f"{'peak MB':>9}  detail"
    )
    for name, r in rows:
        detail = (
            ""
            if name == "read"
            else f"{r['points']} points, {r['strata']} strata, "
            f"{r['pixels']:,} pixels, {r['cells_reread']} cells re-read"
        )
        print(
            f"{name:<16}{r['seconds']:>9.2f}{r['seconds'] / floor:>8.2f}"
            f"{r['cpu']:>8.2f}{r['cpu'] / cpu_floor:>8.2f}"
            f"{r['peak_mb']:>9.0f}  {detail}"
        )


if __name__ == "__main__":
    main()
