"""LightningModules: one shared ``Classifier`` base, each model builds its own net."""

from litexp.models.classifier import Classifier
from litexp.models.cnn import FashionCNN
from litexp.models.mlp import MLP

__all__ = ["MLP", "Classifier", "FashionCNN"]
