"""What a run is called on a dashboard: its experiment (task) name and the job's overrides.

``circles_mlp/lr=0.01,data=moons``; an Optuna trial adds its number
(``circles_optuna/trial_3,lr=0.01752,...``). The overrides are the ones typed on the
command line (or drawn by a sweeper): Hydra's ``HydraConfig.overrides.task``. Keys
that say where things are, not what was trained (``paths.*``, ``resume``, ...) are left
out, floats are written with 4 significant digits, and the name is length-capped: the
run directory above it is what keeps runs apart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# Where or how a run is kept, not what it is: never part of a run's name.
NOT_NAMING = (
    "paths.", "hydra.", "resume", "ckpt_path", "experiment", "hparams_search", "debug", "logger"
)  # fmt: skip
MAX_CHARS = 120
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


def job_overrides() -> list[str]:
    """The job's ``key=value`` overrides (empty outside a Hydra app, e.g. ``train(cfg)``)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return [str(o) for o in HydraConfig.get().overrides.task]


def optuna_trial() -> int | None:
    """The Optuna trial this job runs (the litexp sweeper's ``hydra.sweeper.trial``)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    trial = HydraConfig.get().sweeper.get("trial")
    return None if trial is None else int(trial)


def readable(value: str) -> str:
    """``0.017515053017885`` -> ``0.01752``; other values as typed, quotes dropped."""
    value = value.strip().strip("'\"")
    if _FLOAT.match(value) and not value.lstrip("+-").isdigit():
        return f"{float(value):.4g}"
    return value


def named_overrides(overrides: list[str]) -> dict[str, str]:
    """``{"model.lr": "0.01", "data": "moons"}`` for the overrides that say what a run is."""
    out: dict[str, str] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.lstrip("+~")
        if not sep or key.startswith(NOT_NAMING):
            continue
        out[key] = readable(value)
    return out


def short_keys(keys: list[str]) -> dict[str, str]:
    """Each key's last part (``model.lr`` -> ``lr``), or the whole key if two would clash."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}


def run_label(task_name: str, overrides: list[str], trial: int | None = None) -> tuple[str, str]:
    """``(name, version)`` for a logger: the task name, and the overrides (sorted by key)."""
    named = named_overrides(overrides)
    shorts = short_keys(sorted(named))
    parts = [f"{shorts[k]}={named[k]}" for k in sorted(named)]
    if trial is not None:
        parts.insert(0, f"trial_{trial}")
    version = ",".join(parts).replace("/", "_").replace(" ", "")  # one folder, no nesting
    if len(version) > MAX_CHARS:
        version = version[: MAX_CHARS - 3] + "..."
    return task_name.replace("/", "_"), version


def label_of(task_name: Any) -> tuple[str, str]:
    """``run_label`` for the running Hydra job."""
    return run_label(str(task_name), job_overrides(), optuna_trial())


_SWEEP_FUNCTIONS = ("choice(", "range(", "interval(", "glob(", "tag(")


def _is_sweep_value(value: str) -> bool:
    """``0.01,0.05`` or ``choice(...)``: several values, outside brackets and quotes."""
    if value.strip().startswith(_SWEEP_FUNCTIONS):
        return True
    depth, quote = 0, ""
    for c in value:
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "[{(":
            depth += 1
        elif c in "]})":
            depth -= 1
        elif c == "," and depth == 0:
            return True
    return False


def swept_keys(overrides: list[str] | None = None) -> set[str]:
    """The keys this job's sweep varies: a sweeper's search space (Optuna's ``params``)
    and the sweep's ``key=a,b`` / ``key=choice(...)`` overrides, as the command gave them
    (Hydra keeps them in the sweep dir's ``multirun.yaml``; a job sees only its own)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    keys: set[str] = set()
    if overrides is None:
        overrides = []
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            hydra = HydraConfig.get()
            keys |= {str(k) for k in (hydra.sweeper.get("params") or {})}
            overrides = _sweep_overrides(Path(str(hydra.sweep.dir)) / "multirun.yaml")
    for item in overrides:
        key, sep, value = item.partition("=")
        if sep and _is_sweep_value(value):
            keys.add(key.lstrip("+~"))
    return keys


def _sweep_overrides(path: Path) -> list[str]:
    """The sweep's overrides as typed, from Hydra's ``multirun.yaml`` (data, not code)."""
    import yaml

    try:
        saved = yaml.safe_load(path.read_text()) or {}
        return [str(o) for o in saved["hydra"]["overrides"]["task"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return []
