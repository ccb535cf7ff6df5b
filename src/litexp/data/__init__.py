"""LightningDataModules: each exposes ``spec``, a :class:`~litexp.spec.DataSpec`."""

from typing import Any

from litexp.data.base import ClassificationData, InMemoryData
from litexp.data.mnist import MNIST, FashionMNIST
from litexp.data.toy import Blobs, Circles, Moons

__all__ = [
    "MNIST",
    "Blobs",
    "Circles",
    "ClassificationData",
    "FashionMNIST",
    "FolderData",
    "InMemoryData",
    "Moons",
]


def __getattr__(name: str) -> Any:
    # Imported on first use: image folders bring timm's transforms along.
    if name == "FolderData":
        from litexp.data.folder import FolderData

        return FolderData
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
