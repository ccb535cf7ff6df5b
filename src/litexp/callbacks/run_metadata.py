"""Stores, in every checkpoint, what is needed to rebuild and use the model later."""

from __future__ import annotations

from typing import Any

import lightning as L


class RunMetadata(L.Callback):
    """Adds ``checkpoint["litexp"]``: the run's resolved config and the data's description.

    Plain dicts, lists, strings and numbers only, so the checkpoint loads with
    ``torch.load(weights_only=True)`` and eval/predict work from the file alone.
    """

    def __init__(self, config: dict, data: dict) -> None:
        self.metadata = {"format": 1, "config": config, "data": data}

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint["litexp"] = self.metadata
