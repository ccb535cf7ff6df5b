"""A run leaves nothing behind in its process: a long sweep's jobs all run in one."""

from __future__ import annotations

import gc
import signal
from pathlib import Path

import lightning as L
import pytest

from litexp.train import train

FAST = ("trainer.max_epochs=1", "+trainer.limit_train_batches=2", "data=blobs")


def _alive(cls: type) -> int:
    gc.collect()
    return sum(isinstance(o, cls) for o in gc.get_objects())


@pytest.mark.slow
def test_train_calls_leave_no_trainer_model_or_signal_handler(make_cfg, tmp_path: Path) -> None:
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for i in range(3):
        train(make_cfg(*FAST, f"paths.output_dir={tmp_path / str(i)}"))
        # Lightning's SIGTERM handler holds its Trainer (and so the model and the data):
        # left installed, it kept every finished job of a sweep alive.
        assert {s: signal.getsignal(s) for s in handlers} == handlers
    assert _alive(L.Trainer) == 0
    assert _alive(L.LightningModule) == 0
    assert _alive(L.LightningDataModule) == 0
