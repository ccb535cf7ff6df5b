"""Reading litexp checkpoints safely, and rebuilding the model they hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from litexp.errors import CheckpointError


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint without executing pickled code (``weights_only=True``).

    Raises:
        CheckpointError: missing, truncated/corrupt, unsafe, or not written by litexp.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist: give ckpt_path=<a .ckpt file>")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for bad files
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"checkpoint {path} cannot be read safely (truncated, corrupt or containing "
            f"code): {reason[:200]}"
        ) from None
    if not isinstance(ckpt, dict) or "litexp" not in ckpt or "state_dict" not in ckpt:
        raise CheckpointError(
            f"checkpoint {path} was not written by litexp train.py (no 'litexp' metadata)"
        )
    return ckpt


def rebuild(
    ckpt: dict[str, Any], data_overrides: dict[str, Any] | None = None
) -> tuple[Any, Any, Any]:
    """The run's config, datamodule and model (with the checkpoint's weights, in eval mode).

    Args:
        ckpt: from ``load_checkpoint``.
        data_overrides: keys of the ``data`` config to replace, e.g. ``{"data_dir": ...}``.
    """
    from litexp.train import build_data_and_model

    cfg = OmegaConf.create(ckpt["litexp"]["config"])
    for key, value in (data_overrides or {}).items():
        if value is not None:
            cfg.data[key] = value
    datamodule, model = build_data_and_model(cfg.data, cfg.model)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(
            f"checkpoint weights do not fit the model: {str(err).splitlines()[0]}"
        ) from None
    model.eval()
    return cfg, datamodule, model
