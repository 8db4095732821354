"""Tests of scripts/make_inventory_sample.py and the 小班 layers it writes.

The layers are part of the session sample (``sample_dir`` fixture,
tests/conftest.py). The oracles here are independent of the generator and of
the package: pyogrio reads the files, ``pyproj.Geod`` measures the areas, and
the land-class codes are normalised by the small table below.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Geod

ROOT = Path(__file__).resolve().parents[1]
GEOD = Geod(ellps="GRS80")
OFFICIAL_TOTAL_MU = 123_600_000.0
CITY_PCT = {2010: 37.0, 2015: 45.0}
CITY_STOCK = {2010: 139_790_000.0, 2015: 197_000_000.0}
SANDIAO_TO_LDBG = {
    "030100": "0111",
    "0301": "0111",
    "030200": "0113",
    "0302": "0113",
    "030301": "0131",
    "030302": "0132",
    "030401": "0120",
    "030402": "0141",
    "030405": "0161",
    "非林地": "02",
}
FOREST = {"0111", "0113", "0131"}
CHINESE = {
    "县": "XIAN",
    "乡镇": "XIANG",
    "村": "CUN",
    "林班": "LIN_BAN",
    "小班号": "XIAO_BAN",
    "小班面积": "MIAN_JI",
    "地类": "DI_LEI",
    "前期地类": "Q_DI_LEI",
    "变化原因": "BHYY",
    "优势树种": "YOU_SHI_SZ",
    "起源": "QI_YUAN",
    "龄组": "LING_ZU",
    "郁闭度": "YU_BI_DU",
    "公顷蓄积": "HUO_LMGQXJ",
}
SPECIES = {"马尾松", "杉木", "柏木", "栎类", "其他阔叶", "针阔混", "竹", "灌木"}
KEY = ("XIAN", "XIANG", "CUN", "LIN_BAN", "XIAO_BAN", "XI_BAN")


def norm(value) -> str | None:
    """A delivered DI_LEI in any of the sample's forms → 4-digit code ('02')."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, int | np.integer):
        code = f"{int(value):04d}"
    else:
        code = SANDIAO_TO_LDBG.get(str(value), str(value))
    return "02" if code.startswith("02") else code


def geodesic_mu(geom) -> float:
    if geom is None or geom.is_empty:
        return 0.0
    g = shapely.orient_polygons(geom, exterior_cw=False)
    return abs(GEOD.geometry_area_perimeter(g)[0]) * 15.0 / 10_000.0


def read_layer(sample_dir: Path, entry: dict) -> gpd.GeoDataFrame:
    """Read one layer (GBK where no .cpg says so), canonical names, EPSG:4490."""
    path = sample_dir / entry["path"]
    enc = "GBK" if entry["cpg"] is None else None
    gdf = pyogrio.read_dataframe(path, encoding=enc)
    assert gdf.crs is not None and gdf.crs.to_epsg() == int(entry["crs"][5:])
    gdf = gdf.rename(columns=CHINESE).to_crs(4490)
    gdf["code"] = [norm(v) for v in gdf["DI_LEI"]]
    gdf["area_mu"] = [geodesic_mu(g) for g in gdf.geometry]
    return gdf


@pytest.fixture(scope="module")
def inv(sample_manifest) -> dict:
    return sample_manifest["inventory"]


@pytest.fixture(scope="module")
def layers(sample_dir, inv) -> dict[tuple[str, int], gpd.GeoDataFrame]:
    return {(e["adcode"], e["year"]): read_layer(sample_dir, e) for e in inv["files"]}


@pytest.fixture(scope="module")
def district_mu() -> dict[str, float]:
    gdf = gpd.read_file(ROOT / "data" / "districts.gpkg", layer="districts")
    return {
        str(a): geodesic_mu(g) for a, g in zip(gdf["adcode"], gdf.geometry, strict=True)
    }


