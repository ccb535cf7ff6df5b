"""Training augmentation of whole uint8 image batches, as tensor ops on the batch's device.

Used by the in-memory image sets (MNIST, Fashion-MNIST, small image folders): one
``pad`` + two ``gather`` for a per-sample random crop, one ``where`` for the flip, so
a batch of any size costs a few kernel launches, on the GPU or the CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop_flip(x: torch.Tensor, padding: int = 0, flip: bool = False) -> torch.Tensor:
    """``(B, C, H, W)``: pad by ``padding`` (black), crop back at a random offset per
    sample; mirror a random half of the samples when ``flip``."""
    b, c, h, w = x.shape
    if padding:
        p = padding
        padded = F.pad(x, (p, p, p, p))  # (B, C, H+2p, W+2p)
        offsets = torch.randint(0, 2 * p + 1, (2, b, 1), device=x.device)
        rows = offsets[0] + torch.arange(h, device=x.device)  # (B, H)
        cols = offsets[1] + torch.arange(w, device=x.device)  # (B, W)
        x = padded.gather(2, rows[:, None, :, None].expand(b, c, h, w + 2 * p))
        x = x.gather(3, cols[:, None, None, :].expand(b, c, h, w))
    if flip:
        mirror = torch.rand(b, device=x.device) < 0.5
        x = torch.where(mirror[:, None, None, None], x.flip(3), x)
    return x
