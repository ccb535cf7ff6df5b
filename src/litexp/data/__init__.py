"""LightningDataModules: each exposes ``num_classes``, ``input_shape`` and ``class_names``."""

from litexp.data.base import ClassificationData, InMemoryData
from litexp.data.toy import Blobs, Circles, Moons

__all__ = ["Blobs", "Circles", "ClassificationData", "InMemoryData", "Moons"]
