"""The notebook API: ``forestsink.__all__``, ``dir()``, py.typed, store or path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import forestsink
import forestsink.progress
import forestsink.store
from forestsink.errors import ForestsinkError, OptionError
from forestsink.store import GeoPackageStore

LAZY = (
    "open_store",
    "ingest_deliveries",
    "check_deliveries",
    "progress_tables",
    "carbon_tables",
    "read_growth_table",
    "compute_coverage",
    "build_report",
    "read_delivery",
)


def test_dir_is_all_and_lists_the_lazy_names():
    assert dir(forestsink) == sorted(forestsink.__all__)
    assert set(LAZY) <= set(forestsink.__all__)
    assert len(set(forestsink.__all__)) == len(forestsink.__all__)
    for name in forestsink.__all__:
        assert getattr(forestsink, name) is not None, name


def test_lazy_names_load_on_use_only():
    code = (
        "import sys, forestsink; "
        "print(sorted(m for m in ('forestsink.store', 'forestsink.progress', "
        "'forestsink.coverage', 'forestsink.render.report', 'dask', 'uvicorn', "
        "'selenium', 'folium', 'matplotlib', 'psycopg') if m in sys.modules)); "
        "forestsink.open_store; print('forestsink.store' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split("\n")[:2] == ["[]", "True"]


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_tool"):
        _ = forestsink.no_such_tool


def test_py_typed_is_shipped():
    assert (Path(forestsink.__file__).parent / "py.typed").is_file()


@pytest.fixture
def spy(monkeypatch):
    seen = {}

    def fake(store, **options):
        seen["store"], seen["options"] = store, options
        return "tables"

    monkeypatch.setattr(forestsink.progress, "progress_tables", fake)
    monkeypatch.setattr(forestsink.progress, "carbon_tables", fake)
    return seen


@pytest.mark.parametrize("verb", ["progress_tables", "carbon_tables"])
def test_a_path_is_opened(tmp_path, spy, verb):
    path = tmp_path / "s.gpkg"
    for given in (path, str(path)):
        assert getattr(forestsink, verb)(given, as_of="2014-06-30") == "tables"
        assert isinstance(spy["store"], GeoPackageStore)
        assert Path(spy["store"].path) == path
        assert spy["options"] == {"as_of": "2014-06-30"}


@pytest.mark.parametrize("verb", ["progress_tables", "carbon_tables"])
def test_an_opened_store_passes_through(tmp_path, spy, verb):
    store = GeoPackageStore(tmp_path / "s.gpkg")
    assert getattr(forestsink, verb)(store) == "tables"
    assert spy["store"] is store


def test_progress_from_a_path_equals_from_the_store(sample_store):
    by_store = forestsink.progress_tables(sample_store, by="region")
    by_path = forestsink.progress_tables(str(sample_store.path), by="region")
    pd.testing.assert_frame_equal(
        by_store.tables["progress"], by_path.tables["progress"]
    )
    assert not by_path.tables["progress"].empty


def test_a_bad_view_fails_before_anything_is_read(tmp_path, monkeypatch):
    def never(*_a, **_k):
        raise AssertionError("opened or computed before checking `by`")

    monkeypatch.setattr(forestsink.store, "open_store", never)
    monkeypatch.setattr(forestsink.progress, "progress_tables", never)
    with pytest.raises(OptionError) as err:
        forestsink.progress_tables(tmp_path / "s.gpkg", by="county")
    message = str(err.value)
    assert "'county'" in message
    for view in ("district", "region", "unit", "city"):
        assert view in message
    assert isinstance(err.value, ForestsinkError) and isinstance(err.value, ValueError)
    assert "--" not in message  # a library message names no CLI flag


def test_progress_frame_is_a_geodataframe_of_the_district_sums(sample_store):
    frame = forestsink.progress_frame(sample_store)
    table = forestsink.progress_tables(sample_store).tables["district"]
    assert frame.crs.to_epsg() == 4490
    assert frame["adcode"].is_unique
    assert set(frame["adcode"]) == set(table["adcode"])
    # oracle: the district table summed by pandas directly
    expected = table.groupby("adcode")["net_area_mu"].sum()
    got = frame.set_index("adcode")["net_area_mu"]
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False
    )
    districts = forestsink.read_districts().set_index("adcode")
    assert frame.geometry.iloc[0].equals(districts.geometry[frame["adcode"].iloc[0]])


def test_progress_map_is_one_call(sample_store, tmp_path):
    fmap = forestsink.progress_map(sample_store, column="net_area_mu")
    out = tmp_path / "m.html"
    fmap.save(out)
    html = out.read_text(encoding="utf-8")
    first = forestsink.progress_frame(sample_store)["name_zh"].iloc[0]
    # folium writes the GeoJSON with ASCII escapes
    assert first in html or json.dumps(first)[1:-1] in html
    with pytest.raises(OptionError, match="net_area_mu"):
        forestsink.progress_map(sample_store, column="nope")
