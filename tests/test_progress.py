"""Progress tables and outputs on the sample store: views, targets, formats."""

import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from forestsink.cli.main import cli
from forestsink.progress import progress_tables

MACHINE_COLUMNS = [
    "adcode",
    "name_zh",
    "name_en",
    "region",
    "year",
    "project_type",
    "gross_area_mu",
    "net_area_mu",
    "new_forest_area_mu",
    "stock_volume_m3",
    "share_of_city",
]


@pytest.fixture(scope="module")
def tables(sample_store):
    return progress_tables(sample_store).tables


def test_views_agree_with_each_other(tables):
    total = tables["district"]["new_forest_area_mu"].sum()
    for name in ("region", "unit", "city"):
        assert tables[name]["new_forest_area_mu"].sum() == pytest.approx(total)
    assert set(tables["region"]["name_zh"]) == {"一小时经济圈", "渝东北翼", "渝东南翼"}


def test_unit_view_has_39_units(tables):
    units = tables["unit"]
    assert sorted(units["unit_no"].unique()) == list(range(1, 40))
    wansheng = units[units["unit_no"] == 22]
    assert len(wansheng) == 1 and wansheng["gross_area_mu"].isna().all()
    assert "綦江区" in wansheng["note"].iloc[0]
    qijiang = units[units["unit_no"] == 16]
    assert qijiang["note"].str.contains("万盛").all()


def test_city_targets_match_the_district_sums(tables, sample_manifest):
    city = tables["city_targets"].set_index(["target_id", "year"])
    # the plan's new forest area / stock volume are resource statistics: the
    # project sums are no longer shown as their percent (they were until #22)
    for target in ("new_forest_area", "new_stock_volume"):
        row = city.loc[(target, 2015)]
        assert row["status"] == "needs_resource_layers"
        assert np.isnan(row["done"]) and np.isnan(row["pct_done"])
        assert "需森林资源一张图" in row["note"]
    assert city.loc[("new_forest_area", 2015), "target"] == 9_000_000
    done = city.loc[("project_planted_area", 2015), "cumulative"]
    assert done == pytest.approx(tables["district"]["new_forest_area_mu"].sum())
    assert np.isnan(city.loc[("project_planted_area", 2015), "pct_done"])
    # the sample was generated with ~9.49 M mu net new forest; the planted errors
    # (left out) and the withdrawal take a little away
    assert done == pytest.approx(
        sample_manifest["totals"]["new_forest_net_mu"], rel=0.01
    )
    renovation = city.loc[("type_renovation", 2015)]
    assert renovation["target"] == 3_000_000 + 400_000 + 5_320_000
    cum = city.xs("project_planted_area", level=0)["cumulative"]
    assert cum.is_monotonic_increasing


def test_net_new_forest_equals_dissolved_union(tables, sample_store):
    """Oracle: a plain geopandas dissolve of the area-adding polygons."""
    import shapely

    from forestsink.area import CHONGQING_ALBERS

    current = sample_store.current()
    adds = current[
        current["project_type"].isin(
            [
                "afforestation",
                "grain_to_green",
                "rocky_desertification",
                "public_welfare",
            ]
        )
    ]
    union = shapely.union_all(adds.to_crs(CHONGQING_ALBERS).geometry.values)
    assert tables["district"]["new_forest_area_mu"].sum() == pytest.approx(
        union.area / (10000 / 15), rel=1e-6
    )


def test_net_below_gross_where_replanted(tables):
    d = tables["district"]
    assert (d["net_area_mu"] <= d["gross_area_mu"] + 1e-9).all()
    assert d["overlap_area_mu"].sum() > 100  # the planted re-plantings


def test_share_of_city_sums_to_one(tables):
    d = tables["district"]
    sums = d.groupby(["year", "project_type"])["share_of_city"].sum()
    assert sums.to_numpy() == pytest.approx(1.0)


def test_no_invented_district_targets(tables):
    assert "district_targets" not in tables
    assert not any("pct" in c for c in tables["district"].columns)


