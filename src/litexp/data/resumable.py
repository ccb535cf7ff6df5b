"""A data order that survives a resume, at an epoch's end or in its middle.

``EpochShuffle`` draws each epoch's order from ``(seed, epoch)`` alone, and
``ResumableLoader`` tells Lightning how far into the epoch it got: Lightning stores
that in the checkpoint (any loader with ``state_dict``/``load_state_dict``) and hands it
back on resume, so the rest of the epoch sees exactly the batches an uninterrupted run
would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler


class EpochShuffle(RandomSampler):
    """A shuffle whose order depends on ``(seed, epoch)`` only.

    Lightning calls ``set_epoch`` before every epoch, a resumed run's first one
    included (a generator carried across epochs would restart from epoch 0's order).
    """

    def __init__(self, data_source: Dataset, seed: int) -> None:
        super().__init__(data_source)
        self.seed = seed
        self.epoch = 0
        self.yielded = 0  # indices handed out in the current epoch
        self._resume: tuple[int, int] | None = None  # (epoch, indices to skip)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        # A generator: runs at the first batch, after Lightning's set_epoch.
        self.generator = torch.Generator().manual_seed(
            (self.seed + self.epoch * 0x9E3779B9) % 2**63
        )
        skip = 0
        if self._resume is not None:
            epoch, skip = self._resume if self._resume[0] == self.epoch else (self.epoch, 0)
            self._resume = None
        self.yielded = skip
        for i, index in enumerate(super().__iter__()):
            if i >= skip:
                self.yielded += 1
                yield index

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "yielded": self.yielded}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._resume = (int(state["epoch"]), int(state["yielded"]))


class ResumableLoader(DataLoader):
    """A DataLoader Lightning checkpoints mid-epoch: its sampler's position is its state."""

    def _shuffle(self) -> EpochShuffle | None:
        # With batch_size the sampler is ``self.sampler``; with batch_sampler it is inside.
        for sampler in (self.sampler, getattr(self.batch_sampler, "sampler", None)):
            if isinstance(sampler, EpochShuffle):
                return sampler
        return None

    def state_dict(self) -> dict[str, Any]:
        shuffle = self._shuffle()
        return {"sampler": shuffle.state_dict()} if shuffle else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        shuffle = self._shuffle()
        if shuffle and "sampler" in state:
            shuffle.load_state_dict(state["sampler"])
