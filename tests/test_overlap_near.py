"""The overlap check reads only the store's polygons near the delivery (#20).

A hand-built case in 万州区 (EPSG:4490 boxes, in degrees):

* stored A  108.380–108.384 E, 30.800–30.804 N, 人工造林: overlaps D1;
* stored C  108.387–108.389: between D1 and D2, inside the delivery's
  bounding box, overlapping nothing;
* stored E  108.392–108.396, 低效林改造: overlaps D2, but 低效林改造 adds no
  forest area, so it is not reported;
* stored B  108.383–108.387 E, 30.830–30.834 N: outside the delivery's box;
* delivered D1 108.382–108.386 and D2 108.390–108.394, both 人工造林,
  30.800–30.804 N.

Expected: the box query finds A, C and E (their boxes meet
108.382–108.394 × 30.800–30.804), not B; the only overlap reported is D1
with A, over 108.382–108.384 × 30.800–30.804, whose area comes from
pyproj.Geod on the GRS 80 ellipsoid (CGCS2000's), not from the code.
"""

from __future__ import annotations

import re
import uuid

import geopandas as gpd
import pg_fixture
import pytest
from delivery_factory import frame, write
from pyproj import Geod
from shapely.geometry import box

from forestsink.area import area_mu
from forestsink.ingest import read_delivery
from forestsink.landing.deliveries import ingest_deliveries
from forestsink.landing.nearby import NearbyPolygons, store_polygons
from forestsink.reference import read_districts
from forestsink.store import GeoPackageStore
from forestsink.store.postgis import PostGISStore
from forestsink.validate import validate_delivery

pg_server = pg_fixture.pg_server  # the session's own PostgreSQL + PostGIS server

M2_PER_MU = 10_000 / 15

STORED = {
    "A": (box(108.380, 30.800, 108.384, 30.804), "人工造林"),
    "C": (box(108.387, 30.800, 108.389, 30.804), "人工造林"),
    "E": (box(108.392, 30.800, 108.396, 30.804), "低效林改造"),
    "B": (box(108.383, 30.830, 108.387, 30.834), "人工造林"),
}
DELIVERED = {
    "D1": (box(108.382, 30.800, 108.386, 30.804), "人工造林"),
    "D2": (box(108.390, 30.800, 108.394, 30.804), "人工造林"),
}
#: the delivery's bounding box, by hand from D1 and D2
BOUNDS = (108.382, 30.800, 108.394, 30.804)


def _file(features: dict, path):
    gdf = frame(n=len(features), ids=list(features))
    gdf["工程类别"] = [t for _, t in features.values()]
    gdf = gdf.set_geometry(gpd.GeoSeries([g for g, _ in features.values()], crs=4490))
    gdf["面积(亩)"] = area_mu(gdf).round(1)
    return write(gdf, path)


@pytest.fixture(params=["gpkg", "postgis"])
def seeded(request, tmp_path):
    if request.param == "gpkg":
        store = GeoPackageStore(tmp_path / "store.gpkg")
    else:
        url = request.getfixturevalue("pg_server")
        store = PostGISStore(f"{url}?schema=t_{uuid.uuid4().hex[:12]}")
    ingest_deliveries([_file(STORED, tmp_path / "stored.gpkg")], store, workers=0)
    return store


def _expected_overlap_mu() -> float:
    lons = [108.382, 108.384, 108.384, 108.382]
    lats = [30.800, 30.800, 30.804, 30.804]
    area, _ = Geod(ellps="GRS80").polygon_area_perimeter(lons, lats)
    return abs(area) / M2_PER_MU


def test_current_within_bounds_reads_the_boxes_that_meet(seeded):
    near = seeded.current(bounds=BOUNDS)
    assert sorted(k.split("/")[1] for k in near["key"]) == ["A", "C", "E"]
    assert list(near.columns) == list(seeded.current().columns)
    assert near.crs.equals(4490)
    # the same as of the batch that made them; nothing before it
    assert len(seeded.current(bounds=BOUNDS, as_of=1)) == 3
    far = (108.0, 29.0, 108.001, 29.001)
    assert seeded.current(bounds=far).empty


def test_nearby_check_equals_the_whole_store_check(seeded, tmp_path):
    delivery = read_delivery(_file(DELIVERED, tmp_path / "d.gpkg"))
    districts = read_districts()
    whole = validate_delivery(
        delivery.frame, districts=districts, existing=seeded.current()
    ).issues
    asked = []

    class Spy(NearbyPolygons):
        def __call__(self, bounds):
            asked.append(bounds)
            return super().__call__(bounds)

    near = validate_delivery(
        delivery.frame, districts=districts, existing=Spy(seeded)
    ).issues
    assert asked == [pytest.approx(BOUNDS)]
    assert near.to_dict("records") == whole.to_dict("records")
    overlaps = near[near["code"] == "overlap_existing"]
    assert overlaps["row"].tolist() == [0]  # D1 only
    assert overlaps["value"].tolist() == ["500101/A"]
    mu = float(re.search(r"by ([\d.]+) mu", overlaps["message"].iloc[0])[1])
    assert mu == pytest.approx(_expected_overlap_mu(), abs=0.05)


def test_ingest_reads_near_and_reports_the_same(seeded, tmp_path):
    path = _file(DELIVERED, tmp_path / "d.gpkg")
    existing = store_polygons(seeded)
    assert isinstance(existing, NearbyPolygons)
    report, outcomes = ingest_deliveries([path], seeded, workers=0)
    found = report.issues[report.issues["code"] == "overlap_existing"]
    assert found["value"].tolist() == ["500101/A"]
    assert outcomes[0]["added"] == 2


def test_pinned_state_ignores_files_landed_by_the_same_ingest(seeded, tmp_path):
    # with skip_errors, files land while later ones are checked; the later
    # ones are compared with the store as it stood before, as without
    first = _file({"F1": DELIVERED["D1"]}, tmp_path / "f1.gpkg")
    (tmp_path / "x").mkdir()
    second = _file({"F2": DELIVERED["D1"]}, tmp_path / "x" / "f2.gpkg")
    report, outcomes = ingest_deliveries(
        [first, second], seeded, skip_errors=True, workers=0
    )
    assert [o["added"] for o in outcomes] == [1, 1]
    found = report.issues[report.issues["code"] == "overlap_existing"]
    # each overlaps A (stored before); F2 is not reported against F1
    assert sorted(found["value"]) == ["500101/A", "500101/A"]
