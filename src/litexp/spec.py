"""The contract between data and model: what a datamodule tells the model it will feed.

Every litexp datamodule exposes ``spec``, a frozen :class:`DataSpec`; the builder
(``litexp.build``) reads it and passes a model exactly the fields its constructor names.
A user's own LightningDataModule joins litexp by exposing the same attribute::

    from litexp import DataSpec

    class MyData(L.LightningDataModule):
        spec = DataSpec(num_classes=3, input_shape=(3, 32, 32), class_names=("a", "b", "c"))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from litexp.checks import positive_int, positive_ints
from litexp.errors import ConfigError

#: The constructor arguments the builder fills from a DataSpec (a model names the ones it wants).
SPEC_FIELDS = ("num_classes", "input_shape", "class_names", "preprocessing")


@dataclass(frozen=True)
class DataSpec:
    """What a data set tells the model it feeds.

    Args:
        num_classes: 2 or more; 2 gives one logit (sigmoid, BCE), more one per class.
        input_shape: one sample's shape, e.g. ``(2,)`` or ``(1, 28, 28)``; ``None`` when
            the model decides (an image folder read at a pretrained model's size).
        class_names: one name per class, in label order; defaults to "0", "1", ...
        preprocessing: how raw images become the tensors the model saw (size, mean,
            std, ...), so predict.py can prepare new images the same way; None for
            non-image data.
    """

    num_classes: int
    input_shape: tuple[int, ...] | None = None
    class_names: tuple[str, ...] = ()
    preprocessing: Mapping[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        n = self.num_classes
        positive_int("num_classes", n, minimum=2)
        if self.input_shape is not None:
            shape = tuple(self.input_shape)
            positive_ints("input_shape", shape, "one sample's shape, positive ints")
            object.__setattr__(self, "input_shape", shape)
        names = tuple(str(c) for c in self.class_names) or tuple(str(i) for i in range(n))
        if len(names) != n:
            raise ValueError(
                f"class_names has {len(names)} names for num_classes={n}: give one per class"
            )
        object.__setattr__(self, "class_names", names)

    @property
    def num_outputs(self) -> int:
        """The logits a model must produce: 1 for two classes, else one per class."""
        return 1 if self.num_classes == 2 else self.num_classes

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint (lists, not tuples)."""
        out = asdict(self)
        out["input_shape"] = list(self.input_shape) if self.input_shape else None
        out["class_names"] = list(self.class_names)
        out["preprocessing"] = dict(self.preprocessing) if self.preprocessing else None
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataSpec:
        """The inverse of :meth:`to_dict` (unknown keys are ignored)."""
        shape: Sequence[int] | None = data.get("input_shape")
        return cls(
            num_classes=data["num_classes"],
            input_shape=tuple(shape) if shape else None,
            class_names=tuple(data.get("class_names") or ()),
            preprocessing=data.get("preprocessing"),
        )


def spec_of(datamodule: Any) -> DataSpec:
    """``datamodule.spec``, or a ConfigError saying what a user's datamodule lacks."""
    name = type(datamodule).__name__
    spec = getattr(datamodule, "spec", None)
    if spec is None:
        raise ConfigError(
            f"data: {name} has no `spec`: give it a litexp.DataSpec attribute or property "
            "(num_classes, input_shape, class_names), so the model can be built for it"
        )
    if not isinstance(spec, DataSpec):
        raise ConfigError(
            f"data: {name}.spec is a {type(spec).__name__}, not a litexp.DataSpec: "
            "return DataSpec(num_classes=..., input_shape=..., class_names=...)"
        )
    return spec
