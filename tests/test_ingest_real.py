"""Issue 15: real county exports (../shared/real) and the defects they showed.

Real files are read from ``../shared/real`` relative to the repository root
(never copied into the repository); a test that needs them fails, naming
the path, when that folder is absent (``real_files.real_file``).
"""

import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from delivery_factory import frame, write
from real_files import REAL, real_file

from forestsink.cli.main import cli
from forestsink.errors import DeliveryError
from forestsink.ingest import read_delivery
from forestsink.ingest.encoding import detect_dbf_encoding
from forestsink.validate import validate_delivery

needs_real = pytest.mark.usefixtures("real_folder")


@pytest.fixture
def real_folder() -> Path:
    """The real files' folder; the test fails (not skips) when it is absent."""
    return real_file()


def _set_ldid(dbf: Path, ldid: int) -> None:
    data = bytearray(dbf.read_bytes())
    data[29] = ldid
    dbf.write_bytes(bytes(data))


# ---- defect 3: GBK whose bytes are also valid UTF-8 --------------------------

#: the words of data/forest_types.csv whose GBK bytes are valid UTF-8 (found
#: by hand: 杉 = C9 BC, 木 = C4 BE, 缺省值 = C8 B1 CA A1 D6 B5)
GBK_ALSO_UTF8 = ["杉木", "杉", "IPCC缺省值"]


@pytest.mark.parametrize("word", GBK_ALSO_UTF8)
def test_gbk_word_that_is_valid_utf8_is_still_gbk(word):
    data = word.encode("gbk")
    assert data.decode("utf-8") != word  # the trap: valid UTF-8, wrong text
    header = bytearray(32)
    struct.pack_into("<H", header, 8, 32)
    records = bytes(header) + data
    # without a language driver: scored, the CJK reading wins
    assert detect_dbf_encoding(records)[0] == "GB18030"
    # with the driver byte ArcGIS writes on Chinese Windows (0x4D = cp936)
    header[29] = 0x4D
    codec, reason = detect_dbf_encoding(bytes(header) + data)
    assert codec == "GB18030" and "0x4D" in reason


@pytest.mark.parametrize("word", GBK_ALSO_UTF8)
def test_species_word_survives_a_gbk_shapefile_without_cpg(tmp_path, word):
    # every other value ASCII: the species word is the only non-ASCII text
    gdf = frame(n=1, district="500101", types=("110",))
    gdf["树种"] = word
    path = write(gdf, tmp_path / "s.shp", encoding="GBK", cpg=False)
    _set_ldid(path.with_suffix(".dbf"), 0)  # no driver byte: the guess decides
    d = read_delivery(path)
    assert d.frame["species"].iloc[0] == word


def test_utf8_chinese_without_cpg_stays_utf8(tmp_path):
    gdf = frame(n=1)
    gdf["树种"] = "杉木"
    path = write(gdf, tmp_path / "u.shp", encoding="UTF-8", cpg=False)
    _set_ldid(path.with_suffix(".dbf"), 0x4D)  # a wrong driver byte
    d = read_delivery(path)
    assert d.encoding == "UTF-8" and d.frame["species"].iloc[0] == "杉木"


@needs_real
@pytest.mark.parametrize(
    "name", ["shamu_gbk_no_cpg/sm.shp", "zip_cp936/delivery_cp936.zip"]
)
def test_real_gbk_without_cpg_reads_shamu(name):
    d = read_delivery(REAL / "derived" / name)
    # SOURCES.md: YOU_SHI_SZ = 杉木 in GBK, two boxes in 万州区
    assert d.frame["species"].tolist() == ["杉木", "杉木"]
    assert d.encoding == "GB18030"


# ---- defect 11: text destroyed before delivery -------------------------------


