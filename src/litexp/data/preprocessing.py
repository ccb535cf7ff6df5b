"""How images are prepared for a model, as plain data that travels in the checkpoint.

A description is timm's data-config format, with lists instead of tuples::

    {"input_size": [3, 224, 224], "interpolation": "bicubic", "mean": [...],
     "std": [...], "crop_pct": 0.875, "crop_mode": "center"}

Pixel values are in [0, 1] before ``(x - mean) / std``. A pretrained model's
description comes from its resolved pretrained config (``from_timm_config``); an
in-memory image data set (28x28 grey) states its own with ``describe_preprocessing``.
Training (image folders) and ``predict.py`` build their transforms from the same
description, with ``timm.data.create_transform``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from PIL import Image

from litexp.data.image_decode import open_image  # noqa: F401  (re-exported: one decoder)

KEYS = ("input_size", "interpolation", "mean", "std", "crop_pct", "crop_mode")
AUGMENTATIONS = ("none", "trivialaugment", "timm")


def describe_preprocessing(
    input_size: Sequence[int],
    mean: Sequence[float],
    std: Sequence[float],
    interpolation: str = "bilinear",
    crop_pct: float = 1.0,
    crop_mode: str = "center",
) -> dict[str, Any]:
    """A description for images of ``input_size`` ``(C, H, W)``, e.g. ``(1, 28, 28)``."""
    if len(input_size) != 3 or input_size[0] not in (1, 3):
        raise ValueError(f"input_size={list(input_size)} is invalid: must be [1 or 3, H, W]")
    return {
        "input_size": [int(v) for v in input_size],
        "interpolation": str(interpolation),
        "mean": [float(v) for v in mean],
        "std": [float(v) for v in std],
        "crop_pct": float(crop_pct),
        "crop_mode": str(crop_mode),
    }


def from_timm_config(config: dict[str, Any], in_chans: int) -> dict[str, Any]:
    """A description from ``timm.data.resolve_model_data_config(model)``.

    timm reports 3 channels even for a 1-channel model: mean/std are averaged to one
    value then, so a grey image is normalised like the RGB images the weights saw.
    """
    mean, std = list(config["mean"]), list(config["std"])
    if len(mean) != in_chans:
        mean = [sum(mean) / len(mean)] * in_chans
        std = [sum(std) / len(std)] * in_chans
    _, height, width = config["input_size"]
    return describe_preprocessing(
        (in_chans, height, width),
        mean,
        std,
        interpolation=config.get("interpolation", "bilinear"),
        crop_pct=config.get("crop_pct") or 1.0,
        crop_mode=config.get("crop_mode") or "center",
    )


def image_mode(description: dict[str, Any]) -> str:
    """``"L"`` for a 1-channel model, ``"RGB"`` for a 3-channel one."""
    return "L" if description["input_size"][0] == 1 else "RGB"


def eval_transform(description: dict[str, Any]) -> Callable[[Image.Image], torch.Tensor]:
    """Resize and centre-crop as the weights expect: PIL image -> uint8 ``(C, H, W)``.

    Normalisation is left to ``normalize``, on whole batches (timm's prefetcher
    split): per-image float tensors are 4x the bytes and slow on a busy CPU.
    """
    from timm.data import create_transform  # here: describing needs no timm import

    kwargs = {k: _tuple(description[k]) for k in KEYS}
    return create_transform(**kwargs, is_training=False, use_prefetcher=True)


def train_transform(
    description: dict[str, Any], augment: str
) -> Callable[[Image.Image], torch.Tensor]:
    """The training transform: the eval one, with optional augmentation (uint8 out).

    Args:
        augment: ``none`` (same as eval), ``trivialaugment`` (TrivialAugmentWide, then
            the eval transform) or ``timm`` (timm's own training transform: random
            resized crop, flip, colour jitter).
    """
    if augment not in AUGMENTATIONS:
        raise ValueError(
            f"augment={augment!r} is invalid: choose one of {', '.join(AUGMENTATIONS)}"
        )
    from timm.data import create_transform
    from torchvision import transforms as T

    if augment == "timm":
        kwargs = {k: _tuple(description[k]) for k in ("input_size", "interpolation", "mean", "std")}
        return create_transform(**kwargs, is_training=True, use_prefetcher=True)
    if augment == "trivialaugment":
        return T.Compose([T.TrivialAugmentWide(), eval_transform(description)])
    return eval_transform(description)


def normalize(images: torch.Tensor, description: dict[str, Any]) -> torch.Tensor:
    """uint8 ``(B, C, H, W)`` -> float32 ``(x / 255 - mean) / std``, as ToTensor + Normalize."""
    mean = torch.tensor(description["mean"], device=images.device).view(1, -1, 1, 1)
    std = torch.tensor(description["std"], device=images.device).view(1, -1, 1, 1)
    return (images.float() / 255 - mean) / std


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
