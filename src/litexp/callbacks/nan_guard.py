"""Stop training at the first NaN or infinite loss, before it reaches a checkpoint."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from litexp.errors import TrainingError


class NonFiniteLoss(TrainingError):
    """The training loss became NaN or infinite; the message names the epoch and step."""


class NanGuard(L.Callback):
    """Watches the training loss and stops the run when it is no longer finite.

    The check stays on the device (no host sync per step): the first bad batch is
    remembered in a tensor and read every ``check_every_n_steps`` steps, before every
    validation and before every checkpoint is written, so no checkpoint ever holds the
    diverged weights and the last good one stays.

    Args:
        check_every_n_steps: how often to read the flag (one host sync each time).
    """

    def __init__(self, check_every_n_steps: int = 20) -> None:
        if check_every_n_steps < 1:
            raise ValueError(
                f"check_every_n_steps={check_every_n_steps!r} is invalid: must be >= 1"
            )
        self.every = check_every_n_steps
        self._start_step = 0
        self._seen: torch.Tensor | None = None  # () int64: batches since fit start
        self._first_bad: torch.Tensor | None = None  # () int64: batch of the first bad loss, or -1

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start_step = trainer.global_step  # after a resume, steps continue from there
        self._seen = self._first_bad = None

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
        if self._seen is None or self._seen.device != loss.device:
            self._seen = torch.zeros((), dtype=torch.long, device=loss.device)
            self._first_bad = torch.full((), -1, dtype=torch.long, device=loss.device)
        # All on the device: no host sync per step.
        bad = ~torch.isfinite(loss.detach()).all() & (self._first_bad < 0)
        self._first_bad = torch.where(bad, self._seen, self._first_bad)
        self._seen += 1
        if (batch_idx + 1) % self.every == 0:
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
        """Raise NonFiniteLoss if a non-finite loss was seen (one host sync)."""
        if self._first_bad is None:
            return
        bad = int(self._first_bad)
        if bad < 0:
            return
        # Checked at least once per epoch, so the bad step lies in the current epoch.
        step, epoch = self._start_step + bad, trainer.current_epoch
        last = getattr(trainer.checkpoint_callback, "last_model_path", "") or "none written yet"
        raise NonFiniteLoss(
            f"training loss became NaN or infinite at epoch {epoch}, step {step}: lower "
            f"model.lr or check the data for NaN/inf values (last good checkpoint: {last})"
        )
