"""Checks on the run as a whole, before anything is built or trained.

Model and data values are checked by their own constructors (``litexp.config.build``
names the key); here: the seed, the Trainer values Lightning accepts but that cannot
train, conflicting options, and room on disk for the checkpoints.
"""

from __future__ import annotations

import inspect
import os
import shutil
from pathlib import Path

import torch
from omegaconf import DictConfig

from litexp.checks import is_int, positive_int
from litexp.config import build, check_arguments
from litexp.errors import ConfigError, first_line

CHECKPOINT_COPIES = 3  # best + last + the temporary file of an atomic save


# What litexp's models log, for every epoch: a checkpoint monitor or an objective must be one.
LOGGED_METRICS = ("val/acc", "val/loss", "train/acc", "train/loss")
FINAL_METRICS = (*LOGGED_METRICS, "test/acc", "test/loss")  # metrics.json's keys


def _check_fraction_or_count(key: str, value: object, *, zero: bool) -> None:
    """Lightning's batch limits and intervals: a fraction in (0, 1] or a count of batches."""
    if value is None or (isinstance(value, str) and ":" in value):  # a time "DD:HH:MM:SS"
        return
    if is_int(value):
        positive_int(key, value, 0 if zero else 1, error=ConfigError)
    elif not isinstance(value, float) or not (0 <= value <= 1 if zero else 0 < value <= 1):
        low = "[0" if zero else "(0"
        raise ConfigError(
            f"{key}={value!r} is invalid: must be a fraction in {low}, 1] or a number of batches"
        )


def check_trainer(trainer: DictConfig) -> None:
    """The Trainer values Lightning accepts (or fails on mid-run) that cannot train."""
    check_arguments(trainer, "trainer")  # unknown keys and wrongly typed values
    epochs, steps = trainer.get("max_epochs"), trainer.get("max_steps")
    if not (epochs is None and is_int(steps) and steps > 0):  # None: Lightning's 1000
        positive_int("trainer.max_epochs", epochs, also=(-1,), error=ConfigError)
    min_epochs = trainer.get("min_epochs")
    if min_epochs is not None:
        positive_int("trainer.min_epochs", min_epochs, 0, error=ConfigError)
        if is_int(epochs) and epochs != -1 and min_epochs > epochs:
            raise ConfigError(
                f"trainer.min_epochs={min_epochs} is invalid: must be <= trainer.max_epochs={epochs}"
            )
    for key in ("check_val_every_n_epoch", "log_every_n_steps", "accumulate_grad_batches"):
        if trainer.get(key) is not None:
            positive_int(f"trainer.{key}", trainer.get(key), error=ConfigError)
    if trainer.get("num_sanity_val_steps") is not None:
        positive_int(
            "trainer.num_sanity_val_steps", trainer.num_sanity_val_steps, -1, error=ConfigError
        )
    if trainer.get("num_nodes") is not None:
        positive_int("trainer.num_nodes", trainer.num_nodes, error=ConfigError)
    clip = trainer.get("gradient_clip_val")
    if clip is not None and not clip >= 0:
        raise ConfigError(f"trainer.gradient_clip_val={clip!r} is invalid: must be >= 0 (or null)")
    algorithm = trainer.get("gradient_clip_algorithm")
    if algorithm is not None and algorithm not in ("norm", "value"):
        raise ConfigError(
            f"trainer.gradient_clip_algorithm={algorithm!r} is invalid: must be norm or value"
        )
    _check_fraction_or_count(
        "trainer.val_check_interval", trainer.get("val_check_interval"), zero=False
    )
    for stage in ("train", "val", "test", "predict"):
        key = f"limit_{stage}_batches"
        _check_fraction_or_count(f"trainer.{key}", trainer.get(key), zero=True)
    _check_devices(trainer)


