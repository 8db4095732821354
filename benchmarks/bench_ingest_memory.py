"""Benchmark: peak memory of ingesting a very large delivery, chunked vs whole.

Generates a GBK Shapefile of N polygons (default 2,000,000), then ingests it
into an empty store twice, each in its own process: in chunks (the default,
100,000 features) and in one read (``chunk_size=0``). Prints each child's
peak resident memory and time, and (an upper bound: it includes what the
child held when it started them) the peak of the helper processes that
check chunks beside it.

Run: ``.venv/bin/python benchmarks/bench_ingest_memory.py --n 2000000``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

CHILD = """
import sys
from forestsink.landing.deliveries import ingest_deliveries
from forestsink.store import GeoPackageStore
_, (out,) = ingest_deliveries([sys.argv[1]], GeoPackageStore(sys.argv[2]),
                              skip_errors=True, chunk_size=int(sys.argv[3]))
import resource
helpers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")]
print(out["added"], out["status"], f"; a helper process at most {helpers:,.0f} MB",
      "|", int(hwm[0].split()[1]) / 1024)
"""


def child(shp: Path, store: Path, chunk: int) -> tuple[float, float, str]:
    """Run one ingest in a fresh process; return time, its own VmHWM, output.

    (``RUSAGE_CHILDREN`` would count the parent's memory, inherited at fork
    before the child's exec.)
    """
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(shp), str(store), str(chunk)],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - t0
    text, peak = out.stdout.strip().rsplit("|", 1)
    return seconds, float(peak), text.strip()


def main(argv=None) -> None:
    from bench_ingest import make_shapefile

    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2_000_000)
    parser.add_argument(
        "--whole",
        action="store_true",
        help="also ingest in one read (needs much more memory)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        t0 = time.perf_counter()
        shp = make_shapefile(tmp / "big.shp", args.n)
        print(f"generated {args.n:,} polygons in {time.perf_counter() - t0:.0f} s")
        s, mb, out = child(shp, tmp / "a.gpkg", 100_000)
        print(f"  chunked (100,000): {s:7.1f} s, peak {mb:,.0f} MB ({out})")
        if args.whole:
            s, mb, out = child(shp, tmp / "b.gpkg", 0)
            print(f"  one read:          {s:7.1f} s, peak {mb:,.0f} MB ({out})")


if __name__ == "__main__":
    main()