@needs_real
@pytest.mark.parametrize("encoding", [None, "GBK"])
def test_real_destroyed_text_is_named_with_its_rows(encoding):
    dbf = (REAL / "ncl_chinamap" / "rivers.dbf").read_bytes()
    header_len, record_len = struct.unpack("<HH", dbf[8:12])
    n = struct.unpack("<I", dbf[4:8])[0]
    records = [
        dbf[header_len + i * record_len : header_len + (i + 1) * record_len]
        for i in range(n)
    ]
    rows = [i + 1 for i, r in enumerate(records) if b"\xef\xbf\xbd" in r]
    with pytest.raises(DeliveryError) as err:
        read_delivery(REAL / "ncl_chinamap" / "rivers.shp", encoding=encoding)
    text = str(err.value)
    assert "destroyed before delivery" in text and "已被破坏" in text
    assert f"{len(rows)} row(s) ({rows[0]}, {rows[1]}," in text
    assert "cannot bring them back" in text


# ---- defect 7: rows counted from 1, fid shown --------------------------------


def test_rows_count_from_one_and_show_the_fid(tmp_path):
    gdf = frame(n=3)
    gdf.loc[1, "年度"] = 1999  # the second feature: row 2 for a person
    path = write(gdf, tmp_path / "d.gpkg")
    import sqlite3

    with sqlite3.connect(path) as db:  # QGIS shows these fids: 11, 12, 13
        table = db.execute(
            "select table_name from gpkg_contents where data_type='features'"
        ).fetchone()[0]
        for (name,) in db.execute(
            "select name from sqlite_master where type='trigger'"
        ):
            db.execute(f'drop trigger "{name}"')  # (need SpatiaLite functions)
        db.execute(f'update "{table}" set fid = fid + 10')
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "year_out_of_range" in x)
    assert "第2行/row 2" in line and "(fid 12)" in line


# ---- defect 13: fix messages say what was done -------------------------------


def test_fix_messages_say_what_was_done(tmp_path):
    from shapely.geometry import Polygon

    gdf = frame(n=2)
    x0, y0, x1, y1 = gdf.geometry.iloc[0].bounds
    # a bow tie: two triangles of equal area meeting at the centre
    gdf.loc[0, "geometry"] = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    d = read_delivery(write(gdf, tmp_path / "b.gpkg"))
    issues = validate_delivery(d.frame, fix=True).issues
    fixed = issues[issues["severity"] == "fixed"].iloc[0]
    assert not fixed["action"].startswith("none")
    # make_valid keeps both triangles: 2 parts; the shoelace area of a bow
    # tie is 0 (the halves cancel), so the change is not a finite share
    assert "2 valid polygon part(s)" in fixed["message"]
    assert "已自动修复" in fixed["action"]
    assert np.isfinite(issues["row"].astype(float)).all()


# ---- defect 1: two columns with one meaning ----------------------------------


@needs_real
def test_real_xiao_ban_and_xmbh_both_present_load():
    # forestmanager/intersect.shp: XIAO_BAN (empty) and XMBH (8, 0), XIAN and
    # XIANG/LIN_BAN empty; today refused "both mean 'project_id'"
    d = read_delivery(
        REAL / "forestmanager" / "intersect.shp",
        year=2013,
        district="万州区",
        project_type="人工造林",
    )
    assert d.frame["project_id"].tolist() == ["8", "0"]  # XMBH fills the gap
    assert d.columns["xiaoban"] == "XIAO_BAN"
    assert d.columns["project_code"] == "XMBH"


@needs_real
def test_real_code_and_name_columns_agree_row_by_row():
    # meteva_boul_cq_lines: 区县代码 (PAC) and NAME for 282 lines; every code
    # has one name in the file (checked by hand with pandas): no conflict
    d = read_delivery(
        REAL / "derived" / "meteva_boul_cq_lines" / "boul_cq_lines.shp", year=2013
    )
    assert d.columns["district"] == "区县代码"
    assert any("'区县代码' is used" in n and "'NAME'" in n for n in d.notes)
    assert d.frame["adcode"].notna().all()
    assert "column_conflicts" not in d.frame or d.frame["column_conflicts"].isna().all()


