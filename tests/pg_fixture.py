"""A throwaway PostgreSQL + PostGIS server for one test session.

``pg_server`` (session scope) starts a server of its own with
``scripts/pg_test_server.sh`` in a fresh temporary folder (loopback, free
port, random password), yields its URL and stops it (removing the folder) at
the end of the session. Tests use only the server they started, never one
that happens to run on the machine.

Missing PostgreSQL/PostGIS binaries FAIL the tests that need the server (the
suite must run on both back ends): run ``make test``, which installs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "pg_test_server.sh"
MISSING = "run make test (it installs postgresql and postgis)"


def _script(command: str, folder: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), command, folder],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )


def start_server(folder: str, *, env=None) -> str:
    """Start a server in *folder*; return its URL, or fail the test clearly."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail(
            "psycopg is not installed (the postgis extra): " + MISSING, pytrace=False
        )
    run = _script("start", folder, env)
    if run.returncode == 3:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(
            f"PostgreSQL/PostGIS binaries are missing: {MISSING}\n{run.stderr}",
            pytrace=False,
        )
    if run.returncode:
        stop_server(folder, env=env)
        pytest.fail(
            f"scripts/pg_test_server.sh start failed ({run.returncode}):\n"
            f"{run.stdout}\n{run.stderr}",
            pytrace=False,
        )
    return run.stdout.strip().splitlines()[-1]


def stop_server(folder: str, *, env=None) -> None:
    """Stop the server in *folder* and remove the folder."""
    _script("stop", folder, env)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    """URL of a PostgreSQL + PostGIS server started for this session."""
    folder = tempfile.mkdtemp(prefix="forestsink-pg-")
    url = start_server(folder, env=dict(os.environ))
    try:
        yield url
    finally:
        stop_server(folder)
