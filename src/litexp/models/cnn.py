"""FashionCNN: a TinyVGG-style convolutional classifier for small images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litexp.models.classifier import Classifier, positive_ints
from litexp.nets.activation import check_activation
from litexp.nets.tinyvgg import TinyVGG


class FashionCNN(Classifier):
    """Blocks of (conv, activation, conv, activation, max-pool), then a linear layer.

    Args:
        num_classes: from the datamodule.
        input_shape: one image ``(C, H, W)``, from the datamodule; sizes the classifier.
        channels: output channels of each block; each block halves the image.
        batch_norm: batch norm after each convolution.
        dropout: dropout before the classifier, in [0, 1).
        activation: relu (default), gelu, silu, ... (see ``litexp.nets.activation``).
        channels_last: NHWC memory layout (faster on CPU and on tensor cores).
        **kwargs: lr, optimizer, scheduler, class_names (see ``Classifier``).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        input_shape: Sequence[int],
        channels: Sequence[int] = (16, 32),
        batch_norm: bool = True,
        dropout: float = 0.0,
        activation: str = "relu",
        channels_last: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(
                f"input_shape={list(input_shape)} is invalid: FashionCNN needs images "
                "(C, H, W); use model=mlp for data that is not images"
            )
        channels = positive_ints(
            "channels", channels, "give one positive integer per block, e.g. [16, 32]"
        )
        if min(input_shape[1:]) < 2 ** len(channels):
            raise ValueError(
                f"channels={channels!r} is invalid: {len(channels)} blocks halve a "
                f"{input_shape[1]}x{input_shape[2]} image to nothing; use at most "
                f"{min(input_shape[1:]).bit_length() - 1} blocks"
            )
        check_activation(activation)
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout={dropout!r} is invalid: must be in [0, 1)")
        self.net = TinyVGG(
            input_shape,
            self.num_outputs,
            channels=channels,
            batch_norm=batch_norm,
            dropout=dropout,
            activation=activation,
            channels_last=channels_last,
        )
