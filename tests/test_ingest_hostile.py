"""Issue 16 on the ingest path, where the bad-input corpus form does not fit.

* ``--report`` is checked before anything is read or written (item 9);
* a bad ``.cpg`` is one file's error: with ``--skip-errors`` the files before
  and after it land (item 10);
* delivered text echoed by ``ingest``/``validate`` never carries an ESC
  sequence to the terminal;
* the corpus cases of issue 16 through the command line (exit 1, message, no
  traceback, store byte-identical), and the limits' own settings.

Expected values are hand counts (three features per file, one batch per
file), not computed by the code under test.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import zipfile

import openpyxl
import pytest
from bad_input_helpers import dump_store, integrity, load_generator
from click.testing import CliRunner

from forestsink.cli.main import cli
from forestsink.cli.options import byte_size
from forestsink.errors import DeliveryError
from forestsink.ingest import read_delivery
from forestsink.ingest.encoding import check_codec
from forestsink.ingest.values import map_project_types
from forestsink.landing.deliveries import IngestError, ingest_deliveries
from forestsink.store import GeoPackageStore

GEN = load_generator()
CASES = {c.name: c for c in GEN.CASES}

#: the corpus cases added for issue 16 (ingest path)
ISSUE_16 = [
    "shp_more_shapes_than_dbf_records",
    "shp_fewer_shapes_than_dbf_records",
    "shx_truncated",
    "dbf_header_count_past_end",
    "shp_record_past_end",
    "prj_huge",
    *(
        f"cpg_codec_{c}"
        for c in ("zlib", "base64", "hex", "rot13", "uu", "bz2", "idna", "punycode")
    ),
    "zip_bomb_ratio",
    "zip_too_large",
    "zip_lying_size",
    "zip_many_members",
    "zip_duplicate_member",
    "zip_in_zip",
    "zip_symlink_member",
    "too_many_columns",
    "field_value_huge",
    "project_type_negated",
    "project_type_not_done",
    "project_type_failed",
    "project_type_control_char",
    "project_type_cancelled",
]


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("bad16")
    manifest = GEN.make_bad_inputs(out)
    return out, {e["name"]: e for e in manifest}


@pytest.fixture(scope="module")
def base_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("base16")
    good = GEN.write_gpkg(
        GEN.base_frame((108.40, 30.78), prefix="OLD"), folder / "o.gpkg"
    )
    path = folder / "store.gpkg"
    ingest_deliveries([good], GeoPackageStore(path), user="tester")
    return path


@pytest.fixture
def store(base_store, tmp_path):
    path = tmp_path / "store.gpkg"
    shutil.copy2(base_store, path)
    return path


@pytest.fixture
def good(tmp_path):
    return GEN.write_gpkg(
        GEN.base_frame((108.40, 30.76), prefix="NEW"), tmp_path / "新.gpkg"
    )


def test_issue_16_cases_are_in_the_corpus():
    assert set(ISSUE_16) <= set(CASES)
    assert len(ISSUE_16) == 28


# ---------------------------------------------------------------------------
# the corpus cases through the command line, every one
# ---------------------------------------------------------------------------


def _cli_options(entry) -> list[str]:
    return [
        a
        for k, v in entry["options"].items()
        for a in (f"--{k.replace('_', '-')}", str(v))
    ]


@pytest.mark.parametrize("name", ISSUE_16)
def test_issue_16_case_cli(name, corpus, store):
    folder, manifest = corpus
    entry = manifest[name]
    path = folder / entry["path"]
    before, sha = dump_store(store), _sha(store)
    for command in (
        ["ingest", str(path), "--store", str(store)],
        ["validate", str(path)],
    ):
        result = CliRunner().invoke(cli, [*command, *_cli_options(entry)])
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output
        assert entry["expect_code"] in result.output
        assert entry["expect_in_message"] in result.output
    assert _sha(store) == sha
    assert dump_store(store) == before
    assert integrity(store) == "ok"


# ---------------------------------------------------------------------------
# item 9: --report checked before the store is touched
# ---------------------------------------------------------------------------


def _bad_reports(tmp_path):
    (tmp_path / "a_folder.csv").mkdir()
    (tmp_path / "plain_file").write_text("x")
    return {
        "suffix": (str(tmp_path / "issues.txt"), "unsupported report format"),
        "folder": (str(tmp_path / "a_folder.csv"), "is a directory"),  # (click)
        "no folder": (str(tmp_path / "nowhere" / "r.csv"), "does not exist"),
        "under a file": (str(tmp_path / "plain_file" / "r.csv"), "does not exist"),
        "proc": ("/proc/forestsink-report.csv", "cannot be written"),
    }


@pytest.mark.parametrize(
    "kind", ["suffix", "folder", "no folder", "under a file", "proc"]
)
@pytest.mark.parametrize("command", ["ingest", "validate"])
def test_bad_report_path_refused_before_anything(kind, command, good, store, tmp_path):
    report, words = _bad_reports(tmp_path)[kind]
    before, sha = dump_store(store), _sha(store)
    listing = sorted(p.name for p in tmp_path.iterdir())
    args = [command, str(good), "--report", report]
    if command == "ingest":
        args += ["--store", str(store)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output  # a usage error, as click gives
    assert "Traceback" not in result.output
    assert words in result.output
    assert "--report" in result.output
    assert _sha(store) == sha and dump_store(store) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # no probe left


@pytest.mark.parametrize("which", ["delivery", "store"])
def test_report_may_not_overwrite_an_input(which, good, store):
    sha_good, sha_store = _sha(good), _sha(store)
    target = good if which == "delivery" else store
    # (a .gpkg is not a report format: the suffix check would catch it first)
    renamed = target.with_suffix(".csv")
    target.rename(renamed)
    paths = {"delivery": renamed, "store": store} if which == "delivery" else {}
    if which == "store":
        paths = {"delivery": good, "store": renamed}
    result = CliRunner().invoke(
        cli,
        [
            "ingest",
            str(paths["delivery"]),
            "--store",
            str(paths["store"]),
            "--report",
            str(renamed),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "is one of the inputs" in result.output
    assert _sha(renamed) == (sha_good if which == "delivery" else sha_store)


def test_report_with_control_characters_is_written_after_the_batch(tmp_path, store):
    gdf = GEN.base_frame((108.40, 30.76), prefix="CC")
    gdf.loc[1, "工程类别"] = "人工\x01造林\x1b[2J"
    delivery = GEN.write_gpkg(gdf, tmp_path / "cc.gpkg")
    report = tmp_path / "issues.xlsx"
    result = CliRunner().invoke(
        cli,
        [
            "ingest",
            str(delivery),
            "--store",
            str(store),
            "--skip-errors",
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output  # echoed as a visible escape
    assert "\\x1b" in result.output
    sheet = openpyxl.load_workbook(report).active
    values = [c.value for row in sheet.iter_rows() for c in row if c.value]
    assert any("人工" in str(v) for v in values)
    assert len(GeoPackageStore(store).current()) == 3 + 2  # 2 of 3 landed


# ---------------------------------------------------------------------------
# item 10: a bad .cpg is one file's error
# ---------------------------------------------------------------------------


def test_bad_cpg_skipped_others_land(tmp_path, store):
    folder = tmp_path / "run"
    folder.mkdir()
    GEN.write_shp(GEN.base_frame((108.40, 30.76), prefix="A"), folder / "a.shp")
    GEN.write_shp(
        GEN.base_frame((108.40, 30.74), prefix="B"), folder / "b.shp", cpg="zlib"
    )
    GEN.write_shp(GEN.base_frame((108.40, 30.72), prefix="C"), folder / "c.shp")
    report, outcomes = ingest_deliveries(
        [folder], GeoPackageStore(store), skip_errors=True
    )
    files = {o["file"]: o for o in outcomes}
    assert files["a.shp"]["added"] == 3 and files["c.shp"]["added"] == 3
    bad = report.issues[report.issues["file"] == "b.shp"]
    assert list(bad["code"]) == ["unreadable_file"]
    assert "b.cpg" in bad["message"].iloc[0] and "'zlib'" in bad["message"].iloc[0]
    live = set(GeoPackageStore(store).current()["project_id"])
    assert {"A-2013-001", "C-2013-003"} <= live
    assert not any(p.startswith("B-") for p in live)


def test_bad_cpg_cli_skip_errors(tmp_path, store):
    folder = tmp_path / "run"
    folder.mkdir()
    GEN.write_shp(GEN.base_frame((108.40, 30.76), prefix="A"), folder / "a.shp")
    GEN.write_shp(
        GEN.base_frame((108.40, 30.74), prefix="B"), folder / "b.shp", cpg="rot13"
    )
    result = CliRunner().invoke(
        cli, ["ingest", str(folder), "--store", str(store), "--skip-errors"]
    )
    assert "Traceback" not in result.output
    assert "b.shp" in result.output and "'rot13'" in result.output
    assert len(GeoPackageStore(store).current()) == 3 + 3


@pytest.mark.parametrize(
    "name",
    ["zlib", "base64", "hex", "rot13", "uu", "bz2", "idna", "punycode", "a\x00b"],
)
def test_check_codec_refuses_non_text_codecs(name):
    with pytest.raises(DeliveryError):
        check_codec(name, source=".cpg says")


@pytest.mark.parametrize(
    ("name", "codec"),
    [("936", "GB18030"), ("UTF-8", "UTF-8"), ("latin-1", "latin-1"), ("big5", "big5")],
)
def test_check_codec_keeps_text_encodings(name, codec):
    assert check_codec(name) == codec


# ---------------------------------------------------------------------------
# item 7: whole words (the issue's words and controls)
# ---------------------------------------------------------------------------


def test_project_types_whole_words():
    words = [
        "非人工造林",
        "人工造林(未实施)",
        "退耕还林失败",
        "人工\x01造林",
        "不造林",
        "人工造林取消",
        "停止低效林改造",
        "人工造林",
        "长防林三期低效林改造",
        "长江防护林低效林改造",
        "三峡库区生态屏障低效林改造",
        "森林工程-人工造林",
        "石漠化造林",
        "人工造林中幼林抚育",  # two types: not one
    ]
    found = map_project_types(words).astype(object).where(lambda s: s.notna(), None)
    assert found.tolist() == [
        *[None] * 7,
        "afforestation",
        "renovation",
        "renovation",
        "renovation",
        "afforestation",
        "rocky_desertification",
        None,
    ]


def test_users_programme_word_joins_the_vocabulary():
    assert map_project_types(["天保工程人工造林"]).isna().all()
    out = map_project_types(["天保工程人工造林"], programmes=["天保工程"])
    assert out.tolist() == ["afforestation"]


# ---------------------------------------------------------------------------
# item 5 and item 2: details
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("2G", 2 << 30),
        ("500M", 500 << 20),
        ("100k", 100 << 10),
        ("1048576", 1 << 20),
        ("2GiB", 2 << 30),
    ],
)
def test_byte_size(text, size):
    assert byte_size(None, None, text) == size


@pytest.mark.parametrize("text", ["", "-1", "0", "1.5G", "二G", "G"])
def test_byte_size_refuses(text):
    import click

    with pytest.raises(click.BadParameter):
        byte_size(None, None, text)


def test_max_unzipped_in_help():
    result = CliRunner().invoke(cli, ["ingest", "--help"])
    assert "--max-unzipped" in result.output and "2G" in result.output


def test_zip_extracts_only_the_layer(tmp_path):
    """A big non-layer member (a PDF of 64 MiB of zeros) is not even unpacked."""
    src = GEN.write_shp(GEN.base_frame(), tmp_path / "万州.shp")
    members = GEN.shapefile_parts(src)
    members["说明.pdf"] = bytes(64 << 20)
    path = GEN.write_zip(tmp_path / "带说明.zip", members)
    delivery = read_delivery(path)
    assert len(delivery.frame) == 3


def test_cp936_member_names_still_land(tmp_path):
    """Names without the UTF-8 flag (GBK bytes, read as CP437) still match."""
    src = GEN.write_shp(GEN.base_frame(), tmp_path / "a.shp")
    path = tmp_path / "gbk.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in GEN.shapefile_parts(src).items():
            gbk = ("万州" + name[1:]).encode("gbk").decode("cp437")
            zf.writestr(zipfile.ZipInfo(gbk, date_time=GEN.ZIP_DATE_TIME), data)
    assert len(read_delivery(path).frame) == 3


def test_geojson_nested_10000_deep_is_a_clear_error(tmp_path, store):
    depth = 10_000
    path = tmp_path / "深.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        '{"小班号":"WZ-1"},"geometry":{"type":"Polygon","coordinates":'
        + "[" * depth
        + "0"
        + "]" * depth
        + "}}]}",
        encoding="utf-8",
    )
    before = dump_store(store)
    with pytest.raises(IngestError) as info:
        ingest_deliveries([path], GeoPackageStore(store))
    assert "nested" in " ".join(info.value.report.issues["message"])
    assert dump_store(store) == before


def test_shapefile_counts_hand_made(tmp_path):
    """4 shapes, and a .dbf of 4 records whose header was set to 3."""
    shp = GEN.write_shp(GEN.base_frame(n=4), tmp_path / "四.shp")
    dbf = shp.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    assert struct.unpack("<I", data[4:8]) == (4,)  # the hand count
    data[4:8] = struct.pack("<I", 3)
    dbf.write_bytes(bytes(data))
    with pytest.raises(DeliveryError, match=r"holds 4 shapes but the \.dbf 3 records"):
        read_delivery(shp)
