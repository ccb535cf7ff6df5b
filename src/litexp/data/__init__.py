"""LightningDataModules: each exposes ``num_classes``, ``input_shape`` and ``class_names``."""

from litexp.data.base import ClassificationData, InMemoryData
from litexp.data.mnist import MNIST, FashionMNIST
from litexp.data.toy import Blobs, Circles, Moons

__all__ = [
    "MNIST",
    "Blobs",
    "Circles",
    "ClassificationData",
    "FashionMNIST",
    "InMemoryData",
    "Moons",
]
