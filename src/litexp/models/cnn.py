"""FashionCNN: a TinyVGG-style convolutional classifier for small images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litexp.checks import fraction, positive_ints
from litexp.models.classifier import Classifier
from litexp.nets.activation import check_activation
from litexp.nets.tinyvgg import TinyVGG


class FashionCNN(Classifier):
    """Blocks of (conv, activation, conv, activation, max-pool), then a linear layer.

    Args:
        num_classes: from the datamodule.
        input_shape: one image ``(C, H, W)``, from the datamodule; sizes the classifier.
        channels: output channels of each block; each block halves the image.
        convs_per_block: convolutions per block, one number or one per block (2, as
            in TinyVGG; ``[1, 2]`` makes the costly full-size first block a single conv).
        batch_norm: batch norm after each convolution.
        early_pool: max-pool before each block's last batch norm and activation
            (see ``TinyVGG``): the same net for ReLU without batch norm, less work.
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
        convs_per_block: int | Sequence[int] = 2,
        batch_norm: bool = True,
        early_pool: bool = False,
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
        convs = [convs_per_block] if isinstance(convs_per_block, int) else convs_per_block
        convs = positive_ints(
            "convs_per_block",
            convs,
            f"give one positive integer, or one per block ({len(channels)}), e.g. [1, 2]",
        )
        if len(convs) not in (1, len(channels)):
            raise ValueError(
                f"convs_per_block={convs!r} is invalid: give one number, or one per block "
                f"({len(channels)}, as in channels={channels!r})"
            )
        if min(input_shape[1:]) < 2 ** len(channels):
            raise ValueError(
                f"channels={channels!r} is invalid: {len(channels)} blocks halve a "
                f"{input_shape[1]}x{input_shape[2]} image to nothing; use at most "
                f"{min(input_shape[1:]).bit_length() - 1} blocks"
            )
        check_activation(activation)
        fraction("dropout", dropout)
        self.net = TinyVGG(
            input_shape,
            self.num_outputs,
            channels=channels,
            convs_per_block=convs,
            batch_norm=batch_norm,
            early_pool=early_pool,
            dropout=dropout,
            activation=activation,
            channels_last=channels_last,
        )
