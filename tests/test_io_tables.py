"""One reader for every table file (forestsink.io.read_table; issue 15 defect 10)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from forestsink.cli import progress as progress_cli
from forestsink.cli.main import cli
from forestsink.errors import TableFileError
from forestsink.io import read_bureau_table, read_table, write_table

ROWS = pd.DataFrame(
    {
        "level": ["city", "district"],
        "adcode": ["500000", "500101"],
        "name_zh": ["重庆市", "万州区"],
        "year": [2015, 2015],
        "coverage_pct": [45.5, 50.25],
    }
)


def _write(df: pd.DataFrame, path, kind: str):
    if kind == "csv-utf8":
        path.write_text(df.to_csv(index=False), encoding="utf-8")
    elif kind == "csv-bom":
        path.write_text(df.to_csv(index=False), encoding="utf-8-sig")
    elif kind == "csv-gbk":
        path.write_bytes(df.to_csv(index=False).encode("gbk"))
    elif kind == "xlsx":  # another sheet first: the named one is read
        with pd.ExcelWriter(path) as writer:
            pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="transitions")
            df.to_excel(writer, sheet_name="coverage", index=False)
    else:
        df.to_json(path, orient="records", force_ascii=False)
    return path


KINDS = {
    "csv-utf8": ".csv",
    "csv-bom": ".csv",
    "csv-gbk": ".csv",
    "xlsx": ".xlsx",
    "json": ".json",
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_format_and_encoding_reads_the_same(tmp_path, kind):
    path = _write(ROWS, tmp_path / f"t{KINDS[kind]}", kind)
    got = read_table(path, dtype={"adcode": str}, sheet="coverage")
    assert got["adcode"].tolist() == ["500000", "500101"]
    assert got["name_zh"].tolist() == ["重庆市", "万州区"]
    assert got["coverage_pct"].tolist() == [45.5, 50.25]
    text = (
        read_bureau_table(path)
        if kind != "xlsx"
        else read_table(path, sheet="coverage")
    )
    assert text["name_zh"].tolist() == ["重庆市", "万州区"]
    assert all(isinstance(v, str) for v in text.to_numpy().ravel())


def test_empty_cells_are_empty_text(tmp_path):
    path = tmp_path / "w.xlsx"
    pd.DataFrame({"a": ["x", None], "b": [None, "y"]}).to_excel(path, index=False)
    assert read_table(path).to_numpy().tolist() == [["x", ""], ["", "y"]]


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("fake.xlsx", b"a,b\n1,2\n", "cannot be read as an Excel .xlsx"),
        ("old.xls", b"\xd0\xcf\x11\xe0", "save it as .xlsx"),
        ("t.txt.gz", b"x", "unsupported table format"),
        ("bad.json", b"{not json", "not valid JSON"),
        ("list.json", b"[1, 2]", "not a list of records"),
        ("bad.csv", b'a,b\n"1,2\n', "cannot be parsed as CSV"),
    ],
)
def test_broken_files_give_a_message_naming_the_file(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(TableFileError, match=match) as err:
        read_table(path)
    assert str(path) in str(err.value)
    with pytest.raises(TableFileError, match="no such file"):
        read_table(tmp_path / "missing.csv")


@pytest.mark.parametrize("kind", ["xlsx", "csv-gbk"])
def test_progress_reads_an_excel_or_gbk_coverage_table(
    sample_store, tmp_path, monkeypatch, kind
):
    # was: UnicodeDecodeError traceback (the coverage table was read as CSV)

    seen = {}
    original = progress_cli.progress_tables_compared

    def spy(*args, **kwargs):
        seen["coverage"] = kwargs["coverage"]
        return original(*args, **kwargs)

    monkeypatch.setattr(progress_cli, "progress_tables_compared", spy)
    cov = _write(ROWS, tmp_path / f"cov{KINDS[kind]}", kind)
    result = CliRunner().invoke(
        cli,
        [
            "progress",
            "--store",
            str(sample_store.path),
            "--coverage",
            str(cov),
            "--out",
            str(tmp_path / "p.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    got = seen["coverage"]
    assert got["adcode"].tolist() == ["500000", "500101"]
    assert got["coverage_pct"].tolist() == [45.5, 50.25]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".json"])
def test_unwritable_output_is_a_clear_error(tmp_path, suffix):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(TableFileError, match="cannot write the file"):
        write_table(ROWS, blocker / f"out{suffix}")
    with pytest.raises(TableFileError, match="cannot write the file"):
        write_table(ROWS, Path("/proc/forestsink") / f"out{suffix}")
    result = CliRunner().invoke(
        cli, ["districts", "--out", str(blocker / f"d{suffix}")]
    )
    assert result.exit_code == 1 and "无法写出" in result.output
    assert "Traceback" not in result.output


def test_excel_writers_share_one_sheet_path(tmp_path):
    import openpyxl

    from forestsink import io as fio

    hostile = pd.DataFrame({"=id": ["=1+1", "a\x07b", "ok"], "v": [-5.0, 1.0, 2.0]})
    one = write_table(hostile, tmp_path / "one.xlsx", sheet="data")
    many = fio.write_sheets({"data": hostile}, tmp_path / "many.xlsx")

    def cells(path):
        ws = openpyxl.load_workbook(path)["data"]
        return [(c.value, c.data_type) for row in ws.iter_rows() for c in row]

    assert cells(one) == cells(many)
    assert ("=1+1", "s") in cells(one) and ("=id", "s") in cells(one)
    assert ("a\\x07b", "s") in cells(one)
    assert fio._write_sheet is fio.write_sheet  # the former name still works
    assert not list(tmp_path.glob(".*.part*"))


def test_excel_writes_object_columns_without_text(tmp_path):
    # was: AttributeError (.str on an object column of floats and None), e.g.
    # the conservative bounds of a sample estimate, empty where not needed
    import openpyxl

    frame = pd.DataFrame(
        {
            "bound": pd.Series([None, 41.49], dtype=object),
            "none": pd.Series([None, None], dtype=object),
            "note": pd.Series([None, "=x"], dtype=object),
        }
    )
    write_table(frame, tmp_path / "b.xlsx", sheet="data")
    ws = openpyxl.load_workbook(tmp_path / "b.xlsx")["data"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows == [["bound", "none", "note"], [None, None, None], [41.49, None, "=x"]]
    assert ws.cell(row=3, column=3).data_type == "s"  # text, never a formula
