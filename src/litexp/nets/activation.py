"""Activation layers by the name a user types in config."""

from __future__ import annotations

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "none": nn.Identity,  # a purely linear model
}


def check_activation(name: str) -> None:
    """Raise a ValueError listing the valid names unless ``name`` is one of them."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r} is unknown: choose one of {', '.join(ACTIVATIONS)}")


def make_activation(name: str) -> nn.Module:
    """A fresh activation layer for ``name`` (see ``ACTIVATIONS``)."""
    check_activation(name)
    return ACTIVATIONS[name]()
