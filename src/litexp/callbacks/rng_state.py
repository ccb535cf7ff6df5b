"""Random number generator states in every checkpoint, so a resumed run draws what the
uninterrupted run would have drawn (dropout masks, augmentations)."""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch


class RngState(L.Callback):
    """Saves and restores the python, numpy, torch and CUDA generator states.

    Stored as tensors and plain lists, so checkpoints still load with
    ``torch.load(weights_only=True)``. The data order does not depend on these: the
    in-memory loaders reseed their shuffle from ``(seed, epoch)``.
    """

    def state_dict(self) -> dict[str, Any]:
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        return {
            "python": _plain(random.getstate()),
            "numpy": {
                "kind": kind,
                "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                "pos": int(pos),
                "has_gauss": int(has_gauss),
                "gauss": float(gauss),
            },
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        version, internal, gauss = state_dict["python"]
        random.setstate((version, tuple(internal), gauss))
        n = state_dict["numpy"]
        keys = n["keys"].numpy().astype(np.uint32)
        np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["gauss"]))
        torch.set_rng_state(state_dict["torch"])
        cuda = state_dict["cuda"]
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively (python's state is nested tuples of ints)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
