"""The progress bar is fed every N batches, yet always ends each epoch at the full count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import pytest

from litexp.callbacks.progress import ProgressBar
from litexp.config import build
from litexp.errors import ConfigError
from litexp.train import build_data_and_model
from tests.conftest import only_run_dir, read_metrics, run_cli


class RecordingBar(ProgressBar):
    """Records the count each update gives the training bar."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.train_counts: list[int] = []

    def _update(
        self, progress_bar_id: Any, current: int, visible: bool = True, hard: bool = False
    ) -> None:
        if progress_bar_id is not None and progress_bar_id == self.train_progress_bar_id:
            self.train_counts.append(current)
        super()._update(progress_bar_id, current, visible, hard)


def test_bar_updates_every_n_batches_and_ends_at_the_total(make_cfg, tmp_path: Path) -> None:
    # circles: 1000 points, 700 for training at batch 28 -> 25 batches an epoch.
    cfg = make_cfg("data=circles", "data.batch_size=28", "logger=none")
    datamodule, model = build_data_and_model(cfg.data, cfg.model)
    bar = RecordingBar(every_n_batches=10)
    trainer = L.Trainer(
        max_epochs=2,
        callbacks=[bar],
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, datamodule=datamodule)
    assert bar.total_train_batches == 25
    batch_counts = [c for c in bar.train_counts if c > 0]  # 0: the reset at an epoch's start
    assert batch_counts == [10, 20, 25] * 2  # not 1, 2, 3, ... 25 each epoch


def test_bad_update_interval_is_one_line(make_cfg) -> None:
    cfg = make_cfg("callbacks.progress_bar.every_n_batches=0")
    with pytest.raises(
        ConfigError,
        match="callbacks.progress_bar.every_n_batches=0 is invalid: must be an integer >= 1",
    ):
        build(cfg.callbacks.progress_bar, "callbacks.progress_bar")


def test_a_hidden_bar_trains_to_the_end(tmp_path: Path) -> None:
    # refresh_rate=0 disables the bar, as Lightning does on DDP ranks > 0: its validation
    # hook then asserted on a dataloader index that only an enabled bar sets.
    proc = run_cli(
        "train.py",
        "trainer=cpu",
        "trainer.max_epochs=1",
        "data.n_samples=200",
        "logger=none",
        "callbacks.progress_bar.refresh_rate=0",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert read_metrics(only_run_dir(tmp_path / "logs"))["status"] == "completed"
    assert "Epoch 0/0" not in proc.stdout  # no bar drawn
