"""Random points inside Chongqing and their districts, for the benchmarks."""

from __future__ import annotations

import numpy as np
import shapely


def points_in_chongqing(rng: np.random.Generator, n: int):
    """Return ``(x, y, adcode)``: *n* uniform points inside the 38 districts.

    Longitude/latitude in EPSG:4490; ``adcode`` of the district each lies in.
    """
    from forestsink.reference import read_districts

    districts = read_districts()
    union = shapely.union_all(districts.geometry.values)
    shapely.prepare(union)
    xs, ys = [], []
    while len(xs) < n:
        x = rng.uniform(105.3, 110.2, n)
        y = rng.uniform(28.2, 32.2, n)
        ok = shapely.contains_xy(union, x, y)
        xs.extend(x[ok])
        ys.extend(y[ok])
    x, y = np.array(xs[:n]), np.array(ys[:n])
    tree = shapely.STRtree(districts.geometry.values)
    idx = tree.query(shapely.points(x, y), predicate="within")
    adcode = np.full(n, "500101", dtype=object)
    adcode[idx[0]] = districts["adcode"].to_numpy()[idx[1]]
    return x, y, adcode
