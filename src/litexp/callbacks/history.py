"""Per-epoch history of the epoch metrics (train/val loss and accuracy), for the fit diagnosis.

Lightning logs ``train/*`` in the LightningModule's ``on_train_epoch_end``, which runs
after the callbacks' own ``on_train_epoch_end``; so an epoch is recorded once it is
complete: when the next epoch starts, and when training ends (the last one, also after
an early stop). The history is part of the callback's state in a checkpoint, so a
resumed run keeps the epochs it trained before.
"""

from __future__ import annotations

import math
import time
from typing import Any

import lightning as L
import torch

TRACKED = ("train/loss", "train/acc", "val/loss", "val/acc")


class EpochHistory(L.Callback):
    """Collects ``{"epoch": n (1-based), "train/loss": ..., ...}`` once per finished epoch."""

    def __init__(self, metrics: tuple[str, ...] = TRACKED) -> None:
        self.metrics = tuple(metrics)
        self.epochs: list[dict[str, float | None]] = []
        self.samples = 0  # training samples seen by this process's fit
        self.fit_time_s = 0.0  # its wall time, start of the first epoch to the end
        self._started: float | None = None

    def _record(self, trainer: L.Trainer, epoch: int) -> None:
        if epoch < 1 or (self.epochs and self.epochs[-1]["epoch"] >= epoch):
            return  # nothing trained yet, or this epoch is already recorded
        row: dict[str, Any] = {"epoch": epoch}
        for name in self.metrics:
            value = trainer.callback_metrics.get(name)
            if isinstance(value, torch.Tensor):
                value = float(value.item())
            row[name] = None if value is None or math.isnan(value) else float(value)
        self.epochs.append(row)

    @property
    def samples_per_s(self) -> float | None:
        """Training throughput of the fit, validation included in the time."""
        return self.samples / self.fit_time_s if self.fit_time_s > 0 else None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._started is None:
            self._started = time.perf_counter()
        self._record(trainer, trainer.current_epoch)  # the epoch just finished (1-based)

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        self.samples += len(x)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # current_epoch counts finished epochs once the loop has ended.
        self._record(trainer, trainer.current_epoch)
        if self._started is not None:
            self.fit_time_s = time.perf_counter() - self._started

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": [dict(row) for row in self.epochs]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epochs = [dict(row) for row in state_dict.get("epochs", [])]
