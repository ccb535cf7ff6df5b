"""What a finished fit adds to ``metrics.json``: the epoch history, the fit diagnosis,
the early stop, the model's size and its head."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.loggers import TensorBoardLogger

from litexp.callbacks.history import EpochHistory
from litexp.diagnosis import diagnose, epochs_to


def head_of(model: L.LightningModule) -> dict[str, Any] | None:
    """The classification head litexp's Classifier gets: outputs, loss, probabilities."""
    outputs = getattr(model, "num_outputs", None)
    if outputs is None:  # a user's own LightningModule
        return None
    binary = bool(getattr(model, "binary", outputs == 1))
    return {
        "outputs": int(outputs),
        "loss": "binary_cross_entropy_with_logits" if binary else "cross_entropy",
        "probabilities": "sigmoid" if binary else "softmax",
        "text": f"{outputs} logit{'s' if outputs > 1 else ''}, "
        + ("sigmoid, BCE" if binary else "softmax, cross-entropy"),
    }


def fit_report(
    trainer: L.Trainer, model: L.LightningModule, target_acc: float | None = None
) -> dict[str, Any]:
    """``history``, ``diagnosis``, ``early_stopping``, ``parameters``, ``head``,
    ``samples_per_s`` and, given
    ``target_acc`` (``objective.target_acc``), ``epochs_to_target``: the first epoch
    whose val/acc reached it (None: never)."""
    recorder = next((cb for cb in trainer.callbacks if isinstance(cb, EpochHistory)), None)
    history = recorder.epochs if recorder is not None else []
    speed = recorder.samples_per_s if recorder is not None else None
    num_classes = int(
        getattr(model, "num_classes", 0) or getattr(trainer.datamodule, "num_classes", 2)
    )
    stopper = trainer.early_stopping_callback
    stopped = None
    if isinstance(stopper, EarlyStopping) and getattr(stopper, "enabled", True):
        stopped = {
            "monitor": stopper.monitor,
            "mode": stopper.mode,
            "patience": stopper.patience,
            # 1-based: the last epoch trained; None: it never stopped the run
            "stopped_epoch": stopper.stopped_epoch + 1 if stopper.stopped_epoch else None,
        }
    return {
        "history": history,
        "diagnosis": diagnose(history, num_classes),
        "early_stopping": stopped,
        "parameters": {
            "total": sum(p.numel() for p in model.parameters()),
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        },
        "head": head_of(model),
        # training samples a second over the whole fit (validation time included)
        "samples_per_s": round(speed, 1) if speed is not None else None,
        "epochs_to_target": None
        if target_acc is None
        else {"metric": "val/acc", "target": target_acc, "epoch": epochs_to(history, target_acc)},
    }


def log_diagnosis(trainer: L.Trainer, report: dict[str, Any]) -> None:
    """The diagnosis as TensorBoard text (tab TEXT, tag ``diagnosis``)."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_text(
                "diagnosis", report["diagnosis"]["text"], trainer.global_step
            )
