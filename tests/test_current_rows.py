"""``current --out`` names the delivered row as validate and the report do.

Issue 15 item 7: the written ``source_row`` counted from 0 while ``validate``
and the issue report count the first feature as row 1.
"""

from __future__ import annotations

import json

import pandas as pd
import pyogrio
from bad_input_helpers import load_generator
from click.testing import CliRunner

from forestsink.cli.main import cli

GEN = load_generator()


def test_current_out_counts_rows_from_one(tmp_path):
    delivery = GEN.write_gpkg(GEN.base_frame(), tmp_path / "万州.gpkg")
    store = tmp_path / "store.gpkg"
    runner = CliRunner()
    ingest = runner.invoke(cli, ["ingest", str(delivery), "--store", str(store)])
    assert ingest.exit_code == 0, ingest.output

    # the same file with the second feature broken: validate calls it row 2
    broken = GEN.base_frame()
    broken.loc[1, "工程类别"] = "森林康养"
    GEN.write_gpkg(broken, tmp_path / "broken.gpkg")
    check = runner.invoke(cli, ["validate", str(tmp_path / "broken.gpkg")])
    assert "第2行/row 2 (fid 2) [WZ-2013-002]" in check.output

    csv = tmp_path / "current.csv"
    out = runner.invoke(cli, ["current", "--store", str(store), "--out", str(csv)])
    assert out.exit_code == 0, out.output
    rows = pd.read_csv(csv).set_index("key")["source_row"].to_dict()
    assert rows == {
        "500101/WZ-2013-001": 1,
        "500101/WZ-2013-002": 2,
        "500101/WZ-2013-003": 3,
    }
    layer = tmp_path / "current.geojson"
    out = runner.invoke(cli, ["current", "--store", str(store), "--out", str(layer)])
    assert out.exit_code == 0, out.output
    read = pyogrio.read_dataframe(layer).set_index("key")["source_row"].to_dict()
    assert read["500101/WZ-2013-002"] == 2
    assert json.loads(layer.read_text(encoding="utf-8"))["features"]


def test_current_help_says_how_rows_count():
    result = CliRunner().invoke(cli, ["current", "--help"])
    assert "counts from 1" in result.output
