"""Small images decoded once: a split as one uint8 ``(N, C, H, W)`` tensor, cached on disk.

The cache file lives under ``cache_dir/folder/`` and is named by a digest of what
made it: every file's path, label, byte size and mtime, and the preprocessing
description (size, crop, interpolation, channels). Editing, adding or removing an
image, or asking for another size, gives another key, so a stale cache is never read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from litexp.data.cache_file import save_cache
from litexp.data.preprocessing import eval_transform, image_mode, open_image

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when the cached content changes
Sample = tuple[str, int]  # (path, class index)


def cache_key(samples: list[Sample], description: dict[str, Any]) -> str:
    """A short digest of the files (path, label, size, mtime) and the preprocessing."""
    digest = hashlib.blake2b(digest_size=10)
    digest.update(json.dumps([CACHE_FORMAT, description], sort_keys=True).encode())
    for path, label in samples:
        stat = os.stat(path)
        digest.update(f"{path}\0{label}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def decode_all(samples: list[Sample], description: dict[str, Any], threads: int) -> torch.Tensor:
    """Every file resized and centre-cropped as ``description`` says: uint8 ``(N, C, H, W)``."""
    transform, mode = eval_transform(description), image_mode(description)

    def one(sample: Sample) -> torch.Tensor:
        return transform(open_image(sample[0], mode))

    with ThreadPoolExecutor(max(1, threads)) as pool:  # PIL decodes outside the GIL
        return torch.stack(list(pool.map(one, samples)))


def decoded_split(
    samples: list[Sample],
    description: dict[str, Any],
    cache_dir: Path | None,
    *,
    split: str,
    threads: int,
) -> torch.Tensor:
    """The split's images as uint8 ``(N, C, H, W)``, from the cache when it holds them."""
    path = None
    if cache_dir is not None:
        path = cache_dir / "folder" / f"{split}-{cache_key(samples, description)}.pt"
        if path.is_file():
            try:
                saved = torch.load(path, weights_only=True)
                if saved.get("format") == CACHE_FORMAT and len(saved["images"]) == len(samples):
                    return saved["images"]
            except Exception:  # a broken cache file is rebuilt, never trusted
                pass
    start = time.perf_counter()
    images = decode_all(samples, description, threads)
    log.info(
        f"data: decoded {len(samples)} {split} images once to {tuple(images.shape[1:])} "
        f"({time.perf_counter() - start:.1f} s)" + (f", cached in {path.parent}" if path else "")
    )
    if path is not None:
        save_cache(path, {"format": CACHE_FORMAT, "images": images}, "decoded images")
    return images
