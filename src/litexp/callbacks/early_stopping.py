"""Lightning's EarlyStopping, off until a patience is given.

``callbacks.early_stopping.patience=5`` on the command line turns it on: the entry is
always in the config (so Hydra can set its keys without ``+``), and ``patience: null``
means off. Switched off, it never checks and never stops a run.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping as LightningEarlyStopping

from litexp.checks import positive_int


class EarlyStopping(LightningEarlyStopping):
    """Stop when ``monitor`` has not improved for ``patience`` validation checks.

    Args:
        patience: checks without improvement before stopping; None: early stopping off.
        **kwargs: Lightning's EarlyStopping arguments (monitor, mode, min_delta, ...).
    """

    def __init__(self, patience: int | None = None, **kwargs: Any) -> None:
        positive_int("patience", patience, also=(None,))  # None: switched off
        super().__init__(patience=patience or 1, **kwargs)
        self.enabled = patience is not None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.enabled:
            super().on_validation_end(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.enabled:
            super().on_train_epoch_end(trainer, pl_module)
