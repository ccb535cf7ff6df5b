"""A grid sweep's results: best.yaml, the summary's columns and ties, plots, progress lines."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import pytest
import yaml

from litexp.sweep.grid import grid as grid_jobs
from litexp.sweep.naming import job_dir_name
from litexp.sweep.summary import SUMMARY_MD, summarize
from tests.conftest import ROOT, read_metrics, run_in_session, write_job

GRID = [
    "-m",
    "model.lr=0.02,0.2",
    "model.activation=relu,tanh",
    "trainer=cpu",
    "trainer.max_epochs=2",
    "data=circles",
    "data.n_samples=120",
]


def _job(sweep: Path, name: str, overrides: list[str], metrics: dict | None) -> None:
    result = {"status": "completed", "metrics": metrics, "epochs": 3, "wall_time_s": 1.0}
    write_job(sweep, name, overrides, result if metrics is not None else None)


def test_ties_are_broken_by_the_loss_and_the_header_says_so(tmp_path: Path) -> None:
    _job(tmp_path, "0_a=1", ["a=1"], {"val/acc": 0.9, "val/loss": 0.30})
    _job(tmp_path, "1_a=2", ["a=2"], {"val/acc": 0.9, "val/loss": 0.10})
    _job(tmp_path, "2_a=3", ["a=3"], {"val/acc": 0.8, "val/loss": 0.05})

    rows = summarize(tmp_path, "val/acc", "maximize")

    assert [r.job for r in rows] == ["1_a=2", "0_a=1", "2_a=3"]
    md = (tmp_path / SUMMARY_MD).read_text()
    assert "sorted by val/acc (maximize), ties by val/loss (lower first)" in md.splitlines()[0]
    header = md.splitlines()[2]
    # Columns no job fills (test metrics, best checkpoint, error) are left out.
    assert header == "| job | status | val/acc | val/loss | epochs | wall_time_s | overrides |"
    best = yaml.safe_load((tmp_path / "best.yaml").read_text())
    assert best["job"] == "1_a=2" and best["command"].endswith("train.py a=2")
    assert "ties by val/loss" in (tmp_path / "best.yaml").read_text().splitlines()[0]


def test_job_directory_names_are_readable_unique_and_capped() -> None:
    assert job_dir_name(3, ["model.lr=0.01", "seed=2"]) == "3_model.lr=0.01,seed=2"
    assert job_dir_name(0, ["data.data_dir=../x/y", "resume=/a/b"]) == "0_data.data_dir=.._x_y"
    long_a = job_dir_name(1, [f"model.hidden_sizes=[{'64,' * 40}1]"])
    long_b = job_dir_name(1, [f"model.hidden_sizes=[{'64,' * 40}2]"])
    assert len(long_a) == 80 and long_a != long_b  # cut, and told apart by a hash


def test_the_grid_is_every_combination_in_launch_order() -> None:
    """Hydra's basic sweeper's jobs: the command line replaces a key's params values."""
    jobs = grid_jobs(
        {"model.lr": "0.5,0.9", "seed": "7"},
        ["model.lr=0.01,0.1", "data=circles,moons", "+x=range(1,3)", "trainer.max_epochs=1"],
    )
    assert len(jobs) == 8
    assert jobs[0] == ["model.lr=0.01", "seed=7", "data=circles", "+x=1", "trainer.max_epochs=1"]
    assert jobs[1][2:4] == ["data=circles", "+x=2"]  # the last key varies fastest
    assert jobs[-1][:4] == ["model.lr=0.1", "seed=7", "data=moons", "+x=2"]
    assert grid_jobs({}, ["model.lr=interval(0.1,1)"]) is None  # not a grid


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A finished 2x2 grid sweep, run as a user types it; (sweep dir, console output)."""
    tmp = tmp_path_factory.mktemp("grid")
    proc = run_in_session(
        [sys.executable, str(ROOT / "train.py"), *GRID],
        {**os.environ, "LITEXP_LOG_DIR": str(tmp / "logs")},
        400,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = (tmp / "logs" / "train" / "multiruns").iterdir()
    return sweep, proc.stdout + proc.stderr


@pytest.mark.slow
def test_best_yaml_reruns_the_best_job_as_a_single_run(grid: tuple[Path, str]) -> None:
    sweep, _ = grid
    best = yaml.safe_load((sweep / "best.yaml").read_text())
    with open(sweep / "summary.csv") as f:
        first = next(csv.DictReader(f))
    assert best["job"] == first["job"]  # the summary's top row
    job = read_metrics(sweep / best["job"])
    assert best["metrics"] == job["metrics"]
    assert best["best_checkpoint"] == job["best_checkpoint"]
    assert Path(best["best_checkpoint"]).is_file()
    words = best["command"].split()
    assert words[:2] == ["python", "train.py"] and "-m" not in words
    assert [w for w in words if w.startswith(("model.lr=", "model.activation="))] == [
        o for o in best["overrides"] if o.startswith(("model.lr=", "model.activation="))
    ]


@pytest.mark.slow
def test_summary_has_train_metrics_epochs_and_checkpoints(grid: tuple[Path, str]) -> None:
    sweep, _ = grid
    with open(sweep / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    for row in rows:
        assert row["epochs"] == "2"
        assert 0.0 <= float(row["train/acc"]) <= 1.0 and float(row["train/loss"]) > 0
        assert (sweep / row["job"] / row["best_checkpoint"]).is_file()
    assert all(all(v != "" for v in row.values()) for row in rows)  # no empty column
    names = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert names[0] == "0_model.lr=0.02,model.activation=relu"


@pytest.mark.slow
def test_grid_plots_show_the_objective_against_each_swept_parameter(
    grid: tuple[Path, str],
) -> None:
    sweep, _ = grid
    for key in ("model.lr", "model.activation"):
        png = sweep / f"plot_{key}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 5000
    assert not (sweep / "plot_data.n_samples.png").exists()  # not swept: no plot
    # The same plots in TensorBoard's IMAGES tab, in the sweep's own run.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(sweep / "sweep_plots"), size_guidance={"images": 0})
    events.Reload()
    assert set(events.Tags()["images"]) == {"sweep/plot_model.lr", "sweep/plot_model.activation"}


@pytest.mark.slow
def test_progress_lines_between_jobs(grid: tuple[Path, str]) -> None:
    sweep, output = grid
    # the first line: how many jobs, where, and how to watch them, before Hydra's checks
    first = next(line for line in output.splitlines() if line.startswith("["))
    assert first.endswith(
        f"sweep: 4 jobs into {sweep}; watch them with: tensorboard --logdir {sweep}"
    )
    assert "sweep: job 1 of 4: model.lr=0.02 model.activation=relu" in output
    assert "sweep: job 2 of 4 completed in" in output
    assert "left (2 jobs)" in output  # after job 2 of 4, an estimate for the last two
    assert "sweep: job 4 of 4 completed in" in output


@pytest.mark.slow
def test_each_jobs_result_table_says_which_job_it_is(grid: tuple[Path, str]) -> None:
    _, output = grid
    titles = [line.strip() for line in output.splitlines() if "litexp: completed" in line]
    assert titles == [
        f"litexp: completed · job {n} of 4 · model.lr={lr} model.activation={act}"
        for n, (lr, act) in enumerate(
            [("0.02", "relu"), ("0.02", "tanh"), ("0.2", "relu"), ("0.2", "tanh")], 1
        )
    ]
