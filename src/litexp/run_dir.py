"""Where a run writes: a new run directory, or an old one given by ``resume=``.

Hydra picks ``hydra.run.dir`` before the task starts, so this is a resolver
(``${run_dir:${resume},<runs root>,${run_id:}}``): it also checks, before Hydra creates
anything, that the log directory can be written and has free space. Deliberately free
of torch/lightning imports: a bad ``resume=`` fails in a second.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from litexp.errors import ConfigError

MIN_FREE_BYTES = 200 * 2**20  # below this, refuse to start: checkpoints and logs need room
CHECKPOINT_DIR = "checkpoints"
# Keys that may differ between the first run and its resumption: where data lives,
# how it is loaded, how long to train.
MAY_DIFFER = {"data_dir", "cache_dir", "num_workers", "pin_memory", "persistent_workers"}
# resolve_run_dir's answers: Hydra resolves hydra.run.dir more than once, and resume=latest
# must choose (and say so) once. ``run_id`` is unique per config, so it keys the config.
_RESOLVED: dict[tuple[str, str, str], str] = {}


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


def differences(saved: Any, current: Any, prefix: str) -> list[str]:
    """``key: saved -> current`` for every differing leaf, ignoring ``MAY_DIFFER`` keys."""
    if isinstance(saved, dict) and isinstance(current, dict):
        out = []
        for key in sorted(set(saved) | set(current)):
            if key in MAY_DIFFER:
                continue
            out += differences(saved.get(key), current.get(key), f"{prefix}.{key}")
        return out
    return [] if saved == current else [f"{prefix}={saved!r} (now {current!r})"]


def experiment_differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What makes ``now`` (a plain config) another experiment than ``saved``: model, data, seed."""
    diffs = [d for key in ("model", "data") for d in differences(saved.get(key), now.get(key), key)]
    if saved.get("seed") != now.get("seed"):
        diffs.append(f"seed={saved.get('seed')!r} (now {now.get('seed')!r})")
    return diffs


def _status(run: Path) -> str:
    """``metrics.json``'s status; a run killed (or still running) has none."""
    try:
        return str(json.loads((run / "metrics.json").read_text()).get("status", "unknown"))
    except (OSError, ValueError, AttributeError):
        return "stopped without metrics.json"


def _why_not_continue(run: Path, now: dict[str, Any]) -> list[str]:
    """Why ``now`` cannot continue ``run`` (empty: it can)."""
    try:  # plain YAML, never instantiated: a run directory is data
        saved = yaml.safe_load((run / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        saved = None
    if not isinstance(saved, dict):
        return ["no readable config.yaml"]
    diffs = experiment_differences(saved, now)
    if diffs or _status(run) != "completed":
        return diffs
    before = (saved.get("trainer") or {}).get("max_epochs")
    asked = (now.get("trainer") or {}).get("max_epochs")
    if isinstance(before, int) and isinstance(asked, int) and asked <= before:
        return [f"completed its trainer.max_epochs={before}; give a larger one to train on"]
    return []


def latest_run(runs_root: str | Path, now: dict[str, Any] | None = None) -> Path:
    """The run ``resume=latest`` continues: the newest under ``runs_root`` with a checkpoint.

    With ``now`` (this command's plain ``model``, ``data``, ``seed`` and ``trainer``), the
    newest such run of the same model, data and seed that has epochs left to train (a
    completed run only when ``now`` asks for more ``trainer.max_epochs``); the choice is
    said on stderr, and when none fits the nearest candidates are named.
    """
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
    runs.sort(key=lambda p: (p.name[:19], p.stat().st_mtime), reverse=True)
    if now is None:
        return runs[0]
    refused = []
    for run in runs:
        why = _why_not_continue(run, now)
        if not why:
            status = _status(run)
            if status == "completed":
                status += ", training on to the new trainer.max_epochs"
            print(
                f"litexp: resume=latest: continuing {run} ({status}), the newest run under "
                f"{root} with this model, data and seed",
                file=sys.stderr,
            )
            return run
        refused.append((len(why), run.name, why))
    nearest = sorted(refused, key=lambda r: r[0])[:3]  # stable: the newest first among equals
    raise ConfigError(
        f"resume=latest found no run under {root} that continues with this model, data and "
        "seed; nearest: "
        + "; ".join(f"{name} ({', '.join(why[:2])})" for _, name, why in nearest)
        + ": repeat that run's overrides, start a new run without resume=, or give "
        "resume=<run directory>"
    )


def resume_target(resume: str, runs_root: str | Path, now: dict[str, Any] | None = None) -> Path:
    """The run directory ``resume=`` names (``latest``, or a path), checked to be a run."""
    path = latest_run(runs_root, now) if resume == "latest" else Path(resume).expanduser()
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


def _experiment_of(root: DictConfig) -> dict[str, Any]:
    """The plain ``model``, ``data``, ``seed`` and ``trainer.max_epochs`` being composed.

    Only these keys are resolved: others (``paths.output_dir``, the trainer's
    ``default_root_dir``) wait for this very resolver.
    """
    out: dict[str, Any] = {"trainer": {"max_epochs": OmegaConf.select(root, "trainer.max_epochs")}}
    for key in ("model", "data", "seed"):
        node = OmegaConf.select(root, key)
        out[key] = (
            OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
        )
    return out


def resolve_run_dir(
    resume: str | None, runs_root: str, run_id: str, _root_: DictConfig | None = None
) -> str:
    """The ``run_dir`` resolver: ``<runs_root>/<run_id>``, or the run being resumed.

    OmegaConf passes ``_root_`` (the whole config), so ``resume=latest`` can pick a run of
    this command's model, data and seed. Hydra would print a resolver's exception as a
    long traceback, so a bad value is reported here as one line and the process exits
    with status 2.
    """
    key = (str(resume), str(runs_root), str(run_id))
    if key in _RESOLVED:
        return _RESOLVED[key]
    try:
        check_writable(runs_root)
        if resume in (None, "", "null"):
            run_dir = Path(runs_root) / run_id
        else:
            now = _experiment_of(_root_) if _root_ is not None and resume == "latest" else None
            run_dir = resume_target(str(resume), runs_root, now)
    except ConfigError as err:
        print(f"litexp: error: {err}", file=sys.stderr)
        sys.exit(2)
    _RESOLVED[key] = str(run_dir)
    return _RESOLVED[key]
