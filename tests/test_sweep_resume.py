"""A grid sweep that survives a stop: SIGTERM ends it with its summary; resume= finishes it."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, run_in_session

# Two jobs, long enough (a few seconds each) to be stopped in the middle of the second.
GRID = [
    "-m",
    "seed=1,2",
    "trainer=cpu",
    "trainer.max_epochs=4",
    "data=circles",
    "data.n_samples=120",
]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "LITEXP_LOG_DIR": str(tmp_path / "logs")}


def _start(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=ROOT,
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for(pattern: str, root: Path, proc: subprocess.Popen, timeout: float = 240) -> Path:
    """The first file matching ``pattern`` under ``root``, polled every 50 ms."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = sorted(root.glob(pattern))
        if found:
            return found[0]
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended before {pattern} appeared: {proc.stderr.read()[-2000:]}")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail(f"{pattern} did not appear in {timeout}s")


def _rows(sweep: Path) -> dict[str, dict]:
    with open(sweep / "summary.csv") as f:
        return {r["overrides"].split()[0]: r for r in csv.DictReader(f)}  # seed=<n> first


@pytest.mark.slow
def test_sigterm_mid_job_writes_the_summary_and_resume_finishes_the_grid(tmp_path: Path) -> None:
    multiruns = tmp_path / "logs" / "train" / "multiruns"
    proc = _start(tmp_path, *GRID)
    _wait_for("*/1_seed=2/checkpoints/last.ckpt", multiruns, proc)  # job 2 is training
    os.killpg(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)

    assert proc.returncode == 143, stderr[-2000:]
    (sweep,) = multiruns.iterdir()
    rows = _rows(sweep)
    assert rows["seed=1"]["status"] == "completed"
    assert rows["seed=2"]["status"] == "interrupted"
    assert "Resume with:" in stderr and "-m seed=1,2" in stderr and f"resume={sweep}" in stderr

    done_before = (sweep / "0_seed=1" / "metrics.json").read_text()
    resumed = run_in_session(
        [sys.executable, str(ROOT / "train.py"), *GRID, "resume=latest"], _env(tmp_path), 300
    )

    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert list(multiruns.iterdir()) == [sweep]  # the same directory, no new sweep
    assert "job 0_seed=1 completed before: kept its result" in resumed.stderr
    assert f"continuing from {sweep / '1_seed=2' / 'checkpoints' / 'last.ckpt'}" in resumed.stderr
    assert (sweep / "0_seed=1" / "metrics.json").read_text() == done_before  # not retrained
    rows = _rows(sweep)
    assert [rows[k]["status"] for k in ("seed=1", "seed=2")] == ["completed", "completed"]
    assert rows["seed=2"]["epochs"] == "4"  # trained to the end, not 4 more
    best = yaml.safe_load((sweep / "best.yaml").read_text())
    assert best["command"].startswith("python train.py seed=")
    assert "job 2 of 2" in resumed.stdout + resumed.stderr


@pytest.mark.slow
def test_sigterm_right_after_a_job_wrote_its_result_ends_the_sweep(tmp_path: Path) -> None:
    """The signal lands between two jobs (job 1's metrics.json was just written): the sweep
    stops there, job 1's result is kept, job 2 does not run to its end."""
    multiruns = tmp_path / "logs" / "train" / "multiruns"
    proc = _start(tmp_path, *GRID)
    _wait_for("*/0_seed=1/metrics.json", multiruns, proc)
    os.killpg(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)

    assert proc.returncode == 143, stderr[-2000:]
    (sweep,) = multiruns.iterdir()
    rows = _rows(sweep)
    assert rows["seed=1"]["status"] == "completed"
    assert rows["seed=2"]["status"] in ("not started", "incomplete", "interrupted")
    assert "sweep stopped" in stderr or "the sweep ends after this job" in stderr


def test_resume_names_a_sweep_with_other_overrides(tmp_path: Path) -> None:
    """resume= of a sweep that ran another grid: one line naming that grid, nothing run."""
    sweep = tmp_path / "logs" / "train" / "multiruns" / "old"
    sweep.mkdir(parents=True)
    (sweep / "multirun.yaml").write_text(
        yaml.safe_dump({"hydra": {"overrides": {"task": ["seed=1,2,3", "data=moons"]}}})
    )
    proc = run_in_session(
        [sys.executable, str(ROOT / "train.py"), *GRID, f"resume={sweep}"], _env(tmp_path), 120
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("litexp: error:")]
    assert "that sweep ran with the overrides 'seed=1,2,3 data=moons'" in line
    assert "give the same ones" in line