def test_disagreeing_columns_warn_per_row_and_fill_gaps(tmp_path):
    gdf = frame(n=3)
    gdf["区县代码"] = ["500101", "500101", None]
    gdf["区县"] = ["万州区", "涪陵区", "万州区"]  # row 2 disagrees
    gdf["YOU_SHI_SZ"] = ["杉木", "马尾松", None]
    gdf["SZ_ZC"] = ["7杉3马", "10柏", "10杉"]  # row 2 disagrees (no shared word)
    d = read_delivery(write(gdf, tmp_path / "two.gpkg"))
    f = d.frame
    assert f["adcode"].tolist() == ["500101"] * 3  # the code wins, row 3 filled
    assert f["species"].tolist() == ["杉木", "马尾松", "10杉"]
    issues = validate_delivery(f).issues
    warned = issues[issues["code"] == "columns_disagree"]
    assert warned["row"].tolist() == [1]  # 0-based position: row 2 for people
    message = warned["message"].iloc[0]
    assert "区县代码='500101' vs 区县='涪陵区'" in message
    assert "YOU_SHI_SZ='马尾松' vs SZ_ZC='10柏'" in message


def test_xiao_ban_within_lin_ban_within_township(tmp_path):
    gdf = frame(n=2).drop(columns=["小班号"])
    gdf["XIANG"] = ["500101001", "500101001"]
    gdf["LIN_BAN"] = ["0012", "0013"]
    gdf["XIAO_BAN"] = ["045", "045"]  # one 小班 number in two 林班: not duplicate
    d = read_delivery(write(gdf, tmp_path / "k.gpkg"))
    assert d.frame["project_id"].tolist() == [
        "500101001-0012-045",
        "500101001-0013-045",
    ]
    assert validate_delivery(d.frame).ok


# ---- defect 4: truncated-name matching ---------------------------------------


def test_short_names_are_not_read_as_truncations():
    from forestsink.ingest.columns import map_columns

    m = map_columns(["XBH", "XIAN", "ZLND", "ZAO_LIN_LB", "ZL", "XM", "JH", "HS"])
    assert m.extra == ["ZL", "XM", "JH", "HS"]  # today: year, id, year, area


def test_real_names_are_recognised():
    from forestsink.ingest.columns import map_columns

    names = ["小班", "小班面", "县代码", "林班", "年度", "XMLX", "G_CHENG_LB"]
    m = map_columns([*names, "小班蓄积", "SPMJ", "YXMJ", "ZY_MIAN_JI", "ZYSZ"])
    assert m.mapping == {
        "xiaoban": "小班",
        "area_unknown": "小班面",
        "district": "县代码",
        "compartment": "林班",
        "year": "年度",
        "project_type": "XMLX",
        "programme": "G_CHENG_LB",
        "stock_volume_m3": "小班蓄积",
        "species": "ZYSZ",
    }
    # approved, effective, occupied areas are not the polygon's own: kept
    assert m.extra == ["SPMJ", "YXMJ", "ZY_MIAN_JI"]
    for names, canonical in [
        (["NAME", "PAC"], "district"),
        (["NAME2004", "AD2004"], "district"),
        (["dt_adcode", "dt_name"], "district"),
        (["XZQDM", "XZQMC"], "district"),
        (["XIAN_DM", "XIAN_MC"], "district"),
        (["QXDM"], "district"),
        (["SJNF"], "year"),
        (["ND"], "year"),
        (["NF"], "year"),
        (["SHU_ZHONG"], "species"),
        (["LB"], "compartment"),  # 林班, whole name only
        (["XB"], "xiaoban"),  # 小班, whole name only
    ]:
        got = map_columns([*names, "编号", "年度", "区县", "type"])
        kept = got.alternates.get(canonical, [got.mapping[canonical]])
        assert set(names) <= set(kept), names


