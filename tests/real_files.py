"""Real files from public repositories (``../shared/real``, beside the checkout).

They are never copied into the repository (several carry no licence); CI
checks them out beside it (see its ``SOURCES.md``). A test that needs one
fails, naming the path, when it is missing: a missing folder must not turn
the tests green by skipping them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"


def real_file(*parts: str) -> Path:
    """Path of a real test file under ``../shared/real``; fail if it is absent."""
    path = REAL.joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"{path} is absent: the real test files (../shared/real, see its "
            "SOURCES.md) must be checked out beside the repository, as in CI."
        )
    return path
