"""Library messages name parameters; the command line adds the flags (#21).

A library error names the parameter in the library's words and carries it
as ``err.options``; the CLI's error printer maps it to its flag
(``forestsink.cli.options.FLAGS``) and prints the hint line
``命令行 / on the command line: --crs EPSG:…`` after the message.
"""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from delivery_factory import frame, write

import forestsink
from forestsink.cli.main import COMMANDS, cli
from forestsink.cli.options import FLAGS, flag_hint
from forestsink.coverage import inspect_raster, read_class_scheme, year_from_name
from forestsink.errors import (
    AccountError,
    CoverageError,
    CRSError,
    RasterWarning,
    StoreError,
)
from forestsink.store.common import parse_as_of
from forestsink.store.users import resolve_districts

PACKAGE = Path(forestsink.__file__).parent
#: the packages whose messages were reworded for #21 (validate's advice and
#: landing's IngestError carry the parameter in the report's ``option``
#: column and on the error; the command line prints the flags)
CHECKED = (
    "coverage",
    "ingest",
    "inventory",
    "sampling",
    "store",
    "carbon",
    "scale",
    "reference",
    "progress",
    "render",
    "validate",
    "landing",
)
#: a long option as it is typed: --word or --word-word, not inside a word
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
#: (file, flag): why it is not one of forestsink's flags
NOT_OUR_FLAGS = {
    ("coverage/rasters.py", "--outfile"): "gdal_calc.py's option, in a command to copy",
    ("coverage/rasters.py", "--type"): "gdal_calc.py's option, in a command to copy",
    ("coverage/rasters.py", "--calc"): "gdal_calc.py's option, in a command to copy",
    ("ingest/shapefile.py", "--config"): "ogr2ogr's option (SHAPE_RESTORE_SHX)",
}
HINT = "命令行 / on the command line:"