def test_names_are_whole_outside_shapefiles():
    from forestsink.ingest.columns import map_columns

    cols = ["编号", "年度", "区县", "type", "HUO_LMGQX"]
    assert "HUO_LMGQX" in map_columns(cols, truncated_names=False).extra


# ---- defect 5: an empty column takes the file-level value --------------------


def test_empty_district_and_type_take_the_file_values(tmp_path):
    gdf = frame(n=3)
    gdf["区县"] = [None, "涪陵区", None]
    gdf["工程类别"] = [None, None, "退耕还林"]
    path = write(gdf, tmp_path / "e.gpkg")
    d = read_delivery(path, district="万州区", project_type="人工造林")
    assert d.frame["adcode"].tolist() == ["500101", "500102", "500101"]
    assert d.frame["project_type"].tolist() == [
        "afforestation",
        "afforestation",
        "grain_to_green",
    ]


@needs_real
def test_real_empty_xian_takes_district_option():
    d = read_delivery(
        REAL / "forestmanager" / "intersect.shp",
        year=2013,
        district="500101",
        project_type="110",  # a ZAO_LIN_LB code: 人工造林
    )
    assert d.frame["adcode"].tolist() == ["500101", "500101"]
    assert d.frame["project_type"].tolist() == ["afforestation"] * 2


# ---- defect 2: --type, --programme, the user's aliases file ------------------


def _aliases(path, rows):
    path.write_text(
        "kind,alias,means,note\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    return path


def test_type_and_programme_for_the_whole_file_in_the_cli(tmp_path):
    gdf = frame(n=2).drop(columns=["工程类别"])
    path = write(gdf, tmp_path / "t.gpkg")
    args = ["validate", str(path), "--type", "人工造林", "--programme", "30"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    d = read_delivery(path, project_type="人工造林", programme="30")
    # G_CHENG_LB 30 = 退耕还林 (field-names.md code table)
    assert d.frame["programme"].tolist() == ["退耕还林"] * 2
    bad = CliRunner().invoke(cli, ["validate", str(path), "--type", "森林康养"])
    # the library names its parameter; the report of a file it cannot read
    # does not carry the flag yet (test_flag_hints: landing keeps no options)
    assert (
        bad.exit_code == 1
        and "project_type: " in bad.output
        and "Traceback" not in (bad.output)
    )


def test_user_aliases_file_is_merged_over_the_shipped_tables(tmp_path):
    gdf = frame(n=2).rename(columns={"工程类别": "ZLLX", "区县": "乡村振兴片区"})
    gdf["ZLLX"] = ["封山育林", "封山育林"]
    gdf["乡村振兴片区"] = ["五桥", "五桥"]
    path = write(gdf, tmp_path / "u.gpkg")
    with pytest.raises(DeliveryError) as err:
        read_delivery(path)
    assert "column_aliases.csv" not in str(err.value)
    assert "aliases file" in str(err.value)
    own = _aliases(
        tmp_path / "mine.csv",
        [
            "column,ZLLX,project_type,our 造林类型",
            "column,乡村振兴片区,district,",
            "district,五桥,万州区,五桥 was 万县市's district until 1998",
            "project_type,封山育林,tending,",
        ],
    )
    d = read_delivery(path, aliases=[own])
    assert d.frame["adcode"].tolist() == ["500101"] * 2
    assert d.frame["project_type"].tolist() == ["tending"] * 2


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("colum,ZLLX,project_type,", "kind"),
        ("column,ZLLX,projekt_type,", "means"),
        ("district,五桥,五桥镇,", "means"),
        ("project_type,封山育林,forest_spa,", "means"),
        ("column,,district,", "alias"),
    ],
)
def test_user_aliases_file_errors_name_row_and_column(tmp_path, row, column):
    from forestsink.errors import ReferenceDataError
    from forestsink.ingest.vocabulary import read_vocabulary

    own = _aliases(tmp_path / "bad.csv", ["column,ZL_X,year,", row])
    with pytest.raises(ReferenceDataError) as err:
        read_vocabulary([own])
    assert f"第3行 row 3, column '{column}'" in str(err.value)


