"""Benchmark: report size and time to interactive in headless Chromium.

Builds a store with N generated project polygons (default: the sample store
if given with --store, else 100,000 polygons), writes the report, opens it
offline in headless Chromium and measures the time until the page says it is
ready (map drawn, tables built), and the file size.

Run: ``.venv/bin/python benchmarks/bench_report.py --n 100000``
     ``.venv/bin/python benchmarks/bench_report.py --store STORE.gpkg``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def make_store(path: Path, n: int):
    from bench_progress import make_polygons

    from forestsink.area import area_mu
    from forestsink.store import GeoPackageStore

    gdf = make_polygons(n)
    gdf["project_id"] = [k.split("/")[1] for k in gdf["key"]]
    gdf["area_mu"] = area_mu(gdf)
    gdf["area_reported_mu"] = np.nan
    gdf["programme"] = None
    gdf["attrs"] = "{}"
    gdf["source_file"] = "generated"
    gdf["source_row"] = np.arange(n)
    store = GeoPackageStore(path)
    store.write_delivery(gdf, source_name="generated", source_sha256="0" * 64)
    return store


def open_in_chromium(path: Path) -> float:
    from browser import driver, wait_ready

    d = driver()
    try:
        t0 = time.perf_counter()
        d.get(path.resolve().as_uri())
        wait_ready(d, timeout=120)
        return time.perf_counter() - t0
    finally:
        d.quit()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--store", help="use an existing store instead")
    args = parser.parse_args(argv)
    from forestsink.render.report import build_report
    from forestsink.store import GeoPackageStore

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if args.store:
            store = GeoPackageStore(args.store)
        else:
            store = make_store(tmp / "store.gpkg", args.n)
        n = len(store.current())
        t0 = time.perf_counter()
        out = build_report(store, tmp / "report.html", draws=2000)
        t_build = time.perf_counter() - t0
        size = out.stat().st_size / 1e6
        t_open = open_in_chromium(out)
        print(f"polygons: {n:,}")
        print(f"  report build: {t_build:6.1f} s, size {size:6.1f} MB")
        print(f"  time to interactive in headless Chromium: {t_open:6.2f} s")


if __name__ == "__main__":
    main()