def _docstrings(tree: ast.AST) -> set[int]:
    """Return the ids of the docstring nodes of *tree*."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(
            node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        ):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                found.add(id(body[0].value))
    return found


def _modules():
    for package in CHECKED:
        for path in sorted((PACKAGE / package).rglob("*.py")):
            yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text())


def test_no_string_in_the_library_names_a_cli_flag():
    # docstrings are left out: they document the library, and may say which
    # flag of the command line a parameter is (they are not messages)
    found = []
    for name, tree in _modules():
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            if id(node) in docs:
                continue
            for flag in FLAG.findall(node.value):
                if (name, flag) not in NOT_OUR_FLAGS:
                    found.append(f"{name}:{node.lineno}: {flag}")
    assert found == []


def test_the_flag_pattern_finds_flags_and_only_flags():
    # hand-made cases for the check above
    assert FLAG.findall("pass --crs EPSG:4545 or --max-boundary-cells N") == [
        "--crs",
        "--max-boundary-cells",
    ]
    assert FLAG.findall("a—b, 2010--2015, x--y, -- alone, max_cells=3") == []


def _option_names() -> set[str]:
    """Every parameter name a library module passes as ``option=``."""
    names = set()
    for _, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "option":
                for value in ast.walk(node.value):
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        names.add(value.value)
    return names


def test_every_parameter_a_message_carries_has_its_flag():
    names = _option_names()
    assert {"crs", "encoding", "max_cells", "band", "as_of"} <= names
    assert sorted(names - set(FLAGS)) == []


def _cli_flags() -> set[str]:
    """Every long option of every forestsink command."""
    import importlib

    import click

    flags = set()

    def walk(command):
        for param in command.params:
            flags.update(o for o in param.opts if o.startswith("--"))
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                walk(sub)

    for module, attribute, _ in COMMANDS.values():
        walk(getattr(importlib.import_module(module), attribute))
    return flags


def test_every_flag_in_the_table_is_an_option_of_some_command():
    flags = _cli_flags()
    assert sorted(f for f, _ in FLAGS.values() if f not in flags) == []


def test_flag_hint_by_hand():
    err = CRSError("message", option=("crs", "encoding", "crs", "not_a_flag"))
    assert err.option == "crs"
    assert flag_hint(err) == f"{HINT} --crs EPSG:…; --encoding GBK|UTF-8"
    assert flag_hint(CRSError("no parameter")) is None
    assert flag_hint(ValueError("not ours")) is None
    # the base class keeps every existing signature working
    plain = StoreError("locked")
    assert (plain.options, plain.option, str(plain)) == ((), None, "locked")
    assert isinstance(StoreError("x", option="store"), OSError)


def _no_crs_raster(path: Path) -> Path:
    profile = {
        "driver": "GTiff",
        "dtype": "uint8",
        "count": 1,
        "width": 2,
        "height": 2,
        "transform": Affine(10, 0, 0, 0, -10, 20),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NotGeoreferencedWarning
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(np.array([[1, 2], [2, 2]], dtype=np.uint8), 1)
    return path


def _two_band_raster(path: Path) -> Path:
    profile = {
        "driver": "GTiff",
        "dtype": "uint8",
        "count": 2,
        "width": 2,
        "height": 2,
        "crs": "EPSG:4545",
        "transform": Affine(10, 0, 500_000, 0, -10, 3_300_000),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.ones((2, 2, 2), dtype=np.uint8))
    return path


@pytest.mark.parametrize(
    ("call", "error", "parameter", "words"),
    [
        (lambda tmp: year_from_name("landcover.tif"), CoverageError, "years", "years="),
        (lambda tmp: parse_as_of("soon"), StoreError, "as_of", "as_of="),
        (
            lambda tmp: read_class_scheme("custom"),
            CoverageError,
            "classes",
            "classes=FILE",
        ),
        (
            lambda tmp: inspect_raster(_no_crs_raster(tmp / "lc_2010.tif")),
            CRSError,
            "crs",
            "pass it as crs",
        ),
        (
            lambda tmp: inspect_raster(_two_band_raster(tmp / "b.tif"), band=5),
            CoverageError,
            "band",
            "band=1 to 2",
        ),
        (
            lambda tmp: resolve_districts([], role="editor"),
            AccountError,
            "districts",
            "district in districts",
        ),
    ],
)
def test_a_library_error_names_the_parameter_and_no_flag(
    tmp_path, call, error, parameter, words
):
    with pytest.raises(error) as info:
        call(tmp_path)
    text = str(info.value)
    assert words in text
    assert FLAG.findall(text) == []
    assert info.value.option == parameter


def test_a_library_warning_names_the_parameter_and_no_flag(tmp_path):
    path = _two_band_raster(tmp_path / "b.tif")
    with pytest.warns(RasterWarning) as caught:
        inspect_raster(path)
    (item,) = [w for w in caught if issubclass(w.category, RasterWarning)]
    assert "Pass band=N" in str(item.message)
    assert FLAG.findall(str(item.message)) == []
    assert item.message.options == ("band",)


def test_the_same_failure_through_the_cli_shows_the_flag(tmp_path):
    path = _no_crs_raster(tmp_path / "lc_2010.tif")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, ["coverage", str(path), "--out", str(out)])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    error = next(i for i, line in enumerate(lines) if line.startswith("错误 / Error"))
    assert "pass it as crs" in lines[error] and "--crs" not in lines[error]
    assert lines[error + 1] == f"{HINT} --crs EPSG:…"
    assert not out.exists()


def test_a_store_error_through_the_cli_shows_the_flag(tmp_path):
    # nothing at the path: the store is refused, the hint names --store
    store = tmp_path / "none.gpkg"
    result = CliRunner().invoke(cli, ["batches", "--store", str(store)])
    assert result.exit_code == 1, result.output
    assert "no such store" in result.output
    assert f"{HINT} --store" in result.output


def test_a_warning_through_the_cli_shows_the_flag(tmp_path):
    path = _two_band_raster(tmp_path / "b_2020.tif")
    result = CliRunner().invoke(
        cli,
        ["coverage", str(path), "--product", "clcd", "--out", str(tmp_path / "o.csv")],
    )
    assert "Pass band=N" in result.output
    assert f"{HINT} --band N" in result.output


def test_a_file_level_issue_in_the_report_shows_the_flag(tmp_path):
    path = write(frame(n=2).drop(columns=["工程类别"]), tmp_path / "t.gpkg")
    result = CliRunner().invoke(cli, ["validate", str(path), "--type", "森林康养"])
    assert result.exit_code == 1
    assert "project_type: " in result.output
    assert "--type TYPE" in result.output
