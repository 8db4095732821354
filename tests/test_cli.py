"""The command line: help, exit codes, messages."""

import builtins
import importlib
import inspect
import logging
import subprocess
import sys
import warnings

import click
import pytest
from click.testing import CliRunner

from forestsink.cli.main import COMMANDS, cli
from forestsink.cli.options import configure_logging


def test_help_is_bilingual():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "森林碳汇" in result.output and "forest carbon sink" in result.output
    for command in ("districts", "resolve", "check-data", "map"):
        assert command in result.output


def test_python_dash_m_works():
    out = subprocess.run(
        [sys.executable, "-m", "forestsink", "resolve", "开县"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "500154" in out.stdout and "开州区" in out.stdout


def test_resolve_exit_codes():
    runner = CliRunner()
    ok = runner.invoke(cli, ["resolve", "潼南县", "Shizhu"])
    assert ok.exit_code == 0
    assert "500152\t潼南区" in ok.output and "500240" in ok.output
    bad = runner.invoke(cli, ["resolve", "开洲区"])
    assert bad.exit_code == 1
    assert "开州区" in bad.output  # closest names suggested


def test_check_data_ok_and_bad_override(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["check-data"])
    assert ok.exit_code == 0, ok.output
    assert "districts.gpkg: 38 rows" in ok.output
    bad = tmp_path / "rules.csv"
    bad.write_text("project_type,name_zh\nforest,林\n", encoding="utf-8")
    result = runner.invoke(cli, ["check-data", "--rules", str(bad)])
    assert result.exit_code == 1
    assert "rules.csv" in result.output
    assert "Traceback" not in result.output


def test_districts_outputs(tmp_path):
    runner = CliRunner()
    listing = runner.invoke(cli, ["districts"])
    assert listing.exit_code == 0 and "开州区" in listing.output
    csv = tmp_path / "d.csv"
    assert runner.invoke(cli, ["districts", "--out", str(csv)]).exit_code == 0
    text = csv.read_text(encoding="utf-8-sig")
    assert text.count("\n") == 39 and "Kaizhou District" in text
    bad = runner.invoke(cli, ["districts", "--out", str(tmp_path / "d.txt")])
    assert bad.exit_code == 1 and "unsupported" in bad.output


def test_import_is_light():
    code = (
        "import sys, forestsink; "
        "bad = [m for m in ('folium', 'pandera', 'sqlalchemy', 'psycopg', "
        "'matplotlib') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_help_lists_every_command_without_importing_them():
    code = (
        "import sys\n"
        "from forestsink.cli.main import cli\n"
        "try:\n"
        "    cli(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('forestsink.store', 'forestsink.coverage', 'forestsink.render', "
        "'forestsink.web', 'rasterio', 'matplotlib', 'folium', 'dask', 'uvicorn', "
        "'starlette', 'psycopg', 'selenium')\n"
        "print('LOADED', sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "LOADED []" in out.stdout
    for name in COMMANDS:
        assert f"\n  {name} " in out.stdout


def test_listed_help_is_each_commands_own():
    ctx = click.Context(cli)
    for name, (module, attribute, first) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is getattr(importlib.import_module(module), attribute)
        assert inspect.cleandoc(command.help).split("\n\n")[0] == first, name
        for limit in (30, 45, 80):
            listed = click.Command(name, help=first).get_short_help_str(limit)
            assert command.get_short_help_str(limit) == listed


@pytest.mark.parametrize(
    ("flags", "level"),
    [
        ([], logging.WARNING),
        (["-v"], logging.INFO),
        (["-vv"], logging.DEBUG),
        (["-q"], logging.ERROR),
    ],
)
def test_v_and_q_set_the_forestsink_logger(monkeypatch, flags, level):
    import forestsink.cli.reference as reference_cli

    logger = logging.getLogger("forestsink")
    before, handlers = logger.level, list(logger.handlers)
    seen = {}

    def spy(names):
        seen["level"] = logger.level
        seen["ours"] = [
            h for h in logger.handlers if type(h).__name__ == "_StderrHandler"
        ]
        logging.getLogger("forestsink.reference").info("resolving %s", names)

    monkeypatch.setattr(reference_cli.resolve_cmd, "callback", spy)
    result = CliRunner().invoke(cli, [*flags, "resolve", "开县"])
    assert result.exit_code == 0, result.output
    assert seen["level"] == level and len(seen["ours"]) == 1
    shown = "INFO forestsink.reference: resolving ('开县',)" in result.output
    assert shown == (level <= logging.INFO)
    # put back as it was when the command ends
    assert logger.level == before and logger.handlers == handlers


def test_log_records_go_to_stderr_by_level(capsys):
    logger = logging.getLogger("forestsink.test")
    restore = configure_logging(1, False)
    try:
        logger.info("decision made")
        logger.debug("detail")
        err = capsys.readouterr().err
        assert "INFO forestsink.test: decision made" in err and "detail" not in err
    finally:
        restore()
    restore = configure_logging(0, True)
    try:
        logger.warning("a warning")
        assert "a warning" not in capsys.readouterr().err
    finally:
        restore()


def test_coverage_passes_other_libraries_warnings_on(monkeypatch, tmp_path):
    import forestsink.cli.coverage as coverage_cli
    from forestsink.errors import ForestsinkWarning

    def fake_compute(*_a, **_k):
        warnings.warn("a numpy-style warning", RuntimeWarning, stacklevel=1)
        warnings.warn("ours", ForestsinkWarning, stacklevel=1)
        return object()

    monkeypatch.setattr(coverage_cli, "compute_coverage", fake_compute)
    monkeypatch.setattr(coverage_cli, "_print_summary", lambda _r: None)
    monkeypatch.setattr(coverage_cli, "write_coverage", lambda _r, _o: [])
    raster = tmp_path / "r.tif"
    raster.write_bytes(b"")
    with pytest.warns(RuntimeWarning, match="a numpy-style warning"):
        result = CliRunner().invoke(
            cli, ["coverage", str(raster), "--out", str(tmp_path / "c.csv")]
        )
    assert result.exit_code == 0, result.output
    assert "警告 / Warning: ours" in result.output


def test_missing_dask_is_a_clear_message(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name == "dask" or name.startswith(("dask.", "distributed")):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    folder = tmp_path / "deliveries"
    folder.mkdir()
    result = CliRunner().invoke(
        cli,
        ["stage", str(folder), "--out", str(tmp_path / "ds"), "--engine", "dask"],
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "意外出错" not in result.output
    assert "pip install 'forestsink[dask]'" in result.output
    assert not (tmp_path / "ds").exists()


def test_a_command_that_cannot_load_is_one_line(monkeypatch):
    monkeypatch.setitem(
        COMMANDS, "broken", ("forestsink.cli.no_such_module", "cmd", "Broken.")
    )
    result = CliRunner().invoke(cli, ["broken", "--flag"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "`forestsink broken`" in result.output
    assert "ModuleNotFoundError" in result.output and "-v" in result.output
    assert "broken" in CliRunner().invoke(cli, ["--help"]).output
