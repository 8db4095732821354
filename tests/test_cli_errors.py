"""The CLI never shows a Python traceback without -v (issue 15 defect 10)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from forestsink.cli.main import cli
from forestsink.errors import ForestsinkError


def _leaves(group: click.Group, prefix=()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from _leaves(command, (*prefix, name))
        else:
            yield (*prefix, name), command


LEAVES = list(_leaves(cli))


def test_every_command_is_walked():
    names = {" ".join(p) for p, _ in LEAVES}
    assert {"coverage", "progress", "ingest", "history", "store migrate"} <= names
    assert len(LEAVES) >= 19


def _boom(*_args, **_kwargs):
    raise ZeroDivisionError("forced failure for the test")


@pytest.mark.parametrize(
    ("path", "command"), LEAVES, ids=[" ".join(p) for p, _ in LEAVES]
)
def test_unexpected_exception_is_one_line_without_traceback(monkeypatch, path, command):
    # a generic hook: the command's own code raises something unforeseen
    monkeypatch.setattr(command, "callback", _boom)
    monkeypatch.setattr(command, "params", [])
    result = CliRunner().invoke(cli, list(path))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"`forestsink {' '.join(path)}`" in result.output
    assert "ZeroDivisionError: forced failure for the test" in result.output
    assert "意外出错" in result.output and "-v" in result.output
    error_lines = [ln for ln in result.output.splitlines() if "Error" in ln]
    assert len(error_lines) == 1
    # with -v the traceback is shown, same exit code
    verbose = CliRunner().invoke(cli, ["-v", *path])
    assert verbose.exit_code == 1
    assert "Traceback (most recent call last)" in verbose.output
    assert "ZeroDivisionError" in verbose.output


def test_library_errors_and_usage_errors_keep_their_form(monkeypatch):
    path, command = next((p, c) for p, c in LEAVES if p == ("coverage",))

    def fail(*_a, **_k):
        raise ForestsinkError("区县表缺列 / the table lacks a column")

    monkeypatch.setattr(command, "callback", fail)
    monkeypatch.setattr(command, "params", [])
    result = CliRunner().invoke(cli, list(path))
    assert result.exit_code == 1
    assert "错误 / Error: 区县表缺列 / the table lacks a column" in result.output
    assert "-v" not in result.output and "Traceback" not in result.output
    monkeypatch.undo()
    usage = CliRunner().invoke(cli, ["coverage", "--no-such-option"])
    assert usage.exit_code == 2 and "Traceback" not in usage.output
