"""Lightning's LearningRateMonitor, with one ``lr`` tag whatever the optimiser is called."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks import LearningRateMonitor


class LrMonitor(LearningRateMonitor):
    """``LearningRateMonitor`` whose tag is ``lr`` (not ``lr-Adam``/``lr-AdamW``) when the
    model has one optimiser, so runs with different optimisers share one card.

    A scheduler's own ``name`` (``"name"`` in ``configure_optimizers``' ``lr_scheduler``
    dict) is kept; with several optimisers Lightning's names are kept, so they stay apart.
    With ``logging_interval="step"`` a point is written every ``log_every_n_steps``
    steps, so a per-step schedule (OneCycleLR) shows its whole shape.
    """

    def _find_names_from_schedulers(self, lr_scheduler_configs: list[Any]) -> Any:
        names, seen, seen_types = super()._find_names_from_schedulers(lr_scheduler_configs)
        if len(lr_scheduler_configs) == 1 and lr_scheduler_configs[0].name is None:
            names = [[_plain(n) for n in group] for group in names]
        return names, seen, seen_types

    def _find_names_from_optimizers(
        self, optimizers: list[Any], seen_optimizers: list[Any], seen_optimizer_types: Any
    ) -> Any:
        names, without = super()._find_names_from_optimizers(
            optimizers, seen_optimizers, seen_optimizer_types
        )
        if len(optimizers) == 1:
            names = [[_plain(n) for n in group] for group in names]
        return names, without


def _plain(name: str) -> str:
    """``lr-Adam`` -> ``lr``; ``lr-Adam/pg2`` -> ``lr/pg2``."""
    head, sep, rest = name.partition("/")
    return ("lr" if head.startswith("lr-") else head) + sep + rest
