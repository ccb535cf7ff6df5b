"""Continuing a stopped run: which checkpoint, is it the same experiment, the command."""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from litexp.allowlist import check_stored_config
from litexp.checkpoint import load_checkpoint
from litexp.checkpoint_files import remove_untracked
from litexp.config import to_plain
from litexp.distributed import is_global_zero_process
from litexp.errors import CheckpointError, ConfigError
from litexp.packaging import CONSOLE_SCRIPT, as_typed, console_command
from litexp.run_dir import CHECKPOINT_DIR, experiment_differences


@dataclass
class ResumePlan:
    """What ``train`` needs to continue a run."""

    checkpoint: Path
    step: int  # the first step the resumed run logs: TensorBoard purges events from here


def checkpoints_newest_first(run_dir: Path) -> list[Path]:
    """``last.ckpt`` first (the latest state), then the others, newest first."""
    folder = run_dir / CHECKPOINT_DIR
    found = sorted(folder.glob("*.ckpt"), key=lambda p: p.stat().st_mtime, reverse=True)
    return sorted(found, key=lambda p: p.name != "last.ckpt")


def logging_step(ckpt: dict[str, Any]) -> int:
    """The first step the resumed run logs (``_batches_that_stepped``, else the global
    step): TensorBoard hides the stopped run's points from there on.

    A checkpoint saved at a training batch's end (a mid-epoch stop) holds the counter
    before that batch's increment, and Lightning adds it on restart (its batch progress:
    one batch processed, not completed): the stopped run's points of that batch stay.
    """
    try:
        fit = ckpt["loops"]["fit_loop"]
        step = int(fit["epoch_loop.state_dict"]["_batches_that_stepped"])
    except (KeyError, TypeError, ValueError):
        return int(ckpt.get("global_step", 0))
    total = fit.get("epoch_loop.batch_progress", {}).get("total", {})
    at_batch_end = total.get("completed", 0) == total.get("processed", 0) - 1
    return step + 1 if at_batch_end else step


def check_same_experiment(saved: dict[str, Any], cfg: DictConfig, run_dir: Path) -> None:
    """Refuse to continue a run with another model, data or seed."""
    diffs = experiment_differences(saved, to_plain(cfg))
    if diffs:
        raise ConfigError(
            f"resume={run_dir}: that run was trained with {'; '.join(diffs[:4])}: give the "
            f"same overrides as the first run (its command is in {run_dir / 'run.json'})"
        )


def plan_resume(cfg: DictConfig, run_dir: Path) -> ResumePlan:
    """The newest readable checkpoint of ``run_dir``, checked against the config.

    A damaged checkpoint (e.g. truncated by a full disk) is skipped with a notice on
    stderr, falling back to the next newest.
    """
    for leftover in (run_dir / CHECKPOINT_DIR).glob("*.tmp"):  # a save a kill interrupted
        leftover.unlink(missing_ok=True)
    candidates = checkpoints_newest_first(run_dir)
    problems = []
    for path in candidates:
        try:
            ckpt = load_checkpoint(path)
        except CheckpointError as err:
            problems.append(str(err))
            continue
        # A tampered config is refused outright, not skipped: the run directory is suspect.
        check_stored_config(ckpt["litexp"]["config"], f"checkpoint {path}")
        if problems:
            print(
                f"litexp: {'; '.join(problems)}; resuming from {path.name} instead",
                file=sys.stderr,
            )
        check_same_experiment(ckpt["litexp"]["config"], cfg, run_dir)
        if is_global_zero_process():  # files a kill left beyond save_top_k
            stale = remove_untracked(run_dir / CHECKPOINT_DIR, ckpt, path)
            if stale:
                names = ", ".join(p.name for p in stale)
                print(f"litexp: removed stale checkpoints a kill left: {names}", file=sys.stderr)
        return ResumePlan(checkpoint=path, step=logging_step(ckpt))
    raise CheckpointError(
        f"resume={run_dir}: no readable checkpoint in {run_dir / CHECKPOINT_DIR} "
        f"({'; '.join(problems) or 'none found'}): start a new run without resume="
    )


def override(key: str, value: object) -> str:
    """``key=value`` as Hydra's override grammar reads it back: a value with spaces,
    non-ASCII letters or grammar characters (``,``, ``=``, quotes) is single-quoted."""
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9_/.+:@%~-]+", text):
        return f"{key}={text}"
    # Escaped: a quote, the backslashes before it, and a trailing backslash.
    text = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", text)
    text = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, text)
    return f"{key}='{text}'"


def resume_command(run_dir: Path, overrides: list[str] | None = None) -> str:
    """``python train.py <the run's overrides> resume=<run_dir>`` (or ``litexp train ...``)."""
    if overrides is None:
        from hydra.core.hydra_config import HydraConfig

        overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    kept = [
        as_typed(o) for o in overrides if not o.lstrip("+~").startswith(("resume=", "hydra."))
    ]
    if console_command(sys.argv):
        return shlex.join([CONSOLE_SCRIPT, "train", *kept, override("resume", run_dir)])
    script = Path(sys.argv[0]).name if sys.argv and sys.argv[0].endswith(".py") else "train.py"
    return shlex.join(["python", script, *kept, override("resume", run_dir)])
