"""Lightning's TensorBoard logger, without the ``epoch`` scalar that would open first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning.pytorch.loggers import TensorBoardLogger as _LightningTensorBoardLogger


class TensorBoardLogger(_LightningTensorBoardLogger):
    """``lightning.pytorch.loggers.TensorBoardLogger`` that leaves out ``epoch``.

    Lightning adds ``epoch`` to every logged step; TensorBoard sorts its cards by name, so
    an ``epoch`` card would be the first thing a user sees. The x axis is the step; the
    epoch of each point is in ``metrics.csv`` (``logger=csv``) and the run's text summary.
    """

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        kept = {k: v for k, v in metrics.items() if k != "epoch"}
        if kept:
            super().log_metrics(kept, step)
