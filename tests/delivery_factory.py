"""Build small deliveries in code (formats, encodings, CRS) for the tests."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
from shapely.geometry import box

# Points well inside two districts (checked in test_ingest.py)
WANZHOU = (108.38, 30.80)  # 500101 万州区
FULING = (107.39, 29.70)  # 500102 涪陵区


def squares(center, n=3, size=0.004, step=0.01):
    x, y = center
    return [box(x + i * step, y, x + i * step + size, y + size) for i in range(n)]


def frame(
    center=WANZHOU,
    *,
    n=3,
    district="万州区",
    year=2013,
    types=("人工造林", "退耕还林", "低效林改造"),
    ids=None,
    columns=None,
):
    """A clean delivery in EPSG:4490 with Chinese column names."""
    from forestsink.area import area_mu

    geoms = squares(center, n)
    gdf = gpd.GeoDataFrame(
        {
            "小班号": ids or [f"P{i + 1}" for i in range(n)],
            "区县": [district] * n,
            "年度": [year] * n,
            "工程类别": [types[i % len(types)] for i in range(n)],
        },
        geometry=geoms,
        crs=4490,
    )
    gdf["面积(亩)"] = area_mu(gdf).round(1)
    if columns:
        gdf = gdf.rename(columns=columns)
    return gdf


def write(gdf, path: Path, *, encoding="UTF-8", cpg=True, prj=True, crs=None):
    """Write *gdf* to *path* (.shp/.gpkg/.geojson/.zip) the way counties do."""
    path = Path(path)
    if crs is not None:
        gdf = gdf.to_crs(crs)
    if path.suffix == ".zip":
        inner = path.with_suffix(".shp")
        write(gdf, inner, encoding=encoding, cpg=cpg, prj=prj)
        with zipfile.ZipFile(path, "w") as zf:
            for part in sorted(inner.parent.glob(inner.stem + ".*")):
                if part.suffix != ".zip":
                    zf.write(part, part.name)
                    part.unlink()
        return path
    if path.suffix == ".shp":
        pyogrio.write_dataframe(gdf, path, encoding=encoding)
        if not cpg:
            os.remove(path.with_suffix(".cpg"))
        if not prj and path.with_suffix(".prj").exists():
            os.remove(path.with_suffix(".prj"))
    else:
        pyogrio.write_dataframe(gdf, path)
    return path
