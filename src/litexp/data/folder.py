"""Image folders: one subfolder per class, prepared as the model's weights expect.

``data_dir`` holds ``train/`` and ``val/`` (optionally ``test/``), each with one
subfolder per class, or just the class subfolders, split into train/val with a
seeded fraction. Files that are not decodable images are found at setup, skipped and
listed in one warning, so an epoch never crashes on a bad file.

The transforms come from the model (``set_preprocessing``): its pretrained config's
size, crop, interpolation, mean and std, and its number of channels.
"""

from __future__ import annotations

import logging
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from litexp.checks import fraction, positive_int
from litexp.data.base import ClassificationData
from litexp.data.preprocessing import (
    AUGMENTATIONS,
    KEYS,
    eval_transform,
    image_mode,
    normalize,
    open_image,
    train_transform,
)
from litexp.data.tensors import EpochShuffle, TensorSplit, tensor_loader
from litexp.errors import DataError, first_line

log = logging.getLogger(__name__)

# torchvision's ImageFolder extensions: formats PIL decodes as still images.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

Sample = tuple[str, int]  # (path, class index)


class ImageFiles(Dataset):
    """``(image tensor, class index)`` for each file, decoded and transformed on access."""

    def __init__(self, samples: list[Sample], mode: str, transform: Any) -> None:
        self.samples, self.mode, self.transform = samples, mode, transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        return self.transform(open_image(path, self.mode)), label


