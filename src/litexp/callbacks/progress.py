"""The progress bar: Lightning's RichProgressBar, fed every few batches instead of each."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.callbacks.progress.rich_progress import (
    ProcessingSpeedColumn,
    RichProgressBarTheme,
)
from rich.progress import BarColumn

from litexp.checks import positive_int

BAR_WIDTH = 10  # characters of the bar itself (Lightning's: 40)


class ProgressBar(RichProgressBar):
    """A ``RichProgressBar`` that hears of every ``every_n_batches``-th batch and the last.

    Rich redraws on its own clock (``refresh_rate`` times a second); what costs is feeding
    it: Lightning's bar updates its task and collects the progress-bar metrics after every
    batch, about 0.15 ms a step on a CPU, as much as a small MLP's whole step. The bar
    and its numbers are the same at every update and at the end of each epoch.

    Args:
        every_n_batches: update the bar's count after this many batches (and the last).
        refresh_rate: redraws per second (``RichProgressBar``'s meaning; 0 hides the bar).
        **kwargs: the rest of ``RichProgressBar``'s arguments (``leave``, ``theme``, ...).
    """

    def __init__(self, every_n_batches: int = 10, refresh_rate: int = 10, **kwargs: Any) -> None:
        positive_int("every_n_batches", every_n_batches)
        kwargs.setdefault("theme", RichProgressBarTheme(metrics_format=".3g"))
        super().__init__(refresh_rate=refresh_rate, **kwargs)
        self.every_n_batches = every_n_batches

    def _get_train_description(self, current_epoch: int) -> str:
        """``Epoch 1/2`` for the first of two epochs (Lightning counts from 0)."""
        return (
            super()
            ._get_train_description(current_epoch + 1)
            .replace(f"/{(self.trainer.max_epochs or 0) - 1}", f"/{self.trainer.max_epochs}", 1)
        )

    def configure_columns(self, trainer: L.Trainer) -> list:
        """Lightning's columns with a narrower bar and no it/s, so that the bar and its
        metrics fit on one line of 100 columns."""
        columns = [
            c
            for c in super().configure_columns(trainer)
            if not isinstance(c, ProcessingSpeedColumn)
        ]
        for column in columns:
            if isinstance(column, BarColumn):
                column.bar_width = BAR_WIDTH
        return columns

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        """``train: loss 0.223 acc 0.913``, ``val: ...``: one entry per stage, short."""
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)  # the run's folder name: in the final summary
        grouped: dict[str, list[str]] = {}
        for name, value in items.items():
            stage, _, metric = str(name).rpartition("/")
            text = f"{value:{self.theme.metrics_format}}" if isinstance(value, float) else value
            grouped.setdefault(stage or "", []).append(f"{metric} {text}")
        order = sorted(grouped, key=lambda stage: stage != "train")  # train, then val
        return {stage or "_": " ".join(grouped[stage]) for stage in order}

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # The model logs the train metrics after the bar's own epoch-end update: show the
        # last epoch's, not the one before.
        self._update_metrics(trainer, pl_module)
        self.refresh()
        super().on_train_end(trainer, pl_module)

    def _due(self, done: int, total: int | float) -> bool:
        """Whether ``done`` batches is a multiple of ``every_n_batches``, or all of them."""
        return done % self.every_n_batches == 0 or done >= total

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self._due(batch_idx + 1, self.total_train_batches):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        # A disabled bar (DDP ranks > 0, refresh_rate=0) never saw the batch-start hook
        # that sets the dataloader index the count needs; Lightning's own hook returns too.
        if self.is_disabled:
            return
        if self._due(batch_idx + 1, self.total_val_batches_current_dataloader):
            super().on_validation_batch_end(
                trainer, pl_module, outputs, batch, batch_idx, dataloader_idx
            )
