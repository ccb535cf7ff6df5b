"""``init_from=<a litexp .ckpt>``: a new run that starts from a checkpoint's weights only.

Unlike ``resume=`` (which continues a run: its epoch, optimiser, RNG and directory),
only the weights are taken: the optimiser is fresh, training starts at epoch 0 and the
run writes its own directory. The checkpoint is read like any other
(``litexp.checkpoint.load_checkpoint``: ``weights_only``, no code runs) and its stored
config is never built: the model is the one this run's config builds, and the
checkpoint's tensors are copied into it.

When the data has other classes (another number of them, or as many with other names:
Fashion-MNIST's clothes -> MNIST's digits), the head (the weights whose first dimension
is the number of outputs) keeps its fresh initialisation and everything else is loaded:
a head trained for other classes is confidently wrong, and unlearning it costs more steps
than a fresh one takes to learn. Any other difference is another architecture, refused
in one line naming the first weight that differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from litexp.checkpoint import first_mismatch, load_checkpoint
from litexp.errors import CheckpointError


def _outputs(num_classes: Any) -> set[int]:
    """The logits a head may have for ``num_classes``: one per class, or 1 for two."""
    if not isinstance(num_classes, int):
        return set()
    return {num_classes, 1} if num_classes == 2 else {num_classes}


def head_keys(
    own: dict[str, torch.Tensor],
    theirs: dict[str, torch.Tensor],
    classes: tuple[Any, Any],
) -> list[str]:
    """The weights that differ only because the number of classes did.

    ``classes``: (the checkpoint's, this run's). A weight is the head's when its shape
    differs in the first dimension alone, from an output count of the old classes to
    one of the new (a linear layer's ``weight`` ``(outputs, features)`` and ``bias``).
    """
    before, now = _outputs(classes[0]), _outputs(classes[1])
    if classes[0] == classes[1] or not before or not now:
        return []
    head = []
    for key, tensor in own.items():
        old = theirs.get(key)
        if old is None or old.shape == tensor.shape or old.ndim != tensor.ndim or old.ndim == 0:
            continue
        if old.shape[1:] == tensor.shape[1:] and old.shape[0] in before and tensor.shape[0] in now:
            head.append(key)
    return head


def last_layer_keys(own: dict[str, torch.Tensor], num_classes: int) -> list[str]:
    """The head when the shapes cannot tell it (as many classes, other names).

    The trailing weights of the state dict with one row per output (the output layer is
    the net's last: a linear layer's ``weight`` and ``bias``).
    """
    head: list[str] = []
    for key, tensor in reversed(own.items()):
        if tensor.ndim == 0 or tensor.shape[0] not in _outputs(num_classes):
            break
        head.append(key)
    return head[::-1]


def _names(names: Any) -> str:
    shown = ", ".join(str(n) for n in list(names)[:3])
    return shown + (", ..." if len(names) > 3 else "")


def init_from(
    model: torch.nn.Module,
    path: str | Path,
    num_classes: int,
    class_names: tuple[str, ...] | list[str] = (),
) -> str:
    """Copy the checkpoint's weights into ``model``; the line that says what was done.

    Args:
        model: the run's freshly built model.
        path: a checkpoint written by litexp (``init_from=``).
        num_classes: this run's classes (the data's ``DataSpec``).
        class_names: their names (the ``DataSpec``'s): as many classes with other names
            than the checkpoint's also re-initialise the head. Empty: not compared.

    Raises:
        CheckpointError: the file is missing, damaged or unsafe, or holds another
            architecture (the message names the first weight that differs).
    """
    ckpt = load_checkpoint(path, key="init_from")
    theirs = ckpt["state_dict"]
    own = model.state_dict()
    trained_for = ckpt["litexp"]["data"].get("num_classes")
    head = head_keys(own, theirs, (trained_for, num_classes))
    their_names = list(ckpt["litexp"]["data"].get("class_names") or [])
    renamed = (
        trained_for == num_classes
        and bool(their_names)
        and bool(class_names)
        and their_names != [str(n) for n in class_names]
    )
    if renamed:
        head = last_layer_keys(own, num_classes)
    problem = first_mismatch(own, theirs, skip=head)
    if problem:
        target = str(ckpt["litexp"]["config"].get("model", {}).get("_target_", "?"))
        raise CheckpointError(
            f"init_from={path} does not fit this model: {problem} (the checkpoint holds "
            f"{target.rsplit('.', 1)[-1]} for {trained_for} classes, this run builds "
            f"{type(model).__name__}): give a checkpoint of the same model options (its "
            "run's config.yaml has them), or start without init_from="
        )
    loaded = {k: v for k, v in theirs.items() if k not in head}
    model.load_state_dict(loaded, strict=not head)
    line = f"init_from={path}: loaded {len(loaded)} of {len(own)} weight tensors"
    if head and renamed:
        line += (
            f"; re-initialised the head ({', '.join(head)}): the checkpoint was trained for "
            f"other classes ({_names(their_names)}), this data has {_names(class_names)}"
        )
    elif head:
        line += (
            f"; re-initialised the head ({', '.join(head)}): the checkpoint was trained for "
            f"{trained_for} classes, this data has {num_classes}"
        )
    else:
        line += ", the head included"
    return f"{line}; a new run: fresh optimiser, epoch 0"
