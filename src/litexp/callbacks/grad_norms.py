"""Each layer's gradient norm in TensorBoard, every N optimiser steps.

Saturating activations (sigmoid, tanh) show as gradient norms that shrink layer by
layer towards the input; ``lightning.pytorch.utilities.grad_norm`` computes them.
"""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.utilities import grad_norm

from litexp.checks import positive_int


class GradNorms(L.Callback):
    """Log the p-norm of each parameter's gradient (and their total) every N steps.

    Args:
        every_n_steps: log on every N-th optimiser step (the first one included).
        norm_type: the p of the p-norm (2: Euclidean).
    """

    def __init__(self, every_n_steps: int = 10, norm_type: float = 2.0) -> None:
        positive_int("every_n_steps", every_n_steps)
        self.every_n_steps = every_n_steps
        self.norm_type = float(norm_type)

    def on_before_optimizer_step(
        self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        if trainer.global_step % self.every_n_steps or not trainer.loggers:
            return
        # {"grad_2.0_norm/net.layers.1.weight": t, ..., "grad_2.0_norm_total": t}
        norms = grad_norm(pl_module, norm_type=self.norm_type)
        prefix = f"grad_{self.norm_type}_norm"
        values = {
            "grad_norm/" + key.removeprefix(prefix).lstrip("/_"): float(value)
            for key, value in norms.items()
        }
        for logger in trainer.loggers:
            logger.log_metrics(values, step=trainer.global_step)
