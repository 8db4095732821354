"""The command line: help, exit codes, messages."""

import subprocess
import sys

from click.testing import CliRunner

from forestsink.cli.main import cli


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
