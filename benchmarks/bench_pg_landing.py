"""How long a PostGIS landing holds the store's write lock (issue #20).

Lands ``--n`` deliveries of 40 features one after the other into a fresh
schema of a throwaway PostgreSQL + PostGIS server (``scripts/pg_test_server.sh``)
after ``--base`` landings that fill the store, and times each
``write_delivery`` call and the part of it that holds the lock: from the
``LOCK TABLE`` statement's return (or, when the lock is taken inside a
message of statements, from that message's start: an upper bound, it
includes the ``ANALYZE`` before the lock) to the commit's return. Measured
on the client (psycopg calls wrapped), so round trips count as they do in
the web server. Run it from the checkout to measure:

    .venv/bin/python benchmarks/bench_pg_landing.py
    /work/main/.venv/bin/python /path/to/other/checkout/benchmarks/bench_pg_landing.py
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import geopandas as gpd
import psycopg
from shapely.geometry import box

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forestsink.landing.deliveries import check_deliveries  # noqa: E402
from forestsink.store.postgis import PostGISStore  # noqa: E402

HOLD: dict = {}


def _wrap() -> None:
    """Note when the lock is asked for and when the commit returns."""
    execute, commit = psycopg.Cursor.execute, psycopg.Connection.commit

    def timed_execute(self, query, *args, **kwargs):
        text = query if isinstance(query, str) else ""
        locked_message = "LOCK TABLE" in text and not text.startswith("LOCK")
        if locked_message:
            HOLD["start"] = time.perf_counter()
        out = execute(self, query, *args, **kwargs)
        if text.startswith("LOCK TABLE"):
            HOLD["start"] = time.perf_counter()
        return out

    def timed_commit(self):
        out = commit(self)
        if "start" in HOLD:
            HOLD.setdefault("held", []).append(time.perf_counter() - HOLD.pop("start"))
        return out

    psycopg.Cursor.execute = timed_execute
    psycopg.Connection.execute = lambda self, q, *a, **k: timed_execute(
        self.cursor(), q, *a, **k
    )
    psycopg.Connection.commit = timed_commit


def _delivery(folder: Path, k: int, n: int = 40):
    y0 = 30.65 + 0.0004 * (k % 100)
    x0 = 108.25 + 0.02 * (k // 100)
    gdf = gpd.GeoDataFrame(
        {
            "小班号": [f"B{k:04d}-{i:02d}" for i in range(n)],
            "区县": ["万州区"] * n,
            "年度": [2013] * n,
            "工程类别": ["人工造林"] * n,
        },
        geometry=[
            box(x0 + 0.0004 * i, y0, x0 + 0.0004 * i + 0.0003, y0 + 0.0003)
            for i in range(n)
        ],
        crs=4490,
    )
    path = folder / f"d{k}.geojson"
    gdf.to_file(path)
    return check_deliveries([path]).deliveries[0][1].frame


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40, help="landings timed")
    ap.add_argument("--base", type=int, default=100, help="landings before")
    args = ap.parse_args()
    pg_dir = tempfile.mkdtemp(prefix="forestsink-bench-pg-")
    script = ROOT / "scripts/pg_test_server.sh"
    run = subprocess.run(
        ["bash", str(script), "start", pg_dir],
        check=True,
        capture_output=True,
        text=True,
    )
    url = run.stdout.strip().splitlines()[-1]
    try:
        store = PostGISStore(f"{url}?schema=b_{uuid.uuid4().hex[:8]}")
        folder = Path(tempfile.mkdtemp())
        frames = [_delivery(folder, k) for k in range(args.base + args.n)]
        for k, f in enumerate(frames[: args.base]):
            store.write_delivery(f, source_name=f"d{k}", source_sha256=f"{k:064d}")
        _wrap()
        walls = []
        for k, f in enumerate(frames[args.base :], start=args.base):
            t0 = time.perf_counter()
            store.write_delivery(f, source_name=f"d{k}", source_sha256=f"{k:064d}")
            walls.append(time.perf_counter() - t0)
        held = HOLD.get("held", [])
        assert len(held) == args.n, len(held)
        print(f"{ROOT}: {args.n} landings of 40 features after {args.base}")
        for name, values in (("write_delivery", walls), ("lock held", held)):
            ms = sorted(1000 * v for v in values)
            print(
                f"  {name:15s} median {statistics.median(ms):6.1f} ms, "
                f"p95 {ms[int(0.95 * (len(ms) - 1))]:6.1f} ms"
            )
        assert store.integrity_check() == "ok"
    finally:
        subprocess.run(
            ["bash", str(script), "stop", pg_dir], check=False, capture_output=True
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
