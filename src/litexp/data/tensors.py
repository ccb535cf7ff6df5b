"""Batches straight out of in-memory tensors.

A split is held once as tensors; a batch is one fancy-index per tensor (``x[idx]``), so
there is no per-sample ``__getitem__``, no PIL and no collate. The loader is still a
plain ``DataLoader`` with a ``BatchSampler``, so Lightning can swap in a
``DistributedSampler`` under DDP and seed the shuffle as usual.
"""

from __future__ import annotations

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from litexp.data.resumable import EpochShuffle, ResumableLoader


class TensorSplit(Dataset):
    """Tensors of equal length, indexed a whole batch at a time."""

    def __init__(self, *tensors: torch.Tensor) -> None:
        n = tensors[0].shape[0]
        assert all(t.shape[0] == n for t in tensors), "tensors must share their first dimension"
        self.tensors = tensors

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        # Called by DataLoader with a whole batch of indices (torch >= 2.0).
        idx = torch.as_tensor(indices)
        return tuple(t[idx] for t in self.tensors)


def _as_is(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    # The batch is already stacked by TensorSplit.__getitems__ (module-level: picklable).
    return batch


def tensor_loader(
    split: TensorSplit,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader over ``split`` yielding stacked batches, shuffled by index."""
    if not shuffle:
        sampler = SequentialSampler(split)
    elif generator is not None:  # seeded: the order follows (seed, epoch)
        sampler = EpochShuffle(split, generator.initial_seed())
    else:
        sampler = RandomSampler(split)
    return ResumableLoader(
        split,
        batch_sampler=BatchSampler(sampler, batch_size=batch_size, drop_last=False),
        collate_fn=_as_is,
        pin_memory=pin_memory,
        # Its own generator for the per-iterator base seed: creating an iterator (as a
        # resumed run does mid-epoch) leaves the global RNG, hence dropout, untouched.
        generator=torch.Generator().manual_seed(generator.initial_seed()) if generator else None,
    )