def _check_devices(trainer: DictConfig) -> None:
    accelerator = str(trainer.get("accelerator", "auto"))
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"trainer.accelerator={accelerator} but no CUDA GPU is visible: use trainer=cpu "
            "or trainer=default (picks what is there)"
        )
    devices = trainer.get("devices")
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    cores = os.cpu_count() or 1
    if on_cpu and is_int(devices) and devices > cores:
        raise ConfigError(
            f"trainer.devices={devices} is invalid: the CPU has {cores} cores, one process each"
            f" at most: give trainer.devices <= {cores}"
        )


def check_run_config(cfg: DictConfig) -> None:
    """Raise ConfigError naming the first key whose value cannot work."""
    seed = cfg.get("seed")
    if not is_int(seed) or not 0 <= seed < 2**32:
        raise ConfigError(f"seed={seed!r} is invalid: must be an integer in [0, 2**32)")
    data_seed = cfg.data.get("seed") if cfg.get("data") else None
    if data_seed is not None and (not is_int(data_seed) or not 0 <= data_seed < 2**32):
        raise ConfigError(f"data.seed={data_seed!r} is invalid: must be an integer in [0, 2**32)")
    if cfg.get("ckpt_path"):  # Lightning's full restore: the old run's epoch, files, ...
        raise ConfigError(
            f"ckpt_path={cfg.ckpt_path} is for eval.py and predict.py: to continue that run "
            "give resume=<its run directory>; to start a new run from its weights give "
            f"init_from={cfg.ckpt_path}"
        )
    objective = cfg.get("objective") or {}
    if objective.get("metric") not in FINAL_METRICS:
        raise ConfigError(
            f"objective.metric={objective.get('metric')!r} is invalid: must be one of "
            f"{', '.join(FINAL_METRICS)}"
        )
    if objective.get("direction") not in ("maximize", "minimize"):
        raise ConfigError(
            f"objective.direction={objective.get('direction')!r} is invalid: "
            "must be maximize or minimize"
        )
    checkpoint = (cfg.get("callbacks") or {}).get("model_checkpoint") or {}
    monitor = checkpoint.get("monitor")
    if monitor is not None and monitor not in LOGGED_METRICS and _is_classifier(cfg.model):
        raise ConfigError(
            f"callbacks.model_checkpoint.monitor={monitor!r} is invalid: the model logs "
            f"{', '.join(LOGGED_METRICS)}"
        )
    check_trainer(cfg.trainer)
    for name, node in (cfg.get("callbacks") or {}).items():
        if node:
            check_arguments(node, f"callbacks.{name}")
    check_arguments(cfg.model, "model")
    check_arguments(cfg.data, "data")
    check_scheduler(cfg.model.get("scheduler"))


def _is_classifier(model_cfg: DictConfig) -> bool:
    """Whether the model is litexp's Classifier, whose logged metrics are known up front
    (a user's own LightningModule logs what it likes)."""
    from hydra.utils import get_class

    from litexp.models.classifier import Classifier

    try:
        return issubclass(get_class(model_cfg.get("_target_")), Classifier)
    except Exception:  # an unknown target: the argument check names it
        return True


def check_predict_config(cfg: DictConfig) -> None:
    """predict.py's own values: classes shown, batch size, device."""
    positive_int("top_k", cfg.get("top_k"), error=ConfigError)
    positive_int("batch_size", cfg.get("batch_size"), error=ConfigError)
    device = cfg.get("device")
    if device not in ("auto", "cpu") and not str(device).startswith("cuda"):
        raise ConfigError(f"device={device!r} is invalid: must be auto, cpu or cuda[:<index>]")


def check_scheduler(node: DictConfig | None) -> None:
    """Build the LR scheduler on a stand-in optimiser now, not in ``configure_optimizers``."""
    if not node:
        return
    try:
        factory = build(node, "model.scheduler")
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        needs_total = "total_steps" in inspect.signature(factory).parameters
        factory(optimizer, **({"total_steps": 10} if needs_total else {}))
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(f"model.scheduler is invalid: {first_line(err)}") from None


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
