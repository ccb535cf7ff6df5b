"""Stop training at the first NaN or infinite loss, before it reaches a checkpoint."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from litexp.checkpoint_files import newest_checkpoint
from litexp.errors import TrainingError


class NonFiniteLoss(TrainingError):
    """The training loss became NaN or infinite; the message names the epoch and step."""


class NanGuard(L.Callback):
    """Watches the training loss and stops the run when it is no longer finite.

    No host sync per step: each batch's ``isfinite(loss)`` goes into a small device
    buffer (a few tiny kernels), read every ``check_every_n_steps`` batches, before every
    validation and before every checkpoint is written. So no checkpoint ever holds the
    diverged weights, the last good one stays, and the message names the exact step
    (a model with ``fused_steps`` > 1 returns every step's loss as ``losses``).

    Args:
        check_every_n_steps: how often to read the buffer (one host sync each time).
    """

    def __init__(self, check_every_n_steps: int = 20) -> None:
        if check_every_n_steps < 1:
            raise ValueError(
                f"check_every_n_steps={check_every_n_steps!r} is invalid: must be >= 1"
            )
        self.every = check_every_n_steps
        self._first_bad: torch.Tensor | None = None  # (every,) one slot per unchecked batch
        self._where: list[tuple[int, int, int]] = []  # (epoch, step, steps) of each slot

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        losses = outputs.get("losses", loss) if isinstance(outputs, dict) else loss
        if not isinstance(losses, torch.Tensor):
            return
        finite = torch.isfinite(losses.detach().reshape(-1))
        if self._first_bad is None or self._first_bad.device != finite.device:
            self._first_bad = torch.full((self.every,), -1, device=finite.device)
        # The first non-finite step of the batch's steps, -1 if none: still on the device.
        self._first_bad[len(self._where)] = torch.where(finite.all(), -1, (~finite).int().argmax())
        # (epoch, global step after the batch, steps the batch took)
        self._where.append((trainer.current_epoch, trainer.global_step, finite.numel()))
        if len(self._where) == self.every:
            self.check(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check(trainer)

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        # Raising here, before the file is written, keeps the diverged weights out of it.
        self.check(trainer)

    def check(self, trainer: L.Trainer) -> None:
        """Raise NonFiniteLoss if a non-finite loss was seen since the last check."""
        if not self._where or self._first_bad is None:
            return
        first_bad = self._first_bad[: len(self._where)].tolist()  # the one host sync
        where, self._where = self._where, []
        bad = [i for i, b in enumerate(first_bad) if b >= 0]
        if not bad:
            return
        epoch, step, steps = where[bad[0]]
        step -= steps - 1 - first_bad[bad[0]]  # the batch's step that went wrong
        last = newest_checkpoint(trainer) or "none written yet"
        raise NonFiniteLoss(
            f"training loss became NaN or infinite at epoch {epoch}, step {step}: lower "
            f"model.lr or check the data for NaN/inf values (last good checkpoint: {last})"
        )
