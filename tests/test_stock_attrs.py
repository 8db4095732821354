"""Before/after and per-hectare volumes kept in ``attrs``: read and checked."""

import json

import numpy as np
import pandas as pd
import pytest


def _store(tmp_path, gdf, name, **kw):
    from delivery_factory import write

    from forestsink.deliveries import ingest_deliveries
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
    from forestsink.carbon import stock_attr_columns
    from forestsink.progress import read_stock_attr_aliases

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
