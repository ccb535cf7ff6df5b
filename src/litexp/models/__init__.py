"""LightningModules: one shared ``Classifier`` base, each model builds its own net."""

from typing import Any

from litexp.models.classifier import Classifier
from litexp.models.cnn import FashionCNN
from litexp.models.mlp import MLP

__all__ = ["MLP", "Classifier", "FashionCNN", "TimmTransfer"]


def __getattr__(name: str) -> Any:
    # Imported on first use: timm costs about a second, and the MLP and CNN never need it.
    if name == "TimmTransfer":
        from litexp.models.timm_transfer import TimmTransfer

        return TimmTransfer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
