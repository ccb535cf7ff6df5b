"""A run stopped by SIGTERM and resumed shows in TensorBoard exactly what the same run
without a stop shows: every epoch, and every step of the epoch the signal came in, once,
with the same values (that epoch's training means cover its batches before the stop)."""

from __future__ import annotations

import signal
import urllib.parse
from pathlib import Path

import pytest
import torch

from litexp.errors import Interrupted
from litexp.models.classifier import TRAIN_METRICS_KEY
from litexp.train import train
from tests.conftest import compose_config
from tests.test_tensorboard import _get, serve

# Circles: 11 batches an epoch, so steps 0..32; one train/loss_step point per step.
RUN = ["trainer=cpu", "trainer.max_epochs=3", "model.dropout=0.2", "trainer.log_every_n_steps=1"]
EPOCH_TAGS = ("val/loss", "val/acc", "train/loss", "train/acc")


def served_scalars(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag's (step, value) points, as a TensorBoard server serves them."""
    with serve(logdir) as base:
        (run,) = _get(f"{base}/data/runs")
        tags = _get(f"{base}/data/plugin/scalars/tags")[run]
        found = {}
        for tag in tags:
            query = urllib.parse.urlencode({"run": run, "tag": tag})
            points = _get(f"{base}/data/plugin/scalars/scalars?{query}")
            found[tag] = [(int(step), value) for _, step, value in points]
        return found


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, list[tuple[int, float]]]:
    out = tmp_path_factory.mktemp("uninterrupted")
    train(compose_config("train", [*RUN, f"paths.output_dir={out}"]))
    return served_scalars(out)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("at_step", "epoch"),
    [(15, 1), (10, 0)],  # step 15: the middle of epoch 1; step 10: epoch 0's last batch
    ids=["mid-epoch", "last-batch-of-an-epoch"],
)
def test_sigterm_and_resume_show_every_epoch_and_step_once(
    make_cfg, tmp_path: Path, at_step: int, epoch: int, uninterrupted
) -> None:
    run_dir = tmp_path / "run"
    sender = [
        "+callbacks.signal._target_=tests.test_resume.SendSignal",
        f"+callbacks.signal.signum={int(signal.SIGTERM)}",
        f"+callbacks.signal.at_step={at_step}",
    ]
    with pytest.raises(Interrupted):
        train(make_cfg(*RUN, *sender))
    summary = train(make_cfg(*RUN, f"resume={run_dir}"))
    assert summary["status"] == "completed"
    got = served_scalars(run_dir)

    want = uninterrupted
    assert set(got) == set(want)
    for tag in EPOCH_TAGS:  # one point per epoch, the interrupted one included
        assert [s for s, _ in got[tag]] == [10, 21, 32], tag
    steps = [s for s, _ in got["train/loss_step"]]
    assert steps == list(range(33)), "every step once, the interrupted epoch's too"
    assert set(range(11 * epoch, 11 * (epoch + 1))) <= set(steps)
    for tag, points in want.items():
        assert [s for s, _ in got[tag]] == [s for s, _ in points], tag  # each step once
    # The same values: the resumed run continued exactly (bit for bit on the CPU).
    for tag, points in want.items():
        for (step, value), (_, theirs) in zip(got[tag], points, strict=True):
            assert value == pytest.approx(theirs, rel=1e-6, abs=1e-7), (tag, step)
    # The interrupted epoch's training means too: over all of its batches, those before
    # the stop included (their sums travel in last.ckpt), as the uninterrupted run's.
    end = 11 * (epoch + 1) - 1
    for tag in ("train/loss", "train/acc"):
        assert dict(got[tag])[end] == pytest.approx(dict(want[tag])[end], abs=1e-4), tag


@pytest.mark.slow
def test_a_checkpoint_without_the_kept_means_still_resumes(make_cfg, tmp_path: Path) -> None:
    # As litexp wrote them before the training means travelled in the checkpoint.
    run_dir = tmp_path / "run"
    short = ["trainer.max_epochs=1", "model.dropout=0.2"]
    sender = [
        "+callbacks.signal._target_=tests.test_resume.SendSignal",
        "+callbacks.signal.at_step=5",
    ]
    with pytest.raises(Interrupted):
        train(make_cfg(*short, *sender, f"+callbacks.signal.signum={int(signal.SIGTERM)}"))
    last = run_dir / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    assert ckpt.pop(TRAIN_METRICS_KEY)
    torch.save(ckpt, last)
    summary = train(make_cfg(*short, f"resume={run_dir}"))
    assert summary["status"] == "completed"
    assert 0 < summary["metrics"]["train/loss"] < 1  # the mean of its batches after the resume
