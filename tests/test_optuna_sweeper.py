"""The litexp Optuna sweeper end to end: kill, resume, and two workers sharing one study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from tests.conftest import ROOT

STUDY = "t"
# Tiny trials; dropout=1.5 is refused by the model: those trials fail, the study goes on.
COMMAND = [
    "-m",
    "hparams_search=circles_optuna",
    f"hydra.sweeper.study_name={STUDY}",
    "hydra.sweeper.n_trials=4",
    "hydra.sweeper.sampler.seed=1",  # trials 0 and 1 draw dropout=0.0: they train
    "hydra.sweeper.sampler.n_startup_trials=2",
    "model.dropout=choice(0.0,1.5)",  # replaces the config's dropout search
    "trainer=cpu",
    "trainer.max_epochs=2",
    "data.n_samples=200",
    "logger=none",
]


def _start(tmp_path: Path, log: str) -> subprocess.Popen:
    env = {**os.environ, "LITEXP_LOG_DIR": str(tmp_path / "logs"), "LITEXP_DATA_DIR": str(tmp_path)}
    out = open(tmp_path / log, "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *COMMAND],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the sweep ended before {path} appeared"
        assert time.monotonic() < end, f"{path} did not appear in {timeout} s"
        time.sleep(0.05)


@pytest.mark.slow
def test_killed_study_resumes_and_two_workers_share_it(tmp_path: Path) -> None:
    sweep = tmp_path / "logs" / "train" / "optuna" / STUDY

    # 1. Kill the sweep (SIGKILL: no clean-up) once trial 0 is done and trial 1 has started.
    first = _start(tmp_path, "first.log")
    _wait_for(sweep / "0" / "metrics.json", first)
    _wait_for(sweep / "1" / ".hydra" / "overrides.yaml", first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    storage = f"sqlite:///{sweep / 'optuna.db'}"
    study = optuna.load_study(study_name=STUDY, storage=storage)
    assert study.trials[0].state.name == "COMPLETE"
    assert study.trials[1].state.name == "RUNNING"  # what the kill left behind
    kept = study.trials[0]

    # 2. The same command, twice at once: both resume the one study and share its trials.
    workers = [_start(tmp_path, f"worker{i}.log") for i in range(2)]
    codes = [w.wait(timeout=300) for w in workers]
    logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
    assert all(c in (0, 1) for c in codes), logs  # 1: some trials failed (dropout=1.5)

    study = optuna.load_study(study_name=STUDY, storage=storage)
    trials = study.trials
    assert trials[0].datetime_complete == kept.datetime_complete  # kept, not rerun
    assert trials[1].state.name == "FAIL" and trials[1].user_attrs["litexp_interrupted"]
    counted = [t for t in trials if not t.user_attrs.get("litexp_interrupted")]
    # The count continued to n_trials=4. Two workers that both see 3 of 4 may each start
    # the last one (as with Optuna's own MaxTrialsCallback), so 5 is allowed, never more.
    assert len(counted) in (4, 5), [(t.number, t.state.name) for t in trials]
    assert all(t.state.name in ("COMPLETE", "FAIL", "PRUNED") for t in trials)
    # The interrupted parameters were tried again.
    assert any(t.user_attrs.get("litexp_retry_of") == 1 for t in trials)
    # A failed trial is one whose dropout was refused; every other one completed.
    for t in counted:
        assert (t.state.name == "FAIL") == (t.params["model.dropout"] == 1.5), t
    # Both workers ran trials of the shared study; each trial has its own directory.
    resumed = [t for t in trials if t.number > 1]
    assert len({t.user_attrs["litexp_worker"] for t in resumed}) == 2
    trial_dirs = {p.name for p in sweep.iterdir() if p.is_dir()} - {"sweep_plots"}
    assert trial_dirs == {str(t.number) for t in trials}
    # The summary lists every trial's directory, the killed one as retried.
    summary = (sweep / "summary.csv").read_text()
    assert len(summary.strip().splitlines()) == 1 + len(trials)
    retry = next(t.number for t in trials if t.user_attrs.get("litexp_retry_of") == 1)
    assert f"interrupted, retried as trial {retry}" in summary
    # The count explains the retry: 1 interrupted trial is not counted.
    assert "(1 interrupted and retried, not counted), target 4 finished" in "".join(logs)
