"""The sweeper's config schema, registered as ``hydra/sweeper=litexp_optuna``."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class TPESamplerConf:
    """``optuna.samplers.TPESampler`` arguments."""

    seed: int | None = None  # with a seed, worker k of a resumed study uses seed + trials so far
    n_startup_trials: int = 10  # random trials before TPE starts modelling


@dataclass
class MedianPrunerConf:
    """``optuna.pruners.MedianPruner`` arguments; steps are epochs."""

    enabled: bool = True
    n_startup_trials: int = 5  # trials that are never pruned, to learn the median
    n_warmup_steps: int = 1  # epochs of a trial that are never pruned


@dataclass
class LitexpOptunaSweeperConf:
    _target_: str = "hydra_plugins.litexp_optuna_sweeper.litexp_optuna_sweeper.LitexpOptunaSweeper"
    study_name: str = "litexp"  # the study in the storage; also names its sweep directory
    objective: str = "val/acc"  # a metric of each job's metrics.json
    direction: str = "maximize"  # maximize | minimize
    n_trials: int = 20  # finished trials the study should have (a rerun continues the count)
    n_jobs: int = 1  # trials launched together (a parallel launcher runs them at once)
    # null: $LITEXP_OPTUNA_STORAGE if set, else sqlite in the sweep dir; a URL (no password:
    # it would be recorded in every run file); or a journal file path
    storage: str | None = None
    sampler: TPESamplerConf = field(default_factory=TPESamplerConf)
    pruner: MedianPrunerConf = field(default_factory=MedianPrunerConf)
    # the search space: key -> Hydra sweep syntax, e.g. model.lr: tag(log, interval(1e-4, 1e-1))
    params: dict[str, Any] = field(default_factory=dict)
    # set by the sweeper in each job (the trial it runs), null outside a trial
    trial: int | None = None


ConfigStore.instance().store(
    group="hydra/sweeper", name="litexp_optuna", node=LitexpOptunaSweeperConf, provider="litexp"
)
