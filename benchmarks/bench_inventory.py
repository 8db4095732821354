"""Benchmark: inventory load, stats and change on a province-size year, both engines.

Run: ``.venv/bin/python benchmarks/bench_inventory.py --n 5000000`` (``--n
200000`` for a quick run; generated layers and the loaded store are cached
under ``/tmp/forestsink-bench/inventory-<n>-<seed>/``, ``--fresh`` rebuilds).

Synthetic, generated in code (seed): *n* 小班 over the 38 districts of
``data/districts.gpkg``, each district tiled by a jittered grid of cells whose
centres lie inside it (as many cells as its share of the city's area), each
cell edge cut into 6 slightly wiggled vertices shared bit for bit with the
neighbour (25 vertices per 小班, no gaps or overlaps inside a district), written
as one GeoPackage per county, as counties deliver (XIAN, XIANG, CUN, LIN_BAN,
XIAO_BAN, DI_LEI, MIAN_JI, HUO_LMGQXJ, YOU_SHI_SZ, QI_YUAN, LING_ZU,
YU_BI_DU, SEN_LIN_LB; EPSG:4490). Three years:

- 2019: the base year;
- 2020: the same 小班, 3 % changed class, Q_DI_LEI (the 2019 class) and BHYY
  filled, volumes grown 3 % (the previous-class route);
- 2021: only ``--overlay-districts`` districts, 3 % changed, **no** Q_DI_LEI
  (the overlay route, measured on that subset: 2020 → 2021).

Each measurement runs in its own process (peak memory = that process's
maximum resident set; for Dask also the largest worker's):

``floor``
    pyogrio ``read_arrow`` of XIAN, DI_LEI, MIAN_JI, HUO_LMGQXJ (no geometry)
    of every 2019 county file + a pandas groupby of area and volume by
    district and class.
``load``
    ``forestsink inventory load`` of each year (read, check, one batch).
``stats-local`` / ``change-local``
    ``inventory stats --year 2019`` and ``inventory change --from 2019 --to
    2020`` on the loaded GeoPackage store (SQL sums; previous-class route).
``overlay-local``
    ``inventory change --from 2020 --to 2021`` (overlay route on the subset).
``export``
    ``inventory export`` of each year to a year dataset (once).
``stats-dask-W`` / ``change-dask-W`` / ``overlay-dask-W``
    The same on the Dask engine from the year datasets with W = 1 and 2
    workers (a fresh ``LocalCluster`` each; its start is timed apart).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

VERTICES_PER_EDGE = 6
YEARS = (2019, 2020, 2021)
#: DI_LEI and its share of 小班 (Chongqing-like: mostly arbor forest)
CLASSES = {
    "0111": 0.52,
    "0113": 0.05,
    "0131": 0.06,
    "0132": 0.05,
    "0120": 0.01,
    "0141": 0.03,
    "0161": 0.01,
    "0171": 0.02,
    "0180": 0.01,
    "0201": 0.14,
    "0301": 0.10,
}
SPECIES = np.array(["马尾松", "柏木", "杉木", "栎类", "桉树", "楠竹", "阔叶混"])
CHANGE_SHARE = 0.03
FIELDS = ["XIAN", "DI_LEI", "MIAN_JI", "HUO_LMGQXJ"]


# ---------------------------------------------------------------------------
# generation
# ---------------------------------------------------------------------------


def _edges(a, b, wiggle):
    """Points of edges a → b: shape (..., K + 1, 2), ends exactly a and b."""
    t = np.linspace(0.0, 1.0, VERTICES_PER_EDGE + 1)
    pts = a[..., None, :] + (b - a)[..., None, :] * t[:, None]
    d = b - a
    normal = np.stack([-d[..., 1], d[..., 0]], axis=-1)
    off = wiggle[..., None] * np.sin(np.pi * t)[None, :]
    pts = pts + off[..., :, None] * normal[..., None, :]
    pts[..., 0, :] = a
    pts[..., -1, :] = b
    return pts


def district_cells(geom, n: int, rng) -> np.ndarray:
    """Polygons (25 vertices) of a jittered grid tiling *geom*: about *n*."""
    xmin, ymin, xmax, ymax = geom.bounds
    step = float(np.sqrt(geom.area / max(n, 1)))
    nx = int(np.ceil((xmax - xmin) / step)) + 1
    ny = int(np.ceil((ymax - ymin) / step)) + 1
    gx, gy = np.meshgrid(
        xmin + step * np.arange(nx + 1), ymin + step * np.arange(ny + 1)
    )
    nodes = (
        np.stack([gx, gy], axis=-1)
        + rng.uniform(-0.25, 0.25, (ny + 1, nx + 1, 2)) * step
    )
    centre = (nodes[:-1, :-1] + nodes[1:, 1:] + nodes[:-1, 1:] + nodes[1:, :-1]) / 4
    shapely.prepare(geom)
    inside = shapely.contains_xy(geom, centre[..., 0], centre[..., 1])
    ii, jj = np.nonzero(inside)
    if len(ii) > n:
        keep = np.sort(rng.choice(len(ii), n, replace=False))
        ii, jj = ii[keep], jj[keep]
    horiz = _edges(nodes[:, :-1], nodes[:, 1:], rng.uniform(-0.06, 0.06, (ny + 1, nx)))
    vert = _edges(nodes[:-1, :], nodes[1:, :], rng.uniform(-0.06, 0.06, (ny, nx + 1)))
    ring = np.concatenate(
        [
            horiz[ii, jj][:, :-1],  # bottom, forward
            vert[ii, jj + 1][:, :-1],  # right, forward
            horiz[ii + 1, jj][:, ::-1][:, :-1],  # top, backward
            vert[ii, jj][:, ::-1][:, :-1],  # left, backward
            horiz[ii, jj][:, :1],  # close
        ],
        axis=1,
    )
    k = ring.shape[1]
    rings = shapely.linearrings(
        ring.reshape(-1, 2), indices=np.repeat(np.arange(len(ii)), k)
    )
    return shapely.polygons(rings), ii, jj


def _ha(geoms) -> np.ndarray:
    """Approximate hectares (planar degrees scaled at the latitude)."""
    lat = shapely.get_y(shapely.centroid(geoms))
    return shapely.area(geoms) * (111_320.0**2) * np.cos(np.radians(lat)) / 10_000


def _volume(codes, rng) -> np.ndarray:
    vol = np.where(codes == "0111", rng.uniform(20, 180, len(codes)).round(1), np.nan)
    return np.where(codes == "0113", rng.uniform(5, 40, len(codes)).round(1), vol)


def generate(root: Path, n: int, seed: int, overlay_districts: int) -> dict:
    """Write the three years' county files under *root* (skipped if done)."""
    from forestsink.reference import read_districts

    done = root / "generated.json"
    if done.exists():
        return json.loads(done.read_text())
    for y in YEARS:
        shutil.rmtree(root / str(y), ignore_errors=True)
        (root / str(y)).mkdir(parents=True)
    districts = read_districts().sort_values("adcode", ignore_index=True)
    planar = shapely.area(districts.geometry.to_numpy())
    counts = np.floor(planar / planar.sum() * n).astype(int)
    counts[np.argmax(counts)] += n - counts.sum()
    codes = list(CLASSES)
    p = np.array(list(CLASSES.values()))
    p = p / p.sum()
    # the overlay subset: mid-sized districts, spread over the code list
    order = np.argsort(counts)
    mid = order[len(order) // 2 - overlay_districts // 2 :][:overlay_districts]
    subset = sorted(districts["adcode"].iloc[mid])
    total = 0
    t0 = time.perf_counter()
    for d, row in districts.iterrows():
        code = row["adcode"]
        rng = np.random.default_rng([seed, int(code)])
        geoms, ii, jj = district_cells(row.geometry, int(counts[d]), rng)
        m = len(geoms)
        total += m
        cls = rng.choice(codes, m, p=p)
        base = {
            "XIAN": code,
            "XIANG": [f"{i // 40:03d}" for i in ii],
            "CUN": [f"{j // 40:03d}" for j in jj],
            "LIN_BAN": [f"{i:04d}" for i in ii],
            "XIAO_BAN": [f"{j}" for j in jj],
            "MIAN_JI": _ha(geoms).round(4),
            "YOU_SHI_SZ": SPECIES[rng.integers(0, len(SPECIES), m)],
            "QI_YUAN": rng.choice(["人工", "天然"], m),
            "LING_ZU": rng.choice(["幼龄林", "中龄林", "近熟林", "成熟林"], m),
            "YU_BI_DU": rng.uniform(0.2, 0.9, m).round(2),
            "SEN_LIN_LB": rng.choice(["公益林", "商品林"], m),
        }
        vol = _volume(cls, rng)
        years = {2019: (cls, vol, None)}
        prev = cls
        for y in (2020, 2021):
            changed = rng.random(m) < CHANGE_SHARE
            new = prev.copy()
            new[changed] = rng.choice(codes, int(changed.sum()), p=p)
            v = np.where(new == prev, years[y - 1][1] * 1.03, _volume(new, rng))
            v = np.where(np.isin(new, ["0111", "0113"]), v, np.nan)
            v = np.where(np.isnan(v) & np.isin(new, ["0111", "0113"]), 5.0, v).round(1)
            years[y] = (new, v, (prev, changed))
            prev = new
        for y, (cls_y, vol_y, before) in years.items():
            if y == 2021 and code not in subset:
                continue
            data = {**base, "DI_LEI": cls_y, "HUO_LMGQXJ": vol_y}
            if y == 2020:
                data["Q_DI_LEI"] = before[0]
                data["BHYY"] = np.where(before[1], "21", "")
            gdf = gpd.GeoDataFrame(data, geometry=geoms, crs=4490)
            gdf.to_file(root / str(y) / f"{code}.gpkg", driver="GPKG", engine="pyogrio")
        print(f"  {code}: {m:,} 小班 ({time.perf_counter() - t0:.0f} s)", flush=True)
    meta = {
        "n": total,
        "seed": seed,
        "overlay_districts": subset,
        "vertices": int(shapely.get_num_coordinates(geoms[:1000]).mean()),
        "n_overlay": int(
            sum(
                counts[i]
                for i in range(len(counts))
                if districts["adcode"][i] in subset
            )
        ),
        "generate_s": round(time.perf_counter() - t0, 1),
        "bytes": {
            str(y): sum(f.stat().st_size for f in (root / str(y)).glob("*.gpkg"))
            for y in YEARS
        },
    }
    done.write_text(json.dumps(meta))
    return meta


# ---------------------------------------------------------------------------
# steps (each run in a child process)
# ---------------------------------------------------------------------------


def _floor(root: Path) -> dict:
    import pyogrio

    frames = []
    for path in sorted((root / "2019").glob("*.gpkg")):
        _meta, table = pyogrio.read_arrow(path, columns=FIELDS, read_geometry=False)
        frames.append(table.to_pandas())
    df = pd.concat(frames, ignore_index=True)
    df["volume"] = df["HUO_LMGQXJ"] * df["MIAN_JI"]
    out = df.groupby(["XIAN", "DI_LEI"])[["MIAN_JI", "volume"]].sum()
    return {"rows": len(df), "groups": len(out)}


def _load(root: Path, year: int) -> dict:
    from forestsink.inventory.load import load_inventory
    from forestsink.store import open_store

    res = load_inventory(
        [root / str(year)], store=open_store(root / "store.gpkg"), year=year
    )
    return {"n": int(sum(r["n_xiaoban"] for r in res.loaded)), "batch": res.batch_id}


def _stats_local(root: Path) -> dict:
    from forestsink.inventory.load import inventory_statistics
    from forestsink.store import open_store

    s = inventory_statistics(open_store(root / "store.gpkg"), year=2019)
    city = s[s["adcode"] == "500000"].iloc[0]
    return {"coverage_pct": float(city["coverage_pct"]), "n": int(city["n_xiaoban"])}


def _change_local(root: Path, a: int, b: int) -> dict:
    from forestsink.inventory.load import inventory_change
    from forestsink.store import open_store

    res = inventory_change(open_store(root / "store.gpkg"), year_from=a, year_to=b)
    return _change_summary(res)


def _change_summary(res) -> dict:
    t = res.districts
    city = t[t["adcode"] == "500000"].iloc[0]
    return {
        "gain_mu": float(city["forest_gain_mu"]),
        "loss_mu": float(city["forest_loss_mu"]),
        "methods": t["method"].value_counts().to_dict(),
    }


def _export(root: Path) -> dict:
    from forestsink.inventory.partitioned import export_inventory
    from forestsink.store import open_store

    store = open_store(root / "store.gpkg")
    out = {}
    for y in YEARS:
        t0 = time.perf_counter()
        shutil.rmtree(root / "years" / str(y), ignore_errors=True)
        export_inventory(store, root / "years" / str(y), year=y)
        out[f"export_{y}_s"] = round(time.perf_counter() - t0, 2)
    return out


def _dask(root: Path, what: str, workers: int) -> dict:
    from forestsink.inventory.partitioned import (
        change_partitioned,
        statistics_partitioned,
    )
    from forestsink.scale.distributed import client_for

    t0 = time.perf_counter()
    client = client_for(None, workers=workers)
    start = time.perf_counter() - t0
    years = root / "years"
    t0 = time.perf_counter()
    if what == "stats":
        s = statistics_partitioned(years / "2019", client=client)
        city = s[s["adcode"] == "500000"].iloc[0]
        out = {"coverage_pct": float(city["coverage_pct"]), "n": int(city["n_xiaoban"])}
    elif what == "change":
        out = _change_summary(
            change_partitioned(years / "2019", years / "2020", client=client)
        )
    else:
        out = _change_summary(
            change_partitioned(years / "2020", years / "2021", client=client)
        )
    out["compute_s"] = round(time.perf_counter() - t0, 2)
    out["cluster_start_s"] = round(start, 2)
    cluster = client.cluster
    client.close()
    cluster.close()
    return out


def _peak_mb() -> float:
    """This process's own peak resident set (MB): ``VmHWM``.

    Not ``getrusage(RUSAGE_SELF)``: Linux carries the parent's resident set
    at fork into it across ``exec``, which would hide any peak below the
    driver's.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(step: str, root: Path) -> None:
    """Run one step; print one JSON line: seconds, peak memory, results.

    The seconds are the step's work, not the interpreter's start and imports.
    """
    import pyogrio  # noqa: F401

    import forestsink.inventory.load
    import forestsink.inventory.partitioned
    import forestsink.scale.distributed
    import forestsink.store  # noqa: F401

    t0 = time.perf_counter()
    if step == "floor":
        out = _floor(root)
    elif step.startswith("load-"):
        out = _load(root, int(step[5:]))
    elif step == "stats-local":
        out = _stats_local(root)
    elif step == "change-local":
        out = _change_local(root, 2019, 2020)
    elif step == "overlay-local":
        out = _change_local(root, 2020, 2021)
    elif step == "export":
        out = _export(root)
    else:  # stats-dask-1 ...
        what, _, w = step.split("-")
        out = _dask(root, what, int(w))
    seconds = time.perf_counter() - t0
    me = _peak_mb()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        "RESULT "
        + json.dumps(
            {
                "step": step,
                "s": round(seconds, 2),
                "peak_mb": round(me),
                "child_peak_mb": round(kids),
                **out,
            },
            ensure_ascii=False,
        ),
        flush=True,
    )


def run(step: str, root: Path) -> dict:
    """Run *step* in a fresh process; return its RESULT."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    proc = subprocess.run(
        [sys.executable, __file__, "--step", step, "--root", str(root)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            res = json.loads(line[7:])
            extra = {
                k: v
                for k, v in res.items()
                if k not in ("step", "s", "peak_mb", "child_peak_mb")
            }
            print(
                f"{step:>16}: {res['s']:8.2f} s  peak {res['peak_mb']:>6} MB  "
                f"workers/children peak {res['child_peak_mb']:>6} MB  "
                f"{json.dumps(extra, ensure_ascii=False)}",
                flush=True,
            )
            return res
    print(f"{step}: FAILED (exit {proc.returncode})\n{proc.stderr[-3000:]}", flush=True)
    return {"step": step, "failed": proc.returncode, "stderr": proc.stderr[-3000:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2019)
    parser.add_argument("--overlay-districts", type=int, default=3)
    parser.add_argument(
        "--root",
        type=Path,
        help="cache folder (default /tmp/forestsink-bench/inventory-<n>-<seed>)",
    )
    parser.add_argument("--fresh", action="store_true", help="regenerate and reload")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        child(args.step, args.root)
        return
    root = (
        args.root or Path("/tmp/forestsink-bench") / f"inventory-{args.n}-{args.seed}"
    )
    if args.fresh:
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    meta = generate(root, args.n, args.seed, args.overlay_districts)
    print(
        f"layers: {json.dumps(meta, ensure_ascii=False)} "
        f"(ready in {time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    results = {"meta": meta, "cpus": os.cpu_count()}
    results["floor"] = run("floor", root)
    loaded = root / "loaded.json"
    if loaded.exists():
        results.update(json.loads(loaded.read_text()))
        print(
            "store: loaded before (cached); load figures from that run:",
            {k: v.get("s") for k, v in results.items() if k.startswith("load")},
        )
    else:
        (root / "store.gpkg").unlink(missing_ok=True)
        load = {f"load-{y}": run(f"load-{y}", root) for y in YEARS}
        if all("failed" not in v for v in load.values()):
            loaded.write_text(json.dumps(load))
        results.update(load)
    for step in ("stats-local", "change-local", "overlay-local"):
        results[step] = run(step, root)
    if not (root / "years" / "2021").exists():
        results["export"] = run("export", root)
    for what in ("stats", "change", "overlay"):
        for w in (1, 2):
            results[f"{what}-dask-{w}"] = run(f"{what}-dask-{w}", root)
    floor = results["floor"]["s"]

    def ratio(step):
        r = results.get(step, {})
        return f"{r['s'] / floor:.2f}× floor" if "s" in r else "failed"

    print(
        f"\nfloor {floor:.2f} s; stats local {ratio('stats-local')} (target ≤ 2); "
        f"change local {ratio('change-local')} (target ≤ 3)"
    )
    for what in ("stats", "change", "overlay"):
        a, b = results.get(f"{what}-dask-1", {}), results.get(f"{what}-dask-2", {})
        if "compute_s" in a and "compute_s" in b:
            one, two = a["compute_s"], b["compute_s"]
            print(
                f"{what} dask: 1 worker {one:.2f} s, 2 workers {two:.2f} s "
                f"(speed-up {one / two:.2f}×); vs floor {one / floor:.2f}× / "
                f"{two / floor:.2f}×"
            )
    out = root / f"results-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
