#!/usr/bin/env python
"""Sample forest-resource layers (森林资源"一张图") for 2010 and 2015.

Called by ``scripts/make_sample.py`` (manifest key ``"inventory"``); usable on
its own: ``make_inventory(out_dir, seed, deliveries_truth=...)``. Under
``DIR/inventory/`` it writes:

``2010/``, ``2015/``
    One sub-compartment (小班) layer per district, as counties export them:
    GBK Shapefiles (zipped or not; ``.cpg`` "936", "GBK" or none), ``.prj``
    CGCS2000 geographic (EPSG:4490) or CGCS2000 3-degree Gauss-Kruger CM 108E
    (EPSG:4545, metres). Pinyin field names (XIAN, XIANG, CUN, LIN_BAN,
    XIAO_BAN, XI_BAN, MIAN_JI, DI_LEI, Q_DI_LEI, BHYY, YOU_SHI_SZ, QI_YUAN,
    LING_ZU, YU_BI_DU, HUO_LMGQXJ, SEN_LIN_LB, SHI_QUAN_D, GXSJ) and 4-digit
    林地变更 codes, except :data:`CHINESE_COUNTY` (Chinese field names, 三调
    codes 030100/0301, 0302, 030301 …, non-forest land written as the name
    非林地) and :data:`INT3_COUNTY` (DI_LEI/Q_DI_LEI as integers 111, 131,
    210 …: codes that lost their leading zero).
``2010-late/``
    The 2010 layer of :data:`LATE_COUNTY`, missing from ``2010/``.
``defects/``
    Small layers (a few 小班 copied from one county) each carrying one defect
    a correct reader must report (listed in the manifest).

Geometry. A district (EPSG:4545) is tiled by grouping the Voronoi cells of
~3,000 random points into ~300 base 小班 (each the union of ~10 cells: tens
of vertices, shared edges exactly shared), clipped to the district: no gaps,
no overlaps, Σ area = district area.

Projects and the two years (decision). The delivered area-adding project
polygons (``adds_forest_area`` in ``data/project_types.csv``: 人工造林,
退耕还林, 石漠化治理, 营造公益林) are cut into the tiling **already in 2010**:
the land a county later planted was a 小班 of its own in the 2010 map (a
宜林荒山 0171, 耕地 0210, 其他灌木 0132 … patch, as counties plan planting on
the map's 小班); the base 小班 keeps the rest. Both years therefore use the
**same tiling and the same keys**; 2015 changes classes only:

- project land planted 2011–2013 → 0111, planted 2014–2015 → 0141, with
  Q_DI_LEI its 2010 class and BHYY 11 (人工造林); a few project patches were
  already 0111 in 2010 (listed: ``afforestation_on_forest``); they stay 0111
  with no change reason (the project adds no forest area there);
- some 2010 forest 小班 become construction land 0250 (BHYY 41, 永久使用林地;
  listed: ``forest_to_construction``); so does the land of the withdrawn
  project (withdrawals.csv: 地块调整为建设用地; 0171 in 2010; listed:
  ``withdrawn_project_land``);
- the rest of the gain: 0141 → 0111 (plantations established), 0171/0120 →
  0111 and 0132 → 0131 (enclosure, shrub re-classified), calibrated per
  district so the city lands on 45 %.

Where project polygons overlap (re-planting), the later polygon owns the
overlap. A piece smaller than 300 m² stays in the base 小班.

Totals (coverage, stock) are measured by the generator on the written
geometry with ``pyproj.Geod`` (GRS80) and written to the manifest.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import tempfile
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Geod, Transformer

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data"
YEARS = (2010, 2015)
GEOD = Geod(ellps="GRS80")
M2_TO_MU = 15.0 / 10_000.0
MU_PER_HA = 15.0
FIXED_DATE = "2015-12-31"
ZIP_DATE_TIME = (2015, 12, 31, 0, 0, 0)
METRIC_EPSG = 4545
CITY_TARGET_PCT = {2010: 37.0, 2015: 45.0}
CITY_STOCK_M3 = {2010: 139_790_000.0, 2015: 197_000_000.0}
OFFICIAL_TOTAL_MU = 123_600_000.0  # 12,360 万亩 (official-statistics.md §1)

LATE_COUNTY = "500236"  # 奉节: its 2010 layer arrives late
CHINESE_COUNTY = "500156"  # 武隆: Chinese field names, 三调 codes
INT3_COUNTY = "500230"  # 丰都: 3-digit codes stored as integers
XIBAN_COUNTIES = ("500101", "500152", "500241")  # project patches as 细班
NOT_CHONGQING_CODE = "420527"  # 秭归县 (Hubei)
N_BASE = 300  # base 小班 per district (before project patches)
FINE_PER_BASE = 10
MIN_PIECE_M2 = 300.0
ADDS_AREA = (
    "afforestation",
    "grain_to_green",
    "rocky_desertification",
    "public_welfare",
)
N_ON_FOREST = 8  # project polygons placed on land already 0111 in 2010

FOREST = ("0111", "0113", "0131")
OTHER_FOREST_LAND = ("0132", "0171", "0141", "0120", "0161", "0180")
OTHER_FOREST_LAND_P = (0.35, 0.25, 0.20, 0.10, 0.05, 0.05)
NON_FOREST = ("0210", "0250", "0230", "0220", "0240", "0254")
NON_FOREST_P = (0.55, 0.15, 0.08, 0.07, 0.10, 0.05)
PRE_PROJECT = {  # 2010 class of land later planted, by project type
    "afforestation": (("0171", "0132", "0161", "0210"), (0.6, 0.2, 0.1, 0.1)),
    "grain_to_green": (("0210",), (1.0,)),
    "rocky_desertification": (("0171", "0240", "0132"), (0.5, 0.3, 0.2)),
    "public_welfare": (("0171", "0132", "0210"), (0.5, 0.3, 0.2)),
}
BHYY_CODES = {
    "11": "人工造林或飞播造林 (LY/T 2893 表A.2)",
    "12": "封山育林 (sample's own use: enclosure, shrub re-classified; unverified)",
    "31": "未成林地成林 (sample's own code; unverified)",
    "41": "永久使用林地 (LY/T 2893 表A.2)",
}
SPECIES = ("马尾松", "杉木", "柏木", "栎类", "其他阔叶", "针阔混")
SPECIES_P = (0.28, 0.22, 0.16, 0.13, 0.12, 0.09)
AGE_P = (0.30, 0.30, 0.20, 0.15, 0.05)
AGE_VOLUME = (25.0, 55.0, 85.0, 105.0, 115.0)  # m3/ha before calibration
SANDIAO = {
    "0111": "030100",
    "0113": "030200",
    "0131": "030301",
    "0132": "030302",
    "0120": "030401",
    "0141": "030402",
    "0161": "030405",
}
PINYIN_FIELDS = (
    "XIAN",
    "XIANG",
    "CUN",
    "LIN_BAN",
    "XIAO_BAN",
    "XI_BAN",
    "MIAN_JI",
    "DI_LEI",
    "Q_DI_LEI",
    "BHYY",
    "YOU_SHI_SZ",
    "QI_YUAN",
    "LING_ZU",
    "YU_BI_DU",
    "HUO_LMGQXJ",
    "SEN_LIN_LB",
    "SHI_QUAN_D",
    "GXSJ",
)
CHINESE_FIELDS = {
    "XIAN": "县",
    "XIANG": "乡镇",
    "CUN": "村",
    "LIN_BAN": "林班",
    "XIAO_BAN": "小班号",
    "MIAN_JI": "小班面积",
    "DI_LEI": "地类",
    "Q_DI_LEI": "前期地类",
    "BHYY": "变化原因",
    "YOU_SHI_SZ": "优势树种",
    "QI_YUAN": "起源",
    "LING_ZU": "龄组",
    "YU_BI_DU": "郁闭度",
    "HUO_LMGQXJ": "公顷蓄积",
}
Progress = Callable[[str], None]


def _rng(seed: int, *keys: object) -> np.random.Generator:
    ints = [zlib.crc32(str(k).encode("utf-8")) for k in keys]
    return np.random.default_rng(np.random.SeedSequence([int(seed), *ints]))


def _load_make_sample():
    for name in ("forestsink_make_sample", "make_sample", "__main__"):
        mod = sys.modules.get(name)
        if mod is not None and hasattr(mod, "BASE_COVERAGE"):
            return mod
    spec = importlib.util.spec_from_file_location(
        "make_sample", Path(__file__).with_name("make_sample.py")
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_sample"] = mod
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------------
# Tiling
# ---------------------------------------------------------------------------


def _points_in(geom, n: int, rng) -> np.ndarray:
    x0, y0, x1, y1 = geom.bounds
    pts = np.empty((0, 2))
    while len(pts) < n:
        x, y = rng.uniform(x0, x1, 4 * n), rng.uniform(y0, y1, 4 * n)
        m = shapely.contains_xy(geom, x, y)
        pts = np.vstack([pts, np.c_[x[m], y[m]]])
    return pts[:n]


def _tiling(geom, rng) -> list:
    """~N_BASE polygons tiling ``geom`` (EPSG:4545), each ~10 Voronoi cells."""
    shapely.prepare(geom)
    fine = _points_in(geom, N_BASE * FINE_PER_BASE, rng)
    seeds = _points_in(geom, N_BASE, rng)
    vor = shapely.voronoi_polygons(
        shapely.MultiPoint(fine), extend_to=geom.envelope.buffer(1000.0), ordered=True
    )
    cells = np.array(vor.geoms)
    inside = shapely.contains(geom, cells)
    cells[~inside] = shapely.intersection(cells[~inside], geom)
    d2 = ((fine[:, None, :] - seeds[None, :, :]) ** 2).sum(-1)
    group = np.argmin(d2 * rng.uniform(0.85, 1.15, d2.shape), axis=1)
    out = []
    for k in range(len(seeds)):
        m = group == k
        if m.any():
            g = shapely.coverage_union_all(cells[m])
            if not g.is_empty and g.area > 0:
                out.append(g)
    return out


def _kmeans_labels(xy: np.ndarray, k: int, rng, iters: int = 8) -> np.ndarray:
    k = max(1, min(k, len(xy)))
    centres = xy[rng.choice(len(xy), k, replace=False)]
    for _ in range(iters):
        lab = np.argmin(((xy[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        for j in range(k):
            if (lab == j).any():
                centres[j] = xy[lab == j].mean(axis=0)
    lab = np.argmin(((xy[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    # renumber by position (north-west first), as maps number them
    order = sorted(
        set(lab.tolist()), key=lambda j: (-round(centres[j][1], -3), centres[j][0])
    )
    remap = {j: i for i, j in enumerate(order)}
    return np.array([remap[j] for j in lab])


def _hierarchy(base: list, rng) -> list[tuple[int, int, int]]:
    """(township, village, 林班) of every base 小班, all 1-based."""
    xy = np.array([[g.centroid.x, g.centroid.y] for g in base])
    n_town = max(4, round(len(base) / 24))
    town = _kmeans_labels(xy, n_town, rng)
    out = [None] * len(base)
    linban = 0
    for t in range(town.max() + 1):
        idx = np.flatnonzero(town == t)
        vil = _kmeans_labels(xy[idx], max(1, round(len(idx) / 8)), rng)
        for v in range(vil.max() + 1):
            jdx = idx[vil == v]
            lb = _kmeans_labels(xy[jdx], max(1, round(len(jdx) / 4)), rng)
            for b in range(lb.max() + 1):
                linban += 1
                for i in jdx[lb == b]:
                    out[i] = (t + 1, v + 1, linban)
    return out


# ---------------------------------------------------------------------------
# Project patches
# ---------------------------------------------------------------------------


def _owners(truth: list[dict], adcode: str, to4545) -> list[dict]:
    """Area-adding project polygons in ``adcode`` with the part each owns."""
    mine = [
        t
        for t in truth
        if t["located"] == adcode and t["ptype"] in ADDS_AREA and t["geometry"]
    ]
    mine.sort(key=lambda t: (-t["year"], t["path"], t["row"]))
    out, taken = [], []
    for t in mine:
        g = t["geometry"]
        g = g if g.is_valid else shapely.make_valid(g)
        g = shapely.transform(g, lambda c: np.c_[to4545.transform(c[:, 0], c[:, 1])])
        g = shapely.make_valid(g)
        g = shapely.union_all(
            [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon",)]
        )
        for prev in taken:
            if prev.intersects(g):
                g = g.difference(prev)
        if g.is_empty or g.area < MIN_PIECE_M2:
            continue
        taken.append(g)
        out.append({**t, "geom4545": g})
    return out


def _polys(g):
    parts = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and p.area > 0]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def _carve(base: list, owners: list[dict]) -> list[dict]:
    """Base 小班 minus the project patches, plus one 小班 per project.

    A project's 小班 is its polygon (the parts that fall in each base 小班,
    where at least MIN_PIECE_M2), filed under the base 小班 it overlaps most.
    """
    tree = shapely.STRtree(base)
    cut: dict[int, list] = {}
    patches = []
    for j, o in enumerate(owners):
        parts = []
        for i in tree.query(o["geom4545"], predicate="intersects"):
            p = _polys(shapely.intersection(base[i], o["geom4545"], grid_size=0.001))
            if p is not None and p.area >= MIN_PIECE_M2:
                parts.append((int(i), p))
        if not parts:
            continue
        for i, p in parts:
            cut.setdefault(i, []).append((len(patches), p))
        main = max(parts, key=lambda ip: ip[1].area)[0]
        patches.append({"owner": j, "base": main, "parts": [p for _, p in parts]})
    recs = []
    for i, g in enumerate(base):
        own = cut.get(i)
        if not own:
            recs.append({"base": i, "owner": None, "geom": g})
            continue
        rest = _polys(
            shapely.difference(
                g, shapely.union_all([p for _, p in own]), grid_size=0.001
            )
        )
        if rest is not None and rest.area >= MIN_PIECE_M2:
            recs.append({"base": i, "owner": None, "geom": rest})
        elif rest is not None:  # a sliver left: it goes to the biggest patch
            k = max(own, key=lambda kp: kp[1].area)[0]
            patches[k]["parts"].append(rest)
    for pt in patches:
        g = _polys(shapely.union_all(pt["parts"], grid_size=0.001))
        recs.append({"base": pt["base"], "owner": pt["owner"], "geom": g})
    return recs


# ---------------------------------------------------------------------------
# Classes and attributes
# ---------------------------------------------------------------------------


def _score(recs: list[dict], rng) -> np.ndarray:
    """Smooth random preference for forest (+ noise), one value per 小班."""
    xy = np.array([[r["geom"].centroid.x, r["geom"].centroid.y] for r in recs])
    s = np.zeros(len(recs))
    for lam in (40_000.0, 18_000.0, 8_000.0):
        ang = rng.uniform(0, 2 * np.pi)
        u = np.array([math.cos(ang), math.sin(ang)])
        s += np.cos(2 * np.pi * (xy @ u) / lam + rng.uniform(0, 2 * np.pi))
    return s + rng.normal(0.0, 0.6, len(recs))


def _take(order, area, target, eligible) -> list[int]:
    """Indices in ``order`` (eligible) whose areas sum to about ``target``."""
    out, acc = [], 0.0
    for i in order:
        if not eligible[i]:
            continue
        if acc >= target:
            break
        if acc + area[i] > target + area[i] / 2:
            continue
        out.append(int(i))
        acc += area[i]
    return out


def _geodesic_mu(g) -> float:
    g = shapely.orient_polygons(g, exterior_cw=False)
    return abs(GEOD.geometry_area_perimeter(g)[0]) * M2_TO_MU


def _pick(rng, options, p):
    return options[int(rng.choice(len(options), p=p))]


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _style(adcode: str, seed: int) -> dict:
    rng = _rng(seed, "inventory-style", adcode)
    st = {
        "fmt": "shapefile_zip" if rng.random() < 0.25 else "shapefile",
        "cpg": _pick(rng, ("936", "GBK", None), (0.45, 0.35, 0.20)),
        "epsg": 4545 if rng.random() < 0.35 else 4490,
        "fields": "pinyin",
        "codes": "4-digit",
        "origin_style": "11/21" if rng.random() < 0.25 else "1/2",
    }
    if adcode == CHINESE_COUNTY:
        st.update(fmt="shapefile", cpg="936", epsg=4490, fields="chinese")
        st["codes"] = "sandiao"
    if adcode == INT3_COUNTY:
        st.update(fmt="shapefile", cpg="GBK", epsg=4545, codes="3-digit")
    return st


def _code(code: str, style: str, rng):
    if not code:
        return None
    if style == "3-digit":
        return int(code)
    if style == "sandiao":
        if code in SANDIAO:
            full = SANDIAO[code]
            if full.endswith("00") and rng.random() < 0.3:
                return full[:4]  # 0301 / 0302
            return full
        return "非林地"
    return code


def _write_shp(gdf: gpd.GeoDataFrame, path: Path, cpg: str | None) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*crs.*")
        pyogrio.write_dataframe(
            gdf,
            path,
            driver="ESRI Shapefile",
            encoding="GBK",
            layer_options={"DBF_DATE_LAST_UPDATE": FIXED_DATE},
        )
    c = path.with_suffix(".cpg")
    if cpg is None:
        c.unlink(missing_ok=True)
    else:
        c.write_bytes(cpg.encode("ascii"))


def _write_layer(gdf, folder: Path, stem: str, fmt: str, cpg) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "shapefile":
        path = folder / f"{stem}.shp"
        _write_shp(gdf, path, cpg)
        return path
    path = folder / f"{stem}.zip"
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / f"{stem}.shp"
        _write_shp(gdf, shp, cpg)
        with zipfile.ZipFile(path, "w") as zf:
            for part in sorted(Path(tmp).iterdir()):
                info = zipfile.ZipInfo(part.name, date_time=ZIP_DATE_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3
                info.external_attr = 0o100644 << 16
                zf.writestr(info, part.read_bytes(), compresslevel=6)
    return path


def _frame(rows: list[dict], year: int, style: dict, geoms, epsg: int, seed: int):
    """Attribute table in the county's own field names and code style."""
    rng = _rng(seed, "inventory-codes", rows[0]["XIAN"], year)
    cols: dict[str, list] = {}
    for f in PINYIN_FIELDS:
        if year == 2010 and f in ("Q_DI_LEI", "BHYY"):
            continue
        vals = [r.get(f) for r in rows]
        if f in ("DI_LEI", "Q_DI_LEI"):
            vals = [_code(v, style["codes"], rng) for v in vals]
        if f == "QI_YUAN" and style["origin_style"] == "11/21":
            vals = [{"1": "11", "2": "21"}.get(v, v) for v in vals]
        if style["fields"] == "chinese":
            if f not in CHINESE_FIELDS:
                continue
            cols[CHINESE_FIELDS[f]] = vals
        else:
            cols[f] = vals
    df = pd.DataFrame(cols)
    for name in df.columns:
        if name in (
            "MIAN_JI",
            "YU_BI_DU",
            "HUO_LMGQXJ",
            "小班面积",
            "郁闭度",
            "公顷蓄积",
        ):
            df[name] = pd.to_numeric(df[name]).astype(float)
        elif style["codes"] == "3-digit" and name in ("DI_LEI", "Q_DI_LEI"):
            df[name] = df[name].astype("int32")
        else:
            df[name] = df[name].astype(object)
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=epsg))


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def make_inventory(
    out_dir: Path,
    seed: int,
    deliveries_truth: list[dict] | None = None,
    *,
    districts: gpd.GeoDataFrame | None = None,
    base_coverage: dict | None = None,
    progress: Progress = print,
) -> dict:
    """Write ``out_dir/inventory`` and return the manifest's ``inventory`` section.

    ``deliveries_truth``: one dict per delivered project polygon (``path``,
    ``row`` (from 0), ``project_id``, ``located`` (adcode the polygon lies in,
    '' outside Chongqing), ``year``, ``ptype``, ``geometry`` (EPSG:4490),
    optionally ``withdrawn`` (True: its land became construction land)); None
    = no projects. ``districts``: EPSG:4490 with ``adcode``, ``name_zh``,
    ``region`` (default: ``make_sample.load_districts()``).
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    root = out_dir / "inventory"
    if districts is None or base_coverage is None:
        ms = _load_make_sample()
        districts = ms.load_districts() if districts is None else districts
        base_coverage = ms.BASE_COVERAGE if base_coverage is None else base_coverage
    truth = list(deliveries_truth or [])
    d4545 = districts.to_crs(METRIC_EPSG)
    to4545 = Transformer.from_crs(4490, METRIC_EPSG, always_xy=True)
    to4490 = Transformer.from_crs(METRIC_EPSG, 4490, always_xy=True)

    # 1. tiling, hierarchy, project patches, geodesic areas
    counties = []
    for k, adcode in enumerate(districts["adcode"]):
        rng = _rng(seed, "inventory-tiling", adcode)
        base = _tiling(d4545.geometry.iloc[k], rng)
        hier = _hierarchy(base, rng)
        owners = _owners(truth, adcode, to4545)
        recs = _carve(base, owners)
        g4545 = _snap(np.array([r["geom"] for r in recs], dtype=object), 3)
        g4490 = _snap(
            shapely.transform(
                g4545, lambda c: np.c_[to4490.transform(c[:, 0], c[:, 1])]
            ),
            8,
        )
        for r, a, b in zip(recs, g4545, g4490, strict=True):
            r["geom4545"], r["geom4490"] = _multi(a), _multi(b)
            r["area_mu"] = _geodesic_mu(r["geom4490"])
        counties.append(
            {
                "adcode": adcode,
                "name": districts["name_zh"].iloc[k],
                "region": districts["region"].iloc[k],
                "hier": hier,
                "owners": owners,
                "recs": recs,
            }
        )
    progress(f"inventory: tiled 38 districts ({time.perf_counter() - t0:.1f} s)")

    # 2. coverage targets (district profile scaled to the city figures)
    area = {c["adcode"]: sum(r["area_mu"] for r in c["recs"]) for c in counties}
    total_mu = sum(area.values())
    targets = {}
    for year in YEARS:
        base = {
            a: base_coverage[a][0] + (base_coverage[a][1] if year == 2015 else 0)
            for a in area
        }
        k = CITY_TARGET_PCT[year] * total_mu / sum(base[a] * area[a] for a in area)
        targets[year] = {a: min(85.0, base[a] * k) for a in area}

    # already-forest project owners (a few, in distinct districts)
    rng = _rng(seed, "inventory-on-forest")
    cands = [
        (c["adcode"], j)
        for c in counties
        if c["adcode"] not in (CHINESE_COUNTY, INT3_COUNTY)
        for j, o in enumerate(c["owners"])
        if o["ptype"] == "afforestation" and not o.get("withdrawn")
    ]
    on_forest: set = set()
    for i in rng.permutation(len(cands)):
        a, j = cands[i]
        if a not in {x for x, _ in on_forest} and len(on_forest) < N_ON_FOREST:
            on_forest.add((a, j))

    # 3. 2010 classes
    for c in counties:
        a = c["adcode"]
        rng = _rng(seed, "inventory-classes", a)
        recs = c["recs"]
        n = len(recs)
        ar = np.array([r["area_mu"] for r in recs])
        score = _score(recs, rng)
        order = np.argsort(-score, kind="stable")
        is_piece = np.array([r["owner"] is not None for r in recs])
        for r in recs:
            r["c10"] = None
        forest_pieces = 0.0
        for i, r in enumerate(recs):
            if r["owner"] is not None:
                o = c["owners"][r["owner"]]
                if (a, r["owner"]) in on_forest:
                    r["c10"] = "0111"
                    forest_pieces += ar[i]
                elif o.get("withdrawn"):
                    r["c10"] = "0171"
                else:
                    opts, p = PRE_PROJECT[o["ptype"]]
                    r["c10"] = _pick(rng, opts, p)
        f_target = targets[2010][a] / 100 * area[a] - forest_pieces
        karst = c["region"] == "渝东南翼"
        for i in _take(order, ar, f_target, ~is_piece):
            recs[i]["c10"] = _pick(
                rng, FOREST, (0.72, 0.08, 0.20) if karst else (0.82, 0.07, 0.11)
            )
        free = np.array([r["c10"] is None for r in recs])
        gain_proj = sum(
            ar[i]
            for i, r in enumerate(recs)
            if r["owner"] is not None
            and c["owners"][r["owner"]]["year"] <= 2013
            and r["c10"] != "0111"
        )
        need = targets[2015][a] / 100 * area[a] - (f_target + forest_pieces) - gain_proj
        pool = max(0.10 * area[a], 1.6 * need + 0.05 * area[a])
        for i in _take(order, ar, pool, free):
            recs[i]["c10"] = _pick(rng, OTHER_FOREST_LAND, OTHER_FOREST_LAND_P)
        urban = a in ("500103", "500104", "500105", "500108")
        for i in range(n):
            if recs[i]["c10"] is None:
                p = (0.2, 0.6, 0.1, 0.02, 0.05, 0.03) if urban else NON_FOREST_P
                recs[i]["c10"] = _pick(rng, NON_FOREST, p)
        c["order"] = order

    # 4. 2015 classes: projects, construction losses, then calibrated transitions
    losses, on_forest_list, withdrawn = [], [], []
    for c in counties:
        a = c["adcode"]
        rng = _rng(seed, "inventory-change", a)
        for r in c["recs"]:
            r["c15"], r["bhyy"] = r["c10"], None
            if r["owner"] is None:
                continue
            o = c["owners"][r["owner"]]
            if (a, r["owner"]) in on_forest:
                continue
            if o.get("withdrawn"):  # withdrawn: the land became construction
                r["c15"], r["bhyy"] = "0250", "41"
                continue
            r["c15"] = "0111" if o["year"] <= 2013 else "0141"
            r["bhyy"] = "11"
        forest_base = [
            i
            for i, r in enumerate(c["recs"])
            if r["owner"] is None and r["c10"] in ("0111", "0131")
        ]
        if forest_base and rng.random() < 0.8:
            pick = rng.choice(forest_base, min(6, len(forest_base)), replace=False)
            for i in sorted(pick, key=lambda i: c["recs"][i]["area_mu"])[:1]:
                c["recs"][i]["c15"], c["recs"][i]["bhyy"] = "0250", "41"
                c["recs"][i]["loss"] = True
    forest_now = {
        c["adcode"]: sum(r["area_mu"] for r in c["recs"] if r["c15"] in FOREST)
        for c in counties
    }
    want = {a: max(0.0, targets[2015][a] / 100 * area[a] - forest_now[a]) for a in area}
    city_need = CITY_TARGET_PCT[2015] / 100 * total_mu - sum(forest_now.values())
    scale = city_need / sum(want.values()) if sum(want.values()) > 0 else 0.0
    trans_to = {"0141": ("0111", "31"), "0171": ("0111", "12"), "0120": ("0111", "12")}
    trans_to["0132"] = ("0131", "12")
    for c in counties:
        recs = c["recs"]
        ar = np.array([r["area_mu"] for r in recs])
        elig = np.array(
            [r["owner"] is None and r["c10"] in trans_to for r in recs], dtype=bool
        )
        order = c["order"]
        for i in _take(order, ar, want[c["adcode"]] * scale, elig):
            recs[i]["c15"], recs[i]["bhyy"] = trans_to[recs[i]["c10"]]

    # 5. attributes, keys, stock volume (calibrated to the city figures)
    for c in counties:
        _attributes(c, seed)
    _calibrate_stock(counties, seed)

    # 6. write
    files = []
    late_path = None
    for c in counties:
        a = c["adcode"]
        st = _style(a, seed)
        for year in YEARS:
            rows = [r["row"][year] for r in c["recs"]]
            if st["epsg"] == 4490:
                geoms = [r["geom4490"] for r in c["recs"]]
            else:
                geoms = [_multi(r["geom4545"]) for r in c["recs"]]
            gdf = _frame(rows, year, st, geoms, st["epsg"], seed)
            sub = "2010-late" if (year == 2010 and a == LATE_COUNTY) else str(year)
            stem = f"{a}_{c['name']}_{year}_小班"
            path = _write_layer(gdf, root / sub, stem, st["fmt"], st["cpg"])
            rel = path.relative_to(out_dir).as_posix()
            if sub == "2010-late":
                late_path = rel
            files.append(
                {
                    "path": rel,
                    "folder": f"inventory/{sub}",
                    "adcode": a,
                    "year": year,
                    "format": st["fmt"],
                    "encoding": "GBK",
                    "cpg": st["cpg"],
                    "crs": f"EPSG:{st['epsg']}",
                    "field_style": st["fields"],
                    "code_style": st["codes"],
                    "origin_style": st["origin_style"],
                    "n_xiaoban": len(rows),
                    "late": sub == "2010-late",
                }
            )
        for i, r in enumerate(c["recs"]):
            if r.get("loss"):
                losses.append(
                    {
                        "adcode": a,
                        "key": r["key"],
                        "row": i + 1,
                        "class_2010": r["c10"],
                        "class_2015": "0250",
                        "bhyy": "41",
                        "area_mu": round(r["area_mu"], 3),
                    }
                )
        for j, o in enumerate(c["owners"]):
            if o.get("withdrawn"):
                withdrawn.append(
                    {
                        "adcode": a,
                        "project_path": o["path"],
                        "project_row": o["row"],
                        "project_id": o["project_id"],
                        "class_2010": "0171",
                        "class_2015": "0250",
                        "bhyy": "41",
                        "xiaoban_keys": [
                            r["key"] for r in c["recs"] if r["owner"] == j
                        ],
                    }
                )
            if (a, j) in on_forest:
                on_forest_list.append(
                    {
                        "adcode": a,
                        "project_path": o["path"],
                        "project_row": o["row"],
                        "project_id": o["project_id"],
                        "project_year": o["year"],
                        "project_type": o["ptype"],
                        "xiaoban_keys": [
                            r["key"] for r in c["recs"] if r["owner"] == j
                        ],
                    }
                )
    progress(f"inventory: wrote {len(files)} layers ({time.perf_counter() - t0:.1f} s)")
    defects = _write_defects(root, out_dir, counties, seed)
    totals = _totals(counties, area, total_mu)
    n_pieces = sum(r["owner"] is not None for c in counties for r in c["recs"])
    section = {
        "folders": {
            "2010": "inventory/2010",
            "2015": "inventory/2015",
            "2010_late": "inventory/2010-late",
            "defects": "inventory/defects",
        },
        "files": files,
        "missing_from_2010": [{"adcode": LATE_COUNTY, "delivered_late_as": late_path}],
        "chinese_field_county": CHINESE_COUNTY,
        "int3_code_county": INT3_COUNTY,
        "xiban_counties": list(XIBAN_COUNTIES),
        "totals": totals,
        "afforestation_on_forest": on_forest_list,
        "forest_to_construction": losses,
        "withdrawn_project_land": withdrawn,
        "project_patches": {
            "n_xiaoban": n_pieces,
            "n_projects": sum(len(c["owners"]) for c in counties),
            "project_types": list(ADDS_AREA),
            "rule": "2015 DI_LEI 0111 if planted 2011-2013, 0141 if 2014-2015; "
            "Q_DI_LEI = 2010 class; BHYY 11 (except afforestation_on_forest)",
        },
        "bhyy_codes": BHYY_CODES,
        "defects": defects,
        "note": "Totals measured by the generator: GRS80 geodesic areas of the "
        "written EPSG:4490 geometry (4545 layers: the same tiling); stock = "
        "HUO_LMGQXJ x area (ha). 2010 totals include the late county. Tiling "
        "and keys are the same in both years (see the module docstring).",
    }
    progress(f"inventory: done ({time.perf_counter() - t0:.1f} s)")
    return section


def _snap(geoms: np.ndarray, ndigits: int) -> np.ndarray:
    """Coordinates rounded to ``ndigits``; the rare one made invalid snapped."""
    out = shapely.transform(geoms, lambda c: np.round(c, ndigits))
    bad = ~shapely.is_valid(out)
    if bad.any():
        out[bad] = shapely.set_precision(geoms[bad], 10.0**-ndigits)
    return np.array([_polys(g) for g in out], dtype=object)


def _multi(g):
    if g.geom_type == "Polygon":
        return shapely.MultiPolygon([g])
    return g


def _attributes(c: dict, seed: int) -> None:
    """Fill ``r["row"][year]`` (pinyin field -> value) and ``r["key"]``."""
    a = c["adcode"]
    rng = _rng(seed, "inventory-attrs", a)
    xiban = a in XIBAN_COUNTIES
    next_no: dict[int, int] = {}
    base_no: dict[int, int] = {}
    # base 小班 numbered first (in 林班 order), project patches after
    order = sorted(
        range(len(c["recs"])),
        key=lambda i: (
            c["recs"][i]["owner"] is not None,
            c["hier"][c["recs"][i]["base"]],
        ),
    )
    piece_count: dict[int, int] = {}
    for i in order:
        r = c["recs"][i]
        t, v, lb = c["hier"][r["base"]]
        if r["owner"] is None or not xiban:
            next_no[lb] = next_no.get(lb, 0) + 1
            no, sub = next_no[lb], ""
            if r["owner"] is None:
                base_no[r["base"]] = no
        else:
            if r["base"] not in base_no:
                next_no[lb] = next_no.get(lb, 0) + 1
                base_no[r["base"]] = next_no[lb]
            no = base_no[r["base"]]
            piece_count[r["base"]] = piece_count.get(r["base"], 0) + 1
            sub = str(piece_count[r["base"]])
        xiang = f"{a}{t:03d}"
        cun = f"{xiang}{v:03d}"
        r["ids"] = (a, xiang, cun, f"{lb:04d}", f"{no:03d}", sub)
        r["key"] = "/".join(r["ids"][:5]) + (f"/{sub}" if sub else "")
    for r in c["recs"]:
        r["row"] = {}
        natural = rng.random() < 0.6 and r["owner"] is None
        species = _pick(rng, SPECIES, SPECIES_P)
        age = int(rng.choice(5, p=AGE_P)) + 1
        canopy = round(float(rng.uniform(0.25, 0.9)), 2)
        cat = _pick(rng, ("11", "12", "21", "22"), (0.25, 0.3, 0.2, 0.25))
        r["v_raw"] = AGE_VOLUME[age - 1] * float(rng.lognormal(0.0, 0.3))
        r["growth"] = float(rng.lognormal(0.0, 0.12)) * (1.3 if age <= 2 else 1.0)
        r["v_new"] = float(rng.uniform(5.0, 15.0))
        r["v_sparse"] = float(rng.uniform(8.0, 20.0))
        for year in YEARS:
            cls = r["c10"] if year == 2010 else r["c15"]
            changed = year == 2015 and r["bhyy"] is not None
            row = dict(
                zip(
                    ("XIAN", "XIANG", "CUN", "LIN_BAN", "XIAO_BAN", "XI_BAN"),
                    r["ids"],
                    strict=True,
                )
            )
            row["MIAN_JI"] = round(r["area_mu"] / MU_PER_HA, 4)
            row["DI_LEI"] = cls
            if year == 2015:
                row["Q_DI_LEI"] = r["c10"]
                row["BHYY"] = r["bhyy"]
            forest_land = cls[:2] == "01"
            planted = r["owner"] is not None or cls == "0141"
            if cls in ("0111", "0120", "0131", "0132", "0141") or cls == "0113":
                row["YOU_SHI_SZ"] = (
                    "竹"
                    if cls == "0113"
                    else ("灌木" if cls in ("0131", "0132") else species)
                )
                row["QI_YUAN"] = "2" if planted or not natural else "1"
            if cls in ("0111", "0113"):
                young = changed and r["c10"] not in ("0111", "0113")
                row["LING_ZU"] = (
                    "1"
                    if young
                    else str(
                        min(5, age + (1 if year == 2015 and rng.random() < 0.3 else 0))
                    )
                )
                row["YU_BI_DU"] = (
                    round(float(rng.uniform(0.2, 0.4)), 2)
                    if young
                    else round(min(0.95, canopy + (0.04 if year == 2015 else 0)), 2)
                )
            elif cls == "0120":
                row["YU_BI_DU"] = round(float(rng.uniform(0.10, 0.19)), 2)
            if forest_land:
                row["SEN_LIN_LB"] = cat
                row["SHI_QUAN_D"] = (
                    ("10" if cat == "11" else "20") if cat[0] == "1" else None
                )
            row["GXSJ"] = f"{year}1231"
            r["row"][year] = row


def _calibrate_stock(counties: list[dict], seed: int) -> None:
    """HUO_LMGQXJ so that Σ volume × area hits the city figures."""
    recs = [r for c in counties for r in c["recs"]]
    ha = np.array([r["area_mu"] / MU_PER_HA for r in recs])
    c10 = np.array([r["c10"] for r in recs])
    c15 = np.array([r["c15"] for r in recs])
    raw = np.array([r["v_raw"] for r in recs])
    sparse = np.array([r["v_sparse"] for r in recs])
    arbor10 = c10 == "0111"
    sp10 = c10 == "0120"
    fixed10 = (sparse * ha)[sp10].sum()
    k10 = (CITY_STOCK_M3[2010] - fixed10) / (raw * ha)[arbor10].sum()
    v10 = np.where(arbor10, raw * k10, np.where(sp10, sparse, np.nan))
    # 2015: stands that were 0111 and still are grow; new 0111 small volumes
    kept = arbor10 & (c15 == "0111")
    new = (c15 == "0111") & ~arbor10
    growth = np.array([r["growth"] for r in recs])
    vnew = np.array([r["v_new"] for r in recs])
    from_class = {"0141": 20.0, "0171": 12.0, "0120": 30.0}
    vnew = np.where(
        new & np.isin(c10, list(from_class)),
        vnew + np.array([from_class.get(x, 0.0) for x in c10]),
        vnew,
    )
    sp15 = c15 == "0120"
    fixed15 = (vnew * ha)[new].sum() + (sparse * 1.1 * ha)[sp15].sum()
    k15 = (CITY_STOCK_M3[2015] - fixed15) / (v10 * growth * ha)[kept].sum()
    v15 = np.where(
        kept,
        v10 * growth * k15,
        np.where(new, vnew, np.where(sp15, sparse * 1.1, np.nan)),
    )
    for r, a, b in zip(recs, v10, v15, strict=True):
        r["row"][2010]["HUO_LMGQXJ"] = round(float(a), 1) if np.isfinite(a) else None
        r["row"][2015]["HUO_LMGQXJ"] = round(float(b), 1) if np.isfinite(b) else None


def _totals(counties, area, total_mu) -> dict:
    out: dict = {
        "total_area_mu": round(total_mu, 1),
        "official_total_area_mu": OFFICIAL_TOTAL_MU,
        "forest_classes": {
            "4-digit": list(FOREST),
            "sandiao": ["0301", "030100", "0302", "030200", "030301"],
            "3-digit": [111, 113, 131],
        },
    }
    for year in YEARS:
        f_mu, stock, per = 0.0, 0.0, {}
        for c in counties:
            fa = sum(
                r["area_mu"]
                for r in c["recs"]
                if (r["c10"] if year == 2010 else r["c15"]) in FOREST
            )
            st = sum(
                (r["row"][year]["HUO_LMGQXJ"] or 0.0) * r["area_mu"] / MU_PER_HA
                for r in c["recs"]
            )
            per[c["adcode"]] = {
                "forest_area_mu": round(fa, 1),
                "coverage_pct": round(100 * fa / area[c["adcode"]], 2),
                "stock_m3": round(st, 1),
                "total_area_mu": round(area[c["adcode"]], 1),
            }
            f_mu += fa
            stock += st
        out[str(year)] = {
            "forest_area_mu": round(f_mu, 1),
            "coverage_pct": round(100 * f_mu / total_mu, 3),
            "coverage_pct_of_official_total": round(100 * f_mu / OFFICIAL_TOTAL_MU, 3),
            "stock_m3": round(stock, 1),
            "n_xiaoban": sum(len(c["recs"]) for c in counties),
            "districts": per,
        }
    return out


# ---------------------------------------------------------------------------
# Defects
# ---------------------------------------------------------------------------


def _write_defects(root: Path, out_dir: Path, counties, seed) -> list[dict]:
    """Small GBK Shapefiles (EPSG:4490), each with one defect; manifest rows."""
    by = {c["adcode"]: c for c in counties}
    pinyin = [
        a
        for a in sorted(by)
        if a not in (CHINESE_COUNTY, INT3_COUNTY, LATE_COUNTY, *XIBAN_COUNTIES)
    ]
    rng = _rng(seed, "inventory-defects")
    folder = root / "defects"
    out = []

    def sample(adcode: str, n: int = 5, need_nonforest: bool = False):
        c = by[adcode]
        idx = [i for i, r in enumerate(c["recs"]) if r["owner"] is None][:n]
        if need_nonforest:
            nf = next(
                i
                for i, r in enumerate(c["recs"])
                if r["c15"].startswith("02") and r["owner"] is None
            )
            if nf not in idx:
                idx[1] = nf
        rows = [dict(c["recs"][i]["row"][2015]) for i in idx]
        geoms = [c["recs"][i]["geom4490"] for i in idx]
        return c, rows, geoms

    style = {"fields": "pinyin", "codes": "4-digit", "origin_style": "1/2"}

    def write(name, rows, geoms, entries):
        gdf = _frame(rows, 2015, style, geoms, 4490, seed)
        path = _write_layer(gdf, folder, name, "shapefile", "936")
        rel = path.relative_to(out_dir).as_posix()
        for e in entries:
            out.append({"file": rel, **e})

    picks = [pinyin[int(i)] for i in rng.choice(len(pinyin), 6, replace=False)]

    c, rows, geoms = sample(picks[0])
    rows[1]["DI_LEI"] = "0199"
    write(
        f"{c['adcode']}_地类代码未知",
        rows,
        geoms,
        [
            {
                "class": "unknown_land_class",
                "adcode": c["adcode"],
                "row": 2,
                "field": "DI_LEI",
                "value": "0199",
                "expect": "unknown land class 0199 in row 2 (no row of "
                "land_classes.csv): report it naming the 小班 and the value, "
                "never guess",
            }
        ],
    )

    c, rows, geoms = sample(picks[1])
    for f in ("XIANG", "CUN", "LIN_BAN", "XIAO_BAN", "XI_BAN"):
        rows[3][f] = rows[2][f]
    key = "/".join(rows[2][f] for f in ("XIAN", "XIANG", "CUN", "LIN_BAN", "XIAO_BAN"))
    key += f"/{rows[2]['XI_BAN']}" if rows[2]["XI_BAN"] else ""
    write(
        f"{c['adcode']}_小班重号",
        rows,
        geoms,
        [
            {
                "class": "duplicate_key",
                "adcode": c["adcode"],
                "row": 4,
                "field": "XIAO_BAN",
                "value": key,
                "expect": f"duplicate 小班 key {key} in rows 3 and 4 (different "
                "geometries): report both rows",
            }
        ],
    )

    c, rows, geoms = sample(picks[2], need_nonforest=True)
    j = next(k for k, r in enumerate(rows) if r["DI_LEI"].startswith("02"))
    rows[j]["HUO_LMGQXJ"] = 85.0
    write(
        f"{c['adcode']}_非林地蓄积",
        rows,
        geoms,
        [
            {
                "class": "volume_on_non_forest",
                "adcode": c["adcode"],
                "row": j + 1,
                "field": "HUO_LMGQXJ",
                "value": 85.0,
                "expect": f"HUO_LMGQXJ 85.0 m³/ha on non-forest land "
                f"(DI_LEI {rows[j]['DI_LEI']}) in row {j + 1}: report; do not add "
                "it to the standing stock",
            }
        ],
    )

    c, rows, geoms = sample(picks[3])
    to4545 = Transformer.from_crs(4490, METRIC_EPSG, always_xy=True)
    to4490 = Transformer.from_crs(METRIC_EPSG, 4490, always_xy=True)
    m = [
        shapely.transform(g, lambda x: np.c_[to4545.transform(x[:, 0], x[:, 1])])
        for g in geoms
    ]
    # grow row 2 by 150 m: it then overlaps its neighbours
    grown = m[1].buffer(150.0)
    g2 = shapely.set_precision(
        shapely.transform(grown, lambda x: np.c_[to4490.transform(x[:, 0], x[:, 1])]),
        1e-8,
    )
    geoms[1] = _multi(g2)
    rows[1]["MIAN_JI"] = round(_geodesic_mu(geoms[1]) / MU_PER_HA, 4)
    overl = [
        k
        for k in range(len(geoms))
        if k != 1 and shapely.intersection(geoms[1], geoms[k]).area > 0
    ]
    if not overl:  # rows not adjacent: put a copy of row 1 shifted onto row 2
        geoms[1] = _multi(
            shapely.set_precision(shapely.union(geoms[1], geoms[0]), 1e-8)
        )
        rows[1]["MIAN_JI"] = round(_geodesic_mu(geoms[1]) / MU_PER_HA, 4)
        overl = [0]
    ov_mu = sum(
        _geodesic_mu(_polys(shapely.intersection(geoms[1], geoms[k]))) for k in overl
    )
    write(
        f"{c['adcode']}_小班重叠",
        rows,
        geoms,
        [
            {
                "class": "overlap",
                "adcode": c["adcode"],
                "row": 2,
                "field": "geometry",
                "value": f"overlaps rows {[k + 1 for k in overl]}",
                "overlap_mu": round(ov_mu, 2),
                "expect": f"小班 in row 2 overlaps row(s) {[k + 1 for k in overl]} "
                f"by {ov_mu:.1f} mu: report; count the land once",
            }
        ],
    )

    c, rows, geoms = sample(picks[4])
    rows[1]["MIAN_JI"] = None
    geoms[1] = None
    write(
        f"{c['adcode']}_面积缺失",
        rows,
        geoms,
        [
            {
                "class": "missing_area",
                "adcode": c["adcode"],
                "row": 2,
                "field": "MIAN_JI",
                "value": None,
                "expect": "row 2 has an empty geometry and no MIAN_JI: its area "
                "is unknown; report it, never count it as 0 silently",
            }
        ],
    )

    c, rows, geoms = sample(picks[5])
    for r in rows:
        for f in ("XIAN", "XIANG", "CUN"):
            r[f] = NOT_CHONGQING_CODE + r[f][6:]
    write(
        f"{NOT_CHONGQING_CODE}_小班",
        rows,
        geoms,
        [
            {
                "class": "county_not_in_chongqing",
                "adcode": c["adcode"],
                "row": 1,
                "field": "XIAN",
                "value": NOT_CHONGQING_CODE,
                "expect": f"county code {NOT_CHONGQING_CODE} (秭归县, Hubei) is "
                "not a Chongqing district: refuse the layer (every row)",
            }
        ],
    )
    for i, d in enumerate(out, start=1):
        d["id"] = f"I{i:02d}"
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        description="Write DIR/inventory only (no projects)."
    )
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=2012)
    args = parser.parse_args(argv)
    make_inventory(args.out, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
