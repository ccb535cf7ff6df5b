"""Reading litexp checkpoints safely, and rebuilding the model they hold.

Loading never runs pickled code: ``torch.load(weights_only=True)`` accepts tensors and
plain containers only, and litexp's own metadata (config, class names, data
description) is plain dicts, lists, strings and numbers.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from litexp.allowlist import check_stored_config
from litexp.build import build_data_and_model
from litexp.checkpoint_files import damaged_entry
from litexp.errors import CheckpointError, first_line
from litexp.spec import spec_of

PLAIN = (str, int, float, bool, type(None))


def _check_plain(value: Any, where: str, path: Path) -> None:
    """Raise unless ``value`` is made of dicts, lists and scalars only."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CheckpointError(f"checkpoint {path}: {where} has a non-string key {key!r}")
            _check_plain(item, f"{where}.{key}", path)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]", path)
    elif not isinstance(value, PLAIN):
        raise CheckpointError(
            f"checkpoint {path}: {where} is a {type(value).__name__}, not plain data"
        )


def load_checkpoint(path: str | Path, key: str = "ckpt_path") -> dict[str, Any]:
    """Load a checkpoint without executing pickled code (``weights_only=True``).

    ``key``: the option that named the file (``ckpt_path``, ``init_from``), for messages.

    Raises:
        CheckpointError: missing, empty, truncated/corrupt, unsafe, or not written by
            litexp; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist: give {key}=<a .ckpt file>")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): use another checkpoint")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"checkpoint {path} is truncated or not a torch checkpoint (no zip archive inside): "
            "use another checkpoint"
        )
    damaged = damaged_entry(path)
    if damaged:  # same size, other bytes: torch would load the wrong weights silently
        raise CheckpointError(
            f"checkpoint {path} is corrupt: {damaged} fails its CRC check (damaged on disk "
            "or in a copy): use another checkpoint"
        )
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's safe unpickler refuses any global it does not know: code, classes, ...
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        what = f"it refers to {found.group(1)}" if found else first_line(err, 200)
        raise CheckpointError(
            f"checkpoint {path} was refused: it holds objects that safe loading does not "
            f"allow, which could run code ({what}); only load checkpoints written by litexp"
        ) from None
    except Exception as err:  # torch raises many types for damaged archives
        raise CheckpointError(
            f"checkpoint {path} cannot be read (truncated or corrupt): {first_line(err, 200)}"
        ) from None
    if not isinstance(ckpt, dict) or "litexp" not in ckpt or "state_dict" not in ckpt:
        raise CheckpointError(
            f"checkpoint {path} was not written by litexp train.py (no 'litexp' metadata)"
        )
    meta = ckpt["litexp"]
    _check_plain(meta, "litexp", path)
    if not isinstance(meta, dict) or not {"config", "data"} <= meta.keys():
        raise CheckpointError(f"checkpoint {path}: its litexp metadata lacks config or data")
    if not all(isinstance(t, torch.Tensor) for t in ckpt["state_dict"].values()):
        raise CheckpointError(f"checkpoint {path}: its state_dict holds non-tensor values")
    return ckpt


def first_mismatch(
    own: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor], skip: Sequence[str] = ()
) -> str | None:
    """The first weight (in the model's order) whose name or shape differs, said in words.

    ``skip``: weights not compared (a head that ``init_from=`` re-initialises).
    """
    for key, tensor in own.items():
        if key in skip:
            continue
        if key not in theirs:
            return f"the checkpoint lacks {key}"
        if tuple(theirs[key].shape) != tuple(tensor.shape):
            return (
                f"{key} has shape {tuple(theirs[key].shape)} in the checkpoint, "
                f"{tuple(tensor.shape)} here"
            )
    unexpected = [k for k in theirs if k not in own]
    if unexpected:
        return f"the checkpoint has {unexpected[0]}, unknown to this model"
    return None


def check_fits(ckpt: dict[str, Any], model: torch.nn.Module, path: str | Path) -> None:
    """Raise a CheckpointError naming the first weight whose name or shape differs."""
    problem = first_mismatch(model.state_dict(), ckpt["state_dict"])
    if problem:
        cfg = ckpt["litexp"]["config"].get("model", {})
        held = (
            f"it holds {cfg.get('_target_', '?')} for "
            f"{ckpt['litexp']['data'].get('num_classes', '?')} classes"
        )
        raise CheckpointError(
            f"checkpoint {path} does not fit this model ({held}): {problem}; use the model "
            "and data options the checkpoint was trained with"
        )


def run_config(ckpt: dict[str, Any], path: str | Path = "?") -> Any:
    """The run's config, as needed to rebuild its model offline from the checkpoint alone.

    A model may store ``litexp.rebuild_overrides.model`` (e.g. TimmTransfer: no
    pretrained download, no weights file, its preprocessing spelt out): the state dict
    holds every weight anyway.

    Raises:
        CheckpointError: the config would build something a checkpoint may not name
            (``litexp.allowlist``): checked before and after the overrides are merged.
    """
    check_stored_config(ckpt["litexp"]["config"], f"checkpoint {path}")
    cfg = OmegaConf.create(ckpt["litexp"]["config"])
    for key, value in ckpt["litexp"].get("rebuild_overrides", {}).get("model", {}).items():
        cfg.model[key] = value
    check_stored_config(cfg, f"checkpoint {path}")
    return cfg


def rebuild(
    ckpt: dict[str, Any], data_overrides: dict[str, Any] | None = None, path: str | Path = "?"
) -> tuple[Any, Any, Any]:
    """The run's config, datamodule and model (with the checkpoint's weights, in eval mode).

    Args:
        ckpt: from ``load_checkpoint``.
        data_overrides: keys of the ``data`` config to replace, e.g. ``{"data_dir": ...}``.
        path: the checkpoint's file, for messages.
    """
    cfg = run_config(ckpt, path)
    for key, value in (data_overrides or {}).items():
        if value is not None:
            cfg.data[key] = value
    datamodule, model = build_data_and_model(cfg.data, cfg.model)
    trained_for = ckpt["litexp"]["data"].get("num_classes")
    now = spec_of(datamodule).num_classes
    if trained_for is not None and now != trained_for:
        raise CheckpointError(
            f"checkpoint {path} was trained for {trained_for} classes, but the data now has "
            f"{now}: point data_dir at the data it was trained on (to fine-tune it on this "
            f"data, a new run: python train.py <options> init_from={path})"
        )
    check_fits(ckpt, model, path)
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return cfg, datamodule, model
