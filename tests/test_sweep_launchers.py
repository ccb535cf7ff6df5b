"""Launchers: jobs in parallel with their share of the cores, and submitit (SLURM's local twin)."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
import yaml

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
    # Each job's result lines say which job they are, and stay together: the labelled
    # table is followed by that job's own run directory, before any other job's table.
    lines = proc.stdout.splitlines()
    for n, name in ((1, "0_model.lr=0.05"), (2, "1_model.lr=0.1")):
        title = f"litexp: completed · job {n} of 2 · {name.split('_', 1)[1]}"
        (at,) = [i for i, line in enumerate(lines) if line.strip() == title]
        block = lines[at + 1 : at + 30]  # up to the next job's table
        block = block[: next((i for i, b in enumerate(block) if "litexp: " in b), len(block))]
        run_dirs = [b for b in block if b.startswith("run directory:")]
        assert run_dirs and run_dirs[0].endswith(f"/{name}"), (title, block)


def _span(train_log: Path) -> tuple[datetime, datetime]:
    """When a job ran: the first and last time stamps of its train.log."""
    stamps = [
        datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")
        for line in train_log.read_text().splitlines()
        if line.startswith("[20")
    ]
    return stamps[0], stamps[-1]


def _most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    """The most jobs running at one instant (each job's start is such an instant)."""
    return max(sum(s <= start <= e for s, e in spans) for start, _ in spans)


def _launcher_config(*args: str, tmp_path: Path) -> str:
    proc = run_cli("train.py", *args, "--cfg", "hydra", "--package", "hydra.launcher", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_submitit_local_is_litexps_launcher_on_the_plugins_schema(tmp_path: Path) -> None:
    """``hydra/launcher=submitit_local`` (and its alias ``local``) is litexp's: n_jobs at
    once, one log folder; the plugin's own fields are all still there."""
    from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf

    for choice in ("submitit_local", "local"):
        launcher = yaml.safe_load(_launcher_config(f"hydra/launcher={choice}", tmp_path=tmp_path))
        assert launcher["_target_"].endswith(".LitexpLocalLauncher")
        assert launcher["n_jobs"] == 2
        assert launcher["submitit_folder"] == "${hydra.sweep.dir}/.submitit"
        assert set(LocalQueueConf.__dataclass_fields__) - {"_target_"} <= set(launcher)


def test_submitit_local_refuses_a_bad_n_jobs_before_any_job(tmp_path: Path) -> None:
    proc = run_cli(
        "train.py", "-m", "hydra/launcher=submitit_local", "hydra.launcher.n_jobs=0",
        "model.lr=0.1,0.2", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode != 0
    (error,) = [line for line in proc.stderr.splitlines() if line.startswith("litexp: error:")]
    assert "hydra.launcher.n_jobs=0 is invalid: must be >= 1 or -1" in error
    assert not (tmp_path / "logs").exists()  # no sweep directory, no job started


@pytest.mark.slow
def test_submitit_local_launcher_runs_two_jobs_at_a_time(tmp_path: Path) -> None:
    """hydra/launcher=submitit_local: the SLURM launcher's code path, here; 3 jobs, at most
    2 at once (its default n_jobs), each with its share of the cores, one log folder."""
    proc = run_cli(
        "train.py", "-m", "hydra/launcher=submitit_local", "model.lr=0.05,0.1,0.2", *TINY,
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    said = proc.stdout + proc.stderr
    sweep = next((tmp_path / "logs" / "train" / "multiruns").iterdir())
    assert f"submitit: each job's output is in {sweep / '.submitit'} " in said
    assert f"sweep: {sweep}" in proc.stdout  # the summary table
    rows = _summary(tmp_path)
    assert len(rows) == 3 and all(r["status"] == "completed" for r in rows)
    assert not [p for p in tmp_path.rglob("*") if p.name == "%j"]  # no stray folder
    outs = sorted((sweep / ".submitit").glob("*_0_log.out"))
    assert len(outs) == 3  # each job's console output, in the one folder
    # each job's result table says which job it is (its console is its .out file)
    titles = [line for out in outs for line in out.read_text().splitlines() if " · job " in line]
    assert sorted(titles) == [
        f"litexp: completed · job {n} of 3 · model.lr={lr}"
        for n, lr in ((1, "0.05"), (2, "0.1"), (3, "0.2"))
    ]
    jobs = sorted(sweep.glob("[0-9]_*"))
    expected = threads_per_job(2, available_cores())
    for job in jobs:
        assert f"torch threads per job: {expected} (" in (job / "train.log").read_text()
    spans = [_span(job / "train.log") for job in jobs]
    assert _most_at_once(spans) == 2, spans  # two together, never three


@pytest.mark.slow
def test_submitit_local_runs_an_optuna_study_two_trials_at_a_time(tmp_path: Path) -> None:
    """The Optuna sweeper hands its trials to submitit_local: 4 trials asked at once
    (``hydra.sweeper.n_jobs=4``), run 2 at a time by the launcher, every one told back
    to the study with the value its own run measured. litexp's defaults otherwise."""
    import json

    import optuna

    proc = run_cli(
        "train.py", "-m", "hparams_search=circles_optuna", "hydra/launcher=submitit_local",
        "hydra.sweeper.study_name=s", "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=4",
        "hydra.sweeper.sampler.seed=1", "trainer=cpu", "trainer.max_epochs=1",
        "data.n_samples=200", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    sweep = tmp_path / "logs" / "train" / "optuna" / "s"
    assert f"submitit: each job's output is in {sweep / '.submitit'} " in proc.stdout + proc.stderr
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{sweep / 'optuna.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    for trial in study.trials:
        measured = json.loads((sweep / str(trial.number) / "metrics.json").read_text())
        assert trial.value == pytest.approx(measured["metrics"]["val/acc"])
    rows = list(csv.DictReader((sweep / "summary.csv").read_text().splitlines()))
    assert sorted(int(r["trial"]) for r in rows) == [0, 1, 2, 3]
    assert all(r["status"] == "completed" for r in rows)
    best = yaml.safe_load((sweep / "best.yaml").read_text())
    assert best["objective"]["value"] == pytest.approx(study.best_value)
    assert rows[0]["trial"] == str(best["trial"])  # the summary's first row: the best
    assert len(list((sweep / ".submitit").glob("*_0_log.out"))) == 4
    assert not [p for p in tmp_path.rglob("*") if p.name == "%j"]
    expected = threads_per_job(2, available_cores())
    spans = []
    for n in range(4):
        log = sweep / str(n) / "train.log"
        assert f"torch threads per job: {expected} (" in log.read_text()
        spans.append(_span(log))
    assert _most_at_once(spans) == 2, spans
