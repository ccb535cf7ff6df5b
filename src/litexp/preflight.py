"""Checks on the run as a whole, before anything is built or trained.

Model and data values are checked by their own constructors (``litexp.config.build``
names the key); here: the seed, the Trainer values Lightning accepts but that cannot
train, conflicting options, and room on disk for the checkpoints.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from omegaconf import DictConfig

from litexp.errors import ConfigError
from litexp.sweep.jobs import in_multirun

CHECKPOINT_COPIES = 3  # best + last + the temporary file of an atomic save


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_run_config(cfg: DictConfig) -> None:
    """Raise ConfigError naming the first key whose value cannot work."""
    seed = cfg.get("seed")
    if not _is_int(seed) or not 0 <= seed < 2**32:
        raise ConfigError(f"seed={seed!r} is invalid: must be an integer in [0, 2**32)")
    if cfg.get("resume") and cfg.get("ckpt_path"):
        raise ConfigError(
            f"resume={cfg.resume} and ckpt_path={cfg.ckpt_path} both given: resume= continues "
            "a run in its own directory, ckpt_path= starts a new run from a checkpoint; give one"
        )
    if cfg.get("resume") and in_multirun():
        raise ConfigError(
            f"resume={cfg.resume} works for one run, not a -m sweep: resume a sweep's job with "
            "python train.py <that job's overrides> resume=<its directory>"
        )
    trainer = cfg.trainer
    epochs = trainer.get("max_epochs")
    if epochs is not None and (not _is_int(epochs) or (epochs < 1 and epochs != -1)):
        raise ConfigError(
            f"trainer.max_epochs={epochs!r} is invalid: must be an integer >= 1 "
            "(or -1 with trainer.max_steps)"
        )
    min_epochs = trainer.get("min_epochs")
    if _is_int(epochs) and _is_int(min_epochs) and epochs != -1 and min_epochs > epochs:
        raise ConfigError(
            f"trainer.min_epochs={min_epochs} is invalid: must be <= trainer.max_epochs={epochs}"
        )
    for key in ("check_val_every_n_epoch", "log_every_n_steps", "accumulate_grad_batches"):
        value = trainer.get(key)
        if value is not None and (not _is_int(value) or value < 1):
            raise ConfigError(f"trainer.{key}={value!r} is invalid: must be an integer >= 1")
    accelerator = str(trainer.get("accelerator", "auto"))
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"trainer.accelerator={accelerator} but no CUDA GPU is visible: use trainer=cpu "
            "or trainer=default (picks what is there)"
        )


def check_disk_space(run_dir: Path, model: torch.nn.Module) -> None:
    """Raise ConfigError unless a few checkpoints of ``model`` fit on the run's disk.

    A checkpoint is the weights plus the optimiser state (Adam: two more copies).
    """
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    need = CHECKPOINT_COPIES * 3 * weights
    free = shutil.disk_usage(run_dir).free
    if free < need:
        raise ConfigError(
            f"only {free / 2**20:.0f} MiB free under {run_dir}, the checkpoints of this model "
            f"need about {need / 2**20:.0f} MiB: free some space or set paths.log_dir elsewhere"
        )
