"""Deliveries straight into a partitioned GeoParquet dataset (``stage``)."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from delivery_factory import FULING, frame, write
from pyproj import Geod

from forestsink.cli.main import cli
from forestsink.landing.deliveries import ingest_deliveries
from forestsink.landing.staging import stage_deliveries
from forestsink.progress import progress_tables
from forestsink.scale.dataset import partition_codes, read_partitions
from forestsink.store import GeoPackageStore, open_store


@pytest.fixture
def files(tmp_path):
    a = write(frame(n=4), tmp_path / "wanzhou.gpkg")
    fuling = frame(center=FULING, district="涪陵区", ids=["F1", "F2", "F3"])
    b = write(fuling, tmp_path / "fuling.shp", encoding="GBK")
    return [a, b]


def test_stage_writes_checked_partitions_with_geodesic_areas(files, tmp_path):
    report = stage_deliveries(files, tmp_path / "ds")
    assert report.ok and report.written == tmp_path / "ds"
    assert (report.files, report.polygons) == (2, 7)
    assert partition_codes(report.written) == ["500101", "500102"]
    got = read_partitions(report.written).sort_values("key").reset_index(drop=True)
    assert got["key"].tolist() == [
        "500101/P1",
        "500101/P2",
        "500101/P3",
        "500101/P4",
        "500102/F1",
        "500102/F2",
        "500102/F3",
    ]
    assert got.crs.to_epsg() == 4490
    geod = Geod(ellps="GRS80")
    oracle = np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in got.geometry])
    assert got["area_mu"].to_numpy() == pytest.approx(oracle / (10000 / 15), rel=1e-4)
    assert set(got["project_type"]) == {"afforestation", "grain_to_green", "renovation"}


def test_progress_from_the_dataset_equals_the_store(files, tmp_path):
    report = stage_deliveries(files, tmp_path / "ds")
    store = GeoPackageStore(tmp_path / "s.gpkg")
    ingest_deliveries(files, store)
    want = progress_tables(store).tables["district"]
    got = progress_tables(open_store(report.written)).tables["district"]
    key = ["adcode", "year", "project_type"]
    want, got = (t.sort_values(key).reset_index(drop=True) for t in (want, got))
    assert got[key].astype(str).values.tolist() == want[key].astype(str).values.tolist()
    for column in ("n_polygons", "gross_area_mu", "net_area_mu", "new_forest_area_mu"):
        assert got[column].to_numpy(float) == pytest.approx(
            want[column].to_numpy(float), rel=1e-9
        )


def test_any_error_writes_nothing_and_names_file_row_field(files, tmp_path):
    bad = frame(ids=["X1", "X2"], n=2, types=("人工造林", "林下养鸡"))
    bad_path = write(bad, tmp_path / "bad.gpkg")
    out = tmp_path / "ds"
    report = stage_deliveries([*files, bad_path], out)
    assert not report.ok and report.written is None
    assert not out.exists()
    assert not list(tmp_path.glob(".ds*"))  # no hidden half-written folder
    errors = report.issues[report.issues["severity"] == "error"]
    assert errors[["file", "row", "project_id", "field"]].values.tolist() == [
        ["bad.gpkg", 1, "X2", "project_type"]
    ]
    assert "林下养鸡" in errors["value"].iloc[0]


def test_a_key_in_two_files_is_an_error(files, tmp_path):
    again = write(frame(n=1), tmp_path / "wanzhou-again.gpkg")
    report = stage_deliveries([*files, again], tmp_path / "ds")
    assert report.written is None
    dup = report.issues[report.issues["code"] == "duplicate_id"]
    assert sorted(dup["file"]) == ["wanzhou-again.gpkg", "wanzhou.gpkg"]
    assert set(dup["value"]) == {"500101/P1"}


def test_zones_let_a_country_use_its_own_codes(tmp_path):
    """A delivery naming districts by the given zones' codes."""
    zones = gpd.GeoDataFrame(
        {"adcode": ["110101", "110102"], "name_zh": ["甲县", "乙县"]},
        geometry=[shapely.box(80, 30, 81, 31), shapely.box(81, 30, 82, 31)],
        crs=4490,
    )
    delivery = gpd.GeoDataFrame(
        {
            "小班号": ["A", "B"],
            "区县代码": ["110101", "110102"],
            "年度": [2012, 2013],
            "工程类别": ["人工造林", "退耕还林"],
        },
        geometry=[
            shapely.box(80.2, 30.2, 80.3, 30.3),
            shapely.box(81.2, 30.2, 81.3, 30.3),
        ],
        crs=4490,
    )
    path = write(delivery, tmp_path / "county.gpkg")
    report = stage_deliveries([path], tmp_path / "ds", zones=zones)
    assert report.ok, report.issues
    assert partition_codes(report.written) == ["110101", "110102"]
    # a code no zone has is an error naming the field
    delivery["区县代码"] = ["110101", "999999"]
    path = write(delivery, tmp_path / "county2.gpkg")
    report = stage_deliveries([path], tmp_path / "ds2", zones=zones)
    assert report.written is None
    assert report.issues.query("severity == 'error'")["field"].tolist() == ["district"]


def test_dask_engine_writes_the_same_dataset(files, tmp_path, dask_client):
    local = stage_deliveries(files, tmp_path / "a")
    dask = stage_deliveries(files, tmp_path / "b", client=dask_client)
    a = read_partitions(local.written).sort_values("key").reset_index(drop=True)
    b = read_partitions(dask.written).sort_values("key").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        a.drop(columns="geometry"), b.drop(columns="geometry")
    )
    assert a.geometry.geom_equals_exact(b.geometry, 0).all()


def test_cli_stage_then_progress(files, tmp_path):
    runner = CliRunner()
    out = tmp_path / "ds"
    result = runner.invoke(cli, ["stage", *map(str, files), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "7 polygons from 2 files" in result.output
    result = runner.invoke(
        cli,
        ["progress", "--store", str(out), "--out", str(tmp_path / "p.csv")],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "p.csv", dtype={"adcode": str})
    assert set(table["adcode"]) == {"500101", "500102"}
    result = runner.invoke(
        cli, ["carbon", "--store", str(out), "--out", str(tmp_path / "c.csv")]
    )
    assert result.exit_code == 0, result.output
    carbon = pd.read_csv(tmp_path / "c.csv", dtype={"adcode": str})
    assert set(carbon["adcode"].dropna()) >= {"500101", "500102"}
    # an existing folder is refused, and a store command on a dataset explains
    result = runner.invoke(cli, ["stage", str(files[0]), "--out", str(out)])
    assert result.exit_code != 0 and "already exists" in result.output
    result = runner.invoke(cli, ["history", "500101/P1", "--store", str(out)])
    assert result.exit_code != 0 and "read-only" in result.output
