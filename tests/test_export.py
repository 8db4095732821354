"""GeoParquet export: partitioned by district, same polygons as the store."""

import pytest
from click.testing import CliRunner
from delivery_factory import FULING, frame, write

from forestsink.cli.main import cli
from forestsink.errors import ForestsinkError
from forestsink.landing.deliveries import ingest_deliveries
from forestsink.scale.export import export_geoparquet, read_geoparquet
from forestsink.store import GeoPackageStore


@pytest.fixture
def store(tmp_path):
    s = GeoPackageStore(tmp_path / "s.gpkg")
    ingest_deliveries([write(frame(), tmp_path / "a.gpkg")], s)
    fuling = frame(center=FULING, district="涪陵区", ids=["F1", "F2", "F3"])
    ingest_deliveries([write(fuling, tmp_path / "b.gpkg")], s)
    return s


def test_round_trip(store, tmp_path):
    out = export_geoparquet(store, tmp_path / "parquet")
    assert sorted(p.name for p in out.iterdir()) == ["adcode=500101", "adcode=500102"]
    back = read_geoparquet(out).sort_values("key").reset_index(drop=True)
    current = store.current().sort_values("key").reset_index(drop=True)
    assert back["key"].tolist() == current["key"].tolist()
    assert back["adcode"].tolist() == current["adcode"].tolist()
    assert back["area_mu"].tolist() == pytest.approx(current["area_mu"].tolist())
    assert back.crs.to_epsg() == 4490
    assert back.geometry.geom_equals_exact(current.geometry, 1e-12).all()


def test_as_of_and_refusals(store, tmp_path):
    out = export_geoparquet(store, tmp_path / "then", as_of=1)
    assert [p.name for p in out.iterdir()] == ["adcode=500101"]
    with pytest.raises(ForestsinkError, match="already exists"):
        export_geoparquet(store, out)
    with pytest.raises(ForestsinkError, match="no polygons"):
        export_geoparquet(store, tmp_path / "none", as_of="2000-01-01")
    assert not (tmp_path / "none").exists()


def test_cli(store, tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "export",
            "--format",
            "geoparquet",
            "--store",
            str(store.path),
            "--out",
            str(tmp_path / "p"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 district partitions" in result.output
