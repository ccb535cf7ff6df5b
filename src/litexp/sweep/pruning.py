"""Optuna's pruner, wired to Lightning: each validation reports to the trial; bad trials stop.

optuna-integration's ``PyTorchLightningPruningCallback`` raises ``TrialPruned`` inside
``fit``: the run would end without its test metrics and count as a failed job, and under
DDP it needs the trial in every rank. This callback stops a pruned trial like early
stopping does (the best checkpoint is still tested and ``metrics.json`` written), and
only rank zero talks to the study; the decision is broadcast to the other ranks.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L

from litexp.sweep.optuna_storage import load_trial, median_pruner

PRUNED_ATTR = "pruned_at_epoch"  # user attribute the sweeper reads to mark the trial pruned


class OptunaPruning(L.Callback):
    """Report ``monitor`` to trial ``trial`` after every validation; stop if the pruner says so.

    Args:
        monitor: the logged metric the study optimises (e.g. ``val/acc``).
        study_name: the study's name.
        storage: the study's storage (``litexp.sweep.optuna_storage.storage_url``).
        trial: the trial number; ``None`` (a run outside an Optuna sweep, or a DDP rank
            other than zero) only joins the broadcast of the decision.
        pruner: the sweeper's pruner settings (``enabled``, ``n_startup_trials``,
            ``n_warmup_steps``): the storage does not keep them.
    """

    def __init__(
        self,
        monitor: str,
        study_name: str | None = None,
        storage: str | None = None,
        trial: int | None = None,
        pruner: dict[str, Any] | None = None,
    ) -> None:
        self.monitor = monitor
        self.study_name = study_name
        self.storage = storage
        self.trial_number = trial
        self.pruner = dict(pruner or {})
        self._trial = None
        self.pruned_at_epoch: int | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if (
            trainer.is_global_zero
            and self.trial_number is not None
            and self.storage
            and self.study_name
        ):
            pruner = median_pruner(**self.pruner)
            self._trial = load_trial(self.storage, self.study_name, int(self.trial_number), pruner)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        prune = False
        value = trainer.callback_metrics.get(self.monitor)
        if self._trial is not None and value is not None and math.isfinite(float(value)):
            self._trial.report(float(value), step=trainer.current_epoch)
            prune = self._trial.should_prune()
        if trainer.world_size > 1:
            prune = trainer.strategy.broadcast(prune, src=0)
        if prune:
            self.pruned_at_epoch = trainer.current_epoch
            trainer.should_stop = True
            if self._trial is not None:
                self._trial.set_user_attr(PRUNED_ATTR, trainer.current_epoch)
