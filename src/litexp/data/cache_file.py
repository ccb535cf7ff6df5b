"""Decoded data cached on disk: written whole or not at all, never in the way."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from lightning.pytorch.utilities import rank_zero_warn


def save_cache(path: Path, content: dict, what: str) -> None:
    """``torch.save`` through a temporary file and a rename: readers never see half a
    file. An unwritable cache folder is a warning (``what`` says what was not cached),
    not an error: the data is only slower to load next time."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(content, tmp)
        os.replace(tmp, path)
    except OSError as err:
        rank_zero_warn(
            f"cannot cache {what} in {path.parent} ({err}); "
            "set paths.cache_dir to a writable folder to start faster"
        )
        tmp.unlink(missing_ok=True)
