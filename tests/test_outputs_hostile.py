"""Hostile delivered text in outputs (issue 16 items 1 and 8).

Formula injection (CWE-1236) in every Excel and CSV output, and Rich markup
in everything the CLI prints as a table.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from affine import Affine
from click.testing import CliRunner
from delivery_factory import frame, write
from pyproj import CRS

from forestsink.area import CHONGQING_ALBERS
from forestsink.cli.main import cli
from forestsink.cli.table import print_table
from forestsink.errors import ForestsinkError
from forestsink.io import write_table

#: OWASP CSV-injection triggers (the oracle, not the code under test)
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

HOSTILE = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+2",
    "-2+3",
    "@SUM(1)",
    "\t=1",
    "\r=1",
    "=cmd|' /C calc'!A0",
]


def assert_no_formula(path: Path) -> None:
    """No formula cell in any sheet, by openpyxl and in the raw sheet XML."""
    book = openpyxl.load_workbook(path)
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = zf.read(name).decode("utf-8")
                assert "<f>" not in xml and "<f " not in xml, name


def csv_text_cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [cell for row in csv.reader(f) for cell in row]


# --------------------------------------------------------------------------
# item 1: the table writer
# --------------------------------------------------------------------------


def test_write_table_xlsx_keeps_text_exact_and_inert(tmp_path):
    df = pd.DataFrame(
        {
            "text": [*HOSTILE, "bell\x07 and \x1b escape"],
            "number": np.arange(len(HOSTILE) + 1) - 5.0,
        }
    ).rename(columns={"text": "=header"})
    path = write_table(df, tmp_path / "t.xlsx")
    assert_no_formula(path)
    ws = openpyxl.load_workbook(path).active
    assert ws["A1"].value == "=header"
    values = [ws.cell(row=r, column=1).value for r in range(2, len(HOSTILE) + 2)]
    assert values[0] == HOSTILE[0] and values[1:4] == HOSTILE[1:4]
    # control characters openpyxl refuses: visible escapes, the write succeeds
    assert ws.cell(row=len(HOSTILE) + 2, column=1).value == "bell\\x07 and \\x1b escape"
    # numbers stay numbers (a negative number is not text)
    assert ws["B2"].value == -5.0 and ws["B2"].data_type == "n"


def test_write_table_csv_quotes_triggers_not_numbers(tmp_path):
    df = pd.DataFrame({"text": HOSTILE, "number": -np.arange(1.0, len(HOSTILE) + 1)})
    path = write_table(df, tmp_path / "t.csv")
    got = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False)
    assert got["text"].tolist() == ["'" + v for v in HOSTILE]
    assert got["number"].tolist() == df["number"].tolist()  # still numbers
    text_cells = [
        c for c in csv_text_cells(path) if not c.lstrip("-").replace(".", "").isdigit()
    ]
    assert not [c for c in text_cells if c.startswith(TRIGGERS)]


@pytest.fixture
def hostile_store(tmp_path):
    """A store holding polygons whose ids and source file name are formulas."""
    gdf = frame(ids=[HOSTILE[0], "+1+2", "@SUM(1)"])
    gdf.loc[1, "工程类别"] = HOSTILE[-1]  # an error: reported with its value
    path = write(gdf, tmp_path / "=1+1.geojson")
    store = tmp_path / "s.gpkg"
    result = CliRunner().invoke(
        cli,
        ["ingest", str(path), "--store", str(store), "--user", "=x", "--skip-errors"],
    )
    assert result.exit_code == 0, result.output
    return path, store


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_current_and_validate_outputs_have_no_live_formula(
    tmp_path, hostile_store, suffix
):
    delivery, store = hostile_store
    current = tmp_path / f"current{suffix}"
    report = tmp_path / f"report{suffix}"
    runner = CliRunner()
    res = runner.invoke(cli, ["current", "--store", str(store), "--out", str(current)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["validate", str(delivery), "--report", str(report)])
    assert report.exists(), res.output
    for path in (current, report):
        if suffix == ".xlsx":
            assert_no_formula(path)
            cells = [
                c.value
                for ws in openpyxl.load_workbook(path).worksheets
                for row in ws.iter_rows()
                for c in row
            ]
            # the exact text is kept (a string cell, not a formula)
            want = (
                [HOSTILE[0], "@SUM(1)"] if path == current else ["=1+1.geojson", "+1+2"]
            )
            assert set(want) <= set(cells)
        else:
            cells = csv_text_cells(path)
            want = (
                [HOSTILE[0], "@SUM(1)"] if path == current else ["=1+1.geojson", "+1+2"]
            )
            assert {"'" + w for w in want} <= set(cells)
            assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]


def test_coverage_xlsx_zone_ids_are_not_formulas(tmp_path):
    albers = CRS.from_user_input(CHONGQING_ALBERS)
    tif = tmp_path / "lc_2015.tif"
    with rasterio.open(
        tif,
        "w",
        driver="GTiff",
        dtype="uint8",
        count=1,
        width=2,
        height=2,
        transform=Affine(10, 0, 0, 0, -10, 20),
        crs=albers,
        nodata=0,
    ) as dst:
        dst.write(np.array([[2, 1], [1, 2]], dtype="uint8"), 1)
    zones = tmp_path / "z.gpkg"
    gpd.GeoDataFrame(
        {"zone_id": [HOSTILE[0], "-1"], "name": ["@x", "+y"]},
        geometry=[shapely.box(0, 0, 10, 20), shapely.box(10, 0, 20, 20)],
        crs=albers,
    ).to_file(zones)
    out = tmp_path / "cov.xlsx"
    result = CliRunner().invoke(
        cli, ["coverage", str(tif), "--zones", str(zones), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert_no_formula(out)
    sheet = pd.read_excel(out, sheet_name="coverage", dtype={"zone_id": str})
    assert HOSTILE[0] in sheet["zone_id"].tolist()


# --------------------------------------------------------------------------
# item 8: Rich markup in printed values
# --------------------------------------------------------------------------


def test_markup_in_ids_users_reasons_and_file_names_is_printed_as_written(tmp_path):
    gdf = frame(ids=["[/x]", "[bold]P2", ":cn:"])
    path = tmp_path / "[bold red]BOOM.gpkg"
    pyogrio.write_dataframe(gdf, path, layer="projects")
    store = tmp_path / "s.gpkg"
    runner = CliRunner()
    res = runner.invoke(
        cli, ["ingest", str(path), "--store", str(store), "--user", "[/user]"]
    )
    assert res.exit_code == 0, res.output
    assert "[bold red]BOOM.gpkg" in res.output
    res = runner.invoke(
        cli,
        [
            "withdraw",
            "500101/[bold]P2",
            "--store",
            str(store),
            "--reason",
            "[red]wrong[/]",
            "--user",
            "[/x]",
        ],
    )
    assert res.exit_code == 0, res.output
    # every later listing still works and shows the text as written
    for args in (
        ["batches", "--store", str(store)],
        ["history", "500101/[/x]", "--store", str(store)],
        ["history", "500101/[bold]P2", "--store", str(store)],
        ["current", "--store", str(store)],
    ):
        res = runner.invoke(cli, args)
        assert res.exit_code == 0, (args, res.output)
        assert "Traceback" not in res.output and "MarkupError" not in res.output
    flat = "".join(
        runner.invoke(cli, ["batches", "--store", str(store)]).output.split()
    )
    assert "[/user]" in flat and "[bold" in flat
    history = runner.invoke(cli, ["history", "500101/[/x]", "--store", str(store)])
    assert "[/x]" in "".join(history.output.split())


def test_terminal_control_sequences_are_shown_not_acted_on(monkeypatch, capsys):
    print_table(pd.DataFrame({"id\x1b]0;x\x07": ["P\x1b[2J1", "ok\rFAKE"]}))
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out
    assert "P\\x1b[2J1" in out and "ok\\x0dFAKE" in out

    command = cli.commands["current"]

    def fail(*_a, **_k):
        raise ForestsinkError("bad value 'P\x1b[31mRED'")

    monkeypatch.setattr(command, "callback", fail)
    monkeypatch.setattr(command, "params", [])
    result = CliRunner().invoke(cli, ["current"])
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "P\\x1b[31mRED" in result.output