def test_per_store_and_per_user_aliases_files_are_read(tmp_path, monkeypatch):
    from forestsink.ingest.vocabulary import user_aliases_path

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    gdf = frame(n=2).rename(columns={"年度": "ZJND", "区县": "QY"})
    path = write(gdf, tmp_path / "s.gpkg")
    user = user_aliases_path()
    assert str(user).startswith(str(tmp_path / "config"))
    user.parent.mkdir(parents=True)
    _aliases(user, ["column,QY,district,"])
    store = tmp_path / "store" / "projects.gpkg"
    store.parent.mkdir()
    _aliases(store.parent / "forestsink_aliases.csv", ["column,ZJND,year,"])
    ok = CliRunner().invoke(cli, ["ingest", str(path), "--store", str(store)])
    assert ok.exit_code == 0, ok.output
    # validate has no store: only the user's file, so ZJND is unknown
    plain = CliRunner().invoke(cli, ["validate", str(path)])
    assert plain.exit_code == 1 and "ZJND" in plain.output
    assert str(user) in plain.output or "aliases file" in plain.output


# ---- defect 6: names and codes in force since 1997 ---------------------------

#: county-level cities until 2006 and the districts they became (by hand,
#: from the 1997 and 2004 code lists)
CITIES_UNTIL_2006 = {
    "江津市": ("500381", "500116"),
    "合川市": ("500382", "500117"),
    "永川市": ("500383", "500118"),
    "南川市": ("500384", "500119"),
}


@pytest.mark.parametrize("name", sorted(CITIES_UNTIL_2006))
def test_cities_until_2006_resolve_by_name_and_code(name):
    from forestsink.reference import resolve_district

    old_code, today = CITIES_UNTIL_2006[name]
    assert resolve_district(name) == today
    assert resolve_district(old_code) == today


@needs_real
def test_real_2004_county_list_resolves_name_and_code_alike():
    import pyogrio

    from forestsink.reference import resolve_district

    table = pyogrio.read_dataframe(
        REAL / "ncl_chinamap" / "county_2004.dbf", encoding="gbk", read_geometry=False
    )
    cq = table[table["AD2004"].astype(str).str.startswith("50")]
    assert len(cq) == 40  # 40 units in 2004 (万盛区, 双桥区 still apart)
    for code, name in zip(cq["AD2004"], cq["NAME2004"], strict=True):
        assert resolve_district(str(code)) == resolve_district(name), (code, name)
    assert resolve_district("500382") == resolve_district("合川区") == "500117"


@needs_real
def test_real_pre_2011_names_resolve():
    import json

    from forestsink.reference import resolve_district

    data = json.loads(
        (REAL / "longwosion_geojson_map_china" / "50.json").read_text("utf-8-sig")
    )
    names = [f["properties"]["name"] for f in data["features"]]
    assert {"万盛区", "双桥区", "綦江县", "大足县"} <= set(names)
    assert all(resolve_district(n) for n in names)


def test_unknown_code_suggests_codes_and_names():
    from forestsink.errors import UnknownNameError
    from forestsink.reference import resolve_district

    with pytest.raises(UnknownNameError) as err:
        resolve_district("500385")
    text = str(err.value)
    assert "500384 南川市 1997–2006 (→ 500119 南川区)" in text


