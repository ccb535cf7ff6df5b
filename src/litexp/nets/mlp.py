"""A multi-layer perceptron over flattened inputs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from litexp.nets.activation import make_activation


class MLPNet(nn.Module):
    """Flatten -> [Linear -> activation -> Dropout] x len(hidden_sizes) -> Linear.

    Args:
        in_features: size of one flattened sample (2 for the toy sets, 784 for 28x28).
        out_features: number of logits (1 for binary, one per class otherwise).
        hidden_sizes: width of each hidden layer; empty gives logistic/softmax regression.
        activation: name from ``litexp.nets.activation.ACTIVATIONS``.
        dropout: dropout probability after each hidden activation.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), make_activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)  # (B, *input_shape) -> (B, out_features)