def test_folders_and_late_county(sample_dir, inv):
    files = inv["files"]
    assert len(files) == 76
    (late,) = inv["missing_from_2010"]
    in_2010 = {e["adcode"] for e in files if e["folder"] == "inventory/2010"}
    in_2015 = {e["adcode"] for e in files if e["folder"] == "inventory/2015"}
    assert len(in_2015) == 38 and len(in_2010) == 37
    assert late["adcode"] not in in_2010
    assert late["delivered_late_as"].startswith("inventory/2010-late/")
    assert (sample_dir / late["delivered_late_as"]).exists()
    for year in ("2010", "2015"):
        names = [p.name for p in (sample_dir / "inventory" / year).iterdir()]
        assert not any(late["adcode"] in n for n in names) or year == "2015"
        assert not any("420527" in n for n in names)
    styles = {(e["field_style"], e["code_style"]) for e in files}
    assert {("pinyin", "4-digit"), ("chinese", "sandiao"), ("pinyin", "3-digit")} <= (
        styles
    )
    assert {e["crs"] for e in files} == {"EPSG:4490", "EPSG:4545"}
    assert {e["cpg"] for e in files} == {"936", "GBK", None}
    assert {e["format"] for e in files} == {"shapefile", "shapefile_zip"}
    assert all(290 <= e["n_xiaoban"] <= 600 for e in files)


def test_sidecars_and_fields(sample_dir, inv, layers):
    for e in inv["files"]:
        path = sample_dir / e["path"]
        if e["format"] == "shapefile":
            assert path.with_suffix(".prj").exists()
            assert path.with_suffix(".cpg").exists() == (e["cpg"] is not None)
        gdf = layers[(e["adcode"], e["year"])]
        assert len(gdf) == e["n_xiaoban"]
        want = {"XIAN", "XIANG", "CUN", "LIN_BAN", "XIAO_BAN", "MIAN_JI", "DI_LEI"}
        want |= {"YOU_SHI_SZ", "QI_YUAN", "LING_ZU", "YU_BI_DU", "HUO_LMGQXJ"}
        if e["year"] == 2015:
            want |= {"Q_DI_LEI", "BHYY"}
        assert want <= set(gdf.columns), e["path"]
        if e["field_style"] == "pinyin":
            assert {"XI_BAN", "SEN_LIN_LB", "SHI_QUAN_D", "GXSJ"} <= set(gdf.columns)
            assert (gdf["GXSJ"] == f"{e['year']}1231").all()
        assert (gdf["XIAN"] == e["adcode"]).all()
        assert gdf["XIANG"].str.fullmatch(e["adcode"] + r"\d{3}").all()
        assert gdf["CUN"].str.fullmatch(e["adcode"] + r"\d{6}").all()


def test_code_styles(inv, layers):
    for e in inv["files"]:
        gdf = layers[(e["adcode"], e["year"])]
        raw = gdf["DI_LEI"]
        if e["code_style"] == "3-digit":
            assert pd.api.types.is_integer_dtype(raw)
            assert raw.between(111, 254).all()
        elif e["code_style"] == "sandiao":
            assert set(raw) <= set(SANDIAO_TO_LDBG)
            assert {"0301", "030100", "030301", "非林地"} <= set(raw)
        else:
            assert raw.str.fullmatch(r"0[12]\d\d").all()
        assert gdf["code"].notna().all()


def test_gbk_text_decodes(sample_dir, inv, layers):
    no_cpg = [e for e in inv["files"] if e["cpg"] is None]
    assert no_cpg
    for e in inv["files"]:
        values = set(layers[(e["adcode"], e["year"])]["YOU_SHI_SZ"].dropna())
        assert values and values <= SPECIES, e["path"]
    e = no_cpg[0]
    try:  # the bytes are GBK: read as UTF-8 they fail or come out wrong
        df = pyogrio.read_dataframe(sample_dir / e["path"], encoding="UTF-8")
    except Exception:  # any decoding failure will do
        return
    assert not set(df["YOU_SHI_SZ"].dropna()) <= SPECIES


def _key_parts(gdf) -> pd.DataFrame:
    parts = gdf.reindex(columns=list(KEY)).astype(object)
    return parts.where(parts.notna(), "").astype(str)


