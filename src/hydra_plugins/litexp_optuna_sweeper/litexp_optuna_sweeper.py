"""The Hydra Sweeper plugin class; the work (and the optuna import) is in ``_impl``."""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf


class LitexpOptunaSweeper(Sweeper):
    """Optuna (>= 4) search with persistent, resumable, shareable storage."""

    def __init__(self, **cfg: Any) -> None:
        from hydra_plugins.litexp_optuna_sweeper._impl import OptunaSweeperImpl

        self.impl = OptunaSweeperImpl(OmegaConf.create(cfg))

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        return self.impl.sweep(arguments)
