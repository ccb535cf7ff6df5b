"""Hydra's value-less flags (-m, --help, ...) work anywhere on a litexp command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from litexp.cli import flags_first
from litexp.sweep.summary import job_dirs
from tests.conftest import read_metrics, run_cli


def test_flags_and_their_values_move_before_the_overrides_in_order() -> None:
    argv = ["train.py", "model=cnn", "-m", "model.lr=1e-3,1e-2", "--cfg", "job", "x=-m"]
    assert flags_first(argv) == [
        "train.py",
        "-m",
        "--cfg",
        "job",
        "model=cnn",
        "model.lr=1e-3,1e-2",
        "x=-m",
    ]
    # --info takes a value only when one of its choices follows
    assert flags_first(["eval.py", "a=1", "--info", "b=2"]) == ["eval.py", "--info", "a=1", "b=2"]
    assert flags_first(["eval.py", "a=1", "-i", "plugins", "b=2"]) == [
        "eval.py",
        "-i",
        "plugins",
        "a=1",
        "b=2",
    ]
    assert (
        flags_first(["train.py", "a=1", "--config-name=train", "b=2"])[1] == "--config-name=train"
    )
    assert flags_first(["train.py"]) == ["train.py"]


@pytest.mark.slow
def test_multirun_flag_after_the_overrides_runs_the_sweep(tmp_path: Path) -> None:
    # Plain Hydra: "train.py: error: unrecognized arguments: seed=1,2 ..."
    proc = run_cli(
        "train.py",
        "trainer=cpu",
        "data=circles",
        "data.n_samples=200",
        "trainer.max_epochs=1",
        "-m",
        "seed=1,2",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    assert [read_metrics(job)["seed"] for job in job_dirs(sweep)] == [1, 2]


@pytest.mark.parametrize("script", ["train.py", "eval.py", "predict.py"])
def test_help_between_overrides_prints_the_help(tmp_path: Path, script: str) -> None:
    # Hydra's --help is a plain store_true flag: an override after it was "unrecognized"
    proc = run_cli(script, "hydra.job.chdir=false", "--help", "hydra.verbose=false", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"{Path(script).stem} is powered by Hydra" in proc.stdout
    assert "== Configuration groups ==" in proc.stdout


def test_cfg_job_between_overrides_prints_the_composed_config(tmp_path: Path) -> None:
    proc = run_cli("train.py", "data=moons", "--cfg", "job", "model.lr=0.123", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "lr: 0.123" in proc.stdout
    assert "_target_: litexp.data.Moons" in proc.stdout


def test_any_trainer_argument_works_without_plus(tmp_path: Path) -> None:
    """limit_train_batches is not in conf/trainer/: given as trainer.<key>=, Lightning gets it."""
    proc = run_cli(
        "train.py",
        "trainer=cpu",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "data.batch_size=16",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = next((tmp_path / "logs" / "train" / "runs").iterdir())
    assert read_metrics(run)["status"] == "completed"
    assert "limit_train_batches: 2" in (run / "config.yaml").read_text()


def test_trainer_args_anywhere_only_touches_trainer_keys() -> None:
    from litexp.cli import trainer_args_anywhere

    argv = ["trainer=cpu", "trainer.max_epochs=3", "+trainer.x=1", "model.lr=1", "-m"]
    assert trainer_args_anywhere(argv) == [
        "trainer=cpu",
        "++trainer.max_epochs=3",
        "+trainer.x=1",
        "model.lr=1",
        "-m",
    ]


def test_hydra_full_error_keeps_hydras_own_report(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    proc = run_cli("train.py", "model=cnnn", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "litexp: error:" not in proc.stderr
