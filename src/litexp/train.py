"""``train(cfg)``: build data, model and trainer from a composed config, fit, test, report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from litexp.callbacks.run_metadata import RunMetadata
from litexp.config import build, to_plain
from litexp.data.base import ClassificationData
from litexp.results import METRICS_FILE, log_hparams, print_summary, scalars, write_json_atomic

FINAL_METRICS = ("train/loss", "train/acc", "val/loss", "val/acc", "test/loss", "test/acc")


def build_data_and_model(
    data_cfg: DictConfig, model_cfg: DictConfig
) -> tuple[ClassificationData, L.LightningModule]:
    """The datamodule first: it tells the model its classes and input shape."""
    datamodule = build(data_cfg, "data")
    model = build(
        model_cfg,
        "model",
        num_classes=datamodule.num_classes,
        class_names=datamodule.class_names,
        **({"input_shape": datamodule.input_shape} if datamodule.input_shape else {}),
    )
    return datamodule, model


def build_trainer(cfg: DictConfig, extra_callbacks: list[L.Callback]) -> L.Trainer:
    loggers = [build(node, "logger") for node in (cfg.get("logger") or {}).values() if node]
    callbacks = [build(node, "callbacks") for node in (cfg.get("callbacks") or {}).values() if node]
    if not loggers:  # LearningRateMonitor refuses to run without a logger
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    return build(
        cfg.trainer, "trainer", callbacks=callbacks + extra_callbacks, logger=loggers or False
    )


def hparams_of(cfg: DictConfig) -> dict[str, Any]:
    """The parameters a sweep varies, flattened for TensorBoard's HPARAMS tab."""
    from litexp.results import flatten

    keep = {
        "seed": cfg.seed,
        "model": to_plain(cfg.model),
        "data": to_plain(cfg.data),
        "trainer": {k: cfg.trainer.get(k) for k in ("max_epochs", "precision", "accelerator")},
    }
    return flatten(keep)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train, then test the best checkpoint; write and return the run's summary.

    Returns the dict written to ``<output_dir>/metrics.json``: ``metrics`` (final
    train/val metrics of the last epoch, test metrics of the best checkpoint),
    ``best_checkpoint``, ``seed``, ``wall_time_s``, ``status``, ``run_dir``.
    """
    start = time.perf_counter()
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule, model = build_data_and_model(cfg.data, cfg.model)
    plain = to_plain(cfg)
    trainer = build_trainer(cfg, [RunMetadata(plain, datamodule.describe())])
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))

    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    fit_metrics = scalars({k: v for k, v in trainer.callback_metrics.items() if k in FINAL_METRICS})

    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    trainer.test(model, datamodule=datamodule, ckpt_path=best or None, verbose=False)
    metrics = {
        **fit_metrics,
        **scalars({k: v for k, v in trainer.callback_metrics.items() if k.startswith("test/")}),
    }

    checkpoint = trainer.checkpoint_callback
    summary = {
        "status": "completed",
        "metrics": metrics,
        "best_checkpoint": best or None,
        "best_score": scalars({"s": checkpoint.best_model_score})["s"]
        if isinstance(checkpoint, ModelCheckpoint) and checkpoint.best_model_score is not None
        else None,
        "monitor": checkpoint.monitor if isinstance(checkpoint, ModelCheckpoint) else None,
        "last_checkpoint": checkpoint.last_model_path or None
        if isinstance(checkpoint, ModelCheckpoint)
        else None,
        "seed": cfg.seed,
        "wall_time_s": round(time.perf_counter() - start, 3),
        "run_dir": str(out),
    }
    if trainer.is_global_zero:
        write_json_atomic(out / METRICS_FILE, summary)
        log_hparams(trainer.loggers, hparams_of(cfg), metrics)
        print_summary(summary)
    return summary
