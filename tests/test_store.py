"""GeoPackage-only store behaviour.

Versions, as-of, history, diff, withdraw, undo, protection, rollback and busy
stores are tested on both back ends in ``test_store_backends.py``.
"""

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from delivery_factory import frame, write

from forestsink.cli.main import cli
from forestsink.deliveries import IngestError, ingest_deliveries
from forestsink.store import GeoPackageStore


@pytest.fixture
def store(tmp_path):
    return GeoPackageStore(tmp_path / "store.gpkg", timeout=1)


def _ingest(store, path, **kw):
    return ingest_deliveries([path], store, **kw)[1][0]


def test_store_opens_as_geopackage_layers(tmp_path, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    store.withdraw("500101/P2", reason="x")
    layers = dict(pyogrio.list_layers(store.path))
    assert layers["project_versions"] == "MultiPolygon"
    assert layers["current_projects"] == "MultiPolygon"
    assert "batches" in layers
    current = pyogrio.read_dataframe(store.path, layer="current_projects")
    assert sorted(current["key"]) == ["500101/P1", "500101/P3"]
    assert current.crs.to_epsg() == 4490
    # the spatial index works through GDAL
    hit = pyogrio.read_dataframe(
        store.path, layer="project_versions", bbox=(108.379, 30.799, 108.385, 30.805)
    )
    assert sorted(hit["key"]) == ["500101/P1"]


def test_validate_refuses_an_exported_layer(tmp_path, store):
    _ingest(store, write(frame(), tmp_path / "a.gpkg"))
    out = tmp_path / "cur.geojson"
    runner = CliRunner()
    cur = runner.invoke(cli, ["current", "--store", str(store.path), "--out", str(out)])
    assert cur.exit_code == 0 and "3 polygons" in cur.output
    bad = runner.invoke(cli, ["validate", str(out)])
    assert bad.exit_code == 1  # an exported layer has no delivery columns
    assert "required column" in bad.output and "Traceback" not in bad.output


def test_large_file_in_chunks_equals_one_read(tmp_path):
    """Chunked reading lands exactly what a single read lands, as one batch."""
    gdf = frame(n=12, ids=[f"C{i}" for i in range(12)])
    gdf.loc[7, "工程类别"] = "森林康养"  # an error in the second chunk
    gdf.loc[10, "小班号"] = "C2"  # a duplicate across chunks
    path = write(gdf, tmp_path / "big.gpkg")
    chunked = GeoPackageStore(tmp_path / "a.gpkg")
    with pytest.raises(IngestError) as err:
        ingest_deliveries([path], chunked, chunk_size=5)
    issues = err.value.report.issues
    assert ("unknown_project_type", 7) in set(
        zip(issues["code"], issues["row"], strict=True)
    )
    dup = issues[issues["code"] == "duplicate_id"]
    assert 10 in set(dup["row"]) and "also row 2" in " ".join(dup["message"])
    _, (out,) = ingest_deliveries([path], chunked, chunk_size=5, skip_errors=True)
    whole = GeoPackageStore(tmp_path / "b.gpkg")
    _, (ref,) = ingest_deliveries([path], whole, chunk_size=0, skip_errors=True)
    assert out["batch_id"] == 1 and out["added"] == ref["added"] == 9
    a = chunked.current().drop(columns=["valid_from", "geometry"])
    b = whole.current().drop(columns=["valid_from", "geometry"])
    pd.testing.assert_frame_equal(a.drop(columns="fid"), b.drop(columns="fid"))
    assert "read in chunks" in chunked.batches()["note"].iloc[0]
