"""Hand-made 小班 layers and project frames for the inventory tests.

Built in code: a 小班 frame with the stored columns
(:data:`forestsink.store.inventory_schema.XIAOBAN_COLUMNS`) and project frames as
``store.current()`` returns them; areas from ``pyproj.Geod`` (the oracle).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod

from forestsink.store.inventory_schema import XIAOBAN_COLUMNS
from forestsink.units import M2_PER_MU

GEOD = Geod(ellps="GRS80")

#: land code -> (land_group, is_forest, is_forest_land)
CODES = {
    "0111": ("arbor", 1, 1),
    "0113": ("bamboo", 1, 1),
    "0141": ("unestablished", 0, 1),
    "0142": ("unestablished", 0, 1),
    "0132": ("other_shrub", 0, 1),
    "0210": ("non_forest", 0, 0),
}


def geod_mu(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / M2_PER_MU


def layer(rows, year: int) -> gpd.GeoDataFrame:
    """A 小班 frame with the stored columns: rows of (adcode, code, geometry)."""
    records = []
    for i, (adcode, code, _geom) in enumerate(rows):
        group, forest, land = CODES[code]
        rec = dict.fromkeys(XIAOBAN_COLUMNS, "")
        rec.update(
            key=f"{adcode}/1/1/1/{i + 1}",
            adcode=adcode,
            year=year,
            xiaoban=str(i + 1),
            land_class_raw=code,
            land_scheme="ldbg",
            land_code=code,
            land_group=group,
            is_forest=forest,
            is_forest_land=land,
            land_class_before_raw=None,
            land_group_before=None,
            area_reported_mu=np.nan,
            volume_m3_ha=np.nan,
            stock_m3=np.nan,
            canopy=np.nan,
            source_row=i,
            attrs="{}",
        )
        records.append(rec)
    geoms = [shapely.MultiPolygon([g]) for _a, _c, g in rows]
    gdf = gpd.GeoDataFrame(records, geometry=geoms, crs=4490)
    gdf["area_mu"] = [geod_mu(g) for g in geoms]
    return gdf[[*XIAOBAN_COLUMNS, "geometry"]]


def projects(rows) -> gpd.GeoDataFrame:
    """Projects as store.current() gives them: (adcode, id, type, year, geom)."""
    frame = pd.DataFrame(
        {
            "key": [f"{a}/{pid}" for a, pid, *_ in rows],
            "adcode": [r[0] for r in rows],
            "project_id": [r[1] for r in rows],
            "year": [r[3] for r in rows],
            "project_type": [r[2] for r in rows],
            "programme": "",
        }
    )
    geoms = [r[4] for r in rows]
    gdf = gpd.GeoDataFrame(frame, geometry=geoms, crs=4490)
    gdf["area_mu"] = [geod_mu(g) for g in geoms]
    return gdf
