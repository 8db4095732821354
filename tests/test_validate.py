"""Validation: each check, with hand-built cases; one report, not first-stop."""

import numpy as np
import pytest
from delivery_factory import FULING, frame, write
from shapely.geometry import Polygon, box

from forestsink.ingest import read_delivery
from forestsink.validate import validate_delivery


def _read(tmp_path, gdf, name="d.gpkg"):
    return read_delivery(write(gdf, tmp_path / name)).frame


def codes(result):
    return sorted(zip(result.issues["code"], result.issues["row"], strict=True))


def test_clean_delivery_has_no_issues(tmp_path):
    result = validate_delivery(_read(tmp_path, frame()))
    assert result.ok and result.issues.empty
    assert list(result.frame["key"]) == ["500101/P1", "500101/P2", "500101/P3"]


def test_all_problems_in_one_report(tmp_path):
    gdf = frame(n=6)
    bowtie = Polygon(
        [(108.38, 30.85), (108.39, 30.86), (108.39, 30.85), (108.38, 30.86)]
    )
    gdf.loc[0, "geometry"] = bowtie
    gdf.loc[1, "工程类别"] = "森林康养"
    gdf.loc[2, "geometry"] = box(104.05, 30.6, 104.054, 30.604)  # Chengdu
    gdf.loc[3, "geometry"] = box(
        FULING[0], FULING[1], FULING[0] + 0.004, FULING[1] + 0.004
    )  # declared 万州, lies in 涪陵
    gdf.loc[4, "年度"] = 2018
    gdf.loc[5, "小班号"] = "P1"  # duplicate of row 0
    gdf.loc[5, "面积(亩)"] = gdf.loc[5, "面积(亩)"] * 1.5
    result = validate_delivery(_read(tmp_path, gdf))
    found = codes(result)
    assert ("invalid_geometry", 0) in found
    assert ("unknown_project_type", 1) in found
    assert ("outside_chongqing", 2) in found
    assert ("wrong_district", 3) in found
    assert ("year_out_of_range", 4) in found
    assert ("duplicate_id", 0) in found and ("duplicate_id", 5) in found
    assert ("area_mismatch", 5) in found
    issues = result.issues.set_index("code")
    assert "Self-intersection" in issues.loc["invalid_geometry", "message"]
    assert "涪陵区" in issues.loc["wrong_district", "message"]
    assert "2011–2015" in issues.loc["year_out_of_range", "message"]
    assert issues.loc["area_mismatch", "severity"] == "warning"
    assert set(result.issues["file"]) == {"d.gpkg"}
    assert not result.ok


def test_fix_repairs_geometry_and_records_it(tmp_path):
    gdf = frame(n=2)
    gdf.loc[0, "geometry"] = Polygon(
        [(108.38, 30.85), (108.39, 30.86), (108.39, 30.85), (108.38, 30.86)]
    )
    result = validate_delivery(_read(tmp_path, gdf), fix=True)
    assert result.ok
    fixed = result.issues[result.issues["severity"] == "fixed"]
    assert list(fixed["code"]) == ["invalid_geometry"]
    assert result.frame.geometry.iloc[0].is_valid
    # bow-tie = two triangles, each a quarter of the box
    assert result.frame["area_mu"].iloc[0] == pytest.approx(
        validate_delivery(_read(tmp_path, frame(n=1), "b.gpkg"))
        .frame["area_mu"]
        .iloc[0]
        * 6.25
        / 2,
        rel=0.02,
    )


def test_sliver_dropped_with_fix(tmp_path):
    gdf = frame(n=2)
    gdf.loc[1, "geometry"] = Polygon(
        [(108.40, 30.80), (108.41, 30.80), (108.41, 30.80000001), (108.40, 30.80)]
    )
    strict = validate_delivery(_read(tmp_path, gdf))
    assert ("sliver", 1) in codes(strict) and not strict.ok
    fixed = validate_delivery(_read(tmp_path, gdf), fix=True)
    assert fixed.ok and bool(fixed.frame["dropped"].iloc[1])


def test_overlap_with_store_is_a_warning_with_area(tmp_path):
    existing = validate_delivery(_read(tmp_path, frame(n=1))).frame
    gdf = frame(n=1, ids=["Q1"])
    gdf.geometry = gdf.geometry.translate(0.002, 0)  # half overlaps P1
    result = validate_delivery(_read(tmp_path, gdf, "n.gpkg"), existing=existing)
    (row,) = result.issues.to_dict("records")
    assert row["code"] == "overlap_existing" and row["severity"] == "warning"
    half = existing["area_mu"].iloc[0] / 2
    mu = float(row["message"].split(" by ")[1].split(" mu")[0])
    assert mu == pytest.approx(half, rel=0.01)
    # same key (a re-delivery) is not an overlap; another type is not either
    same = validate_delivery(_read(tmp_path, frame(n=1), "s.gpkg"), existing=existing)
    assert same.issues.empty
    other = frame(n=1, ids=["Q2"], types=("中幼林抚育",))
    assert validate_delivery(
        _read(tmp_path, other, "o.gpkg"), existing=existing
    ).issues.empty


def test_area_tolerance_is_configurable(tmp_path):
    gdf = frame(n=1)
    gdf["面积(亩)"] = gdf["面积(亩)"] * 1.07
    f = _read(tmp_path, gdf)
    assert validate_delivery(f).issues.empty
    strict = validate_delivery(f, area_tolerance=0.05)
    assert list(strict.issues["code"]) == ["area_mismatch"]


def test_period_is_configurable(tmp_path):
    f = _read(tmp_path, frame(year=2016))
    assert "year_out_of_range" in set(validate_delivery(f).issues["code"])
    assert validate_delivery(f, period=(2016, 2020)).issues.empty


def test_geometry_collection_and_points(tmp_path):
    from shapely.geometry import GeometryCollection, Point

    gdf = frame(n=2)
    poly = gdf.geometry.iloc[0]
    gdf.loc[0, "geometry"] = GeometryCollection([poly, Point(108.5, 30.9)])
    gdf.loc[1, "geometry"] = Point(108.39, 30.80)
    f = _read(tmp_path, gdf)
    strict = validate_delivery(f)
    assert ("non_polygon", 0) in codes(strict) and ("non_polygon", 1) in codes(strict)
    fixed = validate_delivery(f, fix=True)
    assert ("non_polygon", 1) in codes(fixed)  # a point cannot be repaired
    assert fixed.issues.set_index("row").loc[0, "severity"] == "fixed"
    assert np.isclose(
        fixed.frame["area_mu"].iloc[0],
        validate_delivery(_read(tmp_path, frame(n=1), "one.gpkg"))
        .frame["area_mu"]
        .iloc[0],
    )


def test_district_pieces_are_not_shared_between_threads():
    """Prepared GEOS geometries build their indexes lazily and are not safe to
    share between threads (two ingests at once crashed the process in CI):
    each thread must get its own pieces, and the same ones on a second call."""
    import threading

    from forestsink.area import albers_geometries
    from forestsink.reference import read_districts
    from forestsink.validate.placement import district_pieces

    d_albers = albers_geometries(read_districts())
    here = district_pieces(d_albers)[0]
    again = district_pieces(d_albers)[0]
    assert all(a is b for a, b in zip(again, here, strict=True))  # kept
    seen = []
    worker = threading.Thread(target=lambda: seen.append(district_pieces(d_albers)[0]))
    worker.start()
    worker.join()
    assert len(seen[0]) == len(here)
    assert not set(map(id, seen[0])) & set(map(id, here))