def unreadable_reason(path: Path) -> str | None:
    """Why ``path`` is not a usable image, or None when it decodes."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return f"not an image type ({path.suffix or 'no extension'})"
    try:
        with Image.open(path) as image:
            image.draft(None, (1, 1))  # JPEG: decode at 1/8 scale, still reads every byte
            image.load()
    except Exception as err:  # PIL raises many types for bad files
        return f"cannot be decoded ({first_line(err, 80)})"
    return None


def _class_dirs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _files(folder: Path) -> list[Path]:
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / n for n in sorted(names) if not n.startswith(".")]
    return found


class FolderData(ClassificationData):
    """Images in class subfolders (the ImageFolder layout).

    Args:
        data_dir: a folder with ``train/`` and ``val/`` (and optionally ``test/``), or
            with the class subfolders themselves.
        val_fraction: without ``val/``: share of each class's images held out for
            validation (seeded); the test set is then the validation set.
        augment: training augmentation: ``none``, ``trivialaugment`` or ``timm``.
        batch_size: training batch size.
        eval_batch_size: validation/test batch size (default: ``batch_size``).
        num_workers: DataLoader worker processes that decode images.
        seed: seeds the split and the shuffling.
    """

    def __init__(
        self,
        *,
        data_dir: str | Path,
        val_fraction: float = 0.2,
        augment: str = "none",
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 2,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed)
        fraction("val_fraction", val_fraction, allow_zero=False)
        positive_int("num_workers", num_workers, minimum=0)
        if augment not in AUGMENTATIONS:
            raise ValueError(
                f"augment={augment!r} is invalid: choose one of {', '.join(AUGMENTATIONS)}"
            )
        self.root = Path(data_dir).expanduser()
        if not self.root.is_dir():
            raise DataError(
                f"data.data_dir={data_dir} is not a folder: give data.data_dir=<a folder with "
                "train/ and val/, or with one subfolder per class>"
            )
        self.val_fraction, self.augment, self.num_workers = val_fraction, augment, num_workers
        train, val = self.root / "train", self.root / "val"
        if val.is_dir() and not train.is_dir():
            raise DataError(
                f"{self.root} has val/ but no train/: add {train} with class subfolders"
            )
        self.split_dirs = {"train": train if train.is_dir() else self.root}
        if val.is_dir():
            self.split_dirs["val"] = val
            if (self.root / "test").is_dir():
                self.split_dirs["test"] = self.root / "test"
        self.class_names = _class_dirs(self.split_dirs["train"])
        if len(self.class_names) < 2:
            raise DataError(
                f"{self.split_dirs['train']} holds {len(self.class_names)} class folder(s) "
                f"{self.class_names}: a classifier needs at least 2; put each class's images "
                "in its own subfolder"
            )
        for split, folder in self.split_dirs.items():
            if split != "train" and _class_dirs(folder) != self.class_names:
                raise DataError(
                    f"{folder} has class folders {_class_dirs(folder)}, but "
                    f"{self.split_dirs['train']} has {self.class_names}: make them the same"
                )
        self.num_classes = len(self.class_names)
        self.input_shape = None  # the model decides (set_preprocessing)
        self._preprocessing: dict[str, Any] | None = None
        self.samples: dict[str, list[Sample]] = {}
        self.features: dict[str, TensorSplit] = {}

    @property
    def preprocessing(self) -> dict[str, Any] | None:  # type: ignore[override]
        """Set by the model (``set_preprocessing``): None until then."""
        return self._preprocessing

    def set_preprocessing(self, description: dict[str, Any]) -> None:
        """Prepare images as the model expects (see ``litexp.data.preprocessing``)."""
        missing = [k for k in KEYS if k not in description]
        assert not missing, f"preprocessing description lacks {missing}"
        self._preprocessing = dict(description)
        self.input_shape = tuple(description["input_size"])

    # -- reading the folders -------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.samples:
            return
        # litexp's builder refuses a model without preprocessing before training starts.
        assert self.preprocessing is not None, "set_preprocessing() first"
        skipped: list[str] = []
        found = {s: self._scan(s, skipped) for s in self.split_dirs}
        if skipped:
            warnings.warn(
                f"{self.root}: skipped {len(skipped)} file(s) that are not usable images:\n  "
                + "\n  ".join(skipped),
                stacklevel=2,
            )
        if "val" not in found:
            found["train"], found["val"] = self._split(found["train"])
        self.samples = {
            split: [(str(p), label) for p, label in items] for split, items in found.items()
        }
        counts = ", ".join(f"{len(v)} {k}" for k, v in self.samples.items())
        log.info(f"data: {self.root}: {self.num_classes} classes, {counts} images")
        if "test" not in self.samples:
            how = "val/" if "val" in self.split_dirs else f"the held-out {self.val_fraction:g}"
            log.info(
                f"data: {self.root} has no test/ folder: the test set is the validation set ({how})"
            )

    def _scan(self, split: str, skipped: list[str]) -> list[tuple[Path, int]]:
        found: list[tuple[Path, int]] = []
        for label, name in enumerate(self.class_names):
            folder = self.split_dirs[split] / name
            files = _files(folder)
            with ThreadPoolExecutor(max(1, self.num_workers)) as pool:
                reasons = list(pool.map(unreadable_reason, files))
            good = [f for f, why in zip(files, reasons, strict=True) if why is None]
            skipped += [
                f"{f.relative_to(self.root)}: {why}"
                for f, why in zip(files, reasons, strict=True)
                if why
            ]
            if not good:
                raise DataError(
                    f"class folder {folder} has no usable images ({len(files)} file(s), none "
                    f"a decodable {'/'.join(IMAGE_SUFFIXES)}): add images or remove the folder"
                )
            found += [(f, label) for f in good]
        return found

    def _split(self, items: list[tuple[Path, int]]) -> tuple[list, list]:
        """Per class, hold out ``val_fraction`` of the images (at least one), seeded."""
        rng = np.random.default_rng(self.seed)
        train, val = [], []
        for label, name in enumerate(self.class_names):
            mine = [it for it in items if it[1] == label]
            if len(mine) < 2:
                raise DataError(
                    f"class folder {self.split_dirs['train'] / name} has {len(mine)} usable "
                    "image: at least 2 are needed to split it into train and val"
                )
            order = rng.permutation(len(mine))
            n_val = min(len(mine) - 1, max(1, round(len(mine) * self.val_fraction)))
            val += [mine[i] for i in sorted(order[:n_val])]
            train += [mine[i] for i in sorted(order[n_val:])]
        return train, val

    # -- loaders -------------------------------------------------------------------------
    def _test_split(self) -> str:
        return "test" if "test" in self.samples else "val"

    def image_loader(self, split: str, *, train: bool = False) -> DataLoader:
        """Images of ``split`` (training transform and shuffling when ``train``)."""
        assert self.preprocessing is not None and self.samples, "setup() first"
        transform = (
            train_transform(self.preprocessing, self.augment)
            if train
            else eval_transform(self.preprocessing)
        )
        dataset = ImageFiles(self.samples[split], image_mode(self.preprocessing), transform)
        # The cached-feature loader's shuffle: the same batches, cached or not, resumed or not.
        return DataLoader(
            dataset,
            batch_size=self.batch_size if train else self.eval_batch_size,
            sampler=EpochShuffle(dataset, self.seed) if train else None,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """uint8 images -> normalised float32, on the device; cached features pass as they are."""
        x, y = batch
        if x.dtype == torch.uint8:
            x = normalize(x, self.preprocessing)
        return x, y

    def cache_blocker(self) -> str | None:
        """Why backbone features cannot be cached for this data (None: they can)."""
        if self.augment != "none":
            return f"training augmentation is on (data.augment={self.augment})"
        return None

    def use_features(self, features: dict[str, TensorSplit]) -> None:
        """Serve these precomputed backbone features instead of images (same order)."""
        self.features = dict(features)

    def _loader(self, split: str, train: bool = False) -> DataLoader:
        if split in self.features:
            gen = torch.Generator().manual_seed(self.seed) if train else None
            bs = self.batch_size if train else self.eval_batch_size
            return tensor_loader(self.features[split], bs, shuffle=train, generator=gen)
        return self.image_loader(split, train=train)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._test_split())

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self._test_split())
