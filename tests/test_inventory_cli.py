"""``forestsink inventory`` end to end: load, stats, change, replace, undo.

Oracles: pyproj.Geod areas of the shipped district polygon and of the
hand-made 小班 boxes; changes computed by hand from those areas.
"""

from __future__ import annotations

import hashlib
import re

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from pyproj import Geod
from shapely.geometry import box

from forestsink.cli.main import cli
from forestsink.progress import progress_tables
from forestsink.reference import read_districts
from forestsink.store import open_store
from forestsink.units import M2_PER_MU

GEOD = Geod(ellps="GRS80")
ADCODE = "500101"  # 万州区
# three 小班 of different sizes well inside 万州区 (108.4 E, 30.8 N)
BOXES = [
    box(108.30, 30.80, 108.31, 30.81),
    box(108.31, 30.80, 108.33, 30.81),
    box(108.33, 30.80, 108.36, 30.81),
]


def geod_mu(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / M2_PER_MU


def district_mu() -> float:
    d = read_districts().set_index("adcode").loc[ADCODE, "geometry"]
    return sum(geod_mu(p) for p in getattr(d, "geoms", [d]))


def write_layer(path, classes, *, previous=None, volumes=None):
    data = {
        "XIAN": [ADCODE] * 3,
        "XIANG": ["001"] * 3,
        "CUN": ["01"] * 3,
        "LIN_BAN": ["0001"] * 3,
        "XIAO_BAN": ["1", "2", "3"],
        "DI_LEI": classes,
        "HUO_LMGQXJ": volumes or [None] * 3,
    }
    if previous is not None:
        data["Q_DI_LEI"] = previous
        data["BHYY"] = ["", "11", "41"]
    gpd.GeoDataFrame(data, geometry=BOXES, crs=4490).to_file(path, encoding="gbk")
    return path


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def two_years(tmp_path):
    store = tmp_path / "store.gpkg"
    y2010 = write_layer(
        tmp_path / "l2010.shp", ["0111", "0141", "0111"], volumes=[80.0, None, 50.0]
    )
    y2015 = write_layer(
        tmp_path / "l2015.shp",
        ["0111", "0111", "0201"],
        previous=["0111", "0141", "0111"],
        volumes=[100.0, 20.0, None],
    )
    assert (
        run("inventory", "load", y2010, "--year", 2010, "--store", store).exit_code == 0
    )
    assert (
        run("inventory", "load", y2015, "--year", 2015, "--store", store).exit_code == 0
    )
    return store, tmp_path


def test_stats_coverage_is_geodesic_forest_over_district_area(two_years):
    store, tmp = two_years
    out = tmp / "stats.csv"
    result = run("inventory", "stats", "--store", store, "--year", 2015, "--out", out)
    assert result.exit_code == 0, result.output
    stats = pd.read_csv(out, dtype={"adcode": str}).set_index("adcode")
    row = stats.loc[ADCODE]
    forest = geod_mu(BOXES[0]) + geod_mu(BOXES[1])
    assert row["forest_area_mu"] == pytest.approx(forest, rel=1e-7)
    assert row["total_area_mu"] == pytest.approx(district_mu(), rel=1e-7)
    assert row["coverage_pct"] == pytest.approx(100 * forest / district_mu(), rel=1e-7)
    ha = [geod_mu(b) / 15 for b in BOXES]
    assert row["stock_m3"] == pytest.approx(100 * ha[0] + 20 * ha[1], rel=1e-7)
    assert row["stock_basis"] == "per_ha_x_area"
    # every other district says its layer is missing; nothing filled in
    other = stats.loc["500102"]
    assert pd.isna(other["forest_area_mu"]) and "no layer" in other["note"]
    for column in ("adcode", "name_zh", "name_en", "year", "forest_land_area_mu"):
        assert column in stats.reset_index().columns


def test_change_by_previous_class_by_hand(two_years):
    store, tmp = two_years
    out = tmp / "change.xlsx"
    result = run(
        "inventory", "change", "--store", store, "--from", 2010, "--to", 2015,
        "--out", out, "--matrix", tmp / "matrix.csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    change = pd.read_excel(out, sheet_name="change", dtype={"adcode": str})
    row = change.set_index("adcode").loc[ADCODE]
    gain, loss = geod_mu(BOXES[1]), geod_mu(BOXES[2])  # 0141→0111, 0111→0201
    assert row["forest_gain_mu"] == pytest.approx(gain, rel=1e-7)
    assert row["forest_loss_mu"] == pytest.approx(loss, rel=1e-7)
    assert row["forest_area_change_mu"] == pytest.approx(gain - loss, rel=1e-6)
    assert row["method"] == "previous_class"
    ha = [geod_mu(b) / 15 for b in BOXES]
    stock_change = (100 * ha[0] + 20 * ha[1]) - (80 * ha[0] + 50 * ha[2])
    assert row["stock_change_m3"] == pytest.approx(stock_change, rel=1e-7)
    matrix = pd.read_csv(
        tmp / "matrix.csv", dtype={"adcode": str, "change_reason": str}
    )
    lost = matrix[(matrix.adcode == ADCODE) & (matrix.group_to == "non_forest")]
    assert lost["change_reason"].tolist() == ["41"]


def test_change_falls_back_to_overlay_without_previous_class(tmp_path):
    store = tmp_path / "s.gpkg"
    a = write_layer(tmp_path / "a.shp", ["0111", "0141", "0111"])
    b = write_layer(tmp_path / "b.shp", ["0111", "0111", "0201"])
    run("inventory", "load", a, "--year", 2010, "--store", store)
    run("inventory", "load", b, "--year", 2015, "--store", store)
    out = tmp_path / "c.csv"
    result = run(
        "inventory",
        "change",
        "--store",
        store,
        "--from",
        2010,
        "--to",
        2015,
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    row = pd.read_csv(out, dtype={"adcode": str}).set_index("adcode").loc[ADCODE]
    assert row["method"] == "overlay"
    assert row["forest_gain_mu"] == pytest.approx(geod_mu(BOXES[1]), rel=1e-6)
    assert row["forest_loss_mu"] == pytest.approx(geod_mu(BOXES[2]), rel=1e-6)


def test_loading_a_county_twice_is_refused_then_replaced_and_undone(two_years):
    store, tmp = two_years
    again = write_layer(tmp / "again.shp", ["0111", "0111", "0111"])
    before = digest(store)
    result = run("inventory", "load", again, "--year", 2015, "--store", store)
    assert result.exit_code == 1
    assert "already loaded" in result.output and "--replace" in result.output
    assert "Traceback" not in result.output
    assert digest(store) == before  # store exactly as it was
    result = run(
        "inventory", "load", again, "--year", 2015, "--store", store, "--replace"
    )
    assert result.exit_code == 0, result.output
    s = open_store(store)
    snaps = s.inventory_snapshots(history=True)
    assert len(snaps[snaps.year == 2015]) == 2
    stats = s.inventory_sums(2015)
    assert stats["area_mu"].sum() == pytest.approx(
        sum(geod_mu(b) for b in BOXES), rel=1e-7
    )
    batch = int(s.batches()["batch_id"].max())
    assert run("undo", batch, "--store", store).exit_code == 0
    forest = s.inventory_sums(2015)
    forest = forest[forest.land_group == "arbor"]["area_mu"].sum()
    assert forest == pytest.approx(geod_mu(BOXES[0]) + geod_mu(BOXES[1]), rel=1e-7)


def test_bad_layer_is_refused_and_the_store_is_unchanged(two_years):
    store, tmp = two_years
    bad = write_layer(tmp / "bad.shp", ["0111", "0199", "0111"])
    before = digest(store)
    result = run("inventory", "load", bad, "--year", 2016, "--store", store)
    assert result.exit_code == 1
    assert "0199" in result.output and "row 2" in result.output
    assert "Traceback" not in result.output
    assert digest(store) == before


def test_stats_of_a_year_not_loaded_names_the_years_held(two_years):
    store, tmp = two_years
    result = run(
        "inventory", "stats", "--store", store, "--year", 2012, "--out", tmp / "x.csv"
    )
    assert result.exit_code == 1
    assert "2010, 2015" in result.output


def test_progress_measures_resource_targets_from_the_inventory(two_years, sample_store):
    store, _ = two_years
    from forestsink.inventory.load import statistics_by_year

    s = open_store(store)
    inventory = statistics_by_year(s)
    tables = progress_tables(sample_store, inventory=inventory).tables
    city = tables["city_targets"]
    area = city[(city.target_id == "new_forest_area") & (city.year == 2015)].iloc[0]
    assert area["status"] == "resource_statistics"
    change = geod_mu(BOXES[1]) - geod_mu(BOXES[2])
    assert area["cumulative"] == pytest.approx(change, rel=1e-6)
    missing = city[(city.target_id == "new_forest_area") & (city.year == 2012)].iloc[0]
    assert (
        pd.isna(missing["cumulative"]) and "no forest-resource layer" in missing["note"]
    )
    cov = city[city.target_id == "forest_coverage"].iloc[0]
    assert cov["status"] == "resource_statistics"
    # project work stays, apart and labelled
    work = city[city.target_id == "project_planted_area"]
    assert set(work["status"]) == {"project_work"}


def test_sample_defects_are_refused_as_the_manifest_says(
    sample_dir, sample_manifest, tmp_path
):
    defects = sample_manifest["inventory"]["defects"]
    assert {d["class"] for d in defects} >= {
        "unknown_land_class",
        "duplicate_key",
        "volume_on_non_forest",
        "overlap",
        "missing_area",
    }
    for d in defects:
        store = tmp_path / f"{d['id']}.gpkg"
        path = sample_dir / d["file"]
        result = run("inventory", "load", path, "--year", 2015, "--store", store)
        assert result.exit_code == 1, (d, result.output)
        assert "Traceback" not in result.output
        # "row 2", or "rows 3, 4" for a duplicate key
        assert re.search(rf"rows? (\d+, )*{d['row']}\b", result.output), (
            d,
            result.output,
        )
        if d["class"] in ("unknown_land_class", "county_not_in_chongqing"):
            assert str(d["value"]) in result.output
        if d["class"] == "overlap":
            assert f"{d['overlap_mu']:,.1f} 亩" in result.output
        assert not store.exists()  # nothing written


@pytest.mark.slow
def test_sample_layers_reproduce_the_generators_geodesic_totals(
    sample_dir, sample_manifest, tmp_path
):
    # the generator measured its layers with pyproj.Geod; the tool must find
    # the same forest area, coverage and stock from the delivered files
    inv = sample_dir / "inventory"
    store = tmp_path / "inv.gpkg"
    late = sample_manifest["inventory"]["missing_from_2010"]
    assert (
        run(
            "inventory", "load", inv / "2010", "--year", 2010, "--store", store
        ).exit_code
        == 0
    )
    out = tmp_path / "s2010.csv"
    run("inventory", "stats", "--store", store, "--year", 2010, "--out", out)
    stats = pd.read_csv(out, dtype={"adcode": str}).set_index("adcode")
    missing = stats.loc[late[0]["adcode"]]
    assert pd.isna(missing["coverage_pct"]) and "no layer" in missing["note"]
    assert missing["name_zh"] in stats.loc["500000", "note"]
    assert (
        run(
            "inventory", "load", inv / "2010-late", "--year", 2010, "--store", store
        ).exit_code
        == 0
    )
    assert (
        run(
            "inventory", "load", inv / "2015", "--year", 2015, "--store", store
        ).exit_code
        == 0
    )
    truth = sample_manifest["inventory"]["totals"]
    for year in (2010, 2015):
        out = tmp_path / f"t{year}.csv"
        run("inventory", "stats", "--store", store, "--year", year, "--out", out)
        city = pd.read_csv(out, dtype={"adcode": str}).set_index("adcode").loc["500000"]
        t = truth[str(year)]
        assert city["forest_area_mu"] == pytest.approx(t["forest_area_mu"], rel=1e-6)
        assert city["stock_m3"] == pytest.approx(t["stock_m3"], rel=1e-6)
        assert city["coverage_pct"] == pytest.approx(t["coverage_pct"], abs=2e-3)
    assert round(truth["2010"]["coverage_pct"]) == 37
    assert round(truth["2015"]["coverage_pct"]) == 45


def test_stats_by_stand_and_crosscheck_commands(two_years):
    store, tmp = two_years
    out = tmp / "s.xlsx"
    result = run("inventory", "stats", "--store", store, "--year", 2015, "--out", out)
    assert result.exit_code == 0, result.output
    stand = pd.read_excel(out, sheet_name="by_stand", dtype={"adcode": str})
    city = stand[stand.adcode == "500000"]
    # 2015 arbor: boxes 0 and 1 (0111), no species given: unrecognised group
    arbor = geod_mu(BOXES[0]) + geod_mu(BOXES[1])
    assert city["area_mu"].sum() == pytest.approx(arbor, rel=1e-7)
    assert set(city["species_group"]) == {"unrecognised"}
    coverage = pd.DataFrame(
        {
            "adcode": [ADCODE, "500000"],
            "name_zh": ["万州区", "重庆市"],
            "year": [2015, 2015],
            "coverage_pct": [50.0, 40.0],
            "land_area_mu": [1e6, 1e8],
            "forest_area_mu": [5e5, 4e7],
        }
    )
    coverage.to_csv(tmp / "cov.csv", index=False)
    cc = tmp / "cc.csv"
    result = run(
        "inventory", "crosscheck", "--store", store, "--year", 2015,
        "--coverage", tmp / "cov.csv", "--out", cc,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    row = pd.read_csv(cc, dtype={"adcode": str}).set_index("adcode").loc[ADCODE]
    official = 100 * arbor / district_mu()
    assert row["inventory_coverage_pct"] == pytest.approx(official, rel=1e-7)
    assert row["difference_pp"] == pytest.approx(50.0 - official, rel=1e-7)


@pytest.mark.slow
def test_report_headline_is_the_inventory_with_project_work_beside_it(
    sample_store, sample_dir, sample_manifest, tmp_path
):
    import json
    import shutil

    from forestsink.render.report import build_report

    store_path = tmp_path / "store.gpkg"
    shutil.copy(sample_store.path, store_path)
    inv = sample_dir / "inventory"
    for folders, year in (
        ((inv / "2010", inv / "2010-late"), 2010),
        ((inv / "2015",), 2015),
    ):
        result = run(
            "inventory", "load", *folders, "--year", year, "--store", store_path
        )
        assert result.exit_code == 0, result.output
    out = build_report(open_store(store_path), tmp_path / "report.html", draws=200)
    html = out.read_text(encoding="utf-8")
    truth = sample_manifest["inventory"]["totals"]
    c10, c15 = truth["2010"]["coverage_pct"], truth["2015"]["coverage_pct"]
    assert f"2010: {c10:.1f} % → 2015: {c15:.1f} %" in html  # the coverage card
    assert "resource statistics (forest-resource map)" in html
    assert "project work done" in html  # project work shown, apart
    assert 'id="transfer-matrix"' in html and 'id="reconcile-table"' in html
    data = json.loads(
        html.split('id="forestsink-data">', 1)[1].split("</script>", 1)[0]
    )
    assert data["has_inventory"]
    wanzhou = next(
        f for f in data["districts"]["features"] if f["properties"]["adcode"] == ADCODE
    )
    expected = truth["2015"]["districts"][ADCODE]["coverage_pct"]
    assert wanzhou["properties"]["inv_coverage"]["2015"] == pytest.approx(
        expected, abs=6e-3
    )
    assert "/tmp/" not in html.split('id="provenance"', 1)[1].split("</dl>", 1)[0]


def test_sums_read_the_covering_index_not_the_geometry_rows(two_years):
    # the statistics' GROUP BY must not read the table (geometry inline):
    # SQLite's plan names the covering index
    import sqlite3

    store, _ = two_years
    s = open_store(store)
    body, params = s._live_rows_sql(2015, None)
    sql = (
        "EXPLAIN QUERY PLAN SELECT x.adcode, x.land_group, TOTAL(x.area_mu), "
        f"TOTAL(x.volume_m3_ha * x.area_mu), TOTAL(x.stock_m3) {body} "
        "GROUP BY x.adcode, x.land_group"
    )
    with sqlite3.connect(store) as conn:
        plan = " ".join(str(r) for r in conn.execute(sql, params))
    assert "COVERING INDEX idx_inventory_xiaoban_sums" in plan