def test_keys_unique(layers):
    for (adcode, year), gdf in layers.items():
        parts = _key_parts(gdf)
        keys = parts.agg("/".join, axis=1)
        assert keys.is_unique, (adcode, year)


def test_tiles_cover_each_district(layers, district_mu):
    for (adcode, year), gdf in layers.items():
        total = gdf["area_mu"].sum()
        assert abs(total / district_mu[adcode] - 1) < 0.001, (adcode, year, total)
        assert gdf.geometry.is_valid.all()


def test_tiles_do_not_overlap(layers):
    for adcode in ("500101", "500156", "500230", "500229"):
        gdf = layers[(adcode, 2015)].to_crs(4545)
        union = shapely.union_all(gdf.geometry.to_numpy(), grid_size=0.01)
        assert abs(union.area / gdf.geometry.area.sum() - 1) < 1e-5


def test_area_field_matches_geometry(layers):
    for gdf in layers.values():
        assert np.allclose(gdf["MIAN_JI"] * 15.0, gdf["area_mu"], rtol=1e-3, atol=0.01)


def _city(layers, year: int) -> tuple[float, float, float]:
    forest = stock = total = 0.0
    for (_, y), gdf in layers.items():
        if y != year:
            continue
        forest += gdf.loc[gdf["code"].isin(FOREST), "area_mu"].sum()
        stock += (gdf["HUO_LMGQXJ"].fillna(0.0) * gdf["area_mu"] / 15.0).sum()
        total += gdf["area_mu"].sum()
    return forest, stock, total


@pytest.mark.parametrize("year", [2010, 2015])
def test_city_totals(inv, layers, year):
    forest, stock, total = _city(layers, year)  # 2010 includes the late county
    assert abs(100 * forest / OFFICIAL_TOTAL_MU - CITY_PCT[year]) <= 0.3
    assert abs(100 * forest / total - CITY_PCT[year]) <= 0.3
    assert abs(stock / CITY_STOCK[year] - 1) <= 0.02
    declared = inv["totals"][str(year)]
    assert declared["forest_area_mu"] == pytest.approx(forest, rel=1e-4)
    assert declared["stock_m3"] == pytest.approx(stock, rel=1e-4)
    assert declared["coverage_pct"] == pytest.approx(100 * forest / total, abs=0.01)


def test_district_coverage_varies(inv):
    cov = {a: d["coverage_pct"] for a, d in inv["totals"]["2015"]["districts"].items()}
    assert cov["500103"] < 20
    assert cov["500229"] > 50
    before = inv["totals"]["2010"]["districts"]
    assert all(cov[a] >= before[a]["coverage_pct"] - 1 for a in cov)


def test_volume_only_on_arbor_and_sparse(layers):
    for gdf in layers.values():
        has = gdf["HUO_LMGQXJ"].notna()
        assert set(gdf.loc[has, "code"]) <= {"0111", "0120"}
        assert (gdf.loc[has, "HUO_LMGQXJ"] > 0).all()


def test_change_fields_2015(inv, layers):
    for e in inv["files"]:
        if e["year"] != 2015:
            continue
        gdf = layers[(e["adcode"], 2015)]
        before = gdf["Q_DI_LEI"].map(norm)
        changed = before != gdf["code"]
        reasons = gdf["BHYY"].fillna("")
        assert (reasons[changed] != "").all(), e["path"]
        # the 2010 layer of the same land says what Q_DI_LEI says
        old = layers[(e["adcode"], 2010)]
        assert len(old) == len(gdf)
        assert list(old["code"]) == list(before)


def test_construction_losses(inv, layers):
    losses = inv["forest_to_construction"]
    assert len(losses) >= 10
    for x in losses:
        gdf = layers[(x["adcode"], 2015)]
        row = gdf.iloc[x["row"] - 1]
        assert row["code"] == "02" and row["BHYY"] == "41"
        assert norm(row["Q_DI_LEI"]) in FOREST


