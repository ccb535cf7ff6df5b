"""``best.yaml``: a sweep's best job, and the one command that trains it again as a run."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

from litexp.packaging import CONSOLE_SCRIPT, as_typed, console_command

BEST_FILE = "best.yaml"


def rerun_command(overrides: list[str], argv: list[str] | None = None) -> str:
    """``python train.py <overrides>`` (``litexp train ...`` if the sweep ran that way):
    the job as a single run. Hydra's own overrides (the sweeper's trial, the storage) and
    ``resume=`` are left out; everything that made the job what it is stays."""
    kept = [
        as_typed(o)
        for o in overrides
        if not o.lstrip("+~").startswith(("hydra.", "hydra/", "resume="))
    ]
    argv = sys.argv if argv is None else argv
    if console_command(argv):
        return shlex.join([CONSOLE_SCRIPT, "train", *kept])
    script = Path(argv[0]).name if argv else ""
    if not script.endswith(".py") or script == "__main__.py":  # e.g. python -m pytest
        script = "train.py"
    return shlex.join(["python", script, *kept])


def write_best(
    rows: list[Any], sweep_dir: Path, objective: str, direction: str, note: str
) -> Path | None:
    """``<sweep_dir>/best.yaml`` for the first row of ``rows`` (the summary's
    ``JobRow``s, best first) that has the objective; ``None`` (and no file) when no job
    has it."""
    best = next(
        (
            r
            for r in rows
            if r.status in ("completed", "pruned") and r.metrics.get(objective) is not None
        ),
        None,
    )
    path = sweep_dir / BEST_FILE
    if best is None:
        path.unlink(missing_ok=True)  # a stale best of an earlier run would mislead
        return None
    overrides = best.overrides.split()
    record: dict[str, Any] = {
        "job": best.job,
        "objective": {
            "metric": objective,
            "direction": direction,
            "value": best.metrics[objective],
        },
        "command": rerun_command(overrides),
        "overrides": [as_typed(o) for o in overrides if not o.startswith("hydra.")],
        "metrics": dict(sorted(best.metrics.items())),
        "epochs": best.epochs,
        "best_checkpoint": str(sweep_dir / best.job / best.best_checkpoint)
        if best.best_checkpoint
        else None,
    }
    if best.trial is not None:  # an Optuna sweep: the trial and its sampled parameters
        record["trial"] = best.trial
        record["params"] = best.params
    header = (
        f"# The best job of sweep {sweep_dir}: {note}.\n"
        f"# Train it again as a single run:  {record['command']}\n"
    )
    path.write_text(
        header + yaml.safe_dump(record, sort_keys=False, allow_unicode=True, width=2**16)
    )
    return path
