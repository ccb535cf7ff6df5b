"""TinyVGG: blocks of (conv, act, conv, act, max-pool), then a linear classifier."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from litexp.nets.activation import make_activation


def _conv(c_in: int, c_out: int, batch_norm: bool, activation: str) -> list[nn.Module]:
    # No conv bias before batch norm: the norm's shift replaces it.
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    act = make_activation(activation)
    if isinstance(act, (nn.ReLU, nn.LeakyReLU)):
        act.inplace = True  # ~5% faster on CPU: one less pass over the activations
    return layers + [act]


class TinyVGG(nn.Module):
    """The CNN Explainer's TinyVGG, with as many blocks and channels as asked.

    Each block halves the image: ``(B, C, H, W) -> (B, channels[i], H/2, W/2)``.

    Args:
        input_shape: one sample, ``(C, H, W)``.
        out_features: number of logits.
        channels: output channels of each block (one block per entry).
        batch_norm: batch norm after each convolution.
        dropout: dropout before the classifier.
        activation: name from ``litexp.nets.activation.ACTIVATIONS``.
        channels_last: keep weights and activations NHWC (faster convolutions on CPU
            with oneDNN, and on tensor-core GPUs).
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        out_features: int,
        channels: Sequence[int] = (16, 32),
        batch_norm: bool = True,
        dropout: float = 0.0,
        activation: str = "relu",
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        c, h, w = input_shape
        layers: list[nn.Module] = []
        for width in channels:
            layers += _conv(c, width, batch_norm, activation)
            layers += _conv(width, width, batch_norm, activation)
            layers.append(nn.MaxPool2d(2))
            c, h, w = width, h // 2, w // 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            *([nn.Dropout(dropout)] if dropout > 0 else []),
            nn.Linear(c * h * w, out_features),
        )
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.classifier(self.features(x))  # (B, C, H, W) -> (B, out_features)
