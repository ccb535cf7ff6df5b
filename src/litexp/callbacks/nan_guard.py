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
    diverged weights, the last good one stays, and the message names the exact step.

    Args:
        check_every_n_steps: how often to read the buffer (one host sync each time).
    """

    def __init__(self, check_every_n_steps: int = 20) -> None:
        if check_every_n_steps < 1:
            raise ValueError(
                f"check_every_n_steps={check_every_n_steps!r} is invalid: must be >= 1"
            )
        self.every = check_every_n_steps
        self._finite: torch.Tensor | None = None  # (every,) one slot per unchecked batch
        self._where: list[tuple[int, int]] = []  # (epoch, global step) of each slot

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        finite = torch.isfinite(loss.detach()).all()
        if self._finite is None or self._finite.device != finite.device:
            self._finite = torch.ones(self.every, dtype=torch.bool, device=finite.device)
        self._finite[len(self._where)] = finite  # still on the device: no host sync
        self._where.append((trainer.current_epoch, trainer.global_step))  # after the batch
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
        if not self._where or self._finite is None:
            return
        finite = self._finite[: len(self._where)].tolist()  # the one host sync
        where, self._where = self._where, []
        bad = [i for i, ok in enumerate(finite) if not ok]
        if not bad:
            return
        epoch, step = where[bad[0]]
        last = newest_checkpoint(trainer) or "none written yet"
        raise NonFiniteLoss(
            f"training loss became NaN or infinite at epoch {epoch}, step {step}: lower "
            f"model.lr or check the data for NaN/inf values (last good checkpoint: {last})"
        )
