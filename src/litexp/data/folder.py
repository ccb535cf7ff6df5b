"""Image folders: one subfolder per class, prepared as the model's weights expect.

``data_dir`` holds ``train/`` and ``val/`` (optionally ``test/``), each with one
subfolder per class, or just the class subfolders, split into train/val with a
seeded fraction. Files that are not decodable images are found at setup, skipped and
listed in one warning, so an epoch never crashes on a bad file.

``image_size`` (an int, or ``[h, w]``) fixes the size: each image's shorter side is
resized to it, then centre-cropped, so any model builds for the data's ``input_shape``
(``model=cnn``, ``model=mlp``, a user's net). ``None`` leaves the size to the model
(``set_preprocessing``): a pretrained model's size, crop, interpolation, mean and std.
At up to ``MEMORY_MAX_SIZE`` pixels a split is decoded once into a uint8 tensor
(cached under ``cache_dir``, see ``litexp.data.image_cache``) and served like
Fashion-MNIST's, with batch-wise augmentation on the device; larger images stream
through ``num_workers`` decoding processes.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from litexp.checks import fraction, is_int, positive_int
from litexp.data.base import InMemoryData
from litexp.data.batch_augment import random_crop_flip
from litexp.data.folder_scan import (  # noqa: F401  (re-exported for predict.py)
    IMAGE_SUFFIXES,
    class_difference,
    class_dirs,
    hold_out,
    scan_split,
    unreadable_reason,
)
from litexp.data.image_cache import decoded_split
from litexp.data.preprocessing import (
    AUGMENTATIONS,
    KEYS,
    describe_preprocessing,
    eval_transform,
    image_mode,
    normalize,
    open_image,
    train_transform,
)
from litexp.data.tensors import EpochShuffle, TensorSplit, tensor_loader
from litexp.errors import DataError

log = logging.getLogger(__name__)

MEMORY_MAX_SIZE = 128  # pixels: up to this size a split is decoded once and held in memory
# ImageNet's statistics: a fair normalisation for photos when no weights state theirs.
RGB_MEAN, RGB_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

Sample = tuple[str, int]  # (path, class index)


def _size_pair(image_size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if image_size is None:
        return None
    pair = [image_size, image_size] if is_int(image_size) else list(image_size)  # type: ignore[arg-type]
    if len(pair) != 2 or not all(is_int(v) and v >= 8 for v in pair):
        raise ValueError(
            f"image_size={image_size!r} is invalid: give pixels >= 8, e.g. 64, or [height, "
            "width], e.g. [64, 96]; or null for the model's own size"
        )
    return int(pair[0]), int(pair[1])


class ImageFiles(Dataset):
    """``(image tensor, class index)`` for each file, decoded and transformed on access."""

    def __init__(self, samples: list[Sample], mode: str, transform: Any) -> None:
        self.samples, self.mode, self.transform = samples, mode, transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        return self.transform(open_image(path, self.mode)), label


class FolderData(InMemoryData):
    """Images in class subfolders (the ImageFolder layout).

    Args:
        data_dir: a folder with ``train/`` and ``val/`` (and optionally ``test/``), or
            with the class subfolders themselves.
        image_size: pixels, an int or ``[height, width]``: resize the shorter side,
            centre-crop to it, and report ``input_shape`` so any model builds for it.
            ``None``: the model's own size (a pretrained model's). With ``model=timm``
            an explicit size overrides the weights' size (a warning says so).
        grayscale: one grey channel instead of RGB (needs ``image_size``).
        val_fraction: without ``val/``: share of each class's images held out for
            validation (seeded); the test set is then the validation set.
        augment: training augmentation: ``none``, ``trivialaugment`` or ``timm``.
        random_crop_padding: batch-wise augmentation: pad by this many pixels, crop
            back at a random offset (0: off).
        horizontal_flip: batch-wise augmentation: mirror half of each batch.
        batch_size: training batch size.
        eval_batch_size: validation/test batch size (default: ``batch_size``).
        num_workers: DataLoader worker processes (threads for the one-off decode).
        cache_dir: where small images decoded once are cached (None: no cache).
        seed: seeds the split and the shuffling.

    ``test_files`` lists the test set's files in the order the (unshuffled) test
    loader serves them, so a report can show the real image of test sample ``i``
    even when the model saw cached features.
    """

    def __init__(
        self,
        *,
        data_dir: str | Path,
        image_size: int | Sequence[int] | None = None,
        grayscale: bool = False,
        val_fraction: float = 0.2,
        augment: str = "none",
        random_crop_padding: int = 0,
        horizontal_flip: bool = False,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 2,
        cache_dir: str | Path | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed)
        fraction("val_fraction", val_fraction, allow_zero=False)
        positive_int("num_workers", num_workers, minimum=0)
        positive_int("random_crop_padding", random_crop_padding, minimum=0)
        if augment not in AUGMENTATIONS:
            raise ValueError(
                f"augment={augment!r} is invalid: choose one of {', '.join(AUGMENTATIONS)}"
            )
        self.image_size = _size_pair(image_size)
        if grayscale and self.image_size is None:
            raise ValueError(
                "grayscale=True is invalid without image_size: the model is built for one "
                "size and channel count; give data.image_size=<pixels>, e.g. 64"
            )
        if self.image_size and random_crop_padding > min(self.image_size) // 2:
            raise ValueError(
                f"random_crop_padding={random_crop_padding} is invalid: must be in 0.."
                f"{min(self.image_size) // 2} for {self.image_size[0]}x{self.image_size[1]} images"
            )
        self.root = Path(data_dir).expanduser()
        if not self.root.is_dir():
            raise DataError(
                f"data.data_dir={data_dir} is not a folder: give data.data_dir=<a folder with "
                "train/ and val/, or with one subfolder per class>"
            )
        self.val_fraction, self.augment, self.num_workers = val_fraction, augment, num_workers
        self.random_crop_padding, self.horizontal_flip = random_crop_padding, horizontal_flip
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
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
        # {split: {NFC class name: its folder's name on disk}}
        self.on_disk = {split: class_dirs(folder) for split, folder in self.split_dirs.items()}
        self.class_names = list(self.on_disk["train"])
        if len(self.class_names) < 2:
            raise DataError(
                f"{self.split_dirs['train']} holds {len(self.class_names)} class folder(s) "
                f"{self.class_names}: a classifier needs at least 2; put each class's images "
                "in its own subfolder"
            )
        for split in self.split_dirs:
            differ = class_difference(split, list(self.on_disk[split]), self.class_names)
            if split != "train" and differ:
                raise DataError(f"{self.root}: class folders differ: {differ}; make them the same")
        self.num_classes = len(self.class_names)
        self.channels = 1 if grayscale else 3
        self.input_shape: tuple[int, ...] | None = None
        self._preprocessing: dict[str, Any] | None = None
        if self.image_size is not None:  # the data decides: any model builds for it
            mean, std = (RGB_MEAN, RGB_STD) if self.channels == 3 else ((0.449,), (0.226,))
            self._set(describe_preprocessing((self.channels, *self.image_size), mean, std))
        self.samples: dict[str, list[Sample]] = {}
        self.features: dict[str, TensorSplit] = {}

    @property
    def preprocessing(self) -> dict[str, Any] | None:  # type: ignore[override]
        """From ``image_size``, or set by the model (``set_preprocessing``); None until then."""
        return self._preprocessing

    def _set(self, description: dict[str, Any]) -> None:
        self._preprocessing = dict(description)
        self.input_shape = tuple(description["input_size"])

    def set_preprocessing(self, description: dict[str, Any]) -> None:
        """Prepare images as the model expects (see ``litexp.data.preprocessing``); an
        explicit ``image_size`` keeps its size (with a warning when the weights differ)."""
        missing = [k for k in KEYS if k not in description]
        assert not missing, f"preprocessing description lacks {missing}"
        description = dict(description)
        if self.image_size is not None:
            theirs = tuple(description["input_size"][1:])
            if theirs != self.image_size:
                log.warning(
                    f"data.image_size={self.image_size[0]}x{self.image_size[1]} overrides the "
                    f"{theirs[0]}x{theirs[1]} the model's weights were trained at (accuracy "
                    "may drop); data.image_size=null uses theirs"
                )
            description["input_size"] = [self.channels, *self.image_size]
        self._set(description)

    @property
    def in_memory(self) -> bool:
        """Decoded once and held as tensors: an explicit size up to MEMORY_MAX_SIZE
        (timm's augmentation needs the full-size image, so it streams)."""
        size = self.image_size
        return size is not None and max(size) <= MEMORY_MAX_SIZE and self.augment != "timm"

    @property
    def test_files(self) -> list[str]:
        """The test images' paths, in the test loader's order (sample ``i`` is file ``i``)."""
        return [path for path, _ in self.samples.get(self._test_split(), [])]

    # -- reading the folders -------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.samples:
            return
        # litexp's builder refuses a model without preprocessing before training starts.
        assert self.preprocessing is not None, "set_preprocessing() first"
        skipped: list[str] = []
        found = {
            split: scan_split(
                self.root, folder, self.on_disk[split], self.class_names, self.num_workers, skipped
            )
            for split, folder in self.split_dirs.items()
        }
        if skipped:
            warnings.warn(
                f"{self.root}: skipped {len(skipped)} file(s) that are not usable images:\n  "
                + "\n  ".join(skipped),
                stacklevel=2,
            )
        if "val" not in found:
            found["train"], found["val"] = hold_out(
                found["train"],
                self.class_names,
                self.split_dirs["train"],
                self.val_fraction,
                self.seed,
            )
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
        if self.in_memory:
            for split, items in self.samples.items():
                images = decoded_split(
                    items, self.preprocessing, self.cache_dir, split=split, threads=self.num_workers
                )
                labels = torch.tensor([label for _, label in items], dtype=torch.long)
                self.splits[split] = TensorSplit(images, labels)

    # -- loaders -------------------------------------------------------------------------
    def _test_split(self) -> str:
        return "test" if "test" in self.samples else "val"

    def image_loader(self, split: str, *, train: bool = False) -> DataLoader:
        """Images of ``split`` as uint8 batches (training transform and shuffling when
        ``train``): from memory when decoded once, else decoded by workers."""
        assert self.preprocessing is not None and self.samples, "setup() first"
        if split in self.splits:
            return InMemoryData._loader(self, split, shuffle=train)
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
        """uint8 images -> augmented (training only), normalised float32, on the device;
        cached features pass as they are."""
        x, y = batch
        if x.dtype == torch.uint8:
            if self.trainer is not None and self.trainer.training:
                x = self.batch_augment(x)
            x = normalize(x, self.preprocessing)
        return x, y

    def batch_augment(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` uint8: TrivialAugment per image (in-memory splits; streamed
        ones had it in the workers), then random crop and flip, batch-wide."""
        if self.augment == "trivialaugment" and self.in_memory:
            from torchvision.transforms import TrivialAugmentWide

            augment = TrivialAugmentWide()
            x = torch.stack([augment(image) for image in x])
        return random_crop_flip(x, self.random_crop_padding, self.horizontal_flip)

    def cache_blocker(self) -> str | None:
        """Why backbone features cannot be cached for this data (None: they can)."""
        if self.augment != "none":
            return f"training augmentation is on (data.augment={self.augment})"
        if self.random_crop_padding or self.horizontal_flip:
            return "training augmentation is on (data.random_crop_padding/horizontal_flip)"
        return None

    def use_features(self, features: dict[str, TensorSplit]) -> None:
        """Serve these precomputed backbone features instead of images (same order)."""
        self.features = dict(features)

    def _serve(self, split: str, train: bool = False) -> DataLoader:
        if split in self.features:
            gen = torch.Generator().manual_seed(self.seed) if train else None
            bs = self.batch_size if train else self.eval_batch_size
            return tensor_loader(self.features[split], bs, shuffle=train, generator=gen)
        return self.image_loader(split, train=train)

    def train_dataloader(self) -> DataLoader:
        return self._serve("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._serve("val")

    def test_dataloader(self) -> DataLoader:
        return self._serve(self._test_split())

    def predict_dataloader(self) -> DataLoader:
        return self._serve(self._test_split())
