"""Real training on the toy sets, through the same CLI a user types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from litexp.train import train
from tests.conftest import CONF, only_run_dir, read_metrics, run_cli


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`python train.py` with no arguments: the README's default experiment."""
    cwd = tmp_path_factory.mktemp("default")
    proc = run_cli("train.py", cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return only_run_dir(cwd / "logs"), proc.stdout


@pytest.mark.slow
def test_default_experiment_reaches_target_on_circles(default_run) -> None:
    run_dir, stdout = default_run
    metrics = read_metrics(run_dir)
    assert metrics["status"] == "completed"
    assert metrics["metrics"]["test/acc"] >= 0.97  # the seed tutorial's loop: 0.87
    # What the user is told at the end: the metrics and where everything is.
    assert "test/acc" in stdout and "run directory:" in stdout and "best checkpoint:" in stdout
    assert str(run_dir) in stdout.replace("\n", "")


@pytest.mark.slow
def test_run_directory_holds_everything(default_run) -> None:
    run_dir, _ = default_run
    metrics = read_metrics(run_dir)
    assert metrics["seed"] == 42 and metrics["wall_time_s"] > 0
    assert set(metrics["metrics"]) == {
        "train/loss",
        "train/acc",
        "val/loss",
        "val/acc",
        "test/loss",
        "test/acc",
    }
    assert Path(metrics["best_checkpoint"]).is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert "_target_: litexp.models.MLP" in (run_dir / "config.yaml").read_text()
    assert (run_dir / ".hydra" / "overrides.yaml").is_file()
    assert list(run_dir.rglob("events.out.tfevents.*"))


@pytest.mark.slow
def test_eval_reproduces_test_metrics_exactly(default_run, tmp_path: Path) -> None:
    run_dir, _ = default_run
    metrics = read_metrics(run_dir)
    proc = run_cli("eval.py", f"ckpt_path={metrics['best_checkpoint']}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    evaluated = read_metrics(only_run_dir(tmp_path / "logs"))
    assert evaluated["metrics"]["test/acc"] == metrics["metrics"]["test/acc"]
    assert evaluated["metrics"]["test/loss"] == pytest.approx(
        metrics["metrics"]["test/loss"], abs=1e-7
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides,target",
    [(["data=moons"], 0.97), (["data=blobs", "data.num_classes=4"], 0.95)],
    ids=["moons", "blobs4"],
)
def test_toy_sets_reach_target(overrides: list[str], target: float, make_cfg) -> None:
    summary = train(make_cfg(*overrides, "logger=none"))
    assert summary["metrics"]["test/acc"] >= target


def test_two_runs_in_the_same_second_get_their_own_directories(tmp_path: Path) -> None:
    from litexp.config import _run_id

    assert len({_run_id() for _ in range(200)}) == 200


def test_help_lists_groups_and_options(tmp_path: Path) -> None:
    proc = run_cli("train.py", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    # Every option file of every group is listed, as Hydra lists them.
    for group in ("model", "data", "trainer", "logger", "debug", "experiment", "hparams_search"):
        options = ", ".join(sorted(p.stem for p in (CONF / group).glob("*.yaml")))
        assert f"{group}: {options}" in proc.stdout, proc.stdout
    assert "model: classifier, cnn, mlp, timm" in proc.stdout


def test_metrics_json_is_plain_json(default_run) -> None:
    run_dir, _ = default_run
    assert json.loads((run_dir / "metrics.json").read_text())["run_dir"] == str(run_dir)
