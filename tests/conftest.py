"""Shared fixtures: the real config, composed as the CLI would, writing into tmp_path."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from litexp.config import register_resolvers

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
# The real data sets (read-only); LITEXP_SHARED_DATA points elsewhere, e.g. on a GPU box.
SHARED_DATA = Path(os.environ.get("LITEXP_SHARED_DATA", ROOT.parent / "shared" / "data"))
SHARED_SETS = ("fashion_mnist", "mnist", "hymenoptera_data", "pretrained")
# One reason for every such skip, so pytest -rs shows one line with the count.
SHARED_DATA_REASON = (
    f"needs the shared data sets ({', '.join(SHARED_SETS)}), not found in {SHARED_DATA}: "
    "set LITEXP_SHARED_DATA=<the folder holding them>"
)
# CI sets it (.ci/run): there a test that would skip for want of the data fails instead.
REQUIRE_SHARED_DATA = "LITEXP_REQUIRE_SHARED_DATA"

# ``@needs_shared_data("fashion_mnist")`` (no names: all of SHARED_SETS) on a test, a
# ``pytest.param`` or a module's ``pytestmark``: skipped when a set is missing.
needs_shared_data = pytest.mark.shared_data

register_resolvers()


def compose_config(config_name: str, overrides: list[str]) -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` with overrides, exactly as the CLI would."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=config_name, overrides=overrides)


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """``make_cfg("data=moons", ...)``: the train config on the CPU, output in tmp_path."""

    def make(*overrides: str, config_name: str = "train") -> DictConfig:
        base = [
            f"paths.output_dir={tmp_path / 'run'}",
            f"paths.data_dir={tmp_path / 'data'}",
            "trainer=cpu",
        ]
        return compose_config(config_name, base + list(overrides))

    return make


def run_in_session(
    cmd: list[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    """Run ``cmd`` from the project root in a session of its own, output captured.

    On a timeout (or Ctrl+C) every process it started is killed too, so a DDP rank left
    waiting cannot outlive the test.
    """
    with subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def run_cli(
    script: str, *args: str, cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``python <script> args...`` from the project root with logs under ``cwd``."""
    env = {**os.environ, "LITEXP_LOG_DIR": str(cwd / "logs"), "LITEXP_DATA_DIR": str(cwd / "data")}
    return run_in_session([sys.executable, str(ROOT / script), *args], env, timeout)


def start_train(*args: str, log_root: Path) -> subprocess.Popen:
    """``python train.py args...`` in the background, in a session of its own, logs under
    ``log_root``; stderr is piped (for the test to read), stdout dropped."""
    env = {**os.environ, "LITEXP_LOG_DIR": str(log_root / "logs")}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def only_run_dir(log_dir: Path) -> Path:
    """The single run directory under ``log_dir`` (fails if there are more or none)."""
    runs = [p.parent for p in log_dir.rglob("metrics.json")]
    assert len(runs) == 1, f"expected one finished run under {log_dir}, found {runs}"
    return runs[0]


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


requires_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def missing_shared_sets(names: tuple[str, ...] = SHARED_SETS) -> list[str]:
    """The sets of ``names`` that are not a non-empty folder under SHARED_DATA."""
    unknown = set(names) - set(SHARED_SETS)
    assert not unknown, f"unknown shared data sets {sorted(unknown)}: use {SHARED_SETS}"
    return [
        n for n in names if not (SHARED_DATA / n).is_dir() or not any((SHARED_DATA / n).iterdir())
    ]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "shared_data(*names): needs these sets under LITEXP_SHARED_DATA (skipped without)",
    )


@pytest.hookimpl(tryfirst=True)  # before fixtures that would read the data are set up
def pytest_runtest_setup(item: pytest.Item) -> None:
    names: set[str] = set()
    for mark in item.iter_markers("shared_data"):
        names.update(mark.args or SHARED_SETS)
    missing = missing_shared_sets(tuple(sorted(names))) if names else []
    if not missing:
        return
    if os.environ.get(REQUIRE_SHARED_DATA) == "1":
        pytest.fail(
            f"{REQUIRE_SHARED_DATA}=1 but {', '.join(missing)} missing: {SHARED_DATA_REASON}"
        )
    pytest.skip(SHARED_DATA_REASON)


def write_job(sweep: Path, name: str, overrides: list[str], result: dict | None) -> None:
    """A sweep job's folder as Hydra and train() leave it: its overrides and, unless
    ``result`` is None (a job that never finished), its ``metrics.json``."""
    job = sweep / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if result is not None:
        (job / "metrics.json").write_text(json.dumps(result))
