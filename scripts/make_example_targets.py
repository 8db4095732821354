"""Write ``data/district_targets.EXAMPLE.csv``: an EXAMPLE per-district target table.

The plan (渝府发〔2012〕102号) sets no per-district forest targets. A bureau that
has them supplies its own table in this shape (CSV or Excel). This script only
shows the shape: it splits the city-wide targets for new forest area and new
stock volume by each district's share of land area, rounded to 1,000. The
numbers are NOT plan figures; the ``status`` column says so on every row.

Run: ``python scripts/make_example_targets.py``
"""

from __future__ import annotations

import csv
from pathlib import Path

from pyproj import Geod

from forestsink.reference import data_dir, read_districts, read_plan_targets

STATUS = "EXAMPLE 示例：非规划数据 / not plan figures"


def main() -> Path:
    districts = read_districts()
    geod = Geod(ellps="GRS80")
    areas = districts.geometry.map(lambda g: abs(geod.geometry_area_perimeter(g)[0]))
    share = areas / areas.sum()
    targets = read_plan_targets().set_index("target_id")
    rows = []
    for metric, target_id, unit in (
        ("new_forest_area_mu", "new_forest_area", "mu"),
        ("new_stock_volume_m3", "new_stock_volume", "m3"),
    ):
        total = targets.loc[target_id, "value"]
        for adcode, name, s in zip(
            districts["adcode"], districts["name_zh"], share, strict=True
        ):
            rows.append(
                {
                    "adcode": adcode,
                    "name_zh": name,
                    "metric": metric,
                    "value": int(round(total * s / 1000.0) * 1000),
                    "unit": unit,
                    "status": STATUS,
                }
            )
    path = data_dir() / "district_targets.EXAMPLE.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


if __name__ == "__main__":
    print(main())
