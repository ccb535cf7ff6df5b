"""The progress bar: Lightning's RichProgressBar, fed every few batches instead of each."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar

from litexp.checks import positive_int


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
        super().__init__(refresh_rate=refresh_rate, **kwargs)
        self.every_n_batches = every_n_batches

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
