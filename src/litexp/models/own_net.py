"""Any ``nn.Module`` as the net of a litexp Classifier (``model=classifier``).

The net is given as a module, or as a factory (a class or a Hydra ``_partial_`` node)
that litexp calls with the data's sizes: by keyword when its signature names them
(``input_shape``, ``in_features``, ``num_outputs``, ``out_features``), else as
``net(input_shape, num_outputs)``. ``num_outputs`` is 1 for two classes (one logit,
sigmoid) and the number of classes otherwise (softmax).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from litexp.errors import first_line

NetFactory = Callable[..., nn.Module]


def _name(net: object) -> str:
    func = getattr(net, "func", net)  # functools.partial from Hydra's _partial_
    return getattr(func, "__qualname__", type(func).__name__)


def make_net(
    net: nn.Module | NetFactory, input_shape: Sequence[int] | None, num_outputs: int
) -> nn.Module:
    """The module ``net`` stands for, checked to map one batch to ``(B, num_outputs)``."""
    if isinstance(net, nn.Module):
        module = net
    elif callable(net):
        shape = tuple(input_shape) if input_shape else None
        offered = {
            "input_shape": shape,
            "in_features": math.prod(shape) if shape else None,
            "num_outputs": num_outputs,
            "out_features": num_outputs,
        }
        params = inspect.signature(net).parameters
        named = {k: v for k, v in offered.items() if k in params and v is not None}
        module = net(**named) if named else net(shape, num_outputs)
    else:
        raise TypeError(
            f"net={net!r} is invalid: give an nn.Module class (model.net._target_=my_pkg.MyNet)"
        )
    if not isinstance(module, nn.Module):
        raise TypeError(f"net: {_name(net)} returned a {type(module).__name__}, not an nn.Module")
    if input_shape:
        _check_outputs(module, tuple(input_shape), num_outputs, _name(net))
    return module


def _check_outputs(module: nn.Module, shape: tuple[int, ...], outputs: int, name: str) -> None:
    """Fail before training: one forward pass of two zero samples, in eval mode."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            logits = module(torch.zeros(2, *shape))
    except Exception as err:  # the user's forward: say what it was given
        raise ValueError(
            f"net: {name} fails on a batch of shape {(2, *shape)} (the data's input_shape): "
            f"{first_line(err)}"
        ) from None
    finally:
        module.train(was_training)
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (2, outputs):
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(
            f"net: {name} returns {got} for a batch of 2, but this data needs (2, {outputs}) "
            f"logits ({'one logit for 2 classes' if outputs == 1 else 'one per class'}): "
            "take num_outputs (or out_features) as an argument and use it"
        )
