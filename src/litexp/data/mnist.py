"""MNIST and Fashion-MNIST: 28x28 grey images held in memory as uint8 tensors.

Offline, ``data_dir`` holds the four official IDX files (gzipped or not), flat or in
torchvision's ``<Name>/raw/`` layout; Fashion-MNIST is also found in the Debian
package's folder. Online, ``prepare_data`` downloads them through torchvision.
Decompressed splits are cached under ``cache_dir`` (never in the source folder), so
a second run loads them in milliseconds. Normalisation and augmentation run on whole
batches, as tensor ops on the training device, in ``on_after_batch_transfer``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from litexp.checks import positive_int
from litexp.data.base import InMemoryData
from litexp.data.batch_augment import random_crop_flip
from litexp.data.cache_file import save_cache
from litexp.data.idx import read_pair
from litexp.data.tensors import TensorSplit
from litexp.downloads import run_download
from litexp.errors import ConfigError, DataError

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CACHE_FORMAT = 1  # bump when the cached content changes


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _content_key(*paths: Path) -> str:
    """A short digest of the files' bytes: the cache follows the data, not its path."""
    digest = hashlib.blake2b(digest_size=8)
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


class MNISTLike(InMemoryData):
    """The shared implementation; subclasses name the data set and its statistics.

    Args:
        data_dir: folder with the four IDX files, or where to download them.
        cache_dir: where decompressed splits are cached; ``None`` disables the cache.
        download: in ``prepare_data``, download through torchvision when nothing is found.
        val_size: images carved from the 60,000 training images for validation
            (a seeded split).
        batch_size: training batch size.
        eval_batch_size: validation/test batch size (default: ``batch_size``).
        random_crop_padding: training augmentation: pad by this many pixels and crop
            back to 28x28 at a random offset (0: off).
        horizontal_flip: training augmentation: mirror half of each batch.
        seed: seeds the train/val split and the shuffling.
        train_subset: train on this many of the training images only (seeded); None: all.
        device_resident: on a GPU, keep each split on the GPU (False: copy every batch
            from the CPU, as a DataLoader usually does).
    """

    title: str  # for messages
    torchvision_name: str  # torchvision's class, and its <Name>/raw/ folder
    folder: str  # the data set's usual folder name, for messages
    system_dirs: tuple[str, ...] = ()
    mean: float  # of the training images, pixel values in [0, 1]
    std: float
    flip_makes_sense: bool = False
    num_classes = 10
    input_shape = (1, 28, 28)

    def __init__(
        self,
        *,
        data_dir: str | Path,
        cache_dir: str | Path | None = None,
        download: bool = True,
        val_size: int = 5000,
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        random_crop_padding: int = 0,
        horizontal_flip: bool = False,
        seed: int = 0,
        train_subset: int | None = None,
        device_resident: bool = True,
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            seed=seed,
            train_subset=train_subset,
            device_resident=device_resident,
        )
        positive_int("val_size", val_size)
        positive_int("random_crop_padding", random_crop_padding, minimum=0)
        if random_crop_padding > 14:
            raise ValueError(
                f"random_crop_padding={random_crop_padding} is invalid: must be in 0..14 "
                "(pixels on each side of a 28x28 image)"
            )
        if horizontal_flip and not self.flip_makes_sense:
            raise ValueError(
                f"horizontal_flip=True is invalid for {self.title}: mirrored digits are other "
                "shapes; use horizontal_flip=false"
            )
        self.data_dir = Path(data_dir)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.download = download
        self.val_size = val_size
        self.random_crop_padding = random_crop_padding
        self.horizontal_flip = horizontal_flip

    # -- finding the files ---------------------------------------------------------
    def places(self) -> list[Path]:
        """Every folder searched, in order."""
        dirs = [self.data_dir, self.data_dir / self.torchvision_name / "raw"]
        return dirs + [Path(d) for d in self.system_dirs]

    def locate(self) -> dict[str, tuple[Path, Path]] | None:
        """The first folder holding all four files, as ``{split: (images, labels)}``."""
        for folder in self.places():
            found = {s: (_find(folder, i), _find(folder, lab)) for s, (i, lab) in FILES.items()}
            if all(p is not None for pair in found.values() for p in pair):
                return found  # type: ignore[return-value]
        return None

    def _not_found(self, download_error: str | None = None) -> DataError:
        names = ", ".join(f"{n}[.gz]" for pair in FILES.values() for n in pair)
        looked = "; ".join(str(p) for p in self.places())
        why = (
            f"download failed ({download_error})"
            if download_error
            else "download is off (data.download=false)"
        )
        return DataError(
            f"{self.title} not found: looked for {names} in {looked}; {why}. Fix: set "
            "data.data_dir=<folder holding the four files> (e.g. "
            f"data.data_dir=../shared/data/{self.folder}), or data.download=true with internet"
        )

    def prepare_data(self) -> None:
        """Download through torchvision if the files are nowhere to be found."""
        if self.locate() is not None:
            return
        if not self.download:
            raise self._not_found()
        from torchvision import datasets

        def fetch() -> None:
            getattr(datasets, self.torchvision_name)(root=self.data_dir, download=True)

        try:  # given up when nothing arrives for LITEXP_DOWNLOAD_TIMEOUT seconds
            run_download(fetch, [self.data_dir])
        except Exception as err:  # URLError, RuntimeError, OSError: all mean "not here"
            first = str(err).strip().splitlines()
            raise self._not_found(first[-1][:200] if first else type(err).__name__) from None

    # -- loading -----------------------------------------------------------------------
    def _load(self, split: str, images: Path, labels: Path) -> tuple[torch.Tensor, torch.Tensor]:
        """One split as uint8 ``(N, 1, 28, 28)`` images and uint8 ``(N,)`` labels, cached."""
        cache = None
        if self.cache_dir is not None:
            key = _content_key(images, labels)
            cache = self.cache_dir / self.torchvision_name.lower() / f"{split}-{key}.pt"
            if cache.is_file():
                try:
                    saved = torch.load(cache, weights_only=True)
                    if saved.get("format") == CACHE_FORMAT:
                        return saved["images"], saved["labels"]
                except Exception:  # a broken cache file is rebuilt, never trusted
                    pass
        x, y = read_pair(images, labels, self.num_classes)
        if tuple(x.shape[1:]) != self.input_shape[1:]:
            raise DataError(
                f"{images} holds {tuple(x.shape[1:])} images, expected 28x28: is it {self.title}?"
            )
        x = x.unsqueeze(1)  # (N, 28, 28) -> (N, 1, 28, 28)
        if cache is not None:
            save_cache(
                cache, {"format": CACHE_FORMAT, "images": x, "labels": y}, "decompressed data"
            )
        return x, y

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        files = self.locate()
        if files is None:
            raise self._not_found()
        train_x, train_y = self._load("train", *files["train"])
        test_x, test_y = self._load("test", *files["test"])
        if self.val_size >= len(train_x):
            raise ConfigError(
                f"data.val_size={self.val_size} is invalid: the training file holds "
                f"{len(train_x)} images; choose fewer (default 5000)"
            )
        order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(self.seed))
        val, train = order[: self.val_size], order[self.val_size :]
        self.splits = {
            "train": self.subset_of_train(TensorSplit(train_x[train], train_y[train])),
            "val": TensorSplit(train_x[val], train_y[val]),
            "test": TensorSplit(test_x, test_y),
        }

    @property
    def preprocessing(self) -> dict:  # type: ignore[override]
        """Adds how an image file becomes an input (28x28 grey, this set's mean/std),
        so predict.py can classify image files from the checkpoint alone."""
        from litexp.data.preprocessing import describe_preprocessing

        return describe_preprocessing(self.input_shape, [self.mean], [self.std])

    # -- on the device -------------------------------------------------------------------
    def on_after_batch_transfer(
        self, batch: tuple[torch.Tensor, torch.Tensor], dataloader_idx: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 ``(B, 1, 28, 28)`` -> augmented (training only), normalised float32."""
        x, y = batch
        if self.trainer is not None and self.trainer.training:
            x = self.augment(x)
        x = (x.float() - 255 * self.mean) * (1 / (255 * self.std))
        return x, y.long()

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """Random crop with zero padding and horizontal flip, per sample, batch-wide ops."""
        return random_crop_flip(x, self.random_crop_padding, self.horizontal_flip)


class FashionMNIST(MNISTLike):
    """Fashion-MNIST (Zalando): 10 kinds of clothing, 60,000 train / 10,000 test."""

    title = "Fashion-MNIST"
    torchvision_name = "FashionMNIST"
    folder = "fashion_mnist"
    system_dirs = ("/usr/share/datasets/fashion-mnist",)  # Debian's dataset-fashion-mnist
    mean, std = 0.2860, 0.3530
    flip_makes_sense = True
    class_names = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]  # fmt: skip


class MNIST(MNISTLike):
    """MNIST handwritten digits, 60,000 train / 10,000 test."""

    title = "MNIST"
    torchvision_name = "MNIST"
    folder = "mnist"
    mean, std = 0.1307, 0.3081
    class_names = [str(d) for d in range(10)]
