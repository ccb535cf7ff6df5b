"""Where a run writes: a new run directory, or an old one given by ``resume=``.

Hydra picks ``hydra.run.dir`` before the task starts, so this is a resolver
(``${run_dir:${resume},<runs root>,${run_id:}}``): it also checks, before Hydra creates
anything, that the log directory can be written and has free space. Deliberately free
of torch/lightning imports: a bad ``resume=`` fails in a second.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from litexp.errors import ConfigError

MIN_FREE_BYTES = 200 * 2**20  # below this, refuse to start: checkpoints and logs need room
CHECKPOINT_DIR = "checkpoints"


def check_writable(path: str | Path, min_free: int = MIN_FREE_BYTES) -> None:
    """Raise ConfigError unless ``path`` (created if needed) can be written with free space.

    Checks the nearest existing parent, so nothing is created when the answer is no.
    """
    path = Path(path).absolute()
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(
            f"log directory {path} cannot be created: {existing} is a file, not a directory; "
            "set paths.log_dir (or LITEXP_LOG_DIR) to a writable directory"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"log directory {path} is not writable ({existing} refuses writes); "
            "set paths.log_dir (or LITEXP_LOG_DIR) to a writable directory"
        )
    free = shutil.disk_usage(existing).free
    if free < min_free:
        raise ConfigError(
            f"only {free / 2**20:.0f} MiB free under {existing}, need at least "
            f"{min_free / 2**20:.0f} MiB for checkpoints and logs: free some space or set "
            "paths.log_dir (or LITEXP_LOG_DIR) elsewhere"
        )


def is_run_dir(path: Path) -> bool:
    """A litexp run directory: it has a checkpoints folder or a config.yaml."""
    return path.is_dir() and ((path / CHECKPOINT_DIR).is_dir() or (path / "config.yaml").is_file())


def has_checkpoint(path: Path) -> bool:
    return any((path / CHECKPOINT_DIR).glob("*.ckpt"))


def latest_run(runs_root: str | Path) -> Path:
    """The most recently started run under ``runs_root`` that has a checkpoint."""
    root = Path(runs_root)
    runs = (
        [p for p in root.glob("*") if is_run_dir(p) and has_checkpoint(p)] if root.is_dir() else []
    )
    if not runs:
        raise ConfigError(
            f"resume=latest found no run with a checkpoint under {root}: start a new run "
            "without resume=, or give resume=<run directory>"
        )
    # Run names start with their start time; mtime breaks ties within one second.
    return max(runs, key=lambda p: (p.name[:19], p.stat().st_mtime))


def resume_target(resume: str, runs_root: str | Path) -> Path:
    """The run directory ``resume=`` names (``latest``, or a path), checked to be a run."""
    path = latest_run(runs_root) if resume == "latest" else Path(resume).expanduser()
    if not path.exists():
        raise ConfigError(
            f"resume={resume} is invalid: {path} does not exist; give resume=latest or "
            f"resume=<a run directory under {runs_root}>"
        )
    if not is_run_dir(path):
        raise ConfigError(
            f"resume={resume} is invalid: {path} is not a litexp run directory (no "
            f"{CHECKPOINT_DIR}/ or config.yaml); give resume=<a run directory under {runs_root}>"
        )
    if not has_checkpoint(path):
        raise ConfigError(
            f"resume={resume}: {path} has no checkpoint in {CHECKPOINT_DIR}/ (it stopped before "
            "its first epoch ended): start a new run without resume="
        )
    return path.absolute()


def resolve_run_dir(resume: str | None, runs_root: str, run_id: str) -> str:
    """The ``run_dir`` resolver: ``<runs_root>/<run_id>``, or the run being resumed.

    Hydra would print a resolver's exception as a long traceback, so a bad value is
    reported here as one line and the process exits with status 2.
    """
    try:
        check_writable(runs_root)
        if resume in (None, "", "null"):
            return str(Path(runs_root) / run_id)
        return str(resume_target(str(resume), runs_root))
    except ConfigError as err:
        print(f"litexp: error: {err}", file=sys.stderr)
        sys.exit(2)
