"""The progress bar: Lightning's RichProgressBar, fed every few batches instead of each."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar


class ProgressBar(RichProgressBar):
    """A ``RichProgressBar`` that hears of every ``every_n_batches``-th batch and the last.

    Rich redraws on its own clock (``refresh_rate`` times a second); what costs is feeding
    it: Lightning's bar updates its task and collects the progress-bar metrics after every
    batch, about 0.15 ms a step on a CPU, as much as a small MLP's whole step. The bar
    and its numbers are the same at every update and at the end of each epoch. With a
    model's ``fused_steps`` > 1 it still counts batches of the data's ``batch_size``.

    Args:
        every_n_batches: update the bar's count after this many batches (and the last).
        refresh_rate: redraws per second (``RichProgressBar``'s meaning; 0 hides the bar).
        **kwargs: the rest of ``RichProgressBar``'s arguments (``leave``, ``theme``, ...).
    """

    def __init__(self, every_n_batches: int = 10, refresh_rate: int = 10, **kwargs: Any) -> None:
        if (
            isinstance(every_n_batches, bool)
            or not isinstance(every_n_batches, int)
            or every_n_batches < 1
        ):
            raise ValueError(
                f"every_n_batches={every_n_batches!r} is invalid: must be an integer >= 1"
            )
        super().__init__(refresh_rate=refresh_rate, **kwargs)
        self.every_n_batches = every_n_batches

    def _due(self, done: int, total: int | float, step: int = 1) -> bool:
        """Whether ``done`` (up by ``step`` since the last call) passed a multiple of N."""
        every = self.every_n_batches
        return done // every > (done - step) // every or done >= total

    @staticmethod
    def _fused_steps(module: L.LightningModule | None) -> int:
        # A model with fused_steps > 1 takes that many batches per Lightning batch.
        if module is None or module.automatic_optimization:
            return 1
        return getattr(module, "fused_steps", 1)

    @property
    def total_train_batches(self) -> int | float:
        """Training batches of the data's ``batch_size``, fused or not."""
        total = super().total_train_batches
        module = self.trainer.lightning_module
        if self._fused_steps(module) == 1 or total == float("inf"):
            return total
        batches = module.train_batches_per_epoch()
        if self.trainer.max_epochs == -1 and self.trainer.max_steps > 0:
            return min(batches, self.trainer.max_steps - self.trainer.global_step)
        return batches

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        step, total = self._fused_steps(pl_module), self.total_train_batches
        done = min((batch_idx + 1) * step, total)  # batches of batch_size done this epoch
        if self._due(done, total, step):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, done - 1)

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self._due(batch_idx + 1, self.total_val_batches_current_dataloader):
            super().on_validation_batch_end(
                trainer, pl_module, outputs, batch, batch_idx, dataloader_idx
            )
