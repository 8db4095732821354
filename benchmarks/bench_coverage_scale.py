"""Benchmark: coverage of a 2-billion-pixel raster, local vs Dask workers.

Builds (once) a 10 m copy of the 30 m sample raster (each pixel repeated
3 x 3: 47,235 x 44,757 = 2.1 G pixels, 256² DEFLATE tiles) under
``/tmp/forestsink-bench/`` with the builder of ``bench_coverage.py``, then
measures, in one run, per-district coverage of one year with

* ``local`` — ``compute_coverage`` in this process;
* ``dask-1`` / ``dask-2`` — ``compute_coverage(engine="dask")`` on a
  ``LocalCluster`` of 1 and 2 single-threaded worker processes (each worker
  opens the raster and reads its own row bands);
* ``floor`` — a windowed read + decode of the whole file and a
  ``numpy.bincount`` of zone x class over a zone raster rasterised
  beforehand (untimed), in one process.

Each runs in its own child process. Reported: seconds, pixels/s (over all
2.1 G raster pixels, for comparison with the floor), peak memory of the
process (VmHWM) and of each Dask worker (VmHWM read with ``client.run``),
the 1 -> 2 worker speed-up and the ratio to the floor.

Run: ``.venv/bin/python benchmarks/bench_coverage_scale.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_coverage import SAMPLE, WORK, make_10m, run_floor  # noqa: E402


def _vmhwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_method(method: str, raster: str) -> dict:
    from forestsink import coverage as cov

    if method == "floor":
        seconds, _values, _ = run_floor(raster, raster, "districts")
        return {"seconds": seconds, "peak_mb": _vmhwm_mb(), "workers_mb": []}
    zones = cov.read_zones("districts")
    if method == "local":
        t0 = time.perf_counter()
        result = cov.compute_coverage([raster], zones=zones, years=[2010])
        seconds = time.perf_counter() - t0
        workers: list[float] = []
    else:
        from forestsink.scale.distributed import client_for

        n = int(method.split("-")[1])
        client = client_for(workers=n)
        client.wait_for_workers(n)
        try:
            t0 = time.perf_counter()
            result = cov.compute_coverage(
                [raster],
                zones=zones,
                years=[2010],
                engine="dask",
                scheduler=client.scheduler.address,
            )
            seconds = time.perf_counter() - t0
            workers = sorted(client.run(_vmhwm_mb).values())
        finally:
            cluster = client.cluster
            client.close()
            cluster.close()
    city = result.table[result.table["level"] == "city"]["coverage_pct"].iloc[0]
    return {
        "seconds": seconds,
        "peak_mb": _vmhwm_mb(),
        "workers_mb": workers,
        "city_pct": float(city),
    }


def child(method: str, raster: str, out: str) -> None:
    Path(out).write_text(json.dumps(run_method(method, raster)))


def run(method: str, raster: Path) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    cmd = [sys.executable, __file__, "--child", method, str(raster), out]
    subprocess.run(cmd, check=True)
    data = json.loads(Path(out).read_text())
    Path(out).unlink()
    return data


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        child(*argv[1:])
        return
    src = SAMPLE / "clcd_2010.tif"
    if not src.exists():
        sys.exit(f"{src} missing: run `make demo` (or scripts/make_sample.py) first")
    t0 = time.perf_counter()
    raster = make_10m(src, WORK / "clcd_2010_10m.tif")
    print(f"10 m raster ready in {time.perf_counter() - t0:.0f} s: {raster}")
    import rasterio

    with rasterio.open(raster) as ds:
        pixels = ds.width * ds.height
        print(f"{ds.width:,} x {ds.height:,} = {pixels / 1e9:.2f} G pixels")
    results = {m: run(m, raster) for m in ("floor", "local", "dask-1", "dask-2")}
    floor = results["floor"]["seconds"]
    print(
        f"\n{'method':<8}{'time s':>9}{'Mpx/s':>9}{'vs floor':>10}{'peak MB':>9}"
        f"{'worker peak MB':>18}{'city %':>9}"
    )
    for m, r in results.items():
        workers = ", ".join(f"{w:.0f}" for w in r["workers_mb"]) or "-"
        city = f"{r['city_pct']:.3f}" if "city_pct" in r else "-"
        print(
            f"{m:<8}{r['seconds']:>9.1f}{pixels / r['seconds'] / 1e6:>9.0f}"
            f"{r['seconds'] / floor:>10.2f}{r['peak_mb']:>9.0f}{workers:>18}{city:>9}"
        )
    speedup = results["dask-1"]["seconds"] / results["dask-2"]["seconds"]
    print(f"\n1 -> 2 workers: {speedup:.2f}x faster")
    cities = [r["city_pct"] for r in results.values() if "city_pct" in r]
    print(f"city coverage spread between engines: {np.ptp(cities):.2e} pp")


if __name__ == "__main__":
    main()
