"""Reading deliveries: formats, encodings, CRS, column names, project types."""

import numpy as np
import pandas as pd
import pytest
from delivery_factory import FULING, WANZHOU, frame, write
from pyproj import Geod
from shapely.geometry import Point

from forestsink.area import area_m2
from forestsink.errors import CRSError, DeliveryError
from forestsink.ingest import read_delivery
from forestsink.ingest.columns import map_columns
from forestsink.ingest.encoding import detect_dbf_encoding, looks_like_mojibake
from forestsink.ingest.values import map_project_types, parse_years
from forestsink.reference import read_districts


def test_factory_points_lie_in_their_districts():
    d = read_districts().set_index("adcode")
    assert d.loc["500101", "geometry"].contains(Point(WANZHOU))
    assert d.loc["500102", "geometry"].contains(Point(FULING))


@pytest.mark.parametrize("suffix", [".shp", ".gpkg", ".geojson", ".zip"])
@pytest.mark.parametrize("crs", [4490, 4545, 4326])
def test_formats_and_crs_round_trip(tmp_path, suffix, crs):
    src = frame()
    path = write(src, tmp_path / f"d{suffix}", encoding="GBK", crs=crs)
    d = read_delivery(path)
    f = d.frame
    assert f.crs.to_epsg() == 4490
    assert list(f["project_id"]) == ["P1", "P2", "P3"]
    assert list(f["adcode"]) == ["500101"] * 3
    assert list(f["project_type"]) == ["afforestation", "grain_to_green", "renovation"]
    assert list(f["year"]) == [2013] * 3
    # geometry comes back where it was (sub-millimetre after the round trip)
    dist = f.geometry.to_crs(4545).distance(src.geometry.to_crs(4545))
    assert dist.max() < 1e-3
    assert d.sha256 and len(d.sha256) == 64


@pytest.mark.parametrize("cpg", [True, False])
def test_gbk_shapefile_with_and_without_cpg(tmp_path, cpg):
    path = write(frame(), tmp_path / "gbk.shp", encoding="GBK", cpg=cpg)
    dbf = path.with_suffix(".dbf").read_bytes()
    assert "万州区".encode("gbk") in dbf  # really GBK on disk
    d = read_delivery(path)
    assert d.frame["district_raw"].iloc[0] == "万州区"
    assert d.encoding == "GB18030"
    assert any(("no .cpg" in n) != cpg and "GB18030" in n for n in d.notes)


def test_utf8_shapefile_without_cpg(tmp_path):
    path = write(frame(), tmp_path / "u.shp", encoding="UTF-8", cpg=False)
    d = read_delivery(path)
    assert d.encoding == "UTF-8" and d.frame["district_raw"].iloc[0] == "万州区"


def test_wrong_cpg_is_refused_not_stored(tmp_path):
    path = write(frame(), tmp_path / "w.shp", encoding="GBK")
    path.with_suffix(".cpg").write_text("ISO-8859-1")
    with pytest.raises(DeliveryError, match=r"w\.shp.*wrongly decoded"):
        read_delivery(path)


def test_detect_encoding_unit():
    header = bytearray(32)
    header[8:10] = (33).to_bytes(2, "little")
    body = bytes(header) + b"\x0d" + "石柱县".encode("gbk")
    assert detect_dbf_encoding(body)[0] == "GB18030"
    body = bytes(header) + b"\x0d" + "石柱县".encode()
    assert detect_dbf_encoding(body)[0] == "UTF-8"
    assert looks_like_mojibake("ÍòÖÝÇø")  # 万州区 in GBK read as Latin-1
    assert not looks_like_mojibake("万州区") and not looks_like_mojibake("Wanzhou")


def test_crs_inferred_from_zone_prefix(tmp_path):
    path = write(frame(), tmp_path / "z.shp", crs=4524, prj=False)
    d = read_delivery(path)
    assert any("zone prefix 36" in n and "EPSG:4524" in n for n in d.notes)
    assert abs(d.frame.geometry.iloc[0].centroid.x - (WANZHOU[0] + 0.002)) < 1e-6


def test_crs_inferred_from_degrees(tmp_path):
    path = write(frame(), tmp_path / "g.shp", prj=False)
    d = read_delivery(path)
    assert any("assumed EPSG:4490" in n for n in d.notes)


