"""Nothing lost: a killed run resumes to the metrics of one that never stopped;
SIGTERM/SIGINT save and say how to resume; a damaged last.ckpt falls back."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import lightning as L
import pytest
import torch
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

from litexp.checkpoint import load_checkpoint
from litexp.errors import Interrupted
from litexp.train import train
from tests.conftest import compose_config, only_run_dir, read_metrics, run_cli, start_train

# Circles, 11 batches an epoch; long enough to kill after the first checkpoint.
OVERRIDES = ["trainer=cpu", "trainer.max_epochs=14", "seed=7"]


def tensorboard_points(run_dir: Path) -> Counter:
    """(tag, step) of every scalar TensorBoard shows, applying its purge-on-restart rule."""
    points: list[tuple[str, int]] = []
    for path in sorted(run_dir.rglob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            if event.HasField("session_log") and event.session_log.status == 1:  # START
                points = [p for p in points if p[1] < event.step]
            points += [(v.tag, event.step) for v in event.summary.value]
    return Counter(p for p in points if not p[0].startswith("_hparams_"))


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_metrics_and_curves(tmp_path):
    reference = start_train(*OVERRIDES, log_root=tmp_path / "ref")
    victim = start_train(*OVERRIDES, log_root=tmp_path / "victim")
    runs = tmp_path / "victim" / "logs" / "train" / "runs"
    deadline = time.monotonic() + 120
    while not list(runs.glob("*/checkpoints/last.ckpt")):
        assert victim.poll() is None, (
            f"run ended before its first checkpoint: {victim.stderr.read()}"
        )
        assert time.monotonic() < deadline, "no checkpoint after 120 s"
        time.sleep(0.05)
    time.sleep(random.uniform(0, 0.4))  # an arbitrary step, maybe in the middle of a save
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    run_dir = next(runs.iterdir())
    assert not (run_dir / "metrics.json").exists(), "killed too late: the run had finished"
    assert reference.wait(timeout=300) == 0, reference.stderr.read()

    resumed = run_cli("train.py", *OVERRIDES, "resume=latest", cwd=tmp_path / "victim")
    assert resumed.returncode == 0, resumed.stderr
    assert f"continuing from {run_dir}" in resumed.stderr
    ref_dir = only_run_dir(tmp_path / "ref" / "logs")
    assert only_run_dir(tmp_path / "victim" / "logs") == run_dir  # same run directory
    got, want = read_metrics(run_dir), read_metrics(ref_dir)
    assert got["status"] == "completed"
    assert got["metrics"] == want["metrics"]  # bit for bit on the CPU
    # The same TensorBoard run: every point once, none missing.
    assert tensorboard_points(run_dir) == tensorboard_points(ref_dir)
    # run.json keeps the first command and adds the resumption.
    info = json.loads((run_dir / "run.json").read_text())
    assert info["command"].endswith("train.py " + " ".join(OVERRIDES))
    assert [r["command"].split()[-1] for r in info["resumes"]] == ["resume=latest"]


class SendSignal(L.Callback):
    """Test helper: the process signals itself at a given global step."""

    def __init__(self, signum: int, at_step: int) -> None:
        self.signum, self.at_step, self.sent = signum, at_step, False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step >= self.at_step and not self.sent:
            self.sent = True
            os.kill(os.getpid(), self.signum)


SMALL = ["trainer.max_epochs=3", "model.dropout=0.2"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    """The summary of the same run without a stop."""
    out = tmp_path_factory.mktemp("uninterrupted")
    return train(compose_config("train", ["trainer=cpu", *SMALL, f"paths.output_dir={out}"]))


@pytest.mark.parametrize(
    ("signum", "at_step", "stopped_at"),
    [
        (signal.SIGTERM, 15, 16),  # the middle of epoch 1; the running batch finished
        (signal.SIGINT, 15, 16),
        # Before the first epoch's end, when ModelCheckpoint had no last.ckpt of its own:
        # the resumed run used to write last-v1.ckpt beside the stale last.ckpt.
        (signal.SIGTERM, 3, 4),
    ],
    ids=["SIGTERM", "SIGINT", "SIGTERM-first-epoch"],
)
def test_signal_saves_prints_the_resume_command_and_resumes_exactly(
    make_cfg, tmp_path, capsys, signum, at_step, stopped_at, uninterrupted
):
    run_dir = tmp_path / "run"
    sender = [
        f"+callbacks.signal._target_={__name__}.SendSignal",
        f"+callbacks.signal.signum={int(signum)}",
        f"+callbacks.signal.at_step={at_step}",
    ]
    with pytest.raises(Interrupted) as stop:
        train(make_cfg(*SMALL, *sender))
    assert stop.value.signum == signum
    err = capsys.readouterr().err
    assert f"stopped on {signal.Signals(signum).name}" in err
    assert f"resume={run_dir}" in err and "Resume with:" in err
    summary = read_metrics(run_dir)
    assert summary["status"] == "interrupted"
    assert summary["resume_command"] == stop.value.resume_command
    ckpt = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == stopped_at
    assert signal.getsignal(signum) is not None  # our handler was taken down again

    # Resumed mid-epoch: the rest of epoch 1 gets the batches it would have had.
    summary = train(make_cfg(*SMALL, f"resume={run_dir}"))
    assert summary["status"] == "completed"
    assert summary["metrics"] == uninterrupted["metrics"]
    final = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert final["global_step"] == 3 * 11 and final["epoch"] == 2
    assert summary["last_checkpoint"] == str(run_dir / "checkpoints" / "last.ckpt")
    assert not list(run_dir.glob("checkpoints/last-v*.ckpt"))


def test_damaged_last_checkpoint_falls_back_to_the_newest_valid_one(make_cfg, tmp_path, capsys):
    run_dir = tmp_path / "run"
    small = SMALL[1:]
    train(make_cfg("trainer.max_epochs=2", *small))
    last = run_dir / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])  # as a full disk would leave it
    capsys.readouterr()
    summary = train(make_cfg("trainer.max_epochs=3", *small, f"resume={run_dir}"))
    err = capsys.readouterr().err
    assert f"checkpoint {last} is truncated" in err or f"checkpoint {last} cannot be read" in err
    assert "resuming from epoch001" in err
    assert summary["status"] == "completed"
    assert torch.isfinite(torch.tensor(summary["metrics"]["test/acc"]))
