"""Before/after and per-hectare volumes kept in ``attrs``: read and checked."""

import json

import numpy as np
import pandas as pd
import pytest


def _store(tmp_path, gdf, name, **kw):
    from delivery_factory import write

    from forestsink.landing.deliveries import ingest_deliveries
    from forestsink.store import GeoPackageStore

    store = GeoPackageStore(tmp_path / f"{name}.gpkg")
    ingest_deliveries([write(gdf, tmp_path / name, **kw)], store)
    return store


@pytest.mark.parametrize(
    ("name", "encoding"),
    [("utf8.shp", "UTF-8"), ("gbk.shp", "GBK"), ("whole.gpkg", "UTF-8")],
)
def test_before_after_survive_a_shapefile(tmp_path, name, encoding):
    from delivery_factory import frame

    from forestsink.progress import progress_tables

    gdf = frame(n=1, year=2012, types=("低效林改造",))
    gdf["改造前蓄积"] = [1000.0]
    gdf["改造后蓄积"] = [1300.0]
    store = _store(tmp_path, gdf, name, encoding=encoding)
    if name == "utf8.shp":  # 15 bytes of UTF-8: the .dbf keeps 改造前 + 1 byte
        header = (tmp_path / "utf8.dbf").read_bytes()[:512]
        assert "改造前".encode() + b"\xe8\x00" in header
        assert "改造前蓄积".encode() not in header
    city = progress_tables(store).tables["city"]
    # by hand: after − before = 1300 − 1000 = 300 m³
    assert city["increment_measured_m3"].sum() == pytest.approx(300.0)


def test_cut_names_match_only_when_unambiguous():
    from forestsink.progress import read_stock_attr_aliases
    from forestsink.progress.growth import stock_attr_columns

    attrs = pd.Series(
        [
            json.dumps({"改造前": 1.0, "改造后": 2.0}, ensure_ascii=False),
            json.dumps({"抚育前": 3.0, "volume_aft": 4.0}, ensure_ascii=False),
            json.dumps({"改造": 5.0, "前": 6.0, "HUO_LMGQXJ": 7.0}, ensure_ascii=False),
        ]
    )
    got = stock_attr_columns(attrs, read_stock_attr_aliases())
    assert got["stock_before_m3"].tolist()[:2] == [1.0, 3.0]
    assert got["stock_after_m3"].tolist()[:2] == [2.0, 4.0]
    # 改造 (6 bytes) and 前 are too short to be a 10-byte cut
    assert np.isnan(got["stock_before_m3"].iloc[2])
    assert got["stock_per_ha_m3"].iloc[2] == 7.0
    assert got["stock_per_ha_m3"].iloc[:2].isna().all()


def _issues(tmp_path, gdf, name="d.gpkg"):
    from delivery_factory import write

    from forestsink.ingest import read_delivery
    from forestsink.validate import validate_delivery

    return validate_delivery(read_delivery(write(gdf, tmp_path / name)).frame).issues


def test_attrs_volumes_are_range_checked(tmp_path):
    from delivery_factory import frame
    from pyproj import Geod

    gdf = frame(n=6, year=2012, types=("低效林改造",))
    ha = [
        abs(Geod(ellps="GRS80").geometry_area_perimeter(g)[0]) / 1e4
        for g in gdf.geometry
    ]
    # rows: negative; 1e15 m³; 1e9 m³/ha; infinite; 700 m³/ha (implausible:
    # 600 < 700 < 5,000); after < before (1,000 → 900)
    gdf["改造前蓄积"] = [-5.0, 10.0, None, 10.0, 10.0, 1000.0]
    gdf["改造后蓄积"] = [20.0, 1e15, None, float("inf"), 700.0 * ha[4], 900.0]
    gdf["公顷蓄积"] = [None, None, 1e9, None, None, None]
    issues = _issues(tmp_path, gdf)
    got = {(int(r.row), r.severity, r.code, r.field) for r in issues.itertuples()}
    assert (0, "error", "volume_impossible", "改造前蓄积") in got
    assert (1, "error", "volume_impossible", "改造后蓄积") in got
    assert (2, "error", "volume_impossible", "公顷蓄积") in got
    assert (3, "error", "volume_impossible", "改造后蓄积") in got
    assert (4, "warning", "volume_implausible", "改造后蓄积") in got
    assert (5, "warning", "volume_decrease", "改造后蓄积") in got
    errors = issues[issues["severity"] == "error"]
    assert set(errors["row"]) == {0, 1, 2, 3}
    message = errors[errors["row"] == 0]["message"].iloc[0]
    assert message.startswith("改造前蓄积（作业前蓄积）")


def test_cut_names_are_checked_too(tmp_path):
    from delivery_factory import frame

    gdf = frame(n=1, year=2012, types=("低效林改造",))
    gdf["改造前蓄积"] = [-1.0]
    gdf["改造后蓄积"] = [10.0]
    issues = _issues(tmp_path, gdf, "d.shp")
    errors = issues[issues["severity"] == "error"]
    assert list(errors["code"]) == ["volume_impossible"]
    assert list(errors["field"]) == ["改造前"]


def test_inf_attr_is_refused_at_ingest_and_the_store_untouched(tmp_path):
    from delivery_factory import frame, write

    from forestsink.landing.deliveries import IngestError, ingest_deliveries
    from forestsink.store import GeoPackageStore

    gdf = frame(n=1, year=2012, types=("低效林改造",))
    gdf["改造前蓄积"] = [10.0]
    gdf["改造后蓄积"] = [float("inf")]
    store = GeoPackageStore(tmp_path / "s.gpkg")
    with pytest.raises(IngestError, match="nothing was written"):
        ingest_deliveries([write(gdf, tmp_path / "a.gpkg")], store)


def test_an_impossible_volume_already_stored_is_named_not_hidden():
    from forestsink.errors import ForestsinkError
    from forestsink.progress import add_stock_attrs

    # a store written before the check: 改造后蓄积 = inf (JSON "Infinity"); the
    # code as found read it as "not estimable" without a word
    current = pd.DataFrame(
        {
            "project_id": ["P1", "P2"],
            "attrs": [
                '{"改造前蓄积": 10.0, "改造后蓄积": Infinity}',
                '{"改造前蓄积": 10.0, "改造后蓄积": 20.0}',
            ],
        }
    )
    with pytest.raises(ForestsinkError, match="不可能的蓄积值") as err:
        add_stock_attrs(current)
    assert "P1: 改造后蓄积 = inf" in str(err.value)
    assert "P2" not in str(err.value)
    ok = add_stock_attrs(current.iloc[[1]])
    assert ok["stock_after_m3"].tolist() == [20.0]