def _truth_frames(sample_dir, sample_manifest, adcodes):
    truth = pd.read_csv(sample_dir / "truth.csv", dtype=str)
    adds = {"afforestation", "grain_to_green", "rocky_desertification"}
    adds |= {"public_welfare"}
    truth = truth[truth["located_adcode"].isin(adcodes)]
    truth = truth[truth["project_type"].isin(adds)]
    entries = {e["path"]: e for e in sample_manifest["deliveries"]}
    out = []
    for path, rows in truth.groupby("path"):
        e = entries[path]
        enc = e["encoding"] if e["format"].startswith("shapefile") else None
        gdf = pyogrio.read_dataframe(sample_dir / path, encoding=enc)
        if gdf.crs is None:
            gdf = gdf.set_crs(e["true_crs"])
        gdf = gdf.to_crs(4490)
        for r in rows.itertuples():
            g = gdf.geometry.iloc[int(r.row)]
            out.append((r.located_adcode, int(r.year), r.path, int(r.row), g))
    return out


def test_project_land_in_2015(sample_dir, sample_manifest, inv, layers):
    """Afforestation-type polygons lie on 0111 (2011-13) / 0141 (2014-15) 小班."""
    adcodes = ["500101", "500156", "500230", "500242", "500110"]
    on_forest = {
        (x["project_path"], x["project_row"])
        for x in inv["afforestation_on_forest"] + inv["withdrawn_project_land"]
    }
    want = {2011: "0111", 2012: "0111", 2013: "0111", 2014: "0141", 2015: "0141"}
    shares, n = [], 0
    for adcode, year, path, row, delivered in _truth_frames(
        sample_dir, sample_manifest, adcodes
    ):
        if (path, row) in on_forest:
            continue
        gdf = layers[(adcode, 2015)]
        geom = shapely.make_valid(delivered)
        hits = gdf[gdf.intersects(geom)]
        inter = [geodesic_mu(shapely.intersection(g, geom)) for g in hits.geometry]
        good = [
            a
            for a, code, why in zip(inter, hits["code"], hits["BHYY"], strict=True)
            if code == want[year] and why == "11"
        ]
        if sum(inter) > 0:
            n += 1
            shares.append(sum(good) / sum(inter))
    assert n > 100
    # re-planting overlaps belong to the later polygon: a few shares < 1
    assert np.mean(shares) > 0.98
    assert np.median(shares) > 0.999


def test_withdrawn_project_land_is_construction(sample_manifest, inv, layers):
    (wd,) = [d for d in sample_manifest["defects"] if d["class"] == "withdrawal"]
    (x,) = inv["withdrawn_project_land"]
    assert (x["project_path"], x["project_row"]) == (
        wd["withdraws"]["path"],
        wd["withdraws"]["row"],
    )
    gdf = layers[(x["adcode"], 2015)]
    parts = _key_parts(gdf)
    k = parts.iloc[:, :5].agg("/".join, axis=1) + parts["XI_BAN"].map(
        lambda s: f"/{s}" if s else ""
    )
    rows = gdf[k.isin(x["xiaoban_keys"])]
    assert len(rows) == len(x["xiaoban_keys"]) >= 1
    assert set(rows["code"]) == {"02"} and set(rows["BHYY"]) == {"41"}
    assert set(rows["Q_DI_LEI"].map(norm)) == {"0171"}


def test_afforestation_on_forest_listed(inv, layers):
    listed = inv["afforestation_on_forest"]
    assert 3 <= len(listed) <= 12
    for x in listed:
        keys = set(x["xiaoban_keys"])
        assert keys
        for year, want in ((2010, "0111"), (2015, "0111")):
            gdf = layers[(x["adcode"], year)]
            parts = _key_parts(gdf)
            k = parts.iloc[:, :5].agg("/".join, axis=1) + parts["XI_BAN"].map(
                lambda s: f"/{s}" if s else ""
            )
            assert set(gdf.loc[k.isin(keys), "code"]) == {want}
            assert k.isin(keys).sum() == len(keys)


# --- defects --------------------------------------------------------------


