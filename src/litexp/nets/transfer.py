"""A pretrained backbone with a new classification head."""

from __future__ import annotations

import torch
from torch import nn


class TransferNet(nn.Module):
    """backbone (images -> pooled features) -> Dropout -> Linear.

    ``forward`` takes images ``(B, C, H, W)``, or features ``(B, num_features)``
    that the backbone already computed (feature caching): those go straight to the head.

    Frozen parts of the backbone stay in eval mode even while the net trains, so
    their batch-norm statistics never drift and their features stay those of the
    pretrained weights (which is also what makes cached features valid).

    Args:
        backbone: a headless model mapping images to ``(B, num_features)``.
        num_features: width of the backbone's output.
        num_outputs: logits of the head (1 for binary).
        dropout: dropout probability before the linear layer.
        channels_last: NHWC layout for the convolutions (faster on CPU and tensor cores).
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_features: int,
        num_outputs: int,
        dropout: float = 0.2,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(num_features, num_outputs))
        self.channels_last = channels_last
        if channels_last:
            self.backbone.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:  # (B, num_features): cached backbone output
            return self.head(x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.head(self.backbone(x))  # (B, C, H, W) -> (B, F) -> (B, num_outputs)

    def set_backbone_trainable(self, trainable: bool) -> None:
        """Freeze or unfreeze the whole backbone (parameters and train/eval mode)."""
        for p in self.backbone.parameters():
            p.requires_grad_(trainable)
        self.train(self.training)

    def train(self, mode: bool = True) -> TransferNet:
        super().train(mode)
        if mode:
            # Leaf modules whose parameters are all frozen behave as at inference.
            for module in self.backbone.modules():
                params = list(module.parameters(recurse=False))
                leaf = not any(True for _ in module.children())
                if leaf and params and not any(p.requires_grad for p in params):
                    module.eval()
            if not any(p.requires_grad for p in self.backbone.parameters()):
                self.backbone.eval()  # dropout/drop-path inside a frozen backbone too
        return self
