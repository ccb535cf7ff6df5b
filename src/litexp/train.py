"""``train(cfg)``: build data, model and trainer from a composed config, fit, test, report."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, ListConfig, OmegaConf

from litexp.build import build_data_and_model, build_trainer, run_callbacks
from litexp.checkpoint_files import newest_checkpoint
from litexp.config import to_plain
from litexp.distributed import end_ddp_job, is_global_zero_process
from litexp.errors import Interrupted, first_line
from litexp.fit_report import fit_report, log_diagnosis
from litexp.init_from import init_from
from litexp.needs_gpu import skip_without_gpu
from litexp.preflight import check_disk_space, check_run_config
from litexp.results import log_hparams, log_to_trackers, print_summary, scalars, summary_text
from litexp.resume import plan_resume, resume_command
from litexp.run_dir import CHECKPOINT_DIR, check_writable
from litexp.run_files import METRICS_FILE, write_json_atomic
from litexp.run_info import command_line, write_run_info
from litexp.run_lock import RunLock
from litexp.run_names import job_overrides, label_of
from litexp.spec import spec_of
from litexp.sweep.grid import job_label
from litexp.sweep.resume import resume_sweep_job

FINAL_METRICS = ("train/loss", "train/acc", "val/loss", "val/acc", "test/loss", "test/acc")


# HPARAMS columns every run has: what was trained on what, how long, how fast.
FIXED_HPARAMS = {
    "model": "model",
    "data": "data",
    "lr": "model.lr",
    "batch_size": "data.batch_size",
    "epochs": "trainer.max_epochs",
    "seed": "seed",
}


def hparams_of(cfg: DictConfig, overrides: list[str] | None = None) -> dict[str, Any]:
    """The HPARAMS columns: the keys the job's overrides set or a sweeper drew (first),
    then ``FIXED_HPARAMS``. A sweep's jobs share their override keys, so they share one
    column set; values are readable (``litexp.results.readable``).
    """
    from litexp.results import readable
    from litexp.run_names import job_overrides, named_overrides

    overrides = job_overrides() if overrides is None else overrides
    fixed_name = {key: name for name, key in FIXED_HPARAMS.items()}
    named = named_overrides(overrides)
    params: dict[str, Any] = {}
    for key in [*named_overrides(overrides), *FIXED_HPARAMS.values()]:
        name = fixed_name.get(key, key)
        if name in ("model", "data"):
            value = _group_choice(cfg, name)
        else:
            value = OmegaConf.select(cfg, key, default=None)
            value = to_plain(value) if isinstance(value, (DictConfig, ListConfig)) else value
            value = named[key] if isinstance(value, dict) else value  # a group: its option
        params.setdefault(name, readable(value))
    return params


def swept_hparams() -> set[str]:
    """The HPARAMS columns this job's sweep varies (``model.lr`` is the ``lr`` column)."""
    from litexp.run_names import swept_keys

    fixed_name = {key: name for name, key in FIXED_HPARAMS.items()}
    return {fixed_name.get(key, key) for key in swept_keys()}


def _group_choice(cfg: DictConfig, group: str) -> str:
    """``mlp``, ``circles``: the config group's option (else the class's name)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get(group)
        if choice:
            return str(choice)
    return str(cfg[group].get("_target_", "?")).rsplit(".", 1)[-1]


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
    done = resume_sweep_job(cfg, out)  # a resumed sweep: this job's earlier result, if complete
    if done is not None:
        return done
    skipped = skip_without_gpu(cfg, out)  # a GPU-only recipe (needs_gpu:) on a CPU machine
    if skipped is not None:
        return skipped
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

    Also returns the checkpoint to continue from (``resume=``), if any. ``init_from=``
    copies a checkpoint's weights into the new model here (a resumed run's own
    checkpoint holds its weights: ``init_from=`` is then not read again).
    """
    check_run_config(cfg)
    plan = plan_resume(cfg, out) if cfg.get("resume") else None
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule, model = build_data_and_model(cfg.data, cfg.model)
    if cfg.get("init_from") and not plan:
        spec = spec_of(datamodule)
        done = init_from(model, cfg.init_from, spec.num_classes, spec.class_names)
        if is_global_zero_process():
            print(f"litexp: {done}", file=sys.stderr)
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
    return trainer, model, datamodule, str(plan.checkpoint) if plan else None


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
    # Before test(): it restores the callbacks' states from the best checkpoint, which
    # may predate this run's last save.
    last = newest_checkpoint(trainer) or None
    # history, diagnosis, early stop, parameters, head (litexp.fit_report)
    report = fit_report(trainer, model, (cfg.get("objective") or {}).get("target_acc"))

    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    trainer.test(
        model, datamodule=datamodule, ckpt_path=best or None, verbose=False, weights_only=True
    )
    metrics = {
        **fit_metrics,
        **scalars({k: v for k, v in trainer.callback_metrics.items() if k.startswith("test/")}),
    }

    checkpoint = trainer.checkpoint_callback
    pruned = [
        c.pruned_at_epoch
        for c in trainer.callbacks
        if getattr(c, "pruned_at_epoch", None) is not None  # an Optuna trial pruned
    ]
    summary = {
        "status": "pruned" if pruned else "completed",
        **({"pruned_at_epoch": pruned[0] + 1} if pruned else {}),  # counted from 1
        "class_acc": next(
            (c.class_accuracy for c in trainer.callbacks if getattr(c, "class_accuracy", None)),
            {},
        ),
        "metrics": metrics,
        "best_checkpoint": best or None,
        "epochs": trainer.current_epoch,  # epochs trained (a sweep's summary shows them)
        "best_score": scalars({"s": checkpoint.best_model_score})["s"]
        if isinstance(checkpoint, ModelCheckpoint) and checkpoint.best_model_score is not None
        else None,
        "monitor": checkpoint.monitor if isinstance(checkpoint, ModelCheckpoint) else None,
        "last_checkpoint": last,
        "seed": cfg.seed,
        "wall_time_s": round(time.perf_counter() - start, 3),
        "run_dir": str(out),
        **report,
    }
    if trainer.is_global_zero:
        write_json_atomic(out / METRICS_FILE, summary)
        log_diagnosis(trainer, report)
        params = {**hparams_of(cfg), "status": summary["status"]}
        log_hparams(
            trainer.loggers,
            params,
            metrics,
            objective=(cfg.get("objective") or {}).get("metric"),
            text=summary_text(summary, command_line(), job_overrides()),
            step=trainer.global_step,
            swept=swept_hparams(),
        )
        name, version = label_of(cfg.get("task_name", "train"))
        log_to_trackers(trainer.loggers, params, summary, f"{name}/{version}" if version else name)
        print_summary(summary, label=job_label())  # in a sweep: which job this is
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
