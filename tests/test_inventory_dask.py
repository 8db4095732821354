"""Inventory statistics and change on partitioned year datasets, here and on Dask.

Oracle: the local engine on the store (``inventory_statistics``,
``inventory_change``: SQL sums, previous class or overlay per district);
the partitioned engines, here and on Dask, must give the same tables
(relative 1e-9).
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from forestsink.area import area_mu
from forestsink.cli.main import cli
from forestsink.errors import InventoryError
from forestsink.inventory.load import inventory_change, inventory_statistics
from forestsink.inventory.partitioned import (
    META,
    change_of,
    change_partitioned,
    export_inventory,
    statistics_of,
    statistics_partitioned,
)
from forestsink.reference import read_districts
from forestsink.store import GeoPackageStore
from forestsink.store.inventory_schema import XIAOBAN_COLUMNS

GROUPS = {
    "arbor": ("0111", 1, 1),
    "bamboo": ("0113", 1, 1),
    "other_shrub": ("0132", 0, 1),
    "unestablished": ("0141", 0, 1),
    "non_forest": ("0210", 0, 0),
}
NAMES = list(GROUPS)


def _origin(adcode: str) -> tuple[float, float]:
    d = read_districts().set_index("adcode").loc[adcode, "geometry"]
    p = d.representative_point()
    return p.x, p.y


def frame(adcode, year, groups, *, previous=None, shift=0.0, seed=0):
    """A row of square 小班 (0.002°) at the district's inner point."""
    rng = np.random.default_rng(seed)
    n = len(groups)
    x0, y0 = _origin(adcode)
    x0 += shift
    geoms = [
        shapely.MultiPolygon([shapely.box(x0 + s, y0, x0 + s + 0.002, y0 + 0.002)])
        for s in 0.002 * np.arange(n)
    ]
    volume = rng.uniform(20, 150, n).round(1)
    volume[::3] = np.nan
    stock = np.where(np.isnan(volume), rng.uniform(10, 90, n).round(2), np.nan)
    data = {c: [""] * n for c in XIAOBAN_COLUMNS}
    data.update(
        key=[f"{adcode}/1/1/1/{k:03d}" for k in range(n)],
        adcode=adcode,
        year=year,
        xiaoban=[f"{k:03d}" for k in range(n)],
        land_class_raw=[GROUPS[g][0] for g in groups],
        land_scheme="ldbg",
        land_code=[GROUPS[g][0] for g in groups],
        land_group=list(groups),
        is_forest=[GROUPS[g][1] for g in groups],
        is_forest_land=[GROUPS[g][2] for g in groups],
        land_class_before_raw=[
            None if previous is None else GROUPS[g][0] for g in previous or groups
        ],
        land_group_before=list(previous) if previous is not None else [None] * n,
        area_mu=[
            float(a) for a in gpd.GeoSeries(geoms, crs=4490).to_crs(4547).area / 666.67
        ],
        area_reported_mu=np.nan,
        volume_m3_ha=volume,
        stock_m3=stock,
        canopy=np.nan,
        change_reason=[
            None if previous is None or a == b else ("造林" if k % 2 else "")
            for k, (a, b) in enumerate(zip(previous or groups, groups, strict=True))
        ],
        forest_category=None,
        source_row=list(range(n)),
        attrs="{}",
    )
    gdf = gpd.GeoDataFrame(data, geometry=geoms, crs=4490)
    return gdf[[*XIAOBAN_COLUMNS, "geometry"]]