def test_csv_xlsx_json_carry_identical_numbers(sample_store, tmp_path):
    runner = CliRunner()
    outs = {}
    for suffix in ("csv", "xlsx", "json"):
        path = tmp_path / f"p.{suffix}"
        result = runner.invoke(
            cli, ["progress", "--store", str(sample_store.path), "--out", str(path)]
        )
        assert result.exit_code == 0, result.output
        outs[suffix] = path
    csv = pd.read_csv(outs["csv"], dtype={"adcode": str}, encoding="utf-8-sig")
    assert list(csv.columns) == [
        *MACHINE_COLUMNS[:6],
        "n_polygons",
        "gross_area_mu",
        "net_area_mu",
        "overlap_area_mu",
        "new_forest_area_mu",
        "stock_volume_m3",
        "stock_area_mu",
        "increment_measured_m3",
        "increment_model_m3",
        "increment_not_estimable_mu",
        "stock_m3_per_ha",
        "share_of_city",
    ]
    records = pd.DataFrame(json.loads(outs["json"].read_text(encoding="utf-8")))
    assert records["adcode"].tolist() == csv["adcode"].tolist()
    for column in ("gross_area_mu", "net_area_mu", "new_forest_area_mu"):
        assert records[column].to_numpy() == pytest.approx(csv[column].to_numpy())
    book = openpyxl.load_workbook(outs["xlsx"])
    assert book.sheetnames[0] == "区县 Districts"
    for name in (
        "片区 Regions",
        "考核单元 Units",
        "全市目标 City targets",
        "来源与设置 Sources",
    ):
        assert name in book.sheetnames
    sheet = book["区县 Districts"]
    assert sheet.freeze_panes == "A2"
    headers = [c.value for c in sheet[1]]
    planted = "项目造林面积（净） Project work: area planted (net) (亩 mu)"
    assert planted in headers
    assert "现存蓄积（上报） Standing stock (delivered) (m³)" in headers
    assert not any("新增蓄积" in str(h) or "碳汇" in str(h) for h in headers)
    assert "行政区划代码 Adcode" == headers[0]
    col = headers.index(planted)
    xl = [row[col] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert xl == pytest.approx(csv["new_forest_area_mu"].tolist())
    assert sheet.cell(row=2, column=col + 1).number_format == "#,##0.0"
    sources = {
        r[0]: r[1]
        for r in book["来源与设置 Sources"].iter_rows(min_row=2, values_only=True)
    }
    # provenance names files relative to the store, never an absolute path
    assert sources["store"] == Path(sample_store.path).name
    assert not any(str(v).startswith("/") for v in sources.values())
    assert sources["as_of"].startswith("批次 batch ")
    assert "tool_version" in sources and "parameters" in sources


def test_by_unit_and_year_options(sample_store, tmp_path):
    out = tmp_path / "u.csv"
    result = CliRunner().invoke(
        cli,
        [
            "progress",
            "--store",
            str(sample_store.path),
            "--by",
            "unit",
            "--year",
            "2013",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert set(table["year"].dropna()) == {2013}
    assert "unit_no" in table.columns and table["unit_no"].nunique() >= 38


def test_bureau_targets(sample_store, tmp_path):
    targets = tmp_path / "t.csv"
    targets.write_text(
        "区县,metric,value\n开县,new_forest_area_mu,100000\n"
        "500101,new_forest_area_mu,50000\n",
        encoding="utf-8",
    )
    result = progress_tables(sample_store, targets=targets).tables
    dt = result["district_targets"].set_index("adcode")
    base = result["district"].groupby("adcode")["new_forest_area_mu"].sum()
    # project work is shown beside the target, not as its percent (until #22
    # the planted area was reported as done and pct_done)
    assert dt.loc["500154", "project_work"] == pytest.approx(base["500154"])
    assert np.isnan(dt.loc["500154", "pct_done"])
    assert dt.loc["500154", "status"] == "needs_resource_layers"
    bad = tmp_path / "bad.csv"
    bad.write_text("区县,metric,value\n成都,new_forest_area_mu,1\n", encoding="utf-8")
    res = CliRunner().invoke(
        cli,
        [
            "progress",
            "--store",
            str(sample_store.path),
            "--targets",
            str(bad),
            "--out",
            str(tmp_path / "x.csv"),
        ],
    )
    assert res.exit_code == 1 and "row 2" in res.output and "成都" in res.output


def test_as_of_before_the_withdrawal(sample_store):
    batches = sample_store.batches()
    withdraw = int(batches[batches["kind"] == "withdraw"]["batch_id"].iloc[0])
    now = progress_tables(sample_store).tables["district"]
    then = progress_tables(sample_store, as_of=withdraw - 1).tables["district"]
    assert then["n_polygons"].sum() == now["n_polygons"].sum() + 1


def test_carbon_outputs(sample_store, tmp_path):
    from forestsink.reference import data_dir

    out = tmp_path / "c.csv"
    args = ["carbon", "--store", str(sample_store.path), "--draws", "2000"]
    growth = str(data_dir() / "growth_table.EXAMPLE.csv")
    result = CliRunner().invoke(cli, [*args, "--growth", growth, "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype={"adcode": str}, encoding="utf-8-sig")
    assert list(table.columns[:7]) == [
        "adcode",
        "name_zh",
        "name_en",
        "co2_t_per_yr",
        "co2_t_per_yr_p05",
        "co2_t_per_yr_p95",
        "method",
    ]
    city = table.set_index("adcode").loc["500000"]
    districts = table[table["adcode"] != "500000"]
    assert city["co2_t_central"] == pytest.approx(districts["co2_t_central"].sum())
    assert city["co2_t_p05"] < city["co2_t"] < city["co2_t_p95"]
    measured = table["method"].str.startswith("project_increment_measured")
    model = table["method"] == "project_increment_model"
    assert table.loc[measured, "co2_t_per_yr"].isna().all()
    rows = table[model]
    assert len(rows) and np.allclose(rows["co2_t_per_yr"], rows["co2_t"] / 5)
    assert city["method"].startswith("project_increment")
    assert "t CO₂" in result.output
    assert "碳汇 /" not in result.output and "city sink" not in result.output


def test_carbon_without_a_model_is_not_estimable(sample_store, tmp_path):
    """Old code: the sample's delivered stocks became a 'city sink' of Mt CO₂."""
    out = tmp_path / "c.csv"
    result = CliRunner().invoke(
        cli,
        [
            "carbon",
            "--store",
            str(sample_store.path),
            "--draws",
            "200",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype={"adcode": str}, encoding="utf-8-sig")
    city = table.set_index("adcode").loc["500000"]
    # only before/after pairs (if the sample has any) can give a figure
    if city["method"] == "not_estimable":
        assert np.isnan(city["co2_t"]) and "不可估算" in result.output
    else:
        assert city["method"] == "project_increment_measured"
    assert "碳汇 /" not in result.output


def test_empty_state_is_a_clear_error(sample_store, tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "progress",
            "--store",
            str(sample_store.path),
            "--as-of",
            "2000-01-01",
            "--out",
            str(tmp_path / "e.csv"),
        ],
    )
    assert result.exit_code == 1
    assert "no project polygons as of 2000-01-01" in result.output
    assert not (tmp_path / "e.csv").exists()


# ---------------------------------------------------------------------------
# Issue #22: a delivered 蓄积 is a standing stock, never an increment
# ---------------------------------------------------------------------------

GROWTH_CSV = (
    "project_type,forest_type,age_from,age_to,growth_m3_ha_yr,baseline_m3_ha_yr,"
    "source\n"
    "renovation,default,1,10,3,1.5,test\n"
    "tending,default,1,10,2.5,2,test\n"
    "afforestation,default,1,3,0,0,test\n"
    "afforestation,default,4,10,2,0,test\n"
)


def _geod_mu(geometry) -> float:
    from pyproj import Geod

    area, _ = Geod(ellps="GRS80").geometry_area_perimeter(geometry)
    return abs(area) / (10_000 / 15)


@pytest.fixture
def stock_delivery(tmp_path):
    from delivery_factory import frame

    gdf = frame(
        n=4,
        year=2012,
        types=("低效林改造", "中幼林抚育", "低效林改造", "人工造林"),
    )
    gdf["蓄积"] = [1000.0, 1000.0, 460.0, None]
    gdf["改造前蓄积"] = [None, None, 400.0, None]
    gdf["改造后蓄积"] = [None, None, 460.0, None]
    return gdf


@pytest.fixture
def stock_store(tmp_path, stock_delivery):
    from delivery_factory import write

    from forestsink.landing.deliveries import ingest_deliveries
    from forestsink.store import GeoPackageStore

    store = GeoPackageStore(tmp_path / "s.gpkg")
    ingest_deliveries([write(stock_delivery, tmp_path / "a.gpkg")], store)
    return store


def test_standing_stock_is_shown_but_never_new_volume(stock_store):
    tables = progress_tables(stock_store).tables
    city = tables["city"]
    # the delivered stocks are shown as standing stock: 1000 + 1000 + 460
    assert city["stock_volume_m3"].sum() == pytest.approx(2460.0)
    # only the before/after pair is an increment: 460 − 400 = 60 m³
    assert city["increment_measured_m3"].sum() == pytest.approx(60.0)
    assert city["increment_model_m3"].isna().all()
    targets = tables["city_targets"].set_index(["target_id", "year"])
    # old code: 2,460 m³ + flat growth booked as "new stock volume"
    assert np.isnan(targets.loc[("new_stock_volume", 2015), "cumulative"])


def test_carbon_counts_only_the_measured_pair(stock_store):
    from forestsink.progress import carbon_tables

    carbon = carbon_tables(stock_store, draws=200).tables["carbon"]
    city = carbon.set_index("adcode").loc["500000"]
    assert city["method"] == "project_increment_measured"
    assert city["increment_m3"] == pytest.approx(60.0)
    # no species → 针阔混交林: BVF 0.8136 t/m³, CF 0.47 (IPCC default, fixed):
    # 60 × 0.8136 × 0.47 × 44/12 = 84.12624 t CO₂ (the old code: 2,460 m³ of
    # standing stock plus flat growth)
    assert city["co2_t_central"] == pytest.approx(84.12624)
    # a before/after pair has no time span in the delivery: no per-year figure
    # (the code as found divided by the 5 plan years: 16.825 t CO₂/yr)
    for name in ("co2_t_per_yr", "co2_t_per_yr_p05", "co2_t_per_yr_p95"):
        assert np.isnan(city[name])


def test_cli_says_when_the_interval_has_no_spread(stock_store, tmp_path):
    res = CliRunner().invoke(
        cli,
        [
            "carbon",
            "--store",
            str(stock_store.path),
            "--draws",
            "50",
            "--out",
            str(tmp_path / "c.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    # 针阔混交林: BVF and CF have no stated spread, so the 90 % interval is one
    # point: 84 t CO₂ (60 m³ × 0.8136 × 0.47 × 44/12)
    assert "84 t CO₂" in res.output
    assert "无给定不确定度 / no stated spread" in res.output
    assert "90 %: 84 – 84" not in res.output
    assert "no per-year figure" in res.output and "t CO₂/yr" not in res.output


def test_growth_table_gives_the_modelled_increment_over_baseline(
    stock_store, stock_delivery, tmp_path
):
    path = tmp_path / "growth.csv"
    path.write_text(GROWTH_CSV, encoding="utf-8")
    tables = progress_tables(stock_store, growth=path).tables
    area = [_geod_mu(g) / 15 for g in stock_delivery.geometry]  # ha
    # worked in 2012, seasons 2013–2015 (ages 1–3):
    # renovation 3 × (3 − 1.5) = 4.5 m³/ha; tending 3 × (2.5 − 2) = 1.5 m³/ha;
    # the pair (row 3) stays measured; afforestation ages 1–3 grow 0 (未成林)
    expect = area[0] * 4.5 + area[1] * 1.5
    city = tables["city"]
    assert city["increment_model_m3"].sum() == pytest.approx(expect, rel=1e-6)
    assert city["increment_measured_m3"].sum() == pytest.approx(60.0)
    assert city["increment_not_estimable_mu"].sum() == 0.0
    assert tables["district"]["stock_volume_m3"].sum() == pytest.approx(2460.0)


def test_cli_says_what_the_numbers_are(tmp_path):
    from delivery_factory import frame, write

    gdf = frame(n=2, year=2012, types=("低效林改造", "中幼林抚育"))
    gdf["蓄积"] = [1000.0, 1000.0]
    store = tmp_path / "s.gpkg"
    runner = CliRunner()
    res = runner.invoke(
        cli, ["ingest", "--store", str(store), str(write(gdf, tmp_path / "a.gpkg"))]
    )
    assert res.exit_code == 0, res.output
    out = tmp_path / "p.xlsx"
    res = runner.invoke(cli, ["progress", "--store", str(store), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "需森林资源一张图 / needs the forest-resource layers" in res.output
    assert "现存蓄积" in res.output and "standing stock" in res.output
    assert "新增森林蓄积量 / New stock volume: 2,000" not in res.output
    book = openpyxl.load_workbook(out)
    sheet = book["全市目标 City targets"]
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    done = header.index("完成值 Done")
    volume = [r for r in rows[1:] if r[0] == "new_stock_volume"]
    assert volume and all(r[done] is None for r in volume)
    out = tmp_path / "c.xlsx"
    res = runner.invoke(
        cli, ["carbon", "--store", str(store), "--draws", "100", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "不可估算 / not estimable" in res.output
    assert "碳汇 /" not in res.output and "city sink" not in res.output
    book = openpyxl.load_workbook(out)
    assert "碳汇 Carbon" not in book.sheetnames
    headers = [c.value for c in book[book.sheetnames[0]][1]]
    assert "项目增量 CO₂（年均） Project increment CO₂ per year (t CO₂/yr)" in headers
    assert not any("碳汇" in str(h) for h in headers)


def test_bad_growth_table_is_a_clear_cli_error(sample_store, tmp_path):
    bad = tmp_path / "g.csv"
    bad.write_text(GROWTH_CSV.replace("3,1.5", "x,1.5"), encoding="utf-8")
    res = CliRunner().invoke(
        cli,
        [
            "carbon",
            "--store",
            str(sample_store.path),
            "--growth",
            str(bad),
            "--out",
            str(tmp_path / "c.csv"),
        ],
    )
    assert res.exit_code == 1
    assert "g.csv: 第2行 row 2, column growth_m3_ha_yr" in res.output
    assert "Traceback" not in res.output


def test_per_hectare_stock_is_a_standing_stock_too(tmp_path):
    from delivery_factory import frame, write

    from forestsink.landing.deliveries import ingest_deliveries
    from forestsink.progress import carbon_tables
    from forestsink.store import GeoPackageStore

    gdf = frame(n=1, year=2012, types=("低效林改造",))
    gdf["HUO_LMGQXJ"] = [50.0]  # 公顷蓄积, m³/ha; no total delivered
    store = GeoPackageStore(tmp_path / "s.gpkg")
    ingest_deliveries([write(gdf, tmp_path / "a.gpkg")], store)
    city = progress_tables(store).tables["city"]
    area_ha = _geod_mu(gdf.geometry.iloc[0]) / 15
    assert city["stock_volume_m3"].sum() == pytest.approx(50.0 * area_ha, rel=1e-6)
    assert city["stock_m3_per_ha"].iloc[0] == pytest.approx(50.0, rel=1e-6)
    assert city["increment_measured_m3"].isna().all()
    carbon = carbon_tables(store, draws=50).tables["carbon"].set_index("adcode")
    assert carbon.loc["500000", "method"] == "not_estimable"
    assert np.isnan(carbon.loc["500000", "co2_t"])


@pytest.mark.parametrize(
    ("draws", "zh"),
    [("0", "蒙特卡洛次数至少为 1"), ("1000001", "蒙特卡洛次数至多 1,000,000")],
)
def test_draws_bounded_with_a_clear_message(stock_store, tmp_path, draws, zh):
    out = tmp_path / "c.csv"
    res = CliRunner().invoke(
        cli,
        [
            "carbon",
            "--store",
            str(stock_store.path),
            "--draws",
            draws,
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 1, res.output
    assert zh in res.output
    assert "Traceback" not in res.output and "MemoryError" not in res.output
    assert not out.exists()
