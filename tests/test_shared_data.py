"""Tests that read the shared data sets skip in a fresh clone (one reason, naming
LITEXP_SHARED_DATA) and fail instead under LITEXP_REQUIRE_SHARED_DATA=1, as in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REQUIRE_SHARED_DATA, ROOT, SHARED_DATA_REASON

# A quick test that reads the real MNIST files: it needs the shared data.
ONE = "tests/test_mnist_data.py::test_mnist_real_files_give_60000_10000"


def pytest_on(test: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """``pytest -rs <test>`` as a user runs it, with the shared data pointed at nothing."""
    environ = {k: v for k, v in os.environ.items() if k != REQUIRE_SHARED_DATA}  # CI sets it
    environ.update(LITEXP_SHARED_DATA=str(tmp_path / "nonexistent"), **env)
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", test]
    return subprocess.run(cmd, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300)


def test_missing_shared_data_skips_with_one_reason_naming_the_variable(tmp_path: Path) -> None:
    done = pytest_on(ONE, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 skipped" in done.stdout and "failed" not in done.stdout, done.stdout[-3000:]
    assert "LITEXP_SHARED_DATA=<the folder holding them>" in done.stdout, done.stdout[-3000:]
    assert str(tmp_path / "nonexistent") in done.stdout  # where it looked


def test_ci_fails_when_shared_data_tests_would_be_skipped(tmp_path: Path) -> None:
    done = pytest_on(ONE, tmp_path, **{REQUIRE_SHARED_DATA: "1"})
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 error" in done.stdout and "skipped" not in done.stdout, done.stdout[-3000:]
    assert f"{REQUIRE_SHARED_DATA}=1 but mnist missing" in done.stdout, done.stdout[-3000:]


def test_ci_requires_the_shared_data_and_runs_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert f"export {REQUIRE_SHARED_DATA}=1" in script
    assert script.rstrip().splitlines()[-1] == "make test"
    assert "LITEXP_SHARED_DATA" in SHARED_DATA_REASON
