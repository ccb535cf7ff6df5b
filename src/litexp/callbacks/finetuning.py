"""Gradual unfreezing of a pretrained backbone, deepest layers first."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import lightning as L
from lightning.pytorch.callbacks import BaseFinetuning
from timm.models import group_parameters
from torch import nn
from torch.optim import Optimizer

log = logging.getLogger(__name__)


def backbone_stages(backbone: nn.Module, parts: int) -> list[list[nn.Parameter]]:
    """The backbone's parameters in ``parts`` contiguous stages, deepest stage first.

    Layers are ordered by timm's own ``group_matcher`` (stem, blocks, ..., final
    norm), the grouping timm uses for layer-wise learning rates.
    """
    groups = list(group_parameters(backbone, backbone.group_matcher(coarse=True)).values())
    parts = min(parts, len(groups))
    bounds = [round(i * len(groups) / parts) for i in range(parts + 1)]
    stages = [
        [backbone.get_parameter(name) for group in groups[lo:hi] for name in group]
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    return stages[::-1]


class GradualUnfreezing(BaseFinetuning):
    """Unfreeze ``net.backbone`` in stages at the given epochs, at a lower learning rate.

    Args:
        unfreeze_at: epochs (0-based, increasing) at which the next stage unfreezes;
            the backbone is cut into ``len(unfreeze_at)`` stages, deepest first, so
            the last epoch given unfreezes the whole backbone.
        lr_factor: the backbone's learning rate is the model's ``lr`` times this.
    """

    def __init__(self, unfreeze_at: Sequence[int], lr_factor: float = 0.1) -> None:
        super().__init__()
        self.unfreeze_at = list(unfreeze_at)
        self.lr_factor = lr_factor
        self._stages: list[list[nn.Parameter]] = []

    def freeze_before_training(self, pl_module: L.LightningModule) -> None:
        self._stages = backbone_stages(pl_module.net.backbone, len(self.unfreeze_at))
        pl_module.net.set_backbone_trainable(False)

    def finetune_function(
        self, pl_module: L.LightningModule, epoch: int, optimizer: Optimizer
    ) -> None:
        in_optimizer = {id(p) for g in optimizer.param_groups for p in g["params"]}
        lr = pl_module.lr * self.lr_factor
        for at, params in zip(self.unfreeze_at, self._stages, strict=False):
            if at > epoch or all(p.requires_grad for p in params):
                continue
            for p in params:
                p.requires_grad_(True)
            new = [p for p in params if id(p) not in in_optimizer]  # none when resumed
            if new:
                optimizer.add_param_group({"params": new, "lr": lr})
            pl_module.net.train(pl_module.training)  # unfrozen layers leave eval mode
            trainable = sum(p.numel() for p in pl_module.parameters() if p.requires_grad)
            log.info(
                f"epoch {epoch}: unfroze {sum(p.numel() for p in params):,} backbone "
                f"parameters (lr {lr:g}); {trainable:,} now trainable"
            )
