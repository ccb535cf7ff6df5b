"""``train(cfg)``: build data, model and trainer from a composed config, fit, test, report."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from litexp.build import build_data_and_model, build_trainer, run_callbacks
from litexp.checkpoint import check_fits, load_checkpoint
from litexp.checkpoint_files import newest_checkpoint
from litexp.config import to_plain
from litexp.distributed import end_ddp_job, is_global_zero_process
from litexp.errors import Interrupted, first_line
from litexp.preflight import check_disk_space, check_run_config
from litexp.results import METRICS_FILE, log_hparams, print_summary, scalars, write_json_atomic
from litexp.resume import plan_resume, resume_command
from litexp.run_dir import CHECKPOINT_DIR, check_writable
from litexp.run_info import write_run_info
from litexp.run_lock import RunLock
from litexp.spec import spec_of

FINAL_METRICS = ("train/loss", "train/acc", "val/loss", "val/acc", "test/loss", "test/acc")


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
    ``best_checkpoint``, ``seed``, ``wall_time_s``, ``status``, ``run_dir``. On any
    error, ``metrics.json`` says ``status: failed`` with the ``error`` (a resumed run
    whose setup fails keeps its files as they were); on SIGTERM/SIGINT it says
    ``status: interrupted`` with the ``resume_command``.
    """
    start = time.perf_counter()
    out = Path(cfg.paths.output_dir)
    check_writable(out)
    out.mkdir(parents=True, exist_ok=True)
    # One process trains a run directory (rank zero holds it for all ranks): a second
    # resume= is refused before it touches a checkpoint or metrics.json.
    lock = RunLock(out) if is_global_zero_process() else None
    resuming = bool(cfg.get("resume"))
    record = {"seed": cfg.get("seed"), "run_dir": str(out), "metrics": {}}
    touched = not resuming  # a resumed run's files are only rewritten once training starts
    trainer, completed = None, False
    try:
        trainer, model, datamodule, resume_from = _setup(cfg, out)
        touched = True
        summary = _fit_and_test(cfg, out, (trainer, model, datamodule), resume_from, start)
        completed = True
        return summary
    except Interrupted as stop:
        stop.resume_command = resume_command(out)
        last = getattr(stop, "checkpoint", None)
        _write_end(
            out,
            record,
            start,
            "interrupted",
            str(stop),
            last_checkpoint=last,
            resume_command=stop.resume_command,
        )
        if is_global_zero_process():
            print(f"litexp: {stop}. Resume with:\n  {stop.resume_command}", file=sys.stderr)
        raise
    except BaseException as err:
        if touched:
            _write_end(
                out, record, start, "failed", f"{type(err).__name__}: {first_line(err, default='')}"
            )
        raise
    finally:
        if trainer is not None:
            end_ddp_job(trainer, completed=completed)
        if lock is not None:
            lock.release()


def _setup(
    cfg: DictConfig, out: Path
) -> tuple[L.Trainer, L.LightningModule, L.LightningDataModule, str | None]:
    """Every check that can fail before training, then the trainer; writes run.json.

    Also returns the checkpoint to continue from (``resume=`` or ``ckpt_path=``), if any.
    """
    check_run_config(cfg)
    plan = plan_resume(cfg, out) if cfg.get("resume") else None
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule, model = build_data_and_model(cfg.data, cfg.model)
    if cfg.get("ckpt_path"):  # fail now, not after Lightning has set everything up
        check_fits(load_checkpoint(cfg.ckpt_path), model, cfg.ckpt_path)
    check_disk_space(out, model)
    plain = to_plain(cfg)
    trainer = build_trainer(
        cfg,
        run_callbacks(plain, out, spec_of(datamodule)),
        purge_step=plan.step if plan else None,
    )
    if is_global_zero_process():  # every rank runs this; one writes the run's files
        (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        write_run_info(out, plain)
    return trainer, model, datamodule, str(plan.checkpoint) if plan else cfg.get("ckpt_path")


def _fit_and_test(
    cfg: DictConfig,
    out: Path,
    built: tuple[L.Trainer, L.LightningModule, L.LightningDataModule],
    resume_from: str | None,
    start: float,
) -> dict[str, Any]:
    trainer, model, datamodule = built
    if resume_from:
        print(f"litexp: continuing from {resume_from}", file=sys.stderr)
    trainer.fit(model, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    fit_metrics = scalars({k: v for k, v in trainer.callback_metrics.items() if k in FINAL_METRICS})

    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    trainer.test(
        model, datamodule=datamodule, ckpt_path=best or None, verbose=False, weights_only=True
    )
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
        "last_checkpoint": newest_checkpoint(trainer) or None,
        "seed": cfg.seed,
        "wall_time_s": round(time.perf_counter() - start, 3),
        "run_dir": str(out),
    }
    if trainer.is_global_zero:
        write_json_atomic(out / METRICS_FILE, summary)
        log_hparams(trainer.loggers, hparams_of(cfg), metrics)
        print_summary(summary)
    return summary


def _write_end(
    out: Path, record: dict[str, Any], start: float, status: str, error: str, **extra: Any
) -> None:
    """``metrics.json`` for a run that did not complete (rank zero only)."""
    if not is_global_zero_process():
        return
    last = out / CHECKPOINT_DIR / "last.ckpt"
    extra.setdefault("last_checkpoint", str(last) if last.is_file() else None)
    summary = {
        **record,
        "status": status,
        "error": error,
        "wall_time_s": round(time.perf_counter() - start, 3),
        **extra,
    }
    try:
        write_json_atomic(out / METRICS_FILE, summary)
    except OSError as err:  # e.g. the full disk that stopped the run: keep its own error
        print(f"litexp: could not write {out / METRICS_FILE}: {err}", file=sys.stderr)