def layer(f, name):
    return {
        "adcode": str(f["adcode"].iloc[0]),
        "year": int(f["year"].iloc[0]),
        "frame": f,
        "source_name": name,
        "source_sha256": f"sha-{name}",
        "note": "",
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Two years over five districts, every route and a missing layer each way.

    - 500101 万州: 2020 has Q_DI_LEI matching 2015 → previous_class
    - 500102 涪陵: 2020 has no previous class, shifted half a 小班 → overlay
    - 500103 渝中: 2020's previous class disagrees with 2015 → overlay
    - 500104 大渡口: only 2015; 500105 江北: only 2020
    """
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("inv") / "store.gpkg"
    st = GeoPackageStore(path, timeout=5)
    y15, y20 = [], []
    for i, code in enumerate(["500101", "500102", "500103", "500104", "500105"]):
        before = list(rng.choice(NAMES, 12))
        after = list(before)
        for k in rng.choice(12, 4, replace=False):
            after[k] = str(rng.choice(NAMES))
        if code == "500101":
            y15.append(layer(frame(code, 2015, before, seed=i), f"{code}-2015.shp"))
            y20.append(
                layer(
                    frame(code, 2020, after, previous=before, seed=i + 10),
                    f"{code}-2020.shp",
                )
            )
        elif code == "500102":
            y15.append(layer(frame(code, 2015, before, seed=i), f"{code}-2015.shp"))
            y20.append(
                layer(
                    frame(code, 2020, after, shift=0.001, seed=i + 10),
                    f"{code}-2020.shp",
                )
            )
        elif code == "500103":
            y15.append(layer(frame(code, 2015, before, seed=i), f"{code}-2015.shp"))
            wrong = ["non_forest"] * 12
            y20.append(
                layer(
                    frame(code, 2020, after, previous=wrong, seed=i + 10),
                    f"{code}-2020.shp",
                )
            )
        elif code == "500104":
            y15.append(layer(frame(code, 2015, before, seed=i), f"{code}-2015.shp"))
        else:
            y20.append(layer(frame(code, 2020, after, seed=i + 10), f"{code}-2020.shp"))
    st.write_inventory(y15)
    st.write_inventory(y20)
    return st


@pytest.fixture(scope="module")
def datasets(store, tmp_path_factory):
    root = tmp_path_factory.mktemp("years")
    for year in (2015, 2020):
        export_inventory(store, root / str(year), year=year)
    return root


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False, rtol=1e-9
    )


def same_change(a, b) -> None:
    same(a.districts, b.districts)
    same(a.matrix, b.matrix)


def test_fixture_has_both_routes(store):
    res = inventory_change(store, year_from=2015, year_to=2020)
    methods = res.districts.set_index("adcode")["method"]
    assert methods["500101"] == "previous_class"
    assert methods["500102"] == "overlay" and methods["500103"] == "overlay"
    assert methods["500104"] == "" and methods["500105"] == ""
    assert methods["500000"] == "mixed"
    assert res.matrix["area_mu"].sum() > 0


def test_export_round_trip(store, datasets):
    meta = json.loads((datasets / "2020" / META).read_text(encoding="utf-8"))
    assert meta["year"] == 2020 and meta["store"] == "store.gpkg"
    assert meta["batch"] == 2 and meta["n_xiaoban"] == 48
    assert meta["districts"] == ["500101", "500102", "500103", "500105"]
    back = gpd.read_parquet(datasets / "2020" / "adcode=500103")
    want = store.inventory_xiaoban(2020, adcodes=["500103"])
    assert back.crs.to_epsg() == 4490
    assert list(back.columns) == [c for c in want.columns if c != "adcode"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(back.drop(columns="geometry")),
        pd.DataFrame(want.drop(columns=["adcode", "geometry"])),
        check_dtype=False,
    )
    assert back.geometry.geom_equals_exact(want.geometry, 0).all()


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_statistics_equal_local(store, datasets, engine, dask_client):
    client = dask_client if engine == "dask" else None
    for year in (2015, 2020):
        want = inventory_statistics(store, year=year)
        got = statistics_partitioned(
            datasets / str(year), year=year, engine=engine, client=client
        )
        same(got, want)


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_change_equal_local(store, datasets, engine, dask_client):
    want = inventory_change(store, year_from=2015, year_to=2020)
    got = change_partitioned(
        datasets / "2015",
        datasets / "2020",
        engine=engine,
        client=dask_client if engine == "dask" else None,
    )
    same_change(got, want)


def test_store_on_dask_and_dataset_folder(store, datasets, dask_client):
    """The commands' entry: a store exported on the fly, or a folder of years."""
    want = inventory_change(store, year_from=2015, year_to=2020)
    got = change_of(
        store.path, year_from=2015, year_to=2020, engine="dask", client=dask_client
    )
    same_change(got, want)
    got = change_of(datasets, year_from=2015, year_to=2020, engine="local")
    same_change(got, want)
    stats = inventory_statistics(store, year=2020)
    same(statistics_of(datasets, year=2020), stats)
    same(statistics_of(datasets / "2020", year=2020, engine="local"), stats)
    same(statistics_of(store.path, year=2020, engine="dask", client=dask_client), stats)


def test_clear_errors(store, datasets, tmp_path):
    with pytest.raises(InventoryError, match="holds the 2015 layer, not 2020"):
        statistics_partitioned(datasets / "2015", year=2020, engine="local")
    with pytest.raises(InventoryError, match="no such dataset folder"):
        statistics_partitioned(tmp_path / "nope", engine="local")
    with pytest.raises(InventoryError, match="no such store or dataset folder"):
        statistics_of(tmp_path / "nope", year=2020, engine="dask")
    with pytest.raises(InventoryError, match="no year dataset for 2018"):
        statistics_of(datasets, year=2018)
    with pytest.raises(InventoryError, match="holds the 2020 layer, not 2015"):
        change_partitioned(datasets / "2020", datasets / "2020", year_from=2015)
    with pytest.raises(InventoryError, match="later year"):
        change_partitioned(datasets / "2020", datasets / "2015", engine="local")
    with pytest.raises(InventoryError, match="one year's dataset"):
        change_of(datasets / "2015", year_from=2015, year_to=2020)
    with pytest.raises(InventoryError, match="as_of needs the store"):
        statistics_of(datasets, year=2020, as_of=1)
    with pytest.raises(InventoryError, match="remote workers"):
        statistics_of(store.path, year=2020, engine="dask", scheduler="tcp://x:1")
    (tmp_path / "proj" / "adcode=500101").mkdir(parents=True)
    with pytest.raises(InventoryError, match=f"no {META}"):
        statistics_partitioned(tmp_path / "proj", engine="local")
    with pytest.raises(InventoryError, match="already exists"):
        export_inventory(store, datasets / "2015", year=2015)
    with pytest.raises(InventoryError, match="no forest-resource layer for 2011"):
        export_inventory(store, tmp_path / "y2011", year=2011)
    assert not (tmp_path / "y2011").exists()
    with pytest.raises(InventoryError) as err:
        statistics_of(datasets, year=2018)
    assert str(err.value).index("2018") < str(err.value).index(" / ")  # Chinese first


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_export_stats_change(store, datasets, tmp_path):
    out = tmp_path / "inv" / "2020"
    res = run(
        "inventory", "export", "--store", store.path, "--year", 2020, "--out", out
    )
    assert res.exit_code == 0, res.output
    assert (out / META).is_file() and (out / "adcode=500101").is_dir()
    want = inventory_statistics(store, year=2020)
    res = run(
        "inventory",
        "stats",
        "--store",
        out,
        "--year",
        2020,
        "--out",
        tmp_path / "s.csv",
    )
    assert res.exit_code == 0, res.output
    got = pd.read_csv(tmp_path / "s.csv", dtype={"adcode": str})
    np.testing.assert_allclose(got["forest_area_mu"], want["forest_area_mu"], rtol=1e-9)
    res = run(
        "inventory",
        "stats",
        "--store",
        out,
        "--year",
        2015,
        "--out",
        tmp_path / "s.csv",
    )
    assert res.exit_code != 0 and "not 2015" in res.output
    res = run(
        "inventory",
        "change",
        "--store",
        datasets,
        "--from",
        2015,
        "--to",
        2020,
        "--out",
        tmp_path / "c.csv",
    )
    assert res.exit_code == 0, res.output
    got = pd.read_csv(tmp_path / "c.csv", dtype={"adcode": str})
    want = inventory_change(store, year_from=2015, year_to=2020).districts
    np.testing.assert_allclose(got["forest_gain_mu"], want["forest_gain_mu"], rtol=1e-9)
    assert list(got["method"].fillna("")) == list(want["method"])


def test_cli_engine_dask(store, tmp_path):
    """``--engine dask`` from the store: its own local cluster, then closed."""
    res = run(
        "inventory",
        "change",
        "--store",
        store.path,
        "--from",
        2015,
        "--to",
        2020,
        "--engine",
        "dask",
        "--out",
        tmp_path / "c.csv",
    )
    assert res.exit_code == 0, res.output
    got = pd.read_csv(tmp_path / "c.csv", dtype={"adcode": str})
    want = inventory_change(store, year_from=2015, year_to=2020).districts
    np.testing.assert_allclose(got["forest_loss_mu"], want["forest_loss_mu"], rtol=1e-9)


def test_overlap_check_skips_only_valid_coverages():
    """The load's fast path: a county whose 小班 form a valid coverage skips
    the pairwise test; any other county gets it, with the overlap tolerance
    (10 m² or 1e-4 of the smaller 小班: smaller ones are counted as noise)."""
    from forestsink.inventory.checks import _not_a_coverage, _overlaps

    xs = 106 + 0.01 * np.arange(5)  # shared edges: the same numbers
    tiles = [shapely.box(xs[k], 29, xs[k + 1], 29.01) for k in range(4)]

    def county(geoms, code="500101"):
        return gpd.GeoDataFrame(
            {
                "adcode": code,
                "source_row": range(len(geoms)),
                "key": [f"{code}/{k}" for k in range(len(geoms))],
                "area_mu": area_mu(gpd.GeoSeries(geoms, crs=4490)),
            },
            geometry=geoms,
            crs=4490,
        )

    ok = county(tiles)
    every = np.ones(4, dtype=bool)
    assert len(_not_a_coverage(ok, np.arange(4))) == 0
    assert _overlaps(ok, every) == ([], (0, 0.0))
    for bad in (
        [*tiles[:3], tiles[0]],  # a duplicate
        [*tiles[:3], shapely.box(106.002, 29.002, 106.004, 29.004)],  # inside one
        [*tiles[:3], shapely.box(106.005, 29, 106.015, 29.01)],  # across two
    ):
        assert len(_not_a_coverage(county(bad), np.arange(4))) == 4
        assert _overlaps(county(bad), every)[0]
    # an overlap under the tolerance is digitising noise: checked, counted,
    # and accepted
    sliver = [*tiles[:2], shapely.box(xs[2] - 2e-9, 29, xs[3], 29.01)]
    assert len(_not_a_coverage(county(sliver), np.arange(3))) == 3
    found, (n_noise, m2) = _overlaps(county(sliver), np.ones(3, dtype=bool))
    assert found == [] and n_noise == 1 and 0 < m2 < 1.0
    # two counties: only the one that is not a coverage is tested pairwise
    both = pd.concat([ok, county([*tiles[:3], tiles[0]], "500102")], ignore_index=True)
    assert list(_not_a_coverage(both, np.arange(8))) == [4, 5, 6, 7]
