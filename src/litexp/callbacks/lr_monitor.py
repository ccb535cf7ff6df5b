"""The learning rate of every optimiser and parameter group, under tags that read plainly."""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

import lightning as L


class LrMonitor(L.Callback):
    """Writes each parameter group's learning rate to the run's loggers.

    Tags: ``lr`` for the usual model (one optimiser, one parameter group), whatever the
    optimiser is called, so Adam and AdamW runs share one card. A further parameter group
    (a backbone unfrozen with its own lr) is ``lr/<its name>``, else ``lr/pg2``, ``lr/pg3``;
    several optimisers are ``lr/<class>`` (``lr/Adam``, ``lr/Adam-1``), or the ``name`` of
    their scheduler (``"name"`` in ``configure_optimizers``' ``lr_scheduler`` dict).

    A point is the learning rate the step uses (read at the batch's start), at that step,
    on the steps Lightning writes logs (every ``trainer.log_every_n_steps``), so a per-step
    schedule (OneCycleLR) shows its whole shape, beside the ``train/loss_step`` points.
    Any LightningModule works: the rates come from ``trainer.optimizers``.

    Args:
        logging_interval: ``"step"`` (every ``trainer.log_every_n_steps`` steps) or
            ``"epoch"`` (once, at each epoch's start).
    """

    def __init__(self, logging_interval: Literal["step", "epoch"] = "step") -> None:
        if logging_interval not in ("step", "epoch"):
            raise ValueError(f"logging_interval={logging_interval!r} is invalid: use step or epoch")
        self.logging_interval = logging_interval
        self._last_step = -1  # one point per step, also while gradients accumulate

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last_step = -1

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        every = trainer.log_every_n_steps
        # The steps Lightning writes the step metrics at (its own `+ 1`: step 9, 19, ...).
        if self.logging_interval == "step" and every and (trainer.global_step + 1) % every == 0:
            self._write(trainer)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.logging_interval == "epoch":
            self._write(trainer)

    def _write(self, trainer: L.Trainer) -> None:
        step = trainer.global_step
        if step == self._last_step or not trainer.loggers:
            return
        self._last_step = step
        rates = learning_rates(trainer)
        for logger in trainer.loggers:
            logger.log_metrics(rates, step=step)


def learning_rates(trainer: L.Trainer) -> dict[str, float]:
    """``{tag: lr}`` for every parameter group of every optimiser (tags: ``LrMonitor``)."""
    named = {
        id(config.scheduler.optimizer): config.name
        for config in trainer.lr_scheduler_configs
        if config.name
    }
    optimizers = trainer.optimizers
    seen: Counter[str] = Counter()
    rates = {}
    for optimizer in optimizers:
        cls = type(optimizer).__name__
        prefix = named.get(id(optimizer))
        if prefix is None and len(optimizers) == 1:
            prefix = "lr"
        elif prefix is None:  # several optimisers: by class, a second Adam is Adam-1
            prefix = f"lr/{cls}" + (f"-{seen[cls]}" if seen[cls] else "")
        seen[cls] += 1
        for index, group in enumerate(optimizer.param_groups):
            name = group.get("name") or (f"pg{index + 1}" if index else None)
            rates[f"{prefix}/{name}" if name else prefix] = float(group["lr"])
    return rates
