"""``forestsink reconcile`` against a store (a fake with the store's methods).

The fake has exactly the methods the command uses: ``current(as_of=)``,
``inventory_years(as_of=)`` and ``inventory_xiaoban(year, as_of=, adcodes=,
columns=, geometry=)``. To run these tests against the real store, make the
``store_location`` fixture load the same frames into a GeoPackage store and
return its path (the rest of the tests only use the location).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from inventory_frames import geod_mu, layer, projects
from shapely.geometry import box

from forestsink.cli import reconcile as reconcile_cli
from forestsink.cli.main import cli
from forestsink.errors import InventoryError
from forestsink.inventory.reconcile import reconcile_store

REL = 1e-5

WEST = box(106.49, 29.49, 106.51, 29.52)  # 0111 in 2015
EAST = box(106.51, 29.49, 106.53, 29.52)  # 0141 in 2015
HALF = box(106.50, 29.50, 106.52, 29.51)  # afforestation 2013, 1/4 forest in 2010
ON_FOREST = box(106.495, 29.50, 106.505, 29.51)  # afforestation 2014, forest in 2010
LATE = box(106.515, 29.50, 106.52, 29.505)  # afforestation of 2016


class FakeStore:
    """The store API the command codes against, over frames in memory."""

    def __init__(self, current, layers):
        self._current = current
        self._layers = layers
        self.calls = []

    @property
    def path(self):
        return "fake.gpkg"

    def current(self, *, as_of=None):
        self.calls.append(("current", as_of))
        return self._current.copy()

    def inventory_years(self, *, as_of=None):
        self.calls.append(("inventory_years", as_of))
        return sorted(self._layers)

    def inventory_xiaoban(
        self, year, *, as_of=None, adcodes=None, columns=None, geometry=True
    ):
        self.calls.append(("inventory_xiaoban", year, as_of))
        frame = self._layers[year]
        if adcodes is not None:
            frame = frame[frame["adcode"].isin(adcodes)]
        if columns is not None:
            keep = list(columns) + (["geometry"] if geometry else [])
            frame = frame[keep]
        return frame.copy()


@pytest.fixture
def fake_store():
    current = projects(
        [
            ("500101", "HALF", "afforestation", 2013, HALF),
            ("500101", "ONF", "afforestation", 2014, ON_FOREST),
            ("500101", "LATE", "afforestation", 2016, LATE),
        ]
    )
    layers = {
        2010: layer(
            [
                ("500101", "0111", box(106.49, 29.49, 106.505, 29.52)),
                ("500101", "0210", box(106.505, 29.49, 106.53, 29.52)),
            ],
            2010,
        ),
        2015: layer([("500101", "0111", WEST), ("500101", "0141", EAST)], 2015),
    }
    return FakeStore(current, layers)


@pytest.fixture
def store_location(fake_store, monkeypatch):
    monkeypatch.setattr(reconcile_cli, "open_store", lambda location: fake_store)
    return "fake.gpkg"


def run(*args):
    return CliRunner().invoke(cli, ["reconcile", *args])


def test_reconcile_writes_districts_and_polygons(store_location, tmp_path):
    out = tmp_path / "rec.csv"
    res = run("--store", store_location, "--year", "2015", "--out", str(out))
    assert res.exit_code == 0, res.output
    districts = pd.read_csv(out, dtype={"adcode": str}, encoding="utf-8-sig")
    polygons = pd.read_csv(
        tmp_path / "rec_polygons.csv", dtype={"adcode": str}, encoding="utf-8-sig"
    )
    assert set(polygons["project_id"]) == {"HALF", "ONF"}  # 2016 work left out
    half = polygons.set_index("project_id").loc["HALF"]
    assert half["forest_mu"] == pytest.approx(
        geod_mu(box(106.50, 29.50, 106.51, 29.51)), rel=REL
    )
    assert half["unestablished_mu"] == pytest.approx(
        geod_mu(box(106.51, 29.50, 106.52, 29.51)), rel=REL
    )
    city = districts[(districts["adcode"] == "500000")]
    city = city[city["project_type"] == "all"].iloc[0]
    assert city["n_polygons"] == 2
    assert city["area_mu"] == pytest.approx(geod_mu(HALF) + geod_mu(ON_FOREST), rel=REL)
    assert "1 个图斑的年度晚于 2015" in res.output
    assert "polygon(s) of years after 2015 left out" in res.output
    assert "2 个图斑 / polygons" in res.output
    assert "已写出 / Written" in res.output and "rec_polygons.csv" in res.output


def test_before_flags_planting_on_forest(store_location, tmp_path):
    out = tmp_path / "rec.json"
    res = run(
        "--store", store_location, "--year", "2015", "--before", "2010",
        "--out", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    polygons = json.loads((tmp_path / "rec_polygons.json").read_text("utf-8"))
    flags = {p["project_id"]: p["planted_on_forest"] for p in polygons}
    assert flags == {"HALF": False, "ONF": True}
    onf = next(p for p in polygons if p["project_id"] == "ONF")
    assert onf["forest_before_mu"] == pytest.approx(geod_mu(ON_FOREST), rel=REL)
    assert "不能新增森林面积" in onf["note"]
    assert "afforestation on land already forest in 2010: 1" in res.output


def test_excel_has_both_sheets(store_location, tmp_path):
    out = tmp_path / "rec.xlsx"
    res = run("--store", store_location, "--year", "2015", "--out", str(out))
    assert res.exit_code == 0, res.output
    sheets = pd.read_excel(out, sheet_name=None)
    assert list(sheets) == list(reconcile_cli.SHEETS.values())
    assert len(sheets["图斑 Polygons"]) == 2


def test_as_of_reaches_the_store(fake_store, store_location, tmp_path):
    out = tmp_path / "rec.csv"
    res = run(
        "--store", store_location, "--year", "2015", "--as-of", "2014-06-30",
        "--out", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert ("current", "2014-06-30") in fake_store.calls
    assert ("inventory_xiaoban", 2015, "2014-06-30") in fake_store.calls


def test_year_not_in_the_store_names_the_years(store_location, tmp_path):
    res = run(
        "--store", store_location, "--year", "2013", "--out", str(tmp_path / "x.csv")
    )
    assert res.exit_code == 1
    assert "库中没有 2013 年的一张图" in res.output
    assert "years in the store: 2010, 2015" in res.output
    assert not (tmp_path / "x.csv").exists()
    res = run(
        "--store", store_location, "--year", "2015", "--before", "2012",
        "--out", str(tmp_path / "x.csv"),
    )  # fmt: skip
    assert res.exit_code == 1 and "2012 (before)" in res.output


def test_before_must_be_earlier(fake_store):
    with pytest.raises(InventoryError, match="must be before 2010"):
        reconcile_store(fake_store, year=2010, before=2015)


def test_unsupported_output_is_a_usage_error(store_location, tmp_path):
    res = run(
        "--store", store_location, "--year", "2015", "--out", str(tmp_path / "x.txt")
    )
    assert res.exit_code == 2
    assert "unsupported format '.txt'" in res.output


def test_a_store_without_layers_is_refused():
    class Dataset:
        path = "dataset/"

        def current(self, *, as_of=None):  # pragma: no cover - not reached
            raise AssertionError

    with pytest.raises(InventoryError, match="holds no forest-resource layers"):
        reconcile_store(Dataset(), year=2015)
