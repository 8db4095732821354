"""Where the time of one ingest goes: wall-clock per stage, beside the baseline.

Generates the same GBK Shapefile as ``bench_ingest.py`` (default 200,000
polygons), runs the bare pyogrio baseline (read + ``to_crs`` + write) and
then one ``ingest_deliveries`` into an empty GeoPackage store, with timers
wrapped around its internal stages (private functions: this script follows
the code, it is not an API). Stages nest: ``read_delivery`` includes the raw
read, ``validate_delivery`` the district shares, ``stage`` the hashes and
blobs, ``land (transaction)`` the SQL copy and the R-tree.

With helper processes (the default at this size) their chunks are not in
the stage times; ``--workers 0`` shows every stage in this process.

Run: ``.venv/bin/python benchmarks/profile_ingest.py [--n 200000] [--workers 0]``
"""

from __future__ import annotations

import argparse
import collections
import functools
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

TIMES: dict[str, float] = collections.defaultdict(float)


def _timed(module, name: str, label: str) -> None:
    original = getattr(module, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            TIMES[label] += time.perf_counter() - t0

    setattr(module, name, wrapper)


def _instrument() -> None:
    from forestsink import ingest
    from forestsink.ingest import layer, read
    from forestsink.landing import chunked, deliveries
    from forestsink.store import gpkg, gpkg_staging
    from forestsink.validate import geometry, placement

    # each function is wrapped where its caller looks it up
    for module, name, label in [
        (deliveries, "file_sha256", "  file SHA-256"),
        (layer, "read_raw", "  pyogrio read (Arrow)"),
        (layer, "transcode", "  transcode GBK"),
        (deliveries, "validate_delivery", "validate_delivery"),
        (chunked, "validate_delivery", "validate_delivery"),
        (geometry, "albers_of", "  Albers coordinates"),
        (geometry, "albers_geometries", "  Albers coordinates"),
        (placement, "inside_fractions", "  city/district shares"),
        (deliveries, "spill_frame", "spill checked chunks (Arrow)"),
        (deliveries, "read_spilled", "read checked chunks back"),
        (gpkg_staging, "_stage", "stage (ADBC, background)"),
        (gpkg_staging, "content_hashes", "  content hashes"),
        (gpkg_staging, "to_gpkg_blobs", "  GeoPackage blobs"),
        (gpkg, "index_rtree", "  R-tree"),
    ]:
        _timed(module, name, label)
    original_read = read.read_delivery

    def read_delivery(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original_read(*args, **kwargs)
        finally:
            TIMES["read_delivery"] += time.perf_counter() - t0

    ingest.read_delivery = read.read_delivery = read_delivery
    deliveries.read_delivery = chunked.read_delivery = read_delivery
    original_tx = gpkg.GeoPackageStore.transaction

    @contextmanager
    def transaction(self):
        with original_tx(self) as conn:
            t0 = time.perf_counter()
            yield conn
            TIMES["land (transaction)"] += time.perf_counter() - t0
            t0 = time.perf_counter()
        TIMES["commit"] += time.perf_counter() - t0

    gpkg.GeoPackageStore.transaction = transaction


def main(argv=None) -> None:
    import pyogrio
    from bench_ingest import make_shapefile

    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument(
        "--chunk-size", type=int, default=None, help="default: the ingest's own"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="helper processes (default: the ingest's own); their work is not "
        "in the stage times: 0 to see every stage in this process",
    )
    args = parser.parse_args(argv)
    _instrument()
    from forestsink.landing.deliveries import ingest_deliveries
    from forestsink.reference import read_districts, read_project_types
    from forestsink.store import GeoPackageStore

    read_districts()
    read_project_types()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        shp = make_shapefile(tmp / "big.shp", args.n)
        t0 = time.perf_counter()
        df = pyogrio.read_dataframe(shp, encoding="GBK")
        t1 = time.perf_counter()
        df = df.to_crs(4490)
        t2 = time.perf_counter()
        pyogrio.write_dataframe(df, tmp / "bare.gpkg")
        t3 = time.perf_counter()
        bare = t3 - t0
        print(f"N = {args.n:,}")
        print(
            f"bare pyogrio {bare:.2f} s (read {t1 - t0:.2f}, to_crs {t2 - t1:.2f}, "
            f"write {t3 - t2:.2f})"
        )
        t0 = time.perf_counter()
        chunking = {} if args.chunk_size is None else {"chunk_size": args.chunk_size}
        chunking["workers"] = args.workers
        ingest_deliveries(
            [shp], GeoPackageStore(tmp / "s.gpkg"), skip_errors=True, **chunking
        )
        total = time.perf_counter() - t0
        print(f"forestsink ingest {total:.2f} s ({total / bare:.2f}x bare)")
        order = [
            "read_delivery",
            "  file SHA-256",
            "  pyogrio read (Arrow)",
            "  transcode GBK",
            "validate_delivery",
            "  Albers coordinates",
            "  city/district shares",
            "spill checked chunks (Arrow)",
            "read checked chunks back",
            "stage (ADBC, background)",
            "  content hashes",
            "  GeoPackage blobs",
            "land (transaction)",
            "  R-tree",
            "commit",
        ]
        for label in order:
            print(f"  {label:32s} {TIMES[label]:6.2f} s")
        rest = total - sum(TIMES[k] for k in order if not k.startswith(" "))
        print(f"  {'other (between stages)':32s} {rest:6.2f} s")


if __name__ == "__main__":
    main()
