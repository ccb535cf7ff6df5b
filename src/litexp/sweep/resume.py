"""Resuming a grid sweep: ``python train.py -m <the same grid> resume=<sweep dir>|latest``.

The sweep runs again in the same directory: the job directories are named by their
overrides (``litexp.sweep.naming``), so each job finds its own; a completed job keeps
its result, a stopped one continues from its ``last.ckpt``, the rest start. An Optuna
sweep needs none of this: its study remembers every trial, the same command continues it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from litexp.errors import ConfigError
from litexp.run_dir import has_checkpoint

SWEEP_FILE = "multirun.yaml"  # Hydra writes the sweep's config there
# Chosen once per (resume, root, run id): Hydra resolves hydra.sweep.dir more than once.
_RESOLVED: dict[tuple[str, str, str], str] = {}


def _is_resume(override: str) -> bool:
    return override.lstrip("+~").startswith("resume=")


def grid_overrides(overrides: list[str]) -> list[str]:
    """A sweep's command-line overrides without ``resume=``: what makes it the same grid."""
    return [str(o) for o in overrides if not _is_resume(str(o))]


def _saved_grid(sweep_dir: Path) -> list[str] | None:
    try:  # read as data: OmegaConf.load would leave interpolations to resolve
        import yaml

        saved = yaml.safe_load((sweep_dir / SWEEP_FILE).read_text())
        return grid_overrides(saved["hydra"]["overrides"]["task"])
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
        return None


def sweep_target(resume: str, sweeps_root: Path, grid: list[str]) -> Path:
    """The sweep directory ``resume=`` names (``latest``: the newest with this grid)."""
    if resume == "latest":
        found = sorted(
            (p for p in sweeps_root.glob("*") if (p / SWEEP_FILE).is_file()),
            key=lambda p: (p.name, p.stat().st_mtime),
            reverse=True,
        )
        for sweep in found:
            if _saved_grid(sweep) == grid:
                print(f"litexp: resume=latest: continuing sweep {sweep}", file=sys.stderr)
                return sweep.absolute()
        raise ConfigError(
            f"resume=latest found no sweep under {sweeps_root} with the overrides "
            f"{' '.join(grid)}: give the first sweep's overrides, or resume=<sweep directory>"
        )
    path = Path(resume).expanduser()
    if not (path / SWEEP_FILE).is_file():
        raise ConfigError(
            f"resume={resume} is invalid in a -m sweep: {path} is not a sweep directory (no "
            f"{SWEEP_FILE}); give resume=<a sweep directory under {sweeps_root}> or "
            "resume=latest (a single job: python train.py <its overrides> resume=<its directory>)"
        )
    saved = _saved_grid(path)
    if saved != grid:
        raise ConfigError(
            f"resume={resume}: that sweep ran with the overrides {' '.join(saved or [])!r}, "
            f"not {' '.join(grid)!r}: give the same ones to continue it"
        )
    return path.absolute()


def resolve_sweep_dir(
    resume: str | None, sweeps_root: str, run_id: str, _root_: DictConfig | None = None
) -> str:
    """The ``sweep_dir`` resolver (``hydra.sweep.dir``): ``<sweeps_root>/<run_id>``, or,
    in a ``-m`` sweep with ``resume=``, the sweep it continues. A bad value is one line on
    stderr and exit status 2 (Hydra would print a resolver's error as a traceback)."""
    mode = OmegaConf.select(_root_, "hydra.mode") if _root_ is not None else None
    if resume in (None, "", "null") or not str(mode).endswith("MULTIRUN"):
        return str(Path(sweeps_root) / run_id)
    key = (str(resume), str(sweeps_root), str(run_id))
    if key not in _RESOLVED:
        task = OmegaConf.select(_root_, "hydra.overrides.task") or []
        try:
            path = sweep_target(str(resume), Path(sweeps_root), grid_overrides(list(task)))
        except ConfigError as err:
            print(f"litexp: error: {err}", file=sys.stderr)
            sys.exit(2)
        _RESOLVED[key] = str(path)
    return _RESOLVED[key]


def resume_sweep_job(cfg: DictConfig, out: Path) -> dict[str, Any] | None:
    """In a resumed sweep, this job's way on: its result if it completed before (returned,
    nothing rerun); else ``cfg.resume`` becomes its own directory when it has a checkpoint
    (it continues from there), or nothing (it starts). Outside a resumed sweep: None."""
    from hydra.core.hydra_config import HydraConfig

    from litexp.run_files import METRICS_FILE
    from litexp.sweep.jobs import in_multirun

    if not cfg.get("resume") or not in_multirun():
        return None

    if OmegaConf.select(HydraConfig.get(), "sweeper.trial") is not None:
        raise ConfigError(
            f"resume={cfg.resume}: an Optuna sweep continues when the same command runs again "
            "(its study keeps every trial): drop resume="
        )
    try:
        result = json.loads((out / METRICS_FILE).read_text())
    except (OSError, ValueError):
        result = None
    if isinstance(result, dict) and result.get("status") == "completed":
        print(f"litexp: resume: job {out.name} completed before: kept its result", file=sys.stderr)
        return result
    with open_dict(cfg):
        cfg.resume = str(out) if has_checkpoint(out) else None
    return None
