"""Issue 15: real county exports (../shared/real) and the defects they showed.

Real files are read from ``../shared/real`` relative to the repository root
(never copied into the repository); tests that need them are skipped, with
the reason, only when that folder is absent.
"""

import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from delivery_factory import frame, write

from forestsink.cli.main import cli
from forestsink.errors import DeliveryError
from forestsink.ingest import read_delivery
from forestsink.ingest.encoding import detect_dbf_encoding
from forestsink.validate import validate_delivery

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
needs_real = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"real files folder {REAL} is absent"
)


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