def test_unprefixed_gauss_kruger_without_prj_is_refused(tmp_path):
    path = write(frame(), tmp_path / "u.shp", crs=4545, prj=False)
    with pytest.raises(CRSError) as err:
        read_delivery(path)
    message = str(err.value)
    assert "u.shp" in message and "as crs" in message and "--crs" not in message
    assert err.value.option == "crs"
    for code in ("EPSG:4544", "EPSG:4545", "EPSG:4546"):
        assert code in message
    d = read_delivery(path, crs="EPSG:4545")  # the override works
    assert d.frame.geometry.iloc[0].intersects(frame().geometry.iloc[0])


def test_swapped_axes_are_refused(tmp_path):
    from shapely import transform

    gdf = frame()
    gdf.geometry = transform(gdf.geometry.values, lambda xy: xy[:, ::-1])
    path = write(gdf.set_crs(None, allow_override=True), tmp_path / "s.shp", prj=False)
    with pytest.raises(CRSError, match="swapped"):
        read_delivery(path)


def test_missing_required_column_lists_found_and_accepted(tmp_path):
    path = write(frame().drop(columns=["工程类别"]), tmp_path / "m.gpkg")
    with pytest.raises(DeliveryError) as err:
        read_delivery(path)
    message = str(err.value)
    assert "m.gpkg" in message and "project_type" in message
    assert "小班号" in message  # columns found
    assert "工程类别" in message and "造林类别" in message  # names accepted


def test_year_and_district_for_whole_file(tmp_path):
    gdf = frame().drop(columns=["年度", "区县"])
    path = write(gdf, tmp_path / "y.gpkg")
    d = read_delivery(path, year=2014, district="开县")
    assert set(d.frame["year"]) == {2014} and set(d.frame["adcode"]) == {"500154"}


def test_truncated_and_english_names_and_extras():
    m = map_columns(
        ["XMBH", "XIAN", "ZLND", "ZAO_LIN_LB", "蓄积量(m", "MIAN_JI", "备注", "村"]
    )
    assert m.mapping == {
        "project_code": "XMBH",
        "district": "XIAN",
        "year": "ZLND",
        "project_type": "ZAO_LIN_LB",
        "stock_volume_m3": "蓄积量(m",
        "area_ha": "MIAN_JI",
    }
    assert m.extra == ["备注", "村"]
    assert any("truncated" in n for n in m.notes)


def test_two_columns_with_one_meaning_are_both_kept_in_priority_order():
    # issue 15 defect 1: no longer refused; the alias table's order decides
    m = map_columns(["县名", "编号", "图斑编号", "区县代码", "年度", "工程类别"])
    assert m.mapping["project_id"] == "图斑编号"
    assert m.alternates["district"] == ["区县代码", "县名"]  # code over name
    assert any("'区县代码' is used" in n for n in m.notes)


def test_extra_columns_kept_as_attributes(tmp_path):
    gdf = frame()
    gdf["备注"] = ["补植", None, "<b>x</b>"]
    d = read_delivery(write(gdf, tmp_path / "e.geojson"))
    attrs = d.frame["attrs"].map(lambda s: __import__("json").loads(s))
    assert attrs.iloc[0] == {"备注": "补植"} and attrs.iloc[2] == {"备注": "<b>x</b>"}


def test_area_units(tmp_path):
    gdf = frame()
    truth = gdf["面积(亩)"].to_numpy()
    ha = gdf.rename(columns={"面积(亩)": "MIAN_JI"})
    ha["MIAN_JI"] = truth / 15
    d = read_delivery(write(ha, tmp_path / "ha.gpkg"))
    np.testing.assert_allclose(d.frame["area_reported_mu"], truth, rtol=1e-9)
    unknown = gdf.rename(columns={"面积(亩)": "面积"})
    unknown["面积"] = truth / 15  # hectares, but the name does not say so
    d = read_delivery(write(unknown, tmp_path / "u.gpkg"))
    np.testing.assert_allclose(d.frame["area_reported_mu"], truth, rtol=1e-9)
    assert any("read as ha" in n for n in d.notes)


def test_project_type_words():
    words = pd.Series(
        [
            "人工造林",
            "新造林",
            "退耕还林工程",
            "低产林改造",
            "石漠化治理",
            "营造公益林",
            "森林抚育",
            "苗圃",
            "114",
            "122",
            "Tending",
            "三峡库区生态屏障低效林改造",
            "森林康养",
            None,
        ]
    )
    assert map_project_types(words).tolist() == [
        "afforestation",
        "afforestation",
        "grain_to_green",
        "renovation",
        "rocky_desertification",
        "public_welfare",
        "tending",
        "nursery",
        "grain_to_green",
        "renovation",
        "tending",
        "renovation",
        pd.NA,
        pd.NA,
    ]


