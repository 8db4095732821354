"""Benchmark: the whole ``forestsink carbon`` command (whole-forest sink).

Synthetic, generated in code (seed): two inventory years of N 小班 each (simple
squares, one per grid cell, spread over the 38 districts; species drawn from
ten words of ``forest_types.csv``, land groups arbor / bamboo / special shrub /
non-forest, per-hectare volumes), written with ``write_inventory`` into a
GeoPackage store under ``/tmp`` (not timed).

Timed, each in the same run on the same store:

``carbon``
    The whole command through the CLI (``CliRunner``): two ``inventory_sums``
    by district × land group × species (SQL), the transfer, the Monte Carlo
    (10,000 draws), Approach 1, the sensitivity (one Monte Carlo per input)
    and writing the CSV.
``floor``
    The bare read of the six columns the sink needs of both years' 小班 into
    pandas (one ``SELECT`` each) and a ``groupby(adcode, land_group,
    species).sum()``: what any tool must at least do to use every 小班.

Run: ``.venv/bin/python benchmarks/bench_carbon_sink.py --xiaoban 1000000``
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from click.testing import CliRunner

from forestsink.cli.main import cli
from forestsink.reference import read_districts
from forestsink.store import GeoPackageStore
from forestsink.store.inventory_schema import XIAOBAN_COLUMNS

SPECIES = [
    "马尾松",
    "杉木",
    "柏木",
    "栎类",
    "硬阔",
    "软阔",
    "阔叶混",
    "针阔混",
    "华山松",
]
SPECIES += [""]  # no species: counted as 针阔混, flagged
GROUPS = [("arbor", "0111", 1, 1)] * 7 + [
    ("bamboo", "0113", 1, 1),
    ("special_shrub", "0131", 1, 1),
    ("non_forest", "0210", 0, 0),
]


def make_year(n: int, year: int, seed: int, adcodes: list[str]) -> list:
    """N 小班 of one year, one frame per district."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    k = np.arange(n)
    x0 = 105.5 + (k % side) * 0.002
    y0 = 28.5 + (k // side) * 0.002
    geoms = shapely.box(x0, y0, x0 + 0.0015, y0 + 0.0015)
    groups = rng.integers(0, len(GROUPS), n)
    frame = pd.DataFrame(
        {
            "adcode": np.array(adcodes)[k % len(adcodes)],
            "year": year,
            "township": "镇",
            "village": "村",
            "compartment": (k // 1000).astype(str),
            "xiaoban": (k % 1000).astype(str),
            "sub_xiaoban": "",
            "land_class_raw": [GROUPS[g][1] for g in groups],
            "land_scheme": "ldbg",
            "land_code": [GROUPS[g][1] for g in groups],
            "land_group": [GROUPS[g][0] for g in groups],
            "is_forest": [GROUPS[g][2] for g in groups],
            "is_forest_land": [GROUPS[g][3] for g in groups],
            "land_class_before_raw": None,
            "land_group_before": None,
            "area_mu": rng.uniform(5, 60, n),
            "area_reported_mu": np.nan,
            "volume_m3_ha": np.where(
                groups < 7,
                rng.uniform(10, 150, n) * (1.0 + 0.05 * (year > 2010)),
                np.nan,
            ),
            "stock_m3": np.nan,
            "species": np.array(SPECIES)[rng.integers(0, len(SPECIES), n)],
            "origin": "人工",
            "age_group": "中龄林",
            "canopy": 0.6,
            "change_reason": None,
            "forest_category": None,
            "source_row": k,
            "attrs": "{}",
        }
    )
    frame["key"] = (
        frame["adcode"] + "/镇/村/" + frame["compartment"] + "/" + frame["xiaoban"]
    )
    gdf = gpd.GeoDataFrame(frame[list(XIAOBAN_COLUMNS)], geometry=geoms, crs=4490)
    return [part for _, part in gdf.groupby("adcode")]


def build(path: Path, n: int) -> None:
    adcodes = sorted(read_districts()["adcode"])
    store = GeoPackageStore(path, timeout=60)
    for year, seed in ((2010, 1), (2015, 2)):
        parts = make_year(n, year, seed, adcodes)
        store.write_inventory(
            [
                {
                    "adcode": str(p["adcode"].iloc[0]),
                    "year": year,
                    "frame": p.reset_index(drop=True),
                    "source_name": f"{p['adcode'].iloc[0]}_{year}.shp",
                    "source_sha256": f"sha-{year}-{p['adcode'].iloc[0]}",
                    "note": None,
                }
                for p in parts
            ]
        )


def floor(path: Path) -> float:
    start = time.perf_counter()
    with sqlite3.connect(path) as conn:
        for year in (2010, 2015):
            df = pd.read_sql_query(
                "SELECT x.adcode, x.land_group, x.species, x.area_mu, "
                "x.volume_m3_ha, x.stock_m3 FROM inventory_snapshots s JOIN "
                "inventory_xiaoban x ON x.snapshot_id = s.rows_of "
                "WHERE s.year = ? AND s.ended_batch IS NULL",
                conn,
                params=(year,),
            )
            df["w"] = df["area_mu"] * df["volume_m3_ha"] / 15.0
            df.groupby(["adcode", "land_group", "species"])[["area_mu", "w"]].sum()
    return time.perf_counter() - start


def command(path: Path, out: Path, draws: int) -> tuple[float, str]:
    start = time.perf_counter()
    res = CliRunner().invoke(
        cli,
        ["carbon", "--store", str(path), "--draws", str(draws), "--out", str(out)],
    )
    took = time.perf_counter() - start
    if res.exit_code:
        raise SystemExit(res.output)
    return took, res.output


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--xiaoban", type=int, default=1_000_000, help="per year")
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", type=Path, default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="forestsink-bench-sink-"))
    path = args.store or folder / "store.gpkg"
    if not path.exists():
        t = time.perf_counter()
        build(path, args.xiaoban)
        took = time.perf_counter() - t
        print(f"built {path} ({args.xiaoban:,} 小班 per year) in {took:.0f} s")
    floors, cmds = [], []
    for _ in range(args.repeat):
        floors.append(floor(path))
        took, output = command(path, folder / "sink.csv", args.draws)
        cmds.append(took)
    f, c = min(floors), min(cmds)
    print(output)
    print(f"floor (read + groupby, both years): {f:.2f} s")
    print(f"carbon command ({args.draws:,} draws):  {c:.2f} s")
    print(f"ratio: {c / f:.2f}x (target <= 2.5x)")


if __name__ == "__main__":
    main()
