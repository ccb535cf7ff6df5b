"""Launchers: jobs in parallel with their share of the cores, and submitit (SLURM's local twin)."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest

from litexp.sweep.threads import available_cores, threads_per_job
from tests.conftest import run_cli

TINY = [
    "trainer=cpu",
    "trainer.max_epochs=1",
    "data=circles",
    "data.n_samples=200",
    "logger=none",
]


def _summary(tmp_path: Path) -> list[dict]:
    sweep = next((tmp_path / "logs" / "train" / "multiruns").iterdir())
    with open(sweep / "summary.csv") as f:
        return list(csv.DictReader(f))


def test_threads_per_job_never_oversubscribe() -> None:
    assert threads_per_job(2, 2) == 1
    assert threads_per_job(2, 16) == 8
    assert threads_per_job(-1, 8) == 1  # joblib's "one job per core"
    assert threads_per_job(4, 2) == 1  # more jobs than cores: still one each
    with pytest.raises(ValueError, match="n_jobs=0 is invalid"):
        threads_per_job(0, 2)


@pytest.mark.slow
def test_parallel_launcher_runs_two_jobs_with_their_share_of_the_cores(tmp_path: Path) -> None:
    proc = run_cli(
        "train.py", "-m", "hydra/launcher=parallel", "model.lr=0.05,0.1", *TINY, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "n_jobs=2" in proc.stdout + proc.stderr  # joblib's launch line
    table = _summary(tmp_path)
    lrs = sorted(o for t in table for o in t["overrides"].split() if o.startswith("model.lr="))
    assert lrs == ["model.lr=0.05", "model.lr=0.1"]
    assert all(t["status"] == "completed" for t in table)
    expected = threads_per_job(2, available_cores())
    for job in next((tmp_path / "logs" / "train" / "multiruns").iterdir()).glob("[0-9]_*"):
        assert f"torch threads per job: {expected} " in (job / "train.log").read_text()


def _span(train_log: Path) -> tuple[datetime, datetime]:
    """When a job ran: the first and last time stamps of its train.log."""
    stamps = [
        datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")
        for line in train_log.read_text().splitlines()
        if line.startswith("[20")
    ]
    return stamps[0], stamps[-1]


@pytest.mark.slow
def test_submitit_local_launcher_runs_the_sweep(tmp_path: Path) -> None:
    """hydra/launcher=local (submitit_local): the SLURM launcher's code path, here;
    3 jobs, at most 2 at once (max_batch_size), each with its share of the cores."""
    proc = run_cli(
        "train.py", "-m", "hydra/launcher=local", "hydra.sweeper.max_batch_size=2",
        "model.lr=0.05,0.1,0.2", *TINY,
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = _summary(tmp_path)
    assert len(rows) == 3 and all(r["status"] == "completed" for r in rows)
    sweep = next((tmp_path / "logs" / "train" / "multiruns").iterdir())
    said = proc.stdout + proc.stderr
    assert f"submitit: each job's output is in {sweep / '.submitit'}" in said
    assert not (sweep / ".submitit" / "%j").exists()  # no stray folder
    assert list((sweep / ".submitit").glob("*_0_log.out"))  # the jobs' output is there
    jobs = sorted(sweep.glob("[0-9]_*"))
    expected = threads_per_job(2, available_cores())
    for job in jobs:
        assert f"torch threads per job: {expected} " in (job / "train.log").read_text()
    spans = [_span(job / "train.log") for job in jobs]
    # Never 3 at once: some job starts only after another has ended.
    assert any(b[0] > a[1] for a in spans for b in spans), spans
