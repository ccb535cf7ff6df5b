"""Batches straight out of in-memory tensors.

A split is held once as tensors; a batch is one fancy-index per tensor (``x[idx]``), so
there is no per-sample ``__getitem__``, no PIL and no collate. The loader is still a
plain ``DataLoader`` with a sampler and ``batch_size``, so Lightning can swap in a
``DistributedSampler`` under DDP and seed the shuffle as usual.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler

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
        idx = torch.as_tensor(indices, device=self.tensors[0].device)  # the split may be on the GPU
        # index_select, not t[idx]: advanced indexing of uint8 images is ~10x slower on CPU.
        return tuple(t.index_select(0, idx) for t in self.tensors)


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
    # batch_size + sampler, not batch_sampler=BatchSampler(...): under DDP Lightning swaps in a
    # DistributedSampler and keeps batch_size, but drops a plain BatchSampler, and every
    # "batch" would then be one sample without its batch dimension.
    return ResumableLoader(
        split,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=_as_is,
        pin_memory=pin_memory,
        # Its own generator for the per-iterator base seed: creating an iterator (as a
        # resumed run does mid-epoch) leaves the global RNG, hence dropout, untouched.
        generator=torch.Generator().manual_seed(generator.initial_seed()) if generator else None,
    )
