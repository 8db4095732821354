"""Scale benchmark: N sub-compartments through stage → GeoParquet → progress.

Generates (deterministically, under ``--workdir``, never in the repository)
a synthetic country of ~2,400 counties and N sub-compartment polygons with
30–300 vertices each (``synthetic_country.py``), one GeoPackage delivery per
county, then measures in one run:

* **stage** — ``forestsink.landing.staging.stage_deliveries``: read every delivery
  (encodings, aliases, CRS, types), validate it against the counties,
  compute ellipsoidal areas, write the county-partitioned GeoParquet
  dataset; Dask ``LocalCluster`` with 2 workers.
* **progress** — ``forestsink.progress.partitioned.progress_base_partitioned`` on that
  dataset: district split, net area (overlaps once), the county × year ×
  type table; with the **local** engine (the same tasks one after another
  in one process) and with Dask ``LocalCluster``s of **1** and **2**
  workers.

Every configuration runs in its own process so peak memory is that run's:
``peak MB`` is the driving process's maximum resident set plus, for Dask,
each worker's (``client.run`` reading ``ru_maxrss``; the scheduler lives in
the driving process). Throughput is polygons per second of wall time.

Run (after ``make test`` or ``make demo`` made ``.venv``)::

    .venv/bin/python benchmarks/bench_scale.py --sizes 1000000 --big 10000000

``--sizes`` get all three progress engines; ``--big`` gets the whole
pipeline with 2 workers only (the 10M target). ``--progress-only`` times
progress again on a dataset an earlier ``--keep`` run staged (or one whose
run was stopped after staging). Disk: about 2.2 GB per
million polygons for deliveries plus dataset (deleted after each size
unless ``--keep``).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_rss_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _client(workers: int):
    from forestsink.scale.distributed import client_for

    return client_for(workers=workers)


def _close(client) -> list[float]:
    peaks = list(client.run(_worker_rss_mb).values())
    cluster = client.cluster
    client.close()
    cluster.close()
    return peaks


def run_one(kind: str, workdir: Path, workers: int) -> dict:
    """One configuration, in this (fresh) process; returns its figures."""
    import geopandas as gpd

    from forestsink.reference import read_project_types

    zones = gpd.read_file(workdir / "counties.gpkg", engine="pyogrio")
    dataset = workdir / "dataset"
    client = _client(workers) if workers else None
    t0 = time.perf_counter()
    if kind == "stage":
        from forestsink.landing.staging import stage_deliveries

        shutil.rmtree(dataset, ignore_errors=True)
        report = stage_deliveries(
            [workdir / "deliveries"], dataset, zones=zones, client=client
        )
        if not report.ok:
            raise SystemExit(report.issues.head(20).to_string())
        n = report.polygons
        extra = {"warnings": int((report.issues["severity"] == "warning").sum())}
    else:
        from forestsink.progress.partitioned import progress_base_partitioned

        table = progress_base_partitioned(
            dataset,
            zones,
            read_project_types(),
            growth=None,
            end_year=2015,
            client=client,
        )
        n = None
        extra = {
            "rows": len(table),
            "gross_mu": float(table["gross_area_mu"].sum()),
            "net_mu": float(table["net_area_mu"].sum()),
        }
    seconds = time.perf_counter() - t0
    worker_peaks = _close(client) if client is not None else []
    return {
        "kind": kind,
        "workers": workers,
        "seconds": seconds,
        "polygons": n,
        "driver_peak_mb": _rss_mb(),
        "worker_peak_mb": worker_peaks,
        **extra,
    }


def _spawn(kind: str, workdir: Path, workers: int) -> dict:
    cmd = [sys.executable, __file__, "--one", kind, str(workdir), str(workers)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _generate(workdir: Path, n: int) -> dict:
    sys.path.insert(0, str(HERE))
    from synthetic_country import write_deliveries

    meta = workdir / "meta.json"
    if meta.exists():
        return json.loads(meta.read_text())
    shutil.rmtree(workdir, ignore_errors=True)
    t0 = time.perf_counter()
    info = write_deliveries(
        workdir, n, progress=lambda msg: print(f"    {msg}", flush=True)
    )
    info = {
        "polygons": info["polygons"],
        "vertices": info["vertices"],
        "files": len(info["files"]),
        "generate_s": time.perf_counter() - t0,
    }
    meta.write_text(json.dumps(info))
    return info


def _du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def _line(label: str, r: dict, n: int) -> str:
    peak = r["driver_peak_mb"] + sum(r["worker_peak_mb"])
    per = ", ".join(f"{p:,.0f}" for p in r["worker_peak_mb"]) or "-"
    return (
        f"| {label} | {r['seconds']:.1f} | {n / r['seconds']:,.0f} | "
        f"{r['driver_peak_mb']:,.0f} | {per} | {peak:,.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--big", type=int, default=None)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/forestsink-scale"))
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--progress-only",
        action="store_true",
        help="reuse the dataset a kept earlier run staged; time progress only",
    )
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        kind, workdir, workers = args.one
        print(json.dumps(run_one(kind, Path(workdir), int(workers))))
        return

    header = (
        "| run | s | polygons/s | driver peak MB | worker peaks MB | "
        "total peak MB |\n|---|---:|---:|---:|---:|---:|"
    )
    pipeline = {}
    for n in [*args.sizes, *([args.big] if args.big else [])]:
        workdir = args.workdir / f"n{n}"
        print(f"\n## N = {n:,}", flush=True)
        info = _generate(workdir, n)
        polys = info["polygons"]
        print(
            f"generated {polys:,} polygons, {info['vertices'] / polys:.0f} vertices "
            f"each on average, {info['files']} county files "
            f"({_du_mb(workdir / 'deliveries'):,.0f} MB) in {info['generate_s']:.0f} s"
        )
        print(header)
        if args.progress_only:
            if not (workdir / "dataset").is_dir():
                raise SystemExit(
                    f"{workdir / 'dataset'} missing: run without --progress-only"
                )
            stage = None
        else:
            stage = _spawn("stage", workdir, 2)
            print(_line("stage, dask 2 workers", stage, polys), flush=True)
        dataset_mb = _du_mb(workdir / "dataset")
        engines = [2] if n == args.big else [0, 1, 2]
        runs = {}
        for workers in engines:
            r = _spawn("progress", workdir, workers)
            runs[workers] = r
            label = "local" if not workers else f"dask {workers} worker(s)"
            print(_line(f"progress, {label}", r, polys), flush=True)
        if stage is not None:
            total = stage["seconds"] + runs[2]["seconds"]
            peak = max(
                stage["driver_peak_mb"] + sum(stage["worker_peak_mb"]),
                runs[2]["driver_peak_mb"] + sum(runs[2]["worker_peak_mb"]),
            )
            pipeline[n] = total
            print(
                f"\ndataset {dataset_mb:,.0f} MB; pipeline (stage + progress, "
                f"2 workers) {total:.1f} s = {polys / total:,.0f} polygons/s, "
                f"peak {peak:,.0f} MB"
            )
        if 1 in runs and 2 in runs:
            print(
                f"progress scaling 1 → 2 workers: "
                f"{runs[1]['seconds'] / runs[2]['seconds']:.2f}×; "
                f"local / dask-2: {runs[0]['seconds'] / runs[2]['seconds']:.2f}×"
            )
        nets = {w: r["net_mu"] for w, r in runs.items()}
        print(f"net area mu by engine (equal to rounding): {nets}")
        if not args.keep and not args.progress_only:
            shutil.rmtree(workdir)
    if len(pipeline) > 1:
        small = min(pipeline)
        for n, t in sorted(pipeline.items()):
            print(f"time({n:,}) / time({small:,}) = {t / pipeline[small]:.2f}")


if __name__ == "__main__":
    main()
