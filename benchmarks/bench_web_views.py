"""Benchmark: the web's as-of, diff and editor batch-list computations.

On a GeoPackage store of N generated polygons inside Chongqing, landed as
one batch per district and year (``write_delivery``, as ingest does), then
W withdrawal batches, times in the same run:

1. ``BatchDistricts.of`` (which districts each batch touched, through the
   store protocol: ``current(as_of=…)`` of the last batch and of the batch
   before each one that ended versions) cold (``forestsink serve`` does it
   once at start), from the shared file (another worker, a restart) and
   warm (in memory), against the floor: one SQL query over the version
   table (``batch_id`` and ``ended_batch`` with the key's adcode), which
   the protocol does not offer; the answers are compared.
2. ``asof_result`` (``GET /api/asof``) for the whole city and one district.
3. ``diff_result`` (``GET /api/diff``) between the first and last batch.

Run: ``.venv/bin/python benchmarks/bench_web_views.py --n 20000``
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

from bench_progress import make_polygons

from forestsink.area import area_mu
from forestsink.store import GeoPackageStore
from forestsink.web.views import (
    BatchDistricts,
    asof_result,
    batch_districts_file,
    diff_result,
)


def build(path: Path, n: int, withdrawals: int) -> GeoPackageStore:
    polygons = make_polygons(n)
    polygons["project_id"] = polygons["key"].str.split("/").str[1]
    polygons["area_mu"] = area_mu(polygons)
    store = GeoPackageStore(path)
    groups = polygons.groupby(["year", "adcode"])
    for k, ((year, adcode), part) in enumerate(groups):
        store.write_delivery(
            part.reset_index(drop=True),
            source_name=f"{adcode}_{year}.gpkg",
            source_sha256=f"sha-{k}",
            user="bench",
        )
    for key in polygons["key"].iloc[:withdrawals]:
        store.withdraw(key, reason="bench", user="bench")
    return store


def floor(path: Path) -> dict[int, frozenset[str]]:
    """Adcodes per batch in one query (created or ended versions)."""
    touched: dict[int, set[str]] = {}
    with sqlite3.connect(path) as conn:
        for batch, key in conn.execute(
            "SELECT batch_id, key FROM project_versions UNION "
            "SELECT ended_batch, key FROM project_versions "
            "WHERE ended_batch IS NOT NULL"
        ):
            touched.setdefault(int(batch), set()).add(key.split("/")[0])
    return {b: frozenset(v) for b, v in touched.items()}


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="polygons")
    parser.add_argument("--withdrawals", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="forestsink-bench-views-") as tmp:
        path = Path(tmp) / "store.gpkg"
        t_build, store = timed(build, path, args.n, args.withdrawals)
        batches = store.batches()
        last = int(batches["batch_id"].iloc[-1])
        print(
            f"store: {args.n} polygons, {len(batches)} batches "
            f"(built in {t_build:.1f} s)"
        )
        shared = batch_districts_file(store, Path(tmp))
        index = BatchDistricts(shared)
        t_cold, touched = timed(index.of, store, batches)
        t_file, loaded = timed(BatchDistricts(shared).of, store, batches)
        t_warm, again = timed(index.of, store, batches)
        t_floor, direct = timed(floor, path)
        same = touched == {b: direct.get(b, frozenset()) for b in touched}
        ending = int(((batches["n_changed"] > 0) | (batches["kind"] != "ingest")).sum())
        print(f"batch districts, cold ({ending + 1} states read): {t_cold:8.2f} s")
        print(f"batch districts, from the shared file:  {t_file:8.4f} s")
        print(f"batch districts, warm (cached):        {t_warm:8.4f} s")
        print(f"floor, one SQL query:                  {t_floor:8.4f} s")
        print(
            f"same answer as the floor: {same}; warm == file == cold: "
            f"{again == touched == loaded}"
        )
        t_city, city = timed(asof_result, store, None)
        t_one, one = timed(asof_result, store, None, districts=["500101"])
        t_diff, diff = timed(diff_result, store, 1, last)
        print(f"as of now, whole city ({city['n_polygons']} polygons): {t_city:.2f} s")
        print(f"as of now, 500101 ({one['n_polygons']} polygons):     {t_one:.2f} s")
        print(f"diff 1 -> {last} ({diff['n_changes']} changes):        {t_diff:.2f} s")


if __name__ == "__main__":
    main()
