"""The contract every litexp datamodule meets, and the in-memory base most of them use."""

from __future__ import annotations

import lightning as L
import torch

from litexp.checks import positive_int
from litexp.data.tensors import TensorSplit, tensor_loader
from litexp.spec import DataSpec


class ClassificationData(L.LightningDataModule):
    """A datamodule that tells the model what it needs to build its head.

    Subclasses set, in ``__init__`` (before any data is read), ``num_classes``,
    ``input_shape`` (one sample, e.g. ``(2,)`` or ``(1, 28, 28)``; ``None`` when the
    model decides, as for image folders) and ``class_names``; ``spec`` hands them to
    the model builder as one :class:`~litexp.spec.DataSpec`, so nobody types them twice.
    """

    num_classes: int
    input_shape: tuple[int, ...] | None
    class_names: list[str]

    def __init__(self, *, batch_size: int, eval_batch_size: int | None, seed: int) -> None:
        super().__init__()
        positive_int("batch_size", batch_size)
        if eval_batch_size is not None:
            positive_int("eval_batch_size", eval_batch_size)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.seed = seed

    @property
    def preprocessing(self) -> dict | None:
        """How images become tensors (``litexp.data.preprocessing``); None for non-images."""
        return None

    @property
    def spec(self) -> DataSpec:
        """What the model is built for, and what a checkpoint stores to rebuild it."""
        return DataSpec(
            num_classes=self.num_classes,
            input_shape=self.input_shape,
            class_names=tuple(self.class_names),
            preprocessing=self.preprocessing,
        )


class InMemoryData(ClassificationData):
    """Each split lives in memory as ``(x, y)`` tensors; subclasses fill ``self.splits``.

    Args:
        device_resident: when training on a GPU, move each split to the GPU once, so
            batches are sliced on the device and nothing crosses PCIe per step.
        train_subset: train on this many training samples only, drawn with the seed
            (``None``: all); validation and test keep every sample.
    """

    def __init__(
        self,
        *,
        batch_size: int,
        eval_batch_size: int | None,
        seed: int,
        device_resident: bool = True,
        train_subset: int | None = None,
    ) -> None:
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed)
        if train_subset is not None:
            positive_int("train_subset", train_subset)
        self.device_resident = device_resident
        self.train_subset = train_subset
        self.splits: dict[str, TensorSplit] = {}

    def subset_of_train(self, train: TensorSplit) -> TensorSplit:
        """``train_subset`` samples of the training split, drawn with the seed (subclasses
        call it in ``setup``); the whole split when ``train_subset`` is None."""
        if self.train_subset is None:
            return train
        if self.train_subset > len(train):
            from litexp.errors import ConfigError

            raise ConfigError(
                f"data.train_subset={self.train_subset} is invalid: the training split holds "
                f"{len(train)} samples; choose at most {len(train)} (or null for all)"
            )
        gen = torch.Generator().manual_seed(self.seed)
        keep = torch.randperm(len(train), generator=gen)[: self.train_subset]
        return TensorSplit(*(t[keep] for t in train.tensors))

    def _split(self, stage: str) -> TensorSplit:
        split = self.splits[stage]
        device = self.trainer.strategy.root_device if self.trainer is not None else None
        on_gpu = self.device_resident and device is not None and device.type == "cuda"
        if on_gpu and split.tensors[0].device != device:
            split = self.splits[stage] = TensorSplit(*(t.to(device) for t in split.tensors))
        return split

    def _loader(self, stage: str, shuffle: bool) -> torch.utils.data.DataLoader:
        # A fixed generator: the shuffle order depends on the seed only, so a resumed
        # or repeated run sees the same batches.
        gen = torch.Generator().manual_seed(self.seed) if shuffle else None
        bs = self.batch_size if stage == "train" else self.eval_batch_size
        return tensor_loader(self._split(stage), bs, shuffle=shuffle, generator=gen)

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> torch.utils.data.DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> torch.utils.data.DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> torch.utils.data.DataLoader:
        return self._loader("test", shuffle=False)