def test_type_codes_are_read_through_the_code_tables(tmp_path):
    gdf = frame(n=3).rename(columns={"工程类别": "ZAO_LIN_LB"})
    gdf["ZAO_LIN_LB"] = ["110", "122", "116"]  # 人工造林, 低产林改造, 封山育林
    gdf["G_CHENG_LB"] = ["30", "42", None]  # 退耕还林, 石漠化 (field-names.md)
    d = read_delivery(write(gdf, tmp_path / "c.gpkg"))
    assert d.frame["project_type"].tolist()[:2] == ["afforestation", "renovation"]
    assert d.frame["programme"].tolist()[:2] == ["退耕还林", "石漠化综合治理"]
    issues = validate_delivery(d.frame).issues
    unknown = issues[issues["code"] == "unknown_project_type"]
    assert unknown["row"].tolist() == [2]
    assert "ZAO_LIN_LB 封山育林" in unknown["message"].iloc[0]


def test_a_bare_name_column_is_not_a_district_when_district_is_given(tmp_path):
    gdf = frame(n=2).drop(columns=["区县"])
    gdf["name"] = ["2013年人工造林一期", "2013年人工造林二期"]  # project names
    d = read_delivery(write(gdf, tmp_path / "n.geojson"), district="万州区")
    assert d.frame["adcode"].tolist() == ["500101"] * 2
    assert "name" in d.frame["attrs"].iloc[0]


def test_empty_district_and_year_cells_point_to_the_file_options(tmp_path):
    gdf = frame(n=2)
    gdf["区县"] = [None, "万州区"]
    gdf["年度"] = [2013, None]
    d = read_delivery(write(gdf, tmp_path / "x.gpkg"))
    issues = validate_delivery(d.frame).issues.set_index("code")
    assert "<NA>" not in " ".join(issues["message"])  # today: "unknown district '<NA>'"
    # the report names the parameter; the command line shows its flag
    assert issues.loc["unknown_district", "option"] == "district"
    assert issues.loc["year_missing", "option"] == "year"
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "x.gpkg")])
    assert "--district NAME" in result.output and "--year YEAR" in result.output


def test_a_bad_aliases_file_is_the_users_error_not_the_deliveries(tmp_path):
    path = write(frame(n=1), tmp_path / "ok.gpkg")
    bad = _aliases(tmp_path / "bad.csv", ["column,ZLLX,projekt_type,"])
    result = CliRunner().invoke(cli, ["validate", str(path), "--aliases", str(bad)])
    assert result.exit_code == 1
    assert "第2行 row 2, column 'means'" in result.output
    assert "unreadable_file" not in result.output and "Traceback" not in result.output


def test_three_columns_name_the_one_that_gave_the_value(tmp_path):
    gdf = frame(n=2)
    gdf["区县代码"] = [None, 500101.0]  # a float column, as Excel exports
    gdf["XIAN"] = ["500102", None]
    gdf["区县"] = ["万州区", "涪陵区"]  # both rows disagree with the code used
    d = read_delivery(write(gdf, tmp_path / "three.gpkg"))
    assert d.frame["adcode"].tolist() == ["500102", "500101"]
    assert d.frame["column_conflicts"].tolist() == [
        "XIAN='500102' vs 区县='万州区'",
        "区县代码='500101.0' vs 区县='涪陵区'",
    ]


@needs_real
def test_real_rows_count_from_one_and_fixes_say_what_was_done():
    import json

    import shapely

    path = REAL / "derived" / "lw" / "50_derived.json"
    features = json.loads(path.read_text("utf-8-sig"))["features"]
    bad = [
        i
        for i, f in enumerate(features)
        if not shapely.geometry.shape(f["geometry"]).is_valid
    ]
    first = features[bad[0]]["properties"]["编号"]
    plain = CliRunner().invoke(cli, ["validate", str(path)])
    assert f"第{bad[0] + 1}行/row {bad[0] + 1} [{first}]" in plain.output
    fixed = CliRunner().invoke(cli, ["validate", str(path), "--fix"])
    assert fixed.exit_code == 0
    assert fixed.output.count("已修复 FIXED invalid_geometry") == len(bad)
    assert "→ none" not in fixed.output
