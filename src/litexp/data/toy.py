"""scikit-learn's 2-D toy sets: circles, moons and blobs.

Generated in ``setup`` from the seed, split into train/val/test, and standardised with
the training split's mean and std only (no peeking at val/test).
"""

from __future__ import annotations

import numpy as np
import torch

from litexp.checks import fraction, positive_int
from litexp.data.base import InMemoryData
from litexp.data.tensors import TensorSplit


class ToyData(InMemoryData):
    """A 2-D sklearn data set split into train/val/test, features standardised."""

    input_shape = (2,)

    def __init__(
        self,
        *,
        n_samples: int = 1000,
        num_classes: int = 2,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        seed: int = 0,
        train_subset: int | None = None,
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            seed=seed,
            train_subset=train_subset,
        )
        positive_int("num_classes", num_classes, minimum=2)
        fraction("val_fraction", val_fraction, allow_zero=False)
        fraction("test_fraction", test_fraction, allow_zero=False)
        if val_fraction + test_fraction >= 0.9:
            raise ValueError(
                f"val_fraction + test_fraction = {val_fraction + test_fraction:g} leaves under "
                "10% for training: make their sum below 0.9"
            )
        positive_int("n_samples", n_samples)
        n_small = round(n_samples * min(val_fraction, test_fraction))
        if n_small < num_classes:
            raise ValueError(
                f"n_samples={n_samples} is too small for the splits: the smallest split would "
                f"hold {n_small} samples for {num_classes} classes; use n_samples >= "
                f"{int(np.ceil(num_classes / min(val_fraction, test_fraction)))}"
            )
        n_train = n_samples - round(n_samples * val_fraction) - round(n_samples * test_fraction)
        if train_subset is not None and train_subset > n_train:
            raise ValueError(
                f"train_subset={train_subset} is invalid: the training split holds {n_train} "
                f"of the {n_samples} samples; choose at most {n_train} (or null for all)"
            )
        self.n_samples = n_samples
        self.num_classes = num_classes
        self.class_names = [str(i) for i in range(num_classes)]
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction

    def _generate(self) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        x, y = self._generate()
        order = np.random.default_rng(self.seed).permutation(len(x))
        n_val = round(len(x) * self.val_fraction)
        n_test = round(len(x) * self.test_fraction)
        parts = {
            "val": order[:n_val],
            "test": order[n_val : n_val + n_test],
            "train": order[n_val + n_test :],
        }
        mean = x[parts["train"]].mean(0)
        std = x[parts["train"]].std(0) + 1e-8
        x = ((x - mean) / std).astype(np.float32)
        self.splits = {
            name: TensorSplit(torch.from_numpy(x[idx]), torch.from_numpy(y[idx]).long())
            for name, idx in parts.items()
        }
        self.splits["train"] = self.subset_of_train(self.splits["train"])


class Circles(ToyData):
    """Two concentric circles (binary)."""

    def __init__(self, *, noise: float = 0.1, factor: float = 0.5, **kwargs) -> None:
        super().__init__(num_classes=2, **kwargs)
        if noise < 0:
            raise ValueError(f"noise={noise!r} is invalid: must be >= 0")
        if not 0 < factor < 1:
            raise ValueError(f"factor={factor!r} is invalid: the inner/outer radius ratio must be in (0, 1)")
        self.noise, self.factor = noise, factor

    def _generate(self) -> tuple[np.ndarray, np.ndarray]:
        from sklearn import datasets  # imported here: ~1 s, and only the toy sets need it

        return datasets.make_circles(
            self.n_samples, noise=self.noise, factor=self.factor, random_state=self.seed
        )


class Moons(ToyData):
    """Two interleaving half circles (binary)."""

    def __init__(self, *, noise: float = 0.1, **kwargs) -> None:
        super().__init__(num_classes=2, **kwargs)
        if noise < 0:
            raise ValueError(f"noise={noise!r} is invalid: must be >= 0")
        self.noise = noise

    def _generate(self) -> tuple[np.ndarray, np.ndarray]:
        from sklearn import datasets

        return datasets.make_moons(self.n_samples, noise=self.noise, random_state=self.seed)


class Blobs(ToyData):
    """Isotropic Gaussian blobs, one per class (binary or multi-class)."""

    def __init__(self, *, num_classes: int = 4, cluster_std: float = 1.0, **kwargs) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        if cluster_std <= 0:
            raise ValueError(f"cluster_std={cluster_std!r} is invalid: must be > 0")
        self.cluster_std = cluster_std

    def _generate(self) -> tuple[np.ndarray, np.ndarray]:
        from sklearn import datasets

        return datasets.make_blobs(
            self.n_samples,
            n_features=2,
            centers=self.num_classes,
            cluster_std=self.cluster_std,
            random_state=self.seed,
        )
