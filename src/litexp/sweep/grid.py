"""A grid sweep's jobs, and which one of them this job is.

The grid is what Hydra's basic sweeper launches: each key's values (``a,b`` choices,
``range(...)``), read with Hydra's public override parser, and every combination of
them, the keys in the order they first appear (``hydra.sweeper.params``, then the
command line, whose value for a key replaces the params' one).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

SWEEP_FILE = "multirun.yaml"  # the sweep's config, written before its first job


def is_grid(sweeper_target: str) -> bool:
    """Hydra's basic sweeper (a grid); another one (Optuna) decides its trials as it goes."""
    return sweeper_target.endswith("BasicSweeper")


def grid(params: Mapping[str, Any], task: Iterable[str]) -> list[list[str]] | None:
    """Every job's overrides, in launch order; None when the values cannot be listed here
    (``glob(...)`` needs Hydra's config loader; ``interval(...)`` is not a grid)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    arguments = [f"{k}={v}" for k, v in params.items()] + [str(o) for o in task]
    values: dict[str, list[str]] = {}
    try:
        for override in OverridesParser.create().parse_overrides(arguments):
            key = override.get_key_element()
            if not override.is_sweep_override():
                values[key] = [f"{key}={override.get_value_element_as_str()}"]
            elif override.is_discrete_sweep():
                values[key] = [f"{key}={v}" for v in override.sweep_string_iterator()]
            else:
                return None
    except HydraException:
        return None
    return [list(job) for job in itertools.product(*values.values())]


def grid_of(config: DictConfig) -> list[list[str]] | None:
    """The grid of the sweep whose config this is (the sweep process's own, before its
    jobs: its ``hydra.overrides.task`` holds the sweep's ``a,b`` values); None for a
    sweeper that is not a grid."""
    if not is_grid(str(OmegaConf.select(config, "hydra.sweeper._target_") or "")):
        return None
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    return grid(params, OmegaConf.select(config, "hydra.overrides.task") or [])


def saved_total(sweep_dir: str | Path) -> int | None:
    """How many jobs the sweep in ``sweep_dir`` has, from its ``multirun.yaml`` (read as
    data): a grid's size, or an Optuna search's ``n_trials``; None if unreadable."""
    import yaml

    try:
        hydra = yaml.safe_load((Path(sweep_dir) / SWEEP_FILE).read_text())["hydra"]
        sweeper = hydra.get("sweeper") or {}
        if not is_grid(str(sweeper.get("_target_") or "")):
            trials = sweeper.get("n_trials")
            return trials if isinstance(trials, int) else None
        jobs = grid(sweeper.get("params") or {}, hydra["overrides"]["task"])
    except (OSError, KeyError, TypeError, AttributeError, yaml.YAMLError):
        return None
    return len(jobs) if jobs is not None else None


def job_label() -> str | None:
    """``job 2 of 4 · model.lr=0.1 data=circles`` (its swept values) inside a ``-m``
    sweep's job, whatever the launcher; None in a single run."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from litexp.sweep.naming import swept_keys

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    hydra = HydraConfig.get()
    sweep_dir = str(hydra.sweep.dir)
    total = saved_total(sweep_dir)
    swept = swept_keys(sweep_dir)
    shown = [
        str(o).lstrip("+~")
        for o in hydra.overrides.task
        if swept is None or str(o).split("=", 1)[0].lstrip("+~") in swept
    ]
    label = f"job {int(hydra.job.num) + 1} of {total or '?'}"
    return " · ".join([label, " ".join(shown)]) if shown else label
