"""An Optuna storage URL's password never reaches a run file, a checkpoint or the console."""

from __future__ import annotations

from pathlib import Path

import pytest

from litexp.errors import ConfigError
from litexp.sweep.optuna_storage import STORAGE_ENV, storage_url, without_password
from tests.conftest import run_cli

TINY = [
    "-m",
    "hparams_search=circles_optuna",
    "hydra.sweeper.study_name=s",
    "hydra.sweeper.n_trials=2",
    "trainer=cpu",
    "trainer.max_epochs=1",
    "data.n_samples=200",
]


def _files_holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://user:secret@db.example/optuna", "postgresql://user:***@db.example/optuna"),
        ("mysql+pymysql://u:p@ss@h:3306/x", "mysql+pymysql://u:***@h:3306/x"),
        ("postgresql://user@db.example:5432/optuna", "postgresql://user@db.example:5432/optuna"),
        ("sqlite:////tmp/optuna.db", "sqlite:////tmp/optuna.db"),
    ],
)
def test_without_password(url: str, shown: str) -> None:
    assert without_password(url) == shown


def test_storage_from_the_environment_is_named_not_copied(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(STORAGE_ENV, "postgresql://user:secret@db.example/optuna")
    assert storage_url(None, tmp_path) == f"env:{STORAGE_ENV}"
    with pytest.raises(ConfigError, match=r"user:\*\*\*@db.example.*export LITEXP_OPTUNA"):
        storage_url("postgresql://user:secret@db.example/optuna", tmp_path)


def test_password_on_the_command_line_is_refused_unwritten(tmp_path: Path) -> None:
    url = "postgresql://user:secret@127.0.0.1:1/optuna"
    proc = run_cli("train.py", *TINY, f"hydra.sweeper.storage={url}", cwd=tmp_path, timeout=120)

    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("litexp: error:")]
    assert len(errors) == 1 and "holds a password" in errors[0] and STORAGE_ENV in errors[0]
    assert "secret" not in proc.stdout + proc.stderr
    assert not _files_holding(tmp_path, "secret")


@pytest.mark.slow
def test_storage_url_in_the_environment_reaches_no_file(tmp_path: Path, monkeypatch) -> None:
    """The study lives where $LITEXP_OPTUNA_STORAGE says; no run file repeats the URL."""
    hidden = tmp_path / "hidden_place_4f2a"
    hidden.mkdir()
    monkeypatch.setenv(STORAGE_ENV, f"sqlite:///{hidden / 'study.db'}")
    proc = run_cli("train.py", *TINY, cwd=tmp_path / "work", timeout=600)

    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (hidden / "study.db").is_file()  # the trials went to the environment's storage
    sweep = tmp_path / "work" / "logs" / "train" / "optuna" / "s"
    # One folder per trial, beside the study's plots (which name no storage either).
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1", "sweep_plots"]
    assert list(sweep.rglob("*.ckpt")) and list(sweep.rglob("run.json"))
    assert not _files_holding(tmp_path / "work", "hidden_place_4f2a")
    assert "hidden_place_4f2a" not in proc.stdout + proc.stderr
