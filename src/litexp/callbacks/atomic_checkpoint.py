"""Checkpoint writing that a kill cannot truncate, and reading that runs no pickled code."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes ``<name>.<pid>.tmp`` next to the target, fsyncs it, then renames it over.

    A rename within one directory is atomic, so ``last.ckpt`` is always either the old
    complete file or the new complete file. (Lightning's own save goes through a
    temporary file in the system temp dir, which is a copy, not a rename, when that is
    another file system.) The temporary name does not end in ``.ckpt``, so nothing
    mistakes a leftover for a checkpoint. Loading uses ``weights_only=True``.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        if "://" in str(path):  # remote storage: Lightning's fsspec transaction
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        # Make the rename itself durable (a power loss right after must not undo it).
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def load_checkpoint(self, path: _PATH, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # Resume (trainer.fit(ckpt_path=...)) and test(ckpt_path=...) come through here:
        # safe loading whatever the caller asked for.
        kwargs.pop("weights_only", None)
        if len(args) > 1:
            args = args[:1]
        return super().load_checkpoint(path, *args, weights_only=True, **kwargs)
