"""MLP: the classifier for the toy 2-D sets and for flattened images."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from litexp.checks import fraction, positive_ints
from litexp.models.classifier import Classifier
from litexp.nets.activation import check_activation
from litexp.nets.mlp import MLPNet


class MLP(Classifier):
    """A multi-layer perceptron classifier.

    Args:
        num_classes: from the datamodule.
        input_shape: one sample's shape, from the datamodule; flattened.
        hidden_sizes: width of each hidden layer; ``[]`` gives a linear model.
        activation: relu (default), tanh, sigmoid, gelu, leaky_relu, silu, elu or none.
        dropout: dropout after each hidden activation, in [0, 1).
        **kwargs: lr, optimizer, scheduler, class_names (see ``Classifier``).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        input_shape: Sequence[int],
        hidden_sizes: Sequence[int] = (64, 64),
        activation: str = "relu",
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        hidden_sizes = positive_ints(
            "hidden_sizes",
            hidden_sizes,
            "give a non-empty list of positive integers, e.g. [64, 64] "
            "(for a linear model set activation=none)",
        )
        check_activation(activation)
        fraction("dropout", dropout)
        self.net = MLPNet(
            in_features=math.prod(input_shape),
            out_features=self.num_outputs,
            hidden_sizes=hidden_sizes,
            activation=activation,
            dropout=dropout,
        )
