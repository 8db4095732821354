"""Shared pytest fixtures.

Each part of the project keeps its fixtures in its own marked section below.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from delivery_factory import frame, write

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------
# Sample data (scripts/make_sample.py)
# ---------------------------------------------------------------------------
# `sample_dir` is the coarse sample (500 m rasters, seed 2012) generated once per
# test session into a temporary folder; `sample_manifest` is its manifest.json.
# Generating it takes about 15 s.

SAMPLE_SEED = 2012
SAMPLE_RESOLUTION_M = 500


def _load_make_sample():
    name = "forestsink_make_sample"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "scripts" / "make_sample.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look the module up while loading
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def make_sample():
    """The ``scripts/make_sample.py`` module."""
    return _load_make_sample()


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory, make_sample) -> Path:
    """Folder holding the coarse sample (seed 2012, 500 m rasters)."""
    out = tmp_path_factory.mktemp("sample")
    make_sample.generate(
        out,
        seed=SAMPLE_SEED,
        resolution=SAMPLE_RESOLUTION_M,
        progress=lambda _msg: None,
    )
    return out


@pytest.fixture(scope="session")
def sample_manifest(sample_dir) -> dict:
    """The sample's manifest.json, parsed."""
    return json.loads((sample_dir / "manifest.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------
# (end of sample data section)
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# A store holding the whole sample (ingest, correction, withdrawal)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sample_store(sample_dir, sample_manifest, tmp_path_factory):
    """GeoPackage store with the sample's 2011–2015 deliveries loaded."""
    from forestsink.landing.deliveries import ingest_deliveries, read_withdrawals
    from forestsink.store import GeoPackageStore

    store = GeoPackageStore(tmp_path_factory.mktemp("store") / "store.gpkg")
    deliveries = sample_dir / "deliveries"
    folders = [deliveries / str(y) for y in range(2011, 2016)]
    ingest_deliveries(folders, store, fix=True, skip_errors=True, user="tests")
    refused = [
        d for d in sample_manifest["defects"] if d["class"] == "missing_crs_refused"
    ]
    for d in refused:
        ingest_deliveries([sample_dir / d["path"]], store, crs="EPSG:4545")
    ingest_deliveries([deliveries / "corrections"], store)
    store.withdraw_many(
        read_withdrawals(deliveries / "withdrawals.csv"), source_name="withdrawals.csv"
    )
    return store


# ---------------------------------------------------------------------------
# Dask
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dask_client():
    """One two-worker ``LocalCluster`` for every Dask test."""
    from forestsink.scale.distributed import dask_client

    with dask_client() as client:
        yield client


# ---------------------------------------------------------------------------
# Helper processes (forestsink.landing.chunked)
# ---------------------------------------------------------------------------


@pytest.fixture
def helpers_wait(monkeypatch):
    """Give helpers work only once they have started, waiting for them.

    Normally this process does the tasks itself while helpers start (a
    second or two), so a test's few small tasks would never reach one; the
    tests that check what helpers return use this.
    """
    from concurrent.futures import wait

    from forestsink.landing import chunked, deliveries

    def ready(pool) -> bool:
        wait(getattr(pool, "started", ()))
        return True

    monkeypatch.setattr(chunked, "helpers_ready", ready)
    monkeypatch.setattr(deliveries, "helpers_ready", ready)


@pytest.fixture
def small_store(tmp_path):
    """Three 人工造林 squares in 万州区, year 2013; their ellipsoidal area (mu)."""
    from forestsink.area import area_mu
    from forestsink.landing.deliveries import ingest_deliveries
    from forestsink.store import GeoPackageStore

    gdf = frame(n=3, year=2013, types=("人工造林",))
    treated = float(area_mu(gdf).sum())
    store_path = tmp_path / "s.gpkg"
    ingest_deliveries(
        [write(gdf, tmp_path / "d.gpkg")], GeoPackageStore(store_path), user="t"
    )
    return store_path, treated