def _defect(inv, cls):
    (d,) = [d for d in inv["defects"] if d["class"] == cls]
    return d


def _read_defect(sample_dir, d):
    gdf = pyogrio.read_dataframe(sample_dir / d["file"])
    assert d["file"].startswith("inventory/defects/")
    return gdf


def test_defect_unknown_class(sample_dir, inv):
    d = _defect(inv, "unknown_land_class")
    gdf = _read_defect(sample_dir, d)
    assert gdf["DI_LEI"].iloc[d["row"] - 1] == "0199" == d["value"]
    assert (gdf["DI_LEI"].drop(index=d["row"] - 1) != "0199").all()


def test_defect_duplicate_key(sample_dir, inv):
    d = _defect(inv, "duplicate_key")
    gdf = _read_defect(sample_dir, d)
    keys = _key_parts(gdf).agg("/".join, axis=1)
    i = d["row"] - 1
    assert keys.iloc[i] == keys.iloc[i - 1]
    assert keys.duplicated().sum() == 1
    assert not gdf.geometry.iloc[i].equals(gdf.geometry.iloc[i - 1])


def test_defect_volume_on_non_forest(sample_dir, inv):
    d = _defect(inv, "volume_on_non_forest")
    row = _read_defect(sample_dir, d).iloc[d["row"] - 1]
    assert row["DI_LEI"].startswith("02")
    assert row["HUO_LMGQXJ"] == d["value"]


def test_defect_overlap(sample_dir, inv):
    d = _defect(inv, "overlap")
    gdf = _read_defect(sample_dir, d)
    g = gdf.geometry.iloc[d["row"] - 1]
    over = [
        geodesic_mu(shapely.intersection(g, h))
        for k, h in enumerate(gdf.geometry)
        if k != d["row"] - 1
    ]
    assert sum(over) == pytest.approx(d["overlap_mu"], rel=0.01)
    assert sum(over) > 1.0


def test_defect_missing_area(sample_dir, inv):
    d = _defect(inv, "missing_area")
    gdf = _read_defect(sample_dir, d)
    i = d["row"] - 1
    assert gdf.geometry.iloc[i] is None or gdf.geometry.iloc[i].is_empty
    assert pd.isna(gdf["MIAN_JI"].iloc[i])
    assert gdf.geometry.drop(index=i).notna().all()


def test_defect_county_not_in_chongqing(sample_dir, inv, district_mu):
    d = _defect(inv, "county_not_in_chongqing")
    gdf = _read_defect(sample_dir, d)
    assert (gdf["XIAN"] == d["value"]).all()
    assert d["value"] not in district_mu


# --- determinism ----------------------------------------------------------


def _module():
    name = "make_inventory_sample"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, ROOT / "scripts" / "make_inventory_sample.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_same_seed_same_bytes(tmp_path, make_sample):
    mod = _module()
    districts = make_sample.load_districts()
    kw = {"districts": districts, "base_coverage": make_sample.BASE_COVERAGE}
    a = mod.make_inventory(tmp_path / "a", 7, progress=lambda _m: None, **kw)
    b = mod.make_inventory(tmp_path / "b", 7, progress=lambda _m: None, **kw)
    assert a == b
    ha, hb = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert len(ha) > 250
    assert ha == hb


def test_package_resolves_every_class(inv, layers):
    """Every DI_LEI / Q_DI_LEI form the sample writes is in data/land_classes.csv."""
    from forestsink.inventory import resolve_land_classes
    from forestsink.reference import read_land_classes

    table = read_land_classes()
    for e in inv["files"]:
        gdf = layers[(e["adcode"], e["year"])]
        for field in ("DI_LEI", "Q_DI_LEI"):
            if field not in gdf:
                continue
            rows = resolve_land_classes(gdf[field], table)
            assert rows.notna().all(), (e["path"], field)
        rows = resolve_land_classes(gdf["DI_LEI"], table)
        forest = table["counts_as_forest"].reindex(rows.to_numpy()).to_numpy(bool)
        assert (forest == gdf["code"].isin(FOREST).to_numpy()).all(), e["path"]