def test_parse_years():
    out = parse_years(pd.Series(["2013", 2014.0, "2015年", 20120512, "二〇一三", None]))
    assert out.tolist() == [2013, 2014, 2015, 2012, pd.NA, pd.NA]


def test_area_oracle_geodesic():
    """Equal-area areas agree with pyproj.Geod (GRS80) to 0.01 %."""
    geod = Geod(ellps="GRS80")
    gdf = frame(n=3)
    big = frame(center=(106.5, 29.5), n=1)
    big.geometry = big.geometry.buffer(0.2)  # ~40 km across, far from the centre
    for g in (gdf, big):
        oracle = np.array([abs(geod.geometry_area_perimeter(p)[0]) for p in g.geometry])
        np.testing.assert_allclose(area_m2(g), oracle, rtol=1e-4)


def test_numpy_albers_equals_pyproj():
    from pyproj import Transformer

    from forestsink.area import CHONGQING_ALBERS, albers_xy

    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(105, 110.5, 500), rng.uniform(28, 32.5, 500)
    x, y = albers_xy(lon, lat)
    ox, oy = Transformer.from_crs(4490, CHONGQING_ALBERS, always_xy=True).transform(
        lon, lat
    )
    assert np.abs(x - ox).max() < 1e-3 and np.abs(y - oy).max() < 1e-3


def test_number_columns_keep_their_own_type(tmp_path):
    """Whole-number stock volumes stay integers and float32 ids read as their
    short text ("1.1", as pandas writes float32): the stored text, and so the
    content hash, of these values does not depend on how they were read."""
    import pyogrio

    gdf = frame()
    gdf["蓄积"] = np.array([5, 6, 7], dtype=np.int32)
    gdf["小班号"] = np.array([1.1, 2.5, 3.25], dtype=np.float32)
    path = tmp_path / "d.gpkg"
    pyogrio.write_dataframe(gdf, path)
    out = read_delivery(path).frame
    assert out["stock_volume_m3"].tolist() == [5, 6, 7]
    assert out["stock_volume_m3"].dtype.kind == "i"
    assert out["project_id"].tolist() == ["1.1", "2.5", "3.25"]


def test_geojson_objects_and_lists_are_read(tmp_path):
    """GeoJSON properties holding objects stay JSON objects in the extra
    attributes; a list in a mapped column (tree species) does not stop the
    read."""
    import json

    gdf = frame()
    path = write(gdf, tmp_path / "d.geojson")
    doc = json.loads(path.read_text(encoding="utf-8"))
    for k, feature in enumerate(doc["features"]):
        feature["properties"]["备注对象"] = {"a": k, "b": [1, 2]}
        feature["properties"]["树种"] = ["马尾松", "杉木"] if k else None
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    out = read_delivery(path).frame
    attrs = [json.loads(a) for a in out["attrs"]]
    assert [a["备注对象"] for a in attrs] == [{"a": k, "b": [1, 2]} for k in range(3)]
    assert pd.isna(out["species"].iloc[0])
    assert "马尾松" in out["species"].iloc[1] and "杉木" in out["species"].iloc[1]


def test_shapefile_names_cut_into_the_same_name_are_refused(tmp_path):
    """Two .dbf names that decode to one (cut at 10 bytes inside a GBK
    character): refused, naming the column, rather than one silently lost."""
    gdf = frame()
    gdf["AAAAAAAAA1"] = ["x1", "x2", "x3"]
    gdf["AAAAAAAAA2"] = ["y1", "y2", "y3"]
    path = write(gdf, tmp_path / "d.shp", encoding="GBK")
    dbf = path.with_suffix(".dbf")
    cut1 = "A小班面积".encode("gbk") + "公".encode("gbk")[:1]
    cut2 = "A小班面积".encode("gbk") + "年".encode("gbk")[:1]
    assert len(cut1) == len(cut2) == 10
    data = dbf.read_bytes().replace(b"AAAAAAAAA1", cut1).replace(b"AAAAAAAAA2", cut2)
    dbf.write_bytes(data)
    with pytest.raises(DeliveryError, match="two columns read as 'A小班面积'"):
        read_delivery(path)
